//! The scrub: every object of every repository read again in the background,
//! at a bounded rate, its SHA-256 compared with its name (restic names every
//! object but `config` by the hash of its contents). A mismatch is a corrupt
//! object, a read error an unreadable one: both are logged with the path and
//! counted per repository; nothing is moved or changed (restic's `repair
//! packs` is the cure, and it needs the password).
//!
//! A pass walks the repositories in name order, each one's folders in name
//! order (`data/00` … `data/ff`, `index`, `keys`, `locks`, `snapshots`) and
//! each folder's objects in name order, so that a position (repository,
//! folder, name) says what is done. The position is saved every
//! [`SAVE_EVERY`] and at a clean stop in [`STATE_FILE`] at the top of
//! `--path`, and a pass goes on from there after a restart. A folder's names
//! are read [`BATCH`] at a time (the smallest ones after the position), so
//! memory does not grow with the number of objects.
//!
//! Each file is dropped from the page cache before and after it is read
//! (`POSIX_FADV_DONTNEED`): the scrub reads what is on the disk, not a copy in
//! memory, and does not push out what clients use. It reads at `--scrub-rate`
//! bytes a second, a tenth of that while uploads or downloads move bytes.

use super::conns;
use super::duration;
use super::repo::{self, Store};
use super::repostats;
use super::scrub_state::{format_state, parse_state, Position, Progress};
pub use super::scrub_state::{Counts, Fault, Pass};
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, BinaryHeap};
use std::fmt::Write as _;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// The scrub's own file at the top of `--path`, beside the lock file: no
/// repository's, and no quota counts it.
pub const STATE_FILE: &str = ".rest-server.scrub";
/// Bytes a second when `--scrub-rate` is not given.
pub const DEFAULT_RATE: u64 = 20_000_000;
/// Time from one pass's start to the next when `--scrub-interval` is not given.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30 * 86400);
/// While clients move bytes the scrub reads at its rate divided by this.
pub const BUSY_DIVISOR: u64 = 10;
/// How often the position is saved during a pass.
pub const SAVE_EVERY: Duration = Duration::from_secs(30);
/// Names of one folder held at once.
const BATCH: usize = 1000;
/// One read.
const CHUNK: usize = 256 * 1024;
/// Paths of bad objects remembered per repository and kind (the counts go on).
const EXAMPLES: usize = 10;
/// Bad objects logged per pass (a dying disk would fill the log; the counts go on).
pub const LOGGED: u64 = 100;

/// One repository's findings, for alerts and pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub repo: String,
    /// The last complete reading's counts, or the one in progress where it found more.
    pub counts: Counts,
    /// Some of the bad objects, as paths in the repository (`data/3f/3f…`).
    pub examples: Vec<(Fault, String)>,
}

