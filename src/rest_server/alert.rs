//! Pushed alerts (`--alert-url`): a short plain-text message POSTed to each
//! receiver when something changes state. The first line is the title; it
//! starts with the kind in one word and the repository or disk concerned:
//!
//! ```text
//! stale /alice/laptop: no snapshot for 3d 4h
//! ```
//!
//! A problem ([`Alerts::raise`]) is told when it starts, again when its count
//! grows (at most every [`GROWTH_EVERY`]), and as a reminder every
//! [`REMIND_EVERY`] while it lasts; the end of a stale repository is told as
//! `fresh`. Problems are kept in [`STATE_FILE`] at the top of `--path`, so a
//! restart does not tell them again. Events (an unclean stop, a pulled disk)
//! are told once.
//!
//! Messages wait in a bounded queue per receiver ([`QUEUE`]; the oldest goes
//! when it is full) and are posted by a thread of their own, with its own
//! event loop: a receiver that is down is tried again after 1 s, 2 s, 4 s …
//! up to [`MAX_BACKOFF`]; one that hangs costs that thread a timeout, never
//! a client of the server a moment. Receivers appear in logs only as
//! scheme, host and port.
//!
//! [`watch`] looks every [`CHECK_EVERY`] at what is in memory (repository
//! figures, the scrub's findings) and at the file system's free space.

use super::accesslog;
use super::duration;
use super::metrics;
use super::post::{self, AlertUrl};
use super::repostats::RepoStats;
use super::rules::Rules;
use super::scrub::{Fault, Scrub};
use super::statefile;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// The problems told, at the top of `--path` beside the lock file.
pub const STATE_FILE: &str = ".rest-server.alerts";
/// How often the checks run.
pub const CHECK_EVERY: Duration = Duration::from_secs(5);
/// A problem that lasts is told again this often.
pub const REMIND_EVERY: Duration = Duration::from_secs(86400);
/// A problem whose count grew is told again, at most this often.
pub const GROWTH_EVERY: Duration = Duration::from_secs(3600);
/// Messages waiting per receiver.
pub const QUEUE: usize = 32;
/// The longest wait between two tries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(600);
/// A message not delivered after this long is dropped (a reminder follows if the problem lasts).
pub const MAX_AGE: Duration = Duration::from_secs(86400);
/// A file system or a quota this full (percent of the bytes) is a problem …
pub const FULL_PERCENT: u64 = 90;
/// … until it is below this again (so that one hovering at 90 % is not told every minute).
pub const FINE_PERCENT: u64 = 85;

/// What a message is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Stale,
    Fresh,
    Quota,
    Full,
    Corrupt,
    Unreadable,
    UncleanStop,
    DiskPulled,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Stale,
        Kind::Fresh,
        Kind::Quota,
        Kind::Full,
        Kind::Corrupt,
        Kind::Unreadable,
        Kind::UncleanStop,
        Kind::DiskPulled,
    ];

    /// The message's first word.
    pub fn word(self) -> &'static str {
        match self {
            Kind::Stale => "stale",
            Kind::Fresh => "fresh",
            Kind::Quota => "quota",
            Kind::Full => "full",
            Kind::Corrupt => "corrupt",
            Kind::Unreadable => "unreadable",
            Kind::UncleanStop => "unclean-stop",
            Kind::DiskPulled => "disk-pulled",
        }
    }

    fn from_word(w: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.word() == w)
    }
}

