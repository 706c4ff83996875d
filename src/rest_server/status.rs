//! What `/status` and `/status.json` show, gathered in one place
//! ([`Facts::gather`]), and the JSON form; the HTML page is [`super::page`].
//!
//! Every figure comes from memory: the repositories' figures
//! ([`super::repostats`]), their limits ([`super::rules`]), the uploads of the
//! last day ([`super::recent`]), the health word ([`super::health`]), the
//! scrub's findings and passes ([`super::scrub`], counts only). Only
//! statvfs(2) of the data folder is asked of the kernel, and the mount table
//! once per file system ([`super::disk`]). Nothing is read from a
//! repository, and nothing a repository's password protects or an object's
//! name is ever shown.

use super::access::{self, Op, Policy};
use super::conns;
use super::disk::Mount;
use super::health::Word;
use super::metrics::{fs_stats, FsStats};
use super::repostats::Figured;
use super::rules::Rules;
use super::scrub::{Counts, Pass};
use super::state::{blocking, State};
use super::Config;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// A repository using this share of its quota or more has a problem.
pub const NEAR_QUOTA: f64 = 0.9;

/// The user `--prometheus` already lets see every repository's figures.
pub const METRICS_USER: &str = "metrics";

/// Which repositories a viewer sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    All,
    /// Those this user may read (`--private-repos`: whose first folder is
    /// the user's name; the rules' rights where they give some).
    Own(String),
}

impl Scope {
    /// The server's rules: without authentication, or without
    /// `--private-repos` and rights in the rules (where every user may reach
    /// every repository), everyone sees all of them; so do `metrics` and the
    /// `--status-user`s; any other user sees those they may read.
    pub fn of(cfg: &Config, rules: &Rules, authenticated: bool, user: &str) -> Scope {
        let open = !cfg.private_repos && !rules.gives_rights();
        if !authenticated || open || user == METRICS_USER || cfg.status_users.iter().any(|u| u == user) {
            Scope::All
        } else {
            Scope::Own(user.to_string())
        }
    }

    /// `repo`: its folder below `--path`, `""` for the root one. Asks the
    /// decision every request asks ([`access::decide`]), for reading.
    pub fn shows(&self, policy: &Policy, repo: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Own(user) => access::decide(policy, user, repo, Op::Read).is_ok(),
        }
    }
}

/// What is wrong with a repository, the least serious first: the page lists
/// the repositories with the most serious on top.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Problem {
    /// [`NEAR_QUOTA`] of its quota or more is in use.
    Quota,
    /// Its newest snapshot is older than `--alert-stale`.
    Stale,
    /// It has no snapshot at all.
    NoSnapshot,
    /// The scrub could not read some of its objects.
    Unreadable,
    /// The scrub found objects whose contents are not their name's.
    Corrupt,
}

impl Problem {
    /// The word in `problems` of `/status.json`.
    pub fn word(self) -> &'static str {
        match self {
            Problem::Quota => "quota",
            Problem::Stale => "stale",
            Problem::NoSnapshot => "no-snapshot",
            Problem::Unreadable => "unreadable",
            Problem::Corrupt => "corrupt",
        }
    }
}

/// One repository.
#[derive(Clone, Debug, PartialEq)]
pub struct Repo {
    /// As in the restic URL: `/`, `/alice`, `/alice/laptop`.
    pub path: String,
    /// False while the count at start has not reached it: its figures are not known yet.
    pub counted: bool,
    pub size: u64,
    pub snapshots: usize,
    /// The mtime of its newest snapshot file.
    pub last_snapshot: Option<SystemTime>,
    /// Bytes it may hold.
    pub quota: Option<u64>,
    /// Bytes stored in it in the last 24 hours (see [`super::recent`]).
    pub uploaded_24h: u64,
    /// Empty when all is well, the most serious last.
    pub problems: Vec<Problem>,
    /// Bad objects the scrub found when it last read them.
    pub scrub: Counts,
    /// When it is stale: `--alert-stale`, or its DURATION in the rules file.
    pub stale_after: Duration,
}

