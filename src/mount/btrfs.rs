//! Registering the members of a multi-device btrfs with the kernel, through
//! the ioctls on `/dev/btrfs-control` (btrfs(5) "CONTROL DEVICE", ioctl_btrfs).
//!
//! Without udev nothing tells the kernel which devices belong to a btrfs
//! filesystem, so mounting one member fails ("devid N ... is missing") until
//! every member has been scanned.
#![allow(unsafe_code)]

use byteorder::{ByteOrder, LittleEndian};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The btrfs control device.
pub const BTRFS_CONTROL: &str = "/dev/btrfs-control";

const BTRFS_PATH_NAME_MAX: usize = 4087;

/// `struct btrfs_ioctl_vol_args` of linux/btrfs.h.
#[repr(C)]
pub struct VolArgs {
    pub fd: i64,
    pub name: [u8; BTRFS_PATH_NAME_MAX + 1],
}

const _: () = assert!(std::mem::size_of::<VolArgs>() == 4096);

impl VolArgs {
    /// Arguments naming `device`; an empty path gives an empty name.
    fn for_path(device: &Path) -> io::Result<Box<VolArgs>> {
        let bytes = device.as_os_str().as_bytes();
        if bytes.len() > BTRFS_PATH_NAME_MAX {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{}: name too long", device.display())));
        }
        let mut args = Box::new(VolArgs { fd: 0, name: [0; BTRFS_PATH_NAME_MAX + 1] });
        args.name[..bytes.len()].copy_from_slice(bytes);
        Ok(args)
    }
}

mod sys {
    use super::VolArgs;
    // _IOW(0x94, 4, ...) = 0x50009404, _IOR(0x94, 39, ...) = 0x90009427, _IOW(0x94, 5, ...) = 0x50009405.
    nix::ioctl_write_ptr!(scan_dev, 0x94, 4, VolArgs);
    nix::ioctl_write_ptr!(forget_dev, 0x94, 5, VolArgs);
    nix::ioctl_read!(devices_ready, 0x94, 39, VolArgs);
}

fn control() -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(BTRFS_CONTROL)
        .map_err(|e| io::Error::new(e.kind(), format!("{BTRFS_CONTROL}: {e} (is btrfs in the kernel?)")))
}

fn context(e: nix::Error, what: &str, device: &Path) -> io::Error {
    io::Error::new(io::Error::from(e).kind(), format!("{what} {}: {e}", device.display()))
}

/// `BTRFS_IOC_SCAN_DEV`: tells the kernel that `device` is a btrfs member.
pub fn scan_device(device: &Path) -> io::Result<()> {
    let ctl = control()?;
    let args = VolArgs::for_path(device)?;
    // SAFETY: `args` is a live, initialised `struct btrfs_ioctl_vol_args`; the kernel reads it.
    unsafe { sys::scan_dev(ctl.as_raw_fd(), &*args) }.map_err(|e| context(e, "registering btrfs device", device))?;
    Ok(())
}

/// Registers every device of a list (`BTRFS_IOC_SCAN_DEV` on each).
pub fn register(devices: &[PathBuf]) -> io::Result<()> {
    devices.iter().try_for_each(|d| scan_device(d))
}

/// `BTRFS_IOC_DEVICES_READY`: true when every member of the filesystem on
/// `device` is known to the kernel (the call also registers `device`).
pub fn devices_ready(device: &Path) -> io::Result<bool> {
    let ctl = control()?;
    let mut args = VolArgs::for_path(device)?;
    // SAFETY: `args` is a live, writable `struct btrfs_ioctl_vol_args`; the kernel reads the name.
    let missing = unsafe { sys::devices_ready(ctl.as_raw_fd(), &mut *args) }
        .map_err(|e| context(e, "checking btrfs devices of", device))?;
    Ok(missing == 0)
}

/// `BTRFS_IOC_FORGET_DEV` (Linux 5.0): unregisters `device`, or with `None`
/// every registered device that is not part of a mounted filesystem.
pub fn forget(device: Option<&Path>) -> io::Result<()> {
    let ctl = control()?;
    let path = device.unwrap_or(Path::new(""));
    let args = VolArgs::for_path(path)?;
    // SAFETY: `args` is a live, initialised `struct btrfs_ioctl_vol_args`; the kernel reads it.
    unsafe { sys::forget_dev(ctl.as_raw_fd(), &*args) }.map_err(|e| context(e, "forgetting btrfs device", path))?;
    Ok(())
}

