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

pub mod device;
pub mod encode;
pub mod field;
pub mod highlevel;
pub mod partitions;
pub mod reader;
pub mod superblocks;

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
    use std::io::Seek;
    use std::os::unix::fs::FileTypeExt;
    let mut file = reader::open(path)?;
    let meta = file.metadata()?;
    // libblkid probes regular files and block devices (and UBI character
    // devices, which krazybox does not know).
    if !meta.is_file() && !meta.file_type().is_block_device() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a block device or regular file"));
    }
    let dev = device::DeviceInfo::of(&meta);
    let total = file.seek(io::SeekFrom::End(0))?;
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

/// libblkid's `blkid_do_safeprobe` as `blkid -p` drives it (`lowprobe_superblocks`
/// in misc-utils/blkid.c): superblocks, then the partition table and the
/// partition's entry in its disk's table.
fn probe_device(r: &mut Reader, opts: &Options, dev: Option<&device::DeviceInfo>) -> io::Result<Probed> {
    let sector_size = dev.map_or(512, |d| d.sector_size);
    // A small whole disk that is partitioned is not also searched for a
    // filesystem: floppy-sized images often carry both.
    if opts.small_disk_table_only && opts.partitions && r.size() <= TINY && dev.is_some_and(|d| d.whole_disk) {
        let disk = partitions::Disk { sector_size, fs_type: None };
        if let Some(t) = partitions::probe_table(r, disk)? {
            return Ok(Probed::Tags(finish(table_tags(&t))));
        }
    }
    let mut tags = Vec::new();
    let mut fs_type = None;
    let mut ignore_pt = false;
    // pvcreate wipes the first 8 KiB of the device, and libblkid remembers that
    // area when it finds an LVM2 label (its "wiper", lvm.c): a dos table in it
    // was written after the PV, so the table is probed although LVM is a RAID
    // usage, and when it is dos (the only table prober that checks the area;
    // gpt.c's check misses it) the LVM result is dropped for the table.
    let mut lvm_wiped = false;
    if opts.superblocks {
        let allowed = |p: &Prober| match (&opts.usages, &opts.types) {
            // blkid applies -u and ignores -n when both are given.
            (Some(u), _) => u.allows(p.usage.as_str()),
            (None, Some(t)) => t.allows(p.name),
            (None, None) => true,
        };
        let medium = Medium {
            regular_file: dev.is_none(),
            whole_disk: dev.is_some_and(|d| d.whole_disk),
            // libblkid asks the drive (CDROM_GET_CAPABILITY); SCSI CD-ROMs
            // (sr) are the ones with a major number of their own.
            cdrom: dev.is_some_and(|d| d.whole_disk && d.major == SCSI_CDROM_MAJOR) && r.size() > TINY,
            sector_size,
        };
        match safeprobe(r, medium, &allowed)? {
            Outcome::Nothing => {}
            Outcome::Ambivalent(v) => return Ok(Probed::Ambivalent(v)),
            Outcome::Found(f) => {
                // A RAID member shows its array's partition table too (RAID1
                // mirrors it); that table does not belong to the member.
                ignore_pt = f.usage == Usage::Raid;
                lvm_wiped = f.name == LVM_WIPER_TYPE;
                fs_type = Some(f.name);
                tags = f.tags;
                tags.push(Tag { name: "TYPE", value: f.name.as_bytes().to_vec() });
                tags.push(Tag { name: "USAGE", value: f.usage.as_str().as_bytes().to_vec() });
            }
        }
    }
    if opts.partitions {
        if !ignore_pt || lvm_wiped {
            let disk = partitions::Disk { sector_size, fs_type };
            if let Some(t) = partitions::probe_table(r, disk)? {
                if lvm_wiped && t.scheme == "dos" {
                    tags.clear();
                }
                tags.extend(table_tags(&t));
            }
        }
        if opts.part_entry {
            if let Some(d) = dev {
                tags.extend(device::part_entry_tags(d)?);
            }
        }
    }
    Ok(if tags.is_empty() { Probed::Nothing } else { Probed::Tags(finish(tags)) })
}

/// The type whose prober marks the start of the device as wiped (see `lvm_wiped`).
const LVM_WIPER_TYPE: &str = "LVM2_member";

