//! Cleanup by ownership: a mount or a loop device that goes away with the
//! value that holds it, however the holder's scope ends (an early return, a
//! failing test, the end of the service).
#![forbid(unsafe_code)]

use std::io;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use super::loopdev::{LoopDevice, LoopOptions};
use super::{mountinfo, syncfs, umount, Error, Mounted};

/// How a guarded mount went away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unmounted {
    /// umount2(2) worked: everything is on the device.
    Unmounted,
    /// Still busy after the retries: detached lazily (it goes when its last
    /// user leaves), after a sync(2).
    Detached,
}

/// Unmounts its target when dropped, as [`MountGuard::finish`] does.
#[derive(Debug)]
pub struct MountGuard {
    target: Option<PathBuf>,
}

impl MountGuard {
    pub fn new(target: impl Into<PathBuf>) -> MountGuard {
        MountGuard { target: Some(target.into()) }
    }

    pub fn target(&self) -> &Path {
        self.target.as_deref().unwrap_or(Path::new(""))
    }

    /// Unmounts now (umount2(2), retried while busy) and reports how it went.
    pub fn unmount(mut self) -> Result<(), Error> {
        match self.target.take() {
            Some(t) => umount(&t, false, false),
            None => Ok(()),
        }
    }

    /// Keeps the mount: the guard no longer unmounts it.
    pub fn disarm(mut self) -> PathBuf {
        self.target.take().unwrap_or_default()
    }

    /// Flushes the file system to its device (syncfs(2)), unmounts it, and
    /// when it is still busy after the retries, detaches it lazily and
    /// syncs (sync(2)), so that what is written reaches the disk even while
    /// a straggler keeps the file system alive. Says in the log what it did.
    pub fn finish(mut self) -> Result<Unmounted, Error> {
        match self.target.take() {
            Some(t) => finish(&t),
            None => Ok(Unmounted::Unmounted),
        }
    }

    /// Detaches the file system at once (`MNT_DETACH`) without flushing it:
    /// for one whose device is gone, where nothing could be written.
    pub fn detach(mut self) -> Result<(), Error> {
        match self.target.take() {
            Some(t) => umount(&t, true, false),
            None => Ok(()),
        }
    }
}

fn finish(target: &Path) -> Result<Unmounted, Error> {
    // Nothing mounted there (already gone): nothing to flush.
    if mountinfo::is_mount_root(target).unwrap_or(true) {
        if let Err(e) = syncfs(target) {
            log::warn!("syncfs {}: {e}", target.display());
        }
    }
    match umount(target, false, false) {
        Ok(()) => {
            log::info!("unmounted {}", target.display());
            Ok(Unmounted::Unmounted)
        }
        Err(e) if e.errno == Some(Errno::EBUSY) => {
            log::warn!("{} still busy: detaching lazily", target.display());
            let detached = umount(target, true, false);
            nix::unistd::sync();
            detached?;
            log::info!("detached {} (unmounts when no longer busy)", target.display());
            Ok(Unmounted::Detached)
        }
        Err(e) => Err(e),
    }
}

impl From<&Mounted> for MountGuard {
    fn from(m: &Mounted) -> MountGuard {
        MountGuard::new(&m.target)
    }
}

impl Drop for MountGuard {
    fn drop(&mut self) {
        if let Some(t) = self.target.take() {
            if let Err(e) = finish(&t) {
                log::error!("unmounting {}: {}", t.display(), e.message);
            }
        }
    }
}

/// Detaches its loop device when dropped (`LOOP_CLR_FD`; if the device is
/// still mounted the kernel detaches it at unmount instead).
#[derive(Debug)]
pub struct LoopGuard {
    device: Option<LoopDevice>,
}

impl LoopGuard {
    pub fn new(device: LoopDevice) -> LoopGuard {
        LoopGuard { device: Some(device) }
    }

    /// Attaches `file` read-write (read-only if asked), without autoclear.
    pub fn attach(file: &Path, read_only: bool) -> io::Result<LoopGuard> {
        let options = LoopOptions { read_only, ..LoopOptions::default() };
        Ok(LoopGuard::new(LoopDevice::attach(file, &options)?))
    }

    pub fn path(&self) -> &Path {
        self.device.as_ref().map_or(Path::new(""), |d| d.path())
    }

    pub fn device(&self) -> Option<&LoopDevice> {
        self.device.as_ref()
    }

    /// Detaches now and reports how it went.
    pub fn detach(mut self) -> io::Result<()> {
        match self.device.take() {
            Some(d) => d.detach(),
            None => Ok(()),
        }
    }
}

impl Drop for LoopGuard {
    fn drop(&mut self) {
        if let Some(d) = self.device.take() {
            let _ = d.detach();
        }
    }
}
