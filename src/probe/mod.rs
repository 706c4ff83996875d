//! Filesystem, RAID, crypto and partition-table signatures: a read-only,
//! pure-Rust prober whose results match util-linux libblkid's.
//!
//! A superblock prober is data plus one small function: a [`Prober`] names the
//! type, its usage, the magic strings that announce it and the function that
//! checks the rest and sets the tags. The table of all of them, in libblkid's
//! order (which decides ambivalence and tag order), is in [`superblocks`].
//!
//! [`probe_path`] runs them the way `blkid -p` does (util-linux 2.38.1
//! `blkid_do_safeprobe`): the superblock chain, then the partition table of
//! the device ([`partitions`]) and, for a partition, its entry in the parent
//! disk's table ([`device`]).
#![forbid(unsafe_code)]

mod chain;
pub mod checksum;
mod ctx;
#[cfg(target_os = "linux")]
pub mod device;
// Without sysfs: no device scan, no partition entries from the parent disk.
#[cfg(not(target_os = "linux"))]
#[path = "device_other.rs"]
pub mod device;
pub mod encode;
pub mod field;
pub mod highlevel;
pub mod partitions;
pub mod reader;
pub mod superblocks;

use chain::probe_device;
pub use chain::{find_magic, probe_superblocks, run_one};
use ctx::cut_at_nul;
pub use ctx::{encode_to_utf8, encode_to_utf8_max, is_c_space, Ctx, Encoding, Magic, Medium, Prober};
pub use device::block_devices;
pub use encode::{escape_value, EXPORT_SPECIAL, FULL_SPECIAL};
pub use reader::Reader;
use std::io;
use std::path::{Path, PathBuf};
use superblocks::PROBERS;

/// What to probe for, as `blkid -p` chooses it.
#[derive(Clone, Debug)]
pub struct Options {
    /// Start of the probed window in bytes (`-O`).
    pub offset: u64,
    /// Length of the window (`-S`); to the end of the device when `None`.
    pub size: Option<u64>,
    /// Superblock probing (filesystems, RAID, crypto, …): on for `blkid -p`.
    pub superblocks: bool,
    /// Only (or, negated, all but) these types (`-n`).
    pub types: Option<Filter>,
    /// Only (or, negated, all but) these usages (`-u`: filesystem, raid, crypto,
    /// other). When set, `types` is ignored, as `blkid -p` ignores `-n` with `-u`.
    /// blkid keeps one "no" flag for both options: the caller sets `negate` alike.
    pub usages: Option<Filter>,
    /// Partition-table probing: `PTUUID`/`PTTYPE` of the device itself.
    pub partitions: bool,
    /// With `partitions`: `PART_ENTRY_*` for a partition device, read from its
    /// disk (off with `blkid -D`).
    pub part_entry: bool,
    /// `blkid -p`'s rule for floppy-sized (1440 KiB or less) whole disks: when
    /// one has a partition table, only the table is reported. libblkid's cache,
    /// which high-level `blkid` (no `-p`) reads, does not apply it: set `false` there.
    pub small_disk_table_only: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            offset: 0,
            size: None,
            superblocks: true,
            types: None,
            usages: None,
            partitions: true,
            part_entry: true,
            small_disk_table_only: true,
        }
    }
}

/// A list of names, or with `negate` everything but them (`-n noext4,vfat`, `-u nofilesystem`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    pub negate: bool,
    pub names: Vec<String>,
}

impl Filter {
    /// Whether `name` passes the filter.
    pub fn allows(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name) != self.negate
    }
}

/// The low-level verdict on a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probed {
    Nothing,
    /// More than one signature and not all tolerant: `blkid -p` exits 8.
    /// Every signature of the table that matched, in table order, as
    /// `blkid -o udev` lists them in `ID_FS_AMBIVALENT`.
    Ambivalent(Vec<Found>),
    /// All tags in libblkid's order, `TYPE`, `USAGE`, `PTUUID`, `PTTYPE`,
    /// `PART_ENTRY_*` included: what `blkid -p -o export` prints after `DEVNAME`.
    Tags(Vec<Tag>),
}

