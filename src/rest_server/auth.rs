//! Users from an htpasswd file, as rest-server reads it: `:`-separated records,
//! `#` comments, names matching `^[\p{L}\d@._-]+$`, bcrypt and `{SHA}` hashes.
//! Successful checks are remembered for a minute (keyed by the user, holding
//! sha256(user:password), compared in constant time) so bcrypt does not run on
//! every request; the file is re-read on SIGHUP and when its mtime, ctime, size
//! or inode changed, looked at no more than every 30 seconds. A file that is
//! invalid, unreadable or missing after start lets nobody in until it is fixed.
//!
//! A check is split in two so the server can run the cheap part at once and
//! queue only bcrypt: [`Users::lookup`] answers from the cache (or refuses), or
//! hands back a [`Pending`] check that [`Pending::run`] finishes.

use super::pace::{self, Pace};
use crate::htpasswd::{self, HashKind};
use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use subtle::ConstantTimeEq;

/// How long a successful check is remembered (rest-server's value).
pub const CACHE_FOR: Duration = Duration::from_secs(60);
/// How often the file's mtime and size are looked at.
pub const CHECK_EVERY: Duration = Duration::from_secs(30);

/// The users of an htpasswd file and the cache of recent successful checks;
/// clones share them.
#[derive(Clone)]
pub struct Users {
    path: PathBuf,
    state: Arc<Mutex<State>>,
}

struct State {
    /// `None` while the file is invalid, unreadable or missing: nobody is let in.
    users: Option<HashMap<String, String>>,
    /// A bcrypt hash at the users' cost, checked for unknown users so that
    /// they take as long as known ones.
    decoy: Option<String>,
    /// The highest bcrypt cost in the file: what the slowest check costs.
    slowest: Option<u32>,
    /// How long checks take on this machine (kept across reloads).
    pace: Pace,
    cache: HashMap<String, ([u8; 32], Instant)>,
    stamp: Option<Stamp>,
    checked: Instant,
}

impl State {
    fn new(users: Option<HashMap<String, String>>, stamp: Option<Stamp>) -> State {
        State {
            users,
            decoy: None,
            slowest: None,
            pace: Pace::default(),
            cache: HashMap::new(),
            stamp,
            checked: Instant::now(),
        }
    }

    /// Take a file's users, with their decoy made beforehand (see [`decoy`]).
    fn set(&mut self, users: HashMap<String, String>, decoy: Option<(String, u32, std::time::Duration)>) {
        self.slowest = users.values().filter_map(|h| pace::bcrypt_cost(h)).max();
        self.decoy = decoy.map(|(hash, cost, took)| {
            self.pace.record(cost, took);
            hash
        });
        self.users = Some(users);
    }
}

/// What tells that the file changed: an edit (mtime, size), a chmod or chown
/// (ctime), a replacement by rename (inode).
type Stamp = (SystemTime, i64, u64, u64, u64);

/// Parse the file the way rest-server's CSV reader does: a whitespace-only line,
/// a record without exactly two fields or a `"` rejects the whole file; a user
/// with a name outside rest-server's pattern is skipped; a later record wins.
pub fn parse(bytes: &[u8]) -> Result<HashMap<String, String>> {
    let text = std::str::from_utf8(bytes).context("the file is not UTF-8")?;
    let mut users = HashMap::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let n = i + 1;
        if line.trim().is_empty() {
            bail!("line {n}: only white space");
        }
        if line.contains('"') {
            bail!("line {n}: '\"' in a record");
        }
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() != 2 {
            bail!("line {n}: wrong number of fields");
        }
        // Go's reader trims leading white space of every field.
        let (user, hash) = (fields[0].trim_start(), fields[1].trim_start());
        if !htpasswd::rest_server_accepts_user(user.as_bytes()) {
            log::warn!("ignoring invalid user name {user:?} in htpasswd: only letters, digits, '_', '-', '.' and '@'");
            continue;
        }
        users.insert(user.to_string(), hash.to_string());
    }
    Ok(users)
}

