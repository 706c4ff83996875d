//! Apache htpasswd files: hashing, verification, and safe in-place updates.
//!
//! The file format is Apache's: one `user:hash` record per line, `#` comments and
//! blank lines allowed. Every line we do not change is kept byte for byte (CRLF
//! endings included). Updates are atomic: the new content goes to a temporary file
//! in the same folder, is synced, and renamed over the old one while a lock on the
//! folder keeps concurrent writers out, so a reader such as rest-server never sees
//! a half-written file and two writers never lose each other's users.
#![forbid(unsafe_code)]

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use nix::fcntl::{Flock, FlockArg};
use sha1::Digest as _;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use subtle::ConstantTimeEq;

/// bcrypt costs Apache accepts.
pub const BCRYPT_COSTS: std::ops::RangeInclusive<u32> = 4..=17;
/// Our default: Apache's 5 is weak; 10 verifies in about 0.1 s on a Raspberry Pi 4.
pub const DEFAULT_BCRYPT_COST: u32 = 10;
/// bcrypt uses only this many bytes of a password.
pub const BCRYPT_MAX_PASSWORD: usize = 72;
/// Apache's limits: a password, a user name, and a whole record must stay below 256 bytes.
pub const MAX_FIELD: usize = 255;

/// The hash to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// `$2y$` bcrypt with a random 16-byte salt.
    Bcrypt { cost: u32 },
    /// `{SHA}` unsalted SHA-1, base64: weak, kept for old setups.
    Sha1,
}

/// What kind of hash a record holds, from its prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashKind {
    Bcrypt,
    Sha1,
    Apr1,
    Sha256Crypt,
    Sha512Crypt,
    /// Traditional DES crypt(3), or anything else we cannot tell.
    Other,
    Empty,
}

impl HashKind {
    pub fn of(hash: &[u8]) -> HashKind {
        let starts = |p: &[u8]| hash.starts_with(p);
        if hash.is_empty() {
            HashKind::Empty
        } else if starts(b"$2a$") || starts(b"$2b$") || starts(b"$2x$") || starts(b"$2y$") {
            HashKind::Bcrypt
        } else if starts(b"{SHA}") {
            HashKind::Sha1
        } else if starts(b"$apr1$") {
            HashKind::Apr1
        } else if starts(b"$5$") {
            HashKind::Sha256Crypt
        } else if starts(b"$6$") {
            HashKind::Sha512Crypt
        } else {
            HashKind::Other
        }
    }

    /// A human name for messages.
    pub fn describe(self) -> &'static str {
        match self {
            HashKind::Bcrypt => "bcrypt",
            HashKind::Sha1 => "{SHA} SHA-1",
            HashKind::Apr1 => "apr1-MD5",
            HashKind::Sha256Crypt => "SHA-256-crypt",
            HashKind::Sha512Crypt => "SHA-512-crypt",
            HashKind::Other => "crypt or plain text",
            HashKind::Empty => "empty",
        }
    }

    /// Whether rest-server can log this user in (it checks only `$2a$`, `$2b$`, `$2y$` and `{SHA}`).
    pub fn rest_server_accepts(hash: &[u8]) -> bool {
        [&b"$2a$"[..], b"$2b$", b"$2y$", b"{SHA}"].iter().any(|p| hash.starts_with(p))
    }
}

/// Hash `password` with `algorithm`.
pub fn hash(password: &[u8], algorithm: Algorithm) -> Result<String> {
    match algorithm {
        Algorithm::Bcrypt { cost } => {
            if !BCRYPT_COSTS.contains(&cost) {
                bail!("bcrypt cost {cost} is out of range; use 4 to 17");
            }
            let parts = bcrypt::hash_with_result(password, cost).context("hashing with bcrypt")?;
            Ok(parts.format_for_version(bcrypt::Version::TwoY))
        }
        Algorithm::Sha1 => Ok(format!("{{SHA}}{}", sha1_base64(password))),
    }
}

fn sha1_base64(password: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(password))
}

/// Why a hash could not be checked.
#[derive(Debug, PartialEq, Eq)]
pub enum VerifyError {
    /// The record has no hash at all.
    Empty,
    /// A hash kind krazybox does not verify (rest-server does not either).
    Unsupported(HashKind),
    /// A bcrypt hash that is not well formed.
    Malformed,
}

