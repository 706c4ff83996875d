//! End to end with the real restic client (Debian's restic 0.14): init, backup,
//! snapshots, check --read-data, restore, forget --prune, over HTTP and TLS,
//! with --append-only and --private-repos.

use crate::rest_server_support::*;
use crate::restic_support::*;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn data_dir(dir: &TempDir) -> PathBuf {
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    data
}

#[test]
fn backup_check_restore_prune() {
    let dir = TempDir::new("restic");
    let data = data_dir(&dir);
    std::fs::write(data.join(".htpasswd"), htpasswd_line("alice", "s3cret")).unwrap();
    let s = Server::start(&["--path", data.to_str().unwrap(), "--listen", "127.0.0.1:0"]);
    let repo = format!("rest:http://alice:s3cret@{}/backups/", s.addr);
    let restic = Restic::new(dir.path(), "home");
    let src = dir.path().join("src");
    make_tree(&src, 100);

    restic.ok(&repo, &["init"]);
    restic.ok(&repo, &["backup", "-q", src.to_str().unwrap()]);
    std::fs::write(src.join("sub/new"), noise(7, 100_000)).unwrap();
    restic.ok(&repo, &["backup", "-q", src.to_str().unwrap()]);
    assert_eq!(restic.snapshot_count(&repo), 2);
    restic.ok(&repo, &["check", "--read-data"]);

    let target = dir.path().join("restore");
    restic.ok(&repo, &["restore", "latest", "--target", target.to_str().unwrap()]);
    same_tree(&src, &target.join(src.strip_prefix("/").unwrap()));

    let wrong = format!("rest:http://alice:guess@{}/backups/", s.addr);
    assert!(!restic.run(&wrong, &["snapshots"]).status.success(), "a wrong password is refused");

    restic.ok(&repo, &["forget", "--keep-last", "1", "--prune"]);
    assert_eq!(restic.snapshot_count(&repo), 1);
    restic.ok(&repo, &["check", "--read-data"]);
}

#[test]
fn append_only_refuses_prune_and_keeps_data() {
    let dir = TempDir::new("restic-append");
    let data = data_dir(&dir);
    let s = Server::start(&["--path", data.to_str().unwrap(), "--listen", "127.0.0.1:0", "--no-auth", "--append-only"]);
    let repo = format!("rest:http://{}/", s.addr);
    let restic = Restic::new(dir.path(), "home");
    let src = dir.path().join("src");
    make_tree(&src, 200);
    restic.ok(&repo, &["init"]);
    restic.ok(&repo, &["backup", "-q", src.to_str().unwrap()]);
    restic.ok(&repo, &["backup", "-q", "--force", src.to_str().unwrap()]);
    let out = restic.run(&repo, &["forget", "--keep-last", "1", "--prune"]);
    assert!(!out.status.success(), "prune must fail in append-only mode");
    assert_eq!(restic.snapshot_count(&repo), 2, "no snapshot was removed");
    restic.ok(&repo, &["check", "--read-data"]);
}

#[test]
fn private_repos_keep_users_apart() {
    let dir = TempDir::new("restic-private");
    let data = data_dir(&dir);
    let users = htpasswd_line("alice", "a-pw") + &htpasswd_line("bob", "b-pw");
    std::fs::write(data.join(".htpasswd"), users).unwrap();
    let s = Server::start(&["--path", data.to_str().unwrap(), "--listen", "127.0.0.1:0", "--private-repos"]);
    let restic = Restic::new(dir.path(), "home");
    let src = dir.path().join("src");
    make_tree(&src, 300);
    let alice = format!("rest:http://alice:a-pw@{}/alice/", s.addr);
    restic.ok(&alice, &["init"]);
    restic.ok(&alice, &["backup", "-q", src.to_str().unwrap()]);
    let bob_on_alice = format!("rest:http://bob:b-pw@{}/alice/", s.addr);
    assert!(!restic.run(&bob_on_alice, &["snapshots"]).status.success(), "bob reads alice's repository");
    assert!(!restic.run(&bob_on_alice, &["init"]).status.success());
    let bob = format!("rest:http://bob:b-pw@{}/bob/", s.addr);
    restic.ok(&bob, &["init"]);
    assert_eq!(restic.snapshot_count(&bob), 0);
    assert_eq!(restic.snapshot_count(&alice), 1);
}

