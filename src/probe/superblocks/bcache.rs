//! bcache backing and cache devices (util-linux `bcache.c`).

use crate::probe::field::{layout, Fields, Le64, Uuid};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

/// The superblock is 4 KiB into the device.
const SB_OFFSET: u64 = 0x1000;
const SB_MAGIC_AT: u64 = 24;
layout! { SB_LEN = 56;
    SB_OFFSET_FIELD: Le64 = 8;
    SB_UUID: Uuid = 40;
}
/// libblkid skips devices smaller than this (`minsz`).
const MIN_SIZE: u64 = 8192;

pub static BCACHE: Prober = Prober {
    name: "bcache",
    usage: Usage::Other,
    magics: &[Magic {
        bytes: b"\xc6\x85\x73\xf6\x4e\x1a\x45\xca\x82\x65\xf5\x7f\x48\xba\x6d\x81",
        kboff: SB_OFFSET / 1024,
        sboff: SB_MAGIC_AT,
    }],
    min_size: MIN_SIZE,
    probe,
    ..Prober::BASE
};

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let sb = ctx.read(SB_OFFSET, SB_LEN)?;
    // The superblock records the sector it was written to.
    if sb.at(SB_OFFSET_FIELD) != SB_OFFSET / 512 {
        return Ok(false);
    }
    ctx.set_uuid(&sb.at(SB_UUID));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Reader;

    #[test]
    fn offset_field_must_name_sector_8() {
        let mut img = vec![0u8; 8192];
        img[4096 + SB_UUID.0] = 0xab;
        let mut r = Reader::from_bytes(img.clone());
        assert!(!probe(&mut Ctx::new(&mut r, None)).unwrap());
        img[4096 + SB_OFFSET_FIELD.0] = 8;
        let mut r = Reader::from_bytes(img);
        let mut ctx = Ctx::new(&mut r, None);
        assert!(probe(&mut ctx).unwrap());
        assert_eq!(ctx.tags()[0].value, b"ab000000-0000-0000-0000-000000000000");
    }
}