/// The scrub's settings, findings and position.
pub struct Scrub {
    /// `None`: no scrub (`--scrub-interval off`).
    interval: Option<Duration>,
    rate: u64,
    root: PathBuf,
    users: bool,
    progress: Mutex<Progress>,
    /// One save at a time (the scrub's own and the one at a stop).
    saving: Mutex<()>,
    save_failed: AtomicBool,
    /// Bytes read since the server started.
    read: AtomicU64,
    /// Bad objects logged in this pass.
    logged: AtomicU64,
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Scrub {
    /// The scrub of the tree at `root`, its state read from [`STATE_FILE`];
    /// `users`: label `user` in `/metrics` (`--private-repos`).
    pub fn new(root: &Path, interval: Option<Duration>, rate: u64, users: bool) -> Scrub {
        let s = Scrub {
            interval,
            rate: rate.max(1),
            root: root.to_path_buf(),
            users,
            progress: Mutex::default(),
            saving: Mutex::new(()),
            save_failed: AtomicBool::new(false),
            read: AtomicU64::new(0),
            logged: AtomicU64::new(0),
        };
        if interval.is_some() {
            match std::fs::read_to_string(root.join(STATE_FILE)) {
                Ok(text) => match parse_state(&text) {
                    Some(p) => *s.progress.lock().unwrap() = p,
                    None => log::warn!("scrub: {} is not a state this server wrote; starting afresh", STATE_FILE),
                },
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => log::warn!("scrub: reading {}: {e}; starting afresh", root.join(STATE_FILE).display()),
            }
        }
        s
    }

    pub fn enabled(&self) -> bool {
        self.interval.is_some()
    }

    /// The interval and the rate, when the scrub is on.
    pub fn settings(&self) -> Option<(Duration, u64)> {
        self.interval.map(|i| (i, self.rate))
    }

    /// Every repository's findings, worst first.
    pub fn findings(&self) -> Vec<Finding> {
        let p = self.progress.lock().unwrap();
        let mut out: Vec<Finding> = p
            .repos
            .iter()
            .map(|(name, r)| Finding {
                repo: name.clone(),
                counts: r.now.map_or(r.done, |n| n.max(r.done)),
                examples: r.examples.union(&r.examples_now).cloned().collect(),
            })
            .collect();
        out.sort_by_key(|f| std::cmp::Reverse(f.counts.corrupt + f.counts.unreadable));
        out
    }

    /// The pass in progress (`end` unused) and the last complete one.
    pub fn passes(&self) -> (Option<Pass>, Option<Pass>) {
        let p = self.progress.lock().unwrap();
        (p.current, p.last)
    }

    /// The figures in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if !self.enabled() {
            return out;
        }
        let findings = {
            let mut f = self.findings();
            f.sort_by(|a, b| a.repo.cmp(&b.repo));
            f
        };
        type Gauge = (&'static str, &'static str, fn(&Counts) -> u64);
        let per_repo: [Gauge; 2] = [
            (
                "rest_server_repo_scrub_corrupt_objects",
                "Objects whose SHA-256 was not their name when the scrub last read them",
                |c| c.corrupt,
            ),
            (
                "rest_server_repo_scrub_unreadable_objects",
                "Objects the scrub could not read (an I/O error) when it last read them",
                |c| c.unreadable,
            ),
        ];
        for (name, help, value) in per_repo {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for f in &findings {
                let _ = writeln!(out, "{name}{{{}}} {}", repostats::labels(self.users, &f.repo), value(&f.counts));
            }
        }
        let (current, last) = self.passes();
        let mut gauge = |name: &str, help: &str, value: Option<u64>| {
            if let Some(v) = value {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
            }
        };
        gauge("rest_server_scrub_running", "1 while a scrub pass runs", Some(u64::from(current.is_some())));
        gauge(
            "rest_server_scrub_pass_read_bytes",
            "Bytes the scrub pass in progress has read (across restarts)",
            current.map(|c| c.bytes),
        );
        gauge(
            "rest_server_scrub_last_pass_start_timestamp_seconds",
            "When the last complete scrub pass started",
            last.map(|l| l.start),
        );
        gauge(
            "rest_server_scrub_last_pass_end_timestamp_seconds",
            "When the last complete scrub pass ended",
            last.map(|l| l.end),
        );
        gauge(
            "rest_server_scrub_last_pass_duration_seconds",
            "How long the last complete scrub pass took",
            last.map(|l| l.end.saturating_sub(l.start)),
        );
        let name = "rest_server_scrub_read_bytes_total";
        let _ = writeln!(
            out,
            "# HELP {name} Bytes the scrub has read since the server started\n# TYPE {name} counter\n{name} {}",
            self.read.load(Ordering::Relaxed)
        );
        out
    }

    /// How long until the next pass is due: at once while one is unfinished.
    /// A new pass waits for the clock to be set, so that its start means something.
    fn due_in(&self) -> Duration {
        let Some(interval) = self.interval else { return Duration::MAX };
        let p = self.progress.lock().unwrap();
        match (&p.current, &p.last, duration::now_if_set()) {
            (Some(_), _, _) => Duration::ZERO,
            (None, _, None) => Duration::from_secs(60),
            (None, None, Some(_)) => Duration::ZERO,
            (None, Some(last), Some(now)) => Duration::from_secs((last.start + interval.as_secs()).saturating_sub(now)),
        }
    }

    /// Passes, one after another, for ever (run on a thread of its own).
    fn run(&self, store: &Store) {
        loop {
            let wait = self.due_in();
            if wait.is_zero() {
                self.pass(store);
            } else {
                // A clock set late (no RTC, NTP after boot) is seen within a minute.
                std::thread::sleep(wait.min(Duration::from_secs(60)));
            }
        }
    }

    /// One pass, or the rest of one.
    fn pass(&self, store: &Store) {
        let started = Instant::now();
        self.logged.store(0, Ordering::Relaxed);
        let (resume, number) = {
            let mut p = self.progress.lock().unwrap();
            if p.current.is_none() {
                p.pass += 1;
                p.current = Some(Pass { start: now_secs(), ..Pass::default() });
                p.position = None;
                log::info!("scrub: pass {} started", p.pass);
            } else {
                let c = p.current.unwrap_or_default();
                let at = p.position.as_ref().map_or("the start".to_string(), |q| {
                    format!("/{}", repo::join(&q.repo, &repo::join(&q.folder, &q.name)))
                });
                log::info!(
                    "scrub: pass {} goes on after {} ({} objects, {} bytes read before)",
                    p.pass,
                    at,
                    c.objects,
                    c.bytes
                );
            }
            (p.position.clone(), p.pass)
        };
        self.save();
        let repos = repostats::repositories(&self.root);
        {
            let mut p = self.progress.lock().unwrap();
            for r in &repos {
                p.repos.entry(r.clone()).or_default();
            }
        }
        let mut pace = Pace::new(self.rate);
        let mut buf = vec![0u8; CHUNK];
        let mut saved = Instant::now();
        for repo_name in &repos {
            let skip_to = resume.as_ref().filter(|q| q.repo == *repo_name);
            if resume.as_ref().is_some_and(|q| *repo_name < q.repo) {
                continue;
            }
            self.progress
                .lock()
                .unwrap()
                .repos
                .entry(repo_name.clone())
                .or_default()
                .now
                .get_or_insert_with(Counts::default);
            for folder in folders(&self.root.join(repo_name)) {
                let mut after = match skip_to {
                    Some(q) if folder < q.folder => continue,
                    Some(q) if folder == q.folder => Some(q.name.clone()),
                    _ => None,
                };
                let dir = self.root.join(repo::join(repo_name, &folder));
                loop {
                    let batch = next_names(&dir, after.as_deref(), BATCH);
                    if batch.is_empty() {
                        break;
                    }
                    for name in batch {
                        self.check(store, repo_name, &folder, &name, &mut pace, &mut buf);
                        if saved.elapsed() >= SAVE_EVERY {
                            self.save();
                            saved = Instant::now();
                        }
                        after = Some(name);
                    }
                }
            }
            let mut p = self.progress.lock().unwrap();
            if let Some(r) = p.repos.get_mut(repo_name) {
                r.done = r.now.take().unwrap_or_default();
                r.examples = std::mem::take(&mut r.examples_now);
            }
        }
        let (counts, last) = {
            let mut p = self.progress.lock().unwrap();
            let listed: BTreeSet<&String> = repos.iter().collect();
            p.repos.retain(|name, _| listed.contains(name));
            let mut last = p.current.take().unwrap_or_default();
            last.end = now_secs().max(last.start);
            p.last = Some(last);
            p.position = None;
            let counts = p.repos.values().fold(Counts::default(), |a, r| Counts {
                corrupt: a.corrupt + r.done.corrupt,
                unreadable: a.unreadable + r.done.unreadable,
            });
            (counts, last)
        };
        self.save();
        log::info!(
            "scrub: pass {number} done: {} objects, {} bytes in {} repositories; {} corrupt, {} unreadable \
             ({:.1?} in this run)",
            last.objects,
            last.bytes,
            repos.len(),
            counts.corrupt,
            counts.unreadable,
            started.elapsed()
        );
    }

    /// Read one object and judge it.
    fn check(&self, store: &Store, repo_name: &str, folder: &str, name: &str, pace: &mut Pace, buf: &mut [u8]) {
        let in_repo = repo::join(folder, name);
        let rel = repo::join(repo_name, &in_repo);
        let mut read = None;
        let fault = match read_hash(store, &rel, pace, buf, &self.read) {
            Ok(None) => None,
            Ok(Some((hash, n))) => {
                read = Some(n);
                (hash != name).then(|| {
                    if self.log_one() {
                        log::error!(
                            "scrub: {}: its SHA-256 is {hash}, not its name: corrupt (restic repair packs can \
                             save what is left)",
                            self.root.join(&rel).display()
                        );
                    }
                    Fault::Corrupt
                })
            }
            Err(e) => {
                if self.log_one() {
                    log::error!("scrub: {}: {e}: unreadable", self.root.join(&rel).display());
                }
                Some(Fault::Unreadable)
            }
        };
        // The position and what the pass has read move together: a save never has one without the other.
        let mut p = self.progress.lock().unwrap();
        if let (Some(c), Some(n)) = (p.current.as_mut(), read) {
            c.bytes += n;
            c.objects += 1;
        }
        if let Some(f) = fault {
            let r = p.repos.entry(repo_name.to_string()).or_default();
            r.now.get_or_insert_with(Counts::default).add(f);
            if r.examples_now.iter().filter(|(k, _)| *k == f).count() < EXAMPLES {
                r.examples_now.insert((f, in_repo));
            }
        }
        p.position = Some(Position { repo: repo_name.to_string(), folder: folder.to_string(), name: name.to_string() });
    }

    /// Whether one more bad object may be logged in this pass.
    fn log_one(&self) -> bool {
        match self.logged.fetch_add(1, Ordering::Relaxed) {
            n if n < LOGGED => true,
            LOGGED => {
                log::error!("scrub: more than {LOGGED} bad objects in this pass: the rest are counted, not logged");
                false
            }
            _ => false,
        }
    }

    /// Write the state to [`STATE_FILE`] (a new file renamed over the old).
    pub fn save(&self) {
        if !self.enabled() {
            return;
        }
        let _one = self.saving.lock().unwrap();
        let text = format_state(&self.progress.lock().unwrap());
        let (file, new) = (self.root.join(STATE_FILE), self.root.join(format!("{STATE_FILE}.new")));
        let written = (|| {
            use std::io::Write as _;
            let mut f = std::fs::File::create(&new)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&new, &file)
        })();
        match written {
            Ok(()) => {
                if self.save_failed.swap(false, Ordering::Relaxed) {
                    log::info!("scrub: {} written again", file.display());
                }
            }
            Err(e) => {
                let _ = std::fs::remove_file(&new);
                if !self.save_failed.swap(true, Ordering::Relaxed) {
                    log::warn!(
                        "scrub: cannot save the position in {}: {e}; a restart begins the pass again",
                        file.display()
                    );
                }
            }
        }
    }
}

