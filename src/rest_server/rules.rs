//! The per-repository rules file (`--repo-rules`, once `--repo-quota-file`)
//! and `--max-repo-size`: what is decided per repository, read from one file
//! that is checked at start, re-read on SIGHUP and when its mtime or size
//! changes. A rule gives a byte limit, rights per user, or both; [`super::quota`]
//! is the limit of the whole tree and [`super::access`] makes the decisions.
//!
//! The file: per line a KEY, then words; `#` comments and blank lines are
//! skipped. A KEY with a `/` names one repository (`/` alone is the root one);
//! a KEY without one names the folder `/KEY/`, each repository in it or below
//! it. A bare number is the limit in bytes (0: none); `USER=RIGHT` gives USER
//! (`*`: anyone who logged in) `read`, `append` or `modify`. A later line for
//! the same KEY replaces the earlier one. For each repository the limit and
//! the rights are each taken from its own line if that line gives them, else
//! from its first folder's line; a repository no line gives rights to keeps the
//! server-wide decision (`--private-repos`, `--append-only`).

use crate::htpasswd;
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

/// How often the file's mtime and size are looked at.
pub const CHECK_EVERY: Duration = Duration::from_secs(30);
/// Repositories nest at most this deep below `--path` (rest-server's rule).
pub const MAX_DEPTH: usize = 2;

/// What a user may do in a repository, weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Right {
    /// List and read (restore, check with `--no-lock`).
    Read,
    /// Also create objects, and delete only locks: rest-server's `--append-only`.
    Append,
    /// Everything: forget and prune.
    Modify,
}

impl Right {
    fn parse(s: &str) -> Option<Right> {
        match s {
            "read" => Some(Right::Read),
            "append" => Some(Right::Append),
            "modify" => Some(Right::Modify),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Right::Read => "read",
            Right::Append => "append",
            Right::Modify => "modify",
        }
    }
}

/// The rights one line gives.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grants {
    /// In the file's order, for the log.
    users: Vec<(String, Right)>,
    /// `*=RIGHT`: for every user the line does not name.
    anyone: Option<Right>,
}

impl Grants {
    /// The right of `user`: their own, else `*`'s, else none.
    pub fn of(&self, user: &str) -> Option<Right> {
        self.users.iter().find(|(u, _)| u == user).map(|(_, r)| *r).or(self.anyone)
    }

    /// As written: `alice=append owner=modify *=read`.
    pub fn describe(&self) -> String {
        let mut words: Vec<String> = self.users.iter().map(|(u, r)| format!("{u}={}", r.name())).collect();
        words.extend(self.anyone.map(|r| format!("*={}", r.name())));
        words.join(" ")
    }
}

/// One line of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The KEY as written.
    pub key: String,
    /// Its line number, for the log.
    pub line: usize,
    pub limit: Option<u64>,
    pub grants: Option<Grants>,
}

/// What the file says.
#[derive(Default, Debug, PartialEq, Eq)]
pub struct Table {
    /// Exact repositories (`/alice/laptop`), by folder path without slashes at the ends.
    repos: HashMap<String, Rule>,
    /// Every repository below `/NAME/`, by NAME.
    names: HashMap<String, Rule>,
}

impl Table {
    /// The rules that may apply to `repo`: its own line, then its first folder's.
    fn lines_for(&self, repo: &str) -> impl Iterator<Item = &Rule> {
        let first = repo.split('/').next().unwrap_or("");
        self.repos.get(repo).into_iter().chain(self.names.get(first))
    }

    /// Every line that gives rights, ordered by line number.
    fn with_rights(&self) -> Vec<&Rule> {
        let mut v: Vec<&Rule> = self.repos.values().chain(self.names.values()).filter(|r| r.grants.is_some()).collect();
        v.sort_by_key(|r| r.line);
        v
    }
}

