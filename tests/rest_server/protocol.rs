//! Black-box tests of the REST protocol edge cases, with a raw HTTP client
//! against the real binary (request sequences as in rest-server's handler tests).

use crate::rest_server_support::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

const V2: &str = "application/vnd.x.restic.rest.v2";

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// Files in `dir` whose name marks an unfinished upload.
fn temp_files(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else if e.file_name().to_string_lossy().contains("rest-server-temp") {
                out.push(e.path().display().to_string());
            }
        }
    }
    out
}

fn server(dir: &TempDir, extra: &[&str]) -> Server {
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mut args = vec!["--path", data.to_str().unwrap(), "--listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    Server::start(&args)
}

#[test]
fn create_config_objects_and_modes() {
    let dir = TempDir::new("objects");
    let s = server(&dir, &["--no-auth"]);
    let a = s.addr.as_str();
    let repo = dir.path().join("data/r");

    assert_eq!(http(a, "POST", "/r/", &[], b"").status, 400, "create needs ?create=true");
    assert_eq!(http(a, "GET", "/r/", &[], b"").status, 405);
    assert_eq!(http(a, "POST", "/r/?create=true", &[], b"").status, 200);
    assert_eq!(http(a, "POST", "/r/?create=true", &[], b"").status, 200, "creating twice is fine");
    for sub in ["data", "index", "keys", "locks", "snapshots", "data/00", "data/ff"] {
        assert_eq!(mode(&repo.join(sub)), 0o700, "{sub}");
    }

    assert_eq!(http(a, "HEAD", "/r/config", &[], b"").status, 404);
    assert_eq!(http(a, "POST", "/r/config", &[], b"cfg-1").status, 200);
    assert_eq!(http(a, "POST", "/r/config", &[], b"cfg-2").status, 403, "config is created exclusively");
    let head = http(a, "HEAD", "/r/config", &[], b"");
    assert_eq!((head.status, head.header("content-length")), (200, Some("5")));
    assert_eq!(http(a, "GET", "/r/config", &[], b"").body, b"cfg-1");
    assert_eq!(mode(&repo.join("config")), 0o600);

    let blob = noise(1, 100_000);
    let id = sha256_hex(&blob);
    let path = format!("/r/data/{id}");
    assert_eq!(http(a, "HEAD", &path, &[], b"").status, 404);
    assert_eq!(http(a, "POST", &path, &[], &blob).status, 200);
    let stored = repo.join("data").join(&id[..2]).join(&id);
    assert_eq!(std::fs::read(&stored).unwrap(), blob);
    assert_eq!(mode(&stored), 0o600);
    assert_eq!(http(a, "POST", &path, &[], &blob).status, 403, "an existing object is never replaced");
    let head = http(a, "HEAD", &path, &[], b"");
    assert_eq!(head.header("content-length"), Some("100000"));
    let get = http(a, "GET", &path, &[], b"");
    assert_eq!((get.status, get.body == blob), (200, true));

    // A wrong name for the content, and a body cut short: 400, nothing left behind.
    let other = sha256_hex(b"something else");
    assert_eq!(http(a, "POST", &format!("/r/keys/{other}"), &[], b"not that").status, 400);
    assert!(!repo.join("keys").join(&other).exists());
    let mut t = TcpStream::connect(a).unwrap();
    let req = request_bytes("POST", &format!("/r/index/{other}"), &[("Content-Length", "1000")], &[7u8; 400]);
    t.write_all(&req).unwrap();
    t.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    let _ = t.read_to_end(&mut rest);
    if !rest.is_empty() {
        assert_eq!(parse(&rest, false).status, 400);
    }
    std::thread::sleep(Duration::from_millis(200));
    assert!(!repo.join("index").join(&other).exists());
    assert_eq!(temp_files(&repo), Vec::<String>::new());

    // Without verification the content is stored under any valid name.
    drop(s);
    let s = server(&dir, &["--no-auth", "--no-verify-upload"]);
    assert_eq!(http(&s.addr, "POST", &format!("/r/keys/{other}"), &[], b"not that").status, 200);

    // DELETE is idempotent.
    assert_eq!(http(&s.addr, "DELETE", &path, &[], b"").status, 200);
    assert!(!stored.exists());
    assert_eq!(http(&s.addr, "DELETE", &path, &[], b"").status, 200);
    assert_eq!(http(&s.addr, "DELETE", "/r/config", &[], b"").status, 200);
    assert_eq!(http(&s.addr, "DELETE", "/r/config", &[], b"").status, 404);

    // Not objects: wrong type, short or uppercase id, too deep.
    for p in [
        "/r/blobs/x",
        "/r/data/x/",
        &format!("/r/data/{}", &id[..63]),
        &format!("/r/data/{}", id.to_uppercase()),
        "/a/b/c/config",
    ] {
        assert_eq!(http(&s.addr, "GET", p, &[], b"").status, 404, "{p}");
    }
}

#[test]
fn ranges() {
    let dir = TempDir::new("ranges");
    let log = dir.path().join("access.log");
    let s = server(&dir, &["--no-auth", "--log", log.to_str().unwrap()]);
    let a = s.addr.as_str();
    assert_eq!(http(a, "POST", "/?create=true", &[], b"").status, 200);
    let blob = noise(2, 1000);
    let path = format!("/snapshots/{}", sha256_hex(&blob));
    assert_eq!(http(a, "POST", &path, &[], &blob).status, 200);
    let cases: &[(&str, u16, Option<&str>, std::ops::Range<usize>)] = &[
        ("bytes=0-", 206, Some("bytes 0-999/1000"), 0..1000),
        ("bytes=10-19", 206, Some("bytes 10-19/1000"), 10..20),
        ("bytes=990-5000", 206, Some("bytes 990-999/1000"), 990..1000),
        ("bytes=-24", 206, Some("bytes 976-999/1000"), 976..1000),
        ("bytes=1000-", 416, Some("bytes */1000"), 0..0),
        ("bytes=20-10", 416, Some("bytes */1000"), 0..0),
    ];
    for (range, status, content_range, want) in cases {
        let r = http(a, "GET", &path, &[("Range", range)], b"");
        assert_eq!(r.status, *status, "{range}");
        assert_eq!(r.header("content-range"), *content_range, "{range}");
        if *status == 206 {
            assert_eq!(r.body, blob[want.clone()], "{range}");
            assert_eq!(r.header("content-length"), Some(want.len().to_string().as_str()));
        }
    }
    let whole = http(a, "GET", &path, &[], b"");
    assert_eq!((whole.status, whole.body.len()), (200, 1000));
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));

    // Combined log format: host, ident, user, [time], "request", status, size, "referer", "agent".
    // The log has a thread of its own: the line may come a moment after the answer.
    let started = std::time::Instant::now();
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap();
        if text.contains("\" 206 10 ") || started.elapsed() > std::time::Duration::from_secs(10) {
            break text;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let line = text.lines().find(|l| l.contains("\" 206 10 ")).expect("a line for the 10-byte range");
    let (host, rest) = line.split_once(" - - [").unwrap();
    assert_eq!(host, "127.0.0.1");
    let (time, rest) = rest.split_once("] ").unwrap();
    assert_eq!(time.len(), "10/Oct/2000:13:55:36 +0000".len(), "{time}");
    assert!(time.ends_with(" +0000"));
    assert_eq!(rest, format!("\"GET {path} HTTP/1.1\" 206 10 \"\" \"\""));
}