impl Repo {
    /// Judge one repository's figures at `now`.
    pub fn judge(f: Figured, quota: Option<u64>, uploaded_24h: u64, stale_after: Duration, now: SystemTime) -> Repo {
        let mut problems = Vec::new();
        if f.counted {
            match f.newest {
                None => problems.push(Problem::NoSnapshot),
                Some(t) if now.duration_since(t).unwrap_or_default() > stale_after => problems.push(Problem::Stale),
                Some(_) => {}
            }
            if quota.is_some_and(|q| f.size as f64 >= NEAR_QUOTA * q as f64) {
                problems.push(Problem::Quota);
            }
        }
        problems.sort();
        Repo {
            path: format!("/{}", f.repo),
            counted: f.counted,
            size: f.size,
            snapshots: f.snapshots,
            last_snapshot: f.newest,
            quota,
            uploaded_24h,
            problems,
            scrub: Counts::default(),
            stale_after,
        }
    }

    /// What the scrub found in it.
    pub fn scrubbed(mut self, c: Counts) -> Repo {
        self.scrub = c;
        if c.unreadable > 0 {
            self.problems.push(Problem::Unreadable);
        }
        if c.corrupt > 0 {
            self.problems.push(Problem::Corrupt);
        }
        self.problems.sort();
        self
    }

    pub fn worst(&self) -> Option<Problem> {
        self.problems.last().copied()
    }

    /// How long ago the newest snapshot was made.
    pub fn age(&self, now: SystemTime) -> Option<Duration> {
        self.last_snapshot.map(|t| now.duration_since(t).unwrap_or_default())
    }
}

/// Worst first: problems (the most serious first, then the oldest snapshot
/// first), then repositories not counted yet, then the others, oldest snapshot first.
fn order(a: &Repo, b: &Repo) -> std::cmp::Ordering {
    let rank = |r: &Repo| match r.worst() {
        Some(p) => 2 + p as u8,
        None if !r.counted => 1,
        None => 0,
    };
    rank(b).cmp(&rank(a)).then(a.last_snapshot.cmp(&b.last_snapshot)).then(a.path.cmp(&b.path))
}

/// The server.
#[derive(Clone, Debug)]
pub struct Server {
    /// The machine's host name.
    pub host: String,
    pub version: &'static str,
    pub started: SystemTime,
    pub uptime: Duration,
    pub tls: bool,
    pub append_only: bool,
    pub private_repos: bool,
    pub authentication: bool,
    pub health: Word,
}

/// The disk under `--path`.
#[derive(Clone, Debug)]
pub struct Disk {
    pub path: PathBuf,
    /// statvfs(2): none when the folder cannot be looked at.
    pub space: Option<FsStats>,
    pub mount: Option<Arc<Mount>>,
    /// When restic-rest-server mounted it (it says so in the environment);
    /// none when it was mounted otherwise.
    pub mounted_at: Option<SystemTime>,
}

/// The scrub (see [`super::scrub`]).
#[derive(Clone, Debug)]
pub struct Scrubbing {
    /// `--scrub-interval` and `--scrub-rate`.
    pub interval: Duration,
    pub rate: u64,
    /// The pass in progress (its `end` unused) and the last one done.
    pub current: Option<Pass>,
    pub last: Option<Pass>,
}

/// Everything the status page shows, for one viewer.
#[derive(Clone, Debug)]
pub struct Facts {
    pub now: SystemTime,
    pub server: Server,
    pub disk: Disk,
    /// `--alert-stale`.
    pub stale_after: Duration,
    /// The count at start runs: some repositories are not known yet.
    pub counting: bool,
    /// Every repository is shown, not only the viewer's own.
    pub all: bool,
    /// Worst first.
    pub repos: Vec<Repo>,
    /// `None` with `--scrub-interval off`.
    pub scrub: Option<Scrubbing>,
}

/// The machine's name, as the kernel has it.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_string()).unwrap_or_default()
}

