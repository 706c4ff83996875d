//! JFS (libblkid `jfs.c`).
#![forbid(unsafe_code)]

use crate::probe::{Ctx, Magic, Prober, Usage};
use byteorder::{ByteOrder, LittleEndian as LE};
use std::io;

/// The superblock is at 32 KiB.
const SB_KBOFF: u64 = 32;
/// libblkid's `minsz`.
const MIN_SIZE: u64 = 16 * 1024 * 1024;

pub static JFS: Prober = Prober {
    name: "jfs",
    usage: Usage::Filesystem,
    tolerant: false,
    magics: &[Magic { bytes: b"JFS1", kboff: SB_KBOFF, sboff: 0 }],
    probe,
};

const SB_LEN: usize = 184;
const BSIZE: usize = 16;
const L2BSIZE: usize = 20;
const L2BFACTOR: usize = 22;
const PBSIZE: usize = 24;
const L2PBSIZE: usize = 28;
const UUID: usize = 136;
const LABEL: usize = 152;
const LABEL_LEN: usize = 16;

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    if ctx.reader.size() < MIN_SIZE {
        return Ok(false);
    }
    let sb = ctx.read(SB_KBOFF * 1024, SB_LEN)?;
    let bsize = LE::read_u32(&sb[BSIZE..]);
    let l2bsize = LE::read_u16(&sb[L2BSIZE..]);
    let l2pbsize = LE::read_u16(&sb[L2PBSIZE..]);
    // Shift counts wrap at 32 as in libblkid's compiled code.
    if bsize != 1u32.wrapping_shl(u32::from(l2bsize))
        || LE::read_u32(&sb[PBSIZE..]) != 1u32.wrapping_shl(u32::from(l2pbsize))
        || i32::from(l2bsize) - i32::from(l2pbsize) != i32::from(LE::read_u16(&sb[L2BFACTOR..]))
    {
        return Ok(false);
    }
    if sb[LABEL] != 0 {
        ctx.set_label(&sb[LABEL..LABEL + LABEL_LEN]);
    }
    let uuid: [u8; 16] = sb[UUID..UUID + 16].try_into().expect("16 bytes");
    ctx.set_uuid(&uuid);
    ctx.set_block_size(u64::from(bsize));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Reader;

    fn run(l2bsize: u16, bsize: u32) -> bool {
        let mut img = vec![0u8; MIN_SIZE as usize];
        let sb = (SB_KBOFF * 1024) as usize;
        img[sb..sb + 4].copy_from_slice(b"JFS1");
        LE::write_u32(&mut img[sb + BSIZE..], bsize);
        LE::write_u16(&mut img[sb + L2BSIZE..], l2bsize);
        LE::write_u16(&mut img[sb + L2BFACTOR..], l2bsize.wrapping_sub(9));
        LE::write_u32(&mut img[sb + PBSIZE..], 512);
        LE::write_u16(&mut img[sb + L2PBSIZE..], 9);
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
