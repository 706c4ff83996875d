//! Mounting and unmounting with util-linux 2.38 mount(8)/umount(8) semantics,
//! on mount(2) and umount2(2) directly (no libmount). Linux only.
//!
//! [`mount`] resolves the source (a path, a tag through a caller-supplied
//! resolver, a loop device for a regular file), finds the type (given, probed
//! by a caller-supplied prober, or tried from /proc/filesystems), retries
//! read-only on a write-protected source, and makes the extra mount(2) calls
//! that propagation changes and `bind,ro` need. Its errors carry util-linux's
//! messages and the exit status class mount(8) would use.
//!
//! The files follow libmount's stages: `options` (the option table),
//! `source` (paths and tags), `mounting` (the mount(2) calls, in order),
//! `loop_setup` (a loop device for an image file), `filesystem` (the devices
//! of a file system and where it is mounted), `messages` (util-linux's words
//! for each failure), `unmounting` and `guard` (a mount or loop device that
//! goes away with its owner); `mountinfo`, `fstab`, `loopdev` and `btrfs` are
//! the kernel's and the system's tables and ioctls.
//!
//! Only `loopdev` and `btrfs` issue ioctls and allow `unsafe`; `forbid` here
//! would extend to them, so this file relies on the crate-wide `deny`.

pub mod btrfs;
pub mod filesystem;
pub mod fstab;
mod guard;
mod loop_setup;
pub mod loopdev;
mod messages;
pub mod mountinfo;
mod mounting;
pub mod options;
pub mod probe_glue;
pub mod source;
mod unmounting;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::MsFlags;

use source::Resolver;

pub use filesystem::is_mounted;
pub use guard::{LoopGuard, MountGuard, Unmounted};
pub use mounting::mount;
pub use unmounting::{syncfs, umount};

/// Finds the filesystem type on a device (`Ok(None)`: nothing recognised).
pub type Prober<'a> = &'a dyn Fn(&Path) -> io::Result<Option<String>>;

/// The line mount(8) prints after any failed mount(2) call.
pub const DMESG_HINT: &str = "dmesg(1) may have more information after failed mount system call.";

/// The warning mount(8) prints after falling back to a read-only mount.
pub const READ_ONLY_WARNING: &str = "WARNING: source write-protected, mounted read-only.";

/// A mount request: what mount(8) gets from its command line.
#[derive(Clone)]
pub struct MountSpec<'a> {
    /// Device, file, directory (bind/move) or tag; `None` for a remount or a
    /// propagation change, which need only the target.
    pub source: Option<String>,
    pub target: PathBuf,
    /// `-t`: one type, `a,b` tried in order (`auto` in the list probes), a
    /// `noa,b` pattern excluding types, or `None`/`auto` to probe.
    pub fstype: Option<String>,
    /// `-o`.
    pub options: String,
    /// `-r`: same as `ro`.
    pub read_only: bool,
    /// `-w`: same as `rw`, and no read-only fallback.
    pub read_write: bool,
    /// Accept a bare UUID as source (see [`Source::parse_or_bare_uuid`]).
    pub bare_uuid: bool,
    pub resolver: Option<Resolver<'a>>,
    pub prober: Option<Prober<'a>>,
}

impl fmt::Debug for MountSpec<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MountSpec")
            .field("source", &self.source)
            .field("target", &self.target)
            .field("fstype", &self.fstype)
            .field("options", &self.options)
            .field("read_only", &self.read_only)
            .field("read_write", &self.read_write)
            .finish_non_exhaustive()
    }
}

impl<'a> MountSpec<'a> {
    pub fn new(source: impl Into<String>, target: impl Into<PathBuf>) -> MountSpec<'a> {
        MountSpec { source: Some(source.into()), ..MountSpec::target_only(target) }
    }

    /// A request without source: `remount` or propagation options.
    pub fn target_only(target: impl Into<PathBuf>) -> MountSpec<'a> {
        MountSpec {
            source: None,
            target: target.into(),
            fstype: None,
            options: String::new(),
            read_only: false,
            read_write: false,
            bare_uuid: false,
            resolver: None,
            prober: None,
        }
    }

    pub fn fstype(mut self, fstype: impl Into<String>) -> Self {
        self.fstype = Some(fstype.into());
        self
    }

    pub fn options(mut self, options: impl Into<String>) -> Self {
        self.options = options.into();
        self
    }

    pub fn resolver(mut self, resolver: Resolver<'a>) -> Self {
        self.resolver = Some(resolver);
        self
    }

    pub fn prober(mut self, prober: Prober<'a>) -> Self {
        self.prober = Some(prober);
        self
    }
}

