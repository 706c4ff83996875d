//! Open connections: when each last moved a byte, and whether the server is
//! working for it (a connection is idle only while the server waits for its
//! client: the idle timeout is measured from the later of the last byte and the
//! end of the last piece of work, not from a periodic tick), how many bytes of
//! a response the socket has taken (downloads and listings go only as fast as
//! the client reads), and a limit on their number below the descriptor limit:
//! at the limit, the connection idle longest is dropped, so new clients still get in.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

/// Descriptors kept for what is not a connection: the listener, the data
/// folder, the log, the runtime, folders being listed.
const RESERVED_FDS: u64 = 64;
/// Descriptors one connection may hold: its socket, and while uploading the
/// temporary file and its folder (a download holds its file).
const FDS_PER_CONN: u64 = 3;

/// Raise the soft `RLIMIT_NOFILE` to the hard limit (as the Go runtime does)
/// and return the soft limit in force.
pub fn raise_nofile() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else { return 1024 };
    if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        return hard;
    }
    soft
}

/// How many connections a descriptor limit leaves room for.
pub fn limit_for(nofile: u64) -> usize {
    (nofile.saturating_sub(RESERVED_FDS) / FDS_PER_CONN).clamp(1, 1 << 20) as usize
}

/// All open connections.
pub struct Registry {
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    next: AtomicU64,
    max: usize,
    epoch: Instant,
}

/// One connection's activity.
pub struct Conn {
    /// Milliseconds after the registry's epoch of the last byte moved.
    last: AtomicU64,
    /// Bytes the socket has taken from the server.
    written: AtomicU64,
    /// Requests being answered.
    busy: AtomicUsize,
    /// Pieces of work the server is doing for the connection (a file opened,
    /// a folder listed, an fsync): while one runs, the connection is not idle.
    working: AtomicUsize,
    /// Told to end, to make room for a new connection.
    pub evicted: Notify,
    /// A download waiting for the socket to take what it was given.
    drained: Mutex<Option<Waker>>,
    epoch: Instant,
}

/// When an upload or a download last moved a body's bytes, in milliseconds
/// after [`traffic_epoch`] (the scrub reads slower meanwhile); `u64::MAX`
/// until the first.
static LAST_TRAFFIC: AtomicU64 = AtomicU64::new(u64::MAX);

fn traffic_epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// An upload or download moved some of its body's bytes.
pub fn transferred() {
    LAST_TRAFFIC.store(traffic_epoch().elapsed().as_millis() as u64, Ordering::Relaxed);
}

/// Whether an upload or download moved bytes within the last `d`.
pub fn traffic_within(d: Duration) -> bool {
    match LAST_TRAFFIC.load(Ordering::Relaxed) {
        u64::MAX => false,
        ms => traffic_epoch().elapsed().saturating_sub(Duration::from_millis(ms)) < d,
    }
}

impl Conn {
    fn touch(&self) {
        self.last.store(self.epoch.elapsed().as_millis() as u64, Ordering::Release);
    }

    /// When the connection last moved a byte or the server last finished work for it.
    pub fn last_active(&self) -> Instant {
        self.epoch + Duration::from_millis(self.last.load(Ordering::Acquire))
    }

    /// Since when the connection has been waiting for its client; `None` while
    /// the server works for it.
    pub fn idle_since(&self) -> Option<Instant> {
        (self.working.load(Ordering::Acquire) == 0).then(|| self.last_active())
    }

    /// Bytes the socket has taken so far.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// Wake `w` when the socket takes more bytes.
    pub fn wake_on_write(&self, w: &Waker) {
        *self.drained.lock().unwrap() = Some(w.clone());
    }

    /// Mark a request in progress until the guard is dropped.
    pub fn busy(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Ordering::Relaxed);
        Busy(self.clone())
    }
}

/// A request in progress on a connection.
pub struct Busy(Arc<Conn>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Work the server does for a connection; when the last one ends, the idle
/// time starts again from that moment.
pub struct Working(Arc<Conn>);

impl Drop for Working {
    fn drop(&mut self) {
        // The end of the work first: whoever sees no work left sees this moment too.
        self.0.touch();
        self.0.working.fetch_sub(1, Ordering::AcqRel);
    }
}

tokio::task_local! {
    /// The connection whose requests and responses are being served.
    static CONN: Arc<Conn>;
}

/// A connection's serving (hyper's connection future, which polls the
/// requests and their response bodies), polled with its [`Conn`] as the one
/// [`working`] finds.
pub struct Serving<F> {
    conn: Arc<Conn>,
    pub inner: F,
}

impl<F> Serving<F> {
    pub fn new(conn: Arc<Conn>, inner: F) -> Serving<F> {
        Serving { conn, inner }
    }
}

impl<F: Future + Unpin> Future for Serving<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        CONN.sync_scope(this.conn.clone(), || Pin::new(&mut this.inner).poll(cx))
    }
}

/// Mark work for the connection being served (none outside [`Serving`])
/// until the guard is dropped.
pub fn working() -> Option<Working> {
    CONN.try_with(|c| {
        c.working.fetch_add(1, Ordering::AcqRel);
        Working(c.clone())
    })
    .ok()
}

