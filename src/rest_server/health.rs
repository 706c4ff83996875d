//! `/health`: whether the data folder is there and takes writes, in one word.
//!
//! - `no-disk`: the data folder is gone, is no longer the folder the server
//!   opened (the disk was pulled and its mount detached, leaving the empty
//!   mount point; the folder was removed and made again), cannot be looked
//!   at, or a write test failed with an I/O error or did not end in [`HUNG`];
//! - `read-only`: its file system is mounted read-only, or a write (the
//!   test's, or an upload's) was refused with EROFS, as by a file system that
//!   turned itself read-only after an error;
//! - `full`: less room is left than [`full_below`] asks (16 MiB, a restic pack
//!   file of the default size, or 1 % of a smaller file system), on the file
//!   system (statvfs's `f_bavail`) or under `--max-size`, or a write got
//!   ENOSPC or EDQUOT;
//! - `starting`: none of the above, but the count of the repositories at
//!   start has not finished, or no write test has ended yet;
//! - `ok` otherwise.
//!
//! Looking costs a stat(2) and a statvfs(2) of the folder, which the kernel
//! answers from memory, on a blocking thread (a hung disk must not stop the
//! event loop); a look is used again for [`LOOK_EVERY`], so that frequent
//! requests are answered from memory on the event loop. The write test (create an unnamed file in the folder
//! with `O_TMPFILE`, write 4 KiB, fsync; closing removes it) runs at most once
//! per [`TEST_EVERY`], on a blocking thread, and only when someone asks: a
//! flood of requests never writes more, and an idle disk may spin down. A
//! result up to twice that old is answered at once while the next test runs;
//! an older one (nobody asked for a while) waits up to [`WAIT`] for it. An
//! upload that fails with EROFS, ENOSPC or EDQUOT counts as a test result.

use nix::sys::statvfs::{statvfs, FsFlags};
use std::fs::OpenOptions;
use std::io::{self, Write as _};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// A look at the folder (stat, statvfs) is used again for this long.
pub const LOOK_EVERY: Duration = Duration::from_secs(1);
/// The write test runs at most this often.
pub const TEST_EVERY: Duration = Duration::from_secs(60);
/// How long a request waits for a write test when the last result is too old.
pub const WAIT: Duration = Duration::from_secs(2);
/// A write test still running after this long says `no-disk`.
pub const HUNG: Duration = Duration::from_secs(30);
/// Less room than this is `full`, on a file system of 1.6 GiB and more.
pub const FULL_BELOW: u64 = 16 << 20;

/// Whether `left` bytes of `total` is too little to go on: less than
/// [`FULL_BELOW`], or than 1 % of a smaller total.
pub fn full_below(left: u64, total: u64) -> bool {
    left < FULL_BELOW.min(total / 100).max(1)
}

/// Bytes the write test writes: one block, so that it needs a data block.
const TEST_BYTES: usize = 4096;
/// The write test's file where `O_TMPFILE` is not supported (vfat, exFAT).
pub const TEST_FILE: &str = ".rest-server.health";

/// The answer's one word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Word {
    Ok,
    Starting,
    NoDisk,
    ReadOnly,
    Full,
}

impl Word {
    pub fn as_str(self) -> &'static str {
        match self {
            Word::Ok => "ok",
            Word::Starting => "starting",
            Word::NoDisk => "no-disk",
            Word::ReadOnly => "read-only",
            Word::Full => "full",
        }
    }
}

/// What a failed write says.
fn classify(e: &io::Error) -> Word {
    use nix::errno::Errno;
    match e.raw_os_error().map(Errno::from_raw) {
        Some(Errno::EROFS) => Word::ReadOnly,
        Some(Errno::ENOSPC | Errno::EDQUOT) => Word::Full,
        _ => Word::NoDisk,
    }
}

/// Create, write and fsync a file in `dir` that nobody can see, which closing removes.
fn write_test(dir: &Path) -> io::Result<()> {
    use nix::errno::Errno;
    let unnamed = OpenOptions::new().write(true).mode(0o600).custom_flags(nix::libc::O_TMPFILE).open(dir);
    let (mut file, named) = match unnamed {
        Ok(f) => (f, None),
        // No O_TMPFILE in this file system (or kernel): a named file, removed at once.
        Err(e) if matches!(e.raw_os_error().map(Errno::from_raw), Some(Errno::EOPNOTSUPP | Errno::EISDIR)) => {
            let path = dir.join(TEST_FILE);
            let f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .custom_flags(nix::libc::O_NOFOLLOW)
                .open(&path)?;
            (f, Some(path))
        }
        Err(e) => return Err(e),
    };
    let written = file.write_all(&[0u8; TEST_BYTES]).and_then(|()| file.sync_data());
    drop(file);
    if let Some(p) = named {
        std::fs::remove_file(p)?;
    }
    written
}

/// The last write test and the one running.
#[derive(Default)]
struct Tests {
    last: Option<(Instant, Word)>,
    running_since: Option<Instant>,
}