/// Check `password` against `hash` in constant time (for the comparison itself).
pub fn verify(password: &[u8], hash: &[u8]) -> Result<bool, VerifyError> {
    match HashKind::of(hash) {
        HashKind::Empty => Err(VerifyError::Empty),
        HashKind::Bcrypt => {
            let text = std::str::from_utf8(hash).map_err(|_| VerifyError::Malformed)?;
            // The bcrypt crate parses `$2x$` too; all four prefixes hash alike for
            // passwords without 8-bit bytes, which is what Apache and Go agree on.
            bcrypt::verify(password, text).map_err(|_| VerifyError::Malformed)
        }
        HashKind::Sha1 => {
            let expected = sha1_base64(password);
            Ok(expected.as_bytes().ct_eq(&hash[5..]).into())
        }
        other => Err(VerifyError::Unsupported(other)),
    }
}

/// Why a user name cannot be written.
#[derive(Debug, PartialEq, Eq)]
pub enum BadUser {
    /// `:` separates name and hash.
    Colon,
    /// A newline or other control byte would break or inject lines.
    Control,
    Empty,
    TooLong,
}

/// Check that `user` can be stored at all.
pub fn check_user(user: &[u8]) -> Result<(), BadUser> {
    if user.is_empty() {
        Err(BadUser::Empty)
    } else if user.len() > MAX_FIELD {
        Err(BadUser::TooLong)
    } else if user.contains(&b':') {
        Err(BadUser::Colon)
    } else if user.iter().any(|&b| b < 0x20 || b == 0x7f) {
        Err(BadUser::Control)
    } else {
        Ok(())
    }
}

/// rest-server's user-name rule, `^[\p{L}\d@._-]+$`: other users are ignored by it.
pub fn rest_server_accepts_user(user: &[u8]) -> bool {
    match std::str::from_utf8(user) {
        Ok(s) => !s.is_empty() && s.chars().all(|c| c.is_alphabetic() || c.is_ascii_digit() || "@._-".contains(c)),
        Err(_) => false,
    }
}

/// A parsed htpasswd file: its lines, each with its own line ending.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PwFile {
    lines: Vec<Vec<u8>>,
}

/// What a line is, as Apache's htpasswd sees it.
enum Line<'a> {
    /// A comment, or a blank or whitespace-only line: kept as it is.
    Other,
    Record {
        user: &'a [u8],
        hash: &'a [u8],
    },
    /// No colon: Apache calls such a file invalid.
    Invalid,
}

fn content(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn classify(line: &[u8]) -> Line<'_> {
    let text = content(line);
    if text.first() == Some(&b'#') || text.iter().all(u8::is_ascii_whitespace) {
        return Line::Other;
    }
    match text.iter().position(|&b| b == b':') {
        Some(colon) => Line::Record { user: &text[..colon], hash: &text[colon + 1..] },
        None => Line::Invalid,
    }
}

