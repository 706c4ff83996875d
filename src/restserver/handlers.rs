//! What each request does to the store: create a repository, list, HEAD, GET,
//! upload, delete. File work runs on tokio's blocking threads, fed through small
//! channels, so a request body or a file is streamed and memory does not grow
//! with blob size.

use super::http::{blocking, error, failure, full, length_only, ok, Body, State};
use super::metrics::Op;
use super::range::{self, Range};
use super::repo::Upload;
use http_body_util::BodyExt;
use hyper::body::{Body as _, Bytes, Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use sha2::{Digest, Sha256};
use std::io;
use std::os::unix::fs::FileExt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use tokio::sync::mpsc;

const MIME_V2: &str = "application/vnd.x.restic.rest.v2";
const MIME_V1: &str = "application/vnd.x.restic.rest.v1";
/// Chunks of a file sent to a client, and how many may wait in a channel.
const CHUNK: usize = 64 * 1024;
const QUEUE: usize = 4;
/// Upload buffers: their size, and how many the pool keeps between uploads.
const UPLOAD_BUF: usize = 256 * 1024;
const POOL_KEEP: usize = 48;

/// The repository a request is for, and the labels its metrics get.
pub(super) struct Target {
    pub(super) repo: String,
    pub(super) label: String,
    pub(super) user: String,
}

/// An object's metric labels: its repository and type; `None` for `config`,
/// which rest-server does not count.
pub(super) type Labels = Option<(Target, &'static str)>;

fn count(st: &State, labels: &Labels, op: Op, bytes: u64) {
    if let Some((t, kind)) = labels {
        st.metrics.add(&t.user, &t.label, kind, op, bytes);
    }
}

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

/// `POST {repo}/?create=true`.
pub(super) async fn create_repo(st: &Arc<State>, repo_path: String) -> Response<Body> {
    let folder = st.cfg.path.join(&repo_path);
    log::info!("Creating repository directories in {}", folder.display());
    let st = st.clone();
    match blocking(move || st.store.create_repo(&repo_path)).await {
        Ok(()) => ok(),
        Err(e) => failure(&e, &format!("creating repository {}", folder.display())),
    }
}

pub(super) async fn head(st: &Arc<State>, rel: String) -> Response<Body> {
    let st2 = st.clone();
    let what = format!("opening {}", st.cfg.path.join(&rel).display());
    match blocking(move || st2.store.open_file(&rel).map(|(_, n)| n)).await {
        Ok(n) => length_only(n),
        Err(e) => failure(&e, &what),
    }
}

pub(super) async fn list(
    st: &Arc<State>,
    req: &Request<Incoming>,
    repo_path: &str,
    kind: &'static str,
) -> Response<Body> {
    let v2 = req.headers().get(header::ACCEPT).is_some_and(|a| a.as_bytes() == MIME_V2.as_bytes());
    let what = format!("listing {}", st.cfg.path.join(repo_path).join(kind).display());
    let st = st.clone();
    let repo_path = repo_path.to_string();
    let items = match blocking(move || st.store.list(&repo_path, kind)).await {
        Ok(items) => items,
        Err(e) => return failure(&e, &what),
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

/// GET an object (`ranges`: honour `Range`, which rest-server does for objects, not `config`).
/// The first chunk is read before the status is sent, so a file that cannot be
/// read gives 500; an error after that aborts the connection (the client sees a
/// body shorter than its Content-Length, never a complete-looking answer).
pub(super) async fn get(
    st: &Arc<State>,
    req: &Request<Incoming>,
    rel: String,
    labels: Labels,
    ranges: bool,
) -> Response<Body> {
    let path = st.cfg.path.join(&rel);
    let st2 = st.clone();
    let (file, size) = match blocking(move || st2.store.open_file(&rel)).await {
        Ok(f) => f,
        Err(e) => return failure(&e, &format!("opening {}", path.display())),
    };
    let range = if ranges {
        let h = req.headers();
        range::parse(h.get(header::RANGE).map(|v| v.as_bytes()), size, h.contains_key(header::IF_RANGE))
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
    let mut reader = Reader { file, at: start, end: start + len, buf: vec![0u8; CHUNK.min(len as usize).max(1)] };
    let (reader, first) = blocking(move || {
        let first = reader.next();
        (reader, first)
    })
    .await;
    let first = match first {
        Some(Err(e)) => {
            log::error!("reading {}: {e}", path.display());
            return error(StatusCode::INTERNAL_SERVER_ERROR);
        }
        other => other,
    };
    let (tx, rx) = mpsc::channel(QUEUE);
    let st2 = st.clone();
    tokio::task::spawn_blocking(move || {
        let mut reader = reader;
        for chunk in first.into_iter().chain(std::iter::from_fn(|| reader.next())) {
            let failed = chunk.as_ref().err().map(|e| e.to_string());
            if tx.blocking_send(chunk).is_err() {
                break;
            }
            if let Some(e) = failed {
                log::error!("reading {}: {e}; connection aborted", path.display());
                break;
            }
        }
        count(&st2, &labels, Op::Read, reader.at - start);
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

/// Chunks of `at..end` of a file. A file that ends early (truncated since it was
/// opened) is an error too: the answer promised `end - at` bytes.
struct Reader<F> {
    file: F,
    at: u64,
    end: u64,
    buf: Vec<u8>,
}

impl<F: FileExt> Iterator for Reader<F> {
    type Item = io::Result<Bytes>;

    fn next(&mut self) -> Option<io::Result<Bytes>> {
        if self.at >= self.end {
            return None;
        }
        let want = ((self.end - self.at) as usize).min(self.buf.len());
        let result = match self.file.read_at(&mut self.buf[..want], self.at) {
            Ok(0) => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the file is shorter than its size")),
            Ok(n) => {
                self.at += n as u64;
                Ok(Bytes::copy_from_slice(&self.buf[..n]))
            }
            Err(e) => Err(e),
        };
        if result.is_err() {
            // Nothing more after an error.
            self.end = self.at;
        }
        Some(result)
    }
}

/// DELETE an object or `config`: the space goes back to the quota and counted
/// types are counted. A missing object is fine (200), a missing `config` is 404.
pub(super) async fn delete(st: &Arc<State>, rel: String, labels: Labels) -> Response<Body> {
    let what = format!("deleting {}", st.cfg.path.join(&rel).display());
    let st2 = st.clone();
    let deleted = blocking(move || {
        let change = st2.repostats.begin(&rel);
        let r = st2.store.delete(&rel);
        if let Ok(Some(n)) = r {
            change.removed(n);
        }
        r
    });
    match deleted.await {
        Ok(Some(n)) => {
            if let Some(q) = &st.quota {
                q.release(n);
            }
            count(st, &labels, Op::Delete, n);
            ok()
        }
        Ok(None) if labels.is_none() => error(StatusCode::NOT_FOUND),
        Ok(None) => ok(),
        Err(e) => failure(&e, &what),
    }
}

/// Why an upload failed, besides the store's own errors.
enum Refused {
    /// The body ended before its length.
    Short,
    /// The content's SHA-256 is not the object's name.
    BadHash,
    /// Over `--max-size`.
    Full,
    Io(io::Error),
}

enum Chunk {
    Data(Vec<u8>),
    End,
}

/// POST an object or `config`; `verify` is the name the content's SHA-256 must have.
pub(super) async fn upload(
    st: &Arc<State>,
    req: Request<Incoming>,
    rel: String,
    verify: Option<String>,
    labels: Labels,
) -> Response<Body> {
    let what = format!("writing {}", st.cfg.path.join(&rel).display());
    if let (Some(q), Some(n)) = (&st.quota, req.body().size_hint().exact()) {
        if q.would_exceed(n) {
            return error(StatusCode::INSUFFICIENT_STORAGE);
        }
    }
    if let Some(n) = req.body().size_hint().exact() {
        if !st.repostats.admit(&rel, n).await {
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
            count(st, &labels, Op::Write, n);
            ok()
        }
        Err(Refused::Short | Refused::BadHash) => error(StatusCode::BAD_REQUEST),
        Err(Refused::Full) => error(StatusCode::INSUFFICIENT_STORAGE),
        Err(Refused::Io(e)) => failure(&e, &what),
    }
}

/// The blocking half of an upload: temporary file, SHA-256 while writing,
/// quota, then commit. Bytes reserved in the quota are given back on failure.
fn write_object(st: &State, rel: &str, verify: Option<String>, mut rx: mpsc::Receiver<Chunk>) -> Result<u64, Refused> {
    let mut up: Upload = st.store.begin_upload(rel).map_err(Refused::Io)?;
    let mut hasher = verify.as_ref().map(|_| Sha256::new());
    let mut written = 0u64;
    let refund = |n: u64| {
        if let Some(q) = &st.quota {
            q.release(n)
        }
        st.repostats.release(rel, n);
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
        if !st.repostats.reserve(rel, data.len() as u64) {
            if let Some(q) = &st.quota {
                q.release(data.len() as u64);
            }
            refund(written);
            return Err(Refused::Full);
        }
        written += data.len() as u64;
        if let Some(h) = hasher.as_mut() {
            h.update(&data);
        }
        let result = up.write(&data);
        st.pool.put(data);
        if let Err(e) = result {
            refund(written);
            return Err(Refused::Io(e));
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
    let change = st.repostats.begin(rel);
    match up.commit() {
        Ok(()) => {
            st.repostats.release(rel, written);
            change.added(written, || st.store.open_file(rel).ok()?.0.metadata().ok()?.modified().ok());
            Ok(written)
        }
        Err(e) => {
            drop(change);
            refund(written);
            Err(Refused::Io(e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of `len` bytes of 7s whose reads fail from `fail_at` on.
    struct Failing {
        len: u64,
        fail_at: u64,
    }

    impl FileExt for Failing {
        fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
            if offset >= self.fail_at {
                return Err(io::Error::from_raw_os_error(nix::libc::EIO));
            }
            let n = (buf.len() as u64).min(self.len.saturating_sub(offset)).min(self.fail_at - offset) as usize;
            buf[..n].fill(7);
            Ok(n)
        }
        fn write_at(&self, _: &[u8], _: u64) -> io::Result<usize> {
            unreachable!()
        }
    }

    fn chunks(file: Failing, start: u64, len: u64) -> Vec<Result<usize, io::ErrorKind>> {
        let reader = Reader { file, at: start, end: start + len, buf: vec![0; 4] };
        reader.map(|c| c.map(|b| b.len()).map_err(|e| e.kind())).collect()
    }

    #[test]
    fn a_read_error_is_the_last_chunk() {
        assert_eq!(chunks(Failing { len: 10, fail_at: 99 }, 0, 10), [Ok(4), Ok(4), Ok(2)]);
        assert_eq!(chunks(Failing { len: 10, fail_at: 99 }, 3, 5), [Ok(4), Ok(1)]);
        // Fails at once: the first chunk is the error, which GET answers with 500.
        assert!(matches!(chunks(Failing { len: 10, fail_at: 0 }, 0, 10)[..], [Err(_)]));
        // Fails midway: what was read, then the error, then nothing.
        let c = chunks(Failing { len: 10, fail_at: 6 }, 0, 10);
        assert!(matches!(c[..], [Ok(4), Ok(2), Err(_)]), "{c:?}");
        // Truncated since it was opened: an error, not a short end.
        assert_eq!(chunks(Failing { len: 5, fail_at: 99 }, 0, 10), [Ok(4), Ok(1), Err(io::ErrorKind::UnexpectedEof)]);
    }
}
