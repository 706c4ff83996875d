//! What each request does to the store: create a repository, list, HEAD, GET,
//! upload, delete. File work runs on tokio's blocking threads one buffer at a
//! time, so a request body or a file is streamed, memory does not grow with
//! blob size, and no thread waits for a slow client.

use super::conns::Conn;
use super::http::{blocking, error, failure, full, length_only, ok, Body, State};
use super::metrics::Op;
use super::range::{self, Range};
use super::repo::Upload;
use http_body_util::BodyExt;
use hyper::body::{Body as _, Bytes, Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use sha2::{Digest, Sha256};
use std::future::Future;
use std::io;
use std::os::unix::fs::FileExt;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::ready;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

const MIME_V2: &str = "application/vnd.x.restic.rest.v2";
const MIME_V1: &str = "application/vnd.x.restic.rest.v1";
/// Upload buffers: their size, and how many the pool keeps between uploads
/// (two per upload: one filling, one being written).
const UPLOAD_BUF: usize = 128 * 1024;
const POOL_KEEP: usize = 16;
/// A body frame this small (a slow client's) goes to a buffer that grows with
/// what arrives, not to a whole pooled one.
const SMALL_FRAME: usize = 16 * 1024;

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
        if buf.capacity() != UPLOAD_BUF {
            return;
        }
        buf.clear();
        let mut free = self.free.lock().unwrap();
        if free.len() < POOL_KEEP {
            free.push(buf);
        }
    }
}

/// A download: the file is read on a blocking thread one chunk at a time, and
/// the next chunk only once the socket has taken the last one, so a client
/// that reads slowly holds neither a thread nor more than a small chunk.
/// Chunks grow (up to [`CHUNK_MAX`]) while the client takes them at once;
/// what they hold above [`CHUNK_MIN`] comes from one budget shared by all
/// downloads, so many slow clients cannot add up to much memory.
struct FileBody {
    st: Arc<State>,
    /// For the log, when a read fails midway.
    path: std::path::PathBuf,
    /// `None` while it reads on a blocking thread.
    reader: Option<Reader<std::fs::File>>,
    reading: Option<Reading>,
    /// Waiting for a turn to read (see [`reads`]).
    turn: Option<Turn>,
    /// A chunk read and not yet handed out (the first one, read before the status).
    ready: Option<Bytes>,
    /// Bytes still to hand out.
    left: u64,
    /// Bytes handed to hyper.
    given: u64,
    conn: Option<Arc<Conn>>,
    /// The connection's written count when this body started.
    base: Option<u64>,
    chunk: usize,
    given_at: Instant,
    labels: Labels,
}

/// Download chunks read at once: the rest of the blocking threads stay free
/// for new requests however many downloads are under way.
const READS_AT_ONCE: usize = 6;

fn reads() -> Arc<tokio::sync::Semaphore> {
    static READS: std::sync::OnceLock<Arc<tokio::sync::Semaphore>> = std::sync::OnceLock::new();
    READS.get_or_init(|| Arc::new(tokio::sync::Semaphore::new(READS_AT_ONCE))).clone()
}

type Turn =
    Pin<Box<dyn Future<Output = Result<tokio::sync::OwnedSemaphorePermit, tokio::sync::AcquireError>> + Send + Sync>>;

/// A chunk being read, and the reader it comes back with.
type Reading = tokio::task::JoinHandle<(Reader<std::fs::File>, Option<io::Result<Bytes>>)>;

/// Chunk sizes of a download.
const CHUNK_MIN: usize = 4 * 1024;
const CHUNK_MAX: usize = 256 * 1024;
/// Bytes above `CHUNK_MIN` all downloads may hold at once.
const CHUNK_BUDGET: usize = 2 << 20;
static CHUNK_EXTRA: AtomicUsize = AtomicUsize::new(0);

impl FileBody {
    /// Bytes handed to hyper that the socket has not taken yet.
    fn outstanding(&mut self) -> u64 {
        let Some(c) = &self.conn else { return 0 };
        let base = *self.base.get_or_insert(c.written());
        self.given.saturating_sub(c.written() - base)
    }

    /// Change the chunk size, taking or giving back budget.
    fn resize(&mut self, to: usize) {
        let (old, new) = (self.chunk - CHUNK_MIN, to - CHUNK_MIN);
        if new > old {
            let more = new - old;
            let got = CHUNK_EXTRA.fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held + more <= CHUNK_BUDGET).then_some(held + more)
            });
            if got.is_err() {
                return;
            }
        } else {
            CHUNK_EXTRA.fetch_sub(old - new, Ordering::AcqRel);
        }
        self.chunk = to;
    }
}

impl Drop for FileBody {
    fn drop(&mut self) {
        self.resize(CHUNK_MIN);
        count(&self.st, &self.labels, Op::Read, self.given);
    }
}

