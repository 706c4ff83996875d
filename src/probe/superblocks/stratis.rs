//! Stratis block devices (util-linux `stratis.c`): two copies of a 512-byte
//! signature block, at sectors 1 and 9, each guarded by a CRC-32C.
#![forbid(unsafe_code)]

use crate::probe::checksum::CRC32C;
use crate::probe::field::{layout, Bytes, Fields, Le32, Le64};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

const MAGIC: &[u8] = b"!Stra0tis\x86\xff\x02^\x41rh";
const COPIES: [usize; 2] = [BS, 9 * BS];
/// Where the magic sits in a copy, after its CRC.
const MAGIC_AT: usize = 4;
/// libblkid reads the whole signature area, and so needs this much.
const AREA: usize = 16 * BS;

pub static STRATIS: Prober = Prober {
    name: "stratis",
    usage: Usage::Raid,
    magics: &[
        Magic { bytes: MAGIC, kboff: 0, sboff: (COPIES[0] + MAGIC_AT) as u64 },
        Magic { bytes: MAGIC, kboff: 0, sboff: (COPIES[1] + MAGIC_AT) as u64 },
    ],
    min_size: AREA as u64,
    probe,
    ..Prober::BASE
};

// One copy of the signature block.
layout! { BS = 512;
    CRC: Le32 = 0;
    SECTORS: Le64 = 20;
    POOL_UUID: Bytes<32> = 32;
    DEV_UUID: Bytes<32> = 64;
    INIT_TIME: Le64 = 120;
}

fn valid(sb: &[u8]) -> bool {
    CRC32C.checksum(&sb[4..BS]) == sb.at(CRC)
}

/// Stratis stores UUIDs as 32 hex digits; shown 8-4-4-4-12.
fn format_uuid(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(36);
    for (i, &c) in raw.iter().enumerate() {
        out.push(c);
        if matches!(i, 7 | 11 | 15 | 19) {
            out.push(b'-');
        }
    }
    out
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let area = ctx.read(0, AREA)?;
    let Some(sb) = COPIES.iter().map(|&at| &area[at..at + BS]).find(|sb| valid(sb)) else { return Ok(false) };
    ctx.set_uuid_string(&format_uuid(sb.slice(DEV_UUID)));
    ctx.set("POOL_UUID", format_uuid(sb.slice(POOL_UUID)));
    ctx.set("BLOCKDEV_SECTORS", sb.at(SECTORS).to_string());
    ctx.set("BLOCKDEV_INITTIME", sb.at(INIT_TIME).to_string());
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::field::put;
    use crate::support::probe::probe_bytes;

    #[test]
    fn second_copy_when_the_first_is_bad() {
        let mut img = vec![0u8; AREA];
        let sb = &mut img[9 * BS..10 * BS];
        sb[MAGIC_AT..MAGIC_AT + MAGIC.len()].copy_from_slice(MAGIC);
        put(sb, DEV_UUID.0, b"0123456789abcdef0123456789abcdef");
        put(sb, POOL_UUID.0, b"fedcba9876543210fedcba9876543210");
        sb[SECTORS.0] = 8;
        let crc = CRC32C.checksum(&sb[4..]);
        put(sb, CRC.0, &crc.to_le_bytes());
        let want = vec![
            ("UUID", b"01234567-89ab-cdef-0123-456789abcdef".to_vec()),
            ("POOL_UUID", b"fedcba98-7654-3210-fedc-ba9876543210".to_vec()),
            ("BLOCKDEV_SECTORS", b"8".to_vec()),
            ("BLOCKDEV_INITTIME", b"0".to_vec()),
        ];
        assert_eq!(probe_bytes(probe, None, img.clone()).unwrap(), Some(want));
        img[9 * BS + 100] = 1;
        assert_eq!(probe_bytes(probe, None, img).unwrap(), None);
    }
}
