//! Partition tables: what `PTTYPE`/`PTUUID` a whole disk reports and which
//! table entry a partition device comes from (`PART_ENTRY_*`).
//!
//! libblkid 2.38.1 (`partitions/partitions.c`) tries aix, sgi, sun, dos, gpt,
//! PMBR, mac, ultrix, bsd, unixware, solaris, minix and atari in that order,
//! and so does [`probe_table`]. It probes in two ways, and so do we: for
//! `PTTYPE` alone ([`probe_table`]) most probers stop after their first check,
//! and a BSD disklabel is never reported; for the list of partitions
//! ([`probe_partitions`], behind `PART_ENTRY_*` and the RAID probers' "is
//! this area inside a partition" check) every prober reads its entries, and
//! the dos prober looks for the tables nested in its primary partitions (BSD,
//! UnixWare, Solaris x86, Minix), whose partitions continue the numbering
//! after the logical ones.
#![forbid(unsafe_code)]

mod atari;
mod bsd;
mod dos;
mod gpt;
mod mac;
mod minix;
mod sgi;
mod solaris;
mod sun;
mod ultrix;
mod unixware;

use super::field::{layout, Fields, Le32, U8};
use super::{Magic, Reader};
use std::io;

/// One entry of a partition table. Offsets and sizes are in 512-byte sectors,
/// whatever the device's sector size, as libblkid reports them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// `PART_ENTRY_SCHEME`: the type of the table the entry is in (`dos`, or
    /// `freebsd` for an entry of a BSD label nested in a dos partition).
    pub scheme: &'static str,
    /// The number the kernel gives the partition device (`loop0p5` is 5).
    pub number: u32,
    pub start: u64,
    pub size: u64,
    /// `PART_ENTRY_TYPE`: a GPT type GUID, a type name (mac, atari: bytes as
    /// the table has them), or `0x83`-style for the tables with numeric types.
    pub type_name: Vec<u8>,
    /// libblkid's numeric type (the dos `sys_ind`, a BSD `fstype`…); 0 where
    /// the type is a string or a GUID.
    pub type_code: u32,
    /// `PART_ENTRY_NAME` (GPT, mac).
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
    /// `PTTYPE`: `dos`, `gpt`, `PMBR`, `sun`, …
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

/// The partition table on `r` as `PTTYPE` sees it (libblkid's probing without
/// partition details), trying the schemes in libblkid's order.
pub fn probe_table(r: &mut Reader, disk: Disk) -> io::Result<Option<Table>> {
    probe_chain(r, disk, false)
}

/// The partition table on `r` with every entry, nested tables included, as
/// libblkid's `blkid_probe_get_partitions` lists them.
pub fn probe_partitions(r: &mut Reader, disk: Disk) -> io::Result<Option<Table>> {
    probe_chain(r, disk, true)
}

