//! Adaptec HostRAID members (util-linux `adaptec_raid.c`): a 512-byte record
//! in the last sector, recognised by two big-endian magics.
#![forbid(unsafe_code)]

use super::hwraid;
use crate::probe::field::{layout, Bytes, Fields, U8};
use crate::probe::{Ctx, Prober, Usage};
use std::io;

pub static ADAPTEC: Prober = Prober { name: "adaptec_raid_member", usage: Usage::Raid, probe, ..Prober::BASE };

layout! { LEN = 512;
    B0IDCODE: Bytes<4> = 0;
    RESVER: U8 = 63;
    SMAGIC: Bytes<4> = 256;
}
const AD_MAGIC: [u8; 4] = 0x37fc_4d1e_u32.to_be_bytes();
const AD_SIGNATURE: &[u8; 4] = b"DPTM";

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let Some(md) = hwraid::tail_with(ctx, 1, B0IDCODE.0, &AD_MAGIC, LEN)? else { return Ok(false) };
    if md.at(SMAGIC) != *AD_SIGNATURE || md.at(B0IDCODE) != AD_MAGIC {
        return Ok(false);
    }
    ctx.set_version(md.at(RESVER).to_string());
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::probe::probe_bytes;

    #[test]
    fn both_magics_needed() {
        let mut img = vec![0u8; 0x10000];
        let at = 0x10000 - 512;
        img[at + SMAGIC.0..at + SMAGIC.0 + 4].copy_from_slice(AD_SIGNATURE);
        assert_eq!(probe_bytes(probe, None, img.clone()).unwrap(), None);
        img[at..at + 4].copy_from_slice(&AD_MAGIC);
        img[at + RESVER.0] = 9;
        assert_eq!(probe_bytes(probe, None, img).unwrap(), Some(vec![("VERSION", b"9".to_vec())]));
    }
}
