//! JFS (libblkid `jfs.c`).
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Bytes, Fields, Le16, Le32, Uuid};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

/// The superblock is at 32 KiB.
const SB_KBOFF: u64 = 32;
/// libblkid's `minsz`.
const MIN_SIZE: u64 = 16 * 1024 * 1024;

pub static JFS: Prober = Prober {
    name: "jfs",
    usage: Usage::Filesystem,
    magics: &[Magic { bytes: b"JFS1", kboff: SB_KBOFF, sboff: 0 }],
    min_size: MIN_SIZE,
    probe,
    ..Prober::BASE
};

layout! { SB_LEN = 184;
    BSIZE: Le32 = 16;
    L2BSIZE: Le16 = 20;
    L2BFACTOR: Le16 = 22;
    PBSIZE: Le32 = 24;
    L2PBSIZE: Le16 = 28;
    UUID: Uuid = 136;
    LABEL: Bytes<16> = 152;
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let sb = ctx.read(SB_KBOFF * 1024, SB_LEN)?;
    let (bsize, l2bsize, l2pbsize) = (sb.at(BSIZE), sb.at(L2BSIZE), sb.at(L2PBSIZE));
    // Shift counts wrap at 32 as in libblkid's compiled code.
    if bsize != 1u32.wrapping_shl(u32::from(l2bsize))
        || sb.at(PBSIZE) != 1u32.wrapping_shl(u32::from(l2pbsize))
        || i32::from(l2bsize) - i32::from(l2pbsize) != i32::from(sb.at(L2BFACTOR))
    {
        return Ok(false);
    }
    let label = sb.at(LABEL);
    if label[0] != 0 {
        ctx.set_label(&label);
    }
    ctx.set_uuid(&sb.at(UUID));
    ctx.set_block_size(u64::from(bsize));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::field::put;
    use crate::probe::Reader;

    fn run(l2bsize: u16, bsize: u32) -> bool {
        let mut img = vec![0u8; MIN_SIZE as usize];
        let sb = (SB_KBOFF * 1024) as usize;
        img[sb..sb + 4].copy_from_slice(b"JFS1");
        let rec = &mut img[sb..];
        put(rec, BSIZE.0, &bsize.to_le_bytes());
        put(rec, L2BSIZE.0, &l2bsize.to_le_bytes());
        put(rec, L2BFACTOR.0, &l2bsize.wrapping_sub(9).to_le_bytes());
        put(rec, PBSIZE.0, &512u32.to_le_bytes());
        put(rec, L2PBSIZE.0, &9u16.to_le_bytes());
        let mut r = Reader::from_bytes(img);
        probe(&mut Ctx::new(&mut r, JFS.magics.first())).unwrap()
    }

    #[test]
    fn block_size_fields_must_agree() {
        assert!(run(12, 4096));
        assert!(!run(12, 2048));
        // A shift count of 44 is 12 to the machine libblkid runs on.
        assert!(run(44, 4096));
    }
}
