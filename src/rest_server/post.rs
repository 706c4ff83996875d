//! POSTing a short text to a URL, the way alerts reach their receivers:
//! HTTP/1.1 by hyper's client, over TCP or over TLS (rustls) checked against
//! the system's trust roots. A URL may hold a user and password (sent as Basic
//! authentication) and secret tokens in its path or query: it is only ever
//! shown as [`AlertUrl::shown`], scheme, host and port.

use base64::Engine as _;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// How long one attempt (connecting, TLS, the request and its answer) may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);

/// Where trust roots are looked for, in order: gokrazy's packer writes the
/// build machine's bundle (or Mozilla's list) to `/etc/ssl/ca-bundle.pem`;
/// the others are where Debian, Fedora, RHEL and Alpine keep theirs.
/// `SSL_CERT_FILE` in the environment comes first.
pub const CA_FILES: &[&str] = &[
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// A receiver's URL, taken apart. Its `Debug` shows only [`AlertUrl::shown`].
#[derive(Clone)]
pub struct AlertUrl {
    https: bool,
    /// The host to connect to, without IPv6 brackets.
    host: String,
    port: u16,
    /// `Host:` header: the authority without user or password.
    authority: String,
    /// Path and query, `/` when the URL has none.
    target: String,
    /// `Basic …` from the URL's user and password.
    auth: Option<String>,
}

impl fmt::Debug for AlertUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown())
    }
}

impl AlertUrl {
    /// Read an `http://` or `https://` URL; the error says what is wrong
    /// without repeating the URL (it may hold a password).
    pub fn parse(text: &str) -> Result<AlertUrl, String> {
        let uri: Uri = text.parse().map_err(|e| format!("not a URL ({e})"))?;
        let https = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("https") => true,
            Some(s) if s.eq_ignore_ascii_case("http") => false,
            _ => return Err("only http:// and https:// URLs can be posted to".into()),
        };
        let Some(authority) = uri.authority() else { return Err("the URL names no host".into()) };
        let (userinfo, hostport) = match authority.as_str().rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority.as_str()),
        };
        let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_string();
        if host.is_empty() {
            return Err("the URL names no host".into());
        }
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let auth = match userinfo {
            None => None,
            Some(u) => {
                let (user, password) = u.split_once(':').unwrap_or((u, ""));
                let pair = format!("{}:{}", percent_decode(user)?, percent_decode(password)?);
                Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair)))
            }
        };
        let target = uri.path_and_query().map_or("/", |p| p.as_str());
        let target = if target.is_empty() { "/".to_string() } else { target.to_string() };
        Ok(AlertUrl { https, host, port, authority: hostport.to_string(), target, auth })
    }

    /// What logs and pages may show: `https://host:port`, then `/…` when the
    /// URL has a path or query (a topic or token is as secret as a password).
    pub fn shown(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        let more = if self.target == "/" { "" } else { "/…" };
        format!("{scheme}://{}{more}", self.authority)
    }

    pub fn is_https(&self) -> bool {
        self.https
    }
}

/// `%XX` escapes of a URL's user or password.
fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok());
            out.push(hex.ok_or("a bad %-escape in the URL's user or password")?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the URL's user or password is not UTF-8".to_string())
}

/// The TLS client settings, made once: the trust roots of the first bundle
/// found (see [`CA_FILES`]).
pub fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG.get_or_init(make_tls_config).clone()
}

fn make_tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let env = std::env::var("SSL_CERT_FILE").ok();
    let files = env.iter().map(String::as_str).chain(CA_FILES.iter().copied());
    let mut roots = rustls::RootCertStore::empty();
    let mut from = None;
    for file in files {
        let Ok(certs) = CertificateDer::pem_file_iter(file) else { continue };
        let (added, _) = roots.add_parsable_certificates(certs.flatten());
        if added > 0 {
            from = Some(file);
            break;
        }
    }
    let Some(from) = from else {
        return Err(format!("no trust roots for https: none of {} holds a certificate", CA_FILES.join(", ")));
    };
    log::debug!("https alerts trust the {} roots of {from}", roots.len());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// POST `text` (its first line is the title) to `url`; Ok with the status
