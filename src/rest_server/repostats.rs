//! Per-repository figures (bytes stored, snapshot files, time of the newest
//! snapshot) for `/metrics`, and the per-repository quota (the limits come
//! from [`super::rules`]). Read from the file system only: names, sizes and
//! mtimes, never contents.
//!
//! The figures are counted once at start by a background thread and then kept
//! up to date by the uploads and deletions the server handles; a scrape only
//! formats what is in memory. While the scan runs, a change to a folder the
//! scan has still to read is left to the scan (it will see the file or its
//! absence); a change to a folder already read, or one the scan never
//! listed, is counted at once. The scan reads each folder holding that
//! folder's lock (one of [`STRIPES`], by a hash of its path), which a change
//! holds across its link or unlink, so no change falls between the two; other
//! folders' changes go on meanwhile. Finding the repositories excludes all
//! changes for its few directory reads. Once the scan is done, changes take no
//! lock but the figures' mutex.

use super::repo::TYPES;
use super::rules::{Rules, MAX_DEPTH};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant, SystemTime};

/// Folder locks during the scan at start.
const STRIPES: usize = 64;

/// Where an object lives: its repository, its folder and its type ("config" for the config).
#[derive(Debug, PartialEq, Eq)]
pub struct Place<'a> {
    pub repo: &'a str,
    pub folder: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
}

/// Take apart a path made by `repo::object_path` or `repo::join(repo, "config")`.
/// Folder names never equal a type or `config` (the router stops at them), so
/// this is unambiguous.
pub fn locate(rel: &str) -> Place<'_> {
    let (folder, name) = rel.rsplit_once('/').unwrap_or(("", rel));
    if name == "config" {
        return Place { repo: folder, folder, kind: "config", name };
    }
    let (up, last) = folder.rsplit_once('/').unwrap_or(("", folder));
    let (repo_end, kind) = if TYPES.contains(&last) {
        (up, last)
    } else {
        // data/xx/<id>
        (up.rsplit_once('/').map_or("", |(r, _)| r), "data")
    };
    Place { repo: repo_end, folder, kind, name }
}

#[derive(Default, Debug)]
struct Figures {
    /// Bytes of the config and every object.
    size: u64,
    /// Bytes of uploads in flight, for the quota.
    reserved: u64,
    /// Snapshot file names and their mtimes (seconds since the epoch).
    snapshots: HashMap<String, f64>,
    /// Folders the scan at start has still to read; figures are shown at 0.
    pending: usize,
}

/// One repository's figures, as [`RepoStats::figures`] gives them.
#[derive(Clone, Debug, PartialEq)]
pub struct Figured {
    /// The folder below `--path`, `""` for the root one.
    pub repo: String,
    /// The count at start has read all of it.
    pub counted: bool,
    pub size: u64,
    pub snapshots: usize,
    /// The mtime of the newest snapshot file.
    pub newest: Option<SystemTime>,
}

enum Phase {
    /// Finding the repositories: every change is left to the scan.
    Listing,
    /// Reading folders: changes to those still pending are left to the scan.
    Scanning,
    Done,
}

/// The figures of every repository, the scan at start and the limits.
pub struct RepoStats {
    root: PathBuf,
    /// Label `user` too (`--private-repos`).
    users: bool,
    /// Off when neither metrics nor a per-repository quota need the figures.
    enabled: bool,
    phase: RwLock<Phase>,
    /// Folders the scan has still to read.
    pending: Mutex<HashSet<String>>,
    stripes: [Mutex<()>; STRIPES],
    /// The scan at start is over: changes need not look at the phase.
    done: AtomicBool,
    /// The repositories are known (the scan is past listing).
    listed: AtomicBool,
    figures: Mutex<BTreeMap<String, Figures>>,
    rules: Arc<Rules>,
}

/// A change to one object in progress: hold it across the link or unlink,
/// then say what happened.
pub struct Change<'a> {
    stats: &'a RepoStats,
    _scan: Option<(RwLockReadGuard<'a, Phase>, Option<MutexGuard<'a, ()>>)>,
    counts: bool,
    repo: String,
    kind: String,
    name: String,
}

