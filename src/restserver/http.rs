//! Requests to file operations, as rest-server 0.14 answers them. File work runs
//! on tokio's blocking threads, fed through small channels, so
//! a request body or a file is streamed and memory does not grow with blob size.

use super::auth::Users;
use super::guard::{Guard, Verdict};
use super::metrics::{Metrics, Op};
use super::repo::{self, Store, Upload};
use super::Config;
use base64::Engine as _;
use http_body_util::{combinators::BoxBody, BodyExt, Empty, Full};
use hyper::body::{Body as _, Bytes, Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use sha2::{Digest, Sha256};
use std::convert::Infallible;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::SystemTime;
use tokio::sync::mpsc;

type Body = BoxBody<Bytes, io::Error>;

const MIME_V2: &str = "application/vnd.x.restic.rest.v2";
const MIME_V1: &str = "application/vnd.x.restic.rest.v1";
/// Chunks of a file sent to a client, and how many may wait in a channel.
const CHUNK: usize = 64 * 1024;
const QUEUE: usize = 4;
/// Upload buffers: their size, and how many the pool keeps between uploads.
const UPLOAD_BUF: usize = 256 * 1024;
const POOL_KEEP: usize = 48;
/// How long a client that failed too often waits for its 429.
const LIMITED_DELAY: std::time::Duration = std::time::Duration::from_secs(1);

/// Upload buffers used again and again. musl's malloc maps and unmaps every
/// large block, and fresh pages fault in one by one: copying request bytes
/// into recycled buffers costs far less than that, and lets hyper reuse its own
/// read buffer at once.
#[derive(Default)]
pub(super) struct Pool {
    free: Mutex<Vec<Vec<u8>>>,
}

impl Pool {
    fn get(&self) -> Vec<u8> {
        self.free.lock().unwrap().pop().unwrap_or_else(|| Vec::with_capacity(UPLOAD_BUF))
    }

    fn put(&self, mut buf: Vec<u8>) {
        buf.clear();
        let mut free = self.free.lock().unwrap();
        if free.len() < POOL_KEEP {
            free.push(buf);
        }
    }
}

/// `--max-size`: bytes the tree may hold, and bytes it holds (counted at start,
/// then kept up to date by uploads and deletions).
pub(super) struct Quota {
    pub(super) max: u64,
    pub(super) used: AtomicU64,
}

impl Quota {
    fn reserve(&self, n: u64) -> bool {
        let before = self.used.fetch_add(n, Ordering::SeqCst);
        if before + n > self.max {
            self.used.fetch_sub(n, Ordering::SeqCst);
            return false;
        }
        true
    }

    fn release(&self, n: u64) {
        let _ = self.used.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |u| Some(u.saturating_sub(n)));
    }
}

/// What every request needs.
pub(super) struct State {
    pub(super) cfg: Config,
    pub(super) store: Store,
    pub(super) users: Option<Users>,
    pub(super) metrics: Metrics,
    pub(super) quota: Option<Quota>,
    pub(super) log: Option<Mutex<Box<dyn Write + Send>>>,
    pub(super) pool: Pool,
    pub(super) guard: Guard,
}

/// A response body fed by a blocking reader thread.
struct ChannelBody {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    len: u64,
}

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;
    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        self.rx.poll_recv(cx).map(|o| o.map(|r| r.map(Frame::data)))
    }
    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len)
    }
}

fn full(status: StatusCode, content_type: Option<&str>, data: impl Into<Bytes>) -> Response<Body> {
    let data = data.into();
    let mut r = Response::new(Full::new(data).map_err(|n: Infallible| match n {}).boxed());
    *r.status_mut() = status;
    if let Some(ct) = content_type {
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
    }
    r
}

/// Go's `http.Error(w, http.StatusText(code), code)`, which rest-server answers every error with.
fn error(status: StatusCode) -> Response<Body> {
    let mut r =
        full(status, Some("text/plain; charset=utf-8"), format!("{}\n", status.canonical_reason().unwrap_or("")));
    r.headers_mut().insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    r
}

fn ok() -> Response<Body> {
    full(StatusCode::OK, None, Bytes::new())
}