/// The cost unknown users are checked at: the one most users have, the higher
/// one of a tie. It depends only on the file's contents, never on map order.
pub fn decoy_cost(users: &HashMap<String, String>) -> Option<u32> {
    let mut counts: HashMap<u32, usize> = HashMap::new();
    for h in users.values().filter(|h| HashKind::of(h.as_bytes()) == HashKind::Bcrypt) {
        if let Some(cost) = h.get(4..6).and_then(|c| c.parse().ok()) {
            *counts.entry(cost).or_default() += 1;
        }
    }
    counts.into_iter().max_by_key(|&(cost, n)| (n, cost)).map(|(cost, _)| cost)
}

/// A bcrypt hash of nothing in particular, at [`decoy_cost`], its cost, and
/// how long making it took (a first measure of this machine's pace).
fn decoy(users: &HashMap<String, String>) -> Option<(String, u32, std::time::Duration)> {
    let cost = decoy_cost(users)?;
    let t = Instant::now();
    let hash = htpasswd::hash(b"no such user", htpasswd::Algorithm::Bcrypt { cost }).ok()?;
    Some((hash, cost, t.elapsed()))
}

fn stamp(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.ctime_nsec() + m.ctime() * 1_000_000_000, m.len(), m.ino(), m.dev()))
}

fn verifier(user: &str, password: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(user.as_bytes());
    h.update(b":");
    h.update(password.as_bytes());
    h.finalize().into()
}

/// The answer of [`Users::lookup`].
pub enum Lookup {
    /// Known at once: a remembered success, or a refusal that needs no hashing.
    Done(bool),
    /// The file is bad: nobody is let in, and it is not the client's fault.
    Closed,
    /// A hash must be checked: slow for bcrypt, so the caller picks the thread.
    Verify(Pending),
}

/// A password check still to be made; a success is remembered.
pub struct Pending {
    state: Arc<Mutex<State>>,
    user: String,
    password: String,
    hash: String,
    /// Checked only to spend the time a real user costs.
    decoy: bool,
}

impl Pending {
    /// Whether the hash is fast to check ({SHA}): no need for another thread.
    pub fn is_cheap(&self) -> bool {
        HashKind::of(self.hash.as_bytes()) != HashKind::Bcrypt
    }

    /// Run the hash (bcrypt: milliseconds to seconds, by cost); its time is
    /// recorded for [`Users::failure_floor`].
    pub fn run(self) -> bool {
        let t = Instant::now();
        let ok = matches!(htpasswd::verify(self.password.as_bytes(), self.hash.as_bytes()), Ok(true));
        let took = t.elapsed();
        let mut st = self.state.lock().unwrap();
        if let Some(cost) = pace::bcrypt_cost(&self.hash) {
            st.pace.record(cost, took);
        }
        if self.decoy || !ok {
            return false;
        }
        let key = verifier(&self.user, &self.password);
        // A reload while hashing may have removed the user or changed the hash.
        if st.users.as_ref().and_then(|u| u.get(&self.user)) != Some(&self.hash) {
            return false;
        }
        st.cache.insert(self.user, (key, Instant::now()));
        true
    }
}

impl Users {
    /// Load `path`; a missing or unreadable file is an error (the server refuses to start).
    pub fn load(path: &Path) -> Result<Users> {
        let stamp = stamp(path);
        let bytes = std::fs::read(path)?;
        let users = parse(&bytes)?;
        let decoy = decoy(&users);
        let mut state = State::new(None, stamp);
        state.set(users, decoy);
        Ok(Users { path: path.to_path_buf(), state: Arc::new(Mutex::new(state)) })
    }

    /// No users yet: `path` does not exist (a proxy in front names the users).
    /// It is read once it appears.
    pub fn absent(path: &Path) -> Users {
        let state = State::new(Some(HashMap::new()), None);
        Users { path: path.to_path_buf(), state: Arc::new(Mutex::new(state)) }
    }

