//! The MBR ("dos") partition table, primary and logical partitions.
#![forbid(unsafe_code)]

use super::{
    has_mbr_magic, mbr_entries, Disk, MbrEntry, Partition, Table, AIX_MAGIC, MBR_GPT_PARTITION, MBR_MAGIC,
    MBR_MAGIC_OFF,
};
use crate::probe::field::{Fields, Le32};
use crate::probe::superblocks::{is_ntfs, is_vfat};
use crate::probe::Reader;
use std::io;

/// The optional 32-bit disk signature, which becomes `PTUUID`; inside the KiB read.
const DISK_ID: Le32 = Le32(440);
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
    // libblkid reads the first KiB; only the 55 AA at its first sector's end,
    // then the AIX magic, then the disk id and the entries decide anything.
    if !r.fits(0, 1024) {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    if r.read(MBR_MAGIC_OFF, 2)? != MBR_MAGIC {
        return Ok(None);
    }
    // AIX disks may end their first sector in 55 AA too.
    if r.read(0, AIX_MAGIC.len())? == AIX_MAGIC {
        return Ok(None);
    }
    let head = super::mbr_sector(r)?;
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
    if is_vfat(r)? || is_ntfs(r)? || boot::is_exfat(r)? {
        return Ok(None);
    }
    // People boot from LVM volumes with an empty MBR in front: that is LVM, not a table.
    if disk.fs_type == Some("LVM2_member") && entries.iter().all(|e| e.size == 0) {
        return Ok(None);
    }

    let raw_id = head.at(DISK_ID);
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
        scheme: "dos",
        number,
        start,
        size,
        type_name: format!("0x{:x}", e.sys_ind).into_bytes(),
        type_code: u32::from(e.sys_ind),
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

/// util-linux 2.39's `blkid_probe_is_exfat`, to tell an exFAT boot sector
/// from an MBR (FAT and NTFS use their probers' checks).
mod boot {
    use crate::probe::field::{Fields, Le32};
    use crate::probe::Reader;
    use std::io;

    /// exFAT boot region: name, jump, zeroed legacy BPB and the boot checksum.
    pub(super) fn is_exfat(r: &mut Reader) -> io::Result<bool> {
        if r.read(3, 8)? != b"EXFAT   " {
            return Ok(false);
        }
        let b = r.read(0, 512)?;
        if b[510] != 0x55 || b[511] != 0xaa || &b[0..3] != b"\xeb\x76\x90" {
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
        Ok(data[sector * 11..].chunks_exact(4).all(|c| c.at(Le32(0)) == sum))
    }
}
