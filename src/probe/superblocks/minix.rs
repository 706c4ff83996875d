//! Minix v1, v2 and v3 (libblkid `minix.c`), in either byte order.
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Endian, Fields, Le16, U16, U32};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

/// The superblock is at 1 KiB.
const SB_OFF: u64 = 1024;

const fn at(bytes: &'static [u8], sboff: u64) -> Magic {
    Magic { bytes, kboff: 1, sboff }
}

pub static MINIX: Prober = Prober {
    name: "minix",
    usage: Usage::Filesystem,
    magics: &[
        at(b"\x7f\x13", 0x10), // v1, little-endian
        at(b"\x8f\x13", 0x10),
        at(b"\x13\x7f", 0x10), // v1, big-endian
        at(b"\x13\x8f", 0x10),
        at(b"\x68\x24", 0x10), // v2, little-endian
        at(b"\x78\x24", 0x10),
        at(b"\x24\x68", 0x10), // v2, big-endian
        at(b"\x24\x78", 0x10),
        at(b"\x5a\x4d", 0x18), // v3, little-endian
        at(b"\x4d\x5a", 0x18), // v3, big-endian
    ],
    probe,
    ..Prober::BASE
};

// The v1/v2 superblock and the v3 one share the record read (32 bytes).
layout! { SB_LEN = 32;
    NINODES: U16 = 0;
    NZONES: U16 = 2;
    IMAP_BLOCKS: U16 = 4;
    ZMAP_BLOCKS: U16 = 6;
    FIRSTDATAZONE: U16 = 8;
    LOG_ZONE_SIZE: U16 = 10;
    MAGIC: U16 = 16;
    STATE: U16 = 18;
    ZONES: U32 = 20;
    V3_NINODES: U32 = 0;
    V3_IMAP_BLOCKS: U16 = 6;
    V3_ZMAP_BLOCKS: U16 = 8;
    V3_FIRSTDATAZONE: U16 = 10;
    V3_LOG_ZONE_SIZE: U16 = 12;
    V3_ZONES: U32 = 20;
    V3_MAGIC: Le16 = 24;
    V3_BLOCKSIZE: U16 = 28;
}

const V3_MAGIC_VALUE: u16 = 0x4d5a;
const VALID_FS: u16 = 1;
const ERROR_FS: u16 = 2;
const BLOCK_SIZE: u64 = 1024;
/// The ext2/3/4 magic, which a minix look-alike inside ext must not carry.
const EXT_MAGIC_OFF: u64 = 0x438;

/// The version and the byte order, as libblkid's `get_minix_version` decides
/// them: the v1/v2 magic in either order; v3 only in the host's (little-endian) order.
fn version(sb: &[u8]) -> Option<(u32, Endian)> {
    let v12 = |m: u16| match m {
        0x137f | 0x138f => Some(1),
        0x2468 | 0x2478 => Some(2),
        _ => None,
    };
    let v3 = (sb.at(V3_MAGIC) == V3_MAGIC_VALUE).then_some(3);
    let le = sb.at_in(Endian::Little, MAGIC);
    let be = sb.at_in(Endian::Big, MAGIC);
    v12(le).or(v3).map(|v| (v, Endian::Little)).or_else(|| v12(be).or(v3).map(|v| (v, Endian::Big)))
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let sb = ctx.read(SB_OFF, SB_LEN)?;
    let Some((version, e)) = version(&sb) else { return Ok(false) };
    let n = |f: U16| u64::from(sb.at_in(e, f));
    let (zones, ninodes, imaps, zmaps, firstz, zone_size, block_size) = if version < 3 {
        let state = sb.at_in(e, STATE);
        if state & (VALID_FS | ERROR_FS) != state {
            return Ok(false);
        }
        let zones = if version == 2 { u64::from(sb.at_in(e, ZONES)) } else { n(NZONES) };
        (zones, n(NINODES), n(IMAP_BLOCKS), n(ZMAP_BLOCKS), n(FIRSTDATAZONE), n(LOG_ZONE_SIZE), BLOCK_SIZE)
    } else {
        let (zones, ninodes) = (u64::from(sb.at_in(e, V3_ZONES)), u64::from(sb.at_in(e, V3_NINODES)));
        let (imaps, zmaps, firstz) = (n(V3_IMAP_BLOCKS), n(V3_ZMAP_BLOCKS), n(V3_FIRSTDATAZONE));
        (zones, ninodes, imaps, zmaps, firstz, n(V3_LOG_ZONE_SIZE), n(V3_BLOCKSIZE))
    };
    // fsck.minix's sanity checks; the counts are at most 32 bits, so 64-bit
    // arithmetic cannot overflow.
    let bits_per_block = BLOCK_SIZE * 8;
    if zone_size != 0 || ninodes == 0 || ninodes == u64::from(u32::MAX) {
        return Ok(false);
    }
    if imaps * bits_per_block < ninodes + 1 || firstz > zones || zmaps * bits_per_block < zones - firstz + 1 {
        return Ok(false);
    }
    // Parts of an ext filesystem can look like a minix superblock.
    if ctx.read(EXT_MAGIC_OFF, 2)? == b"\x53\xef" {
        return Ok(false);
    }
    ctx.set_version(version.to_string());
    ctx.set_block_size(block_size);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::field::put;
    use crate::support::probe::probe_bytes;

    fn image(magic: u16, big_endian: bool, state: u16) -> Vec<u8> {
        let mut img = vec![0u8; 64 << 10];
        let w = |v: u16| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
        let sb = &mut img[SB_OFF as usize..];
        put(sb, NINODES.0, &w(32));
        put(sb, NZONES.0, &w(64));
        put(sb, IMAP_BLOCKS.0, &w(1));
        put(sb, ZMAP_BLOCKS.0, &w(1));
        put(sb, FIRSTDATAZONE.0, &w(5));
        put(sb, MAGIC.0, &w(magic));
        put(sb, STATE.0, &w(state));
        img
    }

    #[test]
    fn either_byte_order_and_the_sanity_checks() {
        let want = Some(vec![("VERSION", b"1".to_vec()), ("BLOCK_SIZE", b"1024".to_vec())]);
        assert_eq!(probe_bytes(probe, None, image(0x137f, false, 1)).unwrap(), want);
        assert_eq!(probe_bytes(probe, None, image(0x137f, true, 1)).unwrap(), want);
        // An unknown state bit, or an ext magic where ext has it.
        assert_eq!(probe_bytes(probe, None, image(0x137f, false, 4)).unwrap(), None);
        // The zone size is a 16-bit field: a high byte alone makes it non-zero.
        let mut img = image(0x137f, false, 1);
        img[SB_OFF as usize + LOG_ZONE_SIZE.0 + 1] = 0x83;
        assert_eq!(probe_bytes(probe, None, img).unwrap(), None);
        let mut img = image(0x2468, false, 1);
        assert_eq!(probe_bytes(probe, None, img.clone()).unwrap(), None, "v2 reads 32-bit zones: 0");
        img[EXT_MAGIC_OFF as usize..][..2].copy_from_slice(b"\x53\xef");
        assert_eq!(probe_bytes(probe, None, img).unwrap(), None);
    }
}