impl Facts {
    /// Gather the facts `scope` may see.
    pub async fn gather(st: &Arc<State>, scope: &Scope) -> Facts {
        let counted = st.repostats.counted();
        let quota = st.quota.as_ref().map(|q| (q.used(), q.max()));
        let work = conns::working();
        let health = st.health.word(counted, quota, false).await;
        drop(work);
        // statvfs may wait for a busy or failing disk, and the first look probes it: not on the event loop.
        let st2 = st.clone();
        let (space, mount, host) =
            blocking(move || (fs_stats(&st2.cfg.path), st2.disk.get(&st2.cfg.path), host_name())).await;
        let now = SystemTime::now();
        let uptime = st.started.elapsed();
        let uploads: HashMap<String, u64> = st.recent.last_day();
        let found: HashMap<String, Counts> = st.scrub.findings().into_iter().map(|f| (f.repo, f.counts)).collect();
        let mut repos: Vec<Repo> = st
            .repostats
            .figures()
            .into_iter()
            .filter(|f| scope.shows(&st.policy(), &f.repo))
            .map(|f| {
                let quota = st.rules.limit(&f.repo);
                let uploaded = uploads.get(&f.repo).copied().unwrap_or(0);
                let scrub = found.get(&f.repo).copied().unwrap_or_default();
                let stale_after = st.rules.stale_after(&f.repo).unwrap_or(st.cfg.alert_stale);
                Repo::judge(f, quota, uploaded, stale_after, now).scrubbed(scrub)
            })
            .collect();
        repos.sort_by(order);
        let cfg = &st.cfg;
        Facts {
            now,
            server: Server {
                host,
                version: env!("CARGO_PKG_VERSION"),
                started: now.checked_sub(uptime).unwrap_or(now),
                uptime,
                tls: cfg.tls.is_some(),
                append_only: cfg.append_only,
                private_repos: cfg.private_repos,
                authentication: st.users.is_some(),
                health,
            },
            disk: Disk { path: cfg.path.clone(), space, mount, mounted_at: cfg.mounted_at },
            stale_after: cfg.alert_stale,
            counting: !counted,
            all: *scope == Scope::All,
            repos,
            scrub: st.scrub.settings().map(|(interval, rate)| {
                let (current, last) = st.scrub.passes();
                Scrubbing { interval, rate, current, last }
            }),
        }
    }

