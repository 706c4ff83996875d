//! The user file fails closed: once `.htpasswd` is invalid, unreadable or gone,
//! nobody is let in (not even a user whose login is cached) until it is fixed,
//! and every look at the bad file logs an error.

use crate::rest_server_support::*;
use std::time::{Duration, Instant};

fn status(server: &Server, user: &str, password: &str) -> u16 {
    let auth = basic(user, password);
    http(&server.addr, "GET", "/keys/", &[("Authorization", &auth)], b"").status
}

/// SIGHUP, then wait until the log has `n` lines containing `what`.
fn reload_and_wait(server: &Server, what: &str, n: usize) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(server.pid()), nix::sys::signal::Signal::SIGHUP).unwrap();
    let t = Instant::now();
    while server.stderr.lock().unwrap().matches(what).count() < n {
        assert!(t.elapsed() < Duration::from_secs(10), "no {what:?} in the log: {}", server.stderr.lock().unwrap());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_bad_user_file_lets_nobody_in() {
    let dir = TempDir::new("users");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let file = dir.path().join("htpasswd");
    let good = htpasswd_line("alice", "pw") + &htpasswd_line("bob", "pw2");
    std::fs::write(&file, &good).unwrap();
    let server = Server::start(&[
        "--path",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--htpasswd-file",
        file.to_str().unwrap(),
    ]);
    assert_eq!(status(&server, "alice", "pw"), 200);
    let mut errors = 0;
    let spoilers: [(&str, &dyn Fn()); 4] = [
        ("a whitespace-only line", &|| std::fs::write(&file, format!("{good}   \n")).unwrap()),
        ("a line with three fields", &|| {
            std::fs::write(&file, htpasswd_line("alice", "pw").trim_end().to_string() + ":x\n").unwrap()
        }),
        ("a missing file", &|| std::fs::remove_file(&file).unwrap()),
        ("an unreadable file", &|| {
            std::fs::remove_file(&file).unwrap();
            std::fs::create_dir(&file).unwrap();
        }),
    ];
    for (what, spoil) in spoilers {
        spoil();
        // Twice: each look logs the error again.
        for _ in 0..2 {
            errors += 1;
            reload_and_wait(&server, "nobody is let in", errors);
            assert_eq!(status(&server, "alice", "pw"), 401, "{what}: a cached login is refused too");
            assert_eq!(status(&server, "bob", "pw2"), 401, "{what}");
        }
        let _ = std::fs::remove_dir(&file);
        let _ = std::fs::remove_file(&file);
        std::fs::write(&file, &good).unwrap();
        let reloaded = server.stderr.lock().unwrap().matches("reloaded").count();
        reload_and_wait(&server, "reloaded", reloaded + 1);
        assert_eq!(status(&server, "alice", "pw"), 200, "{what}: fixed");
    }
}
