//! Pushed alerts (`--alert-url`) seen by a receiver on 127.0.0.1: the kinds
//! the server itself tells (stale, also by the rules file's threshold, fresh,
//! quota, full, unclean-stop; the
//! scrub's corrupt and unreadable are in scrub.rs, the wrapper's
//! disk-pulled in tests/wrapper/applet.rs), one message per change also across
//! a restart, the retry after the receiver was down (and no secret of the URL
//! in the log), and a hung receiver that never slows an upload.

use crate::rest_server_support::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

/// Longer than two rounds of the server's checks (every 5 s).
const TWO_CHECKS: Duration = Duration::from_secs(11);

fn put(root: &Path, rel: &str, data: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

/// An object's path in a repository: `REPO/TYPE/ID` (data objects in `data/xx/`).
fn object(repo: &str, kind: &str, data: &[u8]) -> String {
    let id = sha256_hex(data);
    if kind == "data" {
        format!("{repo}/data/{}/{id}", &id[..2])
    } else {
        format!("{repo}/{kind}/{id}")
    }
}

/// A temporary upload an earlier server left behind: the start sweeps it.
fn leftover(root: &Path) {
    put(root, &format!("r/data/aa/.{}.rest-server-temp-1-2", "a".repeat(64)), b"half an upload");
}

fn start(data: &Path, url: &str, more: &[&str]) -> Server {
    let mut args = vec!["--path", data.to_str().unwrap(), "--listen", "127.0.0.1:0", "--no-auth"];
    args.extend(["--alert-url", url, "--scrub-interval", "off"]);
    args.extend(more);
    Server::start(&args)
}

#[test]
fn every_kind_the_server_tells_once_per_change_also_across_a_restart() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root (a small tmpfs for the full disk)");
        return;
    }
    let dir = TempDir::new("alerts");
    let data = dir.subdir("data");
    let mounted = Command::new("mount").args(["-t", "tmpfs", "-o", "size=16m", "krazybox-test"]).arg(&data).status();
    assert!(mounted.unwrap().success(), "mounting a tmpfs");
    // alice's newest snapshot is 3 days old (stale after the default 2d); bob
    // holds 95% of the 100000 bytes every repository may hold; the disk is
    // over 90% full; an interrupted upload waits to be swept.
    put(&data, "alice/config", b"config");
    let snap = object("alice", "snapshots", b"old snapshot");
    put(&data, &snap, b"old snapshot");
    let three_days_ago = SystemTime::now() - Duration::from_secs(3 * 86400);
    std::fs::File::options().write(true).open(data.join(&snap)).unwrap().set_modified(three_days_ago).unwrap();
    put(&data, "bob/config", b"config");
    let pack = noise(1, 94_994);
    put(&data, &object("bob", "data", &pack), &pack);
    put(&data, ".filler", &vec![0u8; 15_500_000]);
    leftover(&data);
    // carol's snapshot is 3 hours old, and the rules file makes her stale after 2h.
    put(&data, "carol/config", b"config");
    let snap = object("carol", "snapshots", b"recent snapshot");
    put(&data, &snap, b"recent snapshot");
    let three_hours_ago = SystemTime::now() - Duration::from_secs(3 * 3600);
    std::fs::File::options().write(true).open(data.join(&snap)).unwrap().set_modified(three_hours_ago).unwrap();
    let rules = dir.join("rules");
    std::fs::write(&rules, "carol 2h\n").unwrap();
    let receiver = Receiver::start();
    let url = receiver.url("/krazybox");
    let flags = ["--max-repo-size", "100000", "--repo-rules", rules.to_str().unwrap()];
    let mut server = start(&data, &url, &flags);

    let limit = Duration::from_secs(30);
    let subject = data.display().to_string();
    let m = receiver.wait_for(&format!("unclean-stop {subject}: 1 interrupted upload removed"), limit);
    assert_eq!(m.target, "/krazybox");
    assert_eq!(m.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(m.header("title"), Some(m.title()), "ntfy's title header");
    assert!(m.body.contains("\n\n-- krazybox rest-server"), "{}", m.body);
    let m = receiver.wait_for("stale /alice: no snapshot for 3d", limit);
    assert!(m.body.contains("a repository without one for 2d is stale"), "{}", m.body);
    receiver.wait_for("quota /bob: 95% of its 100.0 kB quota used", limit);
    let m = receiver.wait_for("stale /carol: no snapshot for 3h", limit);
    assert!(m.body.contains("a repository without one for 2h is stale"), "{}", m.body);
    let json = http(&server.addr, "GET", "/status.json", &[], b"").text();
    assert!(json.contains("\"path\":\"/carol\",") && json.contains("\"stale_after_seconds\":7200"), "{json}");
    let m = receiver.wait_for(&format!("full {subject}: the disk is 9"), limit);
    eprintln!("{}", m.title());

    // A new snapshot: fresh again.
    let new = b"new snapshot";
    let r = http(&server.addr, "POST", &format!("/{}", object("alice", "snapshots", new)), &[], new);
    assert_eq!(r.status, 200);
    receiver.wait_for("fresh /alice: a new snapshot", limit);

    // Nothing is told twice, however often the checks run.
    std::thread::sleep(TWO_CHECKS);
    let told = receiver.messages();
    let titles: Vec<&str> = told.iter().map(|m| m.title()).collect();
    for kind in ["unclean-stop", "stale /alice", "stale /carol", "quota /bob", "full", "fresh /alice"] {
        assert_eq!(receiver.count(kind), 1, "{kind} in {titles:?}");
    }
    assert_eq!(told.len(), 6, "{titles:?}");
    for m in &told {
        eprintln!("received: {}", m.title());
    }

    // Nor after a restart: the problems in force were written down.
    assert!(server.terminate(Duration::from_secs(10)).is_some_and(|s| s.success()));
    assert!(data.join(".rest-server.alerts").exists());
    let _server = start(&data, &url, &flags);
    std::thread::sleep(TWO_CHECKS);
    let titles: Vec<String> = receiver.messages().iter().map(|m| m.title().to_string()).collect();
    assert_eq!(titles.len(), 6, "{titles:?}");
}