/// Only a length (HEAD).
fn length_only(len: u64) -> Response<Body> {
    let mut r = Response::new(Empty::new().map_err(|n: Infallible| match n {}).boxed());
    r.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    r
}

fn method_not_allowed(allow: &'static str) -> Response<Body> {
    let mut r = error(StatusCode::METHOD_NOT_ALLOWED);
    r.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}

fn io_error(e: &io::Error, what: &str) -> Response<Body> {
    if repo::is_outside_or_missing(e) {
        error(StatusCode::NOT_FOUND)
    } else if repo::is_no_space(e) {
        log::error!("{what}: {e}");
        error(StatusCode::INSUFFICIENT_STORAGE)
    } else {
        log::error!("{what}: {e}");
        error(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(f).await {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// Answer one request, and log it in the combined format when asked to.
pub(super) async fn handle(
    st: Arc<State>,
    peer: Arc<str>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let started = SystemTime::now();
    let line = st.log.as_ref().map(|_| {
        let h = |n: header::HeaderName| req.headers().get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        (format!("{} {} {:?}", req.method(), req.uri(), req.version()), h(header::REFERER), h(header::USER_AGENT))
    });
    let (user, resp) = route(&st, &peer, req).await;
    if let (Some(log), Some((request, referer, agent))) = (&st.log, line) {
        let size = resp.body().size_hint().exact().unwrap_or(0);
        let user = if user.is_empty() { "-".to_string() } else { user };
        let entry = format!(
            "{peer} - {user} [{}] \"{request}\" {} {size} \"{referer}\" \"{agent}\"\n",
            clf_time(started),
            resp.status().as_u16()
        );
        let _ = log.lock().unwrap().write_all(entry.as_bytes());
    }
    Ok(resp)
}

/// `user:password` from a Basic Authorization header.
fn basic_auth(req: &Request<Incoming>) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, b64) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// The authenticated user ("" without auth), or the refusal: 401, or 429 for
/// an address that failed too often (answered after a second, which slows a
/// guesser down without holding a thread).
async fn authenticate(st: &Arc<State>, peer: &str, req: &Request<Incoming>) -> Result<String, Response<Body>> {
    let Some(users) = &st.users else { return Ok(String::new()) };
    let Some((user, password)) = basic_auth(req) else { return Err(error(StatusCode::UNAUTHORIZED)) };
    match st.guard.check(users, peer.parse().ok(), &user, &password).await {
        Verdict::Valid => Ok(user),
        Verdict::Invalid => Err(error(StatusCode::UNAUTHORIZED)),
        Verdict::Limited(wait) => {
            tokio::time::sleep(LIMITED_DELAY).await;
            let mut r = error(StatusCode::TOO_MANY_REQUESTS);
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs().max(1)));
            Err(r)
        }
    }
}

/// Decode `%XX` escapes; None for a bad escape, a NUL or bytes that are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    if out.contains(&0) {
        return None;
    }
    String::from_utf8(out).ok()
}

/// rest-server's split of a URL path into the repository folder (at most two
/// levels, stopping at an object type or `config`) and the rest.
fn split_path(path: &str) -> (Vec<&str>, &str) {
    const MAX_DEPTH: usize = 2;
    let parts: Vec<&str> = path.splitn(MAX_DEPTH + 2, '/').collect();
    let mut folder = Vec::new();
    if parts.len() >= 2 {
        for name in &parts[1..parts.len() - 1] {
            if repo::TYPES.contains(name) || *name == "config" {
                break;
            }
            folder.push(*name);
        }
    }
    if folder.is_empty() {
        return (folder, path);
    }
    let prefix = 1 + folder.iter().map(|f| f.len() + 1).sum::<usize>() - 1;
    (folder, &path[prefix..])
}