/// libblkid low-level result, all tags in libblkid's order including TYPE, USAGE, (SEC_TYPE…),
/// PTUUID, PTTYPE, PART_ENTRY_* — exactly what `blkid -p -o export` prints after DEVNAME.
///
/// A window (`offset`, `size`) that does not fit the device is an
/// [`io::ErrorKind::InvalidInput`] error, as libblkid refuses it.
pub fn probe_path(path: &Path, opts: &Options) -> io::Result<Probed> {
    use std::os::unix::fs::FileTypeExt;
    let mut file = reader::open(path)?;
    let meta = file.metadata()?;
    // libblkid probes regular files and block devices (and UBI character
    // devices, which krazybox does not know).
    if !meta.is_file() && !meta.file_type().is_block_device() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a block device or regular file"));
    }
    let dev = device::DeviceInfo::of(&meta);
    let total = device::size(&mut file)?;
    // As in libblkid, a size of 0 means "to the end".
    let size = match opts.size.filter(|&s| s != 0) {
        Some(s) => s,
        // An offset past the end with no size: libblkid finds nothing, silently.
        None => total.checked_sub(opts.offset).ok_or(io::ErrorKind::InvalidInput)?,
    };
    if opts.offset.checked_add(size).map_or(true, |end| end > total) {
        return Err(window_error());
    }
    let mut reader = Reader::from_file(file, opts.offset, Some(size))?;
    probe_device(&mut reader, opts, dev.as_ref())
}

/// libblkid's answer to a probing window past the end of the device: EINVAL,
/// which blkid prints as `error: DEV: Invalid argument`.
fn window_error() -> io::Error {
    io::Error::from_raw_os_error(nix::errno::Errno::EINVAL as i32)
}

/// [`probe_path`] over an open reader; no `PART_ENTRY_*` (there is no parent disk to read).
pub fn probe_reader(r: &mut Reader, opts: &Options) -> io::Result<Probed> {
    probe_device(r, opts, None)
}

/// Every device whose high-level tag `name` equals `value` (UUID, LABEL, PARTUUID, PARTLABEL, TYPE…),
/// in [`block_devices`] order. Devices that cannot be read are skipped.
pub fn find_devices(name: &str, value: &[u8]) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for dev in block_devices()? {
        let Ok(Some(tags)) = highlevel::probe(&dev) else { continue };
        if tags.iter().any(|t| t.name == name && t.value == value) {
            out.push(dev);
        }
    }
    Ok(out)
}

/// What a signature is used for, as libblkid's `USAGE` tag says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Usage {
    Filesystem,
    Raid,
    Crypto,
    Other,
}

impl Usage {
    pub fn as_str(self) -> &'static str {
        match self {
            Usage::Filesystem => "filesystem",
            Usage::Raid => "raid",
            Usage::Crypto => "crypto",
            Usage::Other => "other",
        }
    }
}

/// One `NAME=value` result. Values are bytes: labels need not be UTF-8.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag {
    pub name: &'static str,
    pub value: Vec<u8>,
}

/// A signature found on the device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The `TYPE`.
    pub name: &'static str,
    pub usage: Usage,
    /// The prober's tags in the order it set them (`TYPE` and `USAGE` not included).
    pub tags: Vec<Tag>,
}

impl Found {
    /// The value of tag `name`, if set.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.tags.iter().find(|t| t.name == name).map(|t| t.value.as_slice())
    }
}