/// libblkid's "tiny device" (`BLKID_FL_TINY_DEV`): floppy-sized or smaller.
const TINY: u64 = 1440 * 1024;

fn table_tags(t: &partitions::Table) -> Vec<Tag> {
    let mut tags = Vec::new();
    if let Some(id) = &t.id {
        tags.push(Tag { name: "PTUUID", value: id.clone().into_bytes() });
    }
    tags.push(Tag { name: "PTTYPE", value: t.scheme.as_bytes().to_vec() });
    tags
}

/// Values are C strings in libblkid: `blkid` prints each up to its first NUL.
fn finish(mut tags: Vec<Tag>) -> Vec<Tag> {
    for t in &mut tags {
        if let Some(n) = t.value.iter().position(|&b| b == 0) {
            t.value.truncate(n);
        }
    }
    tags
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

/// A magic string at `kboff * 1024 + sboff` bytes from the start of the device,
/// as util-linux's `struct blkid_idmag` places it.
#[derive(Debug)]
pub struct Magic {
    pub bytes: &'static [u8],
    pub kboff: u64,
    pub sboff: u64,
}

impl Magic {
    /// Byte offset of the magic string.
    pub const fn offset(&self) -> u64 {
        self.kboff * 1024 + self.sboff
    }
}

/// A superblock prober: its identity, its magics and its check.
pub struct Prober {
    /// The `TYPE` value.
    pub name: &'static str,
    pub usage: Usage,
    /// May coexist with another signature without making the result ambivalent
    /// (libblkid's `BLKID_IDINFO_TOLERANT`: iso9660, udf, hfs…).
    pub tolerant: bool,
    /// The function is called only if one of these is found (for the first
    /// one found, in this order); with none, it is always called.
    pub magics: &'static [Magic],
    /// Check the signature and set tags. `Ok(false)`: not this type.
    /// A read past the end of the device also means "not this type".
    pub probe: fn(&mut Ctx) -> io::Result<bool>,
}

/// What the probers may know about the device besides its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Medium {
    /// A regular file (or bytes in memory), not a block device.
    pub regular_file: bool,
    /// A block device that is not a partition (`blkid_probe_is_wholedisk`).
    pub whole_disk: bool,
    /// An optical drive: libblkid looks for no RAID and no "other" signature
    /// (swap, journals, caches) there, whose last sectors often do not read.
    pub cdrom: bool,
    /// Logical sector size in bytes (512 for files).
    pub sector_size: u64,
}

/// The block major number of SCSI CD-ROM drives (`sr`).
const SCSI_CDROM_MAJOR: u32 = 11;

impl Medium {
    /// Not a partition: libblkid looks for firmware-RAID metadata only on
    /// these (`S_ISREG(mode) || blkid_probe_is_wholedisk`).
    pub fn disk_or_file(&self) -> bool {
        self.regular_file || self.whole_disk
    }
}

impl Default for Medium {
    fn default() -> Medium {
        Medium { regular_file: true, whole_disk: false, cdrom: false, sector_size: 512 }
    }
}

/// What a prober gets: the device, the magic that matched, and where tags go.
pub struct Ctx<'r> {
    pub reader: &'r mut Reader,
    /// The magic that matched, if the prober has magics.
    pub magic: Option<&'static Magic>,
    pub medium: Medium,
    tags: Vec<Tag>,
}