/// The members of each mounted btrfs, as the kernel lists them: the device
/// numbers in `/sys/fs/btrfs/FSID/devices/*/dev` (a directory the kernel
/// makes when it mounts the file system, with a link to each member's block
/// device). mountinfo shows one member as the source, not necessarily the
/// one a caller knows.
pub fn mounted_members() -> Vec<Vec<(u64, u64)>> {
    let Ok(filesystems) = std::fs::read_dir("/sys/fs/btrfs") else { return Vec::new() };
    let number = |dev: &Path| -> Option<(u64, u64)> {
        let text = std::fs::read_to_string(dev.join("dev")).ok()?;
        let (major, minor) = text.trim().split_once(':')?;
        Some((major.parse().ok()?, minor.parse().ok()?))
    };
    filesystems
        .flatten()
        .filter_map(|fs| std::fs::read_dir(fs.path().join("devices")).ok())
        .map(|devices| devices.flatten().filter_map(|d| number(&d.path())).collect())
        .collect()
}

/// Whether the kernel can mount btrfs at all: the control device and the
/// type in /proc/filesystems.
pub fn in_kernel() -> bool {
    Path::new(BTRFS_CONTROL).exists()
        && super::kernel_filesystems().unwrap_or_default().iter().any(|(n, _)| n == "btrfs")
}

/// Where the primary superblock lies, and the fields read from it (btrfs(5),
/// "struct btrfs_super_block"): the filesystem's device count, and this
/// device's id, the first field of its embedded `btrfs_dev_item`.
const SUPERBLOCK: u64 = 64 * 1024;
const SB_MAGIC: usize = 0x40;
const SB_NUM_DEVICES: usize = 0x88;
const SB_DEVID: usize = 0xc9;
const MAGIC: &[u8; 8] = b"_BHRfS_M";

/// A member's id and the number of devices its filesystem has, from its superblock.
pub fn member(device: &Path) -> io::Result<(u64, u64)> {
    use std::os::unix::fs::FileExt;
    let mut sb = [0u8; SB_DEVID + 8];
    File::open(device)?.read_exact_at(&mut sb, SUPERBLOCK)?;
    if &sb[SB_MAGIC..SB_MAGIC + 8] != MAGIC {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{}: no btrfs superblock", device.display())));
    }
    let word = |at: usize| LittleEndian::read_u64(&sb[at..at + 8]);
    Ok((word(SB_DEVID), word(SB_NUM_DEVICES)))
}

/// Which members of a multi-device btrfs are at hand and which are not, from
/// the superblocks of `found`: `found 1 of 2 devices (devid 2 on /dev/loop7),
/// missing devid 1`. None when no superblock can be read.
pub fn describe_members(found: &[PathBuf]) -> Option<String> {
    let mut members: Vec<(u64, &Path)> = Vec::new();
    let mut total = 0;
    for device in found {
        if let Ok((devid, num_devices)) = member(device) {
            members.push((devid, device));
            total = total.max(num_devices);
        }
    }
    members.sort();
    members.dedup_by_key(|m| m.0);
    let here: Vec<String> = members.iter().map(|(id, dev)| format!("devid {id} on {}", dev.display())).collect();
    let mut line = format!("found {} of {total} devices ({})", members.len(), here.join(", "));
    // Devices made together are numbered 1..=n; later removals leave gaps
    // that only the chunk tree knows, so then only the count is certain.
    let missing: Vec<String> =
        (1..=total).filter(|id| !members.iter().any(|m| m.0 == *id)).map(|id| format!("devid {id}")).collect();
    if members.iter().all(|m| m.0 <= total) && !missing.is_empty() {
        line.push_str(&format!(", missing {}", missing.join(", ")));
    } else if total > members.len() as u64 {
        line.push_str(&format!(", {} missing", total - members.len() as u64));
    }
    (!members.is_empty()).then_some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_numbers() {
        assert_eq!(nix::request_code_write!(0x94, 4, std::mem::size_of::<VolArgs>()), 0x5000_9404);
        assert_eq!(nix::request_code_write!(0x94, 5, std::mem::size_of::<VolArgs>()), 0x5000_9405);
        assert_eq!(nix::request_code_read!(0x94, 39, std::mem::size_of::<VolArgs>()), 0x9000_9427);
    }

    #[test]
    fn names() {
        let a = VolArgs::for_path(Path::new("/dev/loop3")).unwrap();
        assert_eq!(&a.name[..11], b"/dev/loop3\0");
        assert!(VolArgs::for_path(Path::new(&"a".repeat(4088))).is_err());
        assert!(VolArgs::for_path(Path::new(&"a".repeat(4087))).is_ok());
    }
}