    /// `/status.json`; its fields are documented in docs/health.md.
    pub fn json(&self) -> String {
        let s = &self.server;
        let server = Obj::new()
            .str("host", &s.host)
            .str("version", s.version)
            .num("started", secs(s.started))
            .num("uptime_seconds", s.uptime.as_secs())
            .bool("tls", s.tls)
            .bool("append_only", s.append_only)
            .bool("private_repos", s.private_repos)
            .bool("authentication", s.authentication)
            .str("health", s.health.as_str())
            .end();
        let d = &self.disk;
        let m = d.mount.as_deref();
        let devices: Vec<String> =
            m.map(|m| m.devices.iter().map(|p| quote(&p.to_string_lossy())).collect()).unwrap_or_default();
        let disk = Obj::new()
            .str("path", &d.path.to_string_lossy())
            .opt_str("mount_point", m.map(|m| m.mount_point.to_string_lossy()).as_deref())
            .opt_str("filesystem", m.map(|m| m.fstype.as_str()))
            .raw("devices", format!("[{}]", devices.join(",")))
            .opt_str("uuid", m.and_then(|m| m.uuid.as_deref()))
            .opt_num("mounted_at", d.mounted_at.map(secs))
            .opt_num("total_bytes", d.space.map(|s| s.size))
            .opt_num("free_bytes", d.space.map(|s| s.free))
            .opt_num("available_bytes", d.space.map(|s| s.avail))
            .end();
        let repos: Vec<String> = self
            .repos
            .iter()
            .map(|r| {
                let problems: Vec<String> = r.problems.iter().rev().map(|p| quote(p.word())).collect();
                Obj::new()
                    .str("path", &r.path)
                    .bool("counted", r.counted)
                    .raw("problems", format!("[{}]", problems.join(",")))
                    .opt_num("last_snapshot", r.last_snapshot.map(secs))
                    .opt_num("last_snapshot_age_seconds", r.age(self.now).map(|a| a.as_secs()))
                    .num("snapshots", r.snapshots as u64)
                    .num("size_bytes", r.size)
                    .opt_num("quota_bytes", r.quota)
                    .num("uploaded_24h_bytes", r.uploaded_24h)
                    .num("stale_after_seconds", r.stale_after.as_secs())
                    .num("scrub_corrupt_objects", r.scrub.corrupt)
                    .num("scrub_unreadable_objects", r.scrub.unreadable)
                    .end()
            })
            .collect();
        let scrub = match &self.scrub {
            None => "null".to_string(),
            Some(c) => Obj::new()
                .num("interval_seconds", c.interval.as_secs())
                .num("rate_bytes_per_second", c.rate)
                .bool("running", c.current.is_some())
                .opt_num("pass_started", c.current.map(|p| p.start))
                .opt_num("pass_read_bytes", c.current.map(|p| p.bytes))
                .opt_num("last_pass_started", c.last.map(|p| p.start))
                .opt_num("last_pass_ended", c.last.map(|p| p.end))
                .opt_num("last_pass_seconds", c.last.map(|p| p.end.saturating_sub(p.start)))
                .opt_num("last_pass_read_bytes", c.last.map(|p| p.bytes))
                .opt_num("last_pass_objects", c.last.map(|p| p.objects))
                .end(),
        };
        let mut out = Obj::new()
            .num("generated", secs(self.now))
            .raw("server", server)
            .raw("disk", disk)
            .num("stale_after_seconds", self.stale_after.as_secs())
            .bool("counting", self.counting)
            .bool("all_repositories", self.all)
            .raw("repositories", format!("[{}]", repos.join(",")))
            .raw("scrub", scrub)
            .end();
        out.push('\n');
        out
    }
}

/// Whole seconds since the epoch (0 before it).
pub fn secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A JSON string.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON object written field by field, in order.
pub struct Obj(String);

impl Obj {
    pub fn new() -> Obj {
        Obj(String::from("{"))
    }

    /// A field whose value is JSON already.
    pub fn raw(mut self, key: &str, value: impl AsRef<str>) -> Obj {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        self.0.push_str(&quote(key));
        self.0.push(':');
        self.0.push_str(value.as_ref());
        self
    }

    pub fn str(self, key: &str, value: &str) -> Obj {
        self.raw(key, quote(value))
    }

    pub fn opt_str(self, key: &str, value: Option<&str>) -> Obj {
        match value {
            Some(v) => self.str(key, v),
            None => self.raw(key, "null"),
        }
    }

    pub fn num(self, key: &str, value: u64) -> Obj {
        self.raw(key, value.to_string())
    }

    pub fn opt_num(self, key: &str, value: Option<u64>) -> Obj {
        match value {
            Some(v) => self.num(key, v),
            None => self.raw(key, "null"),
        }
    }

    pub fn bool(self, key: &str, value: bool) -> Obj {
        self.raw(key, if value { "true" } else { "false" })
    }