async fn route(st: &Arc<State>, peer: &str, req: Request<Incoming>) -> (String, Response<Body>) {
    let raw_path = req.uri().path().to_string();
    if st.cfg.prometheus && raw_path == "/metrics" {
        let user = if st.cfg.prometheus_no_auth {
            String::new()
        } else {
            match authenticate(st, peer, &req).await {
                Ok(u) if !st.cfg.private_repos || st.users.is_none() || u == "metrics" => u,
                Ok(_) => return (String::new(), error(StatusCode::UNAUTHORIZED)),
                Err(r) => return (String::new(), r),
            }
        };
        let text = st.metrics.render(&st.cfg.path);
        return (user, full(StatusCode::OK, Some("text/plain; version=0.0.4; charset=utf-8"), text));
    }
    let user = match authenticate(st, peer, &req).await {
        Ok(u) => u,
        Err(r) => return (String::new(), r),
    };
    let Some(path) = percent_decode(&raw_path) else {
        return (user, error(StatusCode::BAD_REQUEST));
    };
    if !path.starts_with('/') || path.split('/').any(|s| s == "." || s == "..") {
        return (user, error(StatusCode::NOT_FOUND));
    }
    let (folder, rest) = split_path(&path);
    if folder.iter().any(|f| f.is_empty()) {
        return (user, error(StatusCode::NOT_FOUND));
    }
    if st.users.is_some() && st.cfg.private_repos && folder.first() != Some(&user.as_str()) {
        return (user, error(StatusCode::UNAUTHORIZED));
    }
    let target = Target { repo: folder.join("/"), label: folder.concat(), user: user.clone() };
    let rest = rest.to_string();
    let resp = dispatch(st, req, target, &rest).await;
    (user, resp)
}

/// The repository a request is for, and the labels its metrics get.
struct Target {
    repo: String,
    label: String,
    user: String,
}

async fn dispatch(st: &Arc<State>, req: Request<Incoming>, t: Target, rest: &str) -> Response<Body> {
    let method = req.method().clone();
    if rest == "/" {
        if method != Method::POST {
            return method_not_allowed("POST");
        }
        if !req.uri().query().unwrap_or("").split('&').any(|kv| kv == "create=true") {
            return error(StatusCode::BAD_REQUEST);
        }
        log::info!("Creating repository directories in {}", st.cfg.path.join(&t.repo).display());
        let st2 = st.clone();
        return match blocking(move || st2.store.create_repo(&t.repo)).await {
            Ok(()) => ok(),
            Err(e) => io_error(&e, "creating repository"),
        };
    }
    if rest == "/config" {
        let rel = repo::join(&t.repo, "config");
        return match method {
            Method::HEAD => head(st, rel).await,
            Method::GET => get(st, &req, rel, None, false).await,
            Method::POST => upload(st, req, rel, None, None).await,
            Method::DELETE => {
                if st.cfg.append_only {
                    return error(StatusCode::FORBIDDEN);
                }
                let st2 = st.clone();
                match blocking(move || st2.store.delete(&rel)).await {
                    Ok(Some(n)) => {
                        if let Some(q) = &st.quota {
                            q.release(n)
                        }
                        ok()
                    }
                    Ok(None) => error(StatusCode::NOT_FOUND),
                    Err(e) => io_error(&e, "deleting config"),
                }
            }
            _ => method_not_allowed("HEAD, GET, POST, DELETE"),
        };
    }
    let Some((kind, id)) = rest.strip_prefix('/').and_then(|r| r.split_once('/')) else {
        return error(StatusCode::NOT_FOUND);
    };
    let Some(kind) = repo::TYPES.iter().copied().find(|k| *k == kind) else {
        return error(StatusCode::NOT_FOUND);
    };
    if id.is_empty() {
        if method != Method::GET {
            return method_not_allowed("GET");
        }
        return list(st, &req, &t.repo, kind).await;
    }
    if !repo::valid_id(id) {
        return error(StatusCode::NOT_FOUND);
    }
    let rel = repo::object_path(&t.repo, kind, id);
    let labels = Some((t, kind));
    match method {
        Method::HEAD => head(st, rel).await,
        Method::GET => get(st, &req, rel, labels, true).await,
        Method::POST => {
            let verify = st.cfg.verify_upload.then(|| id.to_string());
            upload(st, req, rel, verify, labels).await
        }
        Method::DELETE => {
            if st.cfg.append_only && kind != "locks" {
                return error(StatusCode::FORBIDDEN);
            }
            let st2 = st.clone();
            match blocking(move || st2.store.delete(&rel)).await {
                Ok(found) => {
                    if let Some(n) = found {
                        if let Some(q) = &st.quota {
                            q.release(n);
                        }
                        if let Some((t, kind)) = labels {
                            st.metrics.add(&t.user, &t.label, kind, Op::Delete, n);
                        }
                    }
                    ok()
                }
                Err(e) => io_error(&e, "deleting"),
            }
        }
        _ => method_not_allowed("HEAD, GET, POST, DELETE"),
    }
}