#[test]
fn listings_v1_v2_and_missing_folders() {
    let dir = TempDir::new("list");
    let s = server(&dir, &["--no-auth"]);
    let a = s.addr.as_str();
    // No repository at all: restic 0.14 wants an empty list, not an error.
    let r = http(a, "GET", "/nothing/keys/", &[("Accept", V2)], b"");
    assert_eq!((r.status, r.text().as_str(), r.header("content-type")), (200, "[]", Some(V2)));
    assert_eq!(http(a, "POST", "/u/r/?create=true", &[], b"").status, 200);
    let mut ids = Vec::new();
    for i in 0..3 {
        let blob = noise(10 + i, 10 + i as usize);
        let id = sha256_hex(&blob);
        assert_eq!(http(a, "POST", &format!("/u/r/data/{id}"), &[], &blob).status, 200);
        ids.push((id, blob.len()));
    }
    let v1 = http(a, "GET", "/u/r/data/", &[], b"");
    assert_eq!(v1.header("content-type"), Some("application/vnd.x.restic.rest.v1"));
    let v2 = http(a, "GET", "/u/r/data/", &[("Accept", V2)], b"");
    assert_eq!(v2.header("content-type"), Some(V2));
    for (id, len) in &ids {
        assert!(v1.text().contains(&format!("\"{id}\"")));
        assert!(v2.text().contains(&format!("{{\"name\":\"{id}\",\"size\":{len}}}")), "{}", v2.text());
    }
    // Anything appended to the v2 type asks for v1, as restic 0.14 reads it.
    let v1b = http(a, "GET", "/u/r/data/", &[("Accept", "application/vnd.x.restic.rest.v2; charset=utf-8")], b"");
    assert_eq!(v1b.header("content-type"), Some("application/vnd.x.restic.rest.v1"));
    assert_eq!(http(a, "GET", "/u/r/locks/", &[("Accept", V2)], b"").text(), "[]");
}