    /// Re-read the file. An invalid, unreadable or missing file lets nobody in
    /// until a later look finds it fixed; each look logs the error again.
    pub fn reload(&self) {
        let stamp = stamp(&self.path);
        let read = std::fs::read(&self.path).map_err(anyhow::Error::from).and_then(|b| parse(&b));
        // bcrypt for the decoy before taking the lock, which logins need meanwhile.
        let read = read.map(|users| {
            let d = decoy(&users);
            (users, d)
        });
        let mut st = self.state.lock().unwrap();
        st.cache.clear();
        st.stamp = stamp;
        st.checked = Instant::now();
        match read {
            Ok((users, decoy)) => {
                log::info!("reloaded {}: {} users", self.path.display(), users.len());
                st.set(users, decoy);
            }
            Err(e) => {
                st.users = None;
                st.decoy = None;
                log::error!("{}: {e:#}; nobody is let in until the file is fixed", self.path.display());
            }
        }
    }

    /// How long a failed login takes at least: the slowest check the file
    /// could need, as checks take on this machine now.
    pub fn failure_floor(&self) -> std::time::Duration {
        let st = self.state.lock().unwrap();
        st.pace.floor(st.slowest)
    }

    /// Whether the file is due to be looked at (cheap: no system call).
    pub fn due(&self) -> bool {
        self.state.lock().unwrap().checked.elapsed() >= CHECK_EVERY
    }

    /// Look at the file if it is due: re-read it when it changed, or every time
    /// while it is bad. Touches the filesystem: call it where blocking is fine.
    pub fn reload_if_changed(&self) {
        let changed = {
            let mut st = self.state.lock().unwrap();
            if st.checked.elapsed() < CHECK_EVERY {
                return;
            }
            st.checked = Instant::now();
            st.users.is_none() || stamp(&self.path) != st.stamp
        };
        if changed {
            self.reload();
        }
    }

    /// The cheap half of a check: the cache, the user's presence, the hash's kind. The answer takes the same path for an unknown
    /// user as for a wrong password, as far as the caller sees.
    pub fn lookup(&self, user: &str, password: &str) -> Lookup {
        let key = verifier(user, password);
        let mut st = self.state.lock().unwrap();
        let Some(users) = &st.users else { return Lookup::Closed };
        let hash = users.get(user).cloned();
        let now = Instant::now();
        st.cache.retain(|_, (_, at)| now.duration_since(*at) < CACHE_FOR);
        if let Some((v, at)) = st.cache.get_mut(user) {
            if bool::from(v.ct_eq(&key)) {
                *at = now;
                return Lookup::Done(true);
            }
        }
        let pending = |hash: String, decoy: bool| {
            Lookup::Verify(Pending {
                state: self.state.clone(),
                user: user.to_string(),
                password: password.to_string(),
                hash,
                decoy,
            })
        };
        match (hash, &st.decoy) {
            (Some(h), _) if HashKind::rest_server_accepts(h.as_bytes()) => pending(h, false),
            (Some(_), _) => {
                log::warn!("invalid htpasswd entry for {user}: only bcrypt and {{SHA}} hashes are accepted");
                Lookup::Done(false)
            }
            (None, Some(d)) => pending(d.clone(), true),
            (None, None) => Lookup::Done(false),
        }
    }

