//! The scrub: a byte flipped in a pack of a real restic repository is found
//! (path, repository, in /metrics, in the log, as a `corrupt` alert) in the
//! next pass, and `restic check --read-data` names the same pack; a file the
//! disk cannot read (btrfs's checksum of it fails: EIO) is `unreadable`, not
//! corrupt; a pass stopped by a restart goes on where it stopped.

use crate::rest_server_support::*;
use crate::support::{self, need, serial, Loop, LoopOpts};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime};

/// GET /metrics.
fn scrape(s: &Server) -> String {
    let r = http(&s.addr, "GET", "/metrics", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    r.text()
}

/// The value of the series `name{labels}` (or `name` alone).
fn value(text: &str, series: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Scrape until `done` says yes (at most `limit`), and return that scrape.
fn wait_metrics(s: &Server, limit: Duration, what: &str, done: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let text = scrape(s);
        if done(&text) {
            return text;
        }
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}\n{text}\n{}", s.stderr.lock().unwrap());
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs()
}

fn restic(home: &Path, repo: &str, args: &[&str]) -> Output {
    Command::new("restic")
        .args(["--no-cache", "-r", repo])
        .args(args)
        .env("RESTIC_PASSWORD", "correct horse")
        .env("HOME", home)
        .env_remove("RESTIC_REPOSITORY")
        .output()
        .expect("running restic")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The data objects (packs) of a repository, largest first.
fn packs(repo: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    for sub in std::fs::read_dir(repo.join("data")).unwrap().flatten() {
        for f in std::fs::read_dir(sub.path()).unwrap().flatten() {
            out.push((f.path(), f.metadata().unwrap().len()));
        }
    }
    out.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    out
}

#[test]
fn a_flipped_byte_is_found_in_the_next_pass_and_restic_names_the_same_pack() {
    if !need(&["restic"]) {
        return;
    }
    let dir = TempDir::new("scrub-flip");
    let data = dir.subdir("data");
    let home = dir.subdir("home");
    let src = dir.subdir("src");
    for i in 0..4u64 {
        std::fs::write(src.join(format!("file{i}")), noise(2 * i + 1, 600_000)).unwrap();
    }
    let receiver = Receiver::start();
    let url = receiver.url("/");
    let path = data.to_str().unwrap();
    let args = ["--path", path, "--listen", "127.0.0.1:0", "--no-auth", "--prometheus"];
    let server = Server::start(&[&args[..], &["--scrub-interval", "2s", "--alert-url", &url]].concat());
    let repo_url = format!("rest:{}/laptop/", server.url());
    for step in [&["init"][..], &["backup", src.to_str().unwrap()][..]] {
        let out = restic(&home, &repo_url, step);
        assert!(out.status.success(), "restic {step:?}: {}", text(&out));
    }
    // A pass that began after the backup finds the repository whole.
    let after_backup = now();
    let labels = "{repo=\"/laptop\"}";
    let corrupt = format!("rest_server_repo_scrub_corrupt_objects{labels}");
    let clean = wait_metrics(&server, Duration::from_secs(60), "a pass after the backup", |t| {
        value(t, "rest_server_scrub_last_pass_start_timestamp_seconds").is_some_and(|s| s > after_backup)
    });
    assert_eq!(value(&clean, &corrupt), Some(0), "{clean}");
    assert_eq!(value(&clean, &format!("rest_server_repo_scrub_unreadable_objects{labels}")), Some(0));

    // One byte flipped in the middle of the largest pack, behind the server's back.
    let (pack, size) = packs(&data.join("laptop"))[0].clone();
    let id = pack.file_name().unwrap().to_str().unwrap().to_string();
    let mut f = std::fs::File::options().read(true).write(true).open(&pack).unwrap();
    let mut byte = [0u8];
    f.seek(SeekFrom::Start(size / 2)).unwrap();
    f.read_exact(&mut byte).unwrap();
    f.seek(SeekFrom::Start(size / 2)).unwrap();
    f.write_all(&[byte[0] ^ 0x01]).unwrap();
    f.sync_all().unwrap();
    drop(f);
    let flipped = Instant::now();
    let found =
        wait_metrics(&server, Duration::from_secs(60), "the flipped byte found", |t| value(t, &corrupt) == Some(1));
    eprintln!(
        "the flipped byte in {} was found {:?} after the flip (passes every 2s)",
        pack.display(),
        flipped.elapsed()
    );
    assert_eq!(value(&found, &format!("rest_server_repo_scrub_unreadable_objects{labels}")), Some(0));
    let log = server.stderr.lock().unwrap().clone();
    let line = format!("scrub: {}: its SHA-256 is ", pack.display());
    assert!(log.contains(&line) && log.contains(", not its name: corrupt"), "{line}\n{log}");
    let m = receiver.wait_for("corrupt /laptop: 1 object not matching its name", Duration::from_secs(20));
    assert!(m.body.contains(&format!("/laptop/data/{}/{id}", &id[..2])), "{}", m.body);
    eprintln!("alert: {}", m.title());
    assert_eq!(std::fs::metadata(&pack).unwrap().len(), size, "the pack is left as it is");
    // The status page and its JSON say so, without naming the pack.
    let json: serde_json::Value =
        serde_json::from_slice(&http(&server.addr, "GET", "/status.json", &[], b"").body).unwrap();
    let repo = &json["repositories"][0];
    assert_eq!((repo["path"].as_str(), repo["scrub_corrupt_objects"].as_u64()), (Some("/laptop"), Some(1)), "{json}");
    assert_eq!(repo["problems"][0], "corrupt", "{json}");
    assert!(json["scrub"]["last_pass_ended"].as_u64().is_some() && json["scrub"]["interval_seconds"] == 2, "{json}");
    let page = http(&server.addr, "GET", "/status", &[], b"").text();
    assert!(page.contains("1 object corrupt") && page.contains(">corrupt<"), "{page}");
    assert!(!page.contains(&id[..16]) && !json.to_string().contains(&id[..16]), "no object's name is shown");

    let out = restic(&home, &repo_url, &["check", "--read-data"]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains(&id), "restic check names the pack {id}:\n{said}");
    let named: Vec<&str> = said.lines().filter(|l| l.contains(&id)).collect();
    eprintln!("restic check --read-data: {named:?}");
    // The finding stays until the pack is repaired or deleted, also in the next passes.
    let later = wait_metrics(&server, Duration::from_secs(60), "another pass", |t| {
        value(t, "rest_server_scrub_last_pass_start_timestamp_seconds").is_some_and(|s| s > now() - 1)
    });
    assert_eq!(value(&later, &corrupt), Some(1), "{later}");
    assert_eq!(receiver.count("corrupt"), 1, "told once");
}

/// A mount, undone when dropped.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).output();
    }
}