#[test]
fn a_receiver_that_was_down_gets_the_message_and_the_log_keeps_the_urls_secrets() {
    let dir = TempDir::new("alerts-retry");
    let data = dir.subdir("data");
    leftover(&data);
    let port = free_port();
    let url = format!("http://someone:s3cret@127.0.0.1:{port}/hidden-topic?auth=t0ken");
    let server = start(&data, &url, &[]);
    std::thread::sleep(Duration::from_millis(2500));
    let receiver = Receiver::on(&format!("127.0.0.1:{port}"), false);
    let up = Instant::now();
    let m = receiver.wait_for("unclean-stop", Duration::from_secs(30));
    eprintln!("delivered {:?} after the receiver came up", up.elapsed());
    assert_eq!(m.target, "/hidden-topic?auth=t0ken");
    assert_eq!(m.header("authorization"), Some(basic("someone", "s3cret").as_str()));
    std::thread::sleep(Duration::from_millis(200));
    let log = server.stderr.lock().unwrap().clone();
    assert!(log.contains(&format!("alert to http://127.0.0.1:{port}/…: connect: ")), "{log}");
    assert!(log.contains("delivered after"), "{log}");
    for secret in ["s3cret", "t0ken", "hidden-topic", "someone"] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
    assert_eq!(receiver.count("unclean-stop"), 1);
}

#[test]
fn a_hung_receiver_never_slows_an_upload() {
    let dir = TempDir::new("alerts-hung");
    let data = dir.subdir("data");
    leftover(&data);
    let receiver = Receiver::on("127.0.0.1:0", true);
    let server = start(&data, &receiver.url("/"), &[]);
    let start = Instant::now();
    while receiver.connections.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        assert!(start.elapsed() < Duration::from_secs(10), "the server never posted");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The alert now waits for an answer that never comes (for 20 s); uploads go on.
    assert_eq!(http(&server.addr, "POST", "/r/?create=true", &[], b"").status, 200);
    let mut slowest = Duration::ZERO;
    for i in 0..20 {
        let blob = noise(2 * i + 1, 1 << 20);
        let t = Instant::now();
        let r = http(&server.addr, "POST", &format!("/r/data/{}", sha256_hex(&blob)), &[], &blob);
        assert_eq!(r.status, 200);
        slowest = slowest.max(t.elapsed());
    }
    eprintln!("slowest of 20 uploads of 1 MiB while the receiver hangs: {slowest:?}");
    assert!(slowest < Duration::from_secs(2), "{slowest:?}");
    assert!(start.elapsed() < Duration::from_secs(20), "the uploads ran while the post was still waiting");
}

#[test]
fn an_https_receiver_is_checked_against_the_ca_bundle() {
    let dir = TempDir::new("alerts-https");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let gen = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"])
        .args(["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("running openssl");
    assert!(gen.status.success(), "{}", String::from_utf8_lossy(&gen.stderr));
    // The receiver: a rest-server over TLS that stores what is POSTed to /inbox/config.
    let inbox = dir.subdir("receiver");
    std::fs::create_dir_all(inbox.join("trusted")).unwrap();
    std::fs::create_dir_all(inbox.join("untrusted")).unwrap();
    let (c, k) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let args = ["--path", inbox.to_str().unwrap(), "--listen", "127.0.0.1:0", "--no-auth", "--tls"];
    let receiver = Server::start(&[&args[..], &["--tls-cert", c, "--tls-key", k, "--scrub-interval", "off"]].concat());
    let sender = |name: &str, ca: Option<&Path>| {
        let data = dir.subdir(name);
        leftover(&data);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_krazybox"));
        cmd.args(["rest-server", "--path", data.to_str().unwrap(), "--listen", "127.0.0.1:0", "--no-auth"])
            .args(["--scrub-interval", "off", "--alert-url", &format!("https://{}/{name}/config", receiver.addr)])
            .env("SSL_CERT_FILE", ca.unwrap_or(Path::new("/nonexistent")));
        Server::spawn(cmd)
    };
    let trusting = sender("trusted", Some(&cert));
    let doubting = sender("untrusted", None);
    let got = inbox.join("trusted/config");
    let start = Instant::now();
    while !got.exists() {
        assert!(start.elapsed() < Duration::from_secs(20), "{}", trusting.stderr.lock().unwrap());
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    let text = std::fs::read_to_string(&got).unwrap();
    assert!(text.starts_with("unclean-stop "), "{text}");
    // Without the certificate in its bundle, the other one refuses the receiver.
    std::thread::sleep(Duration::from_secs(2));
    assert!(!inbox.join("untrusted/config").exists());
    let log = doubting.stderr.lock().unwrap().clone();
    assert!(log.contains("TLS: invalid peer certificate"), "{log}");
}
