//! The service gokrazy supervises: find the backup disk, mount it, run
//! restic's rest-server on it, and leave the disk clean when it stops.
//!
//! Configuration comes from the environment (gokrazy's per-package
//! `Environment` / `env.txt`), every command-line argument belongs to
//! rest-server. Failures are sorted by what gokrazy's supervisor should do
//! with them: retry in a second (exit 1) or give up (exit 125, which stops
//! supervision) when only a configuration change can help.
//!
//! Only `child` needs `unsafe` (the child's signal mask); `forbid` here would
//! extend to it, so this file relies on the crate-wide `deny`.

mod child;
mod device;
mod perm;
pub mod watch;

use std::fmt;
use std::fs;
use std::os::fd::AsRawFd;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;

use crate::mount::filesystem::{self, Filesystem};
use crate::mount::source::Source;
use crate::mount::{self, mountinfo, Category, MountGuard, MountSpec};

use child::{Ended, Signals};
use watch::Watch;

/// The variable in rest-server's environment that says when the disk was
/// mounted, in seconds since the epoch (the native server shows it on `/status`).
pub const MOUNTED_AT_VAR: &str = "KRAZYBOX_MOUNTED_AT";

/// Where gokrazy installs the Go package `github.com/restic/rest-server/cmd/rest-server`.
pub const GOKRAZY_REST_SERVER: &str = "/user/rest-server";

/// How long to wait for the disk when `MNT_WAIT` is not set: USB disks show
/// up a few seconds after boot, and gokrazy restarts us anyway afterwards.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(30);

/// How long rest-server may take to stop after SIGTERM before it is killed,
/// leaving time to sync and unmount within gokrazy's 100 s grace.
pub const STOP_GRACE: Duration = Duration::from_secs(60);

/// How long rest-server may take to stop after SIGTERM when its disk is
/// gone: nothing it could still write would reach the disk.
pub const GONE_GRACE: Duration = Duration::from_secs(5);

/// What gokrazy's supervisor should do after a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Try again: the device is not there yet, busy, a member missing. Exit 1.
    Transient,
    /// Retrying cannot help; the message says what to change. Exit 125.
    Config,
}

/// A failure before or around rest-server, with the one line that explains it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
}

impl Error {
    pub fn transient(message: impl Into<String>) -> Error {
        Error { kind: Kind::Transient, message: message.into() }
    }

    pub fn config(message: impl Into<String>) -> Error {
        Error { kind: Kind::Config, message: message.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// The program to run, and the name it sees as `argv[0]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// A path, or a bare name looked up on `PATH`.
    pub path: PathBuf,
    /// `argv[0]` when it must differ from `path` (a multi-call applet).
    pub arg0: Option<String>,
}

/// The disk to mount before starting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountConfig {
    /// `MNT_SOURCE` as written.
    pub source_text: String,
    pub source: Source,
    /// `MNT_TARGET`, absolute.
    pub target: PathBuf,
    /// `MNT_FSTYPE`, else probed.
    pub fstype: Option<String>,
    /// `MNT_DATA`, as for `mount -o`.
    pub data: String,
}

/// Everything the environment says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `None` when no `MNT_*` variable is set: run without mounting.
    pub mount: Option<MountConfig>,
    /// `MNT_WAIT`: how long to wait for the device.
    pub wait: Duration,
    pub program: Program,
    /// `HOME` as the supervisor set it: gokrazy's says that a missing `/perm`
    /// file system will not come (see `perm`).
    pub home: Option<PathBuf>,
}

