//! Clients that try to take the server down for everyone else on the network:
//! password floods and clients that hang up. The attackers connect from
//! 127.0.0.2 and up (every 127/8 address is loopback), the valid users from
//! 127.0.0.1. Latency bounds carry slack for a loaded machine; the figures
//! against the 200 ms goal come from `scripts/bench/attack-rest-server.sh`.

use crate::rest_server_support::*;
use nix::sys::socket::{bind, connect, setsockopt, socket, sockopt, AddressFamily, SockFlag, SockType, SockaddrIn};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A connection from `src` to `addr`, with a receive buffer of `rcvbuf` bytes if given.
/// A connect interrupted by a signal is made again on a new socket.
fn connect_from(src: Ipv4Addr, addr: &str, rcvbuf: Option<usize>) -> std::io::Result<TcpStream> {
    loop {
        match connect_once(src, addr, rcvbuf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

fn connect_once(src: Ipv4Addr, addr: &str, rcvbuf: Option<usize>) -> std::io::Result<TcpStream> {
    let dst: SocketAddrV4 = addr.parse().unwrap();
    let fd = socket(AddressFamily::Inet, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)?;
    if let Some(n) = rcvbuf {
        setsockopt(&fd, sockopt::RcvBuf, &n)?;
    }
    bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &SockaddrIn::from(SocketAddrV4::new(src, 0)))?;
    connect(std::os::fd::AsRawFd::as_raw_fd(&fd), &SockaddrIn::from(dst))?;
    Ok(TcpStream::from(fd))
}

/// Read one response on a keep-alive connection: status and headers.
fn read_response(s: &mut TcpStream) -> std::io::Result<(u16, String)> {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut b)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.push(b[0]);
    }
    let text = String::from_utf8_lossy(&head).to_lowercase();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let len: usize =
        text.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body)?;
    Ok((status, text))
}

/// One request as `user` on a fresh connection from 127.0.0.1: its status and how long it took.
fn timed(addr: &str, user: &str, password: &str) -> (u16, Duration) {
    let t = Instant::now();
    let auth = basic(user, password);
    let r = http(addr, "GET", "/keys/", &[("Authorization", &auth)], b"");
    (r.status, t.elapsed())
}

struct Flood {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
    limited: Arc<AtomicUsize>,
    answered: Arc<AtomicUsize>,
}

