//! ReiserFS 3.5, 3.6 and with a non-standard journal, and Reiser4
//! (libblkid `reiserfs.c`).
#![forbid(unsafe_code)]

use crate::probe::{Ctx, Magic, Prober, Usage};
use byteorder::{ByteOrder, LittleEndian as LE};
use std::io;

/// libblkid's `minsz` for both.
const MIN_SIZE: u64 = 128 * 1024;

pub static REISERFS: Prober = Prober {
    name: "reiserfs",
    usage: Usage::Filesystem,
    tolerant: false,
    magics: &[
        // 3.5 kept the superblock at 8 KiB, later versions at 64 KiB.
        Magic { bytes: b"ReIsErFs", kboff: 8, sboff: 0x34 },
        Magic { bytes: b"ReIsEr2Fs", kboff: 64, sboff: 0x34 },
        Magic { bytes: b"ReIsEr3Fs", kboff: 64, sboff: 0x34 },
        Magic { bytes: b"ReIsErFs", kboff: 64, sboff: 0x34 },
        Magic { bytes: b"ReIsErFs", kboff: 8, sboff: 20 },
    ],
    probe: probe_reiser,
};

pub static REISER4: Prober = Prober {
    name: "reiser4",
    usage: Usage::Filesystem,
    tolerant: false,
    magics: &[Magic { bytes: b"ReIsEr4", kboff: 64, sboff: 0 }],
    probe: probe_reiser4,
};

const SB_LEN: usize = 116;
const JOURNAL_BLOCK: usize = 12;
const BLOCKSIZE: usize = 44;
const UUID: usize = 84;
const LABEL: usize = 100;
const LABEL_LEN: usize = 16;

fn probe_reiser(ctx: &mut Ctx) -> io::Result<bool> {
    if ctx.reader.size() < MIN_SIZE {
        return Ok(false);
    }
    let Some(magic) = ctx.magic else { return Ok(false) };
    let sb = ctx.read(magic.kboff * 1024, SB_LEN)?;
    let blocksize = u32::from(LE::read_u16(&sb[BLOCKSIZE..]));
    let sectors_per_block = u64::from(blocksize >> 9);
    if sectors_per_block == 0 {
        return Ok(false);
    }
    // A superblock that lies inside the journal is a stale copy.
    if magic.kboff / sectors_per_block > u64::from(LE::read_u32(&sb[JOURNAL_BLOCK..]) / 2) {
        return Ok(false);
    }
    // The seventh magic byte tells 3.6 ('2') and non-standard-journal ('3')
    // superblocks, the only ones with a label and UUID, from 3.5 ones.
    let kind = magic.bytes[6];
    if kind == b'2' || kind == b'3' {
        if sb[LABEL] != 0 {
            ctx.set_label(&sb[LABEL..LABEL + LABEL_LEN]);
        }
        let uuid: [u8; 16] = sb[UUID..UUID + 16].try_into().expect("16 bytes");
        ctx.set_uuid(&uuid);
    }
    ctx.set_version(match kind {
        b'3' => "JR",
        b'2' => "3.6",
        _ => "3.5",
    });
    ctx.set_block_size(u64::from(blocksize));
    Ok(true)
}

const R4_SB_LEN: usize = 60;
const R4_BLOCKSIZE: usize = 19;
const R4_UUID: usize = 20;
const R4_LABEL: usize = 36;

fn probe_reiser4(ctx: &mut Ctx) -> io::Result<bool> {
    if ctx.reader.size() < MIN_SIZE {
        return Ok(false);
    }
    let sb = ctx.read(64 * 1024, R4_SB_LEN)?;
    if sb[R4_LABEL] != 0 {
        ctx.set_label(&sb[R4_LABEL..R4_LABEL + LABEL_LEN]);
    }
    let uuid: [u8; 16] = sb[R4_UUID..R4_UUID + 16].try_into().expect("16 bytes");
    ctx.set_uuid(&uuid);
    ctx.set_version("4");
    // libblkid reads one byte and scales it by 256.
    ctx.set_block_size(u64::from(sb[R4_BLOCKSIZE]) * 256);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Reader;

    fn run(magic_index: usize, journal_block: u32) -> Option<Vec<&'static str>> {
        let magic = &REISERFS.magics[magic_index];
        let mut img = vec![0u8; MIN_SIZE as usize];
        let sb = (magic.kboff * 1024) as usize;
        img[sb + magic.sboff as usize..][..magic.bytes.len()].copy_from_slice(magic.bytes);
        LE::write_u16(&mut img[sb + BLOCKSIZE..], 4096);
        LE::write_u32(&mut img[sb + JOURNAL_BLOCK..], journal_block);
        img[sb + LABEL] = b'r';
        img[sb + UUID] = 1;
        let mut r = Reader::from_bytes(img);
        let mut ctx = Ctx::new(&mut r, Some(magic));
        let found = probe_reiser(&mut ctx).unwrap();
        found.then(|| ctx.tags().iter().map(|t| t.name).collect())
    }

    #[test]
    fn only_3_6_and_jr_have_label_and_uuid() {
        assert_eq!(run(1, 18).unwrap(), ["LABEL", "UUID", "VERSION", "BLOCK_SIZE"]);
        assert_eq!(run(2, 18).unwrap(), ["LABEL", "UUID", "VERSION", "BLOCK_SIZE"]);
        assert_eq!(run(3, 18).unwrap(), ["VERSION", "BLOCK_SIZE"]);
    }

    #[test]
    fn a_superblock_inside_the_journal_is_rejected() {
        // At 64 KiB with 4 KiB blocks the superblock is block 8: the journal
        // must start at block 16 or later.
        assert!(run(1, 15).is_none());
        assert!(run(1, 16).is_some());
    }
}
