//! The prober plugged into the mounting engine: tag lookup over every block
//! device and type detection, as libmount gets them from libblkid.
//!
//! [`MountSpec`](super::MountSpec) takes both as callbacks so that tests can
//! use other ones; [`resolver`] and [`prober`] are what mount(8) and the
//! service wrapper use.
#![forbid(unsafe_code)]

use std::io;
use std::path::{Path, PathBuf};

use crate::probe::{self, highlevel, Options, Probed};

use super::source::Resolver;
use super::Prober;

/// Every block device whose high-level tag `name` (`UUID`, `LABEL`,
/// `PARTUUID`, `PARTLABEL`) is `value`, in /sys/block order.
pub fn find_devices(name: &str, value: &str) -> io::Result<Vec<PathBuf>> {
    probe::find_devices(name, value.as_bytes())
}

/// The filesystem type on `device`: the `TYPE` of a low-level probe, as
/// libmount asks libblkid for it (`None` when nothing, or more than one
/// conflicting signature, is found).
pub fn probe_type(device: &Path) -> io::Result<Option<String>> {
    let opts = Options { partitions: false, part_entry: false, ..Options::default() };
    Ok(match probe::probe_path(device, &opts)? {
        Probed::Tags(tags) => {
            tags.into_iter().find(|t| t.name == "TYPE").map(|t| String::from_utf8_lossy(&t.value).into_owned())
        }
        Probed::Nothing | Probed::Ambivalent(_) => None,
    })
}

/// A high-level tag of `device` (`LABEL` for `mount -l`), if it has one.
pub fn tag(device: &Path, name: &str) -> Option<Vec<u8>> {
    let tags = highlevel::probe(device).ok()??;
    tags.into_iter().find(|t| t.name == name).map(|t| t.value)
}

/// [`find_devices`] as the engine's resolver.
pub fn resolver() -> Resolver<'static> {
    &find_devices
}

/// [`probe_type`] as the engine's prober.
pub fn prober() -> Prober<'static> {
    &probe_type
}