/// The superblock chain's verdict on a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Nothing,
    Found(Found),
    /// Two or more signatures, not all of them tolerant (libblkid's
    /// `BLKID_PROBE_AMBIGUOUS`): every one that matched, in table order.
    Ambivalent(Vec<Found>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::probe::{blkid_export, our_export};
    use crate::support::{have, run, zero_image, TempDir};

    fn filter(spec: &str) -> Filter {
        let (negate, list) = match spec.strip_prefix("no") {
            Some(rest) => (true, rest),
            None => (false, spec),
        };
        Filter { negate, names: list.split(',').map(str::to_string).collect() }
    }

    /// An ext4 filesystem 1 MiB into a larger file, with junk-free space around it.
    fn embedded_ext4(dir: &TempDir) -> Option<std::path::PathBuf> {
        if !have("mkfs.ext4") {
            eprintln!("skipped: mkfs.ext4 not installed");
            return None;
        }
        let fs = dir.join("fs.img");
        zero_image(&fs, 8 << 20);
        run("mkfs.ext4", &["-q", "-F", "-L", "inner", fs.to_str().expect("utf-8")]);
        let outer = dir.join("outer.img");
        let mut data = vec![0u8; 1 << 20];
        data.extend(std::fs::read(&fs).expect("read fs"));
        data.extend(vec![0u8; 1 << 20]);
        std::fs::write(&outer, data).expect("write outer");
        Some(outer)
    }

    #[test]
    fn offset_and_size_windows_like_blkid() {
        let dir = TempDir::new("window");
        let Some(img) = embedded_ext4(&dir) else { return };
        for (o, s) in [(Some(1u64 << 20), None), (Some(1 << 20), Some(8u64 << 20)), (None, None), (Some(4096), None)] {
            let mut args = Vec::new();
            let (os, ss) = (o.map(|v| v.to_string()), s.map(|v| v.to_string()));
            if let Some(v) = &os {
                args.extend(["-O", v.as_str()]);
            }
            if let Some(v) = &ss {
                args.extend(["-S", v.as_str()]);
            }
            let opts = Options { offset: o.unwrap_or(0), size: s, ..Options::default() };
            assert_eq!(our_export(&img, &opts), blkid_export(&img, &args), "{args:?}");
        }
        // A window past the end is refused, as blkid refuses it.
        let opts = Options { offset: 100 << 20, ..Options::default() };
        assert_eq!(probe_path(&img, &opts).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        let opts = Options { offset: 1 << 20, size: Some(100 << 20), ..Options::default() };
        assert!(probe_path(&img, &opts).is_err());
        assert_eq!(probe_path(dir.0.as_path(), &Options::default()).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        assert_eq!(blkid_export(&img, &["-O", "1048576", "-S", "104857600"]), None);
    }

    #[test]
    fn type_and_usage_filters_like_blkid() {
        let dir = TempDir::new("filter");
        let Some(img) = embedded_ext4(&dir) else { return };
        // blkid keeps one "no" flag for -n and -u together: a "no" on either negates both.
        let opts = |types: Option<&str>, usages: Option<&str>| {
            let negate = types.into_iter().chain(usages).any(|l| l.starts_with("no"));
            let shared = |l: &str| Filter { negate, ..filter(l) };
            Options { offset: 1 << 20, types: types.map(shared), usages: usages.map(shared), ..Options::default() }
        };
        let cases: [(Option<&str>, Option<&str>); 8] = [
            (Some("ext4"), None),
            (Some("ext3,vfat"), None),
            (Some("noext4"), None),
            (Some("noext3"), None),
            (None, Some("filesystem")),
            (None, Some("nofilesystem")),
            (None, Some("raid,other")),
            (Some("noext4"), Some("filesystem")),
        ];
        for (t, u) in cases {
            let mut args = vec!["-O", "1048576"];
            if let Some(t) = t {
                args.extend(["-n", t]);
            }
            if let Some(u) = u {
                args.extend(["-u", u]);
            }
            assert_eq!(our_export(&img, &opts(t, u)), blkid_export(&img, &args), "{args:?}");
        }
    }

    #[test]
    fn find_devices_finds_own_loop_device_by_label_and_uuid() {
        use crate::support::{serial, Loop, LoopOpts};
        if !have("mkfs.ext4") || !std::path::Path::new("/dev/loop-control").exists() {
            eprintln!("skipped: mkfs.ext4 or loop devices missing");
            return;
        }
        let dir = TempDir::new("find");
        let img = dir.join("fs.img");
        zero_image(&img, 8 << 20);
        // A label no other device has.
        let label = format!("kbx{}", std::process::id());
        run("mkfs.ext4", &["-q", "-F", "-L", &label, img.to_str().expect("utf-8")]);
        let lock = serial();
        let lo = Loop::attach(&lock, &img, LoopOpts::PARTITIONS);
        assert_eq!(find_devices("LABEL", label.as_bytes()).expect("scan"), vec![lo.0.clone()]);
        let Probed::Tags(tags) = probe_path(&lo.0, &Options::default()).expect("probe") else { panic!("no tags") };
        let uuid = &tags.iter().find(|t| t.name == "UUID").expect("UUID").value;
        assert!(find_devices("UUID", uuid).expect("scan").contains(&lo.0));
        assert!(find_devices("LABEL", b"no such label at all").expect("scan").is_empty());
    }

    #[test]
    fn labels_trim_c_whitespace() {
        let mut r = Reader::from_bytes(vec![0; 8]);
        let mut ctx = Ctx::new(&mut r, None);
        ctx.set_label(b"ab \x0b\t\0junk");
        assert_eq!(ctx.tags()[0].value, b"ab");
        // A lone surrogate is kept in libblkid's 3-byte form.
        ctx.set_utf16_label(&[0x41, 0, 0x00, 0xd8, 0x42, 0], false);
        assert_eq!(ctx.tags()[0].value, b"A\xed\xa0\x80B");
    }

    #[test]
    fn tiny_and_stub_devices() {
        // 1 KiB or less: nothing, whatever it holds.
        let mut r = Reader::from_bytes(vec![0xff; 1024]);
        assert_eq!(probe_reader(&mut r, &Options::default()).unwrap(), Probed::Nothing);
        let mut r = Reader::from_bytes(Vec::new());
        assert_eq!(probe_reader(&mut r, &Options::default()).unwrap(), Probed::Nothing);
    }
}
