//! Uploads: the request body read on the event loop into pooled buffers, each
//! buffer hashed and written on a blocking thread while the next one fills,
//! the object made only once its hash matches its name.

use super::conns;
use super::metrics::Op;
use super::pool::UPLOAD_BUF;
use super::repo::Upload;
use super::repostats::locate;
use super::response::{error, failure, ok, Body};
use super::state::{blocking, count, spawn_blocking, Labels, State};
use http_body_util::BodyExt;
use hyper::body::{Body as _, Incoming};
use hyper::{Request, Response, StatusCode};
use sha2::{Digest, Sha256};
use std::io;
use std::sync::Arc;

/// A body frame this small (a slow client's) goes to a buffer that grows with
/// what arrives, not to a whole pooled one.
const SMALL_FRAME: usize = 16 * 1024;

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
        st.recent.add(locate(rel).repo, self.written);
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
/// is hashed and written on a blocking thread while the next one fills (a
/// frame that fills one starts the next, so up to three are held at once).
/// While the client is slow no thread waits for it, and a buffer only grows
/// as its bytes arrive.
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
        // Waiting for the count at start of a big repository on a slow disk is the server's work.
        let _work = conns::working();
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
    let mut writing: Option<Writing> = Some(spawn_blocking(move || {
        let r = s.write_inner(&[]);
        (s, r)
    }));
    let mut body = req.into_body();
    let mut buf = Vec::new();
    // Full buffers not yet handed to the writer. A frame's bytes are all copied
    // out before anything is awaited: while a frame is held, hyper cannot use
    // its read buffer again and reads the next bytes into a fresh one.
    let mut full: Vec<Vec<u8>> = Vec::new();
    let mut ended = false;
    let result = 'read: loop {
        for f in full.drain(..) {
            if let Err(e) = landed(&mut writing, &mut sink).await {
                st.pool.put(f);
                break 'read Err(e);
            }
            let mut s = sink.take().expect("back");
            writing = Some(spawn_blocking(move || {
                let r = s.write(f);
                (s, r)
            }));
        }
        if ended {
            break Ok(());
        }
        match body.frame().await {
            Some(Ok(frame)) => {
                if writing.as_ref().is_some_and(|w| w.is_finished()) {
                    if let Err(e) = landed(&mut writing, &mut sink).await {
                        break 'read Err(e);
                    }
                }
                let Ok(mut data) = frame.into_data() else { continue };
                conns::transferred();
                let small = data.len() < SMALL_FRAME;
                while !data.is_empty() {
                    if buf.capacity() == 0 && !small {
                        buf = st.pool.get();
                    }
                    let take = (UPLOAD_BUF - buf.len()).min(data.len());
                    buf.extend_from_slice(&data.split_to(take));
                    if buf.len() == UPLOAD_BUF {
                        full.push(std::mem::take(&mut buf));
                    }
                }
            }
            Some(Err(e)) => {
                log::debug!("upload body: {e}");
                break Err(Refused::Short);
            }
            None => ended = true,
        }
    };
    for f in full.drain(..) {
        st.pool.put(f);
    }
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
        Err(Refused::Io(e)) => {
            st.health.saw(&e);
            failure(&e, &what)
        }
    }
}
