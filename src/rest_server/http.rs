//! Requests to handlers, as rest-server 0.14 answers them: authentication, the
//! route, the method, and who may do what. The handlers are in
//! [`super::handlers`] and [`super::upload`]; statuses in [`super::response`].

use super::access::{self, Op};
use super::accesslog;
use super::conns;
use super::guard::Verdict;
use super::handlers;
use super::health::Word;
use super::metrics;
use super::page;
use super::repo;
use super::response::{error, full, method_not_allowed, Body};
use super::route::{self, Resource};
use super::state::{blocking, State, Target};
use super::status::{Facts, Scope};
use super::upload;
use base64::Engine as _;
use hyper::body::{Body as _, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::SystemTime;

/// How long a client that failed too often waits for its 429.
const LIMITED_DELAY: std::time::Duration = std::time::Duration::from_secs(1);

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

/// The authenticated user ("" without auth): the one a trusted proxy names,
/// else the password's; or the refusal: 401, or 429 for
/// an address that failed too often (answered after a second, which slows a
/// guesser down without holding a thread).
async fn authenticate(st: &Arc<State>, peer: &str, req: &Request<Incoming>) -> Result<String, Response<Body>> {
    let Some(users) = &st.users else { return Ok(String::new()) };
    if let Some(user) = st.proxy.user(peer, req.headers()) {
        return Ok(user.to_string());
    }
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
        text.push_str(&st.scrub.render());
        return (user, full(StatusCode::OK, Some("text/plain; version=0.0.4; charset=utf-8"), text));
    }
    if raw_path == "/health" {
        return (String::new(), health(st, &req).await);
    }
    let user = match authenticate(st, peer, &req).await {
        Ok(u) => u,
        Err(r) => return (String::new(), r),
    };
    if raw_path == "/status" || raw_path == "/status.json" {
        let resp = status(st, &req, &user, raw_path.ends_with(".json")).await;
        return (user, resp);
    }
    let route = match route::parse(&raw_path) {
        Ok(r) => r,
        Err(status) => return (user, error(status)),
    };
    let repo = route.repo();
    if let Err(refusal) = access::decide(&st.policy(), &user, &repo, op(req.method(), &route.resource)) {
        log::warn!("refused {} {raw_path} to {user:?} in /{repo}: {}", req.method(), refusal.rule);
        return (user, error(refusal.status));
    }
    let target = Target { repo, label: route.label(), user: user.clone() };
    let resp = dispatch(st, req, target, route.resource).await;
    (user, resp)
}

/// What a method does to a resource, for [`access::decide`].
fn op(method: &Method, resource: &Resource) -> Op {
    match (method, resource) {
        (&Method::POST, Resource::Repo | Resource::Config | Resource::Object(..)) => Op::Write,
        (&Method::DELETE, Resource::Object("locks", _)) => Op::DeleteLock,
        (&Method::DELETE, Resource::Config | Resource::Object(..)) => Op::Delete,
        _ => Op::Read,
    }
}

/// `/health`, without a login: `ok`, or 503 and the word that says what is wrong.
async fn health(st: &Arc<State>, req: &Request<Incoming>) -> Response<Body> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return method_not_allowed("GET, HEAD");
    }
    let quota = st.quota.as_ref().map(|q| (q.used(), q.max()));
    // A write test on a slow disk is the server's work, not the client's idleness.
    let work = conns::working();
    let word = st.health.word(st.repostats.counted(), quota, true).await;
    drop(work);
    let code = if word == Word::Ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let mut r = full(code, Some("text/plain; charset=utf-8"), format!("{}\n", word.as_str()));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `/status` (HTML) and `/status.json`, for a user already let in.
async fn status(st: &Arc<State>, req: &Request<Incoming>, user: &str, json: bool) -> Response<Body> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return method_not_allowed("GET, HEAD");
    }
    let facts = Facts::gather(st, &Scope::of(&st.cfg, &st.rules, st.users.is_some(), user)).await;
    let mut r = if json {
        full(StatusCode::OK, Some("application/json"), facts.json())
    } else {
        let mut r = full(StatusCode::OK, Some("text/html; charset=utf-8"), page::html(&facts));
        r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(page::POLICY));
        r
    };
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut().insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    r
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
                Method::POST => upload::upload(st, req, rel, None, None).await,
                Method::DELETE => handlers::delete(st, rel, None).await,
                _ => method_not_allowed(ALLOW),
            }
        }
        Resource::Object(kind, id) => {
            let rel = repo::object_path(&t.repo, kind, &id);
            let labels = Some((t, kind));
            match method {
                Method::HEAD => handlers::head(st, rel).await,
                Method::GET => handlers::get(st, &req, rel, labels, true).await,
                Method::POST => {
                    let verify = st.cfg.verify_upload.then_some(id);
                    upload::upload(st, req, rel, verify, labels).await
                }
                Method::DELETE => handlers::delete(st, rel, labels).await,
                _ => method_not_allowed(ALLOW),
            }
        }
    }
}