impl<'r> Ctx<'r> {
    pub fn new(reader: &'r mut Reader, magic: Option<&'static Magic>) -> Ctx<'r> {
        Ctx { reader, magic, medium: Medium::default(), tags: Vec::new() }
    }

    /// `len` bytes at `off`; see [`Reader::read`].
    pub fn read(&mut self, off: u64, len: usize) -> io::Result<Vec<u8>> {
        self.reader.read(off, len)
    }

    /// Like [`Ctx::read`], but a range outside the device is `None` rather than an
    /// error: for walks where libblkid stops at an unreadable block instead of
    /// rejecting the signature.
    pub fn read_opt(&mut self, off: u64, len: usize) -> io::Result<Option<Vec<u8>>> {
        match self.reader.read(off, len) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The tags set so far, in order.
    pub fn tags(&self) -> &[Tag] {
        &self.tags
    }

    pub fn into_tags(self) -> Vec<Tag> {
        self.tags
    }

    /// Set a tag, replacing an earlier value of the same name in place.
    pub fn set(&mut self, name: &'static str, value: impl Into<Vec<u8>>) {
        let value = value.into();
        match self.tags.iter_mut().find(|t| t.name == name) {
            Some(t) => t.value = value,
            None => self.tags.push(Tag { name, value }),
        }
    }

    /// Set a label-like tag the way libblkid's `blkid_probe_set_label` does: cut at
    /// the first NUL, trailing whitespace removed, nothing set when empty.
    pub fn set_label_tag(&mut self, name: &'static str, raw: &[u8]) {
        let v = trim_end_c_space(cut_at_nul(raw));
        if !v.is_empty() {
            self.set(name, v.to_vec());
        }
    }

    /// `LABEL` from raw bytes (see [`Ctx::set_label_tag`]).
    pub fn set_label(&mut self, raw: &[u8]) {
        self.set_label_tag("LABEL", raw)
    }

    /// `LABEL` from UTF-16 code units (`big_endian` or little), converted to UTF-8
    /// as libblkid's `blkid_probe_set_utf8label` does: up to the first NUL, see
    /// [`encode_to_utf8`].
    pub fn set_utf16_label(&mut self, raw: &[u8], big_endian: bool) {
        let enc = if big_endian { Encoding::Utf16Be } else { Encoding::Utf16Le };
        self.set_label_tag("LABEL", &encode_to_utf8(enc, raw));
    }

    /// A 16-byte UUID as `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` under `name`;
    /// an all-zero UUID is not set (libblkid's `blkid_uuid_is_empty`).
    pub fn set_uuid_tag(&mut self, name: &'static str, raw: &[u8; 16]) {
        if raw.iter().all(|&b| b == 0) {
            return;
        }
        let s = uuid::Uuid::from_bytes(*raw).hyphenated().to_string();
        self.set(name, s.into_bytes());
    }

    /// `UUID` from 16 raw bytes.
    pub fn set_uuid(&mut self, raw: &[u8; 16]) {
        self.set_uuid_tag("UUID", raw)
    }

    /// `UUID` as already formatted `text` (a FAT serial `XXXX-XXXX`, an NTFS
    /// serial…), not set when the `raw` bytes it was made from are all zero, as
    /// libblkid's `blkid_probe_sprintf_uuid` does.
    pub fn set_uuid_formatted(&mut self, raw: &[u8], text: impl Into<String>) {
        if raw.iter().any(|&b| b != 0) {
            self.set("UUID", text.into().into_bytes());
        }
    }

    /// `VERSION`.
    pub fn set_version(&mut self, v: impl Into<String>) {
        self.set("VERSION", v.into().into_bytes());
    }

    /// `BLOCK_SIZE`, in bytes.
    pub fn set_block_size(&mut self, size: u64) {
        self.set("BLOCK_SIZE", size.to_string().into_bytes());
    }
}

/// `isspace()` in the C locale, which libblkid's trimming uses: unlike
/// [`u8::is_ascii_whitespace`] it includes the vertical tab.
pub fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn cut_at_nul(raw: &[u8]) -> &[u8] {
    raw.iter().position(|&b| b == 0).map_or(raw, |n| &raw[..n])
}

fn trim_end_c_space(v: &[u8]) -> &[u8] {
    let end = v.iter().rposition(|&b| !is_c_space(b)).map_or(0, |i| i + 1);
    &v[..end]
}

/// Character sets of on-disk strings that libblkid converts to UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Utf16Be,
    Utf16Le,
    Latin1,
}

/// Convert on-disk text to UTF-8 as util-linux's `ul_encode_to_utf8` does: stop
/// at the first NUL character, join valid surrogate pairs, and encode anything
/// else (lone surrogates too) as its own 1-3 byte sequence, so the result is
/// not always valid UTF-8. A trailing odd byte of UTF-16 is dropped.
pub fn encode_to_utf8(enc: Encoding, src: &[u8]) -> Vec<u8> {
    encode_to_utf8_max(enc, src, usize::MAX)
}