/// Read a rules file's text. `rights`: whether lines may give rights (they
/// need users: not with `--no-auth`).
pub fn parse(text: &str, rights: bool) -> Result<Table> {
    let mut t = Table::default();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let key = words.next().unwrap_or_default();
        let mut rule = Rule { key: key.to_string(), line: n, limit: None, grants: None };
        for word in words {
            if let Some((user, right)) = word.split_once('=') {
                let Some(right) = Right::parse(right) else {
                    bail!("line {n}: {word:?}: the right must be read, append or modify");
                };
                if !rights {
                    bail!("line {n}: {word:?}: rights need logins; remove --no-auth or the rights");
                }
                let g = rule.grants.get_or_insert_with(Grants::default);
                if user == "*" {
                    if g.anyone.replace(right).is_some() {
                        bail!("line {n}: * is given a right twice");
                    }
                } else if !htpasswd::rest_server_accepts_user(user.as_bytes()) {
                    bail!("line {n}: {user:?} is not a user name (letters, digits, '@', '.', '_', '-') nor *");
                } else if g.users.iter().any(|(u, _)| u == user) {
                    bail!("line {n}: {user} is given a right twice");
                } else {
                    g.users.push((user.to_string(), right));
                }
            } else if let Ok(bytes) = word.parse::<u64>() {
                if rule.limit.replace(bytes).is_some() {
                    bail!("line {n}: two limits; give one number of bytes");
                }
            } else {
                bail!("line {n}: {word:?} is neither a number of bytes nor USER=RIGHT");
            }
        }
        if rule.limit.is_none() && rule.grants.is_none() {
            bail!("line {n}: {key:?} is given neither a limit in bytes nor a USER=RIGHT");
        }
        if key.contains('/') {
            let path = key.trim_matches('/');
            if !path.is_empty() && path.split('/').any(|p| p.is_empty() || p == "." || p == "..")
                || path.split('/').count() > MAX_DEPTH
            {
                bail!("line {n}: {key:?} is not a repository path like /alice/laptop");
            }
            t.repos.insert(path.to_string(), rule);
        } else {
            t.names.insert(key.to_string(), rule);
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

/// The rights a rule gives in a repository, and where they come from.
#[derive(Debug, PartialEq, Eq)]
pub struct Applied {
    /// The user's right there; `None`: the line does not let them in.
    pub right: Option<Right>,
    /// The rule, for the log: `line 2 of /etc/rules (/alice/laptop: alice=append owner=modify)`.
    pub rule: String,
}

/// The rules in force.
pub struct Rules {
    default_limit: Option<u64>,
    rights: bool,
    table: RwLock<Table>,
    source: Option<Mutex<Source>>,
}

impl Rules {
    /// `default_limit`: `--max-repo-size`; `rights`: whether lines may give
    /// rights. The file, if any, must be readable and valid.
    pub fn new(default_limit: Option<u64>, file: Option<&Path>, rights: bool) -> Result<Rules> {
        let (table, source) = match file {
            None => (Table::default(), None),
            Some(p) => {
                let stamp = stamp(p);
                let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
                let table = parse(&text, rights).with_context(|| format!("{}", p.display()))?;
                (table, Some(Mutex::new(Source { path: p.to_path_buf(), stamp, checked: Instant::now() })))
            }
        };
        let rules = Rules { default_limit, rights, table: RwLock::new(table), source };
        rules.log_rights();
        Ok(rules)
    }

    /// Whether some line gives rights (then users may see different repositories).
    pub fn gives_rights(&self) -> bool {
        !self.table.read().unwrap().with_rights().is_empty()
    }

    /// Whether any repository can have a limit.
    pub fn limits_anything(&self) -> bool {
        self.default_limit.is_some() || self.source.is_some()
    }

    /// The limit of a repository: its own line's, else its first folder's, else `--max-repo-size`.
    pub fn limit(&self, repo: &str) -> Option<u64> {
        let t = self.table.read().unwrap();
        let n = t.lines_for(repo).find_map(|r| r.limit).or(self.default_limit)?;
        (n > 0).then_some(n)
    }

    /// What the rules let `user` do in `repo`; `None` where no line gives
    /// rights there (the server-wide decision holds).
    pub fn rights(&self, repo: &str, user: &str) -> Option<Applied> {
        let t = self.table.read().unwrap();
        let rule = t.lines_for(repo).find(|r| r.grants.is_some())?;
        let grants = rule.grants.as_ref()?;
        Some(Applied { right: grants.of(user), rule: self.describe(rule) })
    }

    fn describe(&self, rule: &Rule) -> String {
        let file = self.source.as_ref().map(|s| s.lock().unwrap().path.display().to_string()).unwrap_or_default();
        let grants = rule.grants.as_ref().map(Grants::describe).unwrap_or_default();
        format!("line {} of {file} ({}: {grants})", rule.line, rule.key)
    }

    /// One line per rule that gives rights, at start and after each reload.
    fn log_rights(&self) {
        let Some(source) = &self.source else { return };
        let path = source.lock().unwrap().path.clone();
        let t = self.table.read().unwrap();
        let lines = t.with_rights();
        if lines.is_empty() {
            log::info!(
                "repository rules {}: no rights given; access as --private-repos and --append-only say",
                path.display()
            );
        }
        for r in lines {
            let what = if r.key.contains('/') { "repository" } else { "every repository below" };
            let key = if r.key.contains('/') { r.key.clone() } else { format!("/{}/", r.key) };
            let Some(g) = &r.grants else { continue };
            let others = if g.anyone.is_some() { "" } else { ", nobody else" };
            log::info!("rights in {what} {key}: {}{others} (line {} of {})", g.describe(), r.line, path.display());
        }
    }

    /// Re-read the file (SIGHUP). A bad file keeps the rules in force and is logged.
    pub fn reload(&self) {
        let Some(source) = &self.source else { return };
        let read = {
            let mut f = source.lock().unwrap();
            f.stamp = stamp(&f.path);
            f.checked = Instant::now();
            let read =
                std::fs::read_to_string(&f.path).map_err(anyhow::Error::from).and_then(|t| parse(&t, self.rights));
            match read {
                Ok(t) => {
                    log::info!(
                        "reloaded {}: {} repository and {} folder lines",
                        f.path.display(),
                        t.repos.len(),
                        t.names.len()
                    );
                    Some(t)
                }
                Err(e) => {
                    log::error!("{}: {e:#}; the rules read before stay in force", f.path.display());
                    None
                }
            }
        };
        if let Some(t) = read {
            *self.table.write().unwrap() = t;
            self.log_rights();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Rules {
        Rules { default_limit: Some(10), rights: true, table: RwLock::new(parse(text, true).unwrap()), source: None }
    }

    #[test]
    fn the_file_is_reloaded_when_it_changes_and_a_bad_one_keeps_the_rules() {
        let dir = std::env::temp_dir().join(format!("krazybox-repoquota-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("quotas");
        std::fs::write(&file, "alice 100\n").unwrap();
        let rules = Rules::new(None, Some(&file), true).unwrap();
        assert_eq!(rules.limit("alice/laptop"), Some(100));
        std::fs::write(&file, "alice 2000 alice=append\n").unwrap();
        rules.reload_if_changed();
        assert_eq!(rules.limit("alice/laptop"), Some(100), "looked at no more than every CHECK_EVERY");
        rules.source.as_ref().unwrap().lock().unwrap().checked -= CHECK_EVERY;
        rules.reload_if_changed();
        assert_eq!(rules.limit("alice/laptop"), Some(2000));
        assert_eq!(rules.rights("alice/laptop", "alice").unwrap().right, Some(Right::Append));
        std::fs::write(&file, "alice lots\n").unwrap();
        rules.reload();
        assert_eq!(rules.limit("alice/laptop"), Some(2000), "a bad file keeps the rules in force");
        assert_eq!(rules.rights("alice/laptop", "alice").unwrap().right, Some(Right::Append));
        std::fs::write(&file, "bad").unwrap();
        assert!(Rules::new(None, Some(&file), true).is_err(), "but is refused at start");
        // Without logins, rights are refused at start and on reload.
        std::fs::write(&file, "alice 5\n").unwrap();
        let open = Rules::new(None, Some(&file), false).unwrap();
        std::fs::write(&file, "alice 7 alice=read\n").unwrap();
        open.reload();
        assert_eq!(open.limit("alice"), Some(5));
        let e = Rules::new(None, Some(&file), false).err().unwrap();
        assert!(format!("{e:#}").contains("line 1: \"alice=read\": rights need logins"), "{e:#}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn limits() {
        let rules = rules("# comment\n\nalice 100\n/alice/laptop 50\n/ 7\nbob 0\n");
        assert_eq!(rules.limit("alice"), Some(100));
        assert_eq!(rules.limit("alice/desktop"), Some(100));
        assert_eq!(rules.limit("alice/laptop"), Some(50));
        assert_eq!(rules.limit(""), Some(7));
        assert_eq!(rules.limit("bob/x"), None, "0 lifts the limit");
        assert_eq!(rules.limit("carol"), Some(10));
        for bad in ["alice", "alice x", "/a/b/c 5", "/a/../b 5", "a 1 2"] {
            assert!(parse(bad, true).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rights() {
        let rules = rules(
            "/alice/laptop  200000000000  alice=append  owner=modify\n\
             bob                          bob=append    owner=modify\n\
             /family                      *=read        owner=modify\n\
             /bob/shared   *=read bob=modify\n\
             /alice/desktop 500\n\
             alice 9 alice=modify\n",
        );
        let right = |repo: &str, user: &str| rules.rights(repo, user).map(|a| a.right);
        assert_eq!(right("alice/laptop", "alice"), Some(Some(Right::Append)));
        assert_eq!(right("alice/laptop", "owner"), Some(Some(Right::Modify)));
        assert_eq!(right("alice/laptop", "bob"), Some(None), "anyone else gets nothing");
        assert_eq!(right("bob", "bob"), Some(Some(Right::Append)));
        assert_eq!(right("bob/phone", "bob"), Some(Some(Right::Append)), "the folder's line covers what is below");
        assert_eq!(right("bob/shared", "bob"), Some(Some(Right::Modify)), "a user's own right before *'s");
        assert_eq!(right("bob/shared", "eve"), Some(Some(Right::Read)));
        assert_eq!(right("family", "eve"), Some(Some(Right::Read)));
        assert_eq!(right("family/x", "eve"), None, "/family names one repository only");
        assert_eq!(right("carol", "carol"), None, "no line: the server-wide decision");
        // A line without rights leaves them to the folder's line, and its limit wins.
        assert_eq!(right("alice/desktop", "alice"), Some(Some(Right::Modify)));
        assert_eq!(rules.limit("alice/desktop"), Some(500));
        assert_eq!(rules.limit("alice/laptop"), Some(200000000000));
        assert_eq!(rules.limit("bob/phone"), Some(10), "a line without a limit leaves --max-repo-size");
        let a = rules.rights("alice/laptop", "bob").unwrap();
        assert_eq!(a.rule, "line 1 of  (/alice/laptop: alice=append owner=modify)");
        for bad in [
            "alice alice=write",
            "alice alice=",
            "alice bad/name=read",
            "alice alice=read alice=modify",
            "alice *=read *=append",
            "alice 5 6 alice=read",
            "alice alice:read",
        ] {
            let e = parse(bad, true).unwrap_err().to_string();
            assert!(e.starts_with("line 1: "), "{bad:?}: {e}");
        }
    }
}