async fn head(st: &Arc<State>, rel: String) -> Response<Body> {
    let st = st.clone();
    match blocking(move || st.store.open_file(&rel).map(|(_, n)| n)).await {
        Ok(n) => length_only(n),
        Err(_) => error(StatusCode::NOT_FOUND),
    }
}

async fn list(st: &Arc<State>, req: &Request<Incoming>, repo_path: &str, kind: &'static str) -> Response<Body> {
    let v2 = req.headers().get(header::ACCEPT).is_some_and(|a| a.as_bytes() == MIME_V2.as_bytes());
    let st = st.clone();
    let repo_path = repo_path.to_string();
    let items = match blocking(move || st.store.list(&repo_path, kind)).await {
        Ok(items) => items,
        Err(e) => return io_error(&e, "listing"),
    };
    let mut out = String::from("[");
    for (i, (name, size)) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if v2 {
            out.push_str(&format!("{{\"name\":{},\"size\":{size}}}", json_string(name)));
        } else {
            out.push_str(&json_string(name));
        }
    }
    out.push(']');
    full(StatusCode::OK, Some(if v2 { MIME_V2 } else { MIME_V1 }), out)
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A single byte range, as HTTP's `Range: bytes=` allows it.
#[derive(Debug, PartialEq, Eq)]
enum Range {
    Whole,
    Part(u64, u64),
    Unsatisfiable,
}

/// Parse `Range` for a file of `size` bytes. Several ranges are answered with
/// the whole file, which HTTP allows; restic asks for one.
fn parse_range(value: Option<&str>, size: u64) -> Range {
    let Some(v) = value else { return Range::Whole };
    let Some(spec) = v.trim().strip_prefix("bytes=") else { return Range::Unsatisfiable };
    if spec.contains(',') {
        return Range::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else { return Range::Unsatisfiable };
    let num =
        |s: &str| if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) { None } else { s.parse::<u64>().ok() };
    let (start, end) = if a.is_empty() {
        // The last n bytes.
        let Some(n) = num(b) else { return Range::Unsatisfiable };
        if n == 0 {
            return Range::Unsatisfiable;
        }
        (size.saturating_sub(n), size.saturating_sub(1))
    } else {
        let Some(start) = num(a) else { return Range::Unsatisfiable };
        let end = if b.is_empty() {
            size.saturating_sub(1)
        } else {
            match num(b) {
                Some(e) if e >= start => e.min(size.saturating_sub(1)),
                _ => return Range::Unsatisfiable,
            }
        };
        (start, end)
    };
    if size == 0 {
        // An empty file overlaps no range; Go serves it whole.
        return Range::Whole;
    }
    if start >= size {
        return Range::Unsatisfiable;
    }
    Range::Part(start, end - start + 1)
}

