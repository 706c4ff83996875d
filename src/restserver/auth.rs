//! Users from an htpasswd file, as rest-server reads it: `:`-separated records,
//! `#` comments, names matching `^[\p{L}\d@._-]+$`, bcrypt and `{SHA}` hashes.
//! Successful checks are remembered for a minute (keyed by the user, holding
//! sha256(user:password), compared in constant time) so bcrypt does not run on
//! every request; the file is re-read on SIGHUP and when its mtime or size
//! changed, looked at no more than every 30 seconds.

use crate::htpasswd::{self, HashKind};
use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};
use subtle::ConstantTimeEq;

/// How long a successful check is remembered (rest-server's value).
pub const CACHE_FOR: Duration = Duration::from_secs(60);
/// How often the file's mtime and size are looked at.
pub const CHECK_EVERY: Duration = Duration::from_secs(30);

/// The users of an htpasswd file and the cache of recent successful checks.
pub struct Users {
    path: PathBuf,
    state: Mutex<State>,
}

struct State {
    users: HashMap<String, String>,
    /// A bcrypt hash at the users' cost, checked for unknown users so that
    /// they take as long as known ones.
    decoy: Option<String>,
    cache: HashMap<String, ([u8; 32], Instant)>,
    stamp: Option<(SystemTime, u64)>,
    checked: Instant,
}

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

/// A bcrypt hash of nothing in particular, at the cost of the file's first bcrypt entry.
fn decoy(users: &HashMap<String, String>) -> Option<String> {
    let hash = users.values().find(|h| HashKind::of(h.as_bytes()) == HashKind::Bcrypt)?;
    let cost: u32 = hash.get(4..6)?.parse().ok()?;
    htpasswd::hash(b"no such user", htpasswd::Algorithm::Bcrypt { cost }).ok()
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

fn verifier(user: &str, password: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(user.as_bytes());
    h.update(b":");
    h.update(password.as_bytes());
    h.finalize().into()
}

impl Users {
    /// Load `path`; a missing or unreadable file is an error (the server refuses to start).
    pub fn load(path: &Path) -> Result<Users> {
        let stamp = stamp(path);
        let bytes = std::fs::read(path)?;
        let users = parse(&bytes)?;
        let state = State { decoy: decoy(&users), users, cache: HashMap::new(), stamp, checked: Instant::now() };
        Ok(Users { path: path.to_path_buf(), state: Mutex::new(state) })
    }

    /// Re-read the file; on an error the users loaded before stay.
    pub fn reload(&self) {
        let stamp = stamp(&self.path);
        match std::fs::read(&self.path).map_err(anyhow::Error::from).and_then(|b| parse(&b)) {
            Ok(users) => {
                let decoy = decoy(&users);
                let mut st = self.state.lock().unwrap();
                st.users = users;
                st.decoy = decoy;
                st.cache.clear();
                st.stamp = stamp;
                log::info!("reloaded {}: {} users", self.path.display(), st.users.len());
            }
            Err(e) => log::error!("could not reload {}: {e:#}", self.path.display()),
        }
    }

    fn reload_if_changed(&self) {
        let changed = {
            let mut st = self.state.lock().unwrap();
            if st.checked.elapsed() < CHECK_EVERY {
                return;
            }
            st.checked = Instant::now();
            stamp(&self.path) != st.stamp
        };
        if changed {
            self.reload();
        }
    }

    /// Whether `password` is the password of `user`. The answer takes the same
    /// path for an unknown user as for a wrong password, as far as the caller sees.
    pub fn check(&self, user: &str, password: &str) -> bool {
        self.reload_if_changed();
        let key = verifier(user, password);
        let hash = {
            let mut st = self.state.lock().unwrap();
            let now = Instant::now();
            st.cache.retain(|_, (_, at)| now.duration_since(*at) < CACHE_FOR);
            if let Some((v, at)) = st.cache.get_mut(user) {
                if bool::from(v.ct_eq(&key)) {
                    *at = now;
                    return true;
                }
            }
            match (st.users.get(user), &st.decoy) {
                (Some(h), _) => h.clone(),
                (None, Some(d)) => {
                    let d = d.clone();
                    drop(st);
                    let _ = htpasswd::verify(password.as_bytes(), d.as_bytes());
                    return false;
                }
                (None, None) => return false,
            }
        };
        if !HashKind::rest_server_accepts(hash.as_bytes()) {
            log::warn!("invalid htpasswd entry for {user}: only bcrypt and {{SHA}} hashes are accepted");
            return false;
        }
        let ok = matches!(htpasswd::verify(password.as_bytes(), hash.as_bytes()), Ok(true));
        if ok {
            self.state.lock().unwrap().cache.insert(user.to_string(), (key, Instant::now()));
        }
        ok
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
}