/// `n` keep-alive connections from 127.0.0.2, each re-sending a wrong password as fast as answered.
fn flood(addr: &str, n: usize) -> Flood {
    let stop = Arc::new(AtomicBool::new(false));
    let limited = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let req = format!("GET /keys/ HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\r\n", basic("alice", "guess"));
    let threads = (0..n)
        .map(|_| {
            let (stop, limited, answered, req, addr) =
                (stop.clone(), limited.clone(), answered.clone(), req.clone(), addr.to_string());
            std::thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || {
                    let Ok(mut s) = connect_from(Ipv4Addr::new(127, 0, 0, 2), &addr, None) else { return };
                    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                    while !stop.load(Ordering::Relaxed) {
                        if s.write_all(req.as_bytes()).is_err() {
                            return;
                        }
                        match read_response(&mut s) {
                            Ok((status, head)) => {
                                answered.fetch_add(1, Ordering::Relaxed);
                                if status == 429 && head.contains("\r\nretry-after: ") {
                                    limited.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            Err(_) => return,
                        }
                    }
                })
                .unwrap()
        })
        .collect();
    Flood { stop, threads, limited, answered }
}

fn users_file(dir: &TempDir) -> std::path::PathBuf {
    // The attacked user has a dear hash; the valid users a cheap one.
    let alice = std::process::Command::new(env!("CARGO_BIN_EXE_krazybox"))
        .args(["htpasswd", "-nbB", "-C", "8", "alice", "secret"])
        .output()
        .unwrap();
    let mut file = String::from_utf8(alice.stdout).unwrap().lines().next().unwrap().to_string() + "\n";
    file.push_str(&htpasswd_line("bob", "pw"));
    for i in 0..12 {
        file.push_str(&htpasswd_line(&format!("u{i}"), "pw"));
    }
    let path = dir.path().join("htpasswd");
    std::fs::write(&path, file).unwrap();
    path
}

/// A server on loopback over `dir/data` with the users of [`users_file`].
fn server_with_users(dir: &TempDir) -> Server {
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let users = users_file(dir);
    Server::start(&[
        "--path",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--htpasswd-file",
        users.to_str().unwrap(),
    ])
}

#[test]
fn password_flood_leaves_valid_users_alone() {
    let dir = TempDir::new("flood");
    let server = server_with_users(&dir);
    let addr = server.addr.clone();
    assert_eq!(timed(&addr, "bob", "pw").0, 200, "bob's login is cached from now on");

    let f = flood(&addr, 700);
    std::thread::sleep(Duration::from_secs(2));
    let mut worst = (Duration::ZERO, Duration::ZERO);
    for i in 0..8 {
        let (st, cached) = timed(&addr, "bob", "pw");
        assert_eq!(st, 200);
        let (st, fresh) = timed(&addr, &format!("u{i}"), "pw");
        assert_eq!(st, 200);
        worst = (worst.0.max(cached), worst.1.max(fresh));
        std::thread::sleep(Duration::from_millis(250));
    }
    f.stop.store(true, Ordering::Relaxed);
    for t in f.threads {
        let _ = t.join();
    }
    let (answered, limited) = (f.answered.load(Ordering::Relaxed), f.limited.load(Ordering::Relaxed));
    eprintln!(
        "during the flood: cached login {:?}, uncached {:?}; attacker {answered} answers, {limited} of them 429",
        worst.0, worst.1
    );
    assert!(worst.0 < Duration::from_millis(600) && worst.1 < Duration::from_millis(800), "{worst:?}");
    assert!(limited > answered / 2, "the attacker is refused, not hashed for: {limited} of {answered}");
    // The attacker's address is still refused; a valid user from there is not, once cached.
    let mut s = connect_from(Ipv4Addr::new(127, 0, 0, 2), &addr, None).unwrap();
    s.write_all(format!("GET /keys/ HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\r\n", basic("alice", "x")).as_bytes())
        .unwrap();
    assert_eq!(read_response(&mut s).unwrap().0, 429);
    s.write_all(format!("GET /keys/ HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\r\n", basic("bob", "pw")).as_bytes())
        .unwrap();
    assert_eq!(read_response(&mut s).unwrap().0, 200, "a cached valid login is never limited");
}

#[test]
fn checks_of_clients_that_hung_up_never_run() {
    let dir = TempDir::new("hangup");
    let server = server_with_users(&dir);
    let addr = server.addr.clone();
    // 600 wrong passwords from 60 addresses (each within its allowance), all hanging up at once.
    let req = format!("GET /keys/ HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\r\n", basic("alice", "guess"));
    let mut conns = Vec::new();
    for i in 0..600u32 {
        let src = Ipv4Addr::new(127, 0, 1, (10 + i / 10) as u8);
        let mut s = connect_from(src, &addr, None).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        conns.push(s);
    }
    std::thread::sleep(Duration::from_millis(100));
    drop(conns);
    std::thread::sleep(Duration::from_millis(100));
    let mut worst = Duration::ZERO;
    for i in 0..6 {
        let (st, t) = timed(&addr, &format!("u{i}"), "pw");
        assert_eq!(st, 200);
        worst = worst.max(t);
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("after 600 hung-up checks: uncached login {worst:?}");
    assert!(worst < Duration::from_millis(800), "{worst:?}");
}

/// `krazybox rest-server ARGS` under descriptor limits `soft`/`hard`: the child and its address.
fn start_limited(soft: u32, hard: u32, args: &[&str]) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -S -n {soft} && ulimit -H -n {hard} && exec \"$0\" rest-server \"$@\""))
        .arg(env!("CARGO_BIN_EXE_krazybox"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("server did not start").unwrap();
        if let Some(a) = line.split("tarting server on ").nth(1).or(line.split("start server on ").nth(1)) {
            break a.trim().to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    (child, addr)
}

#[test]
fn silent_connections_do_not_lock_others_out() {
    let dir = TempDir::new("fds");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let (mut child, addr) =
        start_limited(128, 256, &["--path", data.to_str().unwrap(), "--listen", "127.0.0.1:0", "--no-auth"]);
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
    let open_files = limits.lines().find(|l| l.starts_with("Max open files")).unwrap().to_string();
    assert!(open_files.split_whitespace().filter(|w| *w == "256").count() == 2, "soft limit raised: {open_files}");
    // More silent connections than the hard limit allows descriptors.
    let silent: Vec<TcpStream> =
        (0..400).filter_map(|_| connect_from(Ipv4Addr::new(127, 0, 0, 3), &addr, None).ok()).collect();
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    let s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let r = send(s, "POST", "/?create=true", &[], b"");
    let took = t.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    eprintln!("{} silent connections: a new request answered in {took:?}", silent.len());
    assert_eq!(r.status, 200);
    assert!(took < Duration::from_secs(2), "{took:?}");
}

/// The server's peak RSS in KiB, its threads and its open descriptors.
fn footprint(pid: u32) -> (u64, u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |k: &str| -> u64 {
        status.lines().find_map(|l| l.strip_prefix(k)).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap()
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count();
    (field("VmHWM:"), field("Threads:"), fds)
}

#[test]
fn slow_readers_and_uploaders_hold_no_thread() {
    const SLOW: usize = 150;
    let dir = TempDir::new("slow");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let server = Server::start(&["--path", data.to_str().unwrap(), "--listen", "127.0.0.1:0", "--no-auth"]);
    let addr = server.addr.clone();
    let pid = server.pid() as u32;
    assert_eq!(http(&addr, "POST", "/?create=true", &[], b"").status, 200);
    let big = noise(7, 16 << 20);
    let id = sha256_hex(&big);
    std::fs::write(data.join("data").join(&id[..2]).join(&id), &big).unwrap();
    drop(big);
    let normal = |what: &str| {
        let t = Instant::now();
        let small = format!("small {what}");
        let r = http(&addr, "POST", &format!("/keys/{}", sha256_hex(small.as_bytes())), &[], small.as_bytes());
        assert_eq!(r.status, 200, "{what}");
        assert_eq!(http(&addr, "GET", &format!("/data/{id}"), &[("Range", "bytes=0-99")], b"").status, 206);
        t.elapsed()
    };
    let quiet = normal("before");

    // Readers of the big object through a 4 KiB window, reading 4 KiB a second.
    let req = format!("GET /data/{id} HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut readers: Vec<TcpStream> = (0..SLOW)
        .map(|_| {
            let mut s = connect_from(Ipv4Addr::new(127, 0, 0, 4), &addr, Some(4096)).unwrap();
            s.write_all(req.as_bytes()).unwrap();
            s.set_nonblocking(true).unwrap();
            s
        })
        .collect();
    // Uploads that send their head and then a byte a second.
    let mut uploaders: Vec<TcpStream> = (0..SLOW)
        .map(|i| {
            let mut s = connect_from(Ipv4Addr::new(127, 0, 0, 5), &addr, None).unwrap();
            let head =
                format!("POST /data/{} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n", sha256_hex(&[i as u8]));
            s.write_all(head.as_bytes()).unwrap();
            s
        })
        .collect();
    let mut worst = Duration::ZERO;
    for round in 0..5 {
        let mut buf = [0u8; 4096];
        for r in readers.iter_mut() {
            let _ = r.read(&mut buf);
        }
        for u in uploaders.iter_mut() {
            u.write_all(b"x").unwrap();
        }
        if round > 0 {
            worst = worst.max(normal(&format!("round {round}")));
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let (peak_kib, threads, fds) = footprint(pid);
    eprintln!(
        "{SLOW} slow readers + {SLOW} slow uploaders: a normal request {worst:?} (quiet {quiet:?}); peak RSS {} MiB, {threads} threads, {fds} descriptors",
        peak_kib / 1024
    );
    assert!(worst < Duration::from_secs(1), "{worst:?}");
    assert!(threads <= 20, "threads: {threads}");
    assert!(peak_kib < 32 * 1024, "peak RSS {peak_kib} KiB");
}

#[test]
fn a_request_log_nobody_reads_does_not_stall_requests() {
    let dir = TempDir::new("log");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // `--log -` into a pipe that is never read: it fills after 64 KiB.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_krazybox"))
        .args(["rest-server", "--path", data.to_str().unwrap(), "--listen", "127.0.0.1:0", "--no-auth", "--log", "-"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let _unread = child.stdout.take();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stderr.take().unwrap()));
    let addr = loop {
        let line = lines.next().expect("server did not start").unwrap();
        if let Some(a) = line.split("tarting server on ").nth(1).or(line.split("start server on ").nth(1)) {
            break a.trim().to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let agent = "x".repeat(200);
    let t = Instant::now();
    let mut answered = 0;
    for _ in 0..2000 {
        let req = format!("GET /keys/ HTTP/1.1\r\nHost: x\r\nUser-Agent: {agent}\r\n\r\n");
        if s.write_all(req.as_bytes()).is_err() || read_response(&mut s).is_err() {
            break;
        }
        answered += 1;
    }
    let took = t.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(answered, 2000, "requests stalled behind the log after {answered} ({took:?})");
}

/// One htpasswd record made by our applet with `flags` (`-B -C 10`, `-s`).
fn record(user: &str, password: &str, flags: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_krazybox"))
        .arg("htpasswd")
        .args(["-nb"])
        .args(flags)
        .args([user, password])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().lines().next().unwrap().to_string() + "\n"
}

#[test]
fn a_failed_login_takes_as_long_for_every_name() {
    let dir = TempDir::new("timing");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // Most users at cost 4 (the decoy's cost), one at 10, one {SHA}.
    let mut file = record("slow", "pw", &["-B", "-C", "10"]) + &record("sha", "pw", &["-s"]);
    for u in ["fast", "f1", "f2"] {
        file.push_str(&htpasswd_line(u, "pw"));
    }
    let users = dir.path().join("htpasswd");
    std::fs::write(&users, file).unwrap();
    let s = Server::start(&[
        "--path",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--htpasswd-file",
        users.to_str().unwrap(),
    ]);
    // A wrong password for each kind of name, each from an address of its own (under the limit).
    let kinds = ["slow", "fast", "sha", "nobody"];
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); kinds.len()];
    for _ in 0..7 {
        for (k, user) in kinds.iter().enumerate() {
            let mut c = connect_from(Ipv4Addr::new(127, 0, 3, 10 + k as u8), &s.addr, None).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            let t = Instant::now();
            let req = format!("GET /keys/ HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\r\n", basic(user, "guess"));
            c.write_all(req.as_bytes()).unwrap();
            assert_eq!(read_response(&mut c).unwrap().0, 401);
            times[k].push(t.elapsed());
        }
    }
    let medians: Vec<Duration> = times
        .iter_mut()
        .map(|t| {
            t.sort();
            t[t.len() / 2]
        })
        .collect();
    eprintln!("failed logins, median of 7: {:?}", kinds.iter().zip(&medians).collect::<Vec<_>>());
    let (lo, hi) = (medians.iter().min().unwrap(), medians.iter().max().unwrap());
    assert!(lo.as_secs_f64() > hi.as_secs_f64() * 0.75, "a failure tells the kind of name: {medians:?}");
    // Successes are not held: the cost-4 user logs in faster than anyone fails.
    let (status, took) = timed(&s.addr, "fast", "pw");
    assert_eq!(status, 200);
    assert!(took < *lo / 2, "a success waited: {took:?} against failures of {lo:?}");
}
