//! mpool devices (libblkid `mpool.c`): a descriptor guarded by a CRC-32C.
#![forbid(unsafe_code)]

use crate::probe::checksum::CRC32C;
use crate::probe::field::{layout, Bytes, Fields, Le32, Uuid};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

pub static MPOOL: Prober = Prober {
    name: "mpool",
    usage: Usage::Filesystem,
    magics: &[Magic { bytes: b"mpoolDev", kboff: 0, sboff: 0 }],
    probe,
    ..Prober::BASE
};

layout! { SB_LEN = 66;
    NAME: Bytes<32> = 8;
    POOL_ID: Uuid = 40;
    CKSUM1: Le32 = 62;
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let sb = ctx.read(0, SB_LEN)?;
    if CRC32C.checksum(&sb[..CKSUM1.0]) != sb.at(CKSUM1) {
        return Ok(false);
    }
    ctx.set_label(&sb.at(NAME));
    ctx.set_uuid(&sb.at(POOL_ID));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::probe::probe_bytes;

    #[test]
    fn checksum_guards_the_descriptor() {
        let mut img = vec![0u8; 4096];
        img[..8].copy_from_slice(b"mpoolDev");
        img[NAME.0..NAME.0 + 3].copy_from_slice(b"mp1");
        let sum = CRC32C.checksum(&img[..CKSUM1.0]);
        img[CKSUM1.0..CKSUM1.0 + 4].copy_from_slice(&sum.to_le_bytes());
        assert_eq!(probe_bytes(probe, None, img.clone()).unwrap(), Some(vec![("LABEL", b"mp1".to_vec())]));
        img[NAME.0] = b'M';
        assert_eq!(probe_bytes(probe, None, img).unwrap(), None);
    }
}
