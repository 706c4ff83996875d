//! The rest-server tests' helpers (tests/rest_server.rs declares this file as
//! `rest_server_support`; the wrapper's tests take its alert receiver): the
//! server as a child process that is stopped when dropped, a raw HTTP/1.1
//! client, an alert receiver, and [`in_own_process`] for the tests that run
//! the engine in-process. The temporary folder is `support::TempDir`,
//! re-exported: a binary that declares this file declares `mod support;` too.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use crate::support::TempDir;

/// The server, killed when dropped; `addr` is `127.0.0.1:PORT` for TCP.
pub struct Server {
    child: Option<Child>,
    pub addr: String,
    pub stderr: Arc<Mutex<String>>,
}

impl Server {
    /// Start `krazybox rest-server ARGS` and wait until it listens.
    pub fn start(args: &[&str]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_krazybox"));
        cmd.arg("rest-server").args(args);
        Server::spawn(cmd)
    }

    /// Start a command that runs the server (another user, a namespace) and wait until it listens.
    pub fn spawn(mut cmd: Command) -> Server {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting krazybox rest-server");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let err = child.stderr.take().unwrap();
        let log = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if let Some(a) = line.split("Starting server on ").nth(1) {
                    let _ = tx.send(a.trim().to_string());
                }
                log.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let mut server = Server { child: Some(child), addr: String::new(), stderr };
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(a) => server.addr = a,
            Err(_) => panic!("server did not start: {}", server.stderr.lock().unwrap()),
        }
        server
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    /// Send SIGHUP: reload the users, the rules, the certificate.
    pub fn hup(&self) {
        let st = Command::new("kill").args(["-HUP", &self.pid().to_string()]).status().unwrap();
        assert!(st.success());
    }