async fn get(
    st: &Arc<State>,
    req: &Request<Incoming>,
    rel: String,
    labels: Option<(Target, &'static str)>,
    ranges: bool,
) -> Response<Body> {
    let st2 = st.clone();
    let (file, size) = match blocking(move || st2.store.open_file(&rel)).await {
        Ok(f) => f,
        Err(_) => return error(StatusCode::NOT_FOUND),
    };
    let range = if ranges {
        parse_range(req.headers().get(header::RANGE).and_then(|v| v.to_str().ok()), size)
    } else {
        Range::Whole
    };
    let (status, start, len) = match range {
        Range::Whole => (StatusCode::OK, 0, size),
        Range::Part(s, n) => (StatusCode::PARTIAL_CONTENT, s, n),
        Range::Unsatisfiable => {
            let mut r = full(
                StatusCode::RANGE_NOT_SATISFIABLE,
                Some("text/plain; charset=utf-8"),
                "invalid range: failed to overlap\n",
            );
            r.headers_mut().insert(header::CONTENT_RANGE, HeaderValue::from_str(&format!("bytes */{size}")).unwrap());
            return r;
        }
    };
    let (tx, rx) = mpsc::channel(QUEUE);
    let st2 = st.clone();
    tokio::task::spawn_blocking(move || {
        let mut buf = vec![0u8; CHUNK.min(len as usize).max(1)];
        let (mut at, end) = (start, start + len);
        while at < end {
            let want = ((end - at) as usize).min(buf.len());
            match file.read_at(&mut buf[..want], at) {
                Ok(0) => {
                    let _ = tx.blocking_send(Err(io::Error::from(io::ErrorKind::UnexpectedEof)));
                    break;
                }
                Ok(n) => {
                    if tx.blocking_send(Ok(Bytes::copy_from_slice(&buf[..n]))).is_err() {
                        break;
                    }
                    at += n as u64;
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    break;
                }
            }
        }
        if let Some((t, kind)) = labels {
            st2.metrics.add(&t.user, &t.label, kind, Op::Read, at - start);
        }
    });
    let mut r = Response::new(ChannelBody { rx, len }.boxed());
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    if status == StatusCode::PARTIAL_CONTENT {
        let cr = format!("bytes {start}-{}/{size}", start + len - 1);
        h.insert(header::CONTENT_RANGE, HeaderValue::from_str(&cr).unwrap());
    }
    r
}

/// Why an upload failed, as a status.
enum Refused {
    Exists,
    Short,
    BadHash,
    Full,
    Io(io::Error),
}

enum Chunk {
    Data(Vec<u8>),
    End,
}

async fn upload(
    st: &Arc<State>,
    req: Request<Incoming>,
    rel: String,
    verify: Option<String>,
    labels: Option<(Target, &'static str)>,
) -> Response<Body> {
    if let (Some(q), Some(n)) = (&st.quota, req.body().size_hint().exact()) {
        if q.used.load(Ordering::SeqCst) + n > q.max {
            return error(StatusCode::INSUFFICIENT_STORAGE);
        }
    }
    let (tx, rx) = mpsc::channel::<Chunk>(QUEUE);
    let st2 = st.clone();
    let worker = tokio::task::spawn_blocking(move || write_object(&st2, &rel, verify, rx));
    let mut body = req.into_body();
    let mut buf = st.pool.get();
    let mut complete = false;
    'read: loop {
        match body.frame().await {
            Some(Ok(frame)) => {
                let Ok(mut data) = frame.into_data() else { continue };
                while !data.is_empty() {
                    let take = (UPLOAD_BUF - buf.len()).min(data.len());
                    buf.extend_from_slice(&data.split_to(take));
                    if buf.len() == UPLOAD_BUF {
                        let full = std::mem::replace(&mut buf, st.pool.get());
                        if tx.send(Chunk::Data(full)).await.is_err() {
                            break 'read;
                        }
                    }
                }
            }
            Some(Err(e)) => {
                log::debug!("upload body: {e}");
                break;
            }
            None => {
                complete = true;
                break;
            }
        }
    }
    if complete {
        let rest = std::mem::take(&mut buf);
        if rest.is_empty() || tx.send(Chunk::Data(rest)).await.is_ok() {
            let _ = tx.send(Chunk::End).await;
        }
    } else {
        st.pool.put(buf);
    }
    drop(tx);
    let result = match worker.await {
        Ok(r) => r,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    };
    match result {
        Ok(n) => {
            if let Some((t, kind)) = labels {
                st.metrics.add(&t.user, &t.label, kind, Op::Write, n);
            }
            ok()
        }
        Err(Refused::Exists) => error(StatusCode::FORBIDDEN),
        Err(Refused::Short | Refused::BadHash) => error(StatusCode::BAD_REQUEST),
        Err(Refused::Full) => error(StatusCode::INSUFFICIENT_STORAGE),
        Err(Refused::Io(e)) => io_error(&e, "writing"),
    }
}

/// The blocking half of an upload: temporary file, SHA-256 while writing,
/// quota, then commit. Bytes reserved in the quota are given back on failure.
fn write_object(st: &State, rel: &str, verify: Option<String>, mut rx: mpsc::Receiver<Chunk>) -> Result<u64, Refused> {
    let mut up: Upload = st.store.begin_upload(rel).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            Refused::Exists
        } else {
            Refused::Io(e)
        }
    })?;
    let mut hasher = verify.as_ref().map(|_| Sha256::new());
    let mut written = 0u64;
    let refund = |n: u64| {
        if let Some(q) = &st.quota {
            q.release(n)
        }
    };
    let mut ended = false;
    while let Some(chunk) = rx.blocking_recv() {
        let data = match chunk {
            Chunk::Data(d) => d,
            Chunk::End => {
                ended = true;
                break;
            }
        };
        if let Some(q) = &st.quota {
            if !q.reserve(data.len() as u64) {
                refund(written);
                return Err(Refused::Full);
            }
        }
        written += data.len() as u64;
        if let Some(h) = hasher.as_mut() {
            h.update(&data);
        }
        let result = up.write(&data);
        st.pool.put(data);
        if let Err(e) = result {
            refund(written);
            return Err(if repo::is_no_space(&e) { Refused::Full } else { Refused::Io(e) });
        }
    }
    if !ended {
        refund(written);
        return Err(Refused::Short);
    }
    if let (Some(h), Some(id)) = (hasher, verify) {
        let digest = h.finalize();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        if hex != id {
            refund(written);
            return Err(Refused::BadHash);
        }
    }
    match up.commit() {
        Ok(()) => Ok(written),
        Err(e) => {
            refund(written);
            Err(match e.kind() {
                io::ErrorKind::AlreadyExists => Refused::Exists,
                _ if repo::is_no_space(&e) => Refused::Full,
                _ => Refused::Io(e),
            })
        }
    }
}

