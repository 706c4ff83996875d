//! Unmounting, as umount(8) does it: umount2(2) with a few retries while
//! the file system is busy.
#![forbid(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::thread::sleep;
use std::time::Duration;

use nix::errno::Errno;
use nix::mount::MntFlags;

use super::source::Source;
use super::{canonical_or_given, filesystem, mountinfo, Category, Error};

/// Unmounts `target` as umount(8) does: a busy filesystem is retried a few
/// times with short pauses; `lazy` detaches it at once (umount2(2)
/// `MNT_DETACH`: gone from the namespace, alive until its last user leaves);
/// `force` adds `MNT_FORCE` (network and FUSE filesystems). `target` may also
/// be a mounted device, whose most recent mount point is used.
pub fn umount(target: &Path, lazy: bool, force: bool) -> Result<(), Error> {
    let table = mountinfo::read().unwrap_or_default();
    let path = match filesystem::mount_named(&table, &Source::Path(target.to_path_buf()), None) {
        Some(m) => m.mount_point.clone(),
        None => canonical_or_given(target),
    };
    let mut flags = MntFlags::empty();
    if lazy {
        flags |= MntFlags::MNT_DETACH;
    }
    if force {
        flags |= MntFlags::MNT_FORCE;
    }
    const BUSY_RETRIES: u32 = 5;
    let mut attempt = 0;
    loop {
        match nix::mount::umount2(&path, flags) {
            Ok(()) => return Ok(()),
            Err(Errno::EBUSY) if !lazy && attempt < BUSY_RETRIES => {
                sleep(Duration::from_millis(50 << attempt));
                attempt += 1;
            }
            Err(errno) => {
                let message = match errno {
                    Errno::ENXIO => "invalid block device".to_string(),
                    Errno::EINVAL => "not mounted".to_string(),
                    Errno::EIO => "can't write superblock".to_string(),
                    Errno::EBUSY => "target is busy".to_string(),
                    Errno::ENOENT => "no mount point specified".to_string(),
                    Errno::EPERM => "must be superuser to unmount".to_string(),
                    Errno::EACCES => "block devices are not permitted on filesystem".to_string(),
                    _ => format!("umount(2) system call failed: {}", errno.desc()),
                };
                let mut err = Error::new(Category::Failure, target.display().to_string(), message);
                err.errno = Some(errno);
                return Err(err);
            }
        }
    }
}

/// Flushes the filesystem that holds `path` to its device (syncfs(2)).
pub fn syncfs(path: &Path) -> io::Result<()> {
    let f = File::open(path)?;
    nix::unistd::syncfs(f.as_raw_fd())?;
    Ok(())
}
