//! The per-repository rules file (`--repo-quota-file`) and `--max-repo-size`:
//! what is decided per repository, read from one file that is checked at
//! start, re-read on SIGHUP and when its mtime or size changes. Today a rule
//! is a byte limit; [`super::quota`] is the limit of the whole tree.
//!
//! The file: `KEY BYTES` per line, `#` comments, blank lines skipped. A KEY
//! with a `/` names one repository (`/` alone is the root one); a KEY without
//! one names the folder `/KEY/`, each repository in it or below it. 0 means no
//! limit there. A later line for the same KEY wins.

use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

/// How often the file's mtime and size are looked at.
pub const CHECK_EVERY: Duration = Duration::from_secs(30);
/// Repositories nest at most this deep below `--path` (rest-server's rule).
pub const MAX_DEPTH: usize = 2;

/// What the file says.
#[derive(Default, Debug, PartialEq, Eq)]
pub struct Table {
    /// Exact repositories (`/alice/laptop`), by folder path without slashes at the ends.
    repos: HashMap<String, u64>,
    /// Every repository below `/NAME/`, by NAME.
    names: HashMap<String, u64>,
}

/// Read a rules file's text.
pub fn parse(text: &str) -> Result<Table> {
    let mut t = Table::default();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(key), Some(bytes), None) = (words.next(), words.next(), words.next()) else {
            bail!("line {}: expected `REPOSITORY-OR-NAME BYTES`", i + 1);
        };
        let Ok(n) = bytes.parse::<u64>() else {
            bail!("line {}: {bytes:?} is not a number of bytes", i + 1);
        };
        if key.contains('/') {
            let path = key.trim_matches('/');
            if !path.is_empty() && path.split('/').any(|p| p.is_empty() || p == "." || p == "..")
                || path.split('/').count() > MAX_DEPTH
            {
                bail!("line {}: {key:?} is not a repository path like /alice/laptop", i + 1);
            }
            t.repos.insert(path.to_string(), n);
        } else {
            t.names.insert(key.to_string(), n);
        }
    }
    Ok(t)
}

/// The file and when it was last read.
struct Source {
    path: PathBuf,
    stamp: Option<(SystemTime, u64)>,
    checked: Instant,
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// The rules in force.
pub struct Rules {
    default_limit: Option<u64>,
    table: RwLock<Table>,
    source: Option<Mutex<Source>>,
}

impl Rules {
    /// `default_limit`: `--max-repo-size`. The file, if any, must be readable and valid.
    pub fn new(default_limit: Option<u64>, file: Option<&Path>) -> Result<Rules> {
        let (table, source) = match file {
            None => (Table::default(), None),
            Some(p) => {
                let stamp = stamp(p);
                let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
                let table = parse(&text).with_context(|| format!("{}", p.display()))?;
                (table, Some(Mutex::new(Source { path: p.to_path_buf(), stamp, checked: Instant::now() })))
            }
        };
        Ok(Rules { default_limit, table: RwLock::new(table), source })
    }

    /// Whether any repository can have a limit.
    pub fn limits_anything(&self) -> bool {
        self.default_limit.is_some() || self.source.is_some()
    }

    /// The limit of a repository: its own line, else its first folder's, else `--max-repo-size`.
    pub fn limit(&self, repo: &str) -> Option<u64> {
        let t = self.table.read().unwrap();
        let first = repo.split('/').next().unwrap_or("");
        let n = t.repos.get(repo).or_else(|| t.names.get(first)).copied().or(self.default_limit)?;
        (n > 0).then_some(n)
    }

    /// Re-read the file (SIGHUP). A bad file keeps the rules in force and is logged.
    pub fn reload(&self) {
        let Some(source) = &self.source else { return };
        let mut f = source.lock().unwrap();
        f.stamp = stamp(&f.path);
        f.checked = Instant::now();
        match std::fs::read_to_string(&f.path).map_err(anyhow::Error::from).and_then(|t| parse(&t)) {
            Ok(t) => {
                log::info!(
                    "reloaded {}: {} repository and {} folder limits",
                    f.path.display(),
                    t.repos.len(),
                    t.names.len()
                );
                *self.table.write().unwrap() = t;
            }
            Err(e) => log::error!("{}: {e:#}; the limits read before stay in force", f.path.display()),
        }
    }

    /// Re-read the file when its mtime or size changed, at most every [`CHECK_EVERY`].
    pub fn reload_if_changed(&self) {
        let Some(source) = &self.source else { return };
        let changed = {
            let mut f = source.lock().unwrap();
            if f.checked.elapsed() < CHECK_EVERY {
                return;
            }
            f.checked = Instant::now();
            stamp(&f.path) != f.stamp
        };
        if changed {
            self.reload();
        }
    }
}

/// Look at the file every [`CHECK_EVERY`] on a thread of its own.
pub fn watch(rules: &Arc<Rules>) {
    if rules.source.is_some() {
        let r = rules.clone();
        std::thread::spawn(move || loop {
            std::thread::sleep(CHECK_EVERY);
            r.reload_if_changed();
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_reloaded_when_it_changes_and_a_bad_one_keeps_the_limits() {
        let dir = std::env::temp_dir().join(format!("krazybox-repoquota-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("quotas");
        std::fs::write(&file, "alice 100\n").unwrap();
        let rules = Rules::new(None, Some(&file)).unwrap();
        assert_eq!(rules.limit("alice/laptop"), Some(100));
        std::fs::write(&file, "alice 2000\n").unwrap();
        rules.reload_if_changed();
        assert_eq!(rules.limit("alice/laptop"), Some(100), "looked at no more than every CHECK_EVERY");
        rules.source.as_ref().unwrap().lock().unwrap().checked -= CHECK_EVERY;
        rules.reload_if_changed();
        assert_eq!(rules.limit("alice/laptop"), Some(2000));
        std::fs::write(&file, "alice lots\n").unwrap();
        rules.reload();
        assert_eq!(rules.limit("alice/laptop"), Some(2000), "a bad file keeps the limits in force");
        std::fs::write(&file, "bad").unwrap();
        assert!(Rules::new(None, Some(&file)).is_err(), "but is refused at start");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn limits() {
        let t = parse("# comment\n\nalice 100\n/alice/laptop 50\n/ 7\nbob 0\n").unwrap();
        let rules = Rules { default_limit: Some(10), table: RwLock::new(t), source: None };
        assert_eq!(rules.limit("alice"), Some(100));
        assert_eq!(rules.limit("alice/desktop"), Some(100));
        assert_eq!(rules.limit("alice/laptop"), Some(50));
        assert_eq!(rules.limit(""), Some(7));
        assert_eq!(rules.limit("bob/x"), None, "0 lifts the limit");
        assert_eq!(rules.limit("carol"), Some(10));
        for bad in ["alice", "alice x", "/a/b/c 5", "/a/../b 5", "a 1 2"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