/// `path` made absolute against `cwd` with `.` and `..` removed lexically.
fn absolute(path: &Path, cwd: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in cwd.join(path).components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

/// The nearest folder of `path` that exists, and the words below it, taken
/// from the end (`Path::parent` drops one word, `..` included).
fn nearest_folder(path: &Path) -> (PathBuf, Vec<std::ffi::OsString>) {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    while !existing.is_dir() {
        match (existing.components().next_back(), existing.parent()) {
            (Some(last), Some(parent)) => {
                rest.push(last.as_os_str().to_os_string());
                existing = parent.to_path_buf();
            }
            _ => break,
        }
    }
    rest.reverse();
    (existing, rest)
}

/// Where `path` (absolute) lands once rest-server has created it: its nearest
/// existing folder with symlinks and `..` resolved by the kernel, then the
/// missing words, which become real folders, so their `..` is lexical.
pub fn resolve_as_created(path: &Path) -> PathBuf {
    let (existing, rest) = nearest_folder(path);
    let base = existing.canonicalize().unwrap_or(existing);
    absolute(&rest.iter().collect::<PathBuf>(), &base)
}

/// The mount id of the filesystem `dir` is on, from `/proc/self/fdinfo`
/// (proc(5), `mnt_id`): exact for bind mounts and btrfs subvolumes alike.
fn mount_id(dir: &Path) -> std::io::Result<u32> {
    let f = fs::File::open(dir)?;
    let info = fs::read_to_string(format!("/proc/self/fdinfo/{}", f.as_raw_fd()))?;
    info.lines()
        .find_map(|l| l.strip_prefix("mnt_id:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "no mnt_id in fdinfo"))
}

/// The check that keeps backups off the SD card: `--path` (absolute), once
/// created, lies inside the mount point `target`, and when `mounted`, its
/// nearest existing folder is on the filesystem mounted there (not on
/// another mount below it). rest-server creates a missing `--path`.
pub fn check_path(path: &Path, target: &Path, mounted: bool) -> Result<(), Error> {
    let outside = |why: &str| {
        Error::config(format!(
            "--path {} is outside the mounted disk {}{why}: point --path below MNT_TARGET",
            path.display(),
            target.display()
        ))
    };
    let resolved = resolve_as_created(path);
    let root = resolve_as_created(target);
    if !resolved.starts_with(&root) {
        return Err(outside(""));
    }
    if mounted {
        let (folder, _) = nearest_folder(&resolved);
        let ids = (mount_id(&folder), mount_id(&root));
        match ids {
            (Ok(a), Ok(b)) if a == b => {}
            (Ok(_), Ok(_)) => return Err(outside(&format!(" ({} is on another filesystem)", folder.display()))),
            (Err(e), _) | (_, Err(e)) => {
                return Err(Error::transient(format!("finding the filesystem of {}: {e}", folder.display())))
            }
        }
    }
    Ok(())
}

/// Mounts (when configured), runs rest-server with `args` until it exits or
/// a signal stops it, then syncs and unmounts. `path_arg` is the `--path`
/// rest-server will read from `args` (the caller knows its grammar), which
/// must lie on the disk. Returns the exit status for the service:
/// rest-server's own (128+N when killed by signal N), 0 after a stop by
/// SIGTERM or SIGINT.
pub fn run(config: &Config, args: &[String], path_arg: Option<&str>) -> Result<u8, Error> {
    // Block the stop signals first, so that a stop during the device wait or
    // the mount is seen and handled rather than killing us halfway.
    let mut signals = Signals::block().map_err(|e| Error::transient(format!("blocking signals: {e}")))?;
    let Some(mc) = &config.mount else {
        log::info!("no MNT_SOURCE: running {} without mounting", config.program.path.display());
        return match child::Running::spawn(&config.program, args, None)?.wait(&mut signals, &mut || None)? {
            Ended::Status(code) => Ok(code),
            Ended::DiskGone(what) => Err(Error::transient(what)),
        };
    };

    let Some(path_arg) = path_arg else {
        return Err(Error::config(format!(
            "MNT_SOURCE is set but rest-server has no --path (it would serve /tmp/restic, not the disk): add --path {}",
            mc.target.join("restic").display()
        )));
    };
    // rest-server resolves a relative --path against its working directory,
    // which it gets from us by path, looked up again after the mount (see below).
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let path = cwd.join(path_arg);
    let target = mc.target.canonicalize().unwrap_or_else(|_| absolute(&mc.target, &cwd));
    check_path(&path, &target, false)?;
    perm::check(&target, config.home.as_deref())?;
    prepare_target(&target)?;
    let target = target.canonicalize().unwrap_or(target);

    let Some(device) = device::wait_for(mc, config.wait, &mut signals)? else {
        log::info!("stopped while waiting for {}", mc.source_text);
        return Ok(0);
    };
    mount_disk(mc, &device, &target)?;
    // From here on the mount is ours: every way out unmounts it.
    let guard = MountGuard::new(&target);
    let mounted = verify_mounted(&device, &target)?;
    // Again now that the disk's own folders and symlinks are there.
    check_path(&path, &target, true)?;
    // A process's working directory is a folder, not a path: ours may be the
    // folder under the mount point. rest-server gets the path, so that
    // `--path restic` means what was checked, on the disk.
    let child_cwd = if cwd.is_dir() {
        cwd.clone()
    } else if Path::new(path_arg).is_absolute() {
        PathBuf::from("/")
    } else {
        return Err(Error::config(format!(
            "--path {path_arg} is relative to {}, which is not on the mounted disk: give --path as an absolute path",
            cwd.display()
        )));
    };

    // A stop that came while mounting: do not start rest-server at all.
    if signals.wait_stop(Duration::ZERO).map_err(|e| Error::transient(format!("reading signals: {e}")))? {
        log::info!("stopped before rest-server started");
        return Ok(0);
    }
    let watch = Watch::new(Path::new(watch::SYSFS), &device.device_numbers(&mounted));
    match watch.names() {
        names if names.is_empty() => {
            log::warn!("no device found under {}: a pulled disk goes unnoticed", target.display())
        }
        names => log::info!("watching {} (rest-server stops if it leaves)", names.join(", ")),
    }
    // The native server shows on its status page when the disk was mounted
    // (a moment ago). Set in our own environment, which the child inherits:
    // this process has no other thread to race with.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    std::env::set_var(MOUNTED_AT_VAR, now.to_string());
    let running = child::Running::spawn(&config.program, args, Some(&child_cwd))?;
    // Keep nothing of ours inside the mount.
    if let Err(e) = std::env::set_current_dir("/") {
        log::warn!("leaving the working directory: {e}");
    }
    let ended = running.wait(&mut signals, &mut || watch.gone());
    if let Ok(Ended::DiskGone(what)) = &ended {
        // No syncfs: there is no device left to write to. Detached, the dead
        // filesystem goes once nothing holds it; the mount point is free for
        // the disk when it comes back.
        match guard.detach() {
            Ok(()) => log::info!("detached {} (its disk is gone)", target.display()),
            Err(e) => log::error!("detaching {}: {}", target.display(), e.message),
        }
        return Err(Error::transient(format!("{what}: {} is gone; exiting to wait for it again", mc.source_text)));
    }
    let unmounted =
        guard.finish().map_err(|e| Error::transient(format!("unmounting {}: {}", target.display(), e.message)));
    let ended = ended?;
    unmounted?;
    match ended {
        Ended::Status(code) => Ok(code),
        Ended::DiskGone(what) => Err(Error::transient(what)),
    }
}

/// The mount point must be a directory; one level is created if missing.
/// A parent that is missing may be `/perm` not mounted yet under another
/// init than gokrazy's: worth a retry.
fn prepare_target(target: &Path) -> Result<(), Error> {
    match target.metadata() {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::config(format!("MNT_TARGET {} is not a directory", target.display()))),
        Err(_) => match std::fs::create_dir(target) {
            Ok(()) => {
                log::info!("created mount point {}", target.display());
                Ok(())
            }
            Err(e) => Err(Error::transient(format!(
                "MNT_TARGET {} does not exist and cannot be created ({e}): create it, under /perm",
                target.display()
            ))),
        },
    }
}

/// Mounts the device on `target`. Refuses a filesystem that is mounted
/// anywhere else (the SD card's `/perm` named by mistake, a disk in use), and
/// anything else already on `target`. The same filesystem left on `target`
/// by an earlier run (we were killed), or a mount whose device is gone, is
/// unmounted first, which the kernel allows only when nothing uses it: a
/// mount in use is never detached, we exit 1 and try again later.
fn mount_disk(mc: &MountConfig, device: &Filesystem, target: &Path) -> Result<(), Error> {
    let table = mountinfo::read().map_err(|e| Error::transient(format!("reading {}: {e}", mountinfo::MOUNTINFO)))?;
    if let Some(m) = device.mounts(&table).into_iter().find(|m| m.mount_point != target) {
        return Err(Error::config(format!(
            "{} ({}) is already mounted on {}: not serving it a second time; unmount it there or fix MNT_SOURCE",
            mc.source_text,
            m.source,
            m.mount_point.display()
        )));
    }
    if let Some(existing) = mountinfo::find_by_mount_point(&table, target) {
        let dead = filesystem::device_gone(Path::new(watch::SYSFS), existing);
        if !device.is_mounted_as(existing) && !dead {
            return Err(Error::config(format!(
                "{} already has {} ({}) mounted, not {}: unmount it or choose another MNT_TARGET",
                target.display(),
                existing.source,
                existing.fstype,
                mc.source_text
            )));
        }
        let what = if dead { "a disk that is gone" } else { mc.source_text.as_str() };
        match mount::umount(target, false, false) {
            Ok(()) => log::info!(
                "{what} was already mounted on {} (an earlier run) and unused: unmounted it to mount afresh",
                target.display()
            ),
            Err(e) if e.errno == Some(Errno::EBUSY) => {
                return Err(Error::transient(format!(
                    "{} is already mounted with {what} and in use{}: leaving it alone until that ends",
                    target.display(),
                    users(target)
                )))
            }
            Err(e) => return Err(Error::transient(format!("unmounting {}: {}", target.display(), e.message))),
        }
    }
    let source = device.devices[0].display().to_string();
    let fstype = mc.fstype.clone().or_else(|| device.fstype.clone());
    let mut spec = MountSpec::new(source, target).options(mc.data.clone()).prober(mount::probe_glue::prober());
    spec.fstype = fstype;
    match mount::mount(&spec) {
        Ok(m) => {
            let what = m.fstype.as_deref().unwrap_or("?");
            let ro = if m.forced_read_only { " read-only (device is write-protected)" } else { "" };
            log::info!("mounted {} ({what}) on {}{ro}", m.source.display(), target.display());
            Ok(())
        }
        Err(e) => Err(classify_mount_error(&e, mc)),
    }
}

/// Which mount failures only a configuration change can fix.
fn classify_mount_error(e: &mount::Error, mc: &MountConfig) -> Error {
    let mut line = format!("mount {} on {}: {}", mc.source_text, mc.target.display(), e.message);
    if let Some(h) = &e.hint {
        line.push_str(" (");
        line.push_str(h);
        line.push(')');
    }
    match (e.category, e.errno) {
        (Category::Usage, _) => Error::config(format!("{line}: check MNT_DATA")),
        (_, Some(Errno::ENODEV)) => {
            Error::config(format!("{line}: use a kernel with this filesystem or fix MNT_FSTYPE"))
        }
        (_, Some(Errno::ENOTDIR)) | (_, Some(Errno::ENOTBLK)) => Error::config(format!("{line}: check MNT_SOURCE")),
        _ => Error::transient(line),
    }
}

/// After mounting: the target must now be a mount point of that very
/// filesystem (never let rest-server write to the directory underneath).
fn verify_mounted(device: &Filesystem, target: &Path) -> Result<mountinfo::MountInfo, Error> {
    match mountinfo::mount_at(target) {
        Ok(Some(m)) if device.is_mounted_as(&m) => Ok(m),
        Ok(Some(m)) => Err(Error::transient(format!(
            "{} shows {} ({}) on top, not the disk: not starting rest-server",
            target.display(),
            m.source,
            m.fstype
        ))),
        Ok(None) => Err(Error::transient(format!("{} is not a mount point after mounting", target.display()))),
        Err(e) => Err(Error::transient(format!("reading {}: {e}", mountinfo::MOUNTINFO))),
    }
}

/// Who holds something inside `target` open, as ` (pid 12 rest-server, ...)`,
/// from `/proc/*/{cwd,root,fd}`; empty when nobody is found (a mount below
/// it, a loop device backed by a file on it).
fn users(target: &Path) -> String {
    let inside = |link: PathBuf| fs::read_link(link).is_ok_and(|to| to.starts_with(target));
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().filter(|n| n.bytes().all(|b| b.is_ascii_digit()) && *n != me) else {
            continue;
        };
        let dir = entry.path();
        let holds = inside(dir.join("cwd"))
            || inside(dir.join("root"))
            || fs::read_dir(dir.join("fd")).into_iter().flatten().flatten().any(|fd| inside(fd.path()));
        if holds {
            let comm = fs::read_to_string(dir.join("comm")).unwrap_or_default();
            found.push(format!("pid {pid} {}", comm.trim()));
        }
    }
    match found.len() {
        0 => String::new(),
        n if n > 3 => format!(" (by {} and {} more)", found[..3].join(", "), n - 3),
        _ => format!(" (by {})", found.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_judged_as_created() {
        assert_eq!(absolute(Path::new("../x/./y"), Path::new("/perm/home")), Path::new("/perm/x/y"));
        assert!(check_path(Path::new("/perm/disk/restic"), Path::new("/perm/disk"), false).is_ok());
        assert!(check_path(Path::new("/perm/disk"), Path::new("/perm/disk"), false).is_ok());
        let e = check_path(Path::new("/perm/diskette"), Path::new("/perm/disk"), false).unwrap_err();
        assert_eq!(e.kind, Kind::Config);
        // Missing folders are created, then their `..` is the folder above.
        let tmp = std::env::temp_dir().canonicalize().unwrap();
        assert_eq!(resolve_as_created(&tmp.join("no-such/../x")), tmp.join("x"));
        assert_eq!(resolve_as_created(&tmp.join("no-such/a/../../..")), tmp.parent().unwrap());
        assert_eq!(nearest_folder(&tmp.join("no/such")), (tmp.clone(), vec!["no".into(), "such".into()]));
        // /proc is a mount of its own; a folder in it is on that mount.
        assert_ne!(mount_id(Path::new("/")).unwrap(), mount_id(Path::new("/proc")).unwrap());
        assert_eq!(mount_id(Path::new("/proc")).unwrap(), mount_id(Path::new("/proc/self")).unwrap());
    }
}