#[test]
fn append_only_matrix() {
    let dir = TempDir::new("append");
    let s = server(&dir, &["--no-auth", "--append-only"]);
    let a = s.addr.as_str();
    assert_eq!(http(a, "POST", "/?create=true", &[], b"").status, 200);
    assert_eq!(http(a, "POST", "/config", &[], b"c").status, 200);
    for kind in ["data", "index", "keys", "locks", "snapshots"] {
        let blob = noise(kind.len() as u64, 64);
        let p = format!("/{kind}/{}", sha256_hex(&blob));
        assert_eq!(http(a, "POST", &p, &[], &blob).status, 200, "{kind}");
        let expect = if kind == "locks" { 200 } else { 403 };
        assert_eq!(http(a, "DELETE", &p, &[], b"").status, expect, "delete {kind}");
        assert_eq!(http(a, "HEAD", &p, &[], b"").status, if kind == "locks" { 404 } else { 200 }, "{kind}");
    }
    assert_eq!(http(a, "DELETE", "/config", &[], b"").status, 403);
    assert_eq!(http(a, "GET", "/config", &[], b"").body, b"c");
}

#[test]
fn no_way_out_of_the_data_directory() {
    let dir = TempDir::new("escape");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(outside.join("keys")).unwrap();
    std::fs::write(outside.join("config"), b"secret").unwrap();
    let s = server(&dir, &["--no-auth"]);
    let a = s.addr.as_str();
    let data = dir.path().join("data");
    std::os::unix::fs::symlink(&outside, data.join("evil")).unwrap();
    std::os::unix::fs::symlink("../outside", data.join("rel")).unwrap();
    for p in [
        "/../outside/config",
        "/%2e%2e/outside/config",
        "/%2E%2E/outside/config",
        "/r/%2e%2e/%2e%2e/outside/config",
        "/..%2foutside/config",
        "/evil/config",
        "/rel/config",
        "//config",
        "/%00/config",
    ] {
        let r = http(a, "GET", p, &[], b"");
        assert!(matches!(r.status, 400 | 404), "{p}: {}", r.status);
        assert_ne!(r.body, b"secret", "{p}");
    }
    let blob = b"x".to_vec();
    let id = sha256_hex(&blob);
    assert_eq!(http(a, "POST", &format!("/evil/keys/{id}"), &[], &blob).status, 404, "no write through a symlink");
    assert!(!outside.join("keys").join(&id).exists());
    assert_eq!(http(a, "POST", "/evil/?create=true", &[], b"").status, 404);
    assert!(!outside.join("data").exists());
}

