//! Requests to handlers, as rest-server 0.14 answers them: authentication, the
//! route, the method, and the one mapping from the store's errors to statuses.
//! The handlers themselves are in [`super::handlers`].

use super::accesslog;
use super::auth::Users;
use super::guard::{Guard, Verdict};
use super::handlers::{self, Labels, Target};
use super::metrics::{self, Metrics};
use super::repo::{self, Store};
use super::repostats::RepoStats;
use super::route::{self, Resource};
use super::Config;
use base64::Engine as _;
use http_body_util::{combinators::BoxBody, BodyExt, Empty, Full};
use hyper::body::{Body as _, Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::time::SystemTime;

pub(super) use super::handlers::Pool;
pub(super) use super::quota::Quota;

pub(super) type Body = BoxBody<Bytes, io::Error>;

/// How long a client that failed too often waits for its 429.
const LIMITED_DELAY: std::time::Duration = std::time::Duration::from_secs(1);

/// What every request needs.
pub(super) struct State {
    pub(super) cfg: Config,
    pub(super) store: Store,
    pub(super) users: Option<Users>,
    pub(super) metrics: Metrics,
    pub(super) quota: Option<Quota>,
    pub(super) log: Option<accesslog::Writer>,
    pub(super) pool: Pool,
    pub(super) guard: Guard,
    pub(super) repostats: RepoStats,
}

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

fn method_not_allowed(allow: &'static str) -> Response<Body> {
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

pub(super) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
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
        let h = |n: header::HeaderName| req.headers().get(n).map(|v| v.as_bytes().to_vec()).unwrap_or_default();
        (format!("{} {} {:?}", req.method(), req.uri(), req.version()), h(header::REFERER), h(header::USER_AGENT))
    });
    let (user, resp) = route(&st, &peer, req).await;
    if let (Some(log), Some((request, referer, agent))) = (&st.log, line) {
        let entry = accesslog::Entry {
            peer: &peer,
            user: &user,
            time: started,
            request: &request,
            status: resp.status().as_u16(),
            size: resp.body().size_hint().exact().unwrap_or(0),
            referer: &referer,
            agent: &agent,
        };
        log.write(entry.line());
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

/// The user ("" when none) and the answer.
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
        // statvfs may wait for a busy or failing disk: not on the event loop.
        let path = st.cfg.path.clone();
        let fs = blocking(move || metrics::fs_stats(&path)).await;
        let mut text = st.metrics.render(fs);
        text.push_str(&st.repostats.render());
        return (user, full(StatusCode::OK, Some("text/plain; version=0.0.4; charset=utf-8"), text));
    }
    let user = match authenticate(st, peer, &req).await {
        Ok(u) => u,
        Err(r) => return (String::new(), r),
    };
    let route = match route::parse(&raw_path) {
        Ok(r) => r,
        Err(status) => return (user, error(status)),
    };
    if st.users.is_some() && st.cfg.private_repos && route.folder.first() != Some(&user) {
        return (user, error(StatusCode::UNAUTHORIZED));
    }
    let target = Target { repo: route.repo(), label: route.label(), user: user.clone() };
    let resp = dispatch(st, req, target, route.resource).await;
    (user, resp)
}

/// Which handler answers which method on what.
async fn dispatch(st: &Arc<State>, req: Request<Incoming>, t: Target, resource: Resource) -> Response<Body> {
    const ALLOW: &str = "HEAD, GET, POST, DELETE";
    let method = req.method().clone();
    match resource {
        Resource::Unknown => error(StatusCode::NOT_FOUND),
        Resource::Repo => {
            if method != Method::POST {
                return method_not_allowed("POST");
            }
            if !req.uri().query().unwrap_or("").split('&').any(|kv| kv == "create=true") {
                return error(StatusCode::BAD_REQUEST);
            }
            handlers::create_repo(st, t.repo).await
        }
        Resource::List(kind) => {
            if method != Method::GET {
                return method_not_allowed("GET");
            }
            handlers::list(st, &req, &t.repo, kind).await
        }
        Resource::Config => {
            let rel = repo::join(&t.repo, "config");
            match method {
                Method::HEAD => handlers::head(st, rel).await,
                Method::GET => handlers::get(st, &req, rel, None, false).await,
                Method::POST => handlers::upload(st, req, rel, None, None).await,
                Method::DELETE if st.cfg.append_only => error(StatusCode::FORBIDDEN),
                Method::DELETE => handlers::delete(st, rel, None).await,
                _ => method_not_allowed(ALLOW),
            }
        }
        Resource::Object(kind, id) => {
            let rel = repo::object_path(&t.repo, kind, &id);
            let labels: Labels = Some((t, kind));
            match method {
                Method::HEAD => handlers::head(st, rel).await,
                Method::GET => handlers::get(st, &req, rel, labels, true).await,
                Method::POST => {
                    let verify = st.cfg.verify_upload.then_some(id);
                    handlers::upload(st, req, rel, verify, labels).await
                }
                Method::DELETE if st.cfg.append_only && kind != "locks" => error(StatusCode::FORBIDDEN),
                Method::DELETE => handlers::delete(st, rel, labels).await,
                _ => method_not_allowed(ALLOW),
            }
        }
    }
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
