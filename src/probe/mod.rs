//! Filesystem, RAID, crypto and partition-table signatures: a read-only,
//! pure-Rust prober whose results match util-linux libblkid's.
//!
//! A superblock prober is data plus one small function: a [`Prober`] names the
//! type, its usage, the magic strings that announce it and the function that
//! checks the rest and sets the tags. The table of all of them, in libblkid's
//! order (which decides ambivalence and tag order), is in [`superblocks`].
#![forbid(unsafe_code)]

pub mod device;
pub mod highlevel;
pub mod reader;
pub mod superblocks;

pub use device::block_devices;
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
    /// superblock probing (-p default on; blkid -n/-u filters)
    pub superblocks: bool,
    /// Only (or, negated, all but) these types (`-n`).
    pub types: Option<Filter>,
    /// Only (or, negated, all but) these usages (`-u`: filesystem, raid, crypto, other).
    pub usages: Option<Filter>,
    /// partition-table probing of whole disks (PTUUID/PTTYPE) and PART_ENTRY_* for partitions
    pub partitions: bool,
    pub part_entry: bool,
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
    Ambivalent(Vec<Found>),
    /// All tags in libblkid's order, `TYPE`, `USAGE`, `PTUUID`, `PTTYPE`,
    /// `PART_ENTRY_*` included: what `blkid -p -o export` prints after `DEVNAME`.
    Tags(Vec<Tag>),
}

/// libblkid low-level result, all tags in libblkid's order including TYPE, USAGE, (SEC_TYPE…),
/// PTUUID, PTTYPE, PART_ENTRY_* — exactly what `blkid -p -o export` prints after DEVNAME.
pub fn probe_path(path: &Path, opts: &Options) -> io::Result<Probed> {
    let file = std::fs::File::open(path)?;
    let mut reader = Reader::from_file(file, opts.offset, opts.size)?;
    probe_reader(&mut reader, opts)
}

/// [`probe_path`] over an open reader; no `PART_ENTRY_*` (there is no parent disk to read).
pub fn probe_reader(r: &mut Reader, opts: &Options) -> io::Result<Probed> {
    let _ = opts;
    Ok(match probe_superblocks(r)? {
        Outcome::Nothing => Probed::Nothing,
        Outcome::Ambivalent(v) => Probed::Ambivalent(v),
        Outcome::Found(f) => {
            let mut tags = f.tags;
            tags.push(Tag { name: "TYPE", value: f.name.as_bytes().to_vec() });
            tags.push(Tag { name: "USAGE", value: f.usage.as_str().as_bytes().to_vec() });
            Probed::Tags(tags)
        }
    })
}

/// Every device whose high-level tag `name` equals `value` (UUID, LABEL, PARTUUID, PARTLABEL, TYPE…),
/// in [`block_devices`] order.
pub fn find_devices(name: &str, value: &[u8]) -> io::Result<Vec<PathBuf>> {
    let _ = (name, value);
    Ok(Vec::new())
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

/// What a prober gets: the device, the magic that matched, and where tags go.
pub struct Ctx<'r> {
    pub reader: &'r mut Reader,
    /// The magic that matched, if the prober has magics.
    pub magic: Option<&'static Magic>,
    tags: Vec<Tag>,
}

impl<'r> Ctx<'r> {
    pub fn new(reader: &'r mut Reader, magic: Option<&'static Magic>) -> Ctx<'r> {
        Ctx { reader, magic, tags: Vec::new() }
    }

    /// `len` bytes at `off`; see [`Reader::read`].
    pub fn read(&mut self, off: u64, len: usize) -> io::Result<Vec<u8>> {
        self.reader.read(off, len)
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
        let cut = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        let mut v = &raw[..cut];
        while let [rest @ .., last] = v {
            if last.is_ascii_whitespace() {
                v = rest;
            } else {
                break;
            }
        }
        if !v.is_empty() {
            self.set(name, v.to_vec());
        }
    }

    /// `LABEL` from raw bytes (see [`Ctx::set_label_tag`]).
    pub fn set_label(&mut self, raw: &[u8]) {
        self.set_label_tag("LABEL", raw)
    }

    /// `LABEL` from UTF-16 code units (`big_endian` or little), converted to UTF-8
    /// as libblkid's `blkid_probe_set_utf8label` does: up to the first NUL.
    pub fn set_utf16_label(&mut self, raw: &[u8], big_endian: bool) {
        let units = raw.chunks_exact(2).map(|c| {
            if big_endian {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from_le_bytes([c[0], c[1]])
            }
        });
        let units: Vec<u16> = units.take_while(|&u| u != 0).collect();
        let s: String = char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)).collect();
        self.set_label_tag("LABEL", s.as_bytes());
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

    /// `VERSION`.
    pub fn set_version(&mut self, v: impl Into<String>) {
        self.set("VERSION", v.into().into_bytes());
    }

    /// `BLOCK_SIZE`, in bytes.
    pub fn set_block_size(&mut self, size: u64) {
        self.set("BLOCK_SIZE", size.to_string().into_bytes());
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

/// Run one prober at the device: magics first, then its function.
fn run_one(reader: &mut Reader, prober: &'static Prober) -> io::Result<Option<Found>> {
    let magic = if prober.magics.is_empty() {
        None
    } else {
        let mut hit = None;
        for m in prober.magics {
            match reader.read(m.offset(), m.bytes.len()) {
                Ok(b) if b == m.bytes => {
                    hit = Some(m);
                    break;
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {}
                Err(e) => return Err(e),
            }
        }
        match hit {
            Some(m) => Some(m),
            None => return Ok(None),
        }
    };
    let mut ctx = Ctx::new(reader, magic);
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
    // libblkid ignores devices of 1024 bytes or less (extended-partition stubs).
    if reader.size() <= 1024 {
        return Ok(Outcome::Nothing);
    }
    let mut found: Vec<Found> = Vec::new();
    let mut intolerant = 0;
    for &prober in PROBERS {
        let Some(f) = run_one(reader, prober)? else { continue };
        let ends = matches!(f.usage, Usage::Raid | Usage::Crypto);
        if !prober.tolerant && !ends {
            intolerant += 1;
        }
        found.push(f);
        if ends {
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
