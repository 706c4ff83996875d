//! One file system as the kernel holds it: the devices it lives on (several
//! for a btrfs over more than one disk) and where it is mounted. These are the
//! questions libmount's table code answers (`mnt_table_is_fs_mounted`,
//! `mnt_table_find_source`), and mount (`-a`, the type a device is mounted
//! as), umount (which mount an argument names) and the service wrapper (is
//! the disk mounted elsewhere, is that its mount on the target) all ask them
//! here.
//!
//! A mount (a line of mountinfo) is this file system when
//! 1. its device number (field 3, the superblock's `st_dev`) is that of one
//!    of the devices: any file system on one block device;
//! 2. its source names one of the devices, by path or by device number;
//! 3. its source is a loop device backed by one of the devices, an image file
//!    that mount attached;
//! 4. it is btrfs, whose device number is anonymous and whose source is
//!    whichever member the kernel chooses, and the kernel lists one of the
//!    devices among the members of that mounted file system
//!    (`/sys/fs/btrfs/FSID/devices/*/dev`, see [`btrfs::mounted_members`]).
//!
//! The last asks the kernel, not the disks: a copy of a disk (`dd`) carries
//! the same UUID without being mounted, and comparing UUIDs would mean
//! probing the device of every mount.
#![forbid(unsafe_code)]

use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use nix::mount::MsFlags;

use super::mountinfo::{self, MountInfo};
use super::options::MountOptions;
use super::source::{Resolver, Source};
use super::{btrfs, canonical_or_given, loopdev, probe_glue, MountSpec};

/// A device number as `(major, minor)`.
pub type DevNo = (u64, u64);

/// The number of the block device at `path` (links followed); None for
/// anything that is not a block device.
pub fn block_number(path: &Path) -> Option<DevNo> {
    let m = path.metadata().ok().filter(|m| m.file_type().is_block_device())?;
    Some((nix::sys::stat::major(m.rdev()), nix::sys::stat::minor(m.rdev())))
}

fn mount_number(m: &MountInfo) -> DevNo {
    (u64::from(m.major), u64::from(m.minor))
}

/// Whether file systems of type `fstype` may span several devices: only
/// btrfs, whose members share its `UUID` and differ in `UUID_SUB`.
pub fn may_span_devices(fstype: Option<&str>) -> bool {
    fstype == Some("btrfs")
}

/// A file system and the devices (or image files) it lives on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filesystem {
    /// The device to mount first, then the other members of a multi-device btrfs.
    pub devices: Vec<PathBuf>,
    /// `TYPE` as probed, when probed.
    pub fstype: Option<String>,
    /// The file system's `UUID` as probed (every btrfs member carries it).
    pub uuid: Option<Vec<u8>>,
}

impl Filesystem {
    /// The file system on `devices`, as given (nothing probed).
    pub fn on(devices: Vec<PathBuf>) -> Filesystem {
        Filesystem { devices, fstype: None, uuid: None }
    }

    /// The file system on `devices` (at least one), its type and UUID probed
    /// from the first.
    pub fn probe(devices: Vec<PathBuf>) -> Filesystem {
        let first = &devices[0];
        let fstype = probe_glue::probe_type(first).ok().flatten();
        let uuid = probe_glue::tag(first, "UUID").filter(|u| !u.is_empty());
        Filesystem { devices, fstype, uuid }
    }

    /// Several devices for a type that lives on one: the tag that found
    /// them is ambiguous.
    pub fn is_ambiguous(&self) -> bool {
        self.devices.len() > 1 && !may_span_devices(self.fstype.as_deref())
    }

    /// For btrfs, adds the other devices that carry its UUID (found by
    /// `resolver`): a path names one member, the file system needs all.
    pub fn add_members(&mut self, resolver: Resolver<'_>) -> io::Result<()> {
        let Some(uuid) = self.uuid.as_ref().filter(|_| may_span_devices(self.fstype.as_deref())) else {
            return Ok(());
        };
        for d in resolver("UUID", &String::from_utf8_lossy(uuid))? {
            if !self.devices.iter().any(|known| same_device(known, &d)) {
                self.devices.push(d);
            }
        }
        Ok(())
    }

