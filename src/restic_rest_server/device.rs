//! Waiting for the disk: gokrazy has no udev, so nothing announces a USB
//! disk that comes up after boot. Poll `/sys/class/block` (cheap: names and
//! sizes; an attached loop device or a new disk changes it) and probe the
//! devices again whenever it changes.
#![forbid(unsafe_code)]

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Error, MountConfig, Signals};
use crate::mount::mountinfo::MountInfo;
use crate::mount::source::Source;
use crate::mount::{btrfs, loopdev, probe_glue};

/// How often `/sys/class/block` is looked at.
const POLL: Duration = Duration::from_millis(250);

/// Probe again at this pace even when nothing in sysfs changed (a partition
/// table re-read, a filesystem created on a present device).
const RESCAN: Duration = Duration::from_secs(5);

/// The disk, found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// The device to mount first; for a multi-device btrfs every member.
    pub paths: Vec<PathBuf>,
    /// `TYPE` as probed.
    pub fstype: Option<String>,
    /// The filesystem `UUID` as probed (shared by all btrfs members).
    pub uuid: Option<Vec<u8>>,
}

fn probe_type(path: &Path) -> Option<String> {
    probe_glue::probe_type(path).ok().flatten()
}

fn block_rdev(path: &Path) -> Option<(u64, u64)> {
    let m = path.metadata().ok().filter(|m| m.file_type().is_block_device())?;
    Some((nix::sys::stat::major(m.rdev()), nix::sys::stat::minor(m.rdev())))
}

impl Device {
    /// Whether the mount `m` is this filesystem. Compared by device number,
    /// by loop backing file, and by filesystem UUID: a btrfs mount has an
    /// anonymous device number and mountinfo names whichever member the
    /// kernel likes (the lowest devid), not the one that was mounted.
    pub fn is_mounted_as(&self, m: &MountInfo) -> bool {
        let st_dev = (u64::from(m.major), u64::from(m.minor));
        let ours: Vec<(u64, u64)> = self.paths.iter().filter_map(|p| block_rdev(p)).collect();
        if ours.contains(&st_dev) {
            return true;
        }
        let source = Path::new(&m.source);
        let Some(source_dev) = block_rdev(source) else { return false };
        if ours.contains(&source_dev) {
            return true;
        }
        // A regular file as MNT_SOURCE is mounted through a loop device.
        if let Ok(Some(file)) = loopdev::backing_file(source) {
            let file = file.canonicalize().unwrap_or(file);
            if self.paths.iter().any(|p| p.canonicalize().ok().as_deref() == Some(file.as_path())) {
                return true;
            }
        }
        // Only a filesystem with an anonymous device number (btrfs) can be
        // listed under a member we did not find; probing every other mounted
        // device would only cost time.
        match &self.uuid {
            Some(uuid) if m.major == 0 => {
                probe_glue::tag(source, "UUID").as_ref() == Some(uuid) && probe_type(source) == self.fstype
            }
            _ => false,
        }
    }
}

impl Device {
    /// The block devices under the mount `m` of this filesystem: every
    /// member found, and the mount's own device (a loop device that mount
    /// attached for a file), unless btrfs gave it an anonymous number.
    pub fn numbers(&self, m: &MountInfo) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = self.paths.iter().filter_map(|p| block_rdev(p)).collect();
        let own = (u64::from(m.major), u64::from(m.minor));
        if m.major != 0 && !out.contains(&own) {
            out.push(own);
        }
        out
    }
}

/// Whether the device of mount `m` has left the system (a pulled disk whose
/// mount stayed behind), as sysfs at `sys` shows it. Unknowable for btrfs,
/// whose device number is anonymous.
pub fn is_gone(sys: &Path, m: &MountInfo) -> bool {
    m.major != 0 && !sys.join(format!("dev/block/{}:{}", m.major, m.minor)).exists()
}

/// What the last look found.
enum Look {
    Found(Device),
    /// Not (completely) there yet: what we are waiting for.
    Waiting(String),
}

/// Waits up to `wait` for the disk of `mc`, registering btrfs members with
/// the kernel as they appear. `Ok(None)`: SIGTERM or SIGINT came first.
pub fn wait_for(mc: &MountConfig, wait: Duration, signals: &mut Signals) -> Result<Option<Device>, Error> {
    let start = Instant::now();
    let mut seen: Option<Vec<(String, String)>> = None;
    let mut probed_at: Option<Instant> = None;
    let mut waiting_for = String::new();
    loop {
        let now = Instant::now();
        let snapshot = block_snapshot();
        if seen.as_ref() != Some(&snapshot) || probed_at.map_or(true, |t| now - t >= RESCAN) {
            seen = Some(snapshot);
            probed_at = Some(now);
            match look(mc)? {
                Look::Found(dev) => {
                    let names: Vec<String> = dev.paths.iter().map(|p| p.display().to_string()).collect();
                    let fstype = dev.fstype.as_deref().unwrap_or("unknown type");
                    match &mc.source {
                        Source::Path(p) if dev.paths.len() == 1 => log::info!("found {} ({fstype})", p.display()),
                        _ => log::info!("found {} on {} ({fstype})", mc.source_text, names.join(", ")),
                    }
                    return Ok(Some(dev));
                }
                Look::Waiting(what) => {
                    if what != waiting_for {
                        log::info!("waiting up to {}s for {what}", wait.as_secs_f32().round());
                        waiting_for = what;
                    }
                }
            }
        }
        let left = wait.saturating_sub(start.elapsed());
        if left.is_zero() {
            return Err(Error::transient(format!(
                "gave up after {}s waiting for {waiting_for}",
                wait.as_secs_f32().round()
            )));
        }
        let stop =
            signals.wait_stop(left.min(POLL)).map_err(|e| Error::transient(format!("waiting for signals: {e}")))?;
        if stop {
            return Ok(None);
        }
    }
}