/// How much of what a response body handed to hyper the socket has taken. A
/// body that hands out its next chunk only once the last one is taken holds
/// one chunk per connection, however slowly the client reads.
pub struct Pace {
    conn: Option<Arc<Conn>>,
    /// The connection's written count when the body started.
    base: Option<u64>,
    given: u64,
}

impl Pace {
    /// `conn`: the connection the body goes out on (`None`: no pacing).
    pub fn new(conn: Option<Arc<Conn>>) -> Pace {
        Pace { conn, base: None, given: 0 }
    }

    /// Bytes handed to hyper that the socket has not taken yet.
    fn outstanding(&mut self) -> u64 {
        let Some(c) = &self.conn else { return 0 };
        let base = *self.base.get_or_insert(c.written());
        self.given.saturating_sub(c.written() - base)
    }

    /// `n` more bytes handed to hyper. Counted from before the first chunk:
    /// bytes written earlier (the head) only make it look taken sooner, never stuck.
    pub fn gave(&mut self, n: usize) {
        self.outstanding();
        self.given += n as u64;
    }

    /// Ready once the socket has taken all that was given; else `cx` is woken when it takes more.
    pub fn poll_taken(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.outstanding() > 0 {
            if let Some(c) = &self.conn {
                c.wake_on_write(cx.waker());
            }
            // The socket may have taken the rest meanwhile.
            if self.outstanding() > 0 {
                return Poll::Pending;
            }
        }
        Poll::Ready(())
    }
}

/// A registered connection; dropping it unregisters.
pub struct Handle {
    reg: Arc<Registry>,
    id: u64,
    pub conn: Arc<Conn>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.reg.conns.lock().unwrap().remove(&self.id);
    }
}

impl Registry {
    pub fn new(max: usize) -> Arc<Registry> {
        Arc::new(Registry { conns: Mutex::new(HashMap::new()), next: AtomicU64::new(0), max, epoch: Instant::now() })
    }

    pub fn max(&self) -> usize {
        self.max
    }

    pub fn len(&self) -> usize {
        self.conns.lock().unwrap().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Register a new connection; at the limit, tell the one idle longest
    /// (without a request in progress if there is one) to end.
    pub fn add(self: &Arc<Self>) -> Handle {
        let conn = Arc::new(Conn {
            last: AtomicU64::new(0),
            written: AtomicU64::new(0),
            busy: AtomicUsize::new(0),
            working: AtomicUsize::new(0),
            evicted: Notify::new(),
            drained: Mutex::new(None),
            epoch: self.epoch,
        });
        conn.touch();
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut conns = self.conns.lock().unwrap();
        while conns.len() >= self.max {
            let oldest = conns
                .iter()
                .min_by_key(|(_, c)| (c.busy.load(Ordering::Relaxed) > 0, c.last.load(Ordering::Relaxed)))
                .map(|(id, _)| *id);
            let Some(old) = oldest.and_then(|id| conns.remove(&id)) else { break };
            log::debug!("{} connections open: dropping the one idle longest", self.max);
            old.evicted.notify_one();
        }
        conns.insert(id, conn.clone());
        Handle { reg: self.clone(), id, conn }
    }
}

/// A stream that tells its [`Conn`] about every byte it moves.
pub struct Watched<I> {
    pub inner: I,
    pub conn: Arc<Conn>,
}

impl<I> Watched<I> {
    fn wrote(&self, n: usize) {
        if n > 0 {
            self.conn.touch();
            self.conn.written.fetch_add(n as u64, Ordering::Release);
            if let Some(w) = self.conn.drained.lock().unwrap().take() {
                w.wake();
            }
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Watched<I> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.conn.touch();
        }
        r
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Watched<I> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            self.wrote(n);
        }
        r
    }
    // Vectored writes let hyper queue a download's chunks instead of copying them.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = r {
            self.wrote(n);
        }
        r
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_for_a_connection_is_not_idleness() {
        let reg = Registry::new(3);
        let h = reg.add();
        h.conn.last.store(0, Ordering::Relaxed);
        assert!(working().is_none(), "no connection outside serving");
        let conn = h.conn.clone();
        let serve = Box::pin(async move {
            let w = working().expect("the connection being served");
            let w2 = working().unwrap();
            assert_eq!(conn.idle_since(), None);
            drop(w);
            assert_eq!(conn.idle_since(), None, "work left");
            std::thread::sleep(Duration::from_millis(5));
            drop(w2);
            let since = conn.idle_since().expect("no work left");
            assert!(since.elapsed() < Duration::from_millis(5), "idle from the end of the work");
        });
        Serving::new(h.conn.clone(), serve).await;
    }

    #[test]
    fn the_limit_drops_the_one_idle_longest() {
        assert_eq!(limit_for(1024), 320);
        let reg = Registry::new(3);
        let a = reg.add();
        let b = reg.add();
        let c = reg.add();
        // a is busy, b moved a byte last: c is idle longest without a request.
        let _req = a.conn.busy();
        b.conn.last.store(u64::MAX / 2, Ordering::Relaxed);
        let d = reg.add();
        assert_eq!(reg.len(), 3);
        let evicted = |h: &Handle| !reg.conns.lock().unwrap().contains_key(&h.id);
        assert!(evicted(&c) && !evicted(&a) && !evicted(&b) && !evicted(&d));
        drop(c);
        assert_eq!(reg.len(), 3);
    }
}
