//! Block devices on systems without Linux's sysfs (macOS, where the disk is
//! prepared): a device such as `/dev/disk4` is probed like an image file,
//! with no entry of its parent disk's partition table (`PART_ENTRY_*`), and
//! there is no list of all devices to scan, so `blkid` needs its devices
//! named and `--label`, `--uuid` and `-t` find nothing by themselves.
#![forbid(unsafe_code)]

pub use super::ctx::DeviceInfo;
use super::Tag;
use std::fs;
use std::io;

impl DeviceInfo {
    /// Nothing is known here: the device is probed as a file is.
    pub fn of(_: &fs::Metadata) -> Option<DeviceInfo> {
        None
    }
}

/// No parent disk to read a partition's entry from.
pub fn part_entry_tags(_: &DeviceInfo) -> io::Result<Vec<Tag>> {
    Ok(Vec::new())
}

/// The devices `blkid` scans when given none: on Linux the list of
/// `/sys/block`; this system has none.
pub fn block_devices() -> io::Result<Vec<std::path::PathBuf>> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "no list of block devices on this system (Linux's /sys/block): name the devices, an image file or /dev/diskN",
    ))
}

/// The size in bytes of an image file or block device. A macOS disk device
/// does not tell its size by seeking (`lseek` to its end gives 0): its
/// block count and block size do ([`crate::macos::disk_size`]).
pub fn size(file: &mut fs::File) -> io::Result<u64> {
    use std::io::Seek;
    #[cfg(target_os = "macos")]
    {
        use std::os::unix::fs::FileTypeExt;
        if file.metadata()?.file_type().is_block_device() {
            return crate::macos::disk_size(file);
        }
    }
    file.seek(io::SeekFrom::End(0))
}
