//! Veritas VxFS (libblkid `vxfs.c`): little-endian at 1 KiB or big-endian at 8 KiB.
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Endian, Fields, Le32, U32};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

pub static VXFS: Prober = Prober {
    name: "vxfs",
    usage: Usage::Filesystem,
    magics: &[
        Magic { bytes: b"\xf5\xfc\x01\xa5", kboff: 1, sboff: 0 },
        Magic { bytes: b"\xa5\x01\xfc\xf5", kboff: 8, sboff: 0 },
    ],
    probe,
    ..Prober::BASE
};

layout! { SB_LEN = 44;
    MAGIC: Le32 = 0;
    VERSION: U32 = 4;
    BSIZE: U32 = 32;
}

const MAGIC_VALUE: u32 = 0xa501_fcf5;

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let sb = ctx.read(ctx.magic.map_or(0, |m| m.kboff * 1024), SB_LEN)?;
    // The magic says the byte order; libblkid accepts the signature even when
    // neither reading of it matches (then without tags).
    let e = match sb.at(MAGIC) {
        MAGIC_VALUE => Endian::Little,
        m if m.swap_bytes() == MAGIC_VALUE => Endian::Big,
        _ => return Ok(true),
    };
    ctx.set_version(sb.at_in(e, VERSION).to_string());
    ctx.set_block_size(u64::from(sb.at_in(e, BSIZE)));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::probe::probe_bytes;

    #[test]
    fn big_endian_at_8_kib() {
        let mut img = vec![0u8; 16 << 10];
        let sb = &mut img[8 << 10..];
        sb[..4].copy_from_slice(VXFS.magics[1].bytes);
        sb[VERSION.0..][..4].copy_from_slice(&3u32.to_be_bytes());
        sb[BSIZE.0..][..4].copy_from_slice(&512u32.to_be_bytes());
        let want = vec![("VERSION", b"3".to_vec()), ("BLOCK_SIZE", b"512".to_vec())];
        assert_eq!(probe_bytes(probe, VXFS.magics.get(1), img).unwrap(), Some(want));
    }
}