impl Change<'_> {
    /// The object was created with `size` bytes; `mtime` is asked only for snapshots.
    pub fn added(self, size: u64, mtime: impl FnOnce() -> Option<SystemTime>) {
        if !self.counts {
            return;
        }
        let when = if self.kind == "snapshots" { mtime().map(epoch_seconds) } else { None };
        let mut figures = self.stats.figures.lock().unwrap();
        let f = figures.entry(self.repo).or_default();
        f.size += size;
        if let Some(t) = when {
            f.snapshots.insert(self.name, t);
        }
    }

    /// The object, of `size` bytes, was removed.
    pub fn removed(self, size: u64) {
        if !self.counts {
            return;
        }
        let mut figures = self.stats.figures.lock().unwrap();
        let f = figures.entry(self.repo).or_default();
        f.size = f.size.saturating_sub(size);
        if self.kind == "snapshots" {
            f.snapshots.remove(&self.name);
        }
    }
}

fn epoch_seconds(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

impl RepoStats {
    /// `enabled`: whether anything needs the figures besides the limits.
    pub fn new(root: &Path, users: bool, enabled: bool, rules: Arc<Rules>) -> RepoStats {
        let enabled = enabled || rules.limits_anything();
        RepoStats {
            root: root.to_path_buf(),
            users,
            enabled,
            phase: RwLock::new(if enabled { Phase::Listing } else { Phase::Done }),
            pending: Mutex::default(),
            stripes: std::array::from_fn(|_| Mutex::new(())),
            done: AtomicBool::new(!enabled),
            listed: AtomicBool::new(!enabled),
            figures: Mutex::new(BTreeMap::new()),
            rules,
        }
    }

    fn limit(&self, repo: &str) -> Option<u64> {
        self.rules.limit(repo)
    }

    /// Start a change to the object at `rel` (blocking: may wait for the scan's current folder).
    pub fn begin(&self, rel: &str) -> Change<'_> {
        let p = locate(rel);
        let (scan, counts) = if !self.enabled || self.done.load(Ordering::Acquire) {
            (None, self.enabled)
        } else {
            let g = self.phase.read().unwrap();
            let (folder, counts) = match &*g {
                Phase::Listing => (None, false),
                Phase::Scanning => {
                    let folder = self.stripe(p.folder).lock().unwrap();
                    (Some(folder), !self.pending.lock().unwrap().contains(p.folder))
                }
                Phase::Done => (None, true),
            };
            (Some((g, folder)), counts)
        };
        Change {
            stats: self,
            _scan: scan,
            counts,
            repo: p.repo.to_string(),
            kind: p.kind.to_string(),
            name: p.name.to_string(),
        }
    }

    fn stripe(&self, folder: &str) -> &Mutex<()> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        folder.hash(&mut h);
        &self.stripes[h.finish() as usize % STRIPES]
    }

    /// Bytes the repository holds and has in flight, once its figures are complete.
    fn used_if_known(&self, repo: &str) -> Option<u64> {
        if !self.listed.load(Ordering::Acquire) {
            return None;
        }
        let figures = self.figures.lock().unwrap();
        match figures.get(repo) {
            None => Some(0),
            Some(f) if f.pending == 0 => Some(f.size + f.reserved),
            Some(_) => None,
        }
    }

    /// Whether an upload of `n` bytes (its announced length) to `rel` fits its
    /// repository's limit. Waits while the scan at start has not yet counted the repository.
    pub async fn admit(&self, rel: &str, n: u64) -> bool {
        let repo = locate(rel).repo;
        let Some(limit) = self.limit(repo) else { return true };
        loop {
            if let Some(used) = self.used_if_known(repo) {
                if used.saturating_add(n) > limit {
                    log::warn!("upload to /{repo} refused: it would go over the repository's limit of {limit} bytes");
                    return false;
                }
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Take `n` bytes for an upload to `rel`, or refuse (taking nothing) when
    /// they would go over the repository's limit.
    pub fn reserve(&self, rel: &str, n: u64) -> bool {
        if !self.enabled {
            return true;
        }
        let repo = locate(rel).repo;
        let limit = self.limit(repo);
        let mut figures = self.figures.lock().unwrap();
        let f = figures.entry(repo.to_string()).or_default();
        if limit.is_some_and(|l| f.size + f.reserved + n > l) {
            log::warn!(
                "upload to /{repo} refused: it went over the repository's limit of {} bytes",
                limit.unwrap_or(0)
            );
            return false;
        }
        f.reserved += n;
        true
    }

    /// Give back bytes [`RepoStats::reserve`] took (the upload failed or is now counted as stored).
    pub fn release(&self, rel: &str, n: u64) {
        if !self.enabled {
            return;
        }
        if let Some(f) = self.figures.lock().unwrap().get_mut(locate(rel).repo) {
            f.reserved = f.reserved.saturating_sub(n);
        }
    }

    /// Count every repository once. Runs on its own thread; the server answers meanwhile.
    pub fn scan(&self) {
        if !self.enabled || self.done.load(Ordering::Acquire) {
            return;
        }
        let started = Instant::now();
        let folders = {
            let mut phase = self.phase.write().unwrap();
            let mut repos = Vec::new();
            find_repos(&self.root, String::new(), 0, &mut repos);
            let mut folders: Vec<(String, String)> = Vec::new();
            for repo in &repos {
                folders.push((repo.clone(), repo.clone()));
                for kind in TYPES {
                    let dir = super::repo::join(repo, kind);
                    if kind == "data" {
                        for sub in subfolders(&self.root.join(&dir)) {
                            folders.push((repo.clone(), format!("{dir}/{sub}")));
                        }
                    } else {
                        folders.push((repo.clone(), dir));
                    }
                }
            }
            let mut figures = self.figures.lock().unwrap();
            for (repo, _) in &folders {
                figures.entry(repo.clone()).or_default().pending += 1;
            }
            *self.pending.lock().unwrap() = folders.iter().map(|(_, f)| f.clone()).collect();
            *phase = Phase::Scanning;
            self.listed.store(true, Ordering::Release);
            folders
        };
        let mut objects = 0usize;
        for (repo, folder) in folders {
            let _folder = self.stripe(&folder).lock().unwrap();
            let (config, snapshots) = (folder == repo, folder == super::repo::join(&repo, "snapshots"));
            let (bytes, snaps, n) = read_folder(&self.root.join(&folder), config, snapshots);
            objects += n;
            let mut figures = self.figures.lock().unwrap();
            let f = figures.entry(repo).or_default();
            f.size += bytes;
            f.snapshots.extend(snaps);
            f.pending -= 1;
            self.pending.lock().unwrap().remove(&folder);
        }
        *self.phase.write().unwrap() = Phase::Done;
        self.done.store(true, Ordering::Release);
        let n = self.figures.lock().unwrap().len();
        log::info!("counted {n} repositories ({objects} files) in {:.1?}", started.elapsed());
    }

    /// The gauges in the Prometheus text format; repositories whose scan has
    /// not finished are left out.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if !self.enabled {
            return out;
        }
        let figures = self.figures.lock().unwrap();
        let shown: Vec<(String, &Figures)> = figures
            .iter()
            .filter(|(_, f)| f.pending == 0 && self.listed.load(Ordering::Acquire))
            .map(|(repo, f)| (self.labels(repo), f))
            .collect();
        let gauge = |out: &mut String, name: &str, help: &str, value: &dyn Fn(&Figures) -> Option<String>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for (labels, f) in &shown {
                if let Some(v) = value(f) {
                    let _ = writeln!(out, "{name}{{{labels}}} {v}");
                }
            }
        };
        gauge(
            &mut out,
            "rest_server_repo_last_snapshot_timestamp_seconds",
            "Modification time of the newest file in the repository's snapshots folder",
            &|f| f.snapshots.values().copied().reduce(f64::max).map(|t| t.to_string()),
        );
        gauge(&mut out, "rest_server_repo_size_bytes", "Bytes stored in the repository's config and objects", &|f| {
            Some(f.size.to_string())
        });
        gauge(&mut out, "rest_server_repo_snapshots", "Number of files in the repository's snapshots folder", &|f| {
            Some(f.snapshots.len().to_string())
        });
        let limited: Vec<(String, u64)> = figures
            .iter()
            .filter(|(_, f)| f.pending == 0 && self.listed.load(Ordering::Acquire))
            .filter_map(|(repo, _)| Some((self.labels(repo), self.limit(repo)?)))
            .collect();
        if !limited.is_empty() {
            let name = "rest_server_repo_quota_bytes";
            let _ = writeln!(out, "# HELP {name} Bytes the repository may hold\n# TYPE {name} gauge");
            for (labels, n) in limited {
                let _ = writeln!(out, "{name}{{{labels}}} {n}");
            }
        }
        let name = "rest_server_repo_scan_complete";
        let _ = writeln!(
            out,
            "# HELP {name} 1 once the repositories have been counted after start\n# TYPE {name} gauge\n{name} {}",
            u8::from(self.done.load(Ordering::Acquire))
        );
        out
    }

    /// Whether the count at start has finished.
    pub fn counted(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// Every repository's figures, by path; a repository the count at start
    /// has not reached yet shows zeros and `counted: false`.
    pub fn figures(&self) -> Vec<Figured> {
        let listed = self.listed.load(Ordering::Acquire);
        let figures = self.figures.lock().unwrap();
        figures
            .iter()
            .map(|(repo, f)| Figured {
                repo: repo.clone(),
                counted: listed && f.pending == 0,
                size: f.size,
                snapshots: f.snapshots.len(),
                newest: f
                    .snapshots
                    .values()
                    .copied()
                    .reduce(f64::max)
                    .map(|t| SystemTime::UNIX_EPOCH + Duration::from_secs_f64(t.max(0.0))),
            })
            .collect()
    }

    /// `repo="/alice/laptop"` and, with `--private-repos`, `user="alice"`.
    fn labels(&self, repo: &str) -> String {
        let mut s = format!("repo=\"/{}\"", escape(repo));
        if self.users {
            let _ = write!(s, ",user=\"{}\"", escape(repo.split('/').next().unwrap_or("")));
        }
        s
    }
}

