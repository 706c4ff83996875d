//! The MBR ("dos") partition table, primary and logical partitions.
#![forbid(unsafe_code)]

use super::{has_mbr_magic, mbr_entries, Disk, MbrEntry, Partition, Table, AIX_MAGIC, MBR_GPT_PARTITION};
use crate::probe::Reader;
use std::io;

/// The optional 32-bit disk signature, which becomes `PTUUID`.
const DISK_ID_OFF: usize = 440;
/// Extended-partition types: DOS (0x05), W95 LBA (0x0f) and Linux (0x85).
const EXTENDED_TYPES: [u8; 3] = [0x05, 0x0f, 0x85];
/// An EBR chain without any data partition for this many links is a loop.
const MAX_EMPTY_LINKS: u32 = 100;
/// Hard bound on partitions from one table (the kernel allows 256 minors per disk).
const MAX_PARTITIONS: usize = 256;

fn is_extended(e: &MbrEntry) -> bool {
    EXTENDED_TYPES.contains(&e.sys_ind)
}

pub(super) fn probe(r: &mut Reader, disk: Disk) -> io::Result<Option<Table>> {
    // The magic check reads the first KiB as libblkid's does.
    let head = r.read(0, 1024)?;
    // AIX disks may end their first sector in 55 AA too.
    if !has_mbr_magic(&head) || head.starts_with(AIX_MAGIC) {
        return Ok(None);
    }
    let entries = mbr_entries(&head);
    if entries.iter().any(|e| e.boot_ind != 0 && e.boot_ind != 0x80) {
        return Ok(None);
    }
    if entries.iter().any(|e| e.sys_ind == MBR_GPT_PARTITION) {
        return Ok(None);
    }
    // A FAT, NTFS or exFAT boot sector also ends in 55 AA and is not a table.
    // (util-linux 2.38.1 misses the exFAT case and reports PTTYPE="dos" on exFAT;
    // later releases do not, and neither does krazybox.)
    if boot::is_fat(r)? || boot::is_ntfs(r)? || boot::is_exfat(r)? {
        return Ok(None);
    }
    // People boot from LVM volumes with an empty MBR in front: that is LVM, not a table.
    if disk.fs_type == Some("LVM2_member") && entries.iter().all(|e| e.size == 0) {
        return Ok(None);
    }

    let raw_id =
        u32::from_le_bytes([head[DISK_ID_OFF], head[DISK_ID_OFF + 1], head[DISK_ID_OFF + 2], head[DISK_ID_OFF + 3]]);
    let id = (raw_id != 0).then(|| format!("{raw_id:08x}"));
    let mut t = Table { scheme: "dos", id, partitions: Vec::new() };
    // Entries count in logical sectors; results are in 512-byte units, in
    // libblkid's 32-bit arithmetic.
    let ssf = (disk.sector_size / 512) as u32;

    for (number, e) in (1u32..).zip(entries.iter()) {
        let (start, size) = (e.start.wrapping_mul(ssf), e.size.wrapping_mul(ssf));
        if size == 0 {
            // Empty slots still use up their number.
            continue;
        }
        add(&mut t, number, u64::from(start), u64::from(size), e);
    }
    // Logical partitions are numbered from 5, whatever the primaries are.
    let mut next = 5u32;
    for e in &entries {
        let (start, size) = (e.start.wrapping_mul(ssf), e.size.wrapping_mul(ssf));
        if size != 0 && is_extended(e) {
            logical(r, &mut t, &mut next, start, size, ssf)?;
        }
    }
    Ok(Some(t))
}

fn add(t: &mut Table, number: u32, start: u64, size: u64, e: &MbrEntry) {
    if t.partitions.len() >= MAX_PARTITIONS {
        return;
    }
    let uuid = t.id.as_ref().map(|id| format!("{id}-{number:02x}"));
    t.partitions.push(Partition {
        number,
        start,
        size,
        type_name: format!("0x{:x}", e.sys_ind),
        name: None,
        uuid,
        flags: u64::from(e.boot_ind),
        extended: number <= 4 && is_extended(e),
    });
}

