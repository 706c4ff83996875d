//! What the tests that attach loop devices and mount share: one lock for the
//! devices, temporary folders that clean up after themselves even when a test
//! fails, running a tool, and making a filesystem image.
// Each test binary uses its own part of this.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use krazybox::mount::{self, mountinfo};
use nix::fcntl::{Flock, FlockArg};

/// Tests that take loop devices, mount, or forget btrfs devices run one at a time.
static DEVICES: Mutex<()> = Mutex::new(());

/// The same rule across processes: two test runs (or a script that mounts) on one
/// machine would otherwise race for loop devices and btrfs registrations.
const DEVICES_LOCK_FILE: &str = "/run/lock/krazybox-devices.lock";

/// Held while a test uses loop devices or btrfs registration: the in-process lock
/// and, taken after it, an flock(2) that other processes honour too.
pub struct Serial {
    _file: Option<Flock<std::fs::File>>,
    _guard: MutexGuard<'static, ()>,
}

/// Hold this while a test uses loop devices or btrfs registration.
pub fn serial() -> Serial {
    let guard = DEVICES.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let dir = Path::new(DEVICES_LOCK_FILE).parent().expect("lock file has a folder");
    let _ = std::fs::create_dir_all(dir);
    let file =
        std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(DEVICES_LOCK_FILE).ok().map(|f| {
            Flock::lock(f, FlockArg::LockExclusive).unwrap_or_else(|(_, e)| panic!("flock {DEVICES_LOCK_FILE}: {e}"))
        });
    Serial { _file: file, _guard: guard }
}

/// A unique folder under the system temp folder, removed on drop. A mount that
/// somehow survived inside it is detached first, never recursed into.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("krazybox-test-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir.canonicalize().unwrap())
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// A folder inside, created.
    pub fn subdir(&self, name: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::create_dir_all(&p).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        for e in std::fs::read_dir(&self.0).into_iter().flatten().flatten() {
            if mountinfo::is_mount_root(&e.path()).unwrap_or(false) {
                let _ = mount::umount(&e.path(), true, false);
            }
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Run a tool; it must succeed.
pub fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd).args(args).output().unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(out.status.success(), "{cmd} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A sparse file of `mib` MiB, formatted with `mkfs` (the file name is appended).
pub fn image(dir: &TempDir, name: &str, mib: u64, mkfs: &[&str]) -> PathBuf {
    let path = dir.join(name);
    std::fs::File::create(&path).unwrap().set_len(mib << 20).unwrap();
    if !mkfs.is_empty() {
        let mut args: Vec<&str> = mkfs[1..].to_vec();
        args.push(path.to_str().unwrap());
        run(mkfs[0], &args);
    }
    path
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// What the error-message tests of the engine and of the applet mount:
/// an ext4 image on a loop device, an empty mount point, and a folder and a
/// device that do not exist. Fields drop in reverse order: the device is
/// detached before the folder goes.
pub struct ErrorScene {
    pub lo: mount::LoopGuard,
    pub dev: String,
    pub img: PathBuf,
    pub target: PathBuf,
    pub missing_dir: PathBuf,
    pub missing_dev: PathBuf,
    pub dir: TempDir,
}

impl ErrorScene {
    pub fn new() -> ErrorScene {
        let dir = TempDir::new("errors");
        let img = image(&dir, "ext4.img", 32, &["mkfs.ext4", "-q", "-F"]);
        let target = dir.subdir("mnt");
        let lo = mount::LoopGuard::attach(&img, false).unwrap();
        let dev = s(lo.path()).to_string();
        let (missing_dir, missing_dev) = (dir.join("nowhere"), dir.join("nodevice"));
        ErrorScene { lo, dev, img, target, missing_dir, missing_dev, dir }
    }
}
