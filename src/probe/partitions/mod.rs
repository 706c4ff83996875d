//! Partition tables: what `PTTYPE`/`PTUUID` a whole disk reports and which
//! table entry a partition device comes from (`PART_ENTRY_*`).
//!
//! libblkid 2.38.1 (`partitions/partitions.c`) tries aix, sgi, sun, dos, gpt,
//! PMBR, mac, ultrix, bsd, unixware, solaris, minix and atari in that order;
//! krazybox reads the ones a Linux appliance meets: dos (MBR), gpt and a
//! protective MBR whose GPT is gone (PMBR), plus the AIX signature, which
//! comes first and hides the rest. Nested tables inside dos partitions (BSD
//! disklabels and the like) are not read.
#![forbid(unsafe_code)]

mod dos;
mod gpt;

pub use gpt::crc32;

use super::Reader;
use std::io;

/// One entry of a partition table. Offsets and sizes are in 512-byte sectors,
/// whatever the device's sector size, as libblkid reports them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// The number the kernel gives the partition device (`loop0p5` is 5).
    pub number: u32,
    pub start: u64,
    pub size: u64,
    /// `PART_ENTRY_TYPE`: a GPT type GUID, or `0x83`-style for dos.
    pub type_name: String,
    /// `PART_ENTRY_NAME` (GPT only), UTF-8.
    pub name: Option<Vec<u8>>,
    /// `PART_ENTRY_UUID`: the GPT partition GUID, or `<disk id>-NN` for dos.
    pub uuid: Option<String>,
    /// `PART_ENTRY_FLAGS`: GPT attribute bits, or the dos boot indicator.
    pub flags: u64,
    /// A dos extended partition (the container of the logical ones).
    pub extended: bool,
}

/// A partition table found on a disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    /// `PTTYPE`: `dos`, `gpt` or `PMBR`.
    pub scheme: &'static str,
    /// `PTUUID`: the dos disk id (`0x1234abcd` as `1234abcd`) or the GPT disk GUID.
    pub id: Option<String>,
    pub partitions: Vec<Partition>,
}

/// What the partition probers need besides the bytes.
#[derive(Clone, Copy, Debug)]
pub struct Disk<'a> {
    /// Logical sector size; GPT LBAs and dos entries count in these.
    pub sector_size: u64,
    /// The `TYPE` the superblock chain found on the same device, if any
    /// (an LVM physical volume with an empty MBR is not a partitioned disk).
    pub fs_type: Option<&'a str>,
}

impl Default for Disk<'_> {
    fn default() -> Self {
        Disk { sector_size: 512, fs_type: None }
    }
}

/// Find the partition table on `r`, trying the schemes in libblkid's order.
pub fn probe_table(r: &mut Reader, disk: Disk) -> io::Result<Option<Table>> {
    // Sector sizes come from the kernel, but stay defensive about odd values.
    let disk = Disk { sector_size: disk.sector_size.clamp(512, 65536), ..disk };
    // AIX: nothing is known of its layout but the magic at the start of the disk.
    if eof_is_none(r.read(0, 1024).map(Some))?.is_some_and(|b| b.starts_with(AIX_MAGIC)) {
        return Ok(Some(Table { scheme: "aix", id: None, partitions: Vec::new() }));
    }
    if let Some(t) = eof_is_none(dos::probe(r, disk))? {
        return Ok(Some(t));
    }
    if let Some(t) = eof_is_none(gpt::probe(r, disk))? {
        return Ok(Some(t));
    }
    if eof_is_none(gpt::probe_pmbr(r, disk))?.unwrap_or(false) {
        return Ok(Some(Table { scheme: "PMBR", id: None, partitions: Vec::new() }));
    }
    Ok(None)
}

/// Whether the area `[offset, offset + size)` of `r` lies inside one partition of a
/// sane table (libblkid's `blkid_probe_is_covered_by_pt`): RAID and ZFS
/// probers use it to ignore signatures that belong to a partition.
pub fn is_covered_by_pt(r: &mut Reader, offset: u64, size: u64) -> io::Result<bool> {
    let Some(t) = probe_table(r, Disk::default())? else { return Ok(false) };
    let sectors = r.size() >> 9;
    if t.partitions.iter().any(|p| p.start.saturating_add(p.size) > sectors) {
        return Ok(false);
    }
    let start = offset >> 9;
    let end = offset.saturating_add(size) >> 9;
    Ok(t.partitions.iter().any(|p| start >= p.start && end <= p.start.saturating_add(p.size)))
}

