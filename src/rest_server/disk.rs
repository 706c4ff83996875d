//! The file system that holds the data folder, for the status page: its type,
//! its mount point, its device(s) and UUID where they can be known. The mount
//! table is read through [`crate::mount::mountinfo`], a multi-device btrfs's
//! members as the kernel lists them through [`crate::mount::btrfs`], and the
//! UUID probed from the device by the engine's prober; all once per file
//! system (the folder's `st_dev`), then kept.

use crate::mount::filesystem::{block_number, DevNo};
use crate::mount::mountinfo::{self, MountInfo};
use crate::mount::{btrfs, probe_glue};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The file system under the data folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub mount_point: PathBuf,
    pub fstype: String,
    /// The block devices it lives on (every member of a btrfs); empty for
    /// file systems without one (tmpfs, overlay, network file systems).
    pub devices: Vec<PathBuf>,
    /// The file system's UUID, when the device could be probed.
    pub uuid: Option<String>,
}

/// The mount `path` (canonical) lies in: the one with the longest mount point
/// above it, the last mounted (the one on top) among several on the same point.
fn holding<'t>(table: &'t [MountInfo], path: &Path) -> Option<&'t MountInfo> {
    table.iter().filter(|m| path.starts_with(&m.mount_point)).max_by_key(|m| m.mount_point.components().count())
}

/// The device node of a device number: `/dev/` and the name sysfs gives it.
fn device_path((major, minor): DevNo) -> Option<PathBuf> {
    let link = std::fs::read_link(format!("/sys/dev/block/{major}:{minor}")).ok()?;
    let path = Path::new("/dev").join(link.file_name()?);
    (block_number(&path) == Some((major, minor))).then_some(path)
}

/// The members of the mounted btrfs that has the device `source` among them.
fn btrfs_members(source: &Path) -> Vec<PathBuf> {
    let Some(number) = block_number(source) else { return Vec::new() };
    let Some(members) = btrfs::mounted_members().into_iter().find(|m| m.contains(&number)) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = members.into_iter().filter_map(device_path).collect();
    found.sort();
    found
}

/// The file system holding `path`, read from the mount table and probed.
pub fn find(path: &Path) -> Option<Mount> {
    let canonical = path.canonicalize().ok()?;
    let table = mountinfo::read().ok()?;
    let m = holding(&table, &canonical)?;
    let source = Path::new(&m.source);
    let block = block_number(source).is_some();
    let uuid = if block {
        probe_glue::tag(source, "UUID").filter(|u| !u.is_empty()).map(|u| String::from_utf8_lossy(&u).into_owned())
    } else {
        None
    };
    let mut devices = if m.fstype == "btrfs" { btrfs_members(source) } else { Vec::new() };
    if devices.is_empty() && block {
        devices.push(source.to_path_buf());
    }
    Some(Mount { mount_point: m.mount_point.clone(), fstype: m.fstype.clone(), devices, uuid })
}

/// [`find`]'s answer, kept for as long as the data folder's `st_dev` stays the same.
#[derive(Default)]
pub struct Cache {
    last: Mutex<Option<(u64, Option<Arc<Mount>>)>>,
}

impl Cache {
    /// The file system under `path` (blocking: the first time probes the device).
    pub fn get(&self, path: &Path) -> Option<Arc<Mount>> {
        let dev = std::fs::metadata(path).ok()?.dev();
        if let Some((d, m)) = &*self.last.lock().unwrap() {
            if *d == dev {
                return m.clone();
            }
        }
        let found = find(path).map(Arc::new);
        *self.last.lock().unwrap() = Some((dev, found.clone()));
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deepest_and_topmost_mount_holds_a_path() {
        let table = mountinfo::parse(
            b"1 0 8:1 / / rw - ext4 /dev/sda1 rw\n\
              2 1 8:17 / /perm rw - ext4 /dev/sdb1 rw\n\
              3 2 8:33 / /perm/rest-server rw - btrfs /dev/sdc1 rw\n\
              4 2 0:40 / /perm/rest-server rw - ext4 /dev/sdd1 rw\n\
              5 1 0:41 / /perm-other rw - tmpfs tmpfs rw\n",
        )
        .unwrap();
        let at = |p: &str| holding(&table, Path::new(p)).map(|m| m.id);
        assert_eq!(at("/perm/rest-server/restic"), Some(4), "the mount on top");
        assert_eq!(at("/perm/rest-server"), Some(4));
        assert_eq!(at("/perm/x"), Some(2));
        assert_eq!(at("/perm-other/x"), Some(5), "a path prefix is not a folder prefix");
        assert_eq!(at("/tmp"), Some(1));
    }

    #[test]
    fn the_running_system_has_a_mount_for_every_folder() {
        let m = find(&std::env::temp_dir()).expect("the temporary folder is on some file system");
        assert!(!m.fstype.is_empty());
        let cache = Cache::default();
        assert_eq!(cache.get(&std::env::temp_dir()).as_deref(), Some(&m));
    }
}