/// Names and sizes under `/sys/class/block`: a new disk adds names, an
/// attached loop device or an inserted card changes a size.
fn block_snapshot() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = fs::read_dir("/sys/class/block")
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let size = fs::read_to_string(e.path().join("size")).unwrap_or_default();
                    (name, size)
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn look(mc: &MountConfig) -> Result<Look, Error> {
    let mut paths = match &mc.source {
        Source::Path(p) => {
            if fs::metadata(p).is_err() {
                return Ok(Look::Waiting(p.display().to_string()));
            }
            vec![p.clone()]
        }
        Source::Tag { name, value } => match probe_glue::find_devices(name, value) {
            Ok(found) if found.is_empty() => return Ok(Look::Waiting(format!("a device with {name}={value}"))),
            Ok(found) => found,
            Err(e) => return Ok(Look::Waiting(format!("a device with {name}={value} (scanning: {e})"))),
        },
    };
    let fstype = probe_type(&paths[0]);
    let uuid = probe_glue::tag(&paths[0], "UUID").filter(|u| !u.is_empty());
    if paths.len() > 1 && fstype.as_deref() != Some("btrfs") {
        let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(Error::config(format!(
            "MNT_SOURCE={} matches several devices ({}): name the disk by UUID=",
            mc.source_text,
            names.join(", ")
        )));
    }
    if fstype.as_deref() == Some("btrfs") {
        // A path names one member; the others carry the same filesystem UUID.
        if let (Source::Path(_), Some(u)) = (&mc.source, &uuid) {
            for p in probe_glue::find_devices("UUID", &String::from_utf8_lossy(u)).unwrap_or_default() {
                if !paths.iter().any(|q| same_device(q, &p)) {
                    paths.push(p);
                }
            }
        }
        match register(&paths) {
            Ok(true) => {}
            Ok(false) => {
                return Ok(Look::Waiting(format!(
                    "the other members of btrfs {} ({} present)",
                    mc.source_text,
                    paths.len()
                )))
            }
            Err(e) if btrfs_in_kernel() => return Err(Error::transient(format!("registering btrfs members: {e}"))),
            Err(_) => {
                return Err(Error::config(
                    "the running kernel has no btrfs (no /dev/btrfs-control): use a kernel with btrfs",
                ))
            }
        }
    }
    Ok(Look::Found(Device { paths, fstype, uuid }))
}

/// `BTRFS_IOC_SCAN_DEV` for every member present, then
/// `BTRFS_IOC_DEVICES_READY`: true once the kernel knows all of them.
fn register(paths: &[PathBuf]) -> io::Result<bool> {
    btrfs::register(paths)?;
    btrfs::devices_ready(&paths[0])
}

fn btrfs_in_kernel() -> bool {
    Path::new(btrfs::BTRFS_CONTROL).exists()
        && crate::mount::kernel_filesystems().unwrap_or_default().iter().any(|(n, _)| n == "btrfs")
}

fn same_device(a: &Path, b: &Path) -> bool {
    a == b || block_rdev(a).is_some_and(|r| Some(r) == block_rdev(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mount::mountinfo;

    #[test]
    fn a_mount_whose_device_left_sysfs_is_gone() {
        let table = mountinfo::parse(
            b"90 27 7:3 / /mnt/a rw - ext4 /dev/loop3 rw\n91 27 0:55 / /mnt/b rw - btrfs /dev/sdb rw\n",
        )
        .unwrap();
        let sys = std::env::temp_dir().join(format!("krazybox-gone-{}", std::process::id()));
        fs::create_dir_all(sys.join("dev/block/7:3")).unwrap();
        assert!(!is_gone(&sys, &table[0]));
        assert!(!is_gone(&sys, &table[1]), "btrfs: anonymous device, cannot tell");
        fs::remove_dir(sys.join("dev/block/7:3")).unwrap();
        assert!(is_gone(&sys, &table[0]));
        assert!(!is_gone(&sys, &table[1]));
        fs::remove_dir_all(&sys).unwrap();
    }
}
