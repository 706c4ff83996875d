//! What each request but an upload does to the store: create a repository,
//! list, HEAD, GET, delete. File work runs on tokio's blocking threads; a
//! download's body is a [`FileBody`], a listing's is in [`super::listing`].
//! Uploads are in [`super::upload`].

use super::body::{FileBody, Next, Start};
use super::conns::Conn;
use super::listing::{self, MIME_V2};
use super::metrics::Op;
use super::range::Range;
use super::response::{error, failure, full, length_only, ok, Body};
use super::state::{blocking, count, Labels, State};
use http_body_util::BodyExt;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use std::io;
use std::sync::Arc;

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
    // Exactly the v2 type: restic 0.14 reads anything else as v1.
    let v2 = req.headers().get(header::ACCEPT).is_some_and(|a| a.as_bytes() == MIME_V2.as_bytes());
    let conn = req.extensions().get::<Arc<Conn>>().cloned();
    listing::answer(st, conn, repo_path, kind, v2).await
}

/// GET an object (`ranges`: honour `Range`, which rest-server does for objects, not `config`).
/// The first chunk is read before the status is sent, so a file that cannot be
/// read gives 500; an error after that aborts the connection (the client sees a
/// body shorter than its Content-Length, never a complete-looking answer).
/// Opening the file and reading the first chunk take one trip to a blocking
/// thread, and none when the kernel has the name and the bytes in memory.
pub(super) async fn get(
    st: &Arc<State>,
    req: &Request<Incoming>,
    rel: String,
    labels: Labels,
    ranges: bool,
) -> Response<Body> {
    let wanted = ranges.then(|| {
        let h = req.headers();
        (h.get(header::RANGE).map(|v| Bytes::copy_from_slice(v.as_bytes())), h.contains_key(header::IF_RANGE))
    });
    let started = match Start::new(st, &rel, wanted.clone(), true) {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            let (st2, rel2) = (st.clone(), rel.clone());
            blocking(move || Start::new(&st2, &rel2, wanted, false)).await
        }
        r => r,
    };
    let Start { reader, size, range, first } = match started {
        Ok(s) => s,
        Err(e) => return failure(&e, &format!("opening {}", st.cfg.path.join(&rel).display())),
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
    let Some(reader) = reader else { return error(StatusCode::INTERNAL_SERVER_ERROR) };
    let (reader, first) = match first {
        Some(next) => (reader, next),
        None => {
            let mut reader = reader;
            blocking(move || {
                let next = reader.read(false);
                (reader, next)
            })
            .await
        }
    };
    let ready = match first {
        Next::Failed(e) => {
            log::error!("reading {}: {e}", st.cfg.path.join(&rel).display());
            return error(StatusCode::INTERNAL_SERVER_ERROR);
        }
        Next::Data(b) => Some(b),
        Next::End | Next::Wait => None,
    };
    let conn = req.extensions().get::<Arc<Conn>>().cloned();
    let body = FileBody::new(st.clone(), rel, reader, ready, len, conn, labels);
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