#[test]
fn quota_gives_507() {
    let dir = TempDir::new("quota");
    let s = server(&dir, &["--no-auth", "--max-size", "3000"]);
    let a = s.addr.as_str();
    assert_eq!(http(a, "POST", "/?create=true", &[], b"").status, 200);
    let one = noise(3, 2000);
    let two = noise(4, 2000);
    let p1 = format!("/data/{}", sha256_hex(&one));
    let p2 = format!("/data/{}", sha256_hex(&two));
    assert_eq!(http(a, "POST", &p1, &[], &one).status, 200);
    assert_eq!(http(a, "POST", &p2, &[], &two).status, 507);
    assert_eq!(http(a, "HEAD", &p2, &[], b"").status, 404);
    // Without a length up front the limit is met while writing.
    let chunked = {
        let mut body = format!("{:x}\r\n", two.len()).into_bytes();
        body.extend_from_slice(&two);
        body.extend_from_slice(b"\r\n0\r\n\r\n");
        let mut t = TcpStream::connect(a).unwrap();
        let head = format!("POST {p2} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n");
        t.write_all(head.as_bytes()).unwrap();
        t.write_all(&body).unwrap();
        let mut raw = Vec::new();
        t.read_to_end(&mut raw).unwrap();
        parse(&raw, false)
    };
    assert_eq!(chunked.status, 507);
    assert_eq!(temp_files(dir.path()), Vec::<String>::new());
    assert_eq!(http(a, "DELETE", &p1, &[], b"").status, 200);
    assert_eq!(http(a, "POST", &p2, &[], &two).status, 200, "deleting gives the space back");
}

#[test]
fn the_servers_own_files_do_not_count_against_the_quota() {
    // The lock file (the pid), the scrub's and the alerts' state and .htpasswd
    // lie in the tree; an upload that fills --max-size exactly still fits.
    let dir = TempDir::new("ownfiles");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join(".htpasswd"), htpasswd_line("alice", "apw")).unwrap();
    // An earlier server's scrub and alerts state lie there too.
    std::fs::write(data.join(".rest-server.scrub"), "krazybox-scrub 1\npass 3\nlast 1 2 3 4\n").unwrap();
    std::fs::write(data.join(".rest-server.alerts"), "krazybox-alerts 1\n").unwrap();
    let blob = noise(5, 2000);
    let s = server(&dir, &["--max-size", "2000"]);
    let a = s.addr.as_str();
    let auth = basic("alice", "apw");
    let h = [("Authorization", auth.as_str())];
    assert!(std::fs::metadata(data.join(".rest-server.lock")).unwrap().len() > 0);
    assert_eq!(http(a, "POST", "/?create=true", &h, b"").status, 200);
    assert_eq!(http(a, "POST", &format!("/data/{}", sha256_hex(&blob)), &h, &blob).status, 200);
    assert_eq!(http(a, "POST", &format!("/keys/{}", sha256_hex(b"1")), &h, b"1").status, 507, "full now");
}