/// Walk the chain of extended boot records of the extended partition at
/// `ex_start` (512-byte sectors), as libblkid does: data entries are relative to
/// the current EBR, the link to the next EBR relative to the extended partition.
/// The arithmetic is 32-bit and wraps, as in libblkid, so that the same
/// (broken) tables give the same partitions.
fn logical(r: &mut Reader, t: &mut Table, next: &mut u32, ex_start: u32, ex_size: u32, ssf: u32) -> io::Result<()> {
    if ex_start == 0 {
        return Ok(());
    }
    let (mut cur_start, mut cur_size) = (ex_start, ex_size);
    let mut empty_links = 0;
    loop {
        empty_links += 1;
        if empty_links > MAX_EMPTY_LINKS || t.partitions.len() >= MAX_PARTITIONS {
            return Ok(());
        }
        let sector = match r.read(u64::from(cur_start) * 512, 512) {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        };
        if !has_mbr_magic(&sector) {
            return Ok(());
        }
        let entries = mbr_entries(&sector);
        for (i, e) in entries.iter().enumerate() {
            let start = e.start.wrapping_mul(ssf);
            let size = e.size.wrapping_mul(ssf);
            let abs_start = cur_start.wrapping_add(start);
            if size == 0 || is_extended(e) {
                continue;
            }
            // The 3rd and 4th entries are used only by some systems (OS/2):
            // accept them only inside the extended partition.
            if i >= 2
                && (start.wrapping_add(size) > cur_size
                    || abs_start < ex_start
                    || abs_start.wrapping_add(size) > ex_start.wrapping_add(ex_size))
            {
                continue;
            }
            if t.partitions.iter().any(|p| p.start == u64::from(abs_start)) {
                continue;
            }
            add(t, *next, u64::from(abs_start), u64::from(size), e);
            *next += 1;
            empty_links = 0;
        }
        // The first extended entry with a non-zero offset links to the next EBR.
        let link =
            entries.iter().find(|e| e.size.wrapping_mul(ssf) != 0 && is_extended(e) && e.start.wrapping_mul(ssf) != 0);
        let Some(link) = link else { return Ok(()) };
        cur_start = ex_start.wrapping_add(link.start.wrapping_mul(ssf));
        cur_size = link.size.wrapping_mul(ssf);
    }
}

/// Just enough of the FAT, NTFS and exFAT boot-sector checks of libblkid's
/// `blkid_probe_is_vfat`, `blkid_probe_is_ntfs` and (util-linux 2.39)
/// `blkid_probe_is_exfat`, to tell a boot sector from an MBR.
mod boot {
    use crate::probe::Reader;
    use std::io;

    fn le16(b: &[u8], at: usize) -> u32 {
        u32::from(u16::from_le_bytes([b[at], b[at + 1]]))
    }
    fn le32(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }
    fn le64(b: &[u8], at: usize) -> u64 {
        let mut x = [0; 8];
        x.copy_from_slice(&b[at..at + 8]);
        u64::from_le_bytes(x)
    }

    /// The vfat magics in libblkid's order, (bytes, offset).
    const FAT_MAGICS: &[(&[u8], usize)] = &[
        (b"MSWIN", 0x52),
        (b"FAT32   ", 0x52),
        (b"MSDOS", 0x36),
        (b"FAT16   ", 0x36),
        (b"FAT12   ", 0x36),
        (b"FAT     ", 0x36),
        (b"\xeb", 0),
        (b"\xe9", 0),
        (b"\x55\xaa", 0x1fe),
    ];
    const NTFS_MAX_CLUSTER_SIZE: u32 = 2 * 1024 * 1024;
    const FAT12_MAX: u32 = 0xff4;
    const FAT16_MAX: u32 = 0xfff4;
    const FAT32_MAX: u32 = 0x0fff_fff6;

    pub(super) fn is_fat(r: &mut Reader) -> io::Result<bool> {
        let b = r.read(0, 1024)?;
        let Some(&(magic, _)) = FAT_MAGICS.iter().find(|(m, off)| b[*off..].starts_with(m)) else {
            return Ok(false);
        };
        if magic.len() <= 2 {
            // Magic-less FATs: need the boot signature and are not JFS/HPFS pseudo-headers.
            if b[0x1fe] != 0x55 || b[0x1ff] != 0xaa {
                return Ok(false);
            }
            if &b[0x36..0x3e] == b"JFS     " || &b[0x36..0x3e] == b"HPFS    " {
                return Ok(false);
            }
        }
        let (cluster_size, reserved, fats, media) = (u32::from(b[0x0d]), le16(&b, 0x0e), u32::from(b[0x10]), b[0x15]);
        if fats == 0 || reserved == 0 || !(media >= 0xf8 || media == 0xf0) || !cluster_size.is_power_of_two() {
            return Ok(false);
        }
        let sector_size = le16(&b, 0x0b);
        if !sector_size.is_power_of_two() || !(512..=4096).contains(&sector_size) {
            return Ok(false);
        }
        let dir_entries = le16(&b, 0x11);
        let mut sectors = le16(&b, 0x13);
        if sectors == 0 {
            sectors = le32(&b, 0x20);
        }
        let fat16_length = le16(&b, 0x16);
        let fat32_length = le32(&b, 0x24);
        let fat_length = if fat16_length == 0 { fat32_length } else { fat16_length };
        // C unsigned arithmetic: wraps rather than failing.
        let fat_size = fat_length.wrapping_mul(fats);
        let dir_size = (dir_entries * 32).div_ceil(sector_size);
        let clusters = sectors.wrapping_sub(reserved.wrapping_add(fat_size).wrapping_add(dir_size)) / cluster_size;
        let max = if fat16_length == 0 && fat32_length != 0 {
            FAT32_MAX
        } else if clusters > FAT12_MAX {
            FAT16_MAX
        } else {
            FAT12_MAX
        };
        if clusters > max {
            return Ok(false);
        }
        Ok(!is_bitlocker(r, &b)?)
    }

