//! The mount point's surroundings: gokrazy's `/perm`, and a file system the
//! mount point cannot be made on.
//!
//! gokrazy's init mounts the SD card's fourth partition on `/perm` before it
//! starts any service, trying ext4, vfat and bcachefs in turn; when that fails
//! (`gok overwrite --full` leaves the partition unformatted) it logs and goes
//! on, and `/perm` stays a folder of the read-only root (squashfs). A mount
//! point under it can then never be made: retrying every second would go on
//! forever, so this is a configuration to fix (exit 125), said in one line.
#![forbid(unsafe_code)]

use std::io;
use std::path::{Path, PathBuf};

use nix::sys::statvfs::{statvfs, FsFlags};

use super::{mount_id, nearest_folder, Error};

/// Where gokrazy mounts its persistent partition.
pub const PERM: &str = "/perm";

/// What the wrapper sees around `MNT_TARGET` before it makes or uses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Surroundings {
    /// `MNT_TARGET` exists already (then only mounting on it is needed).
    pub target_exists: bool,
    /// The nearest existing folder above a missing target, and whether its
    /// file system is mounted read-only (`statvfs` `ST_RDONLY`).
    pub nearest: PathBuf,
    pub nearest_read_only: bool,
    /// `/perm` is a mount point of its own (`None`: could not tell).
    pub perm_mounted: Option<bool>,
    /// gokrazy's supervisor started this process (see [`started_by_gokrazy`]).
    pub gokrazy: bool,
}

/// Whether `HOME` is the one gokrazy's supervisor gives every service:
/// `/perm/home/<name>`, or `/perm/<name>` on installations that have that
/// folder. It sets it on every start, after the package's `Environment`, and
/// the last value wins; nothing else it sets is as dependable (`PATH` and
/// `USER` only when unset, `GOKRAZY_FIRST_START` on the first start only).
pub fn started_by_gokrazy(home: Option<&Path>) -> bool {
    let Some(rest) = home.and_then(|h| h.strip_prefix(PERM).ok()) else { return false };
    let words: Vec<_> = rest.components().collect();
    match words.as_slice() {
        [std::path::Component::Normal(_)] => true,
        [std::path::Component::Normal(home), std::path::Component::Normal(_)] => *home == "home",
        _ => false,
    }
}

/// The decision: `Err` (a configuration error, exit 125) when the mount
/// point cannot be had without a change by hand. `target` is absolute.
pub fn judge(target: &Path, s: &Surroundings) -> Result<(), Error> {
    let under_perm = target.starts_with(PERM) && target != Path::new(PERM);
    let perm_unmounted = s.perm_mounted == Some(false);
    let cannot_create = !s.target_exists && s.nearest_read_only;
    if under_perm && perm_unmounted && (s.gokrazy || cannot_create) {
        let why = if cannot_create {
            format!("nothing is mounted on {PERM} and {} is read-only", s.nearest.display())
        } else {
            format!("nothing is mounted on {PERM}")
        };
        return Err(Error::config(format!(
            "MNT_TARGET {} cannot be made: {why} (its partition has no file system?): format the {PERM} partition (gokrazy's mkfs package, or mkfs.ext4 on the SD card's fourth partition) or choose another MNT_TARGET",
            target.display()
        )));
    }
    if cannot_create && under_perm && s.perm_mounted == Some(true) {
        return Err(Error::config(format!(
            "MNT_TARGET {} cannot be made: {PERM} is mounted read-only (file system errors?): check the {PERM} partition with fsck, or choose another MNT_TARGET",
            target.display()
        )));
    }
    if cannot_create {
        return Err(Error::config(format!(
            "MNT_TARGET {} cannot be made: {} is on a read-only file system: choose an MNT_TARGET on a writable one (under {PERM} on gokrazy)",
            target.display(),
            s.nearest.display()
        )));
    }
    Ok(())
}

/// Looks at the system around `target` (absolute); `home` is `HOME` as the
/// supervisor set it.
pub fn look(target: &Path, home: Option<&Path>) -> Surroundings {
    let target_exists = target.symlink_metadata().is_ok();
    let (nearest, _) = nearest_folder(target);
    let nearest_read_only = !target_exists && statvfs(&nearest).is_ok_and(|v| v.flags().contains(FsFlags::ST_RDONLY));
    Surroundings {
        target_exists,
        nearest,
        nearest_read_only,
        perm_mounted: is_mount_point(Path::new(PERM)),
        gokrazy: started_by_gokrazy(home),
    }
}

/// Whether `dir` is a mount point: its mount differs from its parent's
/// (mount ids, so a bind mount of the same file system counts). A missing
/// `dir` is not one; `None` when it cannot be told.
fn is_mount_point(dir: &Path) -> Option<bool> {
    let parent = dir.parent()?;
    match (mount_id(dir), mount_id(parent)) {
        (Ok(a), Ok(b)) => Some(a != b),
        (Err(e), _) if e.kind() == io::ErrorKind::NotFound => Some(false),
        _ => None,
    }
}