fn mount(dev: &Path, at: &Path) -> Mounted {
    support::run("mount", &["-t", "btrfs", dev.to_str().unwrap(), at.to_str().unwrap()]);
    Mounted(at.to_path_buf())
}

/// Where `needle` starts in the file at `path`.
fn find_in(path: &Path, needle: &[u8]) -> Option<u64> {
    let hay = std::fs::read(path).unwrap();
    hay.windows(needle.len()).position(|w| w == needle).map(|p| p as u64)
}

/// An I/O error as a failing disk gives it, without device-mapper (which the
/// kernels of the build machines lack): btrfs checksums every data block and
/// answers a read of one whose checksum fails with EIO. A byte of the file is
/// changed in the image, under the file system; reading the file then fails.
#[test]
fn a_file_the_disk_cannot_read_is_unreadable_not_corrupt() {
    if !nix::unistd::geteuid().is_root() || !need(&["mkfs.btrfs", "losetup"]) {
        eprintln!("skipped: needs root and mkfs.btrfs");
        return;
    }
    let _s = serial();
    let dir = TempDir::new("scrub-eio");
    let img = support::image(&dir, "disk.img", 128, &["mkfs.btrfs", "-q", "-f"]);
    let mnt = dir.subdir("mnt");
    let blobs: Vec<Vec<u8>> = (0..3).map(|i| noise(2 * i + 1, 256 * 1024)).collect();
    let rel: Vec<String> = blobs
        .iter()
        .map(|b| {
            let id = sha256_hex(b);
            format!("r/data/{}/{id}", &id[..2])
        })
        .collect();
    {
        let lo = Loop::attach(&_s, &img, LoopOpts::default());
        let _m = mount(lo.path(), &mnt);
        std::fs::create_dir_all(mnt.join("restic/r")).unwrap();
        std::fs::write(mnt.join("restic/r/config"), b"config").unwrap();
        for (b, r) in blobs.iter().zip(&rel) {
            std::fs::create_dir_all(mnt.join("restic").join(r).parent().unwrap()).unwrap();
            std::fs::write(mnt.join("restic").join(r), b).unwrap();
        }
    }
    // The second object's middle, changed on the "disk" itself.
    let at = find_in(&img, &blobs[1][100_000..100_064]).expect("the object's bytes in the image");
    let mut f = std::fs::File::options().write(true).open(&img).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(&[!blobs[1][100_000]]).unwrap();
    f.sync_all().unwrap();
    drop(f);
    let lo = Loop::attach(&_s, &img, LoopOpts::default());
    let mounted = mount(lo.path(), &mnt);
    let err = std::fs::read(mnt.join("restic").join(&rel[1])).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(5), "btrfs answers EIO: {err}");

    let receiver = Receiver::start();
    let url = receiver.url("/");
    let path = mnt.join("restic");
    let args = ["--path", path.to_str().unwrap(), "--listen", "127.0.0.1:0", "--no-auth", "--prometheus"];
    let mut server = Server::start(&[&args[..], &["--scrub-interval", "1h", "--alert-url", &url]].concat());
    let text = wait_metrics(&server, Duration::from_secs(60), "a pass over the failing disk", |t| {
        value(t, "rest_server_scrub_last_pass_end_timestamp_seconds").is_some()
    });
    assert_eq!(value(&text, "rest_server_repo_scrub_unreadable_objects{repo=\"/r\"}"), Some(1), "{text}");
    assert_eq!(value(&text, "rest_server_repo_scrub_corrupt_objects{repo=\"/r\"}"), Some(0), "{text}");
    let log = server.stderr.lock().unwrap().clone();
    let line = format!("scrub: {}: Input/output error (os error 5): unreadable", path.join(&rel[1]).display());
    assert!(log.contains(&line), "{line}\n{log}");
    let m = receiver.wait_for("unreadable /r: 1 object the disk cannot read", Duration::from_secs(20));
    assert!(m.body.contains(&rel[1][2..]), "{}", m.body);
    eprintln!("alert: {}", m.title());
    assert_eq!(receiver.count("corrupt"), 0);
    server.terminate(Duration::from_secs(10));
    drop(mounted);
    drop(lo);
}