fn probe_chain(r: &mut Reader, disk: Disk, list: bool) -> io::Result<Option<Table>> {
    // Sector sizes come from the kernel, but stay defensive about odd values.
    let disk = Disk { sector_size: disk.sector_size.clamp(512, 65536), ..disk };
    // AIX: nothing is known of its layout but the magic at the start of the disk.
    // libblkid reads the KiB that holds it; the magic's bytes decide.
    if r.fits(0, 1024) && r.read(0, AIX_MAGIC.len())? == AIX_MAGIC {
        return Ok(Some(Table { scheme: "aix", id: None, partitions: Vec::new() }));
    }
    let size = r.size();
    let probers: [(&'static str, Prober); 2] = [("sgi", sgi::probe), ("sun", sun::probe)];
    for (scheme, probe) in probers {
        if let Some(t) = run(r, 0, size, disk, list, scheme, probe)? {
            return Ok(Some(t));
        }
    }
    if let Some(mut t) = eof_is_none(dos::probe(r, disk))? {
        if list && size > TINY && !nested(r, &mut t, disk)? {
            // A nested table that overflows the disk is an error for libblkid:
            // no partitions at all.
            return Ok(None);
        }
        return Ok(Some(t));
    }
    if let Some(t) = eof_is_none(gpt::probe(r, disk))? {
        return Ok(Some(t));
    }
    if eof_is_none(gpt::probe_pmbr(r, disk))?.unwrap_or(false) {
        return Ok(Some(Table { scheme: "PMBR", id: None, partitions: Vec::new() }));
    }
    let probers: [(&'static str, Prober); 5] = [
        ("mac", mac::probe),
        ("ultrix", ultrix::probe),
        // libblkid reports a BSD label only in the partition list.
        ("bsd", if list { bsd::probe } else { never }),
        ("unixware", unixware::probe),
        ("solaris", solaris::probe),
    ];
    for (scheme, probe) in probers {
        if let Some(t) = run(r, 0, size, disk, list, scheme, probe)? {
            return Ok(Some(t));
        }
    }
    // A Minix table exists only inside a dos partition of its type.
    run(r, 0, size, disk, list, "atari", atari::probe)
}

/// libblkid's "tiny device" (floppy-sized or smaller): no nested tables there.
const TINY: u64 = 1440 * 1024;

/// A table prober: checks the table in `w` and, when `ls.list`, adds its entries.
/// `Ok(false)`: not this table.
type Prober = fn(&mut Window, &mut List) -> io::Result<bool>;

fn never(_: &mut Window, _: &mut List) -> io::Result<bool> {
    Ok(false)
}

/// Run one prober on the window `[base, base + size)` of `r` as a top-level table.
fn run(
    r: &mut Reader,
    base: u64,
    size: u64,
    disk: Disk,
    list: bool,
    scheme: &'static str,
    probe: Prober,
) -> io::Result<Option<Table>> {
    let mut w = Window { r, base, size, sector_size: disk.sector_size };
    let mut ls = List { list, next: 1, parent: None, partitions: Vec::new() };
    let found = eof_is_none(probe(&mut w, &mut ls).map(Some))?.unwrap_or(false);
    Ok(found.then_some(Table { scheme, id: None, partitions: ls.partitions }))
}

/// The tables nested in the primary partitions of a dos table, by partition type.
const NESTED: [(u8, Prober); 6] = [
    (MBR_FREEBSD_PARTITION, bsd::probe),
    (MBR_NETBSD_PARTITION, bsd::probe),
    (MBR_OPENBSD_PARTITION, bsd::probe),
    (MBR_UNIXWARE_PARTITION, unixware::probe),
    (MBR_SOLARIS_X86_PARTITION, solaris::probe),
    (MBR_MINIX_PARTITION, minix::probe),
];

/// Add the entries of the tables nested in `t`'s primary partitions (libblkid's
/// `blkid_partitions_do_subprobe`): each prober sees the partition as its device.
/// `Ok(false)`: a partition to look into ends past the device, which libblkid
/// treats as an error.
fn nested(r: &mut Reader, t: &mut Table, disk: Disk) -> io::Result<bool> {
    // Nested entries are numbered after the logical partitions.
    let next = t.partitions.iter().map(|p| p.number.saturating_add(1)).max().unwrap_or(0).max(5);
    let mut ls = List { list: true, next, parent: None, partitions: std::mem::take(&mut t.partitions) };
    let count = ls.partitions.len();
    for i in 0..count {
        let parent = ls.partitions[i].clone();
        // Logical partitions (numbers above 4) and extended ones are not looked into.
        if parent.size == 0 || parent.extended || parent.number > 4 {
            continue;
        }
        let Some((_, probe)) = NESTED.iter().find(|(k, _)| u32::from(*k) == parent.type_code) else { continue };
        let (Some(base), Some(size)) = (parent.start.checked_mul(512), parent.size.checked_mul(512)) else {
            t.partitions = ls.partitions;
            return Ok(false);
        };
        if base.checked_add(size).map_or(true, |end| end > r.size()) {
            t.partitions = ls.partitions;
            return Ok(false);
        }
        let mut w = Window { r, base, size, sector_size: disk.sector_size };
        ls.parent = Some(parent);
        eof_is_none(probe(&mut w, &mut ls).map(Some))?;
        ls.parent = None;
    }
    t.partitions = ls.partitions;
    Ok(true)
}

/// The part of a device a table prober sees: the whole disk, or for a nested
/// table the dos partition it is in. Offsets are relative to the window.
pub(super) struct Window<'a> {
    r: &'a mut Reader,
    base: u64,
    size: u64,
    /// The device's logical sector size.
    sector_size: u64,
}

impl Window<'_> {
    /// `len` bytes at `off`; a range outside the window is an
    /// [`io::ErrorKind::UnexpectedEof`] error.
    fn read(&mut self, off: u64, len: usize) -> io::Result<Vec<u8>> {
        let end = off.checked_add(len as u64).ok_or(io::ErrorKind::UnexpectedEof)?;
        if end > self.size {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.r.read(self.base + off, len)
    }

    /// Like [`Window::read`], but `None` when the range is outside the window.
    fn read_opt(&mut self, off: u64, len: usize) -> io::Result<Option<Vec<u8>>> {
        eof_is_none(self.read(off, len).map(Some))
    }

    /// The 512-byte sector `n` (libblkid's `blkid_probe_get_sector`), if inside the window.
    fn sector(&mut self, n: u64) -> io::Result<Option<Vec<u8>>> {
        match n.checked_mul(512) {
            Some(off) => self.read_opt(off, 512),
            None => Ok(None),
        }
    }

    /// Whether `[off, off + len)` lies inside the window.
    fn fits(&self, off: u64, len: u64) -> bool {
        off.checked_add(len).is_some_and(|end| end <= self.size)
    }

    /// The first of `magics` found, as libblkid looks for them: the KiB that holds
    /// the magic must be inside the window. Only the magic's bytes are read.
    fn find_magic(&mut self, magics: &'static [Magic]) -> io::Result<Option<&'static Magic>> {
        for m in magics {
            let kib = m.kboff + (m.sboff >> 10);
            let Some(off) = kib.checked_mul(1024) else { continue };
            if !self.fits(off, 1024) {
                continue;
            }
            if self.read(off + (m.sboff & 0x3ff), m.bytes.len())? == m.bytes {
                return Ok(Some(m));
            }
        }
        Ok(None)
    }

    fn size(&self) -> u64 {
        self.size
    }
}

/// The list of partitions being built (libblkid's `blkid_partlist`).
pub(super) struct List {
    /// Whether the entries are wanted at all; otherwise a prober stops once it
    /// knows the table is there.
    list: bool,
    /// The number the next entry gets.
    next: u32,
    /// The dos partition a nested table is in.
    parent: Option<Partition>,
    partitions: Vec<Partition>,
}

impl List {
    /// An entry with the next number, of type `0x<type_code>`.
    fn add(&mut self, scheme: &'static str, start: u64, size: u64, type_code: u32) -> Option<&mut Partition> {
        let p = self.add_named(scheme, start, size, format!("0x{type_code:x}").into_bytes())?;
        p.type_code = type_code;
        Some(p)
    }

    /// An entry with the next number and a type given as text. Nothing is
    /// added past the kernel's limit of partitions per disk (the number is used up).
    fn add_named(&mut self, scheme: &'static str, start: u64, size: u64, type_name: Vec<u8>) -> Option<&mut Partition> {
        let number = self.skip();
        if self.partitions.len() >= MAX_PARTITIONS {
            return None;
        }
        self.partitions.push(Partition {
            scheme,
            number,
            start,
            size,
            type_name,
            type_code: 0,
            name: None,
            uuid: None,
            flags: 0,
            extended: false,
        });
        self.partitions.last_mut()
    }

    /// Use up a number without an entry (an empty slot); returns the number.
    fn skip(&mut self) -> u32 {
        let n = self.next;
        self.next = self.next.saturating_add(1);
        n
    }

    /// Whether `[start, start + size)` lies inside the parent partition
    /// (libblkid's `blkid_is_nested_dimension`); false without a parent.
    fn inside_parent(&self, start: u64, size: u64) -> bool {
        self.parent
            .as_ref()
            .is_some_and(|p| start >= p.start && start.saturating_add(size) <= p.start.saturating_add(p.size))
    }
}

/// Hard bound on partitions from one table (the kernel allows 256 minors per disk).
const MAX_PARTITIONS: usize = 256;

/// A string field as libblkid stores it (`set_string`): up to the first NUL,
/// trailing whitespace removed.
fn field_string(raw: &[u8]) -> Vec<u8> {
    let mut v = super::cut_at_nul(raw).to_vec();
    while v.last().is_some_and(|&b| super::is_c_space(b)) {
        v.pop();
    }
    v
}

/// Entry `i` of a table of `len`-byte entries at `base` of `rec`. Each table's
/// module checks at compile time that its largest index fits its record.
fn entry(rec: &[u8], base: usize, len: usize, i: usize) -> &[u8] {
    &rec[base + i * len..base + (i + 1) * len]
}

/// Whether the area `[offset, offset + size)` of `r` lies inside one partition of a
/// sane table (libblkid's `blkid_probe_is_covered_by_pt`): RAID and ZFS
/// probers use it to ignore signatures that belong to a partition.
pub fn is_covered_by_pt(r: &mut Reader, offset: u64, size: u64) -> io::Result<bool> {
    let Some(t) = probe_partitions(r, Disk::default())? else { return Ok(false) };
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
/// The two bytes that end an MBR (and a boot sector), and where they are.
const MBR_MAGIC: &[u8] = b"\x55\xaa";
const MBR_MAGIC_OFF: u64 = 510;

/// Where the MBR's fields start: the disk id, then the four entries and the magic.
const MBR_FIELDS: usize = 440;

/// Sector 0 as far as an MBR's fields go: the bytes before them (boot code)
/// are left as zeros, unread.
fn mbr_sector(r: &mut Reader) -> io::Result<Vec<u8>> {
    let mut s = vec![0u8; 512];
    s[MBR_FIELDS..].copy_from_slice(&r.read(MBR_FIELDS as u64, 512 - MBR_FIELDS)?);
    Ok(s)
}

fn has_mbr_magic(sector0: &[u8]) -> bool {
    sector0.get(MBR_MAGIC_OFF as usize..512) == Some(MBR_MAGIC)
}

/// The first bytes of an AIX disk ("IBMA" in EBCDIC).
const AIX_MAGIC: &[u8] = b"\xc9\xc2\xd4\xc1";

/// The dos partition type of a GPT protective MBR entry.
const MBR_GPT_PARTITION: u8 = 0xee;
// dos partition types that hold a table of their own.
const MBR_FREEBSD_PARTITION: u8 = 0xa5;
const MBR_OPENBSD_PARTITION: u8 = 0xa6;
const MBR_NETBSD_PARTITION: u8 = 0xa9;
/// Shared with GNU Hurd.
const MBR_UNIXWARE_PARTITION: u8 = 0x63;
/// Shared with Linux swap: old Solaris x86 used 0x82.
const MBR_SOLARIS_X86_PARTITION: u8 = 0x82;
const MBR_MINIX_PARTITION: u8 = 0x81;

/// One of the four 16-byte MBR entries at 446.
#[derive(Clone, Copy, Debug)]
struct MbrEntry {
    boot_ind: u8,
    sys_ind: u8,
    start: u32,
    size: u32,
}

/// The four MBR entries, from 446 to the 0x55 0xAA signature.
const MBR_ENTRIES: usize = 446;
const _: () = assert!(MBR_ENTRIES + 4 * MBR_ENTRY_LEN == 510);
/// The boot indicator leads the entry, inside it by construction.
const BOOT_IND: U8 = U8(0);
layout! { MBR_ENTRY_LEN = 16;
    SYS_IND: U8 = 4;
    START_SECT: Le32 = 8;
    NR_SECTS: Le32 = 12;
}

/// The four entries of an MBR-style sector (at least 512 bytes).
fn mbr_entries(sector: &[u8]) -> [MbrEntry; 4] {
    let e = |i: usize| {
        let b = entry(sector, MBR_ENTRIES, MBR_ENTRY_LEN, i);
        MbrEntry { boot_ind: b.at(BOOT_IND), sys_ind: b.at(SYS_IND), start: b.at(START_SECT), size: b.at(NR_SECTS) }
    };
    [e(0), e(1), e(2), e(3)]
}

#[cfg(test)]
mod tests;