/// A self-signed P-256 certificate for 127.0.0.1 named `cn`, and its key: `DIR/CN.pem`, `DIR/CN.key`.
fn self_signed(dir: &Path, cn: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join(format!("{cn}.pem")), dir.join(format!("{cn}.key")));
    let gen = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"])
        .args(["-subj", &format!("/CN={cn}"), "-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("running openssl");
    assert!(gen.status.success(), "{}", String::from_utf8_lossy(&gen.stderr));
    (cert, key)
}

/// What `openssl s_client ARGS` prints about a handshake with `addr`.
fn s_client(addr: &str, args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", addr])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running openssl s_client");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn restic_over_tls_with_a_self_signed_certificate() {
    let dir = TempDir::new("restic-tls");
    let data = data_dir(&dir);
    let (cert, key) = self_signed(dir.path(), "127.0.0.1");
    // A TLS server on the data folder, with `extra` flags.
    let tls_server = |extra: &[&str]| {
        let mut args = vec!["--path", data.to_str().unwrap(), "--listen", "127.0.0.1:0", "--no-auth", "--tls"];
        args.extend_from_slice(extra);
        args.extend(["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()]);
        Server::start(&args)
    };
    let s = tls_server(&[]);
    let repo = format!("rest:https://{}/tls/", s.addr);
    let mut restic = Restic::new(dir.path(), "home");
    // Without the certificate the client must refuse the server.
    assert!(!restic.run(&repo, &["init"]).status.success());
    restic.extra = vec!["--cacert".into(), cert.display().to_string()];
    let src = dir.path().join("src");
    make_tree(&src, 400);
    restic.ok(&repo, &["init"]);
    restic.ok(&repo, &["backup", "-q", src.to_str().unwrap()]);
    restic.ok(&repo, &["check", "--read-data"]);
    let target = dir.path().join("restore");
    restic.ok(&repo, &["restore", "latest", "--target", target.to_str().unwrap()]);
    same_tree(&src, &target.join(src.strip_prefix("/").unwrap()));

    // --tls-min-ver 1.3 refuses a TLS 1.2 client.
    drop(s);
    let s = tls_server(&["--tls-min-ver", "1.3"]);
    let probe = |flag: &str| {
        Command::new("openssl")
            .args(["s_client", "-connect", &s.addr, flag])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(probe("-tls1_3"));
    assert!(!probe("-tls1_2"));
}

#[test]
fn the_tls_certificate_is_reloaded_and_a_broken_pair_keeps_the_old() {
    let dir = TempDir::new("tls-reload");
    let data = data_dir(&dir);
    let pairs: Vec<(PathBuf, PathBuf)> =
        ["krazybox-first", "krazybox-second", "krazybox-third"].iter().map(|cn| self_signed(dir.path(), cn)).collect();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let install = |cert_from: &Path, key_from: &Path| {
        // Written beside and renamed, as certbot and friends replace them.
        for (from, to) in [(cert_from, &cert), (key_from, &key)] {
            let tmp = to.with_extension("new");
            std::fs::copy(from, &tmp).unwrap();
            std::fs::rename(&tmp, to).unwrap();
        }
    };
    install(&pairs[0].0, &pairs[0].1);
    let s = Server::start(&[
        "--path",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--no-auth",
        "--tls",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    let served = || s_client(&s.addr, &[]);
    assert!(served().contains("CN = krazybox-first") || served().contains("CN=krazybox-first"));
    let names = |text: &str, cn: &str| text.contains(&format!("CN = {cn}")) || text.contains(&format!("CN={cn}"));

    // A connection opened before the reload, kept alive across it.
    let mut open = Command::new("openssl")
        .args(["s_client", "-connect", &s.addr, "-quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (mut to_server, mut from_server) = (open.stdin.take().unwrap(), open.stdout.take().unwrap());
    to_server.write_all(b"GET /keys/ HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut seen = Vec::new();
    while !seen.ends_with(b"\r\n\r\n[]") {
        let mut b = [0u8; 1];
        assert_eq!(from_server.read(&mut b).unwrap(), 1, "{}", String::from_utf8_lossy(&seen));
        seen.push(b[0]);
    }

    install(&pairs[1].0, &pairs[1].1);
    s.hup();
    assert!(s.wait_log("reloaded TLS certificate", 1, Duration::from_secs(10)), "{}", s.log());
    assert!(names(&served(), "krazybox-second"), "new connections get the new certificate");
    to_server.write_all(b"GET /keys/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut rest = String::new();
    from_server.read_to_string(&mut rest).unwrap();
    assert!(rest.starts_with("HTTP/1.1 200"), "the open connection goes on: {rest}");
    let _ = open.wait();

    // A certificate with another one's key: logged, and the pair in force stays.
    install(&pairs[0].0, &pairs[1].1);
    s.hup();
    assert!(s.wait_log("the certificate read before stays in use", 1, Duration::from_secs(10)), "{}", s.log());
    assert!(s.log().contains("TLS certificate and key do not fit"), "{}", s.log());
    assert!(names(&served(), "krazybox-second"));

    // Without a signal: the files are looked at every 30 s.
    install(&pairs[2].0, &pairs[2].1);
    let start = std::time::Instant::now();
    while !names(&served(), "krazybox-third") {
        assert!(start.elapsed() < Duration::from_secs(45), "the changed files were not picked up");
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[test]
fn tls_prefers_chacha20_without_aes_instructions() {
    let dir = TempDir::new("tls-cipher");
    let (cert, key) = self_signed(dir.path(), "127.0.0.1");
    let server = |name: &str, no_aes: bool| {
        let data = dir.path().join(name);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_krazybox"));
        cmd.args(["rest-server", "--path", data.to_str().unwrap(), "--listen", "127.0.0.1:0", "--no-auth", "--tls"])
            .args(["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()]);
        if no_aes {
            cmd.env("KRAZYBOX_TLS_NO_AES", "1");
        }
        Server::spawn(cmd)
    };
    // restic (Go) offers AES-GCM first; so do these clients.
    let chosen = |s: &Server| {
        let v13 =
            s_client(&s.addr, &["-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256"]);
        let v12 =
            s_client(&s.addr, &["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305"]);
        let cipher =
            |t: &str| t.lines().find_map(|l| l.split("Cipher is ").nth(1)).unwrap_or_default().trim().to_string();
        (cipher(&v13), cipher(&v12))
    };
    let pi = server("pi", true);
    assert!(pi.log().contains("TLS: told the CPU has no AES instructions; ChaCha20-Poly1305 is preferred"));
    assert_eq!(chosen(&pi), ("TLS_CHACHA20_POLY1305_SHA256".into(), "ECDHE-ECDSA-CHACHA20-POLY1305".into()));
    // This machine decides by its own CPU.
    let aes = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap()
        .lines()
        .any(|l| (l.starts_with("flags") || l.starts_with("Features")) && l.split_whitespace().any(|w| w == "aes"));
    let here = server("here", false);
    if aes {
        assert!(here.log().contains("TLS: the CPU has AES instructions; the client's cipher order is kept"));
        assert_eq!(chosen(&here), ("TLS_AES_128_GCM_SHA256".into(), "ECDHE-ECDSA-AES128-GCM-SHA256".into()));
    } else {
        assert!(here.log().contains("TLS: the CPU has no AES instructions; ChaCha20-Poly1305 is preferred"));
        assert_eq!(chosen(&here), chosen(&pi));
    }
}