    pub fn end(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

impl Default for Obj {
    fn default() -> Obj {
        Obj::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86400);

    fn figured(repo: &str, counted: bool, size: u64, newest: Option<SystemTime>) -> Figured {
        Figured { repo: repo.into(), counted, size, snapshots: usize::from(newest.is_some()), newest }
    }

    #[test]
    fn who_sees_what() {
        let mut cfg = Config::new("/x".into());
        let none = Rules::new(None, None, true).unwrap();
        assert_eq!(Scope::of(&cfg, &none, true, "alice"), Scope::All, "without --private-repos");
        cfg.private_repos = true;
        cfg.status_users = vec!["carol".into()];
        assert_eq!(Scope::of(&cfg, &none, false, ""), Scope::All, "--no-auth");
        assert_eq!(Scope::of(&cfg, &none, true, "metrics"), Scope::All);
        assert_eq!(Scope::of(&cfg, &none, true, "carol"), Scope::All);
        let alice = Scope::of(&cfg, &none, true, "alice");
        assert_eq!(alice, Scope::Own("alice".into()));
        let p = Policy { auth: true, private_repos: true, append_only: false, rules: &none };
        assert!(alice.shows(&p, "alice") && alice.shows(&p, "alice/laptop"));
        assert!(!alice.shows(&p, "") && !alice.shows(&p, "alicex") && !alice.shows(&p, "bob/alice"));
        // Rights in the rules: each user sees what they may read, with or without --private-repos.
        let dir = std::env::temp_dir().join(format!("krazybox-status-scope-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("rules"), "/family *=read owner=modify\n/vault owner=modify\n").unwrap();
        let rules = Rules::new(None, Some(&dir.join("rules")), true).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        cfg.private_repos = false;
        let bob = Scope::of(&cfg, &rules, true, "bob");
        assert_eq!(bob, Scope::Own("bob".into()));
        let p = Policy { auth: true, private_repos: false, append_only: false, rules: &rules };
        assert!(bob.shows(&p, "family") && bob.shows(&p, "bob") && !bob.shows(&p, "vault"));
    }

    #[test]
    fn judged_and_ordered_worst_first() {
        let now = SystemTime::UNIX_EPOCH + 1000 * DAY;
        let two = Duration::from_secs(2 * 86400);
        let repos = vec![
            Repo::judge(figured("fresh", true, 10, Some(now - DAY)), None, 0, two, now),
            Repo::judge(figured("old", true, 10, Some(now - 3 * DAY)), None, 0, two, now),
            Repo::judge(figured("older", true, 10, Some(now - 9 * DAY)), Some(10), 0, two, now),
            Repo::judge(figured("empty", true, 0, None), None, 0, two, now),
            Repo::judge(figured("counting", false, 0, None), None, 0, two, now),
            Repo::judge(figured("full", true, 95, Some(now)), Some(100), 0, two, now),
            Repo::judge(figured("future", true, 1, Some(now + DAY)), None, 0, two, now),
        ];
        assert_eq!(repos[2].problems, vec![Problem::Quota, Problem::Stale]);
        assert_eq!(repos[5].problems, vec![Problem::Quota]);
        assert!(repos[4].problems.is_empty(), "not judged before it is counted");
        assert_eq!(repos[6].age(now), Some(Duration::ZERO), "a snapshot from the future is new");
        let mut sorted = repos.clone();
        sorted.sort_by(order);
        let paths: Vec<&str> = sorted.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["/empty", "/older", "/old", "/full", "/counting", "/fresh", "/future"]);
        assert_eq!(Repo::judge(figured("", true, 0, None), None, 0, two, now).path, "/");
        let rotten = Repo::judge(figured("rot", true, 10, Some(now - 3 * DAY)), None, 0, two, now)
            .scrubbed(Counts { corrupt: 1, unreadable: 2 });
        assert_eq!(rotten.problems, vec![Problem::Stale, Problem::Unreadable, Problem::Corrupt]);
        let mut with_rot = sorted.clone();
        with_rot.push(rotten);
        with_rot.sort_by(order);
        assert_eq!(with_rot[0].path, "/rot", "a corrupt repository goes on top");
    }

    #[test]
    fn json_strings_and_objects() {
        assert_eq!(quote("a\"b\\c\n\u{1}\u{2028}é"), "\"a\\\"b\\\\c\\u000a\\u0001\\u2028é\"");
        let o = Obj::new().str("k", "v").num("n", 3).opt_num("z", None).bool("b", true).raw("a", "[]").end();
        assert_eq!(o, "{\"k\":\"v\",\"n\":3,\"z\":null,\"b\":true,\"a\":[]}");
    }
}
