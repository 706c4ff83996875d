//! Listings (`GET {repo}/{type}/`), streamed: the JSON array goes out as the
//! folders are read, a batch at a time on a blocking thread, the next batch
//! only once the socket has taken the last one. Memory holds one batch however
//! many objects there are, a slow disk shows the client bytes from the first
//! folder on, and a client that hangs up stops the walk. A listing that fits
//! in one batch is answered whole, with a Content-Length, as the Go server
//! answers small ones. The bytes are the Go server's: the same JSON, the same
//! escapes.

use super::conns::{self, Conn, Pace, Working};
use super::repo::Listing;
use super::response::{failure, full, Body};
use super::state::{blocking, spawn_blocking, State};
use http_body_util::BodyExt;
use hyper::body::{Bytes, Frame};
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

pub(super) const MIME_V2: &str = "application/vnd.x.restic.rest.v2";
const MIME_V1: &str = "application/vnd.x.restic.rest.v1";

/// Objects read (and stat'ed) at most per batch: a folder of up to this many
/// comes in one piece, sorted as the Go server sorts it.
const BATCH: usize = 1024;

/// Listing batches read at once: the other blocking threads stay free for
/// downloads and uploads however many listings run.
const BATCHES_AT_ONCE: usize = 4;

fn batches() -> Arc<tokio::sync::Semaphore> {
    static BATCHES: std::sync::OnceLock<Arc<tokio::sync::Semaphore>> = std::sync::OnceLock::new();
    BATCHES.get_or_init(|| Arc::new(tokio::sync::Semaphore::new(BATCHES_AT_ONCE))).clone()
}

type Turn =
    Pin<Box<dyn Future<Output = Result<tokio::sync::OwnedSemaphorePermit, tokio::sync::AcquireError>> + Send + Sync>>;

/// A batch being read, and the walk it comes back with.
type Reading = tokio::task::JoinHandle<(Walk, io::Result<Option<Bytes>>)>;

/// Set when dropped: the walk gives up at its next file.
struct Stop(Arc<AtomicBool>);

impl Drop for Stop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// `GET {repo}/{kind}/`: restic's v2 listing (names and sizes) or v1 (names).
/// The first batch is read before the status is sent, so a folder that cannot
/// be read gives 500; an error after that aborts the response: the client sees
/// a chunked body without its end, never a complete-looking short list
/// (restic would take the missing packs for deleted ones).
pub(super) async fn answer(
    st: &Arc<State>,
    conn: Option<Arc<Conn>>,
    repo_path: &str,
    kind: &'static str,
    v2: bool,
) -> Response<Body> {
    let what = format!("listing {}", st.cfg.path.join(repo_path).join(kind).display());
    let stop = Stop(Arc::new(AtomicBool::new(false)));
    let (st2, repo_path, flag) = (st.clone(), repo_path.to_string(), stop.0.clone());
    let first = blocking(move || {
        let mut walk =
            Walk { listing: st2.store.listing(&repo_path, kind, v2)?.into(), v2, started: false, done: false };
        // Not done yet: the first chunk holds at least the opening bracket.
        let chunk = walk.next_chunk(&flag)?.unwrap_or_default();
        Ok::<_, io::Error>((walk, chunk))
    });
    let (walk, chunk) = match first.await {
        Ok(first) => first,
        Err(e) => return failure(&e, &what),
    };
    let mime = if v2 { MIME_V2 } else { MIME_V1 };
    if walk.done {
        return full(StatusCode::OK, Some(mime), chunk);
    }
    let body =
        ListBody { walk: Some(walk), reading: None, turn: None, ready: Some(chunk), pace: Pace::new(conn), stop, what };
    let mut r = Response::new(body.boxed());
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    r
}

/// A listing being written as JSON.
struct Walk {
    /// In a mutex only to be `Sync`, as response bodies must be (a folder
    /// being read is not); it is only ever used through `&mut`.
    listing: std::sync::Mutex<Listing>,
    v2: bool,
    /// The opening bracket is out.
    started: bool,
    /// The closing bracket is out.
    done: bool,
}