impl PwFile {
    /// Split `bytes` into lines; [`PwFile::to_bytes`] gives the same bytes back.
    pub fn parse(bytes: &[u8]) -> PwFile {
        let lines = bytes.split_inclusive(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
        PwFile { lines }
    }

    /// The 1-based number of the first line without a colon, if any.
    pub fn first_invalid_line(&self) -> Option<usize> {
        self.lines.iter().position(|l| matches!(classify(l), Line::Invalid)).map(|i| i + 1)
    }

    /// The hash of the first record for `user`, reading as Apache's `-v` does:
    /// a line without a colon before that record makes the file invalid (its
    /// 1-based number is the error); lines after it are not looked at.
    pub fn find(&self, user: &[u8]) -> Result<Option<&[u8]>, usize> {
        for (i, line) in self.lines.iter().enumerate() {
            match classify(line) {
                Line::Record { user: u, hash } if u == user => return Ok(Some(hash)),
                Line::Invalid => return Err(i + 1),
                _ => {}
            }
        }
        Ok(None)
    }

    /// The hash of the first record for `user`.
    pub fn get(&self, user: &[u8]) -> Option<&[u8]> {
        self.lines.iter().find_map(|l| match classify(l) {
            Line::Record { user: u, hash } if u == user => Some(hash),
            _ => None,
        })
    }

    /// Replace every record of `user` in place, or append one at the end.
    /// Returns true when the user existed.
    pub fn set(&mut self, user: &[u8], hash: &[u8]) -> bool {
        let mut found = false;
        for line in &mut self.lines {
            if matches!(classify(line), Line::Record { user: u, .. } if u == user) {
                let ending = &line[content(line).len()..];
                let mut new = [user, b":", hash].concat();
                new.extend_from_slice(ending);
                *line = new;
                found = true;
            }
        }
        if !found {
            if let Some(last) = self.lines.last_mut() {
                if !last.ends_with(b"\n") {
                    last.push(b'\n');
                }
            }
            self.lines.push([user, b":", hash, b"\n"].concat());
        }
        found
    }

    /// Remove every record of `user`. Returns true when there was one.
    pub fn remove(&mut self, user: &[u8]) -> bool {
        let before = self.lines.len();
        self.lines.retain(|l| !matches!(classify(l), Line::Record { user: u, .. } if u == user));
        self.lines.len() != before
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.lines.concat()
    }

    /// What rest-server will make of this file: one message per problem.
    ///
    /// rest-server reads the file with Go's CSV reader (`:` separated, `#`
    /// comments): a whitespace-only line, a record with another number of fields
    /// or a `"` makes it refuse the whole file; an odd user name or a hash kind it
    /// cannot check only locks that user out.
    pub fn rest_server_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (i, line) in self.lines.iter().enumerate() {
            let n = i + 1;
            let text = content(line);
            if text.is_empty() || text[0] == b'#' {
                continue;
            }
            if text.iter().all(u8::is_ascii_whitespace) {
                problems.push(format!("line {n} holds only white space: rest-server will refuse the whole file"));
                continue;
            }
            if text.contains(&b'"') {
                problems.push(format!("line {n} contains '\"': rest-server will refuse the whole file"));
                continue;
            }
            let fields = text.split(|&b| b == b':').count();
            if fields != 2 {
                problems.push(format!(
                    "line {n} has {fields} ':'-separated fields, not 2: rest-server will refuse the whole file"
                ));
                continue;
            }
            if let Line::Record { user, hash } = classify(line) {
                let name = String::from_utf8_lossy(user);
                if !rest_server_accepts_user(user) {
                    problems.push(format!(
                        "user {name} (line {n}): rest-server ignores names with characters other than \
                         letters, digits, '@', '.', '_' and '-'"
                    ));
                } else if !HashKind::rest_server_accepts(hash) {
                    problems.push(format!(
                        "user {name} (line {n}) has a {} hash: rest-server accepts only bcrypt and {{SHA}}",
                        HashKind::of(hash).describe()
                    ));
                }
            }
        }
        problems
    }
}

/// Read an htpasswd file.
pub fn read(path: &Path) -> Result<PwFile> {
    let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(PwFile::parse(&bytes))
}

/// The file that really gets written: a symlink is followed to its target, so
/// the rename replaces the target and the link stays a link.
pub fn resolve_target(path: &Path) -> Result<PathBuf> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => fs::canonicalize(path)
            .with_context(|| format!("{} is a symlink whose target cannot be resolved", path.display())),
        _ => Ok(path.to_path_buf()),
    }
}