    /// Tells the kernel about every device, a member of a multi-device
    /// btrfs (`BTRFS_IOC_SCAN_DEV` each; there is no udev to do it).
    pub fn register(&self) -> io::Result<()> {
        btrfs::register(&self.devices)
    }

    /// Whether the kernel knows every member of this btrfs
    /// (`BTRFS_IOC_DEVICES_READY`, which also registers the first device).
    pub fn is_complete(&self) -> io::Result<bool> {
        btrfs::devices_ready(&self.devices[0])
    }

    /// Whether the mount `m` is this file system (the rule in the module's
    /// description).
    pub fn is_mounted_as(&self, m: &MountInfo) -> bool {
        let ours: Vec<DevNo> = self.devices.iter().filter_map(|d| block_number(d)).collect();
        if ours.contains(&mount_number(m)) {
            return true;
        }
        let source = Path::new(&m.source);
        if self.devices.iter().any(|d| d == source || canonical_or_given(d) == source) {
            return true;
        }
        let source_number = block_number(source);
        let Some(number) = source_number else { return false };
        if ours.contains(&number) {
            return true;
        }
        let files: Vec<PathBuf> = self
            .devices
            .iter()
            .filter(|d| d.metadata().is_ok_and(|m| m.is_file()))
            .map(|d| canonical_or_given(d))
            .collect();
        if !files.is_empty() {
            if let Ok(Some(backing)) = loopdev::backing_file(source) {
                if files.contains(&canonical_or_given(&backing)) {
                    return true;
                }
            }
        }
        m.fstype == "btrfs"
            && !ours.is_empty()
            && btrfs::mounted_members()
                .iter()
                .any(|members| members.contains(&number) && ours.iter().any(|n| members.contains(n)))
    }

    /// The mounts of this file system, in the table's order (the most recent last).
    pub fn mounts<'t>(&self, table: &'t [MountInfo]) -> Vec<&'t MountInfo> {
        table.iter().filter(|m| self.is_mounted_as(m)).collect()
    }

    /// The block devices under the mount `m` of this file system: every
    /// device found, and the mount's own device (a loop device that mount
    /// attached for a file), unless btrfs gave it an anonymous number.
    pub fn device_numbers(&self, m: &MountInfo) -> Vec<DevNo> {
        let mut out: Vec<DevNo> = self.devices.iter().filter_map(|d| block_number(d)).collect();
        let own = mount_number(m);
        if m.major != 0 && !out.contains(&own) {
            out.push(own);
        }
        out
    }
}

/// The same device under two names.
fn same_device(a: &Path, b: &Path) -> bool {
    a == b || block_number(a).is_some_and(|r| Some(r) == block_number(b))
}

/// Whether the device of mount `m` has left the system (a pulled disk whose
/// mount stayed behind), as sysfs at `sys` shows it. Unknowable for btrfs,
/// whose device number is anonymous.
pub fn device_gone(sys: &Path, m: &MountInfo) -> bool {
    m.major != 0 && !sys.join(format!("dev/block/{}:{}", m.major, m.minor)).exists()
}

/// The mount that `umount ARG` means (libmount `mnt_context_find_umount_fs`):
/// the top mount on ARG as a mount point, else the most recent mount of the
/// file system ARG names: a device, an image file mounted through a loop
/// device, or a tag, looked up by `resolver` (every member of a multi-device
/// btrfs carries its UUID, and mountinfo names one of them).
pub fn mount_named<'t>(table: &'t [MountInfo], arg: &Source, resolver: Option<Resolver<'_>>) -> Option<&'t MountInfo> {
    if let Source::Path(path) = arg {
        if let Some(m) = mountinfo::find_by_mount_point(table, &canonical_or_given(path)) {
            return Some(m);
        }
    }
    let devices = arg.resolve(resolver).ok()?;
    Filesystem::on(devices).mounts(table).last().copied()
}