/// The partition a kernel partition device of `start` and `size` (sectors,
/// from sysfs) stands for, as libblkid matches them: same start and size, or
/// for a dos extended partition the 1 KiB stub the kernel makes of it.
pub fn find_partition(t: &Table, start: u64, size: u64) -> Option<&Partition> {
    t.partitions.iter().find(|p| p.start == start && (p.size == size || (p.extended && size <= 1024)))
}

/// Reads past the end of the device mean "no table here".
fn eof_is_none<T>(r: io::Result<Option<T>>) -> io::Result<Option<T>> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
        other => other,
    }
}

/// The 0x55 0xAA boot signature that ends an MBR.
fn has_mbr_magic(sector0: &[u8]) -> bool {
    sector0.len() >= 512 && sector0[510] == 0x55 && sector0[511] == 0xaa
}

/// The first bytes of an AIX disk ("IBMA" in EBCDIC).
const AIX_MAGIC: &[u8] = b"\xc9\xc2\xd4\xc1";

/// The dos partition type of a GPT protective MBR entry.
const MBR_GPT_PARTITION: u8 = 0xee;

/// One of the four 16-byte MBR entries at 446.
#[derive(Clone, Copy, Debug)]
struct MbrEntry {
    boot_ind: u8,
    sys_ind: u8,
    start: u32,
    size: u32,
}

fn mbr_entries(sector: &[u8]) -> [MbrEntry; 4] {
    let e = |i: usize| {
        let b = &sector[446 + 16 * i..446 + 16 * (i + 1)];
        MbrEntry {
            boot_ind: b[0],
            sys_ind: b[4],
            start: u32::from_le_bytes([b[8], b[9], b[10], b[11]]),
            size: u32::from_le_bytes([b[12], b[13], b[14], b[15]]),
        }
    };
    [e(0), e(1), e(2), e(3)]
}

/// UTF-16 to UTF-8 as util-linux's `ul_encode_to_utf8`: stops at a NUL unit,
/// pairs surrogates and encodes a lone one as it is (3 bytes), and keeps the
/// result under `max` bytes.
pub(crate) fn utf16_to_utf8(src: &[u8], little_endian: bool, max: usize) -> Vec<u8> {
    let unit = |i: usize| {
        let (a, b) = (src[i], src[i + 1]);
        u32::from(if little_endian { u16::from_le_bytes([a, b]) } else { u16::from_be_bytes([a, b]) })
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i + 2 <= src.len() {
        let mut c = unit(i);
        i += 2;
        if (0xd800..=0xdbff).contains(&c) && i + 2 <= src.len() {
            let c2 = unit(i);
            if (0xdc00..=0xdfff).contains(&c2) {
                c = 0x10000 + ((c - 0xd800) << 10) + (c2 - 0xdc00);
                i += 2;
            }
        }
        if c == 0 {
            break;
        }
        let need = match c {
            0..=0x7f => 1,
            0x80..=0x7ff => 2,
            0x800..=0xffff => 3,
            _ => 4,
        };
        if out.len() + need >= max {
            break;
        }
        match need {
            1 => out.push(c as u8),
            2 => out.extend_from_slice(&[0xc0 | (c >> 6) as u8, 0x80 | (c & 0x3f) as u8]),
            3 => out.extend_from_slice(&[
                0xe0 | (c >> 12) as u8,
                0x80 | ((c >> 6) & 0x3f) as u8,
                0x80 | (c & 0x3f) as u8,
            ]),
            _ => out.extend_from_slice(&[
                0xf0 | (c >> 18) as u8,
                0x80 | ((c >> 12) & 0x3f) as u8,
                0x80 | ((c >> 6) & 0x3f) as u8,
                0x80 | (c & 0x3f) as u8,
            ]),
        }
    }
    out
}

/// C `isspace` in the C locale, which libblkid's trimming uses.
pub(crate) fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

#[cfg(test)]
mod tests;
