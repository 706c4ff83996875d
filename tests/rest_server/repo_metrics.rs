//! Per-repository figures in /metrics and the per-repository quota, with the
//! real restic client (Debian's restic 0.14): each repository's size, snapshot
//! count and newest-snapshot time move with its own backups only, follow
//! `forget --prune`, match what is on disk, and come back the same after a
//! restart; the quota refuses a backup that would cross it and takes it after a prune.

use crate::rest_server_support::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant, UNIX_EPOCH};

const TYPES: [&str; 5] = ["data", "index", "keys", "locks", "snapshots"];

/// restic with its own HOME, no cache, a fixed password.
struct Restic {
    home: PathBuf,
}

impl Restic {
    fn new(dir: &TempDir) -> Restic {
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        Restic { home }
    }

    fn run(&self, repo: &str, args: &[&str]) -> Output {
        Command::new("restic")
            .args(["--no-cache", "-r", repo])
            .args(args)
            .env("RESTIC_PASSWORD", "correct horse")
            .env("HOME", &self.home)
            .env("XDG_CACHE_HOME", self.home.join("cache"))
            .env_remove("RESTIC_REPOSITORY")
            .output()
            .expect("running restic")
    }

    fn ok(&self, repo: &str, args: &[&str]) {
        let out = self.run(repo, args);
        assert!(
            out.status.success(),
            "restic {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// GET /metrics, optionally as a user.
fn scrape(s: &Server, auth: Option<&str>) -> String {
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", *a)).collect();
    let r = http(&s.addr, "GET", "/metrics", &headers, b"");
    assert_eq!(r.status, 200, "{}", r.text());
    r.text()
}

/// Scrape until the scan at start is over.
fn scrape_scanned(s: &Server, auth: Option<&str>) -> String {
    let start = Instant::now();
    loop {
        let text = scrape(s, auth);
        if text.contains("\nrest_server_repo_scan_complete 1\n") {
            return text;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "the scan did not finish: {text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The value of `name` for the repository whose labels are `labels`.
fn gauge(text: &str, name: &str, labels: &str) -> Option<String> {
    let prefix = format!("{name}{{{labels}}} ");
    text.lines().find_map(|l| l.strip_prefix(&prefix)).map(str::to_string)
}

fn size(text: &str, labels: &str) -> u64 {
    gauge(text, "rest_server_repo_size_bytes", labels)
        .unwrap_or_else(|| panic!("no size for {labels}:\n{text}"))
        .parse()
        .unwrap()
}

fn snapshots(text: &str, labels: &str) -> u64 {
    gauge(text, "rest_server_repo_snapshots", labels).unwrap().parse().unwrap()
}

fn last_snapshot(text: &str, labels: &str) -> Option<f64> {
    gauge(text, "rest_server_repo_last_snapshot_timestamp_seconds", labels).map(|v| v.parse().unwrap())
}

/// Every line about one repository.
fn lines_of(text: &str, labels: &str) -> Vec<String> {
    text.lines().filter(|l| l.contains(&format!("{{{labels}}}"))).map(str::to_string).collect()
}

/// What the repository holds on disk: the config and every object, with the newest snapshot's mtime.
fn on_disk(repo: &Path) -> (u64, usize, Option<f64>) {
    let mut files = Vec::new();
    if let Ok(m) = std::fs::metadata(repo.join("config")) {
        files.push((m, false));
    }
    let mut stack: Vec<(PathBuf, bool)> = TYPES.iter().map(|t| (repo.join(t), *t == "snapshots")).collect();
    while let Some((dir, snap)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let m = e.metadata().unwrap();
            if m.is_dir() {
                stack.push((e.path(), snap));
            } else if !e.file_name().to_string_lossy().starts_with('.') {
                files.push((m, snap));
            }
        }
    }
    let bytes = files.iter().map(|(m, _)| m.len()).sum();
    let snaps: Vec<f64> = files
        .iter()
        .filter(|(_, s)| *s)
        .map(|(m, _)| m.modified().unwrap().duration_since(UNIX_EPOCH).unwrap().as_secs_f64())
        .collect();
    (bytes, snaps.len(), snaps.iter().copied().reduce(f64::max))
}

/// The figures /metrics shows for a repository equal what is on disk.
fn matches_disk(text: &str, labels: &str, repo: &Path) {
    let (bytes, n, newest) = on_disk(repo);
    assert_eq!(size(text, labels), bytes, "{labels}");
    assert_eq!(snapshots(text, labels), n as u64, "{labels}");
    assert_eq!(last_snapshot(text, labels), newest, "{labels}");
}

fn data_dir(dir: &TempDir) -> PathBuf {
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    data
}

#[test]
fn backups_move_their_own_repository_only_and_a_restart_keeps_the_figures() {
    let dir = TempDir::new("repo-metrics");
    let data = data_dir(&dir);
    let users = htpasswd_line("alice", "a-pw") + &htpasswd_line("bob", "b-pw") + &htpasswd_line("metrics", "m-pw");
    std::fs::write(data.join(".htpasswd"), users).unwrap();
    let args = ["--path", data.to_str().unwrap(), "--listen", "127.0.0.1:0", "--private-repos", "--prometheus"];
    let mut s = Server::start(&args);
    let auth = basic("metrics", "m-pw");
    let auth = Some(auth.as_str());
    let restic = Restic::new(&dir);
    let (a, b) = ("repo=\"/alice\",user=\"alice\"", "repo=\"/bob/laptop\",user=\"bob\"");
    let alice = format!("rest:http://alice:a-pw@{}/alice/", s.addr);
    let bob = format!("rest:http://bob:b-pw@{}/bob/laptop/", s.addr);
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("one"), noise(1, 2 << 20)).unwrap();

    restic.ok(&alice, &["init"]);
    restic.ok(&bob, &["init"]);
    let inited = scrape_scanned(&s, auth);
    assert_eq!(snapshots(&inited, a), 0);
    assert_eq!(last_snapshot(&inited, a), None, "no snapshot, no time");
    matches_disk(&inited, a, &data.join("alice"));
    matches_disk(&inited, b, &data.join("bob/laptop"));

    restic.ok(&alice, &["backup", "-q", src.to_str().unwrap()]);
    let one = scrape(&s, auth);
    assert!(size(&one, a) > size(&inited, a) + (2 << 20), "alice's size grew by the backup");
    assert_eq!(snapshots(&one, a), 1);
    assert!(last_snapshot(&one, a).is_some());
    assert_eq!(lines_of(&one, b), lines_of(&inited, b), "bob's figures did not move");
    matches_disk(&one, a, &data.join("alice"));

    std::thread::sleep(Duration::from_millis(20));
    restic.ok(&bob, &["backup", "-q", src.to_str().unwrap()]);
    let two = scrape(&s, auth);
    assert_eq!(lines_of(&two, a), lines_of(&one, a), "alice's figures did not move");
    assert!(last_snapshot(&two, b).unwrap() > last_snapshot(&one, a).unwrap());
    matches_disk(&two, b, &data.join("bob/laptop"));

    // A second backup of other data, then forget the first and prune: the size falls.
    std::fs::write(src.join("one"), noise(2, 1 << 20)).unwrap();
    restic.ok(&alice, &["backup", "-q", src.to_str().unwrap()]);
    let three = scrape(&s, auth);
    assert_eq!(snapshots(&three, a), 2);
    assert!(last_snapshot(&three, a).unwrap() > last_snapshot(&two, a).unwrap());
    restic.ok(&alice, &["forget", "--keep-last", "1", "--prune"]);
    let pruned = scrape(&s, auth);
    assert_eq!(snapshots(&pruned, a), 1);
    assert!(size(&pruned, a) + (2 << 20) <= size(&three, a), "prune gave the first backup's bytes back");
    assert_eq!(last_snapshot(&pruned, a), last_snapshot(&three, a), "the newest snapshot was kept");
    matches_disk(&pruned, a, &data.join("alice"));
    matches_disk(&pruned, b, &data.join("bob/laptop"));

    // A restart counts the same figures from the disk.
    s.terminate(Duration::from_secs(10)).expect("the server stops");
    let s = Server::start(&args);
    let again = scrape_scanned(&s, auth);
    assert_eq!(lines_of(&again, a), lines_of(&pruned, a));
    assert_eq!(lines_of(&again, b), lines_of(&pruned, b));

    // Only the user `metrics` may read them with --private-repos.
    let r = http(&s.addr, "GET", "/metrics", &[("Authorization", &basic("alice", "a-pw"))], b"");
    assert_eq!(r.status, 401);
}

#[test]
fn the_repository_quota_refuses_a_backup_that_would_cross_it_and_takes_it_after_a_prune() {
    let dir = TempDir::new("repo-quota");
    let data = data_dir(&dir);
    let quotas = dir.path().join("quotas");
    std::fs::write(&quotas, "# no limit yet\n/q 0\n").unwrap();
    let args = [
        "--path",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--no-auth",
        "--prometheus",
        "--max-repo-size",
        "1000000000",
        "--repo-quota-file",
        quotas.to_str().unwrap(),
    ];
    let s = Server::start(&args);
    let restic = Restic::new(&dir);
    let q = format!("rest:http://{}/q/", s.addr);
    let other = format!("rest:http://{}/other/", s.addr);
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("f"), noise(20, 3 << 20)).unwrap();
    restic.ok(&q, &["init"]);
    restic.ok(&q, &["backup", "-q", src.to_str().unwrap()]);
    restic.ok(&other, &["init"]);
    let first = size(&scrape_scanned(&s, None), "repo=\"/q\"");
    assert!(scrape(&s, None).contains("rest_server_repo_quota_bytes{repo=\"/other\"} 1000000000\n"));

    // Room for the first backup and a megabyte more: a second 3 MiB of new data does not fit.
    let limit = first + (1 << 20);
    std::fs::write(&quotas, format!("/q {limit}\n")).unwrap();
    let _ = Command::new("kill").args(["-HUP", &s.pid().to_string()]).status();
    let start = Instant::now();
    while !scrape(&s, None).contains(&format!("rest_server_repo_quota_bytes{{repo=\"/q\"}} {limit}\n")) {
        assert!(start.elapsed() < Duration::from_secs(10), "SIGHUP did not reload {}", quotas.display());
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::write(src.join("f"), noise(40, 3 << 20)).unwrap();
    let out = restic.run(&q, &["backup", "-q", src.to_str().unwrap()]);
    assert!(!out.status.success(), "the backup crossing the quota must fail");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("507"), "restic saw 507: {err}");
    let text = scrape(&s, None);
    assert!(size(&text, "repo=\"/q\"") <= limit, "the repository stayed within its limit");
    assert_eq!(snapshots(&text, "repo=\"/q\""), 1);
    matches_disk(&text, "repo=\"/q\"", &data.join("q"));
    assert!(s.stderr.lock().unwrap().contains("go over the repository's limit"));

    // Forget the first backup and prune (also the refused backup's leftovers): now it fits.
    restic.ok(&q, &["forget", "latest", "--prune"]);
    let text = scrape(&s, None);
    assert_eq!(snapshots(&text, "repo=\"/q\""), 0);
    assert!(size(&text, "repo=\"/q\"") < first / 2, "prune gave the space back");
    matches_disk(&text, "repo=\"/q\"", &data.join("q"));
    restic.ok(&q, &["backup", "-q", src.to_str().unwrap()]);
    let text = scrape(&s, None);
    assert_eq!(snapshots(&text, "repo=\"/q\""), 1);
    assert!(size(&text, "repo=\"/q\"") <= limit);
    restic.ok(&q, &["check", "--read-data"]);
}

#[test]
fn a_bad_quota_file_or_size_stops_the_start() {
    let dir = TempDir::new("repo-quota-bad");
    let data = data_dir(&dir);
    let quotas = dir.path().join("quotas");
    std::fs::write(&quotas, "alice 100\nbob 12G\n").unwrap();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_krazybox"))
            .args(["rest-server", "--path", data.to_str().unwrap(), "--listen", "127.0.0.1:0", "--no-auth"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&["--repo-quota-file", quotas.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2") && err.contains("\"12G\" is neither a number of bytes, a DURATION"), "{err}");
    let out = run(&["--repo-quota-file", dir.path().join("missing").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
    let out = run(&["--max-repo-size", "ten"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid argument \"ten\" for \"--max-repo-size\" flag"));
}

#[test]
fn start_up_does_not_wait_for_the_count_and_a_scrape_is_quick() {
    let dir = TempDir::new("repo-scan");
    let data = data_dir(&dir);
    // A repository made by hand: a config, 4096 data objects of 100 bytes, 3 snapshots.
    let repo = data.join("big");
    for t in TYPES {
        std::fs::create_dir_all(repo.join(t)).unwrap();
    }
    std::fs::write(repo.join("config"), b"c").unwrap();
    for i in 0..4096u32 {
        let id = sha256_hex(&i.to_le_bytes());
        let sub = repo.join("data").join(&id[..2]);
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(&id), [7u8; 100]).unwrap();
    }
    for i in 0..3u32 {
        std::fs::write(repo.join("snapshots").join(sha256_hex(&(i + 9000).to_le_bytes())), b"ss").unwrap();
    }
    let started = Instant::now();
    let s = Server::start(&["--path", data.to_str().unwrap(), "--listen", "127.0.0.1:0", "--no-auth", "--prometheus"]);
    let r = http(&s.addr, "GET", "/big/config", &[], b"");
    let first_answer = started.elapsed();
    assert_eq!(r.status, 200);
    // Generous: a debug build on a busy machine; scripts/bench/repo-metrics.sh measures the real figure.
    assert!(first_answer < Duration::from_secs(5), "first answer after {first_answer:?}");
    let text = scrape_scanned(&s, None);
    assert_eq!(size(&text, "repo=\"/big\""), 1 + 4096 * 100 + 3 * 2);
    assert_eq!(snapshots(&text, "repo=\"/big\""), 3);
    let t = Instant::now();
    for _ in 0..20 {
        scrape(&s, None);
    }
    let per = t.elapsed() / 20;
    assert!(per < Duration::from_millis(500), "a scrape took {per:?}");
    // Outside changes are seen after a restart only; what the server did itself at once.
    let id = sha256_hex(b"new object");
    let r = http(&s.addr, "POST", &format!("/big/data/{id}"), &[], b"new object");
    assert_eq!(r.status, 200);
    assert_eq!(size(&scrape(&s, None), "repo=\"/big\""), 1 + 4096 * 100 + 3 * 2 + 10);
    let r = http(&s.addr, "DELETE", &format!("/big/data/{id}"), &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(size(&scrape(&s, None), "repo=\"/big\""), 1 + 4096 * 100 + 3 * 2);
}

#[test]
fn uploads_and_deletes_during_the_count_are_neither_lost_nor_counted_twice() {
    let dir = TempDir::new("repo-race");
    let data = data_dir(&dir);
    let repo = data.join("r");
    for t in TYPES {
        std::fs::create_dir_all(repo.join(t)).unwrap();
    }
    // Objects named by their content, so uploads verify; some are deleted while the count runs.
    let body = |i: u32| format!("object {i}").into_bytes();
    for i in 0..30_000u32 {
        let id = sha256_hex(&body(i));
        let sub = repo.join("data").join(&id[..2]);
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(&id), body(i)).unwrap();
    }
    let s = Server::start(&["--path", data.to_str().unwrap(), "--listen", "127.0.0.1:0", "--no-auth", "--prometheus"]);
    let counted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..4u32)
        .map(|w| {
            let (addr, counted) = (s.addr.clone(), counted.clone());
            std::thread::spawn(move || {
                let mut changes = 0;
                for i in (w..4000).step_by(4) {
                    if counted.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let (new, old) = (body(100_000 + i), body(i * 7));
                    let r = http(&addr, "POST", &format!("/r/data/{}", sha256_hex(&new)), &[], &new);
                    assert_eq!(r.status, 200);
                    let r = http(&addr, "DELETE", &format!("/r/data/{}", sha256_hex(&old)), &[], b"");
                    assert_eq!(r.status, 200);
                    changes += 2;
                }
                changes
            })
        })
        .collect();
    let text = scrape_scanned(&s, None);
    counted.store(true, std::sync::atomic::Ordering::Relaxed);
    let changes: u32 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let text = if changes > 0 { scrape(&s, None) } else { text };
    eprintln!("{changes} changes while counting");
    matches_disk(&text, "repo=\"/r\"", &repo);
}

#[test]
fn both_quotas_apply_together_and_deletions_give_the_space_back() {
    let dir = TempDir::new("repo-quota-both");
    let data = data_dir(&dir);
    let s = Server::start(&[
        "--path",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--no-auth",
        "--prometheus",
        "--max-size",
        "3000",
        "--max-repo-size",
        "2000",
    ]);
    for repo in ["/a/", "/b/"] {
        assert_eq!(http(&s.addr, "POST", &format!("{repo}?create=true"), &[], b"").status, 200);
    }
    let post = |repo: &str, body: &[u8]| http(&s.addr, "POST", &format!("{repo}data/{}", sha256_hex(body)), &[], body);
    let (a1, a2, b1, b2) = (noise(1, 1500), noise(3, 600), noise(5, 1000), noise(7, 600));
    scrape_scanned(&s, None);
    assert_eq!(post("/a/", &a1).status, 200);
    let r = post("/a/", &a2);
    assert_eq!((r.status, r.text().as_str()), (507, "Insufficient Storage\n"), "over /a's 2000 bytes");
    assert_eq!(post("/b/", &b1).status, 200);
    assert_eq!(post("/b/", &b2).status, 507, "over --max-size, though /b has room");
    assert_eq!(http(&s.addr, "DELETE", &format!("/a/data/{}", sha256_hex(&a1)), &[], b"").status, 200);
    assert_eq!(post("/b/", &b2).status, 200, "the deletion gave the space back");
    assert_eq!(post("/a/", &a2).status, 200);
    let text = scrape(&s, None);
    assert_eq!(size(&text, "repo=\"/a\""), 600);
    assert_eq!(size(&text, "repo=\"/b\""), 1600);
    assert!(text.contains("rest_server_repo_quota_bytes{repo=\"/a\"} 2000\n"));
}
