//! A download's body: the file read one chunk at a time, only as fast as the
//! client takes it; what the page cache holds is read on the event loop, what
//! would wait for the disk on a blocking thread.

use super::conns::{self, Conn};
use super::metrics::Op;
use super::range::{self, Range};
use super::repo::Readable;
use super::state::{count, spawn_blocking, Labels, State};
use hyper::body::{Bytes, Frame, SizeHint};
use std::future::Future;
use std::io;
use std::os::unix::fs::FileExt;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::ready;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

/// A download: the file is read one chunk at a time, and the next chunk only
/// once the socket has taken the last one, so a client that reads slowly holds
/// neither a thread nor more than a small chunk. A chunk the page cache holds
/// is read right away on the event loop (see [`Readable::read_cached`]); one
/// that would wait for the disk is read on a blocking thread.
/// Chunks grow (up to [`CHUNK_MAX`]) while the client takes them at once;
/// what they hold above [`CHUNK_MIN`] comes from one budget shared by all
/// downloads, so many slow clients cannot add up to much memory.
pub(super) struct FileBody {
    st: Arc<State>,
    /// For the log, when a read fails midway.
    rel: String,
    /// `None` while it reads on a blocking thread.
    reader: Option<Reader<Readable>>,
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
type Reading = tokio::task::JoinHandle<(Reader<Readable>, Next)>;

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
        rel: String,
        reader: Reader<Readable>,
        ready: Option<Bytes>,
        len: u64,
        conn: Option<Arc<Conn>>,
        labels: Labels,
    ) -> FileBody {
        FileBody {
            st,
            rel,
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
    /// Hand out what a read gave.
    fn deliver(&mut self, next: Next) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        match next {
            Next::Data(data) => self.give(data),
            Next::Failed(e) => {
                // The status is sent: all that is left is to cut the answer short.
                log::error!("reading {}: {e}; connection aborted", self.st.cfg.path.join(&self.rel).display());
                self.left = 0;
                Poll::Ready(Some(Err(e)))
            }
            Next::End | Next::Wait => Poll::Ready(None),
        }
    }

    fn give(&mut self, data: Bytes) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        conns::transferred();
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
            let (reader, next) = match ready!(Pin::new(r).poll(cx)) {
                Ok(v) => v,
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            };
            this.reading = None;
            this.reader = Some(reader);
            return this.deliver(next);
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
            // What the page cache holds is read right here: no trip to a thread.
            let Some(reader) = this.reader.as_mut() else { return Poll::Ready(None) };
            reader.chunk = this.chunk;
            match reader.read(true) {
                Next::Wait => {}
                next => return this.deliver(next),
            }
        }
        let turn = this.turn.get_or_insert_with(|| Box::pin(reads().acquire_owned()));
        let permit = ready!(turn.as_mut().poll(cx));
        this.turn = None;
        let Some(mut reader) = this.reader.take() else { return Poll::Ready(None) };
        reader.chunk = this.chunk;
        this.reading = Some(spawn_blocking(move || {
            let next = reader.read(false);
            drop(permit);
            (reader, next)
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

/// A download opened: the reader of the part to send (none for a range that
/// cannot be sent), the object's size, the part, and the first chunk (`None`:
/// it is to be read on a blocking thread).
pub(super) struct Start {
    pub(super) reader: Option<Reader<Readable>>,
    pub(super) size: u64,
    pub(super) range: Range,
    pub(super) first: Option<Next>,
}

impl Start {
    /// Open `rel`, work out the part `wanted` asks for (the `Range` header and
    /// whether there is an `If-Range`; `None` where ranges are not honoured),
    /// and read the first chunk. `cached`: only what needs no disk access (on
    /// the event loop): `WouldBlock` when the kernel does not have the name in
    /// memory, and `first` is `None` when it does not have the bytes.
    pub(super) fn new(st: &State, rel: &str, wanted: Option<(Option<Bytes>, bool)>, cached: bool) -> io::Result<Start> {
        let file = st.store.open_object(rel, cached)?;
        let size = file.size;
        let range = match &wanted {
            Some((value, if_range)) => range::parse(value.as_deref(), size, *if_range),
            None => Range::Whole,
        };
        let (start, len) = match range {
            Range::Whole => (0, size),
            Range::Part(s, n) => (s, n),
            Range::Unsatisfiable => return Ok(Start { reader: None, size, range, first: None }),
        };
        let mut reader = Reader { file, at: start, end: start + len, chunk: CHUNK_MIN };
        let first = match reader.read(cached) {
            Next::Wait => None,
            next => Some(next),
        };
        Ok(Start { reader: Some(reader), size, range, first })
    }
}

/// A file read at an offset; `read_cached` reads only what the page cache
/// holds (`None`: the read would wait for the disk).
pub(super) trait Source {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    fn read_cached(&self, _buf: &mut [u8], _offset: u64) -> io::Result<Option<usize>> {
        Ok(None)
    }
}

impl Source for Readable {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.file.read_at(buf, offset)
    }
    fn read_cached(&self, buf: &mut [u8], offset: u64) -> io::Result<Option<usize>> {
        Readable::read_cached(self, buf, offset)
    }
}

/// Chunks of `at..end` of a file. A file that ends early (truncated since it was
/// opened) is an error too: the answer promised `end - at` bytes.
pub(super) struct Reader<F> {
    pub(super) file: F,
    pub(super) at: u64,
    pub(super) end: u64,
    /// Bytes read at most at a time.
    pub(super) chunk: usize,
}

/// What one read of a [`Reader`] gave.
pub(super) enum Next {
    Data(Bytes),
    /// All of it was read.
    End,
    /// A read failed; nothing more comes after it.
    Failed(io::Error),
    /// Only from the page cache, and the page cache does not hold the bytes.
    Wait,
}

impl<F: Source> Reader<F> {
    /// The next chunk; with `cached`, only from the page cache.
    pub(super) fn read(&mut self, cached: bool) -> Next {
        if self.at >= self.end {
            return Next::End;
        }
        let want = ((self.end - self.at) as usize).min(self.chunk.max(1));
        let mut buf = ChunkBuf::new(want);
        let read = if cached {
            match self.file.read_cached(&mut buf.0, self.at) {
                Ok(None) => return Next::Wait,
                Ok(Some(n)) => Ok(n),
                Err(e) => Err(e),
            }
        } else {
            self.file.read_at(&mut buf.0, self.at)
        };
        match read {
            Ok(0) => {
                self.end = self.at;
                Next::Failed(io::Error::new(io::ErrorKind::UnexpectedEof, "the file is shorter than its size"))
            }
            Ok(n) => {
                self.at += n as u64;
                Next::Data(buf.freeze(n))
            }
            Err(e) => {
                self.end = self.at;
                Next::Failed(e)
            }
        }
    }
}

/// Download chunks of the largest size, zeroed once and used again: musl's
/// malloc maps a block this large afresh for every allocation and unmaps it
/// when freed, and each fresh page faults in on its own.
static CHUNKS: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
/// How many the pool keeps: as many as the budget lets all downloads hold.
const CHUNKS_KEEP: usize = CHUNK_BUDGET / CHUNK_MAX;

/// A chunk's buffer: from the pool at [`CHUNK_MAX`], its own below; it goes
/// back to the pool when dropped unsent.
struct ChunkBuf(Vec<u8>);

impl ChunkBuf {
    fn new(len: usize) -> ChunkBuf {
        if len == CHUNK_MAX {
            if let Some(v) = CHUNKS.lock().unwrap().pop() {
                return ChunkBuf(v);
            }
        }
        ChunkBuf(vec![0; len])
    }

    /// Its first `n` bytes, as a chunk whose buffer goes back to the pool once hyper has sent it.
    fn freeze(mut self, n: usize) -> Bytes {
        let mut v = std::mem::take(&mut self.0);
        if v.len() == CHUNK_MAX {
            return Bytes::from_owner(Pooled { v, n });
        }
        v.truncate(n);
        Bytes::from(v)
    }
}

fn recycle(v: Vec<u8>) {
    if v.len() == CHUNK_MAX {
        let mut free = CHUNKS.lock().unwrap();
        if free.len() < CHUNKS_KEEP {
            free.push(v);
        }
    }
}

impl Drop for ChunkBuf {
    fn drop(&mut self) {
        recycle(std::mem::take(&mut self.0));
    }
}

/// A pooled chunk's bytes as hyper holds them.
struct Pooled {
    v: Vec<u8>,
    n: usize,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.v[..self.n]
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        recycle(std::mem::take(&mut self.v));
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

    impl Source for Failing {
        fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
            if offset >= self.fail_at {
                return Err(io::Error::from_raw_os_error(nix::libc::EIO));
            }
            let n = (buf.len() as u64).min(self.len.saturating_sub(offset)).min(self.fail_at - offset) as usize;
            buf[..n].fill(7);
            Ok(n)
        }
    }

    fn chunks(file: Failing, start: u64, len: u64) -> Vec<Result<usize, io::ErrorKind>> {
        let mut reader = Reader { file, at: start, end: start + len, chunk: 4 };
        let mut out = Vec::new();
        loop {
            match reader.read(false) {
                Next::Data(b) => out.push(Ok(b.len())),
                Next::Failed(e) => out.push(Err(e.kind())),
                Next::End => return out,
                Next::Wait => panic!("a blocking read never waits"),
            }
        }
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
