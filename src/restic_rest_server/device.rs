//! Waiting for the disk: gokrazy has no udev, so nothing announces a USB
//! disk that comes up after boot. Poll `/sys/class/block` (cheap: names and
//! sizes; an attached loop device or a new disk changes it) and probe the
//! devices again whenever it changes.
#![forbid(unsafe_code)]

use std::fs;
use std::time::{Duration, Instant};

use super::{Error, MountConfig, Signals};
use crate::mount::filesystem::Filesystem;
use crate::mount::source::Source;
use crate::mount::{btrfs, probe_glue};

/// How often `/sys/class/block` is looked at.
const POLL: Duration = Duration::from_millis(250);

/// Probe again at this pace even when nothing in sysfs changed (a partition
/// table re-read, a filesystem created on a present device).
const RESCAN: Duration = Duration::from_secs(5);

/// What the last look found.
enum Look {
    Found(Filesystem),
    /// Not (completely) there yet: what we are waiting for.
    Waiting(String),
}

/// Waits up to `wait` for the disk of `mc`, registering btrfs members with
/// the kernel as they appear. `Ok(None)`: SIGTERM or SIGINT came first.
pub fn wait_for(mc: &MountConfig, wait: Duration, signals: &mut Signals) -> Result<Option<Filesystem>, Error> {
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
                    let names: Vec<String> = dev.devices.iter().map(|p| p.display().to_string()).collect();
                    let fstype = dev.fstype.as_deref().unwrap_or("unknown type");
                    match &mc.source {
                        Source::Path(p) if dev.devices.len() == 1 => log::info!("found {} ({fstype})", p.display()),
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
    let devices = match &mc.source {
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
    let mut disk = Filesystem::probe(devices);
    if disk.is_ambiguous() {
        let names: Vec<String> = disk.devices.iter().map(|p| p.display().to_string()).collect();
        return Err(Error::config(format!(
            "MNT_SOURCE={} matches several devices ({}): name the disk by UUID=",
            mc.source_text,
            names.join(", ")
        )));
    }
    if disk.fstype.as_deref() == Some("btrfs") {
        if matches!(mc.source, Source::Path(_)) {
            // Members the scan cannot read are simply not found yet.
            let _ = disk.add_members(probe_glue::resolver());
        }
        match disk.register().and_then(|()| disk.is_complete()) {
            Ok(true) => {}
            Ok(false) => {
                return Ok(Look::Waiting(format!(
                    "the other members of btrfs {} ({} present)",
                    mc.source_text,
                    disk.devices.len()
                )))
            }
            Err(e) if btrfs::in_kernel() => return Err(Error::transient(format!("registering btrfs members: {e}"))),
            Err(_) => {
                return Err(Error::config(
                    "the running kernel has no btrfs (no /dev/btrfs-control): use a kernel with btrfs",
                ))
            }
        }
    }
    Ok(Look::Found(disk))
}
