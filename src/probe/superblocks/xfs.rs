//! XFS and XFS external log devices (libblkid `xfs.c`).
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Be16, Be32, Be64, Bytes, Fields, Uuid, U8};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

pub static XFS: Prober = Prober {
    name: "xfs",
    usage: Usage::Filesystem,
    magics: &[Magic { bytes: b"XFSB", kboff: 0, sboff: 0 }],
    probe: probe_xfs,
    ..Prober::BASE
};

/// An external log has no magic of its own at a fixed place: libblkid looks for
/// a log record header in the first 256 KiB.
pub static XFS_EXTERNAL_LOG: Prober = Prober {
    name: "xfs_external_log",
    usage: Usage::Other,
    min_size: LOG_MIN_SIZE,
    probe: probe_xfs_log,
    ..Prober::BASE
};

// The superblock, big-endian.
layout! { pub(super) SB_LEN = 160;
    BLOCKSIZE: Be32 = 4;
    DBLOCKS: Be64 = 8;
    UUID: Uuid = 32;
    REXTSIZE: Be32 = 80;
    AGBLOCKS: Be32 = 84;
    AGCOUNT: Be32 = 88;
    SECTSIZE: Be16 = 102;
    INODESIZE: Be16 = 104;
    FNAME: Bytes<12> = 108;
    BLOCKLOG: U8 = 120;
    SECTLOG: U8 = 121;
    INODELOG: U8 = 122;
    INOPBLOG: U8 = 123;
    IMAX_PCT: U8 = 127;
}

const MIN_BLOCKSIZE_LOG: u8 = 9;
const MAX_BLOCKSIZE_LOG: u8 = 16;
const MIN_SECTORSIZE_LOG: u8 = 9;
const MAX_SECTORSIZE_LOG: u8 = 15;
const DINODE_MIN_LOG: u8 = 8;
const DINODE_MAX_LOG: u8 = 11;
const MAX_RTEXTSIZE: u32 = 1024 * 1024 * 1024;
const MIN_RTEXTSIZE: u32 = 4 * 1024;
const MIN_AG_BLOCKS: u64 = 64;

/// The consistency checks of libblkid's `xfs_verify_sb`: the magic alone is too
/// weak a signature.
pub(super) fn verify_sb(sb: &[u8]) -> bool {
    let (blocksize, dblocks, rextsize) = (sb.at(BLOCKSIZE), sb.at(DBLOCKS), sb.at(REXTSIZE));
    let (agblocks, agcount) = (sb.at(AGBLOCKS), sb.at(AGCOUNT));
    let (sectsize, inodesize) = (u32::from(sb.at(SECTSIZE)), u32::from(sb.at(INODESIZE)));
    let (blocklog, sectlog, inodelog, inopblog) = (sb.at(BLOCKLOG), sb.at(SECTLOG), sb.at(INODELOG), sb.at(INOPBLOG));
    let log_ok = |log: u8, min: u8, max: u8, size: u32| (min..=max).contains(&log) && size == 1 << log;
    // The realtime extent size in bytes is computed in 32 bits on disk and here.
    let rtext = rextsize.wrapping_mul(blocksize);
    agcount != 0
        && log_ok(sectlog, MIN_SECTORSIZE_LOG, MAX_SECTORSIZE_LOG, sectsize)
        && log_ok(blocklog, MIN_BLOCKSIZE_LOG, MAX_BLOCKSIZE_LOG, blocksize)
        && log_ok(inodelog, DINODE_MIN_LOG, DINODE_MAX_LOG, inodesize)
        && i32::from(blocklog) - i32::from(inodelog) == i32::from(inopblog)
        && (MIN_RTEXTSIZE..=MAX_RTEXTSIZE).contains(&rtext)
        && sb.at(IMAX_PCT) <= 100
        && dblocks != 0
        && dblocks <= u64::from(agcount) * u64::from(agblocks)
        && dblocks >= u64::from(agcount - 1) * u64::from(agblocks) + MIN_AG_BLOCKS
}

fn probe_xfs(ctx: &mut Ctx) -> io::Result<bool> {
    let sb = ctx.read(0, SB_LEN)?;
    if !verify_sb(&sb) {
        return Ok(false);
    }
    let fname = sb.at(FNAME);
    if fname[0] != 0 {
        ctx.set_label(&fname);
    }
    ctx.set_uuid(&sb.at(UUID));
    ctx.set_block_size(u64::from(sb.at(SECTSIZE)));
    Ok(true)
}