/// [`encode_to_utf8`] into a C buffer of `cap` bytes: at most `cap - 1` bytes
/// come out, and the first character that does not fit ends the conversion.
pub fn encode_to_utf8_max(enc: Encoding, src: &[u8], cap: usize) -> Vec<u8> {
    let unit = |i: usize| -> u32 {
        match enc {
            Encoding::Utf16Be => u32::from(src[i]) << 8 | u32::from(src[i + 1]),
            Encoding::Utf16Le => u32::from(src[i + 1]) << 8 | u32::from(src[i]),
            Encoding::Latin1 => u32::from(src[i]),
        }
    };
    let step = if enc == Encoding::Latin1 { 1 } else { 2 };
    let mut out = Vec::with_capacity(src.len() * 2);
    let mut i = 0;
    while i + step <= src.len() {
        let mut c = unit(i);
        i += step;
        if step == 2 && (0xd800..=0xdbff).contains(&c) && i + 2 <= src.len() {
            let low = unit(i);
            if (0xdc00..=0xdfff).contains(&low) {
                c = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
                i += 2;
            }
        }
        let need = match c {
            0 => break,
            1..=0x7f => 1,
            0x80..=0x7ff => 2,
            0x800..=0xffff => 3,
            _ => 4,
        };
        if out.len() + need >= cap {
            break;
        }
        match c {
            0..=0x7f => out.push(c as u8),
            0x80..=0x7ff => out.extend([0xc0 | (c >> 6) as u8, 0x80 | (c & 0x3f) as u8]),
            0x800..=0xffff => {
                out.extend([0xe0 | (c >> 12) as u8, 0x80 | ((c >> 6) & 0x3f) as u8, 0x80 | (c & 0x3f) as u8])
            }
            _ => out.extend([
                0xf0 | (c >> 18) as u8,
                0x80 | ((c >> 12) & 0x3f) as u8,
                0x80 | ((c >> 6) & 0x3f) as u8,
                0x80 | (c & 0x3f) as u8,
            ]),
        }
    }
    out
}

/// Helpers for libblkid's other ways of setting a value.
impl Ctx<'_> {
    /// Add a tag even if one of the same name exists, as libblkid's value list
    /// does (blkid then prints both).
    pub fn push(&mut self, name: &'static str, value: impl Into<Vec<u8>>) {
        self.tags.push(Tag { name, value: value.into() });
    }

    /// `LABEL` as [`Ctx::set_label`] makes it, but added even if a `LABEL`
    /// exists (libblkid keeps both).
    pub fn push_label(&mut self, raw: &[u8]) {
        let v = trim_end_c_space(cut_at_nul(raw));
        if !v.is_empty() {
            self.push("LABEL", v);
        }
    }

    /// An identifier tag (`SYSTEM_ID`, `SUBSYSTEM`…) as libblkid's
    /// `blkid_probe_set_id_label` sets it: cut at the first NUL, whitespace
    /// trimmed at both ends, nothing set when empty.
    pub fn set_id_label(&mut self, name: &'static str, raw: &[u8]) {
        let v = trim_end_c_space(cut_at_nul(raw));
        let start = v.iter().position(|&b| !is_c_space(b)).unwrap_or(v.len());
        if start < v.len() {
            self.set(name, v[start..].to_vec());
        }
    }

    /// `LABEL` from text in `enc`, as `blkid_probe_set_utf8label` (trailing
    /// whitespace trimmed).
    pub fn set_encoded_label(&mut self, raw: &[u8], enc: Encoding) {
        self.set_label_tag("LABEL", &encode_to_utf8(enc, raw));
    }

    /// An identifier tag from text in `enc`, as `blkid_probe_set_utf8_id_label`
    /// (whitespace trimmed at both ends).
    pub fn set_encoded_id_label(&mut self, name: &'static str, raw: &[u8], enc: Encoding) {
        self.set_id_label(name, &encode_to_utf8(enc, raw));
    }

    /// `UUID` stored as a string, as `blkid_probe_strncpy_uuid`: not set when
    /// the first byte is NUL, cut at a NUL, trailing whitespace trimmed.
    pub fn set_uuid_string(&mut self, raw: &[u8]) {
        if raw.first().is_some_and(|&b| b != 0) {
            self.set_label_tag("UUID", raw);
        }
    }
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