#[test]
fn auth_private_repos_and_metrics() {
    let dir = TempDir::new("auth");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let users = htpasswd_line("alice", "apw") + &htpasswd_line("bob", "bpw") + &htpasswd_line("metrics", "mpw");
    std::fs::write(data.join(".htpasswd"), users).unwrap();
    let s = server(&dir, &["--private-repos", "--prometheus", "--group-accessible-repos"]);
    let a = s.addr.as_str();
    let alice = basic("alice", "apw");
    let h = |v: &str| vec![("Authorization", v.to_string())];
    let call = |m: &str, p: &str, auth: &str, body: &[u8]| {
        let hv = h(auth);
        let hs: Vec<(&str, &str)> = hv.iter().map(|(k, v)| (*k, v.as_str())).collect();
        http(a, m, p, &hs, body)
    };

    let none = http(a, "GET", "/alice/config", &[], b"");
    let wrong = call("GET", "/alice/config", &basic("alice", "nope"), b"");
    let unknown = call("GET", "/alice/config", &basic("mallory", "nope"), b"");
    assert_eq!((none.status, wrong.status, unknown.status), (401, 401, 401));
    assert_eq!(wrong.body, unknown.body, "a wrong password and an unknown user look alike");
    assert_eq!(
        wrong.headers,
        unknown
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), if k == "date" { wrong.header("date").unwrap().to_string() } else { v.clone() }))
            .collect::<Vec<_>>()
    );

    assert_eq!(call("POST", "/alice/?create=true", &alice, b"").status, 200);
    assert_eq!(call("POST", "/alice/sub/?create=true", &alice, b"").status, 200);
    assert_eq!(call("POST", "/alice/config", &alice, b"c").status, 200);
    assert_eq!(call("GET", "/alice/config", &basic("bob", "bpw"), b"").status, 401, "bob may not read alice's repo");
    assert_eq!(call("POST", "/bob2/?create=true", &basic("bob", "bpw"), b"").status, 401);
    assert_eq!(call("POST", "/?create=true", &alice, b"").status, 401, "the root is nobody's");
    assert_eq!(mode(&data.join("alice/data")), 0o770);
    assert_eq!(mode(&data.join("alice/config")), 0o660);

    let blob = noise(5, 5000);
    let p = format!("/alice/data/{}", sha256_hex(&blob));
    assert_eq!(call("POST", &p, &alice, &blob).status, 200);
    assert_eq!(call("GET", &p, &alice, b"").status, 200);
    assert_eq!(call("GET", "/metrics", &alice, b"").status, 401, "with --private-repos only 'metrics' reads metrics");
    let m = call("GET", "/metrics", &basic("metrics", "mpw"), b"");
    assert_eq!(m.status, 200);
    let text = m.text();
    assert!(
        text.contains("rest_server_blob_write_bytes_total{repo=\"alice\",type=\"data\",user=\"alice\"} 5000"),
        "{text}"
    );
    assert!(text.contains("rest_server_blob_read_total{repo=\"alice\",type=\"data\",user=\"alice\"} 1"), "{text}");
    let size: u64 = text.lines().find_map(|l| l.strip_prefix("rest_server_fs_size_bytes ")).unwrap().parse().unwrap();
    assert!(size > 0);

    // A new user appears after SIGHUP.
    std::fs::write(data.join(".htpasswd"), htpasswd_line("carol", "cpw")).unwrap();
    assert_eq!(call("POST", "/carol/?create=true", &basic("carol", "cpw"), b"").status, 401);
    nix_kill(s.pid(), "-HUP");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(call("POST", "/carol/?create=true", &basic("carol", "cpw"), b"").status, 200);
    assert_eq!(call("GET", "/alice/config", &alice, b"").status, 401, "alice is gone after the reload");
}

fn nix_kill(pid: i32, sig: &str) {
    assert!(std::process::Command::new("kill").args([sig, &pid.to_string()]).status().unwrap().success());
}

