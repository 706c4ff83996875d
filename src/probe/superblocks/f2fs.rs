//! F2FS (libblkid `f2fs.c`).
#![forbid(unsafe_code)]

use crate::probe::{Ctx, Magic, Prober, Usage};
use byteorder::{ByteOrder, LittleEndian as LE};
use std::io;

/// The first superblock is at 1 KiB.
const SB_KBOFF: u64 = 1;

pub static F2FS: Prober = Prober {
    name: "f2fs",
    usage: Usage::Filesystem,
    tolerant: false,
    magics: &[Magic { bytes: b"\x10\x20\xf5\xf2", kboff: SB_KBOFF, sboff: 0 }],
    probe,
};

const SB_LEN: usize = 0x7c + VOLUME_NAME_LEN;
const MAJOR_VER: usize = 0x04;
const MINOR_VER: usize = 0x06;
const LOG_BLOCKSIZE: usize = 0x10;
const UUID: usize = 0x6c;
const VOLUME_NAME: usize = 0x7c;
/// 512 UTF-16 units.
const VOLUME_NAME_LEN: usize = 1024;

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let sb = ctx.read(SB_KBOFF * 1024, SB_LEN)?;
    let major = LE::read_u16(&sb[MAJOR_VER..]);
    let minor = LE::read_u16(&sb[MINOR_VER..]);
    // Version 1.0 superblocks had another layout: nothing past the magic is trusted.
    if (major, minor) == (1, 0) {
        return Ok(true);
    }
    // libblkid tests the first byte only, not the first UTF-16 unit.
    if sb[VOLUME_NAME] != 0 {
        ctx.set_utf16_label(&sb[VOLUME_NAME..VOLUME_NAME + VOLUME_NAME_LEN], false);
    }
    let uuid: [u8; 16] = sb[UUID..UUID + 16].try_into().expect("16 bytes");
    ctx.set_uuid(&uuid);
    ctx.set_version(format!("{major}.{minor}"));
    let log_blocksize = LE::read_u32(&sb[LOG_BLOCKSIZE..]);
    if log_blocksize < 32 {
        ctx.set_block_size(1u64 << log_blocksize);
    }
    Ok(true)
}
