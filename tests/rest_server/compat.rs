//! The rest-server where a disk, another server or a client misbehaves, and where
//! tools look at it as they look at the Go server: planted non-files, I/O errors,
//! two servers on one folder, reused pids, dead sockets, forged log fields,
//! odd Range headers, start-up lines. Black-box, against the real binary.

use crate::rest_server_support::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_krazybox");

fn data_dir(dir: &TempDir) -> PathBuf {
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    data
}

fn server(data: &Path, extra: &[&str]) -> Server {
    let mut args = vec!["--path", data.to_str().unwrap(), "--listen", "127.0.0.1:0", "--no-auth"];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// One request that must be answered within `limit`; the raw bytes read until
/// the server closed (or the error that ended the read).
fn raw_within(addr: &str, req: &[u8], limit: Duration) -> (Vec<u8>, Option<std::io::Error>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(limit)).unwrap();
    s.write_all(req).unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (raw, None),
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) => return (raw, Some(e)),
        }
    }
}

fn within(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], limit: Duration) -> Resp {
    let (raw, err) = raw_within(addr, &request_bytes(method, path, headers, b""), limit);
    assert!(err.is_none(), "{method} {path}: no complete answer within {limit:?}: {err:?}");
    parse(&raw, method == "HEAD")
}

fn id_of(n: u64) -> String {
    sha256_hex(&n.to_le_bytes())
}

/// Run `krazybox rest-server ARGS`, which must fail within 5 s: (status, stderr).
fn must_fail(args: &[&str]) -> (i32, String) {
    let mut child =
        Command::new(BIN).arg("rest-server").args(args).stdin(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let status = wait_exit(&mut child, Duration::from_secs(5));
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let status = status.unwrap_or_else(|| panic!("rest-server {args:?} kept running: {err}"));
    (status.code().unwrap_or(-1), err)
}

fn lines_naming(stderr: &str, what: &str) -> Vec<String> {
    stderr.lines().filter(|l| l.contains(what)).map(String::from).collect()
}

#[test]
fn objects_that_are_not_files_never_block() {
    let dir = TempDir::new("nonfile");
    let data = data_dir(&dir);
    let s = server(&data, &[]);
    let a = s.addr.as_str();
    assert_eq!(http(a, "POST", "/r/?create=true", &[], b"").status, 200);
    let (fifo_id, dir_id) = (id_of(1), id_of(2));
    let fifo = data.join("r/data").join(&fifo_id[..2]).join(&fifo_id);
    let folder = data.join("r/keys").join(&dir_id);
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    std::fs::create_dir(&folder).unwrap();

    let limit = Duration::from_secs(5);
    for p in [format!("/r/data/{fifo_id}"), format!("/r/keys/{dir_id}")] {
        assert_eq!(within(a, "HEAD", &p, &[], limit).status, 404, "HEAD {p}");
        assert_eq!(within(a, "GET", &p, &[], limit).status, 404, "GET {p}");
        assert_eq!(within(a, "GET", &p, &[("Range", "bytes=0-")], limit).status, 404, "GET {p} with a range");
    }
    assert_eq!(within(a, "DELETE", &format!("/r/data/{fifo_id}"), &[], limit).status, 500);
    assert_eq!(within(a, "DELETE", &format!("/r/keys/{dir_id}"), &[], limit).status, 500);
    assert!(fifo.exists() && folder.is_dir(), "what the server did not make stays");
    std::thread::sleep(Duration::from_millis(100));
    let log = s.stderr.lock().unwrap().clone();
    for p in [&fifo, &folder] {
        let lines = lines_naming(&log, &p.display().to_string());
        assert_eq!(lines.len(), 1, "one line naming {} for its DELETE: {log}", p.display());
        assert!(lines[0].contains("not a regular file"), "{}", lines[0]);
    }
    // A symlink is only a name: DELETE removes it, not what it points to.
    assert_eq!(http(a, "POST", "/r/config", &[], b"cfg").status, 200);
    let link = data.join("r/locks").join(id_of(3));
    std::os::unix::fs::symlink("../config", &link).unwrap();
    assert_eq!(within(a, "DELETE", &format!("/r/locks/{}", id_of(3)), &[], limit).status, 200);
    assert!(std::fs::symlink_metadata(&link).is_err());
    assert_eq!(std::fs::read(data.join("r/config")).unwrap(), b"cfg");
    // Still serving: nothing is stuck.
    let blob = noise(3, 1000);
    let p = format!("/r/snapshots/{}", sha256_hex(&blob));
    assert_eq!(http(a, "POST", &p, &[], &blob).status, 200);
    assert_eq!(within(a, "GET", &p, &[], limit).body, blob);
}

#[test]
fn an_io_error_is_not_not_found() {
    // The server runs as nobody, so a file it may not read fails with EACCES
    // (root would bypass the mode).
    const NOBODY: u32 = 65534;
    let dir = TempDir::new("eacces");
    let data = data_dir(&dir);
    std::os::unix::fs::chown(&data, Some(NOBODY), Some(NOBODY)).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["rest-server", "--path", data.to_str().unwrap(), "--listen", "127.0.0.1:0", "--no-auth"]);
    std::os::unix::process::CommandExt::uid(&mut cmd, NOBODY);
    std::os::unix::process::CommandExt::gid(&mut cmd, NOBODY);
    let s = Server::spawn(cmd);
    let a = s.addr.as_str();
    assert_eq!(http(a, "POST", "/?create=true", &[], b"").status, 200);
    let blob = noise(4, 5000);
    let id = sha256_hex(&blob);
    let p = format!("/index/{id}");
    assert_eq!(http(a, "POST", &p, &[], &blob).status, 200);
    let stored = data.join("index").join(&id);
    std::fs::set_permissions(&stored, std::fs::Permissions::from_mode(0o000)).unwrap();

    assert_eq!(http(a, "HEAD", &p, &[], b"").status, 500, "EACCES is not a missing object");
    assert_eq!(http(a, "GET", &p, &[], b"").status, 500);
    assert_eq!(http(a, "GET", &p, &[("Range", "bytes=0-99")], b"").status, 500);
    assert_eq!(http(a, "HEAD", &format!("/index/{}", id_of(5)), &[], b"").status, 404, "missing is still 404");
    std::thread::sleep(Duration::from_millis(100));
    let log = s.stderr.lock().unwrap().clone();
    let lines = lines_naming(&log, &stored.display().to_string());
    assert_eq!(lines.len(), 3, "one line per failed request: {log}");
    assert!(lines.iter().all(|l| l.contains("ermission denied")), "{lines:?}");
}

