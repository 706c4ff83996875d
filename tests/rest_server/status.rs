//! `/health`, `/status` and `/status.json`: each health word caused for real
//! (a removed folder, a read-only bind mount, a full file system, a detached
//! mount), who sees what under each login rule, the facts against the files
//! and the real tools, and the page in a real headless browser.

use crate::rest_server_support::*;
use crate::support::{self, TempDir};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

const DAY: Duration = Duration::from_secs(86400);

/// A file below `root`, its folders made, its mtime set when given.
fn put(root: &Path, rel: &str, data: &[u8], mtime: Option<SystemTime>) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, data).unwrap();
    if let Some(t) = mtime {
        std::fs::File::options().write(true).open(&p).unwrap().set_modified(t).unwrap();
    }
}

/// A repository on disk as restic leaves it: config, a key, data, and a
/// snapshot made `age` ago (none for `None`). Returns its bytes.
fn repo_on_disk(root: &Path, repo: &str, age: Option<Duration>, seed: u64) -> u64 {
    let pre = if repo.is_empty() { String::new() } else { format!("{repo}/") };
    let config = noise(seed, 155);
    let key = noise(seed + 1, 450);
    let pack = noise(seed + 2, 5000);
    put(root, &format!("{pre}config"), &config, None);
    put(root, &format!("{pre}keys/{}", sha256_hex(&key)), &key, None);
    let id = sha256_hex(&pack);
    put(root, &format!("{pre}data/{}/{id}", &id[..2]), &pack, None);
    for kind in ["index", "locks", "snapshots"] {
        std::fs::create_dir_all(root.join(format!("{pre}{kind}"))).unwrap();
    }
    let mut n = (config.len() + key.len() + pack.len()) as u64;
    if let Some(age) = age {
        let snap = noise(seed + 3, 300);
        put(root, &format!("{pre}snapshots/{}", sha256_hex(&snap)), &snap, Some(SystemTime::now() - age));
        n += snap.len() as u64;
    }
    n
}

fn start(data: &Path, extra: &[&str]) -> Server {
    let mut args = vec!["--path", data.to_str().unwrap(), "--listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    Server::start(&args)
}

fn get(s: &Server, path: &str, auth: Option<(&str, &str)>) -> Resp {
    let header = auth.map(|(u, p)| basic(u, p));
    let headers: Vec<(&str, &str)> = header.iter().map(|h| ("Authorization", h.as_str())).collect();
    http(&s.addr, "GET", path, &headers, b"")
}

fn health(s: &Server) -> (u16, String) {
    let r = get(s, "/health", None);
    (r.status, r.text())
}

/// `/status.json`, parsed.
fn facts(s: &Server, auth: Option<(&str, &str)>) -> Value {
    let r = get(s, "/status.json", auth);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.text()))
}

