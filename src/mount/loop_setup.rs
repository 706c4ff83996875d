//! A loop device for an image file, as libmount attaches one
//! (`mnt_context_setup_loopdev`): shared with an existing device over the
//! same range of the file, refused when one overlaps it partly.
#![forbid(unsafe_code)]

use std::io;
use std::path::{Path, PathBuf};

use nix::mount::MsFlags;

use super::loopdev::{self, LoopDevice, LoopOptions};
use super::mountinfo;
use super::options::MountOptions;
use super::{nodev_filesystems, Category, Error, MountSpec};

/// The device to mount: `device` itself, or for a regular file a loop device,
/// as libmount attaches one for types that live on block devices (and for
/// files over 1 KiB when no type is given). Also says whether the mount
/// became read-only because a shared loop device is.
pub(super) fn attach_loop(
    spec: &MountSpec<'_>,
    device: &Path,
    target: &Path,
    tgt: &str,
    opts: &mut MountOptions,
) -> Result<(PathBuf, Option<LoopDevice>, bool), Error> {
    let nodev = nodev_filesystems();
    let single_type = spec.fstype.as_deref().filter(|t| !t.contains(',') && *t != "auto");
    let block_type = single_type.map_or(true, |t| !nodev.iter().any(|n| n == t));
    let Some(meta) = device.metadata().ok().filter(|m| m.is_file()) else {
        return Ok((device.to_path_buf(), None, false));
    };
    if !(opts.wants_loop() || (block_type && meta.len() > 1024)) {
        return Ok((device.to_path_buf(), None, false));
    }
    let (lo, reused) = loop_for_file(device, target, &spec.target, tgt, opts)?;
    let mut forced_read_only = false;
    if lo.is_read_only() && !opts.flags.contains(MsFlags::MS_RDONLY) {
        // A new device is read-only when the file is: the mount follows
        // silently. A shared read-only device is the read-only fallback,
        // with its warning, unless rw was explicit.
        if reused && opts.read_only == Some(false) {
            let mut err = Error::new(Category::Failure, tgt, "mount failed: Read-only file system");
            err.hint = Some(format!("{} is attached read-only", lo.path().display()));
            return Err(err);
        }
        forced_read_only = reused;
        opts.flags.insert(MsFlags::MS_RDONLY);
    }
    Ok((lo.path().to_path_buf(), Some(lo), forced_read_only))
}

/// The loop device for a regular file: an existing one over the same range
/// of the file is shared (two devices would be two independent caches of
/// the same blocks), a partly overlapping one is an error, else a new one is
/// attached with autoclear (libmount `mnt_context_setup_loopdev`).
fn loop_for_file(
    file: &Path,
    target: &Path,
    given_target: &Path,
    tgt: &str,
    opts: &MountOptions,
) -> Result<(LoopDevice, bool), Error> {
    let offset = opts.offset.unwrap_or(0);
    let sizelimit = opts.sizelimit.unwrap_or(0);
    let failed = |e: io::Error| {
        let mut err = Error::new(Category::Failure, tgt, format!("failed to setup loop device for {}", file.display()));
        err.hint = Some(e.to_string());
        err
    };
    // Already mounted here: the same file and offset on the same target.
    if let Some(top) = mountinfo::read().ok().as_deref().and_then(|t| mountinfo::find_by_mount_point(t, target)) {
        let dev = Path::new(&top.source);
        let same_file = loopdev::backing_file(dev).ok().flatten().is_some_and(|b| Some(b) == file.canonicalize().ok());
        if same_file && loopdev::status(dev).ok().flatten().is_some_and(|i| i.lo_offset == offset) {
            // Found before util-linux canonicalizes the target: named as given.
            let given = given_target.display().to_string();
            return Err(Error::new(Category::Usage, given, format!("{} is already mounted", file.display())));
        }
    }
    if opts.loop_device.is_none() {
        match loopdev::find_overlap(file, offset, sizelimit).map_err(failed)? {
            Some(loopdev::Overlap::Same(dev)) => {
                if let Ok(lo) = LoopDevice::open(&dev) {
                    return Ok((lo, true));
                }
                // Autocleared meanwhile: attach a new one.
            }
            Some(loopdev::Overlap::Overlapping(_)) => {
                return Err(Error::new(
                    Category::Failure,
                    tgt,
                    format!("overlapping loop device exists for {}", file.display()),
                ))
            }
            None => {}
        }
    }
    LoopDevice::attach(
        file,
        &LoopOptions {
            offset,
            sizelimit,
            read_only: opts.flags.contains(MsFlags::MS_RDONLY),
            autoclear: true,
            device: opts.loop_device.as_ref().map(PathBuf::from),
        },
    )
    .map(|lo| (lo, false))
    .map_err(failed)
}