impl Walk {
    /// The next piece of the array: the opening bracket with the first batch,
    /// then a batch at a time, the last with the closing bracket; `None` after it.
    fn next_chunk(&mut self, stop: &AtomicBool) -> io::Result<Option<Bytes>> {
        if self.done {
            return Ok(None);
        }
        let listing = self.listing.get_mut().unwrap_or_else(|e| e.into_inner());
        let batch = listing.next_batch(BATCH, stop)?;
        let mut out = Vec::with_capacity(batch.len() * if self.v2 { 96 } else { 70 } + 2);
        if !self.started {
            out.push(b'[');
        }
        for (i, (name, size)) in batch.iter().enumerate() {
            if self.started || i > 0 {
                out.push(b',');
            }
            if self.v2 {
                out.extend_from_slice(b"{\"name\":");
                push_json_string(&mut out, name);
                out.extend_from_slice(format!(",\"size\":{size}}}").as_bytes());
            } else {
                push_json_string(&mut out, name);
            }
        }
        self.started = true;
        if batch.is_empty() {
            out.push(b']');
            self.done = true;
        }
        Ok(Some(Bytes::from(out)))
    }
}

/// `s` as Go's encoding/json writes a string, as rest-server's listings do:
/// `"` and `\` escaped, `\b \f \n \r \t`, other control characters as
/// `\u00xx`, and (HTML-safe) `<`, `>`, `&`, U+2028 and U+2029 as `\u` escapes.
fn push_json_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 || matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}') => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
            }
            c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    out.push(b'"');
}

/// A listing's body after its first batch.
struct ListBody {
    /// `None` while a batch is read, and after an error.
    walk: Option<Walk>,
    reading: Option<Reading>,
    /// Waiting for a turn to read (see [`batches`]): the server's wait, not the client's.
    turn: Option<(Turn, Option<Working>)>,
    /// A chunk read and not yet handed out (the first one).
    ready: Option<Bytes>,
    pace: Pace,
    stop: Stop,
    /// For the log, when the disk fails midway.
    what: String,
}

impl ListBody {
    fn give(&mut self, chunk: Bytes) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        self.pace.gave(chunk.len());
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }
}

impl hyper::body::Body for ListBody {
    type Data = Bytes;
    type Error = io::Error;
    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        let this = &mut *self;
        if let Some(chunk) = this.ready.take() {
            return this.give(chunk);
        }
        if let Some(r) = &mut this.reading {
            let (walk, item) = match ready!(Pin::new(r).poll(cx)) {
                Ok(v) => v,
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            };
            this.reading = None;
            return match item {
                Ok(Some(chunk)) => {
                    this.walk = Some(walk);
                    this.give(chunk)
                }
                Ok(None) => Poll::Ready(None),
                Err(e) => {
                    // The status is sent: all that is left is to cut the answer short.
                    log::error!("{}: {e}; response aborted", this.what);
                    Poll::Ready(Some(Err(e)))
                }
            };
        }
        match &this.walk {
            Some(w) if !w.done => {}
            _ => return Poll::Ready(None),
        }
        ready!(this.pace.poll_taken(cx));
        let (turn, _) = this.turn.get_or_insert_with(|| (Box::pin(batches().acquire_owned()), conns::working()));
        let permit = ready!(turn.as_mut().poll(cx));
        this.turn = None;
        let (mut walk, stop) = (this.walk.take().expect("checked above"), this.stop.0.clone());
        this.reading = Some(spawn_blocking(move || {
            let item = walk.next_chunk(&stop);
            drop(permit);
            (walk, item)
        }));
        self.poll_frame(cx)
    }
    fn is_end_stream(&self) -> bool {
        self.ready.is_none() && self.reading.is_none() && self.walk.as_ref().map_or(true, |w| w.done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(s: &str) -> String {
        let mut out = Vec::new();
        push_json_string(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_as_go_writes_them() {
        // What Go 1.22+'s json.Marshal gives for the same strings.
        assert_eq!(json(&"ab".repeat(32)), format!("\"{}\"", "ab".repeat(32)));
        assert_eq!(json("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(json("\u{8}\u{c}\n\r\t"), r#""\b\f\n\r\t""#);
        assert_eq!(json("\u{0}\u{1f}\u{7f}"), "\"\\u0000\\u001f\u{7f}\"");
        assert_eq!(json("<a&b>"), r#""\u003ca\u0026b\u003e""#);
        assert_eq!(json("\u{2028}\u{2029}é€😀"), "\"\\u2028\\u2029é€😀\"");
    }
}