/// The data folder's health, with the write test's result cached.
pub struct Health {
    path: PathBuf,
    /// The folder, opened when the server opened it: a removed folder has no link left.
    folder: Option<std::fs::File>,
    /// Its device and inode.
    identity: Option<(u64, u64)>,
    tests: Mutex<Tests>,
    /// The last look and when it was taken.
    looked: Mutex<Option<(Instant, Option<Word>)>>,
    /// Counts the write tests that ended; waiting requests watch it.
    ended: watch::Sender<u64>,
}

impl Health {
    /// For the data folder at `path`, which the server has just opened.
    pub fn new(path: &Path) -> Health {
        let folder = std::fs::File::open(path).ok();
        let identity = folder.as_ref().and_then(|f| f.metadata().ok()).map(|m| (m.dev(), m.ino()));
        Health {
            path: path.to_path_buf(),
            folder,
            identity,
            tests: Mutex::default(),
            looked: Mutex::default(),
            ended: watch::channel(0).0,
        }
    }

    /// What stat(2) and statvfs(2) tell, without writing (blocking, but answered from memory).
    fn look(&self) -> Option<Word> {
        let Ok(meta) = std::fs::metadata(&self.path) else { return Some(Word::NoDisk) };
        // Another folder under the path, or the folder served removed (a new
        // one may even have its inode number).
        let removed = self.folder.as_ref().map_or(true, |f| f.metadata().map_or(true, |m| m.nlink() == 0));
        if Some((meta.dev(), meta.ino())) != self.identity || removed {
            return Some(Word::NoDisk);
        }
        let Ok(st) = statvfs(&self.path) else { return Some(Word::NoDisk) };
        if st.flags().contains(FsFlags::ST_RDONLY) {
            return Some(Word::ReadOnly);
        }
        let unit = st.fragment_size();
        if full_below(st.blocks_available().saturating_mul(unit), st.blocks().saturating_mul(unit)) {
            return Some(Word::Full);
        }
        None
    }