/// What was mounted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mounted {
    /// The source given to mount(2): the device (a loop device for a file).
    pub source: PathBuf,
    pub target: PathBuf,
    /// The type that worked (`None` for bind, move, propagation).
    pub fstype: Option<String>,
    /// Flags of the main mount(2) call, `MS_RDONLY` included when forced.
    pub flags: MsFlags,
    /// The loop device set up for a regular file; it has autoclear, so it
    /// goes away with the unmount.
    pub loop_device: Option<PathBuf>,
    /// Mounted read-only because the source refused writing: mount(8) then
    /// prints [`READ_ONLY_WARNING`].
    pub forced_read_only: bool,
    /// Members of a multi-device btrfs registered before mounting.
    pub registered: Vec<PathBuf>,
}

impl Mounted {
    /// The warning mount(8) prints after this mount, if any.
    pub fn warning(&self) -> Option<&'static str> {
        self.forced_read_only.then_some(READ_ONLY_WARNING)
    }

    fn plain(source: PathBuf, target: PathBuf, flags: MsFlags) -> Mounted {
        Mounted {
            source,
            target,
            fstype: None,
            flags,
            loop_device: None,
            forced_read_only: false,
            registered: Vec::new(),
        }
    }
}

/// What kind of failure, as util-linux classes them for mount(8)'s and
/// umount(8)'s exit statuses (`MNT_EX_*`; the applets map them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    /// Bad invocation, unknown tag, bad options.
    Usage,
    /// Out of memory and the like.
    System,
    /// mount(2)/umount(2) or loop setup failed.
    Failure,
}

/// A failed mount or unmount, worded as util-linux words it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub category: Category,
    /// What the message is about: the target, else the source.
    pub spec: String,
    /// util-linux's message, without the final period.
    pub message: String,
    /// The errno of the failed system call, when one failed.
    pub errno: Option<Errno>,
    /// A further explanation (printed on its own line).
    pub hint: Option<String>,
    /// `nofail` was given and util-linux would report success.
    pub nofail: bool,
}

impl Error {
    fn new(category: Category, spec: impl Into<String>, message: impl Into<String>) -> Error {
        Error { category, spec: spec.into(), message: message.into(), errno: None, hint: None, nofail: false }
    }

    /// mount(8) adds [`DMESG_HINT`] when the system call itself failed.
    pub fn syscall_failed(&self) -> bool {
        self.errno.is_some()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}.", self.spec, self.message)
    }
}

impl std::error::Error for Error {}

/// Types in /proc/filesystems, each with whether it is `nodev` (needs no device).
pub fn kernel_filesystems() -> io::Result<Vec<(String, bool)>> {
    let text = std::fs::read_to_string("/proc/filesystems")?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let nodev = l.starts_with("nodev");
            let name = l.trim_start_matches("nodev").trim();
            (!name.is_empty()).then(|| (name.to_string(), nodev))
        })
        .collect())
}

fn nodev_filesystems() -> Vec<String> {
    kernel_filesystems().unwrap_or_default().into_iter().filter(|(_, nodev)| *nodev).map(|(n, _)| n).collect()
}

/// The device-backed types of /proc/filesystems, in its order, filtered by a
/// `-t` pattern: `""` keeps all, `noa,b` drops `a` and `b` (mount(8) `-t`).
fn kernel_filesystems_matching(pattern: &str) -> Vec<String> {
    let excluded: Vec<&str> = match pattern.strip_prefix("no") {
        Some(rest) => rest.split(',').map(|t| t.strip_prefix("no").unwrap_or(t)).collect(),
        None => Vec::new(),
    };
    kernel_filesystems()
        .unwrap_or_default()
        .into_iter()
        .filter(|(name, nodev)| !nodev && !excluded.contains(&name.as_str()))
        .map(|(n, _)| n)
        .collect()
}

pub(crate) fn canonical_or_given(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_as_util_linux_words_them() {
        let e = Error::new(Category::Failure, "/mnt", "mount point does not exist");
        assert_eq!(e.to_string(), "/mnt: mount point does not exist.");
        assert!(!e.syscall_failed());
    }

    #[test]
    fn type_patterns() {
        let all = kernel_filesystems_matching("");
        let nodev = nodev_filesystems();
        assert!(!all.is_empty());
        assert!(all.iter().all(|t| !nodev.contains(t)), "nodev types are never tried");
        let first = all[0].clone();
        let without = kernel_filesystems_matching(&format!("no{first},nosuchtype"));
        assert_eq!(without, all[1..]);
    }
}
