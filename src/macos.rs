//! What macOS answers only through ioctls: the size of a disk device
//! (`<sys/disk.h>`), for the prober reading `/dev/diskN`.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

mod sys {
    // DKIOCGETBLOCKSIZE = _IOR('d', 24, uint32_t), DKIOCGETBLOCKCOUNT = _IOR('d', 25, uint64_t).
    nix::ioctl_read!(block_size, b'd', 24, u32);
    nix::ioctl_read!(block_count, b'd', 25, u64);
}

/// The size in bytes of the disk `file` is open on: `DKIOCGETBLOCKCOUNT`
/// blocks of `DKIOCGETBLOCKSIZE` bytes.
pub fn disk_size(file: &File) -> io::Result<u64> {
    let mut block_size: u32 = 0;
    let mut blocks: u64 = 0;
    // SAFETY: the ioctl writes one uint32_t into `block_size`, which outlives the call.
    unsafe { sys::block_size(file.as_raw_fd(), &mut block_size) }?;
    // SAFETY: the ioctl writes one uint64_t into `blocks`, which outlives the call.
    unsafe { sys::block_count(file.as_raw_fd(), &mut blocks) }?;
    Ok(u64::from(block_size).saturating_mul(blocks))
}
