//! GFS and GFS2 (libblkid `gfs.c`): one superblock layout at 64 KiB, told
//! apart by its format numbers.
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Be32, Bytes, Fields, Uuid};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

const SB_KBOFF: u64 = 64;
/// libblkid's `minsz`: the smallest GFS journal.
const MIN_SIZE: u64 = 32 << 20;
const MAGICS: &[Magic] = &[Magic { bytes: b"\x01\x16\x19\x70", kboff: SB_KBOFF, sboff: 0 }];

pub static GFS: Prober = Prober {
    name: "gfs",
    usage: Usage::Filesystem,
    magics: MAGICS,
    min_size: MIN_SIZE,
    probe: probe_gfs,
    ..Prober::BASE
};
pub static GFS2: Prober = Prober {
    name: "gfs2",
    usage: Usage::Filesystem,
    magics: MAGICS,
    min_size: MIN_SIZE,
    probe: probe_gfs2,
    ..Prober::BASE
};

layout! { SB_LEN = 272;
    FS_FORMAT: Be32 = 24;
    MULTIHOST_FORMAT: Be32 = 28;
    BSIZE: Be32 = 36;
    LOCKTABLE: Bytes<64> = 160;
    UUID: Uuid = 256;
}

/// The superblock and its two format numbers.
fn read(ctx: &mut Ctx) -> io::Result<(Vec<u8>, u32, u32)> {
    let sb = ctx.read(SB_KBOFF * 1024, SB_LEN)?;
    let (fs, multi) = (sb.at(FS_FORMAT), sb.at(MULTIHOST_FORMAT));
    Ok((sb, fs, multi))
}

fn label_and_uuid(ctx: &mut Ctx, sb: &[u8]) {
    let table = sb.at(LOCKTABLE);
    if table[0] != 0 {
        ctx.set_label(&table);
    }
    ctx.set_uuid(&sb.at(UUID));
}

fn probe_gfs(ctx: &mut Ctx) -> io::Result<bool> {
    let (sb, 1309, 1401) = read(ctx)? else { return Ok(false) };
    label_and_uuid(ctx, &sb);
    Ok(true)
}

fn probe_gfs2(ctx: &mut Ctx) -> io::Result<bool> {
    let (sb, 1800..=1899, 1900..=1999) = read(ctx)? else { return Ok(false) };
    label_and_uuid(ctx, &sb);
    ctx.set_version("1");
    ctx.set_block_size(u64::from(sb.at(BSIZE)));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::probe::{probe_bytes, probe_prober};

    fn image(fs: u32, multi: u32) -> Vec<u8> {
        let mut img = vec![0u8; MIN_SIZE as usize];
        let sb = &mut img[(SB_KBOFF * 1024) as usize..];
        sb[..4].copy_from_slice(MAGICS[0].bytes);
        sb[FS_FORMAT.0..][..4].copy_from_slice(&fs.to_be_bytes());
        sb[MULTIHOST_FORMAT.0..][..4].copy_from_slice(&multi.to_be_bytes());
        sb[BSIZE.0..][..4].copy_from_slice(&4096u32.to_be_bytes());
        sb[LOCKTABLE.0..][..4].copy_from_slice(b"c:fs");
        img
    }

    #[test]
    fn format_numbers_decide() {
        let label = ("LABEL", b"c:fs".to_vec());
        assert_eq!(probe_bytes(probe_gfs, None, image(1309, 1401)).unwrap(), Some(vec![label.clone()]));
        assert_eq!(probe_bytes(probe_gfs2, None, image(1309, 1401)).unwrap(), None);
        let tags = probe_bytes(probe_gfs2, None, image(1801, 1900)).unwrap().unwrap();
        assert_eq!(tags, [label, ("VERSION", b"1".to_vec()), ("BLOCK_SIZE", b"4096".to_vec())]);
        let mut small = image(1801, 1900);
        small.truncate(small.len() - 1);
        assert!(probe_prober(&GFS2, image(1801, 1900)).unwrap().is_some());
        assert_eq!(probe_prober(&GFS2, small).unwrap(), None);
    }
}
