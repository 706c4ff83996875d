//! End to end with the real restic client (Debian's restic 0.14): init, backup,
//! snapshots, check --read-data, restore, forget --prune, over HTTP and TLS,
//! with --append-only and --private-repos.
#![cfg(feature = "rest-server")]

mod rest_server_support;
mod support;

use rest_server_support::restic::*;
use rest_server_support::*;
use std::path::PathBuf;
use std::process::Command;

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

#[test]
fn restic_over_tls_with_a_self_signed_certificate() {
    let dir = TempDir::new("restic-tls");
    let data = data_dir(&dir);
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let gen = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"])
        .args(["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("running openssl");
    assert!(gen.status.success(), "{}", String::from_utf8_lossy(&gen.stderr));
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