#[test]
fn startup_errors() {
    let dir = TempDir::new("startup");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_krazybox"))
        .args(["rest-server", "--path", data.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let want = format!("cannot load {} (use --no-auth to disable)", data.join(".htpasswd").display());
    assert!(err.contains(&want), "{err}");
    for (args, msg) in [
        (&["--cpu-profile", "x"][..], "--cpu-profile is not supported"),
        (&["--tls-cert", "x"][..], "requires enabled TLS"),
        (&["--bogus"][..], "--bogus"),
    ] {
        let out =
            std::process::Command::new(env!("CARGO_BIN_EXE_krazybox")).arg("rest-server").args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(msg),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn unix_socket_and_graceful_stop() {
    let dir = TempDir::new("unix");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let sock = dir.path().join("rest.sock");
    let listen = format!("unix:{}", sock.display());
    let mut s = Server::start(&["--path", data.to_str().unwrap(), "--listen", &listen, "--no-auth"]);
    assert_eq!(http_unix(&sock, "POST", "/?create=true", &[], b"").status, 200);
    assert_eq!(http_unix(&sock, "POST", "/config", &[], b"over unix").status, 200);
    assert_eq!(http_unix(&sock, "GET", "/config", &[], b"").body, b"over unix");

    // An upload in flight when SIGTERM comes finishes; then the server exits 0.
    let blob = noise(6, 3 << 20);
    let id = sha256_hex(&blob);
    let mut c = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    let req = request_bytes("POST", &format!("/data/{id}"), &[], &blob);
    c.write_all(&req[..req.len() - 1000]).unwrap();
    let pid = s.pid();
    nix_kill(pid, "-TERM");
    std::thread::sleep(Duration::from_millis(200));
    c.write_all(&req[req.len() - 1000..]).unwrap();
    let mut raw = Vec::new();
    c.read_to_end(&mut raw).unwrap();
    assert_eq!(parse(&raw, false).status, 200);
    let status = s.terminate(Duration::from_secs(8)).expect("the server did not stop");
    assert_eq!(status.code(), Some(0));
    assert!(!sock.exists(), "the socket is removed at exit");
    assert_eq!(std::fs::read(data.join("data").join(&id[..2]).join(&id)).unwrap(), blob);
}

#[test]
fn dead_upload_is_dropped_and_cleaned() {
    let dir = TempDir::new("dead");
    let mut s = server(&dir, &["--no-auth"]);
    let a = s.addr.clone();
    assert_eq!(http(&a, "POST", "/?create=true", &[], b"").status, 200);
    // A client that stops sending mid-body: after SIGTERM the server waits its
    // grace period, drops the request, removes the temporary file and exits 0.
    let mut c = TcpStream::connect(&a).unwrap();
    let id = sha256_hex(b"never");
    c.write_all(&request_bytes("POST", &format!("/data/{id}"), &[("Content-Length", "100000")], &[1u8; 5000])).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(temp_files(dir.path()).len(), 1, "the upload is being written to a temporary file");
    let status = s.terminate(Duration::from_secs(15)).expect("the server did not stop");
    assert_eq!(status.code(), Some(0));
    assert_eq!(temp_files(dir.path()), Vec::<String>::new());
    drop(c);
}

/// A small tmpfs, unmounted when dropped (the test runs as root).
struct SmallFs(std::path::PathBuf);

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn full_disk_gives_507_and_leaves_nothing() {
    let dir = TempDir::new("enospc");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "krazybox-test"])
        .arg(&data)
        .status()
        .unwrap();
    assert!(mounted.success(), "mounting a tmpfs needs root");
    let _fs = SmallFs(data.clone());
    let s = Server::start(&["--path", data.to_str().unwrap(), "--listen", "127.0.0.1:0", "--no-auth"]);
    let a = s.addr.as_str();
    assert_eq!(http(a, "POST", "/?create=true", &[], b"").status, 200);
    let big = noise(8, 2 << 20);
    let p = format!("/data/{}", sha256_hex(&big));
    assert_eq!(http(a, "POST", &p, &[], &big).status, 507);
    assert_eq!(temp_files(&data), Vec::<String>::new());
    assert_eq!(http(a, "HEAD", &p, &[], b"").status, 404);
    // The repository still works once there is room.
    let small = noise(9, 1000);
    let p = format!("/keys/{}", sha256_hex(&small));
    assert_eq!(http(a, "POST", &p, &[], &small).status, 200);
    assert_eq!(http(a, "GET", &p, &[], b"").body, small);
    drop(s);
}

#[test]
fn memory_does_not_grow_with_blob_size() {
    let dir = TempDir::new("memory");
    let s = server(&dir, &["--no-auth"]);
    let a = s.addr.as_str();
    assert_eq!(http(a, "POST", "/?create=true", &[], b"").status, 200);
    let blob = noise(11, 48 << 20);
    let p = format!("/data/{}", sha256_hex(&blob));
    assert_eq!(http(a, "POST", &p, &[], &blob).status, 200);
    let got = http(a, "GET", &p, &[], b"");
    assert!(got.status == 200 && got.body == blob);
    let status = std::fs::read_to_string(format!("/proc/{}/status", s.pid())).unwrap();
    let peak_kib: u64 =
        status.lines().find_map(|l| l.strip_prefix("VmHWM:")).unwrap().trim().trim_end_matches(" kB").parse().unwrap();
    assert!(peak_kib < 24 * 1024, "peak RSS {peak_kib} KiB for a 48 MiB upload and download");
}

/// Bodies at and around the server's upload buffer size (256 KiB), sent in
/// pieces of odd sizes (small frames, then large ones), four at once: every
/// object must hash to its name and read back whole, in ranges that cross the
/// buffers' and the download chunks' edges, and from a second read (the page
/// cache) as from the first.
#[test]
fn uploads_and_downloads_across_buffer_edges() {
    let dir = TempDir::new("edges");
    let s = server(&dir, &["--no-auth"]);
    let a = s.addr.clone();
    assert_eq!(http(&a, "POST", "/?create=true", &[], b"").status, 200);
    const K: usize = 256 << 10;
    let sizes = [K - 1, K, K + 1, 2 * K, 3 * K + 7, 5 * K + K / 2];
    let threads: Vec<_> = sizes
        .iter()
        .enumerate()
        .map(|(i, &len)| {
            let a = a.clone();
            std::thread::spawn(move || {
                let blob = noise(100 + i as u64, len);
                let path = format!("/data/{}", sha256_hex(&blob));
                let mut c = TcpStream::connect(&a).unwrap();
                c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                let head = request_bytes("POST", &path, &[("Content-Length", &len.to_string())], b"");
                c.write_all(&head).unwrap();
                let mut at = 0;
                for (n, piece) in [1000usize, 7, 5000, 300 << 10, 64 << 10, 1].iter().cycle().enumerate() {
                    if at == len {
                        break;
                    }
                    let end = (at + piece).min(len);
                    c.write_all(&blob[at..end]).unwrap();
                    at = end;
                    if n % 3 == 0 {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                }
                let mut raw = Vec::new();
                c.read_to_end(&mut raw).unwrap();
                assert_eq!(parse(&raw, false).status, 200, "upload of {len} bytes");
                (blob, path)
            })
        })
        .collect();
    for t in threads {
        let (blob, path) = t.join().unwrap();
        for _ in 0..2 {
            let got = http(&a, "GET", &path, &[], b"");
            assert_eq!(got.status, 200);
            assert!(got.body == blob, "{path}: {} bytes back of {}", got.body.len(), blob.len());
        }
        let len = blob.len();
        for (start, end) in [(0, 4095), (K - 10, K + 10), (len / 2, len - 1), (len - 4096, len - 1)] {
            let r = http(&a, "GET", &path, &[("Range", &format!("bytes={start}-{end}"))], b"");
            assert_eq!(r.status, 206);
            assert!(r.body == blob[start..=end.min(len - 1)], "{path} bytes {start}-{end}");
        }
    }
}

#[test]
fn temporary_files_of_a_killed_server_are_removed_at_start() {
    let dir = TempDir::new("stale");
    let folder = dir.path().join("data/r/data/ab");
    std::fs::create_dir_all(&folder).unwrap();
    let stale = folder.join(format!(".{}.rest-server-temp-1-7", "ab".repeat(32)));
    std::fs::write(&stale, b"half an upload").unwrap();
    let s = server(&dir, &["--no-auth"]);
    let r = http(&s.addr, "GET", "/r/data/", &[], b"");
    assert_eq!(r.text(), "[]", "temporary files are never listed");
    let start = std::time::Instant::now();
    while stale.exists() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!stale.exists());
}

/// A listing of `ids` as the Go server writes it: `[{"name":…,"size":…},…]`
/// (v2) or `["…",…]` (v1), in the order given.
fn go_listing(ids: &[(String, u64)], v2: bool) -> String {
    let items: Vec<String> = ids
        .iter()
        .map(|(id, size)| if v2 { format!("{{\"name\":\"{id}\",\"size\":{size}}}") } else { format!("\"{id}\"") })
        .collect();
    format!("[{}]", items.join(","))
}

#[test]
fn big_listings_stream_in_the_go_servers_bytes() {
    let dir = TempDir::new("biglist");
    let s = server(&dir, &["--no-auth"]);
    let a = s.addr.as_str();
    assert_eq!(http(a, "POST", "/r/?create=true", &[], b"").status, 200);
    let repo = dir.path().join("data/r");
    // 3,000 packs straight on the disk (the server lists what is there), sparse.
    let mut packs: Vec<(String, u64)> = (0..3000u64).map(|i| (sha256_hex(&i.to_le_bytes()), 1000 + i * 37)).collect();
    for (id, size) in &packs {
        let f = std::fs::File::create(repo.join("data").join(&id[..2]).join(id)).unwrap();
        f.set_len(*size).unwrap();
    }
    // What the Go server leaves out too (a file beside the subfolders, a link
    // to a subfolder), and what only this server leaves out: temporary uploads,
    // hidden names, folders and links where objects belong.
    std::fs::write(repo.join("data/stray"), b"x").unwrap();
    std::os::unix::fs::symlink("00", repo.join("data/zz")).unwrap();
    let ab = repo.join("data/ab");
    std::fs::write(ab.join(format!(".{}.rest-server-temp-1-2-3", "ab".repeat(32))), b"half").unwrap();
    std::fs::write(ab.join(".hidden"), b"x").unwrap();
    std::fs::create_dir(ab.join("ab".repeat(32))).unwrap();
    std::os::unix::fs::symlink("../../config", ab.join(format!("ab{}", "0".repeat(62)))).unwrap();
    // The Go server's order: subfolders and names sorted (os.ReadDir).
    packs.sort();

    for v2 in [true, false] {
        let accept: &[(&str, &str)] = if v2 { &[("Accept", V2)] } else { &[] };
        let r = http(a, "GET", "/r/data/", accept, b"");
        assert_eq!(r.status, 200);
        assert!(r.chunked() && r.complete, "streamed, and whole: {:?}", r.headers);
        let mime = if v2 { V2 } else { "application/vnd.x.restic.rest.v1" };
        assert_eq!(r.header("content-type"), Some(mime));
        let want = go_listing(&packs, v2);
        assert!(r.text() == want, "v2 {v2}: {} bytes, not the Go server's {} bytes", r.body.len(), want.len());
    }

    // A folder of more objects than a batch holds: all of them, each once.
    let mut snaps: Vec<(String, u64)> = (0..1500u64).map(|i| (sha256_hex(&((i + 1) << 32).to_le_bytes()), i)).collect();
    for (id, size) in &snaps {
        std::fs::File::create(repo.join("snapshots").join(id)).unwrap().set_len(*size).unwrap();
    }
    let r = http(a, "GET", "/r/snapshots/", &[("Accept", V2)], b"");
    assert!(r.status == 200 && r.complete);
    let text = r.text();
    let inner = text.strip_prefix("[{").and_then(|t| t.strip_suffix("}]")).expect("a JSON array of objects");
    let mut got: Vec<String> = inner.split("},{").map(|i| format!("{{{i}}}")).collect();
    got.sort();
    snaps.sort();
    let mut want: Vec<String> = snaps.iter().map(|(id, n)| format!("{{\"name\":\"{id}\",\"size\":{n}}}")).collect();
    want.sort();
    assert_eq!(got.len(), 1500);
    assert!(got == want, "the entries are the Go server's");

    // A small listing comes whole, with its length, as the Go server sends it.
    let r = http(a, "GET", "/r/keys/", &[("Accept", V2)], b"");
    assert_eq!((r.header("content-length"), r.text().as_str()), (Some("2"), "[]"));
}