/// [`judge`] of what [`look`] sees.
pub fn check(target: &Path, home: Option<&Path>) -> Result<(), Error> {
    judge(target, &look(target, home))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::restic_rest_server::Kind;

    fn seen(
        target_exists: bool,
        nearest: &str,
        read_only: bool,
        perm_mounted: Option<bool>,
        gokrazy: bool,
    ) -> Surroundings {
        Surroundings { target_exists, nearest: nearest.into(), nearest_read_only: read_only, perm_mounted, gokrazy }
    }

    fn verdict(target: &str, s: Surroundings) -> Option<String> {
        match judge(Path::new(target), &s) {
            Ok(()) => None,
            Err(e) => {
                assert_eq!(e.kind, Kind::Config, "{e}");
                assert!(!e.message.contains('\n'));
                Some(e.message)
            }
        }
    }

    #[test]
    fn an_unformatted_perm_under_gokrazy() {
        let t = "/perm/rest-server";
        // gokrazy's read-only root, /perm a folder of it.
        let m = verdict(t, seen(false, "/perm", true, Some(false), true)).unwrap();
        assert!(m.contains("nothing is mounted on /perm and /perm is read-only"), "{m}");
        assert!(m.contains("format the /perm partition") && m.contains("mkfs.ext4") && m.contains("MNT_TARGET"), "{m}");
        // The same read-only root seen by any other supervisor.
        assert!(verdict(t, seen(false, "/perm", true, Some(false), false)).unwrap().contains("format the /perm"));
        // A writable root (an initramfs), /perm not mounted: only gokrazy says /perm must be.
        let m = verdict(t, seen(false, "/perm", false, Some(false), true)).unwrap();
        assert!(m.contains("nothing is mounted on /perm (") && m.contains("format the /perm"), "{m}");
        assert_eq!(verdict(t, seen(false, "/perm", false, Some(false), false)), None);
        // Even a folder left there earlier: it is not on the partition.
        assert!(verdict(t, seen(true, "/perm/rest-server", false, Some(false), true)).is_some());
    }

    #[test]
    fn a_mounted_perm_is_used() {
        for gokrazy in [true, false] {
            assert_eq!(verdict("/perm/rest-server", seen(false, "/perm", false, Some(true), gokrazy)), None);
            assert_eq!(verdict("/perm/rest-server", seen(true, "/perm/rest-server", false, Some(true), gokrazy)), None);
            // Could not tell: let the mount point's creation speak.
            assert_eq!(verdict("/perm/rest-server", seen(false, "/perm", false, None, gokrazy)), None);
        }
        // /perm remounted read-only (ext4 errors=remount-ro).
        let m = verdict("/perm/rest-server", seen(false, "/perm", true, Some(true), true)).unwrap();
        assert!(m.contains("/perm is mounted read-only") && m.contains("fsck"), "{m}");
        // Whether /perm is a mount could not be told: only the read-only parent is sure.
        let m = verdict("/perm/rest-server", seen(false, "/perm", true, None, true)).unwrap();
        assert!(m.contains("/perm is on a read-only file system"), "{m}");
    }

    #[test]
    fn a_read_only_parent_elsewhere() {
        let m = verdict("/mnt/disk", seen(false, "/mnt", true, Some(true), true)).unwrap();
        assert!(m.contains("/mnt is on a read-only file system") && m.contains("choose an MNT_TARGET"), "{m}");
        // An existing mount point on a read-only file system takes a mount.
        assert_eq!(verdict("/mnt/disk", seen(true, "/mnt/disk", true, Some(false), true)), None);
        // /perm does not matter to a target outside it.
        assert_eq!(verdict("/mnt/disk", seen(false, "/mnt", false, Some(false), true)), None);
        assert_eq!(verdict("/perm", seen(true, "/perm", true, Some(false), true)), None);
        assert_eq!(verdict("/permanent/x", seen(false, "/permanent", false, Some(false), true)), None);
    }

    #[test]
    fn gokrazy_is_told_by_home() {
        let g = |h: &str| started_by_gokrazy(Some(Path::new(h)));
        assert!(g("/perm/home/restic-rest-server") && g("/perm/restic-rest-server"));
        assert!(!g("/") && !g("/root") && !g("/perm") && !g("/perm/a/b") && !g("/permx/y"));
        assert!(!g("/perm/home/x/../y") && !g("perm/home/x"));
        assert!(!started_by_gokrazy(None));
    }

    #[test]
    fn looks_at_the_real_system() {
        let tmp = std::env::temp_dir().canonicalize().unwrap();
        let s = look(&tmp.join("no-such-folder/x"), None);
        assert!(!s.target_exists && s.nearest == tmp && !s.nearest_read_only && !s.gokrazy);
        // /proc is a mount point, /proc/self is not; a missing folder is not one.
        assert_eq!(is_mount_point(Path::new("/proc")), Some(true));
        assert_eq!(is_mount_point(Path::new("/proc/self")), Some(false));
        assert_eq!(is_mount_point(&tmp.join("no-such-folder")), Some(false));
        assert!(look(Path::new("/"), None).target_exists);
    }
}