/// libblkid's `minsz` for external logs: 10 MiB.
const LOG_MIN_SIZE: u64 = 10 * 1024 * 1024;
const LOG_SCAN: usize = 256 * 1024;
// A log record header, big-endian, in its sector.
layout! { LOG_SECTOR = 512;
    H_MAGICNO: Be32 = 0;
    H_VERSION: Be32 = 8;
    H_LEN: Be32 = 12;
    H_FMT: Be32 = 300;
    H_UUID: Uuid = 304;
}
const XLOG_HEADER_MAGIC: u32 = 0xfeed_babe;
const XLOG_VERSION_OKBITS: u32 = 1 | 2;
/// Linux little-endian, Linux big-endian, IRIX big-endian.
const XLOG_FORMATS: [u32; 3] = [1, 2, 3];

fn valid_rec_header(h: &[u8]) -> bool {
    let (version, len) = (h.at(H_VERSION), h.at(H_LEN));
    h.at(H_MAGICNO) == XLOG_HEADER_MAGIC
        && version != 0
        && version & !XLOG_VERSION_OKBITS == 0
        && len != 0
        && len <= i32::MAX as u32
        && XLOG_FORMATS.contains(&h.at(H_FMT))
}

fn probe_xfs_log(ctx: &mut Ctx) -> io::Result<bool> {
    // libblkid reads the first 256 KiB at once; only each sector's first word
    // decides anything, so read those alone (and a whole header when it is one).
    if !ctx.reader.fits(0, LOG_SCAN as u64) {
        return Ok(false);
    }
    for at in (0..LOG_SCAN).step_by(LOG_SECTOR) {
        // Eight bytes, through the cache: the ZFS check reads the same words
        // (its uberblock magics), and other probers may have read the sector.
        let word = ctx.read(at as u64, 8)?;
        // A (possibly shifted) XFS superblock: that is the file system, not a log.
        if &word[..4] == b"XFSB" {
            return Ok(false);
        }
        if word.at(H_MAGICNO) != XLOG_HEADER_MAGIC {
            continue;
        }
        let sector = ctx.read(at as u64, LOG_SECTOR)?;
        if valid_rec_header(&sector) {
            ctx.set_uuid_tag("LOGUUID", &sector.at(H_UUID));
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plausible superblock: 4 KiB blocks, 512-byte sectors and inodes, one AG.
    fn sb() -> Vec<u8> {
        let mut sb = vec![0u8; SB_LEN];
        sb[..4].copy_from_slice(b"XFSB");
        sb[BLOCKSIZE.0..][..4].copy_from_slice(&u32::to_be_bytes(4096));
        sb[DBLOCKS.0..][..8].copy_from_slice(&u64::to_be_bytes(1000));
        sb[REXTSIZE.0..][..4].copy_from_slice(&u32::to_be_bytes(1));
        sb[AGBLOCKS.0..][..4].copy_from_slice(&u32::to_be_bytes(1000));
        sb[AGCOUNT.0..][..4].copy_from_slice(&u32::to_be_bytes(1));
        sb[SECTSIZE.0..][..2].copy_from_slice(&u16::to_be_bytes(512));
        sb[INODESIZE.0..][..2].copy_from_slice(&u16::to_be_bytes(512));
        sb[BLOCKLOG.0] = 12;
        sb[SECTLOG.0] = 9;
        sb[INODELOG.0] = 9;
        sb[INOPBLOG.0] = 3;
        sb[IMAX_PCT.0] = 25;
        sb
    }

    #[test]
    fn checks_reject_inconsistent_fields() {
        assert!(verify_sb(&sb()));
        let breakers: [fn(&mut Vec<u8>); 6] = [
            |s| s[AGCOUNT.0..][..4].copy_from_slice(&u32::to_be_bytes(0)),
            |s| s[SECTLOG.0] = 10,
            |s| s[INOPBLOG.0] = 4,
            |s| s[REXTSIZE.0..][..4].copy_from_slice(&u32::to_be_bytes(0)),
            |s| s[IMAX_PCT.0] = 101,
            |s| s[DBLOCKS.0..][..8].copy_from_slice(&u64::to_be_bytes(1001)),
        ];
        for brk in breakers {
            let mut s = sb();
            brk(&mut s);
            assert!(!verify_sb(&s));
        }
    }

    #[test]
    fn log_record_header() {
        let mut h = vec![0u8; LOG_SECTOR];
        h[H_MAGICNO.0..][..4].copy_from_slice(&u32::to_be_bytes(XLOG_HEADER_MAGIC));
        h[H_VERSION.0..][..4].copy_from_slice(&u32::to_be_bytes(2));
        h[H_LEN.0..][..4].copy_from_slice(&u32::to_be_bytes(512));
        h[H_FMT.0..][..4].copy_from_slice(&u32::to_be_bytes(1));
        assert!(valid_rec_header(&h));
        h[H_VERSION.0..][..4].copy_from_slice(&u32::to_be_bytes(4));
        assert!(!valid_rec_header(&h));
    }
}