impl FileBody {
    fn give(&mut self, data: Bytes) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        // Counted from before the first chunk: bytes written earlier (the head)
        // only make the count look drained sooner, never stuck.
        self.outstanding();
        self.left = self.left.saturating_sub(data.len() as u64);
        self.given += data.len() as u64;
        self.given_at = Instant::now();
        Poll::Ready(Some(Ok(Frame::data(data))))
    }
}

impl hyper::body::Body for FileBody {
    type Data = Bytes;
    type Error = io::Error;
    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        let this = &mut *self;
        if let Some(data) = this.ready.take() {
            return this.give(data);
        }
        if let Some(r) = &mut this.reading {
            let (reader, item) = match ready!(Pin::new(r).poll(cx)) {
                Ok(v) => v,
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            };
            this.reading = None;
            this.reader = Some(reader);
            return match item {
                Some(Ok(data)) => this.give(data),
                Some(Err(e)) => {
                    // The status is sent: all that is left is to cut the answer short.
                    log::error!("reading {}: {e}; connection aborted", this.path.display());
                    this.left = 0;
                    Poll::Ready(Some(Err(e)))
                }
                None => Poll::Ready(None),
            };
        }
        if this.left == 0 {
            return Poll::Ready(None);
        }
        if this.outstanding() > 0 {
            if let Some(c) = &this.conn {
                c.wake_on_write(cx.waker());
            }
            // The socket may have taken the rest meanwhile.
            if this.outstanding() > 0 {
                return Poll::Pending;
            }
        }
        if this.turn.is_none() {
            match this.given_at.elapsed() {
                t if t < Duration::from_millis(2) => this.resize((this.chunk * 2).min(CHUNK_MAX)),
                t if t > Duration::from_millis(50) => this.resize(CHUNK_MIN),
                _ => {}
            }
        }
        let turn = this.turn.get_or_insert_with(|| Box::pin(reads().acquire_owned()));
        let permit = ready!(turn.as_mut().poll(cx));
        this.turn = None;
        let Some(mut reader) = this.reader.take() else { return Poll::Ready(None) };
        reader.chunk = this.chunk;
        this.reading = Some(tokio::task::spawn_blocking(move || {
            let item = reader.next();
            drop(permit);
            (reader, item)
        }));
        self.poll_frame(cx)
    }
    fn is_end_stream(&self) -> bool {
        self.left == 0 && self.ready.is_none()
    }
    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
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
    let reader = Reader { file, at: start, end: start + len, chunk: CHUNK_MIN };
    let (reader, first) = blocking(move || {
        let mut reader = reader;
        let first = reader.next();
        (reader, first)
    })
    .await;
    let ready = match first {
        Some(Err(e)) => {
            log::error!("reading {}: {e}", path.display());
            return error(StatusCode::INTERNAL_SERVER_ERROR);
        }
        Some(Ok(b)) => Some(b),
        None => None,
    };
    let body = FileBody {
        st: st.clone(),
        path,
        reader: Some(reader),
        reading: None,
        turn: None,
        ready,
        left: len,
        given: 0,
        conn: req.extensions().get::<Arc<Conn>>().cloned(),
        base: None,
        chunk: CHUNK_MIN,
        given_at: Instant::now(),
        labels,
    };
    let mut r = Response::new(body.boxed());
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
    /// Bytes read at most at a time; each chunk is a buffer of its own, so
    /// nothing stays allocated between reads.
    chunk: usize,
}

impl<F: FileExt> Iterator for Reader<F> {
    type Item = io::Result<Bytes>;

