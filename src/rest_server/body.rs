//! A download's body: the file read one chunk at a time on a blocking thread,
//! only as fast as the client takes it.

use super::conns::Conn;
use super::metrics::Op;
use super::state::{count, spawn_blocking, Labels, State};
use hyper::body::{Bytes, Frame, SizeHint};
use std::future::Future;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::ready;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

/// A download: the file is read on a blocking thread one chunk at a time, and
/// the next chunk only once the socket has taken the last one, so a client
/// that reads slowly holds neither a thread nor more than a small chunk.
/// Chunks grow (up to [`CHUNK_MAX`]) while the client takes them at once;
/// what they hold above [`CHUNK_MIN`] comes from one budget shared by all
/// downloads, so many slow clients cannot add up to much memory.
pub(super) struct FileBody {
    st: Arc<State>,
    /// For the log, when a read fails midway.
    path: PathBuf,
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
pub(super) const CHUNK_MIN: usize = 4 * 1024;
const CHUNK_MAX: usize = 256 * 1024;
/// Bytes above `CHUNK_MIN` all downloads may hold at once.
const CHUNK_BUDGET: usize = 2 << 20;
static CHUNK_EXTRA: AtomicUsize = AtomicUsize::new(0);

impl FileBody {
    /// A body of `len` bytes: `ready` was read already, `reader` gives the rest;
    /// `conn` tells how fast the socket takes them.
    pub(super) fn new(
        st: Arc<State>,
        path: PathBuf,
        reader: Reader<std::fs::File>,
        ready: Option<Bytes>,
        len: u64,
        conn: Option<Arc<Conn>>,
        labels: Labels,
    ) -> FileBody {
        FileBody {
            st,
            path,
            reader: Some(reader),
            reading: None,
            turn: None,
            ready,
            left: len,
            given: 0,
            conn,
            base: None,
            chunk: CHUNK_MIN,
            given_at: Instant::now(),
            labels,
        }
    }

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
        this.reading = Some(spawn_blocking(move || {
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

/// Chunks of `at..end` of a file. A file that ends early (truncated since it was
/// opened) is an error too: the answer promised `end - at` bytes.
pub(super) struct Reader<F> {
    pub(super) file: F,
    pub(super) at: u64,
    pub(super) end: u64,
    /// Bytes read at most at a time; each chunk is a buffer of its own, so
    /// nothing stays allocated between reads.
    pub(super) chunk: usize,
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
