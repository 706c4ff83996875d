//! What every request needs: the configuration, the store, the users, the
//! figures and limits; the repository a request is for; the way to blocking work.

use super::access::Policy;
use super::accesslog;
use super::alert::Alerts;
use super::auth::Users;
use super::conns;
use super::disk;
use super::guard::Guard;
use super::health::Health;
use super::metrics::{Metrics, Op};
use super::pool::Pool;
use super::proxy::Trust;
use super::quota::Quota;
use super::recent::Recent;
use super::repo::Store;
use super::repostats::RepoStats;
use super::rules::Rules;
use super::scrub::Scrub;
use super::Config;
use std::sync::Arc;
use std::time::Instant;

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
    pub(super) repostats: Arc<RepoStats>,
    pub(super) rules: Arc<Rules>,
    /// Who may name the user in a header.
    pub(super) proxy: Trust,
    pub(super) health: Arc<Health>,
    pub(super) recent: Recent,
    pub(super) disk: disk::Cache,
    pub(super) started: Instant,
    pub(super) alerts: Arc<Alerts>,
    pub(super) scrub: Arc<Scrub>,
}

impl State {
    /// What the server-wide flags and the rules say: for [`super::access::decide`].
    pub(super) fn policy(&self) -> Policy<'_> {
        Policy {
            auth: self.users.is_some(),
            private_repos: self.cfg.private_repos,
            append_only: self.cfg.append_only,
            rules: &self.rules,
        }
    }
}

/// Run blocking work (file system calls) on tokio's blocking threads.
pub(super) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match spawn_blocking(f).await {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// Start blocking work on tokio's blocking threads. Until it ends, the
/// connection it is done for is not idle (a slow disk is not a slow client).
pub(super) fn spawn_blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> tokio::task::JoinHandle<T> {
    let work = conns::working();
    tokio::task::spawn_blocking(move || {
        let _work = work;
        f()
    })
}

/// The repository a request is for, and the labels its metrics get.
pub(super) struct Target {
    pub(super) repo: String,
    pub(super) label: String,
    pub(super) user: String,
}

/// An object's metric labels: its repository and type; `None` for `config`,
/// which rest-server does not count.
pub(super) type Labels = Option<(Target, &'static str)>;

pub(super) fn count(st: &State, labels: &Labels, op: Op, bytes: u64) {
    if let Some((t, kind)) = labels {
        st.metrics.add(&t.user, &t.label, kind, op, bytes);
    }
}