/// Start the scrub on a thread of its own, reading through `store`.
pub fn start(scrub: &Arc<Scrub>, store: Store) {
    if !scrub.enabled() {
        return;
    }
    let s = scrub.clone();
    if let Err(e) = std::thread::Builder::new().name("scrub".into()).spawn(move || s.run(&store)) {
        log::error!("scrub: cannot start its thread: {e}");
    }
}

/// The rate limit: sleeps so that reads stay at `rate` bytes a second
/// (a tenth of it while uploads or downloads move bytes).
struct Pace {
    rate: u64,
    next: Instant,
}

impl Pace {
    fn new(rate: u64) -> Pace {
        Pace { rate, next: Instant::now() }
    }

    fn take(&mut self, n: usize) {
        let busy = conns::traffic_within(Duration::from_secs(1));
        let rate = if busy { (self.rate / BUSY_DIVISOR).max(1) } else { self.rate };
        let now = Instant::now();
        // Behind (a slow disk, a busy machine): no burst to catch up.
        if self.next + Duration::from_secs(1) < now {
            self.next = now;
        }
        self.next += Duration::from_secs_f64(n as f64 / rate as f64);
        if self.next > now {
            std::thread::sleep(self.next - now);
        }
    }
}

/// Read `rel` whole: its SHA-256 in hex and its length; `None` when it is gone
/// (deleted meanwhile) or not a regular file.
fn read_hash(
    store: &Store,
    rel: &str,
    pace: &mut Pace,
    buf: &mut [u8],
    read: &AtomicU64,
) -> io::Result<Option<(String, u64)>> {
    let mut file = match store.open_file(rel) {
        Ok((f, _)) => f,
        Err(e) if repo::is_outside_or_missing(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let forget = |f: &std::fs::File| {
        use nix::fcntl::{posix_fadvise, PosixFadviseAdvice};
        let _ = posix_fadvise(f.as_raw_fd(), 0, 0, PosixFadviseAdvice::POSIX_FADV_DONTNEED);
    };
    forget(&file);
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    loop {
        let n = match file.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        total += n as u64;
        read.fetch_add(n as u64, Ordering::Relaxed);
        pace.take(n);
    }
    forget(&file);
    let hex = hasher.finalize().iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    });
    Ok(Some((hex, total)))
}

