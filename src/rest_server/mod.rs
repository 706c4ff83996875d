//! A native restic REST server, compatible with restic's rest-server 0.14 on the
//! wire: the same URLs, status codes, listings and htpasswd rules.
//!
//! From the bottom up (each module imports only those above it in this list):
//! - [`repo`]: the repositories under `--path`, reached only below its file descriptor.
//! - [`datadir`]: the data folder made where missing, and swept of interrupted uploads.
//! - [`route`]: URL paths to repositories, objects and listings (pure).
//! - [`range`]: the `Range` header.
//! - [`duration`]: `90m`, `2d`: durations in flags and files.
//! - [`response`]: answers, error statuses, store errors to statuses.
//! - [`pace`]: how long the slowest password check takes, the floor of a failed login.
//! - [`auth`]: htpasswd users with a cache of successful checks.
//! - [`guard`]: bcrypt on a few threads, and failed logins limited per address.
//! - [`metrics`]: rest-server's Prometheus counters and filesystem gauges.
//! - [`quota`]: the `--max-size` limit of the whole tree.
//! - [`rules`]: the per-repository rules file (`--repo-rules`): limits and rights.
//! - [`access`]: who may do what: the rules' rights, `--private-repos`, `--append-only`.
//! - [`proxy`]: logins named by a trusted proxy (`--proxy-auth-username`, `--trusted-proxy`).
//! - [`repostats`]: per-repository size and snapshot figures, and the per-repository quota.
//! - [`accesslog`]: `--log`'s combined log format, and UTC dates.
//! - [`recent`]: bytes uploaded to each repository in the last 24 hours.
//! - [`health`]: `/health`'s word: is the data folder there and writable.
//! - [`disk`]: the file system under the data folder: type, devices, UUID.
//! - [`statefile`]: names in the server's state files, one word each.
//! - [`conns`]: open connections: activity, the idle timeout, the connection limit.
//! - [`post`]: POSTing a text to an http or https URL (hyper's client, rustls).
//! - [`scrub_state`]: the scrub's state file: its position and findings, read back after a restart.
//! - [`scrub`]: every object read again in the background and checked against its name.
//! - [`alert`]: pushed alerts (`--alert-url`): problems, their messages, the queue and the checks.
//! - [`pool`]: upload buffers used again and again.
//! - [`state`]: what every request needs, and the repository it is for.
//! - [`body`]: a download's body, read as fast as the client takes it.
//! - [`listing`]: listings, streamed as the folders are read.
//! - [`handlers`]: create, list, HEAD, GET, DELETE.
//! - [`upload`]: POST of an object, streamed, hashed, published atomically.
//! - [`status`]: the facts `/status` and `/status.json` show, and the JSON.
//! - [`page`]: `/status` as an HTML page.
//! - [`http`]: authentication, then dispatch by route and method: the decisions.
//! - [`tls`]: certificates re-read when they change, the cipher preference.
//! - [`server`]: listeners, connections, signals and shutdown.

pub mod access;
pub mod accesslog;
pub mod alert;
pub mod auth;
mod body;
pub mod conns;
pub mod datadir;
pub mod disk;
pub mod duration;
pub mod guard;
mod handlers;
pub mod health;
mod http;
mod listing;
pub mod metrics;
pub mod pace;
mod page;
mod pool;
pub mod post;
pub mod proxy;
pub mod quota;
pub mod range;
pub mod recent;
pub mod repo;
pub mod repostats;
mod response;
pub mod route;
pub mod rules;
pub mod scrub;
mod scrub_state;
pub mod server;
mod state;
mod statefile;
mod status;
pub mod tls;
mod upload;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

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
    /// Whether the CPU has AES instructions: `None` asks the CPU; tests may
    /// say `Some(false)` to see the preference a Raspberry Pi gets.
    pub aes: Option<bool>,
}

/// `--alert-stale`'s default: two days.
pub const DEFAULT_ALERT_STALE: Duration = Duration::from_secs(2 * 86400);

pub use crate::restic_rest_server::MOUNTED_AT_VAR;

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
    /// Per-repository limits and rights (`--repo-rules`, once `--repo-quota-file`).
    pub repo_rules: Option<PathBuf>,
    /// The header a proxy names the logged-in user in (`--proxy-auth-username`).
    pub proxy_auth_username: Option<String>,
    /// Peers whose proxy header is believed (`--trusted-proxy`), besides the Unix socket's.
    pub trusted_proxies: Vec<proxy::Net>,
    /// Users who see every repository on `/status` (`--status-user`), besides `metrics`.
    pub status_users: Vec<String>,
    /// A repository whose newest snapshot is older than this is stale (`--alert-stale`).
    pub alert_stale: Duration,
    /// When restic-rest-server mounted the disk, if it did.
    pub mounted_at: Option<SystemTime>,
    /// Receivers of pushed alerts (`--alert-url`).
    pub alert_urls: Vec<post::AlertUrl>,
    /// From one scrub pass's start to the next (`--scrub-interval`); `None`: no scrub.
    pub scrub_interval: Option<Duration>,
    /// Bytes a second the scrub reads at most (`--scrub-rate`).
    pub scrub_rate: u64,
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
            repo_rules: None,
            proxy_auth_username: None,
            trusted_proxies: Vec::new(),
            status_users: Vec::new(),
            alert_stale: DEFAULT_ALERT_STALE,
            mounted_at: None,
            alert_urls: Vec::new(),
            scrub_interval: Some(scrub::DEFAULT_INTERVAL),
            scrub_rate: scrub::DEFAULT_RATE,
        }
    }
}

pub use server::serve;

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    /// The modules `use super::X` draws on, for each module of this folder.
    fn imports() -> BTreeMap<String, BTreeSet<String>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/rest_server");
        let mut graph = BTreeMap::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            let uses: BTreeSet<String> = text
                .lines()
                .filter_map(|l| l.trim_start().strip_prefix("use super::"))
                .map(|rest| rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).next().unwrap().to_string())
                .filter(|m| !m.is_empty() && *m != name && m.chars().next().unwrap().is_ascii_lowercase())
                .collect();
            graph.insert(name, uses);
        }
        graph
    }

    #[test]
    fn modules_import_downward_only() {
        let graph = imports();
        assert!(graph["http"].contains("handlers") && graph["handlers"].contains("response"), "{graph:?}");
        // Depth-first search: a module met again on the current path closes a cycle.
        fn visit<'a>(
            m: &'a str,
            g: &'a BTreeMap<String, BTreeSet<String>>,
            path: &mut Vec<&'a str>,
            done: &mut BTreeSet<&'a str>,
        ) {
            if done.contains(m) {
                return;
            }
            assert!(!path.contains(&m), "import cycle: {} -> {m}", path.join(" -> "));
            path.push(m);
            for d in g.get(m).into_iter().flatten() {
                visit(d, g, path, done);
            }
            path.pop();
            done.insert(m);
        }
        let mut done = BTreeSet::new();
        for m in graph.keys() {
            visit(m, &graph, &mut Vec::new(), &mut done);
        }
    }
}