    fn next(&mut self) -> Option<io::Result<Bytes>> {
        if self.at >= self.end {
            return None;
        }
        let want = ((self.end - self.at) as usize).min(self.chunk.max(1));
        let mut buf = vec![0u8; want];
        let result = match self.file.read_at(&mut buf, self.at) {
            Ok(0) => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the file is shorter than its size")),
            Ok(n) => {
                self.at += n as u64;
                buf.truncate(n);
                Ok(Bytes::from(buf))
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

/// An upload's file side: the temporary file, the SHA-256 so far,
/// the bytes taken from the quota. It moves to a blocking thread for each
/// buffer and comes back; dropped before [`Sink::finish`], it removes the
/// temporary file and gives the bytes back.
struct Sink {
    st: Arc<State>,
    rel: String,
    up: Option<Upload>,
    hasher: Option<Sha256>,
    written: u64,
    committed: bool,
}

impl Sink {
    /// Hash and write one buffer (blocking), then return it to the pool.
    fn write(&mut self, data: Vec<u8>) -> Result<(), Refused> {
        let r = self.write_inner(&data);
        self.st.pool.put(data);
        r
    }

    fn write_inner(&mut self, data: &[u8]) -> Result<(), Refused> {
        let up = match &mut self.up {
            Some(up) => up,
            None => self.up.insert(self.st.store.begin_upload(&self.rel).map_err(Refused::Io)?),
        };
        if data.is_empty() {
            return Ok(());
        }
        if let Some(q) = &self.st.quota {
            if !q.reserve(data.len() as u64) {
                return Err(Refused::Full);
            }
        }
        if !self.st.repostats.reserve(&self.rel, data.len() as u64) {
            if let Some(q) = &self.st.quota {
                q.release(data.len() as u64);
            }
            return Err(Refused::Full);
        }
        self.written += data.len() as u64;
        if let Some(h) = self.hasher.as_mut() {
            h.update(data);
        }
        up.write(data).map_err(Refused::Io)
    }

    /// Check the hash against the name and make the object (blocking).
    fn finish(mut self, verify: Option<String>) -> Result<u64, Refused> {
        self.write_inner(&[])?;
        if let (Some(h), Some(id)) = (self.hasher.take(), verify) {
            let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
            if hex != id {
                return Err(Refused::BadHash);
            }
        }
        let change = self.st.repostats.begin(&self.rel);
        self.up.take().expect("opened above").commit().map_err(Refused::Io)?;
        self.committed = true;
        let (st, rel) = (&self.st, self.rel.as_str());
        st.repostats.release(rel, self.written);
        change.added(self.written, || st.store.open_file(rel).ok()?.0.metadata().ok()?.modified().ok());
        Ok(self.written)
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        if !self.committed {
            if let Some(q) = &self.st.quota {
                q.release(self.written);
            }
            self.st.repostats.release(&self.rel, self.written);
        }
    }
}

/// A buffer being written, and the sink it comes back with.
type Writing = tokio::task::JoinHandle<(Sink, Result<(), Refused>)>;

/// Wait for the buffer in flight, if any; its sink, or why the upload failed.
async fn landed(writing: &mut Option<Writing>, sink: &mut Option<Sink>) -> Result<(), Refused> {
    if let Some(w) = writing.take() {
        let (s, r) = match w.await {
            Ok(v) => v,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        };
        *sink = Some(s);
        r?;
    }
    Ok(())
}

/// POST an object or `config`; `verify` is the name the content's SHA-256 must have.
///
/// The body is read on the event loop into pooled buffers; each full buffer
/// is hashed and written on a blocking thread while the next one fills. While
/// the client is slow no thread waits for it, and a buffer only grows as its
/// bytes arrive.
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
    let mut sink = Some(Sink {
        st: st.clone(),
        rel,
        up: None,
        hasher: verify.as_ref().map(|_| Sha256::new()),
        written: 0,
        committed: false,
    });
    // The temporary file is opened while the body starts to arrive; a refusal
    // (the object exists, no such repository) ends the upload without reading on.
    let mut s = sink.take().expect("new");
    let mut writing: Option<Writing> = Some(tokio::task::spawn_blocking(move || {
        let r = s.write_inner(&[]);
        (s, r)
    }));
    let mut body = req.into_body();
    let mut buf = Vec::new();
    let result = 'read: loop {
        match body.frame().await {
            Some(Ok(frame)) => {
                if writing.as_ref().is_some_and(|w| w.is_finished()) {
                    if let Err(e) = landed(&mut writing, &mut sink).await {
                        break 'read Err(e);
                    }
                }
                let Ok(mut data) = frame.into_data() else { continue };
                while !data.is_empty() {
                    if buf.capacity() == 0 && data.len() >= SMALL_FRAME {
                        buf = st.pool.get();
                    }
                    let take = (UPLOAD_BUF - buf.len()).min(data.len());
                    buf.extend_from_slice(&data.split_to(take));
                    if buf.len() == UPLOAD_BUF {
                        if let Err(e) = landed(&mut writing, &mut sink).await {
                            break 'read Err(e);
                        }
                        let (mut s, full) = (sink.take().expect("back"), std::mem::take(&mut buf));
                        writing = Some(tokio::task::spawn_blocking(move || {
                            let r = s.write(full);
                            (s, r)
                        }));
                    }
                }
            }
            Some(Err(e)) => {
                log::debug!("upload body: {e}");
                break Err(Refused::Short);
            }
            None => break Ok(()),
        }
    };
    let result = match (result, landed(&mut writing, &mut sink).await) {
        (Ok(()), Ok(())) => {
            let mut s = sink.take().expect("back");
            blocking(move || s.write(buf).and_then(|()| s.finish(verify))).await
        }
        (Err(e), _) | (_, Err(e)) => {
            // Removing the temporary file is a system call: not on the event loop.
            let s = sink.take();
            st.pool.put(buf);
            blocking(move || drop(s)).await;
            Err(e)
        }
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
        let reader = Reader { file, at: start, end: start + len, chunk: 4 };
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
