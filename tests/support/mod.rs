//! What the tests share, the crate's own unit tests and the test binaries in
//! `tests/` alike (src/lib.rs builds this same file into its `crate::support`,
//! each test binary declares `mod support;`): one lock for the devices,
//! temporary folders that clean up after themselves even when a test fails,
//! finding a tool or skipping a test that needs one, a loop device that is
//! detached even when a test fails, running a tool, and making a filesystem
//! image. Beside this file: the rest-server tests' helpers (`rest_server.rs`,
//! `restic.rs`), declared by the binaries that use them, and the probe
//! helpers that compare with util-linux's blkid (`probe.rs`), which only the
//! unit tests use.
// Seven crates build this file (six test binaries and the unit tests), each
// using a different part of it: the command-line tests only the temporary
// folder. What one binary alone needs belongs in that binary, not here.
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

    /// A sparse file of `size` bytes inside.
    pub fn sparse(&self, name: &str, size: u64) -> PathBuf {
        let p = self.0.join(name);
        std::fs::File::create(&p).and_then(|f| f.set_len(size)).expect("creating an image file");
        p
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

/// Whether `tool` can be run: a path that exists, or a name found on PATH or
/// in the sbin and bin folders (which a non-root PATH may leave out).
pub fn have(tool: &str) -> bool {
    if tool.contains('/') {
        return Path::new(tool).exists();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let sbin = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from);
    std::env::split_paths(&path).chain(sbin).any(|d| d.join(tool).is_file())
}

/// Whether every one of `tools` is there; if not, the test says which one is
/// missing ("skipped: X is not installed") and should return.
pub fn need(tools: &[&str]) -> bool {
    match tools.iter().find(|t| !have(t)) {
        Some(t) => {
            eprintln!("skipped: {t} is not installed");
            false
        }
        None => true,
    }
}

/// How [`Loop::attach`] sets up the device.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoopOpts {
    /// `losetup -r`: the image is not written.
    pub read_only: bool,
    /// `losetup -P`: the kernel scans the partition table.
    pub scan: bool,
    /// After `-P`, `partx -a` adds the partition nodes the kernel did not make
    /// (on these machines `-P` alone may not create them).
    pub partitions: bool,
}

impl LoopOpts {
    /// Writable, with every partition's node.
    pub const PARTITIONS: LoopOpts = LoopOpts { read_only: false, scan: true, partitions: true };
}

/// A loop device made by `losetup -f --show` over an image, detached (its
/// partitions first) when dropped, also when the test panics. Attaching takes
/// the [`Serial`] lock as proof that the test holds it.
pub struct Loop(pub PathBuf);

impl Loop {
    /// The device, or losetup's complaint (for tests that skip without one).
    pub fn try_attach(_serial: &Serial, image: &Path, opts: LoopOpts) -> Result<Loop, String> {
        let mut cmd = Command::new("losetup");
        cmd.args(["-f", "--show"]);
        if opts.read_only {
            cmd.arg("-r");
        }
        if opts.scan || opts.partitions {
            cmd.arg("-P");
        }
        let out = cmd.arg(image).output().map_err(|e| format!("losetup: {e}"))?;
        if !out.status.success() {
            return Err(format!("losetup {}: {}", image.display(), String::from_utf8_lossy(&out.stderr).trim()));
        }
        let lo = Loop(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
        if opts.partitions {
            // partx -a fails harmlessly when the kernel already added them.
            let _ = Command::new("partx").arg("-a").arg(&lo.0).output();
            let _ = Command::new("udevadm").args(["settle", "-t", "5"]).output();
        }
        Ok(lo)
    }

    /// The device; the test fails with losetup's message if there is none.
    pub fn attach(serial: &Serial, image: &Path, opts: LoopOpts) -> Loop {
        Loop::try_attach(serial, image, opts).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        s(&self.0)
    }

    /// The node of partition `n`, e.g. `/dev/loop3p1`, waited for briefly
    /// (nodes appear a moment after the partition); the caller checks that
    /// it exists.
    pub fn part(&self, n: u32) -> PathBuf {
        let p = PathBuf::from(format!("{}p{n}", self.0.display()));
        wait_for(&p, 100);
        p
    }

    /// Every partition the kernel knows on the device, in order, their nodes
    /// waited for briefly.
    pub fn partitions(&self) -> Vec<String> {
        let name = self.as_str().trim_start_matches("/dev/");
        let sys = Path::new("/sys/block").join(name);
        let mut parts: Vec<String> = std::fs::read_dir(&sys)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(name) && sys.join(n).join("partition").exists())
                    .map(|n| format!("/dev/{n}"))
                    .collect()
            })
            .unwrap_or_default();
        parts.sort_by_key(|p| (p.len(), p.clone()));
        for p in &parts {
            wait_for(Path::new(p), 50);
        }
        parts
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("partx").arg("-d").arg(&self.0).output();
        let _ = Command::new("losetup").arg("-d").arg(&self.0).output();
    }
}

/// Whether `path` exists within `tries` × 20 ms.
fn wait_for(path: &Path, tries: u32) -> bool {
    for _ in 0..tries {
        if path.exists() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    path.exists()
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

/// An image file of `size` bytes, all zero (sparse).
pub fn zero_image(path: &Path, size: u64) {
    std::fs::File::create(path).and_then(|f| f.set_len(size)).expect("create image");
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}