#[test]
fn a_restart_goes_on_where_the_pass_stopped() {
    let dir = TempDir::new("scrub-resume");
    let data = dir.subdir("data");
    let (n, size) = (120, 64 * 1024);
    for i in 0..n {
        let blob = noise(2 * i + 1, size);
        let id = sha256_hex(&blob);
        let p = data.join(format!("r/data/{}/{id}", &id[..2]));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, blob).unwrap();
    }
    let total = n * size as u64;
    let path = data.to_str().unwrap();
    // About 8 s for the pass at 1 MB/s.
    let args = ["--path", path, "--listen", "127.0.0.1:0", "--no-auth", "--prometheus", "--scrub-rate", "1000000"];
    let mut first = Server::start(&args);
    wait_metrics(&first, Duration::from_secs(30), "a third of the pass", |t| {
        value(t, "rest_server_scrub_pass_read_bytes").is_some_and(|b| b > total / 3)
    });
    assert!(first.terminate(Duration::from_secs(10)).is_some_and(|s| s.success()));
    let state = std::fs::read_to_string(data.join(".rest-server.scrub")).unwrap();
    let position = state.lines().find_map(|l| l.strip_prefix("position ")).expect("a position").to_string();
    let done_before: u64 = state
        .lines()
        .find_map(|l| l.strip_prefix("current "))
        .and_then(|c| c.split(' ').nth(2)?.parse().ok())
        .expect("the pass in progress");
    assert!(done_before > total / 3 && done_before < total, "{state}");
    eprintln!("stopped at {position} after {done_before} of {total} bytes");

    let second = Server::start(&args);
    let text = wait_metrics(&second, Duration::from_secs(60), "the end of the pass", |t| {
        value(t, "rest_server_scrub_last_pass_end_timestamp_seconds").is_some()
    });
    let done = format!("scrub: pass 1 done: {n} objects, {total} bytes");
    let start = Instant::now();
    while !second.stderr.lock().unwrap().contains(&done) && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = second.stderr.lock().unwrap().clone();
    let (_, folder, name) = {
        let mut w = position.split(' ');
        (w.next().unwrap(), w.next().unwrap(), w.next().unwrap())
    };
    assert!(log.contains(&format!("scrub: pass 1 goes on after /r/{folder}/{name}")), "{log}");
    assert!(log.contains(&done), "{log}");
    let read = value(&text, "rest_server_scrub_read_bytes_total").unwrap();
    assert_eq!(read, total - done_before, "the second server read only what was left");
}