/// Removes the temporary file unless the update went through.
struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn remove_stale_temps(dir: &Path, prefix: &[u8]) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        if entry.file_name().as_encoded_bytes().starts_with(prefix) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Apply `change` to the file at `path` atomically, under an exclusive lock.
///
/// With `create`, the old content is discarded (Apache's `-c`); otherwise the
/// file must exist. The new file keeps the old one's mode and owner; a new file
/// gets mode 0600. Steps: flock(2) the folder, read, change, write a temporary
/// file in the same folder, fsync(2) it, rename(2) it over the target, fsync the
/// folder. A crash at any point leaves the old or the new file, complete.
pub fn update<R>(path: &Path, create: bool, change: impl FnOnce(&mut PwFile) -> Result<R>) -> Result<R> {
    let target = resolve_target(path)?;
    let name = target.file_name().with_context(|| format!("{} does not name a file", target.display()))?;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let dir_file = File::open(&dir).with_context(|| format!("opening folder {}", dir.display()))?;
    let dir_lock = Flock::lock(dir_file, FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .with_context(|| format!("locking folder {}", dir.display()))?;

    let old_meta = fs::metadata(&target).ok();
    let mut file = match (&old_meta, create) {
        (_, true) => PwFile::default(),
        (Some(_), false) => read(&target)?,
        (None, false) => bail!("cannot modify file {}; use '-c' to create it", path.display()),
    };
    let result = change(&mut file)?;

    // Temporary files only exist while their writer holds the lock: any one
    // found now was left by a writer that was killed.
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(name);
    prefix.push(".tmp-");
    remove_stale_temps(&dir, prefix.as_encoded_bytes());
    let mut temp_name = prefix;
    temp_name.push(std::process::id().to_string());
    let mut temp = TempFile { path: dir.join(temp_name), keep: false };
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp.path)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    out.write_all(&file.to_bytes()).with_context(|| format!("writing {}", temp.path.display()))?;
    if let Some(meta) = &old_meta {
        out.set_permissions(fs::Permissions::from_mode(meta.mode() & 0o7777))
            .with_context(|| format!("setting the mode of {}", temp.path.display()))?;
        if let Err(e) = std::os::unix::fs::fchown(&out, Some(meta.uid()), Some(meta.gid())) {
            log::warn!(target: "htpasswd", "cannot keep the owner of {}: {e}", target.display());
        }
    }
    out.sync_all().with_context(|| format!("syncing {}", temp.path.display()))?;
    drop(out);
    fs::rename(&temp.path, &target)
        .with_context(|| format!("replacing {} with {}", target.display(), temp.path.display()))?;
    temp.keep = true;
    dir_lock.sync_all().with_context(|| format!("syncing folder {}", dir.display()))?;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcrypt_round_trip_and_prefix() {
        let h = hash(b"secret", Algorithm::Bcrypt { cost: 4 }).unwrap();
        assert!(h.starts_with("$2y$04$"), "{h}");
        assert_eq!(verify(b"secret", h.as_bytes()), Ok(true));
        assert_eq!(verify(b"Secret", h.as_bytes()), Ok(false));
    }

    #[test]
    fn bcrypt_prefixes_verify_alike() {
        let h = hash(b"pw", Algorithm::Bcrypt { cost: 4 }).unwrap();
        for p in ["$2a$", "$2b$", "$2x$"] {
            let other = h.replacen("$2y$", p, 1);
            assert_eq!(verify(b"pw", other.as_bytes()), Ok(true), "{other}");
        }
    }

    #[test]
    fn cost_out_of_range() {
        assert!(hash(b"x", Algorithm::Bcrypt { cost: 3 }).is_err());
        assert!(hash(b"x", Algorithm::Bcrypt { cost: 18 }).is_err());
    }

    #[test]
    fn sha1_matches_apache() {
        // `htpasswd -nbs u pw` prints this hash.
        assert_eq!(hash(b"pw", Algorithm::Sha1).unwrap(), "{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM=");
        assert_eq!(verify(b"pw", b"{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM="), Ok(true));
        assert_eq!(verify(b"px", b"{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM="), Ok(false));
    }

    #[test]
    fn unsupported_and_empty_hashes() {
        assert_eq!(verify(b"x", b"$apr1$abc$def"), Err(VerifyError::Unsupported(HashKind::Apr1)));
        assert_eq!(verify(b"x", b"$6$salt$hash"), Err(VerifyError::Unsupported(HashKind::Sha512Crypt)));
        assert_eq!(verify(b"x", b""), Err(VerifyError::Empty));
        assert_eq!(verify(b"x", b"$2y$05$short"), Err(VerifyError::Malformed));
    }

    #[test]
    fn lines_are_kept_byte_for_byte() {
        let text = b"# comment\r\nbob:x\r\n\n  \nalice:1\ncarol:2\nalice:3\nzed:4";
        let mut f = PwFile::parse(text);
        assert_eq!(f.to_bytes(), text);
        assert_eq!(f.get(b"alice"), Some(&b"1"[..]));
        assert_eq!(f.get(b"bob"), Some(&b"x"[..]));
        assert!(f.set(b"alice", b"N"));
        assert_eq!(f.to_bytes(), b"# comment\r\nbob:x\r\n\n  \nalice:N\ncarol:2\nalice:N\nzed:4");
        assert!(f.set(b"bob", b"B"));
        assert!(f.to_bytes().starts_with(b"# comment\r\nbob:B\r\n"));
        assert!(!f.set(b"new", b"H"));
        assert!(f.to_bytes().ends_with(b"zed:4\nnew:H\n"));
        assert!(f.remove(b"alice"));
        assert!(!f.remove(b"alice"));
        assert_eq!(f.get(b"alice"), None);
    }

    #[test]
    fn invalid_lines_are_found() {
        assert_eq!(PwFile::parse(b"a:1\n# x\n\nno colon\n").first_invalid_line(), Some(4));
        assert_eq!(PwFile::parse(b"a:1\n \t\n").first_invalid_line(), None);
        let f = PwFile::parse(b"a:1\nbad\nb:2\n");
        assert_eq!(f.find(b"a"), Ok(Some(&b"1"[..])));
        assert_eq!(f.find(b"b"), Err(2));
        assert_eq!(f.find(b"c"), Err(2));
    }

    #[test]
    fn user_names() {
        assert_eq!(check_user(b"a:b"), Err(BadUser::Colon));
        assert_eq!(check_user(b"a\nb:x"), Err(BadUser::Colon));
        assert_eq!(check_user(b"a\nb"), Err(BadUser::Control));
        assert_eq!(check_user(b""), Err(BadUser::Empty));
        assert_eq!(check_user(&[b'u'; 256]), Err(BadUser::TooLong));
        assert_eq!(check_user("jürgen@home.lan".as_bytes()), Ok(()));
        assert!(rest_server_accepts_user("jürgen@home.lan".as_bytes()));
        assert!(rest_server_accepts_user(b"metrics"));
        assert!(!rest_server_accepts_user(b"john doe"));
        assert!(!rest_server_accepts_user(b"a+b"));
    }

    #[test]
    fn rest_server_problems_are_named() {
        let f = PwFile::parse(b"# ok\n\nalice:$2y$05$x\nbob:$apr1$x$y\n \nx:y:z\nq\"u:{SHA}x\njohn doe:{SHA}x\n");
        let p = f.rest_server_problems();
        assert_eq!(p.len(), 5, "{p:#?}");
        assert!(p[0].contains("bob") && p[0].contains("apr1"));
        assert!(p[1].contains("line 5") && p[1].contains("white space"));
        assert!(p[2].contains("line 6") && p[2].contains("3"));
        assert!(p[3].contains("line 7") && p[3].contains('"'));
        assert!(p[4].contains("john doe"));
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("krazybox-htpasswd-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn update_creates_0600_and_keeps_mode_and_symlink() {
        let dir = temp_dir("mode");
        let path = dir.join("htpasswd");
        assert!(update(&path, false, |_| Ok(())).is_err(), "a missing file needs create");
        update(&path, true, |f| Ok(f.set(b"a", b"1"))).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.join("link");
        std::os::unix::fs::symlink("htpasswd", &link).unwrap();
        update(&link, false, |f| Ok(f.set(b"b", b"2"))).unwrap();
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(fs::read(&path).unwrap(), b"a:1\nb:2\n");
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o640);
        let leftovers: Vec<_> = fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()).collect();
        assert_eq!(leftovers.len(), 2, "no temporary file is left behind");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn failed_change_leaves_file_untouched() {
        let dir = temp_dir("fail");
        let path = dir.join("htpasswd");
        fs::write(&path, b"a:1\n").unwrap();
        let r: Result<()> = update(&path, false, |f| {
            f.set(b"b", b"2");
            bail!("refused")
        });
        assert!(r.is_err());
        assert_eq!(fs::read(&path).unwrap(), b"a:1\n");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }
}