/// The first of `prober`'s magics present on the device, as libblkid's
/// `blkid_probe_get_idmag` finds it.
pub fn find_magic(reader: &mut Reader, prober: &'static Prober) -> io::Result<Option<&'static Magic>> {
    for m in prober.magics {
        // libblkid reads the whole KiB holding the magic: a device that ends
        // inside it does not have the magic even if its bytes are there.
        let within = m.offset() % 1024;
        if !reader.fits(m.offset() - within, (within + m.bytes.len() as u64).max(1024)) {
            continue;
        }
        match reader.read(m.offset(), m.bytes.len()) {
            Ok(b) if b == m.bytes => return Ok(Some(m)),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {}
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// Run one prober at the device: magics first, then its function.
fn run_one(reader: &mut Reader, medium: Medium, prober: &'static Prober) -> io::Result<Option<Found>> {
    let magic = match find_magic(reader, prober)? {
        None if !prober.magics.is_empty() => return Ok(None),
        found => found,
    };
    let mut ctx = Ctx::new(reader, magic);
    ctx.medium = medium;
    match (prober.probe)(&mut ctx) {
        Ok(true) => Ok(Some(Found { name: prober.name, usage: prober.usage, tags: ctx.into_tags() })),
        Ok(false) => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e),
    }
}

/// Probe for filesystem, RAID and crypto signatures as libblkid's
/// `superblocks_safeprobe` does: the first RAID or crypto signature ends the
/// search; otherwise every prober runs and more than one result, unless all
/// are tolerant, is ambivalent.
pub fn probe_superblocks(reader: &mut Reader) -> io::Result<Outcome> {
    safeprobe(reader, Medium::default(), &|_| true)
}

/// [`probe_superblocks`] with only the probers `allowed` lets through (`-n`, `-u`).
fn safeprobe(reader: &mut Reader, medium: Medium, allowed: &dyn Fn(&Prober) -> bool) -> io::Result<Outcome> {
    // libblkid ignores devices of 1024 bytes or less (extended-partition stubs).
    if reader.size() <= 1024 {
        return Ok(Outcome::Nothing);
    }
    let tiny = reader.size() <= TINY;
    let mut found: Vec<Found> = Vec::new();
    let mut intolerant = 0;
    // Once the verdict is "ambivalent", the rest of the table is still run:
    // the list of candidates (`ID_FS_AMBIVALENT`) names every match.
    let mut ambivalent = false;
    for &prober in PROBERS {
        if !allowed(prober) {
            continue;
        }
        // No RAID on floppies, no RAID, swap or journal on CDs.
        if (tiny || medium.cdrom) && prober.usage == Usage::Raid || medium.cdrom && prober.usage == Usage::Other {
            continue;
        }
        let Some(f) = run_one(reader, medium, prober)? else { continue };
        // On a floppy-sized device the first signature is the answer.
        if tiny && found.is_empty() {
            return Ok(Outcome::Found(f));
        }
        if ambivalent {
            found.push(f);
            continue;
        }
        let ends = matches!(f.usage, Usage::Raid | Usage::Crypto);
        if !prober.tolerant && !ends {
            intolerant += 1;
        }
        found.push(f);
        if ends {
            if found.len() > 1 && intolerant > 0 {
                ambivalent = true;
                continue;
            }
            break;
        }
    }
    Ok(match found.len() {
        0 => Outcome::Nothing,
        1 => Outcome::Found(found.remove(0)),
        _ if intolerant == 0 => Outcome::Found(found.remove(0)),
        _ => Outcome::Ambivalent(found),
    })
}

/// Helpers for tests that compare the prober with util-linux on real images.
#[cfg(test)]
pub(crate) mod testutil {
    use super::{probe_path, Options, Probed};
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::sync::atomic::{AtomicU32, Ordering};

    pub const BLKID: &str = "/usr/sbin/blkid";

    /// Tags as (name, value) pairs.
    pub type Pairs = Vec<(&'static str, Vec<u8>)>;

    /// One probe function run over `img` in memory with `magic` found: the
    /// tags it set when it matched, `None` when it did not.
    pub fn probe_bytes(
        probe: fn(&mut super::Ctx) -> std::io::Result<bool>,
        magic: Option<&'static super::Magic>,
        img: Vec<u8>,
    ) -> std::io::Result<Option<Pairs>> {
        let mut r = super::Reader::from_bytes(img);
        let mut ctx = super::Ctx::new(&mut r, magic);
        let matched = probe(&mut ctx)?;
        Ok(matched.then(|| ctx.into_tags().into_iter().map(|t| (t.name, t.value)).collect()))
    }

    /// A fresh directory, removed with everything in it when dropped.
    pub struct TempDir(pub PathBuf);

    impl TempDir {
        pub fn new(tag: &str) -> TempDir {
            static N: AtomicU32 = AtomicU32::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
            let dir = std::env::temp_dir().join(format!("krazybox-{tag}-{}-{n}-{nanos}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("create temp dir");
            TempDir(dir)
        }

        pub fn path(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Whether `tool` can be run (found in PATH or the sbin directories).
    pub fn have(tool: &str) -> bool {
        ["/usr/sbin", "/sbin", "/usr/bin", "/bin"].iter().any(|d| Path::new(d).join(tool).exists())
    }

    /// Run a command, panicking with its stderr when it fails.
    pub fn run(cmd: &str, args: &[&str]) {
        let out = Command::new(cmd).args(args).output().unwrap_or_else(|e| panic!("{cmd}: {e}"));
        assert!(out.status.success(), "{cmd} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// An image file of `size` bytes, all zero.
    pub fn zero_image(path: &Path, size: u64) {
        let f = std::fs::File::create(path).expect("create image");
        f.set_len(size).expect("size image");
    }

    /// `blkid -p -o export` as lines after `DEVNAME`, or `None` when blkid found
    /// nothing or an ambivalent result (exit status 2 or 8).
    pub fn blkid_export(path: &Path, extra: &[&str]) -> Option<Vec<Vec<u8>>> {
        let out = Command::new(BLKID).args(["-p", "-o", "export"]).args(extra).arg(path).output().expect("run blkid");
        if !out.status.success() {
            return None;
        }
        let lines: Vec<Vec<u8>> = out
            .stdout
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty() && !l.starts_with(b"DEVNAME="))
            .map(<[u8]>::to_vec)
            .collect();
        Some(lines)
    }

    /// Our result in the same form as [`blkid_export`].
    pub fn our_export(path: &Path, opts: &Options) -> Option<Vec<Vec<u8>>> {
        match probe_path(path, opts).expect("probe") {
            Probed::Tags(tags) => Some(
                tags.iter()
                    .map(|t| {
                        let mut l = t.name.as_bytes().to_vec();
                        l.push(b'=');
                        l.extend(super::escape_value(&t.value, super::EXPORT_SPECIAL));
                        l
                    })
                    .collect(),
            ),
            Probed::Nothing | Probed::Ambivalent(_) => None,
        }
    }

    /// Assert that krazybox and util-linux blkid report the same tags for `path`.
    pub fn assert_same_as_blkid(path: &Path) {
        let want = blkid_export(path, &[]);
        let got = our_export(path, &Options::default());
        let show = |v: &Option<Vec<Vec<u8>>>| {
            v.as_ref().map(|l| l.iter().map(|x| String::from_utf8_lossy(x).into_owned()).collect::<Vec<_>>())
        };
        assert!(want.is_some(), "blkid found nothing on {}", path.display());
        assert_eq!(show(&got), show(&want), "{}", path.display());
    }

    /// A loop device over an image, with its partitions made visible
    /// (`losetup -P` then `partx -a`), detached when dropped.
    pub struct LoopDev(pub PathBuf);

    impl LoopDev {
        pub fn attach(img: &Path) -> LoopDev {
            let out = Command::new("losetup").args(["-f", "--show", "-P"]).arg(img).output().expect("run losetup");
            assert!(out.status.success(), "losetup: {}", String::from_utf8_lossy(&out.stderr));
            let dev = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            let guard = LoopDev(dev);
            // partx -a fails harmlessly when the kernel already added them.
            let _ = Command::new("partx").arg("-a").arg(&guard.0).output();
            let _ = Command::new("udevadm").args(["settle", "-t", "5"]).output();
            guard
        }

        /// The node of partition `n`, e.g. `/dev/loop3p1`.
        pub fn part(&self, n: u32) -> PathBuf {
            PathBuf::from(format!("{}p{n}", self.0.display()))
        }
    }

    impl Drop for LoopDev {
        fn drop(&mut self) {
            let _ = Command::new("partx").arg("-d").arg(&self.0).output();
            let _ = Command::new("losetup").arg("-d").arg(&self.0).output();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::{blkid_export, have, our_export, run, zero_image, TempDir};
    use super::*;

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
        let fs = dir.path("fs.img");
        zero_image(&fs, 8 << 20);
        run("mkfs.ext4", &["-q", "-F", "-L", "inner", fs.to_str().expect("utf-8")]);
        let outer = dir.path("outer.img");
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
        use super::testutil::LoopDev;
        if !have("mkfs.ext4") || !std::path::Path::new("/dev/loop-control").exists() {
            eprintln!("skipped: mkfs.ext4 or loop devices missing");
            return;
        }
        let dir = TempDir::new("find");
        let img = dir.path("fs.img");
        zero_image(&img, 8 << 20);
        // A label no other device has.
        let label = format!("kbx{}", std::process::id());
        run("mkfs.ext4", &["-q", "-F", "-L", &label, img.to_str().expect("utf-8")]);
        let lo = LoopDev::attach(&img);
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
    fn no_raid_or_other_signatures_on_cds() {
        // A swap signature at the end of the first page, then also a JMicron member at the end.
        let mut swap = vec![0u8; 2 << 20];
        swap[4086..4096].copy_from_slice(b"SWAPSPACE2");
        swap[1024] = 1;
        swap[1028] = 9;
        let mut jm = swap.clone();
        let n = jm.len();
        jm[n - 512..n - 510].copy_from_slice(b"JM");
        let run = |img: &[u8], medium: Medium| {
            let mut r = Reader::from_bytes(img.to_vec());
            match safeprobe(&mut r, medium, &|_| true).unwrap() {
                Outcome::Found(f) => Some(f.name),
                _ => None,
            }
        };
        assert_eq!(run(&swap, Medium::default()), Some("swap"));
        assert_eq!(run(&jm, Medium::default()), Some("jmicron_raid_member"));
        let cd = Medium { regular_file: false, whole_disk: true, cdrom: true, sector_size: 2048 };
        assert_eq!(run(&swap, cd), None);
        assert_eq!(run(&jm, cd), None);
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

#[cfg(test)]
mod value_tests {
    use super::*;

    #[test]
    fn encode_to_utf8_follows_util_linux() {
        // A surrogate pair joins; a lone surrogate is encoded as it is; NUL ends.
        let be = [0xd8, 0x3d, 0xde, 0x00, 0xd8, 0x00, 0x00, b'a', 0x00, 0x00, 0x00, b'b'];
        assert_eq!(encode_to_utf8(Encoding::Utf16Be, &be), b"\xf0\x9f\x98\x80\xed\xa0\x80a");
        assert_eq!(encode_to_utf8(Encoding::Utf16Le, b"a\0\xe9\0z"), "aé".as_bytes());
        assert_eq!(encode_to_utf8(Encoding::Latin1, b"caf\xe9"), "café".as_bytes());
        // A 5-byte buffer holds 4 bytes and the NUL: "é" does not fit after "abc".
        assert_eq!(encode_to_utf8_max(Encoding::Latin1, b"abc\xe9", 5), b"abc");
    }

    #[test]
    fn labels_trim_like_c_isspace() {
        let mut r = Reader::from_bytes(vec![]);
        let mut ctx = Ctx::new(&mut r, None);
        ctx.set_label(b"lbl \x0b\t\0junk");
        ctx.set_id_label("SYSTEM_ID", b"\x0b  id  ");
        ctx.set_id_label("EMPTY", b"   ");
        ctx.set_uuid_string(b"\0abc");
        ctx.push("X", "1");
        ctx.push("X", "2");
        let tags: Vec<_> = ctx.tags().iter().map(|t| (t.name, t.value.as_slice())).collect();
        assert_eq!(tags, [("LABEL", &b"lbl"[..]), ("SYSTEM_ID", b"id"), ("X", b"1"), ("X", b"2")]);
    }
}
