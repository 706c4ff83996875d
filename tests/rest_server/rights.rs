//! Who may do what, with the real restic client (Debian's restic 0.14): rights
//! per user and repository from `--repo-rules`, their reload on SIGHUP, logins
//! named by a trusted proxy, and the offsite copy to a second server.
//!
//! restic retries a refused write for about a minute before it gives up, so
//! each refusal it meets costs that; the tests run side by side.

use crate::rest_server_support::*;
use crate::restic_support::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn data_dir(dir: &TempDir, name: &str) -> PathBuf {
    let data = dir.path().join(name);
    std::fs::create_dir_all(&data).unwrap();
    data
}

/// An htpasswd file with `USER:USER-pw` for each user.
fn users(dir: &TempDir, names: &[&str]) -> PathBuf {
    let path = dir.path().join("htpasswd");
    let text: String = names.iter().map(|u| htpasswd_line(u, &format!("{u}-pw"))).collect();
    std::fs::write(&path, text).unwrap();
    path
}

fn write(path: &Path, text: &str) -> String {
    std::fs::write(path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// A server on loopback over `data`, users from `htpasswd`, rules from `rules`, and `extra` flags.
fn server(data: &Path, htpasswd: &Path, rules: &str, extra: &[&str]) -> Server {
    let mut args = vec!["--path", data.to_str().unwrap(), "--listen", "127.0.0.1:0"];
    args.extend(["--htpasswd-file", htpasswd.to_str().unwrap(), "--repo-rules", rules]);
    args.extend_from_slice(extra);
    Server::start(&args)
}

fn repo(s: &Server, user: &str, path: &str) -> String {
    format!("rest:http://{user}:{user}-pw@{}{path}", s.addr)
}

/// One raw request as `user`: the status.
fn status(s: &Server, user: &str, method: &str, path: &str, body: &[u8]) -> u16 {
    http(&s.addr, method, path, &[("Authorization", &basic(user, &format!("{user}-pw")))], body).status
}

/// Retry `f` while restic's own locks refuse it (another client holds the repository).
fn until_unlocked<T>(what: &str, mut f: impl FnMut() -> Result<T, String>) -> T {
    for _ in 0..40 {
        match f() {
            Ok(v) => return v,
            Err(e) if e.contains("locked") => std::thread::sleep(Duration::from_millis(300)),
            Err(e) => panic!("{what}: {e}"),
        }
    }
    panic!("{what}: still locked after 40 tries");
}

fn result(out: std::process::Output) -> Result<(), String> {
    match out.status.success() {
        true => Ok(()),
        false => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
    }
}

#[test]
fn an_append_user_cannot_prune_and_the_owner_prunes_while_she_backs_up() {
    let dir = TempDir::new("rights-append");
    let data = data_dir(&dir, "data");
    let htpasswd = users(&dir, &["alice", "owner"]);
    let rules =
        write(&dir.path().join("rules"), "# the laptop appends, the owner prunes\nalice alice=append owner=modify\n");
    // --private-repos and --append-only would keep the owner out: the rules decide for /alice/.
    let s = server(&data, &htpasswd, &rules, &["--private-repos", "--append-only"]);
    assert!(s
        .log()
        .contains("rights in every repository below /alice/: alice=append owner=modify, nobody else (line 2 of"));
    let (alice_repo, owner_repo) = (repo(&s, "alice", "/alice/"), repo(&s, "owner", "/alice/"));
    let (alice, owner) = (Restic::new(dir.path(), "alice"), Restic::new(dir.path(), "owner"));
    let src = dir.path().join("src");
    small_tree(&src, 1, 30);
    alice.ok(&alice_repo, &["init"]);
    for i in 0..3 {
        std::fs::write(src.join("changing"), noise(100 + i, 50_000)).unwrap();
        alice.backup(&alice_repo, &src, "old").unwrap();
    }

    // Ransomware with alice's password: forget --prune fails, nothing is gone.
    let out = alice.run(&alice_repo, &["forget", "--keep-last", "1", "--prune"]);
    assert!(!out.status.success(), "alice pruned: {}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(owner.snapshot_count(&owner_repo), 3);
    owner.ok(&owner_repo, &["check"]);
    assert!(s.wait_log("refused DELETE /alice/snapshots/", 1, Duration::from_secs(10)), "{}", s.log());
    let log = s.log();
    let refusal = log.lines().find(|l| l.contains("refused DELETE /alice/snapshots/")).unwrap();
    assert!(refusal.contains("to \"alice\" in /alice: append right only, by line 2 of"), "{refusal}");
    // A user the line does not name gets nothing, as with --private-repos.
    assert_eq!(http(&s.addr, "GET", "/alice/config", &[], b"").status, 401);

    // The owner prunes the old snapshots while alice backs up new ones; restic's locks decide.
    let backups = std::thread::scope(|scope| {
        let alice = &alice;
        let (alice_repo, src) = (&alice_repo, &src);
        let laptop = scope.spawn(move || {
            let mut ids = Vec::new();
            for i in 0..3 {
                std::fs::write(src.join("changing"), noise(200 + i, 80_000)).unwrap();
                ids.push(until_unlocked("alice's backup", || alice.backup(alice_repo, src, "new")));
            }
            ids
        });
        until_unlocked("the owner's prune", || {
            result(owner.run(&owner_repo, &["forget", "--tag", "old", "--keep-last", "1", "--prune"]))
        });
        laptop.join().unwrap()
    });
    let now = owner.snapshot_ids(&owner_repo, None);
    for id in &backups {
        assert!(now.contains(id), "alice's snapshot {id} is gone: {now:?}");
    }
    assert_eq!(owner.snapshot_ids(&owner_repo, Some("old")).len(), 1);
    assert_eq!(now.len(), 1 + backups.len());
    owner.ok(&owner_repo, &["check", "--read-data"]);
    let target = dir.path().join("restore");
    owner.ok(&owner_repo, &["restore", "latest", "--tag", "new", "--target", target.to_str().unwrap()]);
    same_tree(&src, &target.join(src.strip_prefix("/").unwrap()));
}

#[test]
fn a_read_user_restores_and_cannot_back_up() {
    let dir = TempDir::new("rights-read");
    let data = data_dir(&dir, "data");
    let htpasswd = users(&dir, &["owner", "kid", "eve"]);
    let rules = write(&dir.path().join("rules"), "/family *=read owner=modify\n/vault owner=modify\n");
    let s = server(&data, &htpasswd, &rules, &[]);
    let owner = Restic::new(dir.path(), "owner");
    let src = dir.path().join("src");
    small_tree(&src, 2, 40);
    owner.ok(&repo(&s, "owner", "/family/"), &["init"]);
    owner.backup(&repo(&s, "owner", "/family/"), &src, "photos").unwrap();

    // Reading needs no lock: restic's --no-lock, as for any read-only repository.
    let mut kid = Restic::new(dir.path(), "kid");
    kid.extra = vec!["--no-lock".into()];
    let family = repo(&s, "kid", "/family/");
    assert_eq!(kid.snapshot_count(&family), 1);
    let target = dir.path().join("restore");
    kid.ok(&family, &["restore", "latest", "--target", target.to_str().unwrap()]);
    same_tree(&src, &target.join(src.strip_prefix("/").unwrap()));
    kid.ok(&family, &["check", "--read-data"]);
    // Writing is refused: a backup, and a bare lock (403: a right, not that one).
    let out = Restic::new(dir.path(), "kid2").run(&family, &["backup", src.to_str().unwrap()]);
    assert!(!out.status.success(), "a read user backed up");
    assert_eq!(status(&s, "kid", "POST", &format!("/family/locks/{}", sha256_hex(b"x")), b"x"), 403);
    assert_eq!(owner.snapshot_count(&repo(&s, "owner", "/family/")), 1);
    // Not named on /vault's line: nothing at all (401), even a listing.
    assert_eq!(status(&s, "eve", "GET", "/vault/keys/", b""), 401);
    assert_eq!(status(&s, "owner", "POST", "/vault/?create=true", b""), 200);
    assert!(s.wait_log("refused GET /vault/keys/ to \"eve\" in /vault: line 2 of", 1, Duration::from_secs(10)));
}

#[test]
fn a_rule_change_applies_on_sighup_without_dropping_an_upload() {
    let dir = TempDir::new("rights-reload");
    let data = data_dir(&dir, "data");
    let htpasswd = users(&dir, &["owner", "bob"]);
    let rules_file = dir.path().join("rules");
    let rules = write(&rules_file, "/shared bob=read owner=modify\n");
    let s = server(&data, &htpasswd, &rules, &[]);
    let owner = Restic::new(dir.path(), "owner");
    owner.ok(&repo(&s, "owner", "/shared/"), &["init"]);
    let lock = format!("/shared/locks/{}", sha256_hex(b"bob's lock"));
    assert_eq!(status(&s, "bob", "POST", &lock, b"bob's lock"), 403);

    // An upload in flight: the head and half the body, the rest after the reload.
    let blob = noise(9, 1 << 20);
    let path = format!("/shared/data/{}", sha256_hex(&blob));
    let mut up = std::net::TcpStream::connect(&s.addr).unwrap();
    let req = request_bytes("POST", &path, &[("Authorization", &basic("owner", "owner-pw"))], &blob);
    let split = req.len() - blob.len() / 2;
    up.write_all(&req[..split]).unwrap();
    std::thread::sleep(Duration::from_millis(200));

    // bob may now back up; a broken file later keeps that.
    write(&rules_file, "/shared bob=append owner=modify\n");
    s.hup();
    assert!(s.wait_log(&format!("reloaded {rules}: "), 1, Duration::from_secs(10)), "{}", s.log());
    up.write_all(&req[split..]).unwrap();
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut up, &mut raw).unwrap();
    assert_eq!(parse(&raw, false).status, 200, "the upload in flight went through");
    let id = sha256_hex(&blob);
    assert!(data.join("shared/data").join(&id[..2]).join(&id).exists());
    let bob = Restic::new(dir.path(), "bob");
    let src = dir.path().join("src");
    small_tree(&src, 3, 10);
    bob.backup(&repo(&s, "bob", "/shared/"), &src, "bob").unwrap();
    assert_eq!(status(&s, "bob", "POST", &lock, b"bob's lock"), 200);

    write(&rules_file, "/shared bob=superuser\n");
    s.hup();
    assert!(s.wait_log("the rules read before stay in force", 1, Duration::from_secs(10)), "{}", s.log());
    assert!(s.log().contains("line 1: \"bob=superuser\": the right must be read, append or modify"));
    assert_eq!(status(&s, "bob", "DELETE", &lock, b""), 200, "append still deletes locks");
    assert_eq!(status(&s, "bob", "DELETE", &path, b""), 403);
    owner.ok(&repo(&s, "owner", "/shared/"), &["check"]);
}

#[test]
fn bad_rules_stop_the_start() {
    let dir = TempDir::new("rights-bad");
    let data = data_dir(&dir, "data");
    let htpasswd = users(&dir, &["alice"]);
    let run = |rules: &str, extra: &[&str]| {
        let file = write(&dir.path().join("rules"), rules);
        let out = Command::new(env!("CARGO_BIN_EXE_krazybox"))
            .args(["rest-server", "--path", data.to_str().unwrap(), "--listen", "127.0.0.1:0"])
            .args(["--repo-quota-file", &file])
            .args(extra)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let h = ["--htpasswd-file", htpasswd.to_str().unwrap()];
    let (code, err) = run("alice 100 alice=append\nbob bob=owner\n", &h);
    assert_eq!(code, Some(1));
    assert!(err.contains("line 2: \"bob=owner\": the right must be read, append or modify"), "{err}");
    assert_eq!(err.lines().filter(|l| l.starts_with("rest-server: ")).count(), 1, "one error line: {err}");
    let (code, err) = run("/x *=read\n", &["--no-auth"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("rights need logins; remove --no-auth or the rights"), "{err}");
    assert_eq!(err.lines().filter(|l| l.starts_with("rest-server: ")).count(), 1, "one error line: {err}");
    let (code, err) = run("/a/b\n", &h);
    assert_eq!(code, Some(1));
    assert!(err.contains("line 1: \"/a/b\" is given neither a limit in bytes, a DURATION nor a USER=RIGHT"), "{err}");
}

#[test]
fn a_trusted_proxy_names_the_user() {
    let dir = TempDir::new("rights-proxy");
    let data = data_dir(&dir, "data");
    let rules = write(&dir.path().join("rules"), "/shared alice=append owner=modify\n");
    let hdr = |user: &'static str| [("X-Forwarded-User", user)];

    // On a Unix socket, with no password file at all: the proxy names every user.
    let sock = dir.path().join("rest.sock");
    let s = Server::start(&[
        "--path",
        data.to_str().unwrap(),
        "--listen",
        &format!("unix:{}", sock.display()),
        "--proxy-auth-username",
        "X-Forwarded-User",
        "--private-repos",
        "--repo-rules",
        &rules,
    ]);
    let log = s.log();
    assert!(log.contains("Proxy Authentication enabled."), "{log}");
    assert!(log.contains("proxy login: header X-Forwarded-User names the user for clients from the Unix socket"));
    assert_eq!(http_unix(&sock, "POST", "/alice/?create=true", &hdr("alice"), b"").status, 200);
    assert_eq!(http_unix(&sock, "GET", "/alice/keys/", &hdr("bob"), b"").status, 401, "private repositories");
    assert_eq!(http_unix(&sock, "GET", "/alice/keys/", &[], b"").status, 401, "no header, no password: no login");
    assert_eq!(http_unix(&sock, "POST", "/shared/?create=true", &hdr("owner"), b"").status, 200);
    let snap = format!("/shared/snapshots/{}", sha256_hex(b"s"));
    assert_eq!(http_unix(&sock, "POST", &snap, &hdr("alice"), b"s").status, 200);
    assert_eq!(http_unix(&sock, "DELETE", &snap, &hdr("alice"), b"").status, 403, "the rules apply");
    let refused = format!("refused DELETE {snap} to \"alice\" in /shared: append right only");
    assert!(s.wait_log(&refused, 1, Duration::from_secs(10)), "{}", s.log());
    drop(s);

    // On TCP the header counts from --trusted-proxy addresses only; others log in by password.
    let htpasswd = users(&dir, &["alice"]);
    let s = Server::start(&[
        "--path",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--htpasswd-file",
        htpasswd.to_str().unwrap(),
        "--proxy-auth-username=X-Forwarded-User",
        "--trusted-proxy",
        "127.0.0.1",
        "--trusted-proxy=10.0.0.0/8",
    ]);
    assert!(s.log().contains("names the user for clients from 127.0.0.1, 10.0.0.0/8; anyone else logs in by password"));
    assert_eq!(http(&s.addr, "GET", "/alice/keys/", &hdr("alice"), b"").status, 200);
    let from_other =
        |headers: &[(&str, &str)]| send(socket_from("127.0.0.2", &s.addr), "GET", "/alice/keys/", headers, b"").status;
    assert_eq!(from_other(&hdr("alice")), 401, "an untrusted peer cannot name a user");
    let pw = basic("alice", "alice-pw");
    assert_eq!(from_other(&[("X-Forwarded-User", "bob"), ("Authorization", &pw)]), 200, "it logs in by password");

    // Without --proxy-auth-username, --trusted-proxy means nothing: refused.
    let out = Command::new(env!("CARGO_BIN_EXE_krazybox"))
        .args(["rest-server", "--path", data.to_str().unwrap(), "--trusted-proxy", "127.0.0.1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--trusted-proxy needs --proxy-auth-username HEADER"));
}

/// A TCP connection to `addr` from the loopback address `src` (made again if a signal interrupts it).
fn socket_from(src: &str, addr: &str) -> std::net::TcpStream {
    use nix::sys::socket::{bind, connect, socket, AddressFamily, SockFlag, SockType, SockaddrIn};
    let dst: std::net::SocketAddrV4 = addr.parse().unwrap();
    let src = std::net::SocketAddrV4::new(src.parse().unwrap(), 0);
    let fd = loop {
        let fd = socket(AddressFamily::Inet, SockType::Stream, SockFlag::SOCK_CLOEXEC, None).unwrap();
        bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &SockaddrIn::from(src)).unwrap();
        match connect(std::os::fd::AsRawFd::as_raw_fd(&fd), &SockaddrIn::from(dst)) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => r.unwrap(),
        }
        break fd;
    };
    let s = std::net::TcpStream::from(fd);
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

#[test]
fn a_second_appliance_keeps_every_snapshot_it_was_sent() {
    let dir = TempDir::new("rights-offsite");
    let htpasswd = users(&dir, &["laptop", "owner", "offsite", "copier"]);
    // The first appliance: the laptop appends, the owner prunes, `offsite` only reads.
    let first_rules = write(&dir.path().join("first.rules"), "/alice laptop=append owner=modify offsite=read\n");
    let first = server(&data_dir(&dir, "first"), &htpasswd, &first_rules, &[]);
    // The second, at a friend's: the copier only appends.
    let second_rules = write(&dir.path().join("second.rules"), "/from-alice copier=append\n");
    let second = server(&data_dir(&dir, "second"), &htpasswd, &second_rules, &[]);

    let laptop = Restic::new(dir.path(), "laptop");
    let laptop_repo = repo(&first, "laptop", "/alice/");
    let src = dir.path().join("src");
    small_tree(&src, 4, 30);
    laptop.ok(&laptop_repo, &["init"]);
    let mut sent = Vec::new();
    let copier = Restic::new(dir.path(), "copier");
    let (from, to) = (repo(&first, "offsite", "/alice/"), repo(&second, "copier", "/from-alice/"));
    // The source is only read: --no-lock (restic locks the destination all the same).
    copier.ok(&to, &["init", "--from-repo", &from, "--copy-chunker-params"]);
    let copy = |round: u64| {
        std::fs::write(src.join("changing"), noise(300 + round, 70_000)).unwrap();
        laptop.backup(&laptop_repo, &src, "daily").unwrap();
        copier.ok(&to, &["--no-lock", "copy", "--from-repo", &from]);
    };
    for round in 0..3 {
        copy(round);
    }
    sent.extend(copier.snapshot_ids(&to, None));
    assert_eq!(sent.len(), 3);

    // The owner prunes the first appliance; the next copy adds, and removes nothing.
    let owner = Restic::new(dir.path(), "owner");
    owner.ok(&repo(&first, "owner", "/alice/"), &["forget", "--keep-last", "1", "--prune"]);
    assert_eq!(owner.snapshot_count(&repo(&first, "owner", "/alice/")), 1);
    copy(3);
    let kept = copier.snapshot_ids(&to, None);
    assert_eq!(kept.len(), 4, "{kept:?}");
    for id in &sent {
        assert!(kept.contains(id), "snapshot {id} left the second appliance");
    }
    copier.ok(&to, &["check", "--read-data"]);
    // The copier cannot delete there, nor reach the first appliance's data by its password.
    let snap = format!("/from-alice/snapshots/{}", sent[0]);
    assert_eq!(status(&second, "copier", "DELETE", &snap, b""), 403);
    assert_eq!(status(&first, "copier", "GET", "/alice/keys/", b""), 401);
    assert_eq!(status(&first, "offsite", "DELETE", &format!("/alice/snapshots/{}", sent[0]), b""), 403);
    // A copy restores as it was backed up.
    let target = dir.path().join("restore");
    copier.ok(&to, &["restore", &sent[0][..8], "--target", target.to_str().unwrap()]);
    let first_file = target.join(src.strip_prefix("/").unwrap()).join("f7");
    assert_eq!(std::fs::read(first_file).unwrap(), std::fs::read(src.join("f7")).unwrap());
}
