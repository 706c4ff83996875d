//! A native restic REST server, compatible with restic's rest-server 0.14 on the
//! wire: the same URLs, status codes, listings and htpasswd rules.
//!
//! - [`repo`]: the repositories under `--path`, reached only below its file descriptor.
//! - [`auth`]: htpasswd users with a cache of successful checks.
//! - [`guard`]: bcrypt on a few threads, and failed logins limited per address.
//! - [`metrics`]: rest-server's Prometheus counters and filesystem gauges.
//! - [`route`]: URL paths to repositories, objects and listings (pure).
//! - [`http`]: authentication, dispatch by route and method, errors to statuses.
//! - [`handlers`]: what each request does to the store: uploads, downloads, listings.
//! - [`range`]: the `Range` header.
//! - [`quota`]: the `--max-size` limit.
//! - [`repostats`]: per-repository size and snapshot figures, and the per-repository quota.
//! - [`accesslog`]: `--log`'s combined log format.
//! - [`conns`]: open connections: activity, the idle timeout, the connection limit.
//! - [`server`]: listeners, TLS, connections, signals and shutdown.

pub mod accesslog;
pub mod auth;
pub mod conns;
pub mod guard;
pub mod handlers;
pub mod http;
pub mod metrics;
pub mod quota;
pub mod range;
pub mod repo;
pub mod repostats;
pub mod route;
pub mod server;

use std::path::PathBuf;
use std::time::Duration;

/// Where to listen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listen {
    /// `host:port`; an empty host means every interface, port 0 any free port.
    Tcp(String),
    /// `unix:/path`: a Unix socket, created at start (replacing a dead one a
    /// killed server left) and removed at exit.
    Unix(PathBuf),
}

impl Listen {
    /// Read rest-server's `--listen` value.
    pub fn parse(s: &str) -> Listen {
        match s.strip_prefix("unix:") {
            Some(p) => Listen::Unix(PathBuf::from(p)),
            None => Listen::Tcp(s.to_string()),
        }
    }
}

/// TLS settings: PEM certificate chain and private key.
#[derive(Clone, Debug)]
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Refuse TLS 1.2 (`--tls-min-ver 1.3`).
    pub min_13: bool,
}

/// Everything the server needs, already checked by the command line.
#[derive(Clone, Debug)]
pub struct Config {
    pub path: PathBuf,
    pub listen: Listen,
    /// `None` with `--no-auth`.
    pub htpasswd: Option<PathBuf>,
    pub append_only: bool,
    pub private_repos: bool,
    pub prometheus: bool,
    pub prometheus_no_auth: bool,
    /// Bytes the whole tree may hold (`--max-size`).
    pub max_size: Option<u64>,
    /// Combined-format request log: a file, or `-` for stdout.
    pub log: Option<PathBuf>,
    pub verify_upload: bool,
    pub group_accessible: bool,
    pub tls: Option<Tls>,
    pub debug: bool,
    /// A connection that moves no byte for this long is dropped.
    pub idle_timeout: Duration,
    /// How long in-flight requests may take to finish after SIGTERM/SIGINT.
    pub grace: Duration,
    /// Bytes each repository may hold (`--max-repo-size`).
    pub max_repo_size: Option<u64>,
    /// Per-repository limits (`--repo-quota-file`).
    pub repo_quota_file: Option<PathBuf>,
}

impl Config {
    /// rest-server's defaults.
    pub fn new(path: PathBuf) -> Config {
        Config {
            htpasswd: Some(path.join(".htpasswd")),
            path,
            listen: Listen::Tcp(":8000".into()),
            append_only: false,
            private_repos: false,
            prometheus: false,
            prometheus_no_auth: false,
            max_size: None,
            log: None,
            verify_upload: true,
            group_accessible: false,
            tls: None,
            debug: false,
            idle_timeout: Duration::from_secs(60),
            grace: Duration::from_secs(5),
            max_repo_size: None,
            repo_quota_file: None,
        }
    }
}

pub use server::serve;