    fn is_bitlocker(r: &mut Reader, b: &[u8]) -> io::Result<bool> {
        const VISTA: &[u8] = b"\xeb\x52\x90-FVE-FS-";
        const WIN7: &[u8] = b"\xeb\x58\x90-FVE-FS-";
        const TOGO: &[u8] = b"\xeb\x58\x90MSWIN4.1";
        // Where each header keeps the offset of its FVE metadata block.
        let fve_at = if b.starts_with(VISTA) {
            return Ok(true);
        } else if b.starts_with(WIN7) {
            0xb0
        } else if b.starts_with(TOGO) {
            0x1b8
        } else {
            return Ok(false);
        };
        let off = le64(b, fve_at);
        if off == 0 {
            return Ok(false);
        }
        match r.read(off, 8) {
            Ok(sig) => Ok(sig == b"-FVE-FS-"),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// NTFS boot sector: BIOS parameter block, and `FILE` records where the MFT should be.
    pub(super) fn is_ntfs(r: &mut Reader) -> io::Result<bool> {
        let b = r.read(0, 512)?;
        if &b[3..11] != b"NTFS    " {
            return Ok(false);
        }
        let sector_size = le16(&b, 0x0b);
        if !(256..=4096).contains(&sector_size) {
            return Ok(false);
        }
        let spc = b[0x0d];
        let sectors_per_cluster: u32 = match spc {
            1 | 2 | 4 | 8 | 16 | 32 | 64 | 128 => u32::from(spc),
            240..=249 => 1 << (256 - u32::from(spc)),
            _ => return Ok(false),
        };
        if sector_size * sectors_per_cluster > NTFS_MAX_CLUSTER_SIZE {
            return Ok(false);
        }
        if le16(&b, 0x0e) != 0 || le16(&b, 0x11) != 0 || le16(&b, 0x13) != 0 || le16(&b, 0x16) != 0 {
            return Ok(false);
        }
        if le32(&b, 0x20) != 0 || b[0x10] != 0 {
            return Ok(false);
        }
        let cpm = b[0x40] as i8;
        if !(0xe1..=0xf7).contains(&(cpm as u8)) && !matches!(cpm, 1 | 2 | 4 | 8 | 16 | 32 | 64) {
            return Ok(false);
        }
        let record_size: u64 = if cpm > 0 {
            u64::from(cpm as u8) * u64::from(sectors_per_cluster) * u64::from(sector_size)
        } else {
            1u64 << (-i32::from(cpm)).clamp(0, 63)
        };
        let clusters = le64(&b, 0x28) / u64::from(sectors_per_cluster);
        let (mft, mirr) = (le64(&b, 0x30), le64(&b, 0x38));
        if mft > clusters || mirr > clusters || record_size < 4 {
            return Ok(false);
        }
        let Some(off) = mft.checked_mul(u64::from(sector_size) * u64::from(sectors_per_cluster)) else {
            return Ok(false);
        };
        // The MFT record and the $Volume record (number 3) must both be there.
        for rec in [0u64, 3] {
            let Some(at) = record_size.checked_mul(rec).and_then(|x| x.checked_add(off)) else {
                return Ok(false);
            };
            if at.checked_add(record_size).map_or(true, |end| end > r.size()) {
                return Ok(false);
            }
            if r.read(at, 4)? != b"FILE" {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// exFAT boot region: name, jump, zeroed legacy BPB and the boot checksum.
    pub(super) fn is_exfat(r: &mut Reader) -> io::Result<bool> {
        let b = r.read(0, 512)?;
        if &b[3..11] != b"EXFAT   " || b[510] != 0x55 || b[511] != 0xaa || &b[0..3] != b"\xeb\x76\x90" {
            return Ok(false);
        }
        if b[11..64].iter().any(|&x| x != 0) {
            return Ok(false);
        }
        let (sector_shift, cluster_shift) = (u32::from(b[108]), u32::from(b[109]));
        // A cluster size of 0 in C's 32-bit arithmetic is invalid.
        if sector_shift >= 32 || cluster_shift >= 32 || ((1u64 << sector_shift) << cluster_shift) & 0xffff_ffff == 0 {
            return Ok(false);
        }
        let sector = 1usize << sector_shift;
        if sector < 4 || sector.saturating_mul(12) > crate::probe::reader::MAX_READ {
            return Ok(false);
        }
        let data = match r.read(0, sector * 12) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
            Err(e) => return Err(e),
        };
        let mut sum: u32 = 0;
        for (i, &byte) in data[..sector * 11].iter().enumerate() {
            if i == 106 || i == 107 || i == 112 {
                continue;
            }
            sum = sum.rotate_right(1).wrapping_add(u32::from(byte));
        }
        Ok(data[sector * 11..].chunks_exact(4).all(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) == sum))
    }
}