/// Whether `unshare` can give a child its own mount (and pid) namespace here.
fn can_unshare(args: &[&str]) -> bool {
    let ok = Command::new("unshare").args(args).arg("true").status().is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: `unshare {}` does not work here (needs root and util-linux)", args.join(" "));
    }
    ok
}

#[test]
fn read_errors_before_and_after_the_headers() {
    // Two sysfs files stand in for a failing disk, bind-mounted over objects in
    // the server's own mount namespace: reading `speed` of the loopback device
    // fails (EINVAL) at once; `mtu` gives 6 bytes of its 4096-byte size, then
    // ends, as a file cut short while it is sent.
    if !can_unshare(&["-m", "--propagation", "private"]) {
        return;
    }
    let dir = TempDir::new("eio");
    let data = data_dir(&dir);
    let keys = data.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let (bad, short) = (id_of(6), id_of(7));
    for id in [&bad, &short] {
        std::fs::write(keys.join(id), b"").unwrap();
    }
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(r#"mount --bind /sys/class/net/lo/speed "$1" && mount --bind /sys/class/net/lo/mtu "$2" && shift 2 && exec "$@""#)
        .arg("sh")
        .arg(keys.join(&bad))
        .arg(keys.join(&short))
        .args([BIN, "rest-server", "--path", data.to_str().unwrap(), "--listen", "127.0.0.1:0", "--no-auth"])
        // The scrub would read the failing file too, and log it (tests/rest_server/scrub.rs).
        .args(["--scrub-interval", "off"]);
    let s = Server::spawn(cmd);
    let a = s.addr.as_str();

    let r = within(a, "GET", &format!("/keys/{bad}"), &[], Duration::from_secs(5));
    assert_eq!(r.status, 500, "an error before anything was sent");
    let (raw, _) = raw_within(a, &request_bytes("GET", &format!("/keys/{short}"), &[], b""), Duration::from_secs(5));
    // hyper drops the connection at the error, maybe before it flushed the
    // status: the client gets nothing, or a 200 whose body is visibly short.
    if !raw.is_empty() {
        let r = parse(&raw, false);
        assert_eq!((r.status, r.header("content-length")), (200, Some("4096")));
        assert!(r.body.len() < 4096, "the body ends short: {} bytes", r.body.len());
    }
    std::thread::sleep(Duration::from_millis(100));
    let log = s.stderr.lock().unwrap().clone();
    assert_eq!(lines_naming(&log, &bad).len(), 1, "{log}");
    assert!(lines_naming(&log, &short).iter().any(|l| l.contains("aborted")), "{log}");
}

#[test]
fn one_server_per_folder() {
    let dir = TempDir::new("twice");
    let data = data_dir(&dir);
    let s = server(&data, &[]);
    let a = s.addr.as_str();
    assert_eq!(http(a, "POST", "/?create=true", &[], b"").status, 200);
    // An upload in flight on the first server...
    let blob = noise(8, 200_000);
    let id = sha256_hex(&blob);
    let req = request_bytes("POST", &format!("/data/{id}"), &[], &blob);
    let mut c = TcpStream::connect(a).unwrap();
    c.write_all(&req[..req.len() - 1000]).unwrap();
    std::thread::sleep(Duration::from_millis(200));

    // ...survives a second server on the same folder, which refuses to start.
    let (code, err) = must_fail(&["--path", data.to_str().unwrap(), "--listen", "127.0.0.1:0", "--no-auth"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains(&format!("pid {}", s.pid())) && err.contains(data.to_str().unwrap()), "{err}");
    c.write_all(&req[req.len() - 1000..]).unwrap();
    let mut raw = Vec::new();
    c.read_to_end(&mut raw).unwrap();
    assert_eq!(parse(&raw, false).status, 200);
    assert_eq!(http(a, "GET", &format!("/data/{id}"), &[], b"").body, blob);

    // Once it has stopped, the folder is free again.
    drop(s);
    let s = server(&data, &[]);
    assert_eq!(http(&s.addr, "HEAD", &format!("/data/{id}"), &[], b"").status, 200);
}

#[test]
fn a_reused_pid_finds_no_old_temporary_file() {
    // A server that is pid 1 in its namespace, after an earlier pid 1 was killed
    // mid-upload: the old temporary file is swept before --max-size counts the
    // tree, and the same object uploads again.
    if !can_unshare(&["--pid", "--fork", "--kill-child"]) {
        return;
    }
    let dir = TempDir::new("pid1");
    let data = data_dir(&dir);
    let blob = noise(9, 2000);
    let id = sha256_hex(&blob);
    let folder = data.join("data").join(&id[..2]);
    std::fs::create_dir_all(&folder).unwrap();
    let stale = folder.join(format!(".{id}.rest-server-temp-1-0"));
    std::fs::write(&stale, vec![1u8; 3000]).unwrap();
    let mut cmd = Command::new("unshare");
    cmd.args(["--pid", "--fork", "--kill-child", BIN, "rest-server", "--path", data.to_str().unwrap()]).args([
        "--listen",
        "127.0.0.1:0",
        "--no-auth",
        "--max-size",
        "2500",
    ]);
    let s = Server::spawn(cmd);
    assert!(!stale.exists(), "swept before serving");
    assert_eq!(http(&s.addr, "POST", "/?create=true", &[], b"").status, 200);
    assert_eq!(http(&s.addr, "POST", &format!("/data/{id}"), &[], &blob).status, 200);
    assert_eq!(http(&s.addr, "GET", &format!("/data/{id}"), &[], b"").body, blob);

    // Temporary names carry random bits beside the pid.
    let mut c = TcpStream::connect(&s.addr).unwrap();
    let other = noise(10, 100);
    let req = request_bytes("POST", &format!("/keys/{}", sha256_hex(&other)), &[], &other);
    c.write_all(&req[..req.len() - 10]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let temp: Vec<String> = std::fs::read_dir(data.join("keys"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".rest-server-temp-"))
        .collect();
    assert_eq!(temp.len(), 1, "{temp:?}");
    let tail: Vec<&str> = temp[0].rsplit(".rest-server-temp-").next().unwrap().split('-').collect();
    assert_eq!(tail.len(), 3, "{}", temp[0]);
    assert_eq!(tail[0], "1", "the server is pid 1 in its namespace");
    assert!(tail[1].len() == 16 && tail[1].bytes().all(|b| b.is_ascii_hexdigit()), "{}", temp[0]);
}

#[test]
fn dead_sockets_are_replaced_live_ones_kept() {
    let dir = TempDir::new("sockets");
    let data = data_dir(&dir);
    let listen = |p: &Path| format!("unix:{}", p.display());

    // A socket a killed server left: nobody answers, so it is replaced.
    let dead = dir.path().join("dead.sock");
    drop(std::os::unix::net::UnixListener::bind(&dead).unwrap());
    let mut s = Server::start(&["--path", data.to_str().unwrap(), "--listen", &listen(&dead), "--no-auth"]);
    assert_eq!(http_unix(&dead, "POST", "/?create=true", &[], b"").status, 200);
    assert_eq!(s.terminate(Duration::from_secs(8)).and_then(|st| st.code()), Some(0));

    // A live socket stays, and so does a file that is not a socket.
    let live = dir.path().join("live.sock");
    let held = std::os::unix::net::UnixListener::bind(&live).unwrap();
    let (code, err) = must_fail(&["--path", data.to_str().unwrap(), "--listen", &listen(&live), "--no-auth"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(live.to_str().unwrap()), "{err}");
    std::os::unix::net::UnixStream::connect(&live).expect("the live socket still answers");
    drop(held);
    let plain = dir.path().join("plain");
    std::fs::write(&plain, b"keep me").unwrap();
    let (code, err) = must_fail(&["--path", data.to_str().unwrap(), "--listen", &listen(&plain), "--no-auth"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not a socket"), "{err}");
    assert_eq!(std::fs::read(&plain).unwrap(), b"keep me");
}

#[test]
fn the_request_log_cannot_be_forged() {
    let dir = TempDir::new("logesc");
    let data = data_dir(&dir);
    let log = dir.path().join("access.log");
    let s = server(&data, &["--log", log.to_str().unwrap()]);
    let agent = "curl\" 200 99 \"-\" \"fake";
    let referer = "ref\ttab\u{e9}";
    let r = http(&s.addr, "GET", "/a\"b/config", &[("User-Agent", agent), ("Referer", referer)], b"");
    assert_eq!(r.status, 404);
    // The log has a thread of its own: the line may land just after the answer.
    let start = std::time::Instant::now();
    let mut text = std::fs::read_to_string(&log).unwrap();
    while text.is_empty() && start.elapsed() < std::time::Duration::from_secs(5) {
        std::thread::sleep(std::time::Duration::from_millis(20));
        text = std::fs::read_to_string(&log).unwrap();
    }
    let line = text.lines().last().unwrap();
    let (_, rest) = line.split_once("] ").unwrap();
    assert_eq!(rest, r#""GET /a\"b/config HTTP/1.1" 404 10 "ref\x09tab\xc3\xa9" "curl\" 200 99 \"-\" \"fake""#);
    // Unescaped quotes split the line into exactly its six quoted fields' worth.
    assert_eq!(rest.replace("\\\"", "").matches('"').count(), 6, "{rest}");
}

#[test]
fn ranges_per_rfc_9110() {
    let dir = TempDir::new("rfc9110");
    let data = data_dir(&dir);
    let s = server(&data, &[]);
    let a = s.addr.as_str();
    assert_eq!(http(a, "POST", "/?create=true", &[], b"").status, 200);
    let blob = noise(11, 1000);
    let path = format!("/data/{}", sha256_hex(&blob));
    assert_eq!(http(a, "POST", &path, &[], &blob).status, 200);
    let whole = |h: &[(&str, &str)]| {
        let r = http(a, "GET", &path, h, b"");
        assert_eq!((r.status, r.header("content-range")), (200, None), "{h:?}");
        assert_eq!(r.body, blob, "{h:?}");
    };
    whole(&[("Range", "items=0-9")]);
    whole(&[("Range", "bytes=abc")]);
    whole(&[("Range", "bytes=5")]);
    whole(&[("Range", "bytes=-")]);
    whole(&[("Range", "bytes=0-9"), ("If-Range", "\"some-etag\"")]);
    whole(&[("Range", "bytes=0-9"), ("If-Range", "Wed, 21 Oct 2015 07:28:00 GMT")]);
    let part = |range: &str, want: std::ops::Range<usize>| {
        let r = http(a, "GET", &path, &[("Range", range)], b"");
        let cr = format!("bytes {}-{}/1000", want.start, want.end - 1);
        assert_eq!((r.status, r.header("content-range")), (206, Some(cr.as_str())), "{range}");
        assert_eq!(r.body, blob[want], "{range}");
    };
    part("Bytes=10-19", 10..20);
    part("BYTES=-5", 995..1000);
    part("bytes=990-99999999999999999999999", 990..1000);
    part("bytes=-99999999999999999999999", 0..1000);
    // What restic sends.
    part("bytes=0-", 0..1000);
    part("bytes=100-199", 100..200);
    part("bytes=999-999", 999..1000);
    assert_eq!(http(a, "GET", &path, &[("Range", "bytes=1000-")], b"").status, 416);
    assert_eq!(http(a, "GET", &path, &[("Range", "bytes=99999999999999999999999-")], b"").status, 416);
}

/// The server as restic's REST backend tests start it: read stderr until
/// `start server on ADDR`, at most 2 s; returns the child, the lines up to it,
/// and the rest of stderr as it comes.
fn start_like_restic(args: &[&str]) -> (Child, Vec<String>, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new(BIN)
        .arg("rest-server")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut lines = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => {
                let done = l.starts_with("start server on ");
                lines.push(l);
                if done {
                    return (child, lines, rx);
                }
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("no `start server on ADDR` within 2 s: {lines:?}");
            }
        }
    }
}

/// The lines that are rest-server's own (ours carry a level and a module).
fn go_lines(lines: &[String]) -> Vec<&str> {
    lines.iter().map(String::as_str).filter(|l| !l.contains(" [krazybox")).collect()
}

#[test]
fn starts_and_stops_like_the_go_server() {
    let dir = TempDir::new("golike");
    let data = data_dir(&dir);
    let (mut child, lines, rx) = start_like_restic(&["--no-auth", "--path", data.to_str().unwrap(), "--listen", ":0"]);
    let addr = lines.last().unwrap().strip_prefix("start server on ").unwrap().to_string();
    assert_eq!(
        go_lines(&lines),
        [
            format!("Data directory: {}", data.display()).as_str(),
            "Authentication disabled",
            "Append only mode disabled",
            "Private repositories disabled",
            "Group accessible repos disabled",
            lines.last().unwrap(),
        ]
    );
    let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
    assert_ne!(port, 0, "the bound port, not the one asked for: {addr}");
    // restic connects to what it read, 0.0.0.0 replaced by localhost.
    let target = addr.replace("0.0.0.0", "localhost");
    let conn = TcpStream::connect(target.as_str()).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(send(conn, "POST", "/restic-test/?create=true", &[], b"").status, 200);

    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let status = wait_exit(&mut child, Duration::from_secs(8)).expect("stops on SIGINT");
    assert_eq!(status.code(), Some(0));
    let rest: Vec<String> = rx.iter().collect();
    assert_eq!(go_lines(&rest), ["shutdown cleanly"], "{rest:?}");

    // Every switch the Go server reports is reported.
    std::fs::write(data.join(".htpasswd"), htpasswd_line("u", "p")).unwrap();
    let args = ["--path", data.to_str().unwrap(), "--listen", "127.0.0.1:0", "--append-only", "--private-repos"];
    let (mut child, lines, _rx) = start_like_restic(&[&args[..], &["--group-accessible-repos"]].concat());
    assert_eq!(
        go_lines(&lines)[1..5],
        [
            "Authentication enabled",
            "Append only mode enabled",
            "Private repositories enabled",
            "Group accessible repos enabled"
        ]
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_unix_socket_and_a_path_that_does_not_exist_yet() {
    let dir = TempDir::new("golike-unix");
    let data = dir.path().join("not/yet/data");
    let sock = dir.path().join("rest.sock");
    let listen = format!("unix:{}", sock.display());
    let (mut child, lines, _rx) =
        start_like_restic(&["--no-auth", "--path", data.to_str().unwrap(), "--listen", &listen]);
    assert_eq!(lines.last().unwrap(), &format!("start server on {}", sock.display()), "the bare path");
    for d in [dir.path().join("not"), dir.path().join("not/yet"), data.clone()] {
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o700, "{}", d.display());
    }
    assert_eq!(http_unix(&sock, "POST", "/restic-test/?create=true", &[], b"").status, 200);
    assert!(data.join("restic-test/data/ff").is_dir());
    let _ = child.kill();
    let _ = child.wait();

    // With --group-accessible-repos the folders it makes are the group's too.
    let shared = dir.path().join("shared/data");
    let (mut child, _, _rx) = start_like_restic(&[
        "--no-auth",
        "--group-accessible-repos",
        "--path",
        shared.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    for d in [dir.path().join("shared"), shared.clone()] {
        assert_eq!(std::fs::metadata(&d).unwrap().permissions().mode() & 0o7777, 0o770, "{}", d.display());
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_read_only_disk_is_served_without_a_lock_file() {
    // Restores from a disk mounted read-only: there is no lock file to make,
    // and nothing to guard (no upload, no sweep), so the server still starts.
    if !can_unshare(&["-m", "--propagation", "private"]) {
        return;
    }
    let dir = TempDir::new("readonly");
    let data = data_dir(&dir);
    let blob = noise(12, 3000);
    let id = sha256_hex(&blob);
    std::fs::create_dir_all(data.join("snapshots")).unwrap();
    std::fs::create_dir_all(data.join("keys")).unwrap();
    std::fs::write(data.join("snapshots").join(&id), &blob).unwrap();
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(r#"mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@""#)
        .arg("sh")
        .arg(&data)
        .args([BIN, "rest-server", "--path", data.to_str().unwrap(), "--listen", "127.0.0.1:0", "--no-auth"]);
    let s = Server::spawn(cmd);
    assert_eq!(http(&s.addr, "GET", &format!("/snapshots/{id}"), &[], b"").body, blob);
    let other = noise(13, 10);
    assert_eq!(http(&s.addr, "POST", &format!("/keys/{}", sha256_hex(&other)), &[], &other).status, 500);
    assert!(!data.join(".rest-server.lock").exists());
    assert!(s.stderr.lock().unwrap().contains("serving without one"));
}

#[test]
fn a_listing_the_disk_fails_midway_is_cut_short() {
    // The server runs as nobody: a subfolder it may read but not search
    // (r--) fails every stat, one it may not open (---) fails at once: errors
    // of the disk's kind, not a missing folder. restic must never get a
    // complete-looking list without those packs.
    const NOBODY: u32 = 65534;
    let dir = TempDir::new("listfail");
    let data = data_dir(&dir);
    for sub in ["00", "01", "02"] {
        let folder = data.join("data").join(sub);
        std::fs::create_dir_all(&folder).unwrap();
        for i in 0..3u64 {
            std::fs::write(folder.join(format!("{sub}{}", &id_of(i)[2..])), b"pack").unwrap();
        }
    }
    for p in ["data", "data/00", "data/01", "data/02"].map(|p| data.join(p)).iter().chain([&data]) {
        std::os::unix::fs::chown(p, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    let mut cmd = Command::new(BIN);
    cmd.args(["rest-server", "--path", data.to_str().unwrap(), "--listen", "127.0.0.1:0", "--no-auth"]);
    std::os::unix::process::CommandExt::uid(&mut cmd, NOBODY);
    std::os::unix::process::CommandExt::gid(&mut cmd, NOBODY);
    let s = Server::spawn(cmd);
    let a = s.addr.as_str();
    let v2: &[(&str, &str)] = &[("Accept", "application/vnd.x.restic.rest.v2")];
    let list = |headers: &[(&str, &str)]| {
        let (raw, _) = raw_within(a, &request_bytes("GET", "/data/", headers, b""), Duration::from_secs(10));
        raw
    };
    let mode = |sub: &str, m: u32| {
        std::fs::set_permissions(data.join("data").join(sub), PermissionsExt::from_mode(m)).unwrap()
    };
    let whole = parse(&list(v2), false);
    assert!(whole.status == 200 && whole.complete && whole.text().matches("\"name\"").count() == 9, "{whole:?}");

    // Fails after the first folder went out: a 200 whose chunked body never ends.
    mode("01", 0o400);
    let raw = list(v2);
    // hyper drops the connection at the error, maybe before it flushed the
    // status: the client gets nothing, or a body without its end.
    if !raw.is_empty() {
        let r = parse(&raw, false);
        assert!(r.status == 200 && r.chunked() && !r.complete, "{r:?}");
        assert!(!r.text().ends_with(']'), "{}", r.text());
    }
    // v1 needs no stat: readdir's types suffice, and readdir works.
    let r = parse(&list(&[]), false);
    assert!(r.status == 200 && r.complete && r.text().matches('"').count() == 18, "{r:?}");
    mode("01", 0o700);
    mode("02", 0o000);
    let raw = list(&[]);
    if !raw.is_empty() {
        let r = parse(&raw, false);
        assert!(r.status == 200 && !r.complete, "{r:?}");
    }
    // Fails in the first folder: nothing was sent yet, so a 500.
    mode("02", 0o700);
    mode("00", 0o000);
    assert_eq!(parse(&list(v2), false).status, 500);
    mode("00", 0o700);
    std::thread::sleep(Duration::from_millis(100));
    let log = s.stderr.lock().unwrap().clone();
    assert_eq!(lines_naming(&log, "response aborted").len(), 2, "{log}");
    assert!(lines_naming(&log, "response aborted").iter().all(|l| l.contains("ermission denied")), "{log}");
}