/// Whether `spec` is mounted already, as `mount -a` decides it (libmount
/// `mnt_table_is_fs_mounted`): a mount on the target that is the file system
/// of the devices the source resolves to, the filesystem of a bind source,
/// or the same name for a pseudo filesystem. A source that cannot be
/// resolved is not mounted.
pub fn is_mounted(spec: &MountSpec<'_>) -> bool {
    let Some(given) = spec.source.as_deref() else { return false };
    let target = canonical_or_given(&spec.target);
    let Ok(table) = mountinfo::read() else { return false };
    let here: Vec<&MountInfo> = table.iter().filter(|m| m.mount_point == target).collect();
    if here.is_empty() {
        return false;
    }
    let bind = MountOptions::parse(&spec.options).is_ok_and(|o| o.flags.contains(MsFlags::MS_BIND));
    if bind {
        let Ok(meta) = Path::new(given).metadata() else { return false };
        let dev = (nix::sys::stat::major(meta.dev()), nix::sys::stat::minor(meta.dev()));
        return here.iter().any(|m| mount_number(m) == dev);
    }
    if here.iter().any(|m| m.source == given) {
        return true;
    }
    let parsed = if spec.bare_uuid { Source::parse_or_bare_uuid(given) } else { Source::parse(given) };
    let Ok(devices) = parsed.resolve(spec.resolver) else { return false };
    let fs = Filesystem::on(devices.iter().map(|d| canonical_or_given(d)).collect());
    here.iter().any(|m| fs.is_mounted_as(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mount_whose_device_left_sysfs_is_gone() {
        let table = mountinfo::parse(
            b"90 27 7:3 / /mnt/a rw - ext4 /dev/loop3 rw\n91 27 0:55 / /mnt/b rw - btrfs /dev/sdb rw\n",
        )
        .unwrap();
        let sys = std::env::temp_dir().join(format!("krazybox-gone-{}", std::process::id()));
        std::fs::create_dir_all(sys.join("dev/block/7:3")).unwrap();
        assert!(!device_gone(&sys, &table[0]));
        assert!(!device_gone(&sys, &table[1]), "btrfs: anonymous device, cannot tell");
        std::fs::remove_dir(sys.join("dev/block/7:3")).unwrap();
        assert!(device_gone(&sys, &table[0]));
        assert!(!device_gone(&sys, &table[1]));
        std::fs::remove_dir_all(&sys).unwrap();
    }

    #[test]
    fn only_btrfs_spans_devices() {
        let mut fs = Filesystem::on(vec!["/dev/sdb".into(), "/dev/sdc".into()]);
        fs.fstype = Some("ext4".into());
        assert!(fs.is_ambiguous());
        fs.fstype = Some("btrfs".into());
        assert!(!fs.is_ambiguous());
        fs.devices.pop();
        fs.fstype = Some("ext4".into());
        assert!(!fs.is_ambiguous());
    }

    #[test]
    fn mounts_are_found_by_source_name() {
        // Neither path exists here: only rule 2 by name can match.
        let table = mountinfo::parse(
            b"90 27 7:3 / /mnt/a rw - ext4 /nonexistent/dev/a rw\n91 27 7:4 / /mnt/b rw - ext4 /nonexistent/dev/b rw\n\
              92 27 7:3 / /mnt/c rw - ext4 /nonexistent/dev/a rw\n",
        )
        .unwrap();
        let fs = Filesystem::on(vec!["/nonexistent/dev/a".into()]);
        let at: Vec<&Path> = fs.mounts(&table).iter().map(|m| m.mount_point.as_path()).collect();
        assert_eq!(at, [Path::new("/mnt/a"), Path::new("/mnt/c")]);
        let named = mount_named(&table, &Source::parse("/nonexistent/dev/a"), None).unwrap();
        assert_eq!(named.mount_point, Path::new("/mnt/c"), "the most recent mount");
        assert_eq!(mount_named(&table, &Source::parse("/mnt/b"), None).unwrap().id, 91);
        assert!(mount_named(&table, &Source::parse("UUID=x"), None).is_none(), "a tag needs a resolver");
        let resolver = |_: &str, _: &str| Ok(vec![PathBuf::from("/nonexistent/dev/b")]);
        assert_eq!(mount_named(&table, &Source::parse("UUID=x"), Some(&resolver)).unwrap().id, 91);
    }
}