    /// Start a write test on a blocking thread; the caller holds `tests` and
    /// has seen that none runs.
    fn start_test(self: &Arc<Self>, tests: &mut Tests) {
        tests.running_since = Some(Instant::now());
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let word = match write_test(&me.path) {
                Ok(()) => Word::Ok,
                Err(e) => {
                    log::debug!("health: the write test in {} failed: {e}", me.path.display());
                    classify(&e)
                }
            };
            log::debug!("health: write test in {:.1?}: {}", started.elapsed(), word.as_str());
            let before = {
                let mut t = me.tests.lock().unwrap();
                let before = t.last.map(|(_, w)| w);
                t.last = Some((Instant::now(), word));
                t.running_since = None;
                before
            };
            if before != Some(word) {
                match word {
                    Word::Ok if before.is_some() => log::info!("health: {} takes writes again", me.path.display()),
                    Word::Ok => {}
                    w => log::warn!("health: {} does not take writes: {}", me.path.display(), w.as_str()),
                }
            }
            me.ended.send_modify(|n| *n += 1);
        });
    }

    /// The write test's word: the cached one, or a new test's. `wait`: wait
    /// (up to [`WAIT`]) for a new test when the last result is older than
    /// twice [`TEST_EVERY`]; otherwise answer what is known. `None` while
    /// no test has ended.
    async fn tested(self: &Arc<Self>, wait: bool) -> Option<Word> {
        let now = Instant::now();
        let mut ended = {
            let mut t = self.tests.lock().unwrap();
            let age = t.last.map(|(at, _)| now.saturating_duration_since(at));
            if age.is_some_and(|a| a < TEST_EVERY) {
                return t.last.map(|(_, w)| w);
            }
            match t.running_since {
                Some(since) if now.saturating_duration_since(since) > HUNG => return Some(Word::NoDisk),
                Some(_) => {}
                None => self.start_test(&mut t),
            }
            if !wait || age.is_some_and(|a| a < 2 * TEST_EVERY) {
                return t.last.map(|(_, w)| w);
            }
            self.ended.subscribe()
        };
        let _ = tokio::time::timeout(WAIT, ended.changed()).await;
        self.tests.lock().unwrap().last.map(|(_, w)| w)
    }

    /// What a failed upload says about the disk: EROFS, ENOSPC and EDQUOT
    /// count as a write test's result (other errors may be the request's own).
    pub fn saw(&self, e: &io::Error) {
        let word = classify(e);
        if matches!(word, Word::ReadOnly | Word::Full) {
            let mut t = self.tests.lock().unwrap();
            if t.last.map(|(_, w)| w) != Some(word) {
                log::warn!("health: {} does not take writes: {}", self.path.display(), word.as_str());
            }
            t.last = Some((Instant::now(), word));
        }
    }

    /// Start the first write test (at start, so that the first answers know it).
    pub fn start(self: &Arc<Self>) {
        let mut t = self.tests.lock().unwrap();
        if t.running_since.is_none() {
            self.start_test(&mut t);
        }
    }

    /// The word. `counted`: the count at start has finished; `quota`:
    /// `--max-size`'s bytes used and limit; `wait`: see [`Health::tested`]
    /// (`/status` does not wait, `/health` does).
    pub async fn word(self: &Arc<Self>, counted: bool, quota: Option<(u64, u64)>, wait: bool) -> Word {
        let recent = self.looked.lock().unwrap().filter(|(at, _)| at.elapsed() < LOOK_EVERY).map(|(_, w)| w);
        let looked = match recent {
            Some(w) => w,
            None => {
                let me = self.clone();
                let w = match tokio::task::spawn_blocking(move || me.look()).await {
                    Ok(w) => w,
                    Err(e) => std::panic::resume_unwind(e.into_panic()),
                };
                *self.looked.lock().unwrap() = Some((Instant::now(), w));
                w
            }
        };
        if let Some(w) = looked {
            return w;
        }
        if quota.is_some_and(|(used, max)| full_below(max.saturating_sub(used), max)) {
            return Word::Full;
        }
        match self.tested(wait).await {
            Some(Word::Ok) if counted => Word::Ok,
            Some(Word::Ok) | None => Word::Starting,
            Some(w) => w,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::errno::Errno;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    #[test]
    fn room_left() {
        let gib = 1u64 << 30;
        assert!(full_below(FULL_BELOW - 1, 2000 * gib));
        assert!(!full_below(FULL_BELOW, 2000 * gib));
        assert!(full_below(gib / 100 - 1, gib) && !full_below(gib / 100, gib), "1 % of a small one");
        assert!(full_below(0, 50) && !full_below(1, 50), "something left of a tiny one");
        assert!(full_below(0, 0));
    }

    #[test]
    fn words_of_write_errors() {
        let e = |n: Errno| classify(&io::Error::from_raw_os_error(n as i32));
        assert_eq!(e(Errno::EROFS), Word::ReadOnly);
        assert_eq!(e(Errno::ENOSPC), Word::Full);
        assert_eq!(e(Errno::EDQUOT), Word::Full);
        assert_eq!(e(Errno::EIO), Word::NoDisk);
        assert_eq!(e(Errno::ENOENT), Word::NoDisk);
    }

    #[test]
    fn starting_until_counted_then_ok_then_no_disk() {
        let dir = std::env::temp_dir().join(format!("krazybox-health-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let h = Arc::new(Health::new(&dir));
        let rt = runtime();
        assert_eq!(rt.block_on(h.word(false, None, true)), Word::Starting, "the count at start runs");
        assert_eq!(rt.block_on(h.word(true, None, true)), Word::Ok);
        assert_eq!(rt.block_on(h.word(true, Some((990, 1000)), true)), Word::Ok);
        assert_eq!(rt.block_on(h.word(true, Some((991, 1000)), true)), Word::Full, "--max-size: less than 1 % left");
        h.saw(&io::Error::from_raw_os_error(Errno::EROFS as i32));
        assert_eq!(rt.block_on(h.word(true, None, true)), Word::ReadOnly, "an upload got EROFS");
        h.saw(&io::Error::from_raw_os_error(Errno::ENOENT as i32));
        assert_eq!(rt.block_on(h.word(true, None, true)), Word::ReadOnly, "a missing folder says nothing of the disk");
        h.tests.lock().unwrap().last.as_mut().unwrap().0 -= 3 * TEST_EVERY;
        assert_eq!(rt.block_on(h.word(true, None, true)), Word::Ok, "the next write test clears it");
        assert!(std::fs::read_dir(&dir).unwrap().next().is_none(), "the write test leaves nothing behind");
        std::fs::remove_dir(&dir).unwrap();
        assert_eq!(rt.block_on(h.word(true, None, true)), Word::Ok, "the last look is used for a second");
        *h.looked.lock().unwrap() = None;
        assert_eq!(rt.block_on(h.word(true, None, true)), Word::NoDisk);
        std::fs::create_dir(&dir).unwrap();
        *h.looked.lock().unwrap() = None;
        assert_eq!(rt.block_on(h.word(true, None, true)), Word::NoDisk, "another folder under the same name");
        std::fs::remove_dir(&dir).unwrap();
    }

    #[test]
    fn one_write_test_a_minute() {
        let dir = std::env::temp_dir().join(format!("krazybox-health-cache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let h = Arc::new(Health::new(&dir));
        let rt = runtime();
        for _ in 0..100 {
            assert_eq!(rt.block_on(h.word(true, None, true)), Word::Ok);
        }
        assert_eq!(*h.ended.borrow(), 1, "one write test for 100 answers");
        // A result older than TEST_EVERY starts a new test but is answered at once...
        h.tests.lock().unwrap().last.as_mut().unwrap().0 -= TEST_EVERY;
        assert_eq!(rt.block_on(h.word(true, None, false)), Word::Ok);
        rt.block_on(async {
            let mut ended = h.ended.subscribe();
            while *ended.borrow_and_update() < 2 {
                ended.changed().await.unwrap();
            }
        });
        // ...and one that has run too long says the disk is not there.
        h.tests.lock().unwrap().last.as_mut().unwrap().0 -= 3 * TEST_EVERY;
        h.tests.lock().unwrap().running_since = Some(Instant::now() - HUNG - Duration::from_secs(1));
        assert_eq!(rt.block_on(h.word(true, None, true)), Word::NoDisk);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