/// when the receiver answered 2xx. The error is one phrase for the log,
/// which never holds the URL.
pub async fn post(url: &AlertUrl, text: &str) -> Result<u16, String> {
    match tokio::time::timeout(ATTEMPT_TIMEOUT, attempt(url, text)).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {}s", ATTEMPT_TIMEOUT.as_secs())),
    }
}

async fn attempt(url: &AlertUrl, text: &str) -> Result<u16, String> {
    let tcp =
        tokio::net::TcpStream::connect((url.host.as_str(), url.port)).await.map_err(|e| format!("connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let request = request(url, text)?;
    if url.https {
        let name = rustls::pki_types::ServerName::try_from(url.host.clone())
            .map_err(|_| "the host is not a valid TLS name".to_string())?;
        let tls = tokio_rustls::TlsConnector::from(tls_config()?)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        exchange(TokioIo::new(tls), request).await
    } else {
        exchange(TokioIo::new(tcp), request).await
    }
}

fn request(url: &AlertUrl, text: &str) -> Result<Request<Full<Bytes>>, String> {
    let title = text.lines().next().unwrap_or("");
    let mut r = Request::builder()
        .method(Method::POST)
        .uri(url.target.as_str())
        .header(header::HOST, url.authority.as_str())
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(header::USER_AGENT, concat!("krazybox/", env!("CARGO_PKG_VERSION")))
        .body(Full::new(Bytes::from(text.to_string())))
        .map_err(|e| format!("building the request: {e}"))?;
    // ntfy reads its title from this header (only ASCII fits in one).
    if let Ok(v) = HeaderValue::from_str(title) {
        r.headers_mut().insert("title", v);
    }
    if let Some(a) = &url.auth {
        let v = HeaderValue::from_str(a).map_err(|_| "the URL's user or password cannot be sent".to_string())?;
        r.headers_mut().insert(header::AUTHORIZATION, v);
    }
    Ok(r)
}

async fn exchange<T>(io: T, request: Request<Full<Bytes>>) -> Result<u16, String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.map_err(|e| format!("HTTP: {e}"))?;
    let driver = tokio::spawn(conn);
    let answer = sender.send_request(request).await;
    driver.abort();
    let status = answer.map_err(|e| format!("HTTP: {e}"))?.status();
    if status.is_success() {
        Ok(status.as_u16())
    } else {
        Err(format!("the receiver answered {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_taken_apart_and_shown_without_secrets() {
        let u = AlertUrl::parse("https://alice:p%40ss:w@ntfy.example.org/backups?auth=tok").unwrap();
        assert!(u.https);
        assert_eq!((u.host.as_str(), u.port), ("ntfy.example.org", 443));
        assert_eq!(u.target, "/backups?auth=tok");
        assert_eq!(u.authority, "ntfy.example.org");
        let basic = base64::engine::general_purpose::STANDARD.encode("alice:p@ss:w");
        assert_eq!(u.auth.as_deref(), Some(format!("Basic {basic}").as_str()));
        assert_eq!(u.shown(), "https://ntfy.example.org/…");
        assert_eq!(format!("{u:?}"), "https://ntfy.example.org/…");
        let u = AlertUrl::parse("http://[::1]:8080").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.target.as_str()), ("::1", 8080, "/"));
        assert_eq!(u.shown(), "http://[::1]:8080");
        for bad in ["ftp://x/y", "/just/a/path", "http://", "not a url", "http://u:%zz@h/"] {
            let e = AlertUrl::parse(bad).unwrap_err();
            assert!(!e.contains("zz"), "{bad}: {e}");
        }
    }
}
