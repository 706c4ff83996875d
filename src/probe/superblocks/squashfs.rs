//! SquashFS 4 and the older SquashFS 1–3 (libblkid `squashfs.c`).
#![forbid(unsafe_code)]

use crate::probe::{Ctx, Magic, Prober, Usage};
use byteorder::{BigEndian as BE, ByteOrder, LittleEndian as LE};
use std::io;

pub static SQUASHFS: Prober = Prober {
    name: "squashfs",
    usage: Usage::Filesystem,
    tolerant: false,
    magics: &[Magic { bytes: b"hsqs", kboff: 0, sboff: 0 }],
    probe: probe_squashfs,
};

/// Versions before 4 were written in the byte order of the host that made them.
pub static SQUASHFS3: Prober = Prober {
    name: "squashfs3",
    usage: Usage::Filesystem,
    tolerant: false,
    magics: &[
        Magic { bytes: b"sqsh", kboff: 0, sboff: 0 }, // big-endian
        Magic { bytes: b"hsqs", kboff: 0, sboff: 0 }, // little-endian
    ],
    probe: probe_squashfs3,
};

const SB_LEN: usize = 32;
const S_MAJOR: usize = 28;
const S_MINOR: usize = 30;

fn probe_squashfs(ctx: &mut Ctx) -> io::Result<bool> {
    let sb = ctx.read(0, SB_LEN)?;
    let (major, minor) = (LE::read_u16(&sb[S_MAJOR..]), LE::read_u16(&sb[S_MINOR..]));
    if major < 4 {
        return Ok(false);
    }
    ctx.set_version(format!("{major}.{minor}"));
    Ok(true)
}

fn probe_squashfs3(ctx: &mut Ctx) -> io::Result<bool> {
    let sb = ctx.read(0, SB_LEN)?;
    let big_endian = ctx.magic.is_some_and(|m| m.bytes == b"sqsh");
    let read = if big_endian { BE::read_u16 } else { LE::read_u16 };
    let (major, minor) = (read(&sb[S_MAJOR..]), read(&sb[S_MINOR..]));
    if major > 3 {
        return Ok(false);
    }
    ctx.set_version(format!("{major}.{minor}"));
    ctx.set_block_size(1024);
    Ok(true)
}