/// `/status.json` once the count at start is over.
fn counted(s: &Server, auth: Option<(&str, &str)>) -> Value {
    let t = Instant::now();
    loop {
        let f = facts(s, auth);
        if f["counting"] == false {
            return f;
        }
        assert!(t.elapsed() < Duration::from_secs(20), "still counting: {f}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn paths(f: &Value) -> Vec<String> {
    f["repositories"].as_array().unwrap().iter().map(|r| r["path"].as_str().unwrap().to_string()).collect()
}

fn root() -> bool {
    if nix::unistd::geteuid().is_root() {
        true
    } else {
        eprintln!("skipped: needs root (mounts)");
        false
    }
}

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(out.status.success(), "{cmd} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Poll `/health` until it gives `want` (the kernel's view of a mount may lag a moment).
fn health_becomes(s: &Server, want: (u16, &str)) {
    let t = Instant::now();
    loop {
        let (code, text) = health(s);
        if (code, text.as_str()) == (want.0, format!("{}\n", want.1).as_str()) {
            return;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "/health gives {code} {text:?}, not {want:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

mod health {
    use super::*;

    #[test]
    fn needs_no_login_tells_nothing_else_and_checks_no_password() {
        let dir = TempDir::new("health-login");
        let data = dir.subdir("data");
        repo_on_disk(&data, "alice/laptop", Some(DAY), 1);
        let users = dir.join("htpasswd");
        std::fs::write(&users, htpasswd_line("alice", "secret")).unwrap();
        let s = start(&data, &["--htpasswd-file", users.to_str().unwrap(), "--private-repos"]);
        health_becomes(&s, (200, "ok"));
        let r = get(&s, "/health", None);
        assert_eq!(r.body, b"ok\n");
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
        let raw = format!("{:?}{}", r.headers, r.text());
        assert!(!raw.contains("alice") && !raw.contains("laptop"), "{raw}");
        let head = http(&s.addr, "HEAD", "/health", &[], b"");
        assert_eq!((head.status, head.header("content-length")), (200, Some("3")));
        assert!(head.body.is_empty());
        for method in ["POST", "DELETE", "PUT"] {
            let r = http(&s.addr, method, "/health", &[], b"");
            assert_eq!((r.status, r.header("allow")), (405, Some("GET, HEAD")), "{method}");
        }
        // A wrong password on /health is never checked, so it counts for nothing...
        for _ in 0..30 {
            assert_eq!(get(&s, "/health", Some(("alice", "guess"))).status, 200);
        }
        assert_eq!(get(&s, "/alice/laptop/keys/", Some(("alice", "guess"))).status, 401, "not limited");
        // ...while the failed-login limit holds for /status, and /health still answers.
        let mut limited = false;
        for _ in 0..15 {
            match get(&s, "/status", Some(("alice", "guess"))).status {
                429 => {
                    limited = true;
                    break;
                }
                code => assert_eq!(code, 401),
            }
        }
        assert!(limited, "wrong passwords on /status reach the limit");
        assert_eq!(health(&s), (200, "ok\n".into()));
        assert_eq!(get(&s, "/health/", None).status, 401, "only /health itself is open");
    }

    #[test]
    fn a_flood_writes_once() {
        let dir = TempDir::new("health-flood");
        let data = dir.subdir("data");
        let mut s = start(&data, &["--no-auth", "--debug"]);
        health_becomes(&s, (200, "ok"));
        let t = Instant::now();
        for _ in 0..300 {
            assert_eq!(health(&s).0, 200);
        }
        eprintln!("300 answers in {:?}", t.elapsed());
        let left: Vec<String> =
            std::fs::read_dir(&data).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        let own = [".rest-server.lock", ".rest-server.scrub"];
        assert!(left.iter().all(|n| own.contains(&n.as_str())), "nothing left but the server's own files: {left:?}");
        // Every line written: the server has stopped and its stderr is read to the end.
        assert!(s.terminate(Duration::from_secs(10)).is_some_and(|st| st.success()));
        let t = Instant::now();
        while !s.stderr.lock().unwrap().contains("shutdown cleanly") {
            assert!(t.elapsed() < Duration::from_secs(10), "{}", s.stderr.lock().unwrap());
            std::thread::sleep(Duration::from_millis(10));
        }
        let log = s.stderr.lock().unwrap().clone();
        assert_eq!(log.matches("health: write test in").count(), 1, "300 answers, one write: {log}");
    }

    #[test]
    fn no_disk_when_the_folder_is_gone_or_another() {
        let dir = TempDir::new("health-gone");
        let data = dir.subdir("data");
        let s = start(&data, &["--no-auth"]);
        health_becomes(&s, (200, "ok"));
        std::fs::remove_dir_all(&data).unwrap();
        health_becomes(&s, (503, "no-disk"));
        std::fs::create_dir(&data).unwrap();
        // Past the last look.
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(health(&s), (503, "no-disk\n".into()), "a new folder under the old name is not the one served");
    }

    #[test]
    fn full_when_max_size_is_used_up() {
        let dir = TempDir::new("health-max-size");
        let data = dir.subdir("data");
        let s = start(&data, &["--no-auth", "--max-size", "1000"]);
        assert_eq!(http(&s.addr, "POST", "/r/?create=true", &[], b"").status, 200);
        health_becomes(&s, (200, "ok"));
        // --max-size counts every file at start, the lock file too.
        let lock = std::fs::metadata(data.join(".rest-server.lock")).unwrap().len() as usize;
        assert_eq!(http(&s.addr, "POST", "/r/config", &[], &vec![7u8; 1000 - lock]).status, 200);
        assert_eq!(health(&s), (503, "full\n".into()));
        assert_eq!(http(&s.addr, "DELETE", "/r/config", &[], b"").status, 200);
        assert_eq!(health(&s), (200, "ok\n".into()));
    }

    /// A tree served from a read-only mount (a disk mounted so for restores).
    #[test]
    fn read_only_mount() {
        if !root() {
            return;
        }
        let dir = TempDir::new("health-ro");
        let data = dir.subdir("data");
        run("mount", &["--bind", data.to_str().unwrap(), data.to_str().unwrap()]);
        run("mount", &["-o", "remount,bind,ro", data.to_str().unwrap()]);
        let s = start(&data, &["--no-auth"]);
        assert_eq!(health(&s), (503, "read-only\n".into()));
        drop(s);
        run("umount", &[data.to_str().unwrap()]);
    }

    /// A small ext4 filled up and emptied; turned read-only by an error, as
    /// `errors=remount-ro` does; then detached as the wrapper does when its
    /// disk is pulled (the data folder's path then leads to the empty mount point).
    #[test]
    fn full_read_only_pulled() {
        if !root() || !support::need(&["mkfs.ext4", "losetup", "mount", "umount"]) {
            return;
        }
        let serial = support::serial();
        let dir = TempDir::new("health-disk");
        let image = dir.sparse("disk.img", 64 << 20);
        run("mkfs.ext4", &["-q", "-F", "-m", "0", image.to_str().unwrap()]);
        let lo = support::Loop::attach(&serial, &image, Default::default());
        let mnt = dir.subdir("mnt");
        run("mount", &["-o", "errors=remount-ro", lo.as_str(), mnt.to_str().unwrap()]);
        let data = mnt.join("restic");
        std::fs::create_dir(&data).unwrap();
        let s = start(&data, &["--no-auth"]);
        assert_eq!(http(&s.addr, "POST", "/r/?create=true", &[], b"").status, 200);
        health_becomes(&s, (200, "ok"));
        let f = counted(&s, None);
        assert_eq!(f["disk"]["filesystem"], "ext4");
        assert_eq!(f["disk"]["devices"][0], lo.as_str());
        let blkid = Command::new("/usr/sbin/blkid").args(["-s", "UUID", "-o", "value", lo.as_str()]).output().unwrap();
        assert_eq!(f["disk"]["uuid"], String::from_utf8_lossy(&blkid.stdout).trim(), "the UUID blkid sees");
        assert_eq!(f["disk"]["mount_point"], mnt.to_str().unwrap());
        // Fill it up, and empty it.
        {
            use std::io::Write;
            let mut filler = std::fs::File::create(mnt.join("filler")).unwrap();
            let chunk = vec![1u8; 64 << 10];
            // ext4 reserves the blocks of delayed allocation at write(2): ENOSPC comes there.
            while filler.write_all(&chunk).is_ok() {}
            let _ = filler.sync_data();
        }
        health_becomes(&s, (503, "full"));
        assert_eq!(facts(&s, None)["server"]["health"], "full");
        std::fs::remove_file(mnt.join("filler")).unwrap();
        health_becomes(&s, (200, "ok"));
        // An error turns the file system read-only; the next upload finds out.
        let name = lo.as_str().trim_start_matches("/dev/");
        std::fs::write(format!("/sys/fs/ext4/{name}/trigger_fs_error"), "1").unwrap();
        assert_eq!(http(&s.addr, "POST", "/r/config", &[], b"x").status, 500);
        assert_eq!(health(&s), (503, "read-only\n".into()));
        // The wrapper's pulled-disk case: the mount is detached.
        run("umount", &["-l", mnt.to_str().unwrap()]);
        health_becomes(&s, (503, "no-disk"));
        drop(s);
        drop(lo);
    }
}

/// The disk facts of a btrfs over two devices: both, and its UUID.
#[test]
fn btrfs_over_two_devices() {
    if !root() || !support::need(&["mkfs.btrfs", "losetup", "mount", "umount"]) || !Path::new("/sys/fs/btrfs").exists()
    {
        return;
    }
    let serial = support::serial();
    let dir = TempDir::new("status-btrfs");
    let (a, b) = (dir.sparse("a.img", 160 << 20), dir.sparse("b.img", 160 << 20));
    let (la, lb) = (
        support::Loop::attach(&serial, &a, Default::default()),
        support::Loop::attach(&serial, &b, Default::default()),
    );
    run("mkfs.btrfs", &["-q", "-f", "-d", "single", "-m", "single", la.as_str(), lb.as_str()]);
    let mnt = dir.subdir("mnt");
    run(
        "mount",
        &["-o", &format!("device={},device={}", la.as_str(), lb.as_str()), la.as_str(), mnt.to_str().unwrap()],
    );
    let s = start(&mnt, &["--no-auth"]);
    let f = counted(&s, None);
    let disk = &f["disk"];
    assert_eq!(disk["filesystem"], "btrfs");
    let mut want = vec![la.as_str().to_string(), lb.as_str().to_string()];
    want.sort();
    assert_eq!(disk["devices"], serde_json::json!(want), "{disk}");
    let blkid = Command::new("/usr/sbin/blkid").args(["-s", "UUID", "-o", "value", lb.as_str()]).output().unwrap();
    assert_eq!(disk["uuid"], String::from_utf8_lossy(&blkid.stdout).trim());
    eprintln!("{disk}");
    drop(s);
    run("umount", &[mnt.to_str().unwrap()]);
    let _ = Command::new("btrfs").args(["device", "scan", "--forget", la.as_str(), lb.as_str()]).output();
}

mod page {
    use super::*;

    /// alice, bob and carol each with a repository, and one at the top; the
    /// users file has them and `metrics`.
    fn users_and_repos(dir: &TempDir) -> (PathBuf, PathBuf) {
        let data = dir.subdir("data");
        repo_on_disk(&data, "alice/laptop", Some(DAY / 2), 1);
        repo_on_disk(&data, "bob/pc", Some(3 * DAY), 2);
        repo_on_disk(&data, "carol", None, 3);
        repo_on_disk(&data, "", Some(DAY), 4);
        let users = dir.join("htpasswd");
        let lines: String =
            ["alice", "bob", "carol", "metrics", "dave"].iter().map(|u| htpasswd_line(u, "pw")).collect();
        std::fs::write(&users, lines).unwrap();
        (data, users)
    }

    #[test]
    fn who_sees_what() {
        let dir = TempDir::new("status-who");
        let (data, users) = users_and_repos(&dir);
        let file = users.to_str().unwrap();
        let s = start(
            &data,
            &["--htpasswd-file", file, "--private-repos", "--status-user", "carol", "--status-user", "dave"],
        );
        let all = ["/carol", "/bob/pc", "/", "/alice/laptop"];
        for path in ["/status", "/status.json"] {
            assert_eq!(get(&s, path, None).status, 401, "{path} without a login");
            assert_eq!(get(&s, path, Some(("alice", "nope"))).status, 401, "{path} with a wrong password");
            assert_eq!(get(&s, path, Some(("mallory", "pw"))).status, 401, "{path} for an unknown user");
        }
        for (user, want, everything) in [
            ("alice", &["/alice/laptop"][..], false),
            ("bob", &["/bob/pc"][..], false),
            ("carol", &all[..], true),
            ("dave", &all[..], true),
            ("metrics", &all[..], true),
        ] {
            let f = counted(&s, Some((user, "pw")));
            assert_eq!(paths(&f), want, "{user}");
            assert_eq!(f["all_repositories"], everything, "{user}");
            let page = get(&s, "/status", Some((user, "pw"))).text();
            for repo in all {
                let shown = page.contains(&format!("<span>{repo}</span>"));
                assert_eq!(shown, want.contains(&repo), "{user} and {repo} on the page");
            }
            assert_eq!(page.contains("only your own repositories"), !everything, "{user}");
        }
        // Without --private-repos every user reaches every repository, and sees them all.
        drop(s);
        let s = start(&data, &["--htpasswd-file", file]);
        assert_eq!(paths(&counted(&s, Some(("alice", "pw")))), all);
        drop(s);
        let s = start(&data, &["--no-auth", "--private-repos"]);
        assert_eq!(paths(&counted(&s, None)), all, "--no-auth: everyone sees everything");
    }

    #[test]
    fn facts_match_the_files_and_the_tools() {
        let dir = TempDir::new("status-facts");
        let data = dir.subdir("data");
        let old = repo_on_disk(&data, "old", Some(3 * DAY), 1);
        let fresh = repo_on_disk(&data, "u/fresh", Some(Duration::from_secs(3600)), 2);
        let none = repo_on_disk(&data, "none", None, 3);
        let nearly = repo_on_disk(&data, "u/nearly", Some(Duration::from_secs(60)), 4);
        let quotas = dir.join("quotas");
        std::fs::write(&quotas, format!("/u/nearly {}\n", nearly + 100)).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_krazybox"));
        cmd.args(["rest-server", "--path", data.to_str().unwrap(), "--listen", "127.0.0.1:0", "--no-auth"])
            .args(["--alert-stale", "36h", "--max-repo-size", "1000000", "--repo-quota-file", quotas.to_str().unwrap()])
            .env("KRAZYBOX_MOUNTED_AT", "1700000000");
        let s = Server::spawn(cmd);
        // An upload moves the size and the last day's bytes.
        let blob = noise(9, 3000);
        let r = http(&s.addr, "POST", &format!("/u/fresh/data/{}", sha256_hex(&blob)), &[], &blob);
        assert_eq!(r.status, 200);
        let f = counted(&s, None);
        assert_eq!(paths(&f), ["/none", "/old", "/u/nearly", "/u/fresh"], "worst first");
        let repo = |p: &str| f["repositories"].as_array().unwrap().iter().find(|r| r["path"] == p).unwrap().clone();
        let (o, fr, n, ne) = (repo("/old"), repo("/u/fresh"), repo("/none"), repo("/u/nearly"));
        assert_eq!(o["problems"], serde_json::json!(["stale"]));
        assert_eq!(n["problems"], serde_json::json!(["no-snapshot"]));
        assert_eq!(ne["problems"], serde_json::json!(["quota"]));
        assert_eq!(fr["problems"], serde_json::json!([]));
        assert_eq!((o["size_bytes"].as_u64(), n["size_bytes"].as_u64()), (Some(old), Some(none)));
        assert_eq!(fr["size_bytes"].as_u64(), Some(fresh + 3000));
        assert_eq!(fr["uploaded_24h_bytes"], 3000);
        assert_eq!(o["uploaded_24h_bytes"], 0, "files found at start were not uploaded");
        assert_eq!((o["snapshots"].as_u64(), n["snapshots"].as_u64()), (Some(1), Some(0)));
        let age = o["last_snapshot_age_seconds"].as_u64().unwrap();
        assert!((3 * 86400..3 * 86400 + 60).contains(&age), "{age}");
        assert_eq!(n["last_snapshot"], Value::Null);
        assert_eq!((ne["quota_bytes"].as_u64(), o["quota_bytes"].as_u64()), (Some(nearly + 100), Some(1_000_000)));
        assert_eq!(f["stale_after_seconds"], 36 * 3600);
        let server = &f["server"];
        assert_eq!(server["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!((server["tls"].as_bool(), server["append_only"].as_bool()), (Some(false), Some(false)));
        assert_eq!(server["authentication"], false);
        assert_eq!(server["health"], "ok");
        assert!(server["uptime_seconds"].as_u64().unwrap() < 60);
        let disk = &f["disk"];
        assert_eq!(disk["mounted_at"], 1_700_000_000);
        assert_eq!(disk["path"], data.to_str().unwrap());
        let st = nix::sys::statvfs::statvfs(&data).unwrap();
        assert_eq!(disk["total_bytes"].as_u64(), Some(st.blocks() * st.fragment_size()));
        // The file system as util-linux's findmnt sees it.
        if support::need(&["findmnt"]) {
            let out = Command::new("findmnt").args(["-n", "-o", "FSTYPE,TARGET", "-T"]).arg(&data).output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            let mut words = text.split_whitespace();
            assert_eq!(disk["filesystem"].as_str(), words.next());
            assert_eq!(disk["mount_point"].as_str(), words.next());
        }
        // Nothing names an object, or shows what a repository's password protects.
        let page = get(&s, "/status", None).text();
        let json = get(&s, "/status.json", None).text();
        for root in ["old", "u/fresh", "none", "u/nearly"] {
            for entry in walk(&data.join(root)) {
                let name = entry.file_name().unwrap().to_string_lossy().into_owned();
                if name.len() == 64 {
                    assert!(!page.contains(&name) && !json.contains(&name), "{name} shown");
                }
            }
        }
        assert!(page.contains("Stale: no snapshot for more than 36h"));
        assert!(page.contains("2 of 4 repositories have no snapshot from the last 36h"), "{page}");
        // HEAD, and what the page may load.
        let head = http(&s.addr, "HEAD", "/status", &[], b"");
        assert_eq!(head.status, 200);
        assert!(head.body.is_empty());
        let r = get(&s, "/status", None);
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        assert!(r.header("content-security-policy").unwrap().starts_with("default-src 'none'"));
        assert_eq!(http(&s.addr, "POST", "/status", &[], b"").status, 405);
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                out.extend(walk(&e.path()));
            } else {
                out.push(e.path());
            }
        }
        out
    }

    #[test]
    fn twenty_repositories_fit_in_50_kb() {
        let dir = TempDir::new("status-size");
        let data = dir.subdir("data");
        for i in 0..20u64 {
            let age = if i % 3 == 0 { None } else { Some(Duration::from_secs(i * 20000)) };
            repo_on_disk(&data, &format!("user-with-a-long-name-{i:02}/laptop-of-the-family-{i:02}"), age, i * 10);
        }
        let s = start(&data, &["--no-auth", "--max-repo-size", "500000000000"]);
        assert_eq!(paths(&counted(&s, None)).len(), 20);
        let page = get(&s, "/status", None).body;
        eprintln!("the page for 20 repositories: {} bytes", page.len());
        assert!(page.len() < 50_000, "{} bytes", page.len());
        let text = String::from_utf8(page).unwrap();
        assert!(!text.contains("<script") && !text.contains("src=") && !text.contains("href="), "self-contained");
        assert_eq!(text.matches("class=\"card").count(), 22, "the disk, the scrub and 20 repositories");
    }

    #[test]
    fn a_bad_duration_is_refused() {
        let dir = TempDir::new("status-flag");
        for bad in ["2", "2w", "1.5d", ""] {
            let out = Command::new(env!("CARGO_BIN_EXE_krazybox"))
                .args(["rest-server", "--path", dir.path().to_str().unwrap(), "--no-auth", "--alert-stale", bad])
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(1), "{bad:?}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("--alert-stale") && err.lines().count() == 1, "{bad:?}: {err}");
        }
    }
}

/// The page as a person sees it: Debian's chromium-headless-shell reads it,
/// and takes a phone-sized screenshot.
mod browser {
    use super::*;

    const CHROMIUM: &str = "chromium-headless-shell";

    fn chromium(profile: &Path, args: &[&str]) -> std::process::Output {
        Command::new(CHROMIUM)
            .args(["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run"])
            .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(args)
            .output()
            .unwrap()
    }

    /// The text of a DOM: tags dropped, entities of the page's own kind decoded, spaces squeezed.
    fn text(dom: &str) -> String {
        let mut out = String::new();
        let mut in_tag = false;
        let mut in_style = false;
        for (i, c) in dom.char_indices() {
            match c {
                '<' => {
                    in_tag = true;
                    let rest = &dom[i..];
                    if rest.starts_with("<style") {
                        in_style = true;
                    } else if rest.starts_with("</style") {
                        in_style = false;
                    }
                    out.push(' ');
                }
                '>' => in_tag = false,
                c if !in_tag && !in_style => out.push(c),
                _ => {}
            }
        }
        let out = out.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&");
        out.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn a_person_reads_the_stale_repository_first() {
        if !support::need(&[CHROMIUM]) {
            return;
        }
        let dir = TempDir::new("status-browser");
        let data = dir.subdir("data");
        repo_on_disk(&data, "alice/laptop", Some(3 * DAY + Duration::from_secs(4 * 3600 + 120)), 1);
        repo_on_disk(&data, "bob/desktop", Some(Duration::from_secs(5 * 3600)), 2);
        let carol = repo_on_disk(&data, "carol/phone", Some(Duration::from_secs(20 * 60)), 3);
        let quotas = dir.join("quotas");
        std::fs::write(&quotas, format!("/carol/phone {}\n", carol + carol / 20)).unwrap();
        let mounted = SystemTime::now() - 5 * DAY - Duration::from_secs(7200);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_krazybox"));
        cmd.args(["rest-server", "--path", data.to_str().unwrap(), "--listen", "127.0.0.1:0", "--no-auth"])
            .args(["--max-repo-size", "80000000000", "--repo-quota-file", quotas.to_str().unwrap()])
            .env("KRAZYBOX_MOUNTED_AT", mounted.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs().to_string());
        let s = Server::spawn(cmd);
        let blob = noise(7, 3 << 20);
        let r = http(&s.addr, "POST", &format!("/bob/desktop/data/{}", sha256_hex(&blob)), &[], &blob);
        assert_eq!(r.status, 200);
        let f = counted(&s, None);
        let url = format!("{}/status", s.url());
        let out = chromium(&dir.join("profile-dom"), &["--dump-dom", &url]);
        let dom = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && dom.contains("</html>"), "{}", String::from_utf8_lossy(&out.stderr));
        let text = text(&dom);
        eprintln!("{text}");
        // The stale one on top, with its age.
        let first = text.find("/alice/laptop").expect("alice's repository is shown");
        let (bob, carol) = (text.find("/bob/desktop").unwrap(), text.find("/carol/phone").unwrap());
        assert!(first < bob && first < carol, "{text}");
        let card = &text[first..bob.min(carol)];
        assert!(card.contains("STALE") || card.contains("stale"), "{card}");
        assert!(card.contains("Last snapshot 3 days 4 hours ago"), "{card}");
        assert!(text.contains("Mounted 5 days 2 hours ago"), "{text}");
        assert!(text.contains("3.00 MiB uploaded"), "{text}");
        assert!(text.contains("1 of 3 repositories has no snapshot from the last 2d"), "{text}");
        // The free space, as statvfs gave it to the server.
        let free = text.split(" free").next().unwrap().rsplit(' ').take(2).collect::<Vec<_>>();
        let (unit, number) = (free[0], free[1].parse::<f64>().unwrap());
        let scale = match unit {
            "GiB" => 1u64 << 30,
            "TiB" => 1 << 40,
            "MiB" => 1 << 20,
            u => panic!("unit {u}"),
        };
        let avail = f["disk"]["available_bytes"].as_u64().unwrap() as f64 / scale as f64;
        assert!(
            (number - avail).abs() <= avail * 0.01 + 0.01,
            "{number} {unit} free on the page, {avail} from statvfs"
        );
        // A phone-sized screenshot: a PNG of 412 × 915.
        let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("status-page.png");
        let _ = std::fs::remove_file(&shot);
        let out = chromium(
            &dir.join("profile-shot"),
            &[&format!("--screenshot={}", shot.display()), "--window-size=412,915", &url],
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let png = std::fs::read(&shot).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let dim = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
        assert_eq!((dim(16), dim(20)), (412, 915), "IHDR width and height");
        eprintln!("screenshot: {}", shot.display());
    }
}