    /// Wait until stderr holds `needle` `count` times or more (at most `limit`); whether it did.
    pub fn wait_log(&self, needle: &str, count: usize, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.stderr.lock().unwrap().matches(needle).count() >= count {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// What the server wrote to stderr so far.
    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Send SIGTERM and wait for the exit status (at most `limit`).
    pub fn terminate(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        wait_exit(&mut child, limit)
    }
}

/// Wait for `child` to exit, at most `limit`; kill it if it does not.
pub fn wait_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(st)) = child.try_wait() {
            return Some(st);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Whether the calling test is to run here, in this process. A test that runs
/// the engine in-process runs in a process of its own: the engine's signal
/// handlers are the process's (SIGTERM, SIGINT and SIGHUP stay caught once it
/// ran, and one SIGTERM stops every engine in the process), and the tests of
/// one binary share it. So in the test binary's process this starts the
/// binary again for test `name` alone, waits for it, fails unless that test
/// ran and passed there, and says no; in that second process it says yes.
pub fn in_own_process(name: &str) -> bool {
    const VAR: &str = "KRAZYBOX_TEST_OWN_PROCESS";
    if std::env::var_os(VAR).is_some_and(|v| v == name) {
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = Command::new(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(VAR, name)
        .stdin(Stdio::null())
        .output()
        .expect("starting the test binary again");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // Shown as the test's own output (on failure, or with --nocapture).
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(stdout.contains("\nrunning 1 test\n"), "no test {name} in this binary:\n{stdout}");
    assert!(out.status.success(), "{name} failed in its own process: {}", out.status);
    false
}

/// A parsed response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The body; a chunked one put together.
    pub body: Vec<u8>,
    /// Whether the body came whole: all of its Content-Length, or a chunked
    /// body's last chunk. A server that aborts a response leaves it short.
    pub complete: bool,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn chunked(&self) -> bool {
        self.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    }
}

/// The request bytes: one request, `Connection: close`.
pub fn request_bytes(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-length")) {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// A chunked body put together; whether its last (empty) chunk came.
pub fn dechunk(mut raw: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    loop {
        let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") else { return (out, false) };
        let size = std::str::from_utf8(&raw[..eol])
            .ok()
            .and_then(|l| usize::from_str_radix(l.split(';').next()?.trim(), 16).ok());
        let Some(size) = size else { return (out, false) };
        raw = &raw[eol + 2..];
        if size == 0 {
            return (out, raw.starts_with(b"\r\n"));
        }
        if raw.len() < size + 2 {
            out.extend_from_slice(&raw[..raw.len().min(size)]);
            return (out, false);
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

/// Parse a whole response read until the server closed; HEAD responses have no body.
pub fn parse(raw: &[u8], head: bool) -> Resp {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("no header end");
    let text = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string())).collect();
    let mut r = Resp { status, headers, body: Vec::new(), complete: true };
    if !head {
        let rest = &raw[split + 4..];
        if r.chunked() {
            (r.body, r.complete) = dechunk(rest);
        } else {
            r.body = rest.to_vec();
            if let Some(n) = r.header("content-length").and_then(|v| v.parse::<usize>().ok()) {
                r.complete = r.body.len() >= n;
            }
        }
    }
    r
}

pub fn send<S: Read + Write>(mut s: S, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    s.write_all(&request_bytes(method, path, headers, body)).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    parse(&raw, method == "HEAD")
}

/// One request over TCP.
pub fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    send(s, method, path, headers, body)
}

/// One request over a Unix socket.
pub fn http_unix(sock: &Path, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    let s = UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    send(s, method, path, headers, body)
}

/// Lowercase hex SHA-256: the name restic gives an object.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// `Authorization` header value for Basic auth.
pub fn basic(user: &str, password: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{password}").into_bytes();
    let mut out = String::from("Basic ");
    for c in input.chunks(3) {
        let n =
            (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// An htpasswd record made by our own htpasswd applet (bcrypt cost 4, fast).
pub fn htpasswd_line(user: &str, password: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_krazybox"))
        .args(["htpasswd", "-nbB", "-C", "4", user, password])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().lines().next().unwrap().to_string() + "\n"
}

/// Deterministic pseudo-random bytes (xorshift), so failures can be reproduced.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// One message a [`Receiver`] got.
#[derive(Clone, Debug)]
pub struct Received {
    /// The request line's target (path and query).
    pub target: String,
    /// Header names in lowercase.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    /// The message's first line.
    pub fn title(&self) -> &str {
        self.body.lines().next().unwrap_or("")
    }
}

/// An alert receiver on 127.0.0.1: answers every POST with 200 and keeps it,
/// or (`hung`) takes connections and never answers. Stops with the test.
pub struct Receiver {
    pub addr: String,
    pub got: Arc<Mutex<Vec<Received>>>,
    /// Connections accepted so far.
    pub connections: Arc<std::sync::atomic::AtomicUsize>,
}

impl Receiver {
    pub fn start() -> Receiver {
        Receiver::on("127.0.0.1:0", false)
    }

    /// On `addr`; `hung`: accept and never answer.
    pub fn on(addr: &str, hung: bool) -> Receiver {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind(addr).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let got = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (g, c) = (got.clone(), connections.clone());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().map_while(Result::ok) {
                c.fetch_add(1, Ordering::SeqCst);
                if hung {
                    held.push(stream);
                    continue;
                }
                let g = g.clone();
                std::thread::spawn(move || {
                    if let Some(r) = read_request(&stream) {
                        g.lock().unwrap().push(r);
                        let _ =
                            (&stream).write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    }
                });
            }
        });
        Receiver { addr, got, connections }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn messages(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Wait until a message's title starts with `prefix`, and return it.
    pub fn wait_for(&self, prefix: &str, limit: Duration) -> Received {
        let start = Instant::now();
        loop {
            if let Some(m) = self.messages().into_iter().find(|m| m.title().starts_with(prefix)) {
                return m;
            }
            let titles: Vec<String> = self.messages().iter().map(|m| m.title().to_string()).collect();
            assert!(start.elapsed() < limit, "no message {prefix:?} within {limit:?}; got {titles:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// How many messages have a title starting with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        self.messages().iter().filter(|m| m.title().starts_with(prefix)).count()
    }
}

/// One HTTP/1.1 request with a Content-Length body, read from a test's socket.
fn read_request(mut s: &TcpStream) -> Option<Received> {
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let target = lines.next()?.split(' ').nth(1)?.to_string();
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string())).collect();
    let len: usize = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = raw[head_end + 4..].to_vec();
    while body.len() < len {
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&buf[..n]);
    }
    Some(Received { target, headers, body: String::from_utf8_lossy(&body).into_owned() })
}

/// A port on 127.0.0.1 that nothing listens on (for now).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
