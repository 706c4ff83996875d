//! ReiserFS 3.5, 3.6 and with a non-standard journal, and Reiser4
//! (libblkid `reiserfs.c`).
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Bytes, Fields, Le16, Le32, Uuid, U8};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

/// libblkid's `minsz` for both.
const MIN_SIZE: u64 = 128 * 1024;

pub static REISERFS: Prober = Prober {
    name: "reiserfs",
    usage: Usage::Filesystem,
    magics: &[
        // 3.5 kept the superblock at 8 KiB, later versions at 64 KiB.
        Magic { bytes: b"ReIsErFs", kboff: 8, sboff: 0x34 },
        Magic { bytes: b"ReIsEr2Fs", kboff: 64, sboff: 0x34 },
        Magic { bytes: b"ReIsEr3Fs", kboff: 64, sboff: 0x34 },
        Magic { bytes: b"ReIsErFs", kboff: 64, sboff: 0x34 },
        Magic { bytes: b"ReIsErFs", kboff: 8, sboff: 20 },
    ],
    min_size: MIN_SIZE,
    probe: probe_reiser,
    ..Prober::BASE
};

pub static REISER4: Prober = Prober {
    name: "reiser4",
    usage: Usage::Filesystem,
    magics: &[Magic { bytes: b"ReIsEr4", kboff: 64, sboff: 0 }],
    min_size: MIN_SIZE,
    probe: probe_reiser4,
    ..Prober::BASE
};

layout! { SB_LEN = 116;
    JOURNAL_BLOCK: Le32 = 12;
    BLOCKSIZE: Le16 = 44;
    UUID: Uuid = 84;
    LABEL: Bytes<16> = 100;
}

fn probe_reiser(ctx: &mut Ctx) -> io::Result<bool> {
    let Some(magic) = ctx.magic else { return Ok(false) };
    let sb = ctx.read(magic.kboff * 1024, SB_LEN)?;
    let blocksize = u32::from(sb.at(BLOCKSIZE));
    let sectors_per_block = u64::from(blocksize >> 9);
    if sectors_per_block == 0 {
        return Ok(false);
    }
    // A superblock that lies inside the journal is a stale copy.
    if magic.kboff / sectors_per_block > u64::from(sb.at(JOURNAL_BLOCK) / 2) {
        return Ok(false);
    }
    // The seventh magic byte tells 3.6 ('2') and non-standard-journal ('3')
    // superblocks, the only ones with a label and UUID, from 3.5 ones.
    let kind = magic.bytes[6];
    if kind == b'2' || kind == b'3' {
        let label = sb.at(LABEL);
        if label[0] != 0 {
            ctx.set_label(&label);
        }
        ctx.set_uuid(&sb.at(UUID));
    }
    ctx.set_version(match kind {
        b'3' => "JR",
        b'2' => "3.6",
        _ => "3.5",
    });
    ctx.set_block_size(u64::from(blocksize));
    Ok(true)
}

layout! { R4_SB_LEN = 60;
    R4_BLOCKSIZE: U8 = 19;
    R4_UUID: Uuid = 20;
    R4_LABEL: Bytes<16> = 36;
}

fn probe_reiser4(ctx: &mut Ctx) -> io::Result<bool> {
    let sb = ctx.read(64 * 1024, R4_SB_LEN)?;
    let label = sb.at(R4_LABEL);
    if label[0] != 0 {
        ctx.set_label(&label);
    }
    ctx.set_uuid(&sb.at(R4_UUID));
    ctx.set_version("4");
    // libblkid reads one byte and scales it by 256.
    ctx.set_block_size(u64::from(sb.at(R4_BLOCKSIZE)) * 256);
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
        img[sb + BLOCKSIZE.0..][..2].copy_from_slice(&4096u16.to_le_bytes());
        img[sb + JOURNAL_BLOCK.0..][..4].copy_from_slice(&journal_block.to_le_bytes());
        img[sb + LABEL.0] = b'r';
        img[sb + UUID.0] = 1;
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
