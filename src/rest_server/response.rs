//! Answers: the body type every response has, rest-server's error answers, and
//! the one mapping from the store's errors to statuses. A leaf: it knows the
//! store's error kinds and nothing of requests.

use super::repo;
use http_body_util::{combinators::BoxBody, BodyExt, Empty, Full};
use hyper::body::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use std::convert::Infallible;
use std::io;

pub(super) type Body = BoxBody<Bytes, io::Error>;

pub(super) fn full(status: StatusCode, content_type: Option<&str>, data: impl Into<Bytes>) -> Response<Body> {
    let data = data.into();
    let mut r = Response::new(Full::new(data).map_err(|n: Infallible| match n {}).boxed());
    *r.status_mut() = status;
    if let Some(ct) = content_type {
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
    }
    r
}

/// Go's `http.Error(w, http.StatusText(code), code)`, which rest-server answers every error with.
pub(super) fn error(status: StatusCode) -> Response<Body> {
    let mut r =
        full(status, Some("text/plain; charset=utf-8"), format!("{}\n", status.canonical_reason().unwrap_or("")));
    r.headers_mut().insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    r
}

pub(super) fn ok() -> Response<Body> {
    full(StatusCode::OK, None, Bytes::new())
}

/// Only a length (HEAD).
pub(super) fn length_only(len: u64) -> Response<Body> {
    let mut r = Response::new(Empty::new().map_err(|n: Infallible| match n {}).boxed());
    r.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    r
}

pub(super) fn method_not_allowed(allow: &'static str) -> Response<Body> {
    let mut r = error(StatusCode::METHOD_NOT_ALLOWED);
    r.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}

/// The status a store error gives: nothing there (or a way out of the tree) 404,
/// an object that exists already 403, a full disk or quota 507, anything else 500.
pub(super) fn status_of(e: &io::Error) -> StatusCode {
    if repo::is_outside_or_missing(e) {
        StatusCode::NOT_FOUND
    } else if e.kind() == io::ErrorKind::AlreadyExists {
        StatusCode::FORBIDDEN
    } else if repo::is_no_space(e) {
        StatusCode::INSUFFICIENT_STORAGE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

/// Answer a store error; what the client could not cause is logged, with `what` was being done.
pub(super) fn failure(e: &io::Error, what: &str) -> Response<Body> {
    let status = status_of(e);
    if status.is_server_error() {
        log::error!("{what}: {e}");
    }
    error(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::errno::Errno;

    #[test]
    fn store_errors_to_statuses() {
        let os = |e: Errno| status_of(&io::Error::from_raw_os_error(e as i32));
        for e in [Errno::ENOENT, Errno::ENOTDIR, Errno::EXDEV, Errno::ELOOP] {
            assert_eq!(os(e), StatusCode::NOT_FOUND, "{e}");
        }
        for e in [Errno::EIO, Errno::EACCES, Errno::EPERM, Errno::EINVAL, Errno::EISDIR, Errno::EROFS] {
            assert_eq!(os(e), StatusCode::INTERNAL_SERVER_ERROR, "{e}");
        }
        assert_eq!(os(Errno::ENOSPC), StatusCode::INSUFFICIENT_STORAGE);
        assert_eq!(os(Errno::EDQUOT), StatusCode::INSUFFICIENT_STORAGE);
        assert_eq!(status_of(&io::Error::from(io::ErrorKind::AlreadyExists)), StatusCode::FORBIDDEN);
        assert_eq!(status_of(&io::Error::new(io::ErrorKind::NotFound, "not a regular file")), StatusCode::NOT_FOUND);
        assert_eq!(status_of(&io::Error::other("not a regular file")), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
