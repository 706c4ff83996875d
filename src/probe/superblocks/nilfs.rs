//! NILFS2 (libblkid `nilfs.c`). There is no magic at a fixed place worth
//! trusting alone: the primary superblock at 1 KiB and the backup near the end
//! are both checked by their CRC, and one of them is chosen.
#![forbid(unsafe_code)]

use crate::probe::checksum::crc32_le;
use crate::probe::field::{layout, Bytes, Fields, Le16, Le32, Le64, Uuid};
use crate::probe::{Ctx, Prober, Usage};
use std::io;

/// libblkid's `minsz` (what `mkfs.nilfs2 -b 1024 -B 16` can make).
const MIN_SIZE: u64 = 1024 * 1024;

pub static NILFS2: Prober =
    Prober { name: "nilfs2", usage: Usage::Filesystem, min_size: MIN_SIZE, probe, ..Prober::BASE };

const PRIMARY: u64 = 0x400;
layout! { SB_LEN = 1024;
    REV_LEVEL: Le32 = 0;
    MAGIC: Le16 = 6;
    BYTES: Le16 = 8;
    CRC_SEED: Le32 = 12;
    SUM: Le32 = 16;
    LOG_BLOCK_SIZE: Le32 = 20;
    LAST_CNO: Le64 = 56;
    UUID: Uuid = 152;
    VOLUME_NAME: Bytes<80> = 168;
}
const NILFS_MAGIC: u16 = 0x3434;

/// The backup superblock: 4 KiB before the end, in 512-byte sectors.
fn backup_offset(size: u64) -> u64 {
    (size / 0x200).wrapping_sub(8).wrapping_mul(0x200)
}

/// Magic, length and checksum (over `s_bytes` bytes with the sum field as zero).
fn valid(sb: &[u8]) -> bool {
    if sb.at(MAGIC) != NILFS_MAGIC {
        return false;
    }
    let bytes = usize::from(sb.at(BYTES));
    let crc_start = SUM.0 + 4;
    if !(crc_start..=SB_LEN).contains(&bytes) {
        return false;
    }
    let crc = crc32_le(sb.at(CRC_SEED), &sb[..SUM.0]);
    let crc = crc32_le(crc, &[0; 4]);
    crc32_le(crc, &sb[crc_start..bytes]) == sb.at(SUM)
}

/// The superblock at `off`, read whole only when its magic is there (the
/// magic is what `valid` checks first); `None` without it or past the end.
fn superblock(ctx: &mut Ctx, off: u64) -> io::Result<Option<Vec<u8>>> {
    if !ctx.reader.fits(off, SB_LEN as u64) {
        return Ok(None);
    }
    match ctx.read_opt(off + MAGIC.0 as u64, 2)? {
        Some(magic) if magic.at(Le16(0)) == NILFS_MAGIC => ctx.read_opt(off, SB_LEN),
        _ => Ok(None),
    }
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let size = ctx.reader.size();
    let primary = superblock(ctx, PRIMARY)?;
    let primary_ok = primary.as_deref().is_some_and(valid);
    // libblkid also refuses a backup whose recorded device size differs from a
    // whole disk's size; the reader cannot tell a whole disk from a partition
    // or an image file, for which that check does not apply.
    let backup = superblock(ctx, backup_offset(size))?;
    let backup_ok = backup.as_deref().is_some_and(valid);
    if !primary_ok && !backup_ok {
        return Ok(false);
    }
    // libblkid's choice, kept as it is: the backup when the primary is invalid,
    // or when both are valid and the primary has the later checkpoint.
    let last_cno = |sb: &[u8]| sb.at(LAST_CNO);
    let sb = match (primary, backup) {
        (Some(p), Some(b)) if primary_ok && backup_ok && last_cno(&p) > last_cno(&b) => b,
        (Some(p), _) if primary_ok => p,
        (_, Some(b)) if backup_ok => b,
        _ => return Ok(false),
    };
    let name = sb.slice(VOLUME_NAME);
    if name[0] != 0 {
        ctx.set_label(name);
    }
    ctx.set_uuid(&sb.at(UUID));
    ctx.set_version(sb.at(REV_LEVEL).to_string());
    let log_block_size = sb.at(LOG_BLOCK_SIZE);
    if log_block_size < 32 {
        ctx.set_block_size(u64::from(1024u32.wrapping_shl(log_block_size)));
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_and_length_are_checked() {
        let mut sb = vec![0u8; SB_LEN];
        sb[MAGIC.0..][..2].copy_from_slice(&u16::to_le_bytes(NILFS_MAGIC));
        sb[BYTES.0..][..2].copy_from_slice(&u16::to_le_bytes(256));
        sb[CRC_SEED.0..][..4].copy_from_slice(&u32::to_le_bytes(0x1234));
        let sum = crc32_le(crc32_le(crc32_le(0x1234, &sb[..SUM.0]), &[0; 4]), &sb[SUM.0 + 4..256]);
        sb[SUM.0..][..4].copy_from_slice(&u32::to_le_bytes(sum));
        assert!(valid(&sb));
        sb[100] = 1;
        assert!(!valid(&sb));
        sb[100] = 0;
        sb[BYTES.0..][..2].copy_from_slice(&u16::to_le_bytes(2000));
        assert!(!valid(&sb));
    }
}