/// `[10/Oct/2000:13:55:36 +0000]`-style time of the combined log format, in UTC.
fn clf_time(t: SystemTime) -> String {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = (secs / 86400, secs % 86400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!(
        "{day:02}/{}/{year}:{:02}:{:02}:{:02} +0000",
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_rest_server() {
        assert_eq!(split_path("/"), (vec![], "/"));
        assert_eq!(split_path("/config"), (vec![], "/config"));
        assert_eq!(split_path("/data/"), (vec![], "/data/"));
        assert_eq!(split_path("/a/"), (vec!["a"], "/"));
        assert_eq!(split_path("/a/b/keys/x"), (vec!["a", "b"], "/keys/x"));
        assert_eq!(split_path("/a/b/c/"), (vec!["a", "b"], "/c/"));
        assert_eq!(split_path("/a/config"), (vec!["a"], "/config"));
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 10), Range::Whole);
        assert_eq!(parse_range(Some("bytes=0-"), 10), Range::Part(0, 10));
        assert_eq!(parse_range(Some("bytes=2-4"), 10), Range::Part(2, 3));
        assert_eq!(parse_range(Some("bytes=8-100"), 10), Range::Part(8, 2));
        assert_eq!(parse_range(Some("bytes=-3"), 10), Range::Part(7, 3));
        assert_eq!(parse_range(Some("bytes=-30"), 10), Range::Part(0, 10));
        assert_eq!(parse_range(Some("bytes=10-"), 10), Range::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=5-2"), 10), Range::Unsatisfiable);
        assert_eq!(parse_range(Some("items=0-1"), 10), Range::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-1,3-4"), 10), Range::Whole);
    }

    #[test]
    fn decoding_and_time() {
        assert_eq!(percent_decode("/a%2e%2E/b").as_deref(), Some("/a../b"));
        assert_eq!(percent_decode("/%2e%2e/").as_deref(), Some("/../"));
        assert_eq!(percent_decode("/%00"), None);
        assert_eq!(percent_decode("/%zz"), None);
        assert_eq!(
            clf_time(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(971_186_136)),
            "10/Oct/2000:13:55:36 +0000"
        );
    }
}
