//! Btrfs (libblkid `btrfs.c`). Zoned devices, whose superblock moves within
//! the first zones, are not handled: the reader has no zone report.
#![forbid(unsafe_code)]

use crate::probe::{Ctx, Magic, Prober, Usage};
use byteorder::{ByteOrder, LittleEndian as LE};
use std::io;

/// The primary superblock is at 64 KiB.
const SB_KBOFF: u64 = 64;
/// libblkid's `minsz`.
const MIN_SIZE: u64 = 1024 * 1024;

pub static BTRFS: Prober = Prober {
    name: "btrfs",
    usage: Usage::Filesystem,
    tolerant: false,
    magics: &[Magic { bytes: b"_BHRfS_M", kboff: SB_KBOFF, sboff: 0x40 }],
    probe,
};

const SB_LEN: usize = 555;
/// The file system's UUID, shared by all its devices.
const FSID: usize = 0x20;
const SECTORSIZE: usize = 0x90;
/// `dev_item.uuid`: this device's own UUID.
const DEV_UUID: usize = 0x10b;
const LABEL: usize = 0x12b;
const LABEL_LEN: usize = 256;

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    if ctx.reader.size() < MIN_SIZE {
        return Ok(false);
    }
    let sb = ctx.read(SB_KBOFF * 1024, SB_LEN)?;
    if sb[LABEL] != 0 {
        ctx.set_label(&sb[LABEL..LABEL + LABEL_LEN]);
    }
    let uuid = |off: usize| -> [u8; 16] { sb[off..off + 16].try_into().expect("16 bytes") };
    ctx.set_uuid(&uuid(FSID));
    ctx.set_uuid_tag("UUID_SUB", &uuid(DEV_UUID));
    ctx.set_block_size(u64::from(LE::read_u32(&sb[SECTORSIZE..])));
    Ok(true)
}
