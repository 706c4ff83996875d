//! Slow and dead clients: a connection that moves no byte for the idle timeout
//! is dropped, and an upload it carried leaves no temporary file. The engine runs
//! in-process here with a one-second timeout (the applet uses 60 s), each test
//! in a process of its own ([`in_own_process`]).

use crate::rest_server_support::*;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

fn start(dir: &TempDir) -> std::path::PathBuf {
    start_with_idle(dir, Duration::from_secs(1))
}

/// A server on a unix socket with no users and this idle timeout; its socket.
fn start_with_idle(dir: &TempDir, idle: Duration) -> std::path::PathBuf {
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let sock = dir.path().join("s.sock");
    let mut cfg = krazybox::rest_server::Config::new(data);
    cfg.htpasswd = None;
    cfg.listen = krazybox::rest_server::Listen::Unix(sock.clone());
    cfg.idle_timeout = idle;
    // The server thread is left running; it ends with the test process.
    std::thread::spawn(move || krazybox::rest_server::serve(cfg));
    let start = Instant::now();
    while !sock.exists() {
        assert!(start.elapsed() < Duration::from_secs(10), "server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    sock
}

/// How long until the server closes a connection that stalls after `sent`.
fn closed_after(sock: &std::path::Path, sent: &[u8]) -> Duration {
    let mut c = UnixStream::connect(sock).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(sent).unwrap();
    let t = Instant::now();
    let mut buf = Vec::new();
    let _ = c.read_to_end(&mut buf);
    let waited = t.elapsed();
    assert!(buf.is_empty() || buf.starts_with(b"HTTP/1.1 4"), "{}", String::from_utf8_lossy(&buf));
    waited
}

#[test]
fn stalled_clients_are_dropped() {
    if !in_own_process("timeout::stalled_clients_are_dropped") {
        return;
    }
    let dir = TempDir::new("timeout");
    let sock = start(&dir);
    assert_eq!(http_unix(&sock, "POST", "/?create=true", &[], b"").status, 200);

    // Half a request line and headers, then nothing.
    let waited = closed_after(&sock, b"GET /config HTTP/1.1\r\nHost: x\r\n");
    assert!(waited >= Duration::from_millis(500) && waited < Duration::from_secs(5), "{waited:?}");

    // Part of an upload body, then nothing: dropped, temporary file removed.
    let id = sha256_hex(b"never finished");
    let head = format!("POST /data/{id} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
    let mut req = head.into_bytes();
    req.extend_from_slice(&[0u8; 3000]);
    let waited = closed_after(&sock, &req);
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    std::thread::sleep(Duration::from_millis(200));
    let folder = dir.path().join("data/data").join(&id[..2]);
    let left: Vec<_> = std::fs::read_dir(&folder).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(left.is_empty(), "left behind: {left:?}");

    // An idle keep-alive connection is closed too; a busy one is not.
    let mut c = UnixStream::connect(&sock).unwrap();
    for _ in 0..3 {
        c.write_all(b"HEAD /config HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut b = [0u8; 512];
        let n = c.read(&mut b).unwrap();
        assert!(b[..n].starts_with(b"HTTP/1.1 404"));
        std::thread::sleep(Duration::from_millis(600));
    }
}

/// The idle time counts from the last byte moved, not from a periodic check:
/// a client that stalls is dropped `idle_timeout` after its last byte, however
/// that byte fell between the watchdog's looks.
#[test]
fn idle_time_counts_from_the_last_byte() {
    if !in_own_process("timeout::idle_time_counts_from_the_last_byte") {
        return;
    }
    assert_eq!(krazybox::rest_server::Config::new("/x".into()).idle_timeout, Duration::from_secs(60));
    let dir = TempDir::new("idle-exact");
    let sock = start_with_idle(&dir, Duration::from_secs(4));
    assert_eq!(http_unix(&sock, "POST", "/?create=true", &[], b"").status, 200);
    let id = sha256_hex(b"slow");
    let mut c = UnixStream::connect(&sock).unwrap();
    c.write_all(format!("POST /data/{id} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n").as_bytes()).unwrap();
    // A byte every 1.05 s: each falls just after a look of a watchdog that ticks every second.
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(1050));
        c.write_all(b"x").unwrap();
    }
    let last = Instant::now();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = Vec::new();
    let _ = c.read_to_end(&mut buf);
    let waited = last.elapsed();
    assert!(waited >= Duration::from_millis(3900) && waited < Duration::from_millis(4400), "{waited:?}");
}
