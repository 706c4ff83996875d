//! util-linux's words for each failure (libmount
//! `mnt_context_get_mount_excode`), and the hints krazybox adds where the
//! kernel's answer needs explaining.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::MsFlags;

use super::options::MountOptions;
use super::source::SourceError;
use super::{btrfs, kernel_filesystems, mountinfo, Category, Error, MountSpec};

/// Why a btrfs mount failed when members are missing: how many were found
/// and what to do. None when the kernel has them all.
pub(super) fn btrfs_missing_members_hint(device: &Path, devices: &[PathBuf], src: &str) -> Option<String> {
    if !matches!(btrfs::devices_ready(device), Ok(false)) {
        return None;
    }
    let found =
        if devices.is_empty() { std::slice::from_ref(&device.to_path_buf()).to_vec() } else { devices.to_vec() };
    let members = btrfs::describe_members(&found).map(|m| format!(" ({m})")).unwrap_or_default();
    Some(format!(
        "the btrfs filesystem on {src} is missing member devices{members}: \
         make all of them available (a UUID= source registers them) or mount with -o degraded"
    ))
}

/// An option string that cannot be used, as util-linux reports it: before
/// the target is canonicalized, and with the option string as libmount holds
/// it then (`ro` or `rw` first, the other words after).
pub(super) fn option_error(spec: &MountSpec<'_>) -> Error {
    let words: Vec<&str> = spec.options.split(',').filter(|w| !w.is_empty()).collect();
    let last_ro = words.iter().rev().find(|w| **w == "ro" || **w == "rw").is_some_and(|w| *w == "ro");
    let ro = (spec.read_only || last_ro) && !spec.read_write;
    let rest = words.iter().filter(|w| **w != "ro" && **w != "rw").copied();
    let shown: Vec<&str> = std::iter::once(if ro { "ro" } else { "rw" }).chain(rest).collect();
    let message = format!("failed to parse mount options '{}': Invalid argument", shown.join(","));
    Error::new(Category::Usage, spec.target.display().to_string(), message)
}

pub(super) fn source_error(e: SourceError, tgt: &str, nofail: bool) -> Error {
    let mut err = Error::new(Category::Usage, tgt, e.to_string());
    err.nofail = nofail && matches!(e, SourceError::NotFound(_));
    err
}

/// util-linux's message for a failed mount(2) (libmount
/// `mnt_context_get_mount_excode`), with a hint where this system differs.
pub(super) fn mount_error(
    errno: Errno,
    tgt: &str,
    target: &Path,
    src: &str,
    fstype: Option<&str>,
    opts: &MountOptions,
    applying_flags: bool,
) -> Error {
    let flags = opts.flags;
    let mut nofail = false;
    let message = match errno {
        Errno::EPERM => {
            if target.metadata().map(|m| m.is_dir()).unwrap_or(false) {
                "permission denied".to_string()
            } else {
                "mount point is not a directory".to_string()
            }
        }
        // The first mount listing the same source path (libmount
        // `get_already_mounted_source`), not one found by device number.
        Errno::EBUSY => match mountinfo::read().ok().and_then(|t| {
            t.iter().find(|m| Path::new(&m.source) == Path::new(src)).map(|m| m.mount_point.display().to_string())
        }) {
            Some(on) => format!("{src} already mounted on {on}"),
            None => format!("{src} already mounted or mount point busy"),
        },
        Errno::ENOENT => {
            if target.symlink_metadata().is_err() {
                "mount point does not exist".to_string()
            } else if target.metadata().is_err() {
                "mount point is a symbolic link to nowhere".to_string()
            } else if Path::new(src).metadata().is_err() {
                nofail = opts.nofail;
                format!("special device {src} does not exist")
            } else {
                format!("mount(2) system call failed: {}", errno.desc())
            }
        }
        Errno::ENOTDIR => {
            if !target.metadata().map(|m| m.is_dir()).unwrap_or(false) {
                "mount point is not a directory".to_string()
            } else {
                nofail = opts.nofail;
                format!("special device {src} does not exist (a path prefix is not a directory)")
            }
        }
        Errno::EINVAL if applying_flags => "not mount point or bad option".to_string(),
        Errno::EINVAL => format!(
            "wrong fs type, bad option, bad superblock on {src}, missing codepage or helper program, or other error"
        ),
        Errno::EMFILE => "mount table full".to_string(),
        Errno::EIO => format!("can't read superblock on {src}"),
        Errno::ENODEV => match fstype {
            Some(t) => format!("unknown filesystem type '{t}'"),
            None => "unknown filesystem type".to_string(),
        },
        Errno::ENOTBLK => {
            nofail = opts.nofail;
            match Path::new(src).metadata() {
                Err(_) => format!("{src} is not a block device, and stat(2) fails?"),
                Ok(m) if m.is_file() => format!("{src} is not a block device; try \"-o loop\""),
                Ok(_) => format!("{src} is not a block device"),
            }
        }
        Errno::ENXIO => {
            nofail = opts.nofail;
            format!("{src} is not a valid block device")
        }
        Errno::EACCES | Errno::EROFS => {
            if flags.contains(MsFlags::MS_RDONLY) {
                format!("cannot mount {src} read-only")
            } else if opts.read_only == Some(false) {
                format!("{src} is write-protected but explicit read-write mode requested")
            } else if flags.contains(MsFlags::MS_BIND) {
                format!("bind {src} failed")
            } else {
                format!("mount(2) system call failed: {}", errno.desc())
            }
        }
        Errno::ENOMEDIUM => {
            nofail = opts.nofail;
            format!("no medium found on {src}")
        }
        Errno::EBADMSG => format!("cannot mount; probably corrupted filesystem on {src}"),
        _ => format!("mount(2) system call failed: {}", errno.desc()),
    };
    let mut err = Error::new(Category::Failure, tgt, message);
    err.errno = Some(errno);
    err.nofail = nofail;
    if errno == Errno::ENODEV {
        let known = kernel_filesystems().unwrap_or_default().into_iter().any(|(n, _)| Some(n.as_str()) == fstype);
        if let Some(t) = fstype.filter(|_| !known) {
            err.hint = Some(format!(
                "the running kernel has no '{t}' driver (not in /proc/filesystems); \
                 gokrazy's default Raspberry Pi kernel has no btrfs, xfs or ntfs"
            ));
        }
    }
    err
}