    /// Whether `password` is the password of `user`, all on this thread.
    pub fn check(&self, user: &str, password: &str) -> bool {
        self.reload_if_changed();
        match self.lookup(user, password) {
            Lookup::Done(ok) => ok,
            Lookup::Closed => false,
            Lookup::Verify(p) => p.run(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_like_rest_server() {
        let u = parse(b"# c\n\nalice:{SHA}x\nb\xc3\xa9a:$2y$05$y\nbad name:{SHA}z\nalice:{SHA}later\n").unwrap();
        assert_eq!(u.get("alice").map(String::as_str), Some("{SHA}later"));
        assert!(u.contains_key("béa"));
        assert!(!u.contains_key("bad name"));
        assert!(parse(b"a:b\n   \n").is_err());
        assert!(parse(b"a:b:c\n").is_err());
        assert!(parse(b"\"a\":b\n").is_err());
    }

    #[test]
    fn check_and_cache() {
        let dir = std::env::temp_dir().join(format!("krazybox-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("htpasswd");
        let sha = htpasswd::hash(b"pw", htpasswd::Algorithm::Sha1).unwrap();
        let bc = htpasswd::hash(b"pw2", htpasswd::Algorithm::Bcrypt { cost: 4 }).unwrap();
        std::fs::write(&file, format!("alice:{sha}\nbob:{bc}\nmd5:$apr1$x$y\n")).unwrap();
        let users = Users::load(&file).unwrap();
        let decoy = users.state.lock().unwrap().decoy.clone().unwrap();
        assert!(decoy.starts_with("$2y$04$"), "unknown users cost what bob costs: {decoy}");
        assert!(users.check("alice", "pw"));
        assert!(!users.check("alice", "pw "));
        assert!(users.check("bob", "pw2"));
        assert!(users.check("bob", "pw2"));
        assert!(!users.check("bob", "pw"));
        assert!(!users.check("carol", "pw"));
        assert!(!users.check("md5", "x"));
        std::fs::write(&file, format!("bob:{sha}\n")).unwrap();
        users.reload();
        assert!(!users.check("alice", "pw"));
        assert!(!users.check("bob", "pw2"), "the cache is dropped on reload");
        assert!(users.check("bob", "pw"));

        // A changed file is picked up without SIGHUP, but only once CHECK_EVERY has passed.
        std::fs::write(&file, format!("carol:{sha}\n")).unwrap();
        assert!(!users.check("carol", "pw"));
        users.state.lock().unwrap().checked -= CHECK_EVERY;
        assert!(users.check("carol", "pw"));
        assert!(!users.check("bob", "pw"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn decoy_cost_is_the_commonest() {
        let file = |costs: &[u32]| -> HashMap<String, String> {
            costs.iter().enumerate().map(|(i, c)| (format!("u{i}"), format!("$2y${c:02}$x"))).collect()
        };
        assert_eq!(decoy_cost(&file(&[5, 12, 12, 4])), Some(12));
        assert_eq!(decoy_cost(&file(&[5, 10])), Some(10), "a tie takes the higher cost");
        assert_eq!(decoy_cost(&HashMap::from([("a".to_string(), "{SHA}x".to_string())])), None);
        // The same contents in any insertion order give the same cost.
        for _ in 0..20 {
            assert_eq!(decoy_cost(&file(&[7, 4, 9, 4, 7])), Some(7));
        }
    }

    #[test]
    fn a_bad_file_lets_nobody_in() {
        let dir = std::env::temp_dir().join(format!("krazybox-auth-closed-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("htpasswd");
        let sha = htpasswd::hash(b"pw", htpasswd::Algorithm::Sha1).unwrap();
        let good = format!("alice:{sha}\n");
        std::fs::write(&file, &good).unwrap();
        let users = Users::load(&file).unwrap();
        assert!(users.check("alice", "pw"));
        let bad: [&dyn Fn(); 3] = [
            &|| std::fs::write(&file, format!("{good}  \n")).unwrap(),
            &|| std::fs::write(&file, format!("{good}bob:x:y\n")).unwrap(),
            &|| std::fs::remove_file(&file).unwrap(),
        ];
        for (i, spoil) in bad.iter().enumerate() {
            spoil();
            users.state.lock().unwrap().checked -= CHECK_EVERY;
            assert!(!users.check("alice", "pw"), "case {i}: a cached user is refused too");
            // It stays closed at every look until fixed, even if the stamp does not move.
            users.state.lock().unwrap().checked -= CHECK_EVERY;
            assert!(!users.check("alice", "pw"), "case {i}");
            let _ = std::fs::remove_file(&file);
            std::fs::write(&file, &good).unwrap();
            users.state.lock().unwrap().checked -= CHECK_EVERY;
            assert!(users.check("alice", "pw"), "case {i}: fixed");
        }
        // Unreadable: a folder where the file was.
        std::fs::remove_file(&file).unwrap();
        std::fs::create_dir(&file).unwrap();
        users.reload();
        assert!(!users.check("alice", "pw"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