/// Start the scan on a thread of its own; `stats` picks the figures out of
/// whatever owns them.
pub fn start<S: Send + Sync + 'static>(owner: &Arc<S>, stats: fn(&S) -> &RepoStats) {
    if stats(owner).enabled && !stats(owner).done.load(Ordering::Acquire) {
        let o = owner.clone();
        std::thread::spawn(move || stats(&o).scan());
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Folder names in `dir`, hidden ones left out; symlinks are not followed.
fn subfolders(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .collect();
    out.sort();
    out
}

/// Repositories at `rel` and below: a folder with a `config` file or an object
/// folder is one; other folders are looked into, down to [`MAX_DEPTH`].
fn find_repos(root: &Path, rel: String, depth: usize, out: &mut Vec<String>) {
    let dir = root.join(&rel);
    let subs = subfolders(&dir);
    let has_config = std::fs::symlink_metadata(dir.join("config")).is_ok_and(|m| m.is_file());
    if has_config || subs.iter().any(|s| TYPES.contains(&s.as_str())) {
        out.push(rel.clone());
    }
    if depth == MAX_DEPTH {
        return;
    }
    for s in subs {
        if TYPES.contains(&s.as_str()) || s == "config" {
            continue;
        }
        find_repos(root, super::repo::join(&rel, &s), depth + 1, out);
    }
}

/// The regular files of one folder: total bytes, snapshot mtimes (when
/// `snapshots`), count. `config_only`: the repository folder, where only
/// `config` counts. Temporary uploads (hidden names) are left out.
fn read_folder(dir: &Path, config_only: bool, snapshots: bool) -> (u64, Vec<(String, f64)>, usize) {
    if config_only {
        return match std::fs::symlink_metadata(dir.join("config")) {
            Ok(m) if m.is_file() => (m.len(), Vec::new(), 1),
            _ => (0, Vec::new(), 0),
        };
    }
    let (mut bytes, mut snaps, mut n) = (0, Vec::new(), 0);
    let Ok(entries) = std::fs::read_dir(dir) else { return (0, snaps, 0) };
    for e in entries.flatten() {
        let Ok(name) = e.file_name().into_string() else { continue };
        // What listings leave out: temporary uploads and hidden names.
        if name.starts_with('.') || name.contains(".rest-server-temp") {
            continue;
        }
        // DirEntry::metadata does not follow symlinks.
        let Ok(m) = e.metadata() else { continue };
        if !m.is_file() {
            continue;
        }
        bytes += m.len();
        n += 1;
        if snapshots {
            snaps.push((name, m.modified().map_or(0.0, epoch_seconds)));
        }
    }
    (bytes, snaps, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places() {
        let id = "ab".repeat(32);
        let p = |s: &str| {
            let l = locate(s);
            (l.repo.to_string(), l.folder.to_string(), l.kind.to_string())
        };
        let s = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
        assert_eq!(p("config"), s("", "", "config"));
        assert_eq!(p("u/r/config"), s("u/r", "u/r", "config"));
        assert_eq!(p(&format!("data/ab/{id}")), s("", "data/ab", "data"));
        assert_eq!(p(&format!("u/data/ab/{id}")), s("u", "u/data/ab", "data"));
        assert_eq!(p(&format!("u/r/snapshots/{id}")), s("u/r", "u/r/snapshots", "snapshots"));
        assert_eq!(p(&format!("keys/{id}")), s("", "keys", "keys"));
    }

    #[test]
    fn nested_repositories_are_counted_apart() {
        let root = std::env::temp_dir().join(format!("krazybox-repostats-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let id = |c: char| c.to_string().repeat(64);
        let put = |rel: &str, n: usize| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, vec![0u8; n]).unwrap();
        };
        put("config", 1);
        put(&format!("data/aa/{}", id('a')), 10);
        put("a/config", 2);
        put(&format!("a/snapshots/{}", id('b')), 20);
        put(&format!("a/b/keys/{}", id('c')), 30);
        put(&format!("a/b/data/cc/.{}.rest-server-temp-1-1", id('c')), 99);
        put(&format!("u/sub/index/{}", id('d')), 40);
        put(&format!("x/y/z/keys/{}", id('e')), 50);
        put(&format!(".hidden/keys/{}", id('f')), 60);
        let stats = RepoStats::new(&root, true, true, Arc::new(Rules::new(None, None, true).unwrap()));
        let c = stats.begin(&format!("a/keys/{}", id('9')));
        assert!(!c.counts, "before the listing every change is left to the scan");
        drop(c);
        stats.scan();
        let text = stats.render();
        for line in [
            "rest_server_repo_size_bytes{repo=\"/\",user=\"\"} 11\n",
            "rest_server_repo_size_bytes{repo=\"/a\",user=\"a\"} 22\n",
            "rest_server_repo_size_bytes{repo=\"/a/b\",user=\"a\"} 30\n",
            "rest_server_repo_size_bytes{repo=\"/u/sub\",user=\"u\"} 40\n",
            "rest_server_repo_snapshots{repo=\"/a\",user=\"a\"} 1\n",
            "rest_server_repo_scan_complete 1\n",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
        assert!(!text.contains("/x/y") && !text.contains("hidden") && !text.contains("repo=\"/u\""), "{text}");
        let c = stats.begin(&format!("a/snapshots/{}", id('8')));
        assert!(c.counts);
        c.added(5, || Some(SystemTime::UNIX_EPOCH + Duration::from_secs(4_000_000_000)));
        let text = stats.render();
        assert!(text.contains("rest_server_repo_last_snapshot_timestamp_seconds{repo=\"/a\",user=\"a\"} 4000000000\n"));
        assert!(text.contains("rest_server_repo_size_bytes{repo=\"/a\",user=\"a\"} 27\n"));
        stats.begin(&format!("a/snapshots/{}", id('8'))).removed(5);
        assert!(stats.render().contains("rest_server_repo_snapshots{repo=\"/a\",user=\"a\"} 1\n"));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn reservations_stay_below_the_limit() {
        let dir = std::env::temp_dir().join(format!("krazybox-repolimits-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("rules");
        std::fs::write(&file, "/alice/laptop 50\n").unwrap();
        let rules = Arc::new(Rules::new(Some(10), Some(&file), true).unwrap());
        let stats = RepoStats::new(&dir, true, true, rules);
        assert!(stats.reserve("alice/laptop/config", 50));
        assert!(!stats.reserve("alice/laptop/config", 1), "a refused reservation takes nothing");
        stats.release("alice/laptop/config", 50);
        assert!(stats.reserve("alice/laptop/config", 1));
        assert!(!stats.reserve("carol/config", 11), "--max-repo-size for the others");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