/// `2026-12-07 03:32 UTC`, of seconds since the epoch.
fn at(secs: u64) -> String {
    accesslog::utc(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A message waiting for one receiver.
struct Queued {
    id: u64,
    text: Arc<str>,
    at: Instant,
}

/// One receiver and its queue.
struct Target {
    url: AlertUrl,
    queue: Mutex<VecDeque<Queued>>,
    wake: tokio::sync::Notify,
}

/// The queues, and the thread that posts them.
pub struct Sender {
    targets: Vec<Arc<Target>>,
    next_id: AtomicU64,
}

impl Sender {
    /// Start the posting thread for `urls`.
    pub fn start(urls: &[AlertUrl]) -> std::io::Result<Sender> {
        let targets: Vec<Arc<Target>> = urls
            .iter()
            .map(|u| Arc::new(Target { url: u.clone(), queue: Mutex::default(), wake: tokio::sync::Notify::new() }))
            .collect();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let mine = targets.clone();
        std::thread::Builder::new().name("alerts".into()).spawn(move || {
            rt.block_on(async move {
                let mut all = tokio::task::JoinSet::new();
                for t in mine {
                    all.spawn(deliver(t));
                }
                while all.join_next().await.is_some() {}
            })
        })?;
        Ok(Sender { targets, next_id: AtomicU64::new(0) })
    }

    /// Queue `text` for every receiver; never waits for one.
    pub fn send(&self, text: &str) {
        let text: Arc<str> = text.into();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        for t in &self.targets {
            let mut q = t.queue.lock().unwrap();
            if q.len() >= QUEUE {
                q.pop_front();
                log::warn!("alerts to {} are {QUEUE} behind: dropped the oldest", t.url.shown());
            }
            q.push_back(Queued { id, text: text.clone(), at: Instant::now() });
            drop(q);
            t.wake.notify_one();
        }
    }

    /// Wait until every queue is empty, at most `limit`; whether they are.
    pub fn flush(&self, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        loop {
            if self.targets.iter().all(|t| t.queue.lock().unwrap().is_empty()) {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Post one receiver's messages in order, trying again with backoff.
async fn deliver(t: Arc<Target>) {
    let mut failures = 0u32;
    let mut backoff = Duration::from_secs(1);
    loop {
        let head = t.queue.lock().unwrap().front().map(|q| (q.id, q.text.clone(), q.at));
        let Some((id, text, at)) = head else {
            t.wake.notified().await;
            continue;
        };
        let done = |t: &Target| {
            let mut q = t.queue.lock().unwrap();
            if q.front().is_some_and(|q| q.id == id) {
                q.pop_front();
            }
        };
        if at.elapsed() > MAX_AGE {
            done(&t);
            log::warn!("alert to {} dropped: not delivered for {}", t.url.shown(), duration::approx(MAX_AGE));
            continue;
        }
        match post::post(&t.url, &text).await {
            Ok(_) => {
                done(&t);
                if failures > 0 {
                    log::info!("alert to {} delivered after {} tries", t.url.shown(), failures + 1);
                }
                failures = 0;
                backoff = Duration::from_secs(1);
            }
            Err(e) => {
                failures += 1;
                if failures.is_power_of_two() {
                    log::warn!(
                        "alert to {}: {e} (try {failures}); trying again in {}",
                        t.url.shown(),
                        duration::approx(backoff)
                    );
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Post one message now, trying again until it is delivered or `limit`
/// has passed (the wrapper's `disk-pulled`, just before it exits).
pub fn send_now(urls: &[AlertUrl], text: &str, limit: Duration) -> bool {
    match Sender::start(urls) {
        Ok(s) => {
            s.send(text);
            s.flush(limit)
        }
        Err(e) => {
            log::error!("alerts: cannot start the sender: {e}");
            false
        }
    }
}

/// A message: the title line, a blank line, the text, and who sends it when.
pub fn message(kind: Kind, subject: &str, summary: &str, body: &str, origin: &str) -> String {
    format!("{} {subject}: {summary}\n\n{body}\n\n-- {origin}, {}\n", kind.word(), at(now_secs()))
}

/// `krazybox PROGRAM on HOST`: who sends a message.
pub fn origin(program: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    match host.trim() {
        "" => format!("krazybox {program}"),
        h => format!("krazybox {program} on {h}"),
    }
}

/// A problem that has been told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Seconds since the epoch: when it was first seen, and last told.
    pub since: u64,
    pub sent: u64,
    /// The count last told (objects, for `corrupt` and `unreadable`).
    pub level: u64,
}

/// The problems in force and the way to tell them.
pub struct Alerts {
    sender: Option<Sender>,
    problems: Mutex<BTreeMap<(Kind, String), Problem>>,
    file: Option<PathBuf>,
    origin: String,
    save_failed: AtomicBool,
}

impl Alerts {
    /// Alerts to `urls` (none: alerts are off), their problems kept in
    /// [`STATE_FILE`] in `dir`.
    pub fn new(urls: &[AlertUrl], dir: &Path) -> Alerts {
        let mut a = Alerts {
            sender: None,
            problems: Mutex::default(),
            file: None,
            origin: origin("rest-server"),
            save_failed: AtomicBool::new(false),
        };
        if urls.is_empty() {
            return a;
        }
        match Sender::start(urls) {
            Ok(s) => a.sender = Some(s),
            Err(e) => {
                log::error!("alerts: cannot start the sender: {e}; no alert will be sent");
                return a;
            }
        }
        let shown: Vec<String> = urls.iter().map(AlertUrl::shown).collect();
        log::info!("alerts go to {}", shown.join(", "));
        if urls.iter().any(AlertUrl::is_https) {
            if let Err(e) = post::tls_config() {
                log::error!("alerts: {e}: https receivers cannot be reached (set SSL_CERT_FILE)");
            }
        }
        let file = dir.join(STATE_FILE);
        if let Ok(text) = std::fs::read_to_string(&file) {
            *a.problems.lock().unwrap() = parse_problems(&text);
        }
        a.file = Some(file);
        a
    }

    /// Whether alerts are sent at all.
    pub fn on(&self) -> bool {
        self.sender.is_some()
    }

    /// The problems in force (for pages).
    pub fn problems(&self) -> Vec<(Kind, String, Problem)> {
        self.problems.lock().unwrap().iter().map(|((k, s), p)| (*k, s.clone(), *p)).collect()
    }

    fn send(&self, kind: Kind, subject: &str, summary: &str, body: &str) {
        let Some(sender) = &self.sender else { return };
        let text = message(kind, subject, summary, body, &self.origin);
        log::info!("alert: {}", text.lines().next().unwrap_or(""));
        sender.send(&text);
    }

    /// Something happened once: tell it.
    pub fn event(&self, kind: Kind, subject: &str, summary: &str, body: &str) {
        self.send(kind, subject, summary, body);
    }

    /// A problem holds (at `level`, a count where it has one): tell it if it
    /// is new, if its count grew (at most every [`GROWTH_EVERY`]) or as a
    /// reminder every [`REMIND_EVERY`].
    pub fn raise(&self, kind: Kind, subject: &str, level: u64, summary: &str, body: &str) {
        if !self.on() {
            return;
        }
        let now = now_secs();
        let mut problems = self.problems.lock().unwrap();
        let told = match problems.get_mut(&(kind, subject.to_string())) {
            None => {
                problems.insert((kind, subject.to_string()), Problem { since: now, sent: now, level });
                Some(summary.to_string())
            }
            Some(p) if level > p.level && now >= p.sent + GROWTH_EVERY.as_secs() => {
                (p.level, p.sent) = (level, now);
                Some(summary.to_string())
            }
            Some(p) if now >= p.sent + REMIND_EVERY.as_secs() => {
                (p.level, p.sent) = (p.level.max(level), now);
                Some(format!("{summary} (still, since {})", at(p.since)))
            }
            Some(p) if level < p.level => {
                // Fewer now: a later growth is told again.
                p.level = level;
                None
            }
            Some(_) => return,
        };
        let text = format_problems(&problems);
        drop(problems);
        if let Some(summary) = told {
            self.send(kind, subject, &summary, body);
        }
        self.save(&text);
    }

    /// The problem is over; what it was, if it was in force.
    pub fn clear(&self, kind: Kind, subject: &str) -> Option<Problem> {
        let mut problems = self.problems.lock().unwrap();
        let p = problems.remove(&(kind, subject.to_string()))?;
        let text = format_problems(&problems);
        drop(problems);
        self.save(&text);
        Some(p)
    }

    /// Forget, without a word, the problems of `kind` whose subject is gone.
    pub fn retain(&self, kind: Kind, keep: impl Fn(&str) -> bool) {
        let mut problems = self.problems.lock().unwrap();
        let before = problems.len();
        problems.retain(|(k, s), _| *k != kind || keep(s));
        if problems.len() != before {
            let text = format_problems(&problems);
            drop(problems);
            self.save(&text);
        }
    }

    /// Wait, at most `limit`, for the queued messages to be delivered (at a stop).
    pub fn flush(&self, limit: Duration) -> bool {
        self.sender.as_ref().map_or(true, |s| s.flush(limit))
    }

    fn save(&self, text: &str) {
        let Some(file) = &self.file else { return };
        let new = file.with_file_name(format!("{STATE_FILE}.new"));
        let written = std::fs::write(&new, text).and_then(|()| std::fs::rename(&new, file));
        match written {
            Ok(()) => {
                self.save_failed.store(false, Ordering::Relaxed);
            }
            Err(e) => {
                let _ = std::fs::remove_file(&new);
                if !self.save_failed.swap(true, Ordering::Relaxed) {
                    log::warn!("alerts: cannot write {}: {e}; a restart tells the problems again", file.display());
                }
            }
        }
    }
}

const HEADER: &str = "krazybox-alerts 1";

fn format_problems(problems: &BTreeMap<(Kind, String), Problem>) -> String {
    let mut out = format!("{HEADER}\n# written by rest-server: the problems its alerts have told\n");
    for ((k, s), p) in problems {
        out.push_str(&format!("{} {} {} {} {}\n", k.word(), p.since, p.sent, p.level, statefile::escape(s)));
    }
    out
}

fn parse_problems(text: &str) -> BTreeMap<(Kind, String), Problem> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        return out;
    }
    for line in lines {
        let w: Vec<&str> = line.split(' ').collect();
        let [kind, since, sent, level, subject] = w[..] else { continue };
        let (Some(kind), Ok(since), Ok(sent), Ok(level), Some(subject)) =
            (Kind::from_word(kind), since.parse(), sent.parse(), level.parse(), statefile::unescape(subject))
        else {
            continue;
        };
        out.insert((kind, subject), Problem { since, sent, level });
    }
    out
}

/// `186.0 GB`: bytes for people, in powers of 1000 as disks are sold.
fn bytes(n: u64) -> String {
    let units = ["kB", "MB", "GB", "TB", "PB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1000.0;
    for unit in units {
        if v < 1000.0 || unit == "PB" {
            return format!("{v:.1} {unit}");
        }
        v /= 1000.0;
    }
    unreachable!("the last unit takes every number")
}

/// Percent of `part` in `whole`, rounded down.
fn percent(part: u64, whole: u64) -> u64 {
    if whole == 0 {
        0
    } else {
        (u128::from(part) * 100 / u128::from(whole)) as u64
    }
}

/// What the checks look at.
pub struct Checks {
    pub alerts: Arc<Alerts>,
    pub repostats: Arc<RepoStats>,
    pub rules: Arc<Rules>,
    pub scrub: Arc<Scrub>,
    /// `--path`: the disk's subject.
    pub path: PathBuf,
    /// `--alert-stale` (a repository's DURATION in the rules file wins).
    pub stale_after: Duration,
}

/// Run the checks every [`CHECK_EVERY`] on a thread of their own, when alerts are on.
pub fn watch(c: Checks) {
    if !c.alerts.on() {
        return;
    }
    let spawned = std::thread::Builder::new().name("alert-checks".into()).spawn(move || loop {
        check(&c);
        std::thread::sleep(CHECK_EVERY);
    });
    if let Err(e) = spawned {
        log::error!("alerts: cannot start the checks: {e}");
    }
}

/// Look once at everything that can be a problem.
pub fn check(c: &Checks) {
    // Ages and reminders mean nothing before the clock is set (a Pi before NTP).
    let Some(now) = duration::now_if_set() else { return };
    let a = &c.alerts;
    if c.repostats.counted() {
        let mut present = BTreeSet::new();
        for r in &c.repostats.figures() {
            let subject = format!("/{}", r.repo);
            let stale_after = c.rules.stale_after(&r.repo).unwrap_or(c.stale_after);
            let newest = r.newest.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok()).map(|d| d.as_secs());
            // A snapshot from the future: this clock, or the client's, is wrong; no judgement.
            if let Some(newest) = newest.filter(|&t| t <= now + 3600) {
                let age = Duration::from_secs(now.saturating_sub(newest));
                if age > stale_after {
                    a.raise(
                        Kind::Stale,
                        &subject,
                        0,
                        &format!("no snapshot for {}", duration::approx(age)),
                        &format!(
                            "The newest snapshot in {subject} was written {}, {} ago; a repository without one for \
                             {} is stale. Is its backup still running?",
                            at(newest),
                            duration::approx(age),
                            duration::approx(stale_after)
                        ),
                    );
                } else if let Some(p) = a.clear(Kind::Stale, &subject) {
                    a.event(
                        Kind::Fresh,
                        &subject,
                        &format!("a new snapshot, written {}", at(newest)),
                        &format!("{subject} has a new snapshot again; it had been stale since {}.", at(p.since)),
                    );
                }
            }
            match c.repostats.limit(&r.repo) {
                Some(limit) if percent(r.size, limit) >= FULL_PERCENT => a.raise(
                    Kind::Quota,
                    &subject,
                    0,
                    &format!("{}% of its {} quota used", percent(r.size, limit), bytes(limit)),
                    &format!(
                        "{subject} holds {} of the {} it may hold. A backup that would pass the limit fails \
                         (the server answers 507); restic forget --prune frees space, or raise the limit.",
                        bytes(r.size),
                        bytes(limit)
                    ),
                ),
                Some(limit) if percent(r.size, limit) >= FINE_PERCENT => {}
                _ => {
                    a.clear(Kind::Quota, &subject);
                }
            }
            present.insert(subject);
        }
        for kind in [Kind::Stale, Kind::Quota] {
            a.retain(kind, |s| present.contains(s));
        }
    }
    if let Some(fs) = metrics::fs_stats(&c.path) {
        // As df counts: what is used, of what the server could use.
        let used = fs.size.saturating_sub(fs.free);
        let share = percent(used, used + fs.avail);
        let subject = c.path.display().to_string();
        if share >= FULL_PERCENT {
            a.raise(
                Kind::Full,
                &subject,
                0,
                &format!("the disk is {share}% full, {} free", bytes(fs.avail)),
                &format!(
                    "The file system of {subject} has {} of {} free. When it is full every backup fails; \
                     restic forget --prune in the repositories frees space.",
                    bytes(fs.avail),
                    bytes(fs.size)
                ),
            );
        } else if share < FINE_PERCENT {
            a.clear(Kind::Full, &subject);
        }
        a.retain(Kind::Full, |s| s == subject);
    }
    if c.scrub.enabled() {
        let findings = c.scrub.findings();
        let mut present = BTreeSet::new();
        for f in &findings {
            let subject = format!("/{}", f.repo);
            for (kind, fault, n) in [
                (Kind::Corrupt, Fault::Corrupt, f.counts.corrupt),
                (Kind::Unreadable, Fault::Unreadable, f.counts.unreadable),
            ] {
                if n == 0 {
                    a.clear(kind, &subject);
                    continue;
                }
                let paths: Vec<&str> =
                    f.examples.iter().filter(|(k, _)| *k == fault).map(|(_, p)| p.as_str()).collect();
                let (summary, what) = match fault {
                    Fault::Corrupt => (
                        format!("{n} object{} not matching {} name", plural(n), if n == 1 { "its" } else { "their" }),
                        "The scrub read these objects and their SHA-256 is not their name: their contents changed \
                         on the disk.",
                    ),
                    Fault::Unreadable => (
                        format!("{n} object{} the disk cannot read", plural(n)),
                        "Reading these objects failed with an I/O error: the disk may be failing.",
                    ),
                };
                a.raise(
                    kind,
                    &subject,
                    n,
                    &summary,
                    &format!(
                        "{what}\n\n{}\n\nNothing was changed. With the repository's password, restic check \
                         --read-data shows what is affected, and restic repair packs (0.16 and later) saves \
                         what can be saved.",
                        paths.iter().map(|p| format!("  {subject}/{p}")).collect::<Vec<_>>().join("\n")
                    ),
                );
            }
            present.insert(subject);
        }
        for kind in [Kind::Corrupt, Kind::Unreadable] {
            a.retain(kind, |s| present.contains(s));
        }
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_are_told_once_then_reminded_and_kept_across_restarts() {
        let dir = std::env::temp_dir().join(format!("krazybox-alerts-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // A receiver nobody listens on: the messages wait in the queue.
        let url = AlertUrl::parse("http://127.0.0.1:9/").unwrap();
        let a = Alerts::new(std::slice::from_ref(&url), &dir);
        let queued = |a: &Alerts| a.sender.as_ref().unwrap().targets[0].queue.lock().unwrap().len();
        let first = queued(&a);
        a.raise(Kind::Corrupt, "/r", 1, "1 object", "body");
        a.raise(Kind::Corrupt, "/r", 1, "1 object", "body");
        a.raise(Kind::Corrupt, "/r", 2, "2 objects", "body");
        assert_eq!(queued(&a), first + 1, "told once, growth waits an hour");
        let p = a.problems()[0].2;
        assert_eq!(p.level, 1);
        // A day later: a reminder.
        a.problems.lock().unwrap().get_mut(&(Kind::Corrupt, "/r".into())).unwrap().sent -= 86400;
        a.raise(Kind::Corrupt, "/r", 2, "2 objects", "body");
        assert_eq!(a.problems()[0].2.level, 2);
        let text = std::fs::read_to_string(dir.join(STATE_FILE)).unwrap();
        assert!(text.contains("corrupt "), "{text}");
        let again = Alerts::new(&[url], &dir);
        assert_eq!(again.problems(), a.problems(), "a restart remembers what was told");
        assert!(again.clear(Kind::Corrupt, "/r").is_some());
        assert!(again.clear(Kind::Corrupt, "/r").is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_queue_keeps_the_newest() {
        let s = Sender::start(&[AlertUrl::parse("http://127.0.0.1:9/").unwrap()]).unwrap();
        for i in 0..QUEUE + 8 {
            s.send(&format!("message {i}"));
        }
        let q = s.targets[0].queue.lock().unwrap();
        assert_eq!(q.len(), QUEUE);
        assert_eq!(&*q.back().unwrap().text, format!("message {}", QUEUE + 7));
        assert_eq!(&*q.front().unwrap().text, "message 8");
        drop(q);
        assert!(!s.flush(Duration::from_millis(50)), "nobody takes them");
    }

    #[test]
    fn messages_start_with_the_kind_and_the_subject() {
        let m = message(Kind::UncleanStop, "/perm/restic", "2 interrupted uploads removed", "b", "krazybox x");
        assert!(m.starts_with("unclean-stop /perm/restic: 2 interrupted uploads removed\n\nb\n\n-- krazybox x, "));
        for k in Kind::ALL {
            assert_eq!(Kind::from_word(k.word()), Some(k));
            assert!(!k.word().contains(' '));
        }
        assert_eq!([bytes(999), bytes(1000), bytes(186_049_000_000)], ["999 B", "1.0 kB", "186.0 GB"]);
        assert_eq!(percent(9, 10), 90);
    }
}
