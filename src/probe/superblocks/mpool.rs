//! mpool devices (libblkid `mpool.c`): a descriptor guarded by a CRC-32C.
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Bytes, Fields, Le32, Uuid};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

pub static MPOOL: Prober = Prober {
    name: "mpool",
    usage: Usage::Filesystem,
    tolerant: false,
    magics: &[Magic { bytes: b"mpoolDev", kboff: 0, sboff: 0 }],
    probe,
};

layout! { SB_LEN = 66;
    NAME: Bytes<32> = 8;
    POOL_ID: Uuid = 40;
    CKSUM1: Le32 = 62;
}

/// CRC-32C (Castagnoli), bit by bit: 62 bytes once per probe do not need a table.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0x82f6_3b78 } else { crc >> 1 };
        }
    }
    !crc
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let sb = ctx.read(0, SB_LEN)?;
    if crc32c(&sb[..CKSUM1.0]) != sb.at(CKSUM1) {
        return Ok(false);
    }
    ctx.set_label(&sb.at(NAME));
    ctx.set_uuid(&sb.at(POOL_ID));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::testutil::probe_bytes;

    #[test]
    fn checksum_guards_the_descriptor() {
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        let mut img = vec![0u8; 4096];
        img[..8].copy_from_slice(b"mpoolDev");
        img[NAME.0..NAME.0 + 3].copy_from_slice(b"mp1");
        let sum = crc32c(&img[..CKSUM1.0]);
        img[CKSUM1.0..CKSUM1.0 + 4].copy_from_slice(&sum.to_le_bytes());
        assert_eq!(probe_bytes(probe, None, img.clone()).unwrap(), Some(vec![("LABEL", b"mp1".to_vec())]));
        img[NAME.0] = b'M';
        assert_eq!(probe_bytes(probe, None, img).unwrap(), None);
    }
}