/// A repository's object folders that exist, in name order.
fn folders(repo_dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for kind in repo::TYPES {
        if kind == "data" {
            let Ok(entries) = std::fs::read_dir(repo_dir.join(kind)) else { continue };
            for e in entries.flatten() {
                if let Some(n) = e.file_name().to_str() {
                    if n.len() == 2
                        && n.bytes().all(|b| b.is_ascii_hexdigit())
                        && e.file_type().is_ok_and(|t| t.is_dir())
                    {
                        out.push(format!("data/{n}"));
                    }
                }
            }
        } else if repo_dir.join(kind).is_dir() {
            out.push(kind.to_string());
        }
    }
    out.sort();
    out
}

/// The `n` smallest object names in `dir` after `after`, in order. One
/// reading of the folder, keeping at most `n` names.
fn next_names(dir: &Path, after: Option<&str>, n: usize) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut heap = BinaryHeap::with_capacity(n + 1);
    for e in entries.flatten() {
        let Ok(name) = e.file_name().into_string() else { continue };
        if !repo::valid_id(&name) || after.is_some_and(|a| name.as_str() <= a) {
            continue;
        }
        heap.push(name);
        if heap.len() > n {
            heap.pop();
        }
    }
    heap.into_sorted_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_in_order_a_batch_at_a_time() {
        let dir = std::env::temp_dir().join(format!("krazybox-scrub-names-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut names: Vec<String> = (0..50u8).map(|i| format!("{i:02x}").repeat(32)).collect();
        for n in &names {
            std::fs::write(dir.join(n), b"").unwrap();
        }
        std::fs::write(dir.join(".hidden"), b"").unwrap();
        std::fs::write(dir.join("not-an-object"), b"").unwrap();
        names.sort();
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let batch = next_names(&dir, after.as_deref(), 7);
            if batch.is_empty() {
                break;
            }
            assert!(batch.len() <= 7);
            after = batch.last().cloned();
            seen.extend(batch);
        }
        assert_eq!(seen, names);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_pass_finds_corrupt_objects_and_goes_on_from_its_position() {
        let dir = std::env::temp_dir().join(format!("krazybox-scrub-pass-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let put = |rel: &str, data: &[u8]| {
            let p = dir.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, data).unwrap();
        };
        let hex = |d: &[u8]| Sha256::digest(d).iter().map(|b| format!("{b:02x}")).collect::<String>();
        let good = hex(b"good");
        put(&format!("a/data/{}/{good}", &good[..2]), b"good");
        let bad = hex(b"bad");
        put(&format!("a/data/{}/{bad}", &bad[..2]), b"bad!");
        put("a/config", b"never compared");
        let key = hex(b"key");
        put(&format!("b/keys/{key}"), b"key");
        let store = Store::open(&dir, repo::Modes::new(false)).unwrap();
        let scrub = Scrub::new(&dir, Some(Duration::from_secs(3600)), 1 << 30, false);
        assert_eq!(scrub.due_in(), Duration::ZERO, "a tree never scrubbed is due at once");
        scrub.pass(&store);
        let f = scrub.findings();
        assert_eq!(f[0].repo, "a");
        assert_eq!(f[0].counts, Counts { corrupt: 1, unreadable: 0 });
        assert_eq!(f[0].examples, [(Fault::Corrupt, format!("data/{}/{bad}", &bad[..2]))]);
        assert_eq!(f[1].counts, Counts::default());
        let (current, last) = scrub.passes();
        assert!(current.is_none());
        assert_eq!(last.unwrap().objects, 3);
        assert!(scrub.due_in() > Duration::from_secs(3000));
        let text = scrub.render();
        assert!(text.contains("rest_server_repo_scrub_corrupt_objects{repo=\"/a\"} 1\n"), "{text}");
        assert!(text.contains("rest_server_repo_scrub_unreadable_objects{repo=\"/b\"} 0\n"), "{text}");
        assert!(text.contains("\nrest_server_scrub_last_pass_end_timestamp_seconds "), "{text}");

        // A pass stopped after the first repository goes on with the second one.
        {
            let mut p = scrub.progress.lock().unwrap();
            p.last = None;
            p.current = Some(Pass { start: 1, ..Pass::default() });
            p.position = Some(Position { repo: "a".into(), folder: "snapshots".into(), name: "f".repeat(64) });
            // What the stopped pass had found in a so far.
            let a = p.repos.get_mut("a").unwrap();
            a.now = Some(a.done);
            a.examples_now = a.examples.clone();
        }
        scrub.save();
        let again = Scrub::new(&dir, Some(Duration::from_secs(3600)), 1 << 30, false);
        again.pass(&store);
        assert_eq!(again.passes().1.unwrap().objects, 1, "only b's key was read");
        assert_eq!(again.read.load(Ordering::Relaxed), 3);
        assert_eq!(again.findings()[0].counts.corrupt, 1, "a's finding was kept");
        // Repaired (a new object, the bad one deleted): the next pass finds nothing.
        std::fs::remove_file(dir.join(format!("a/data/{}/{bad}", &bad[..2]))).unwrap();
        again.progress.lock().unwrap().last = None;
        again.pass(&store);
        assert!(again.findings().iter().all(|f| f.counts == Counts::default() && f.examples.is_empty()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
