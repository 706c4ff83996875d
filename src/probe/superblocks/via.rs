//! VIA V-RAID members (util-linux `via_raid.c`): metadata in the last sector,
//! with an 8-bit checksum.
#![forbid(unsafe_code)]

use super::hwraid;
use crate::probe::field::{layout, Fields, Le16, U8};
use crate::probe::{Ctx, Prober, Usage};
use std::io;

pub static VIA: Prober = Prober { name: "via_raid_member", usage: Usage::Raid, probe, ..Prober::BASE };

const SIGNATURE: u16 = 0xaa55;
layout! { LEN = 51;
    SIG: Le16 = 0;
    VERSION: U8 = 2;
    /// The byte sum of everything before it.
    CHECKSUM: U8 = 50;
}
const MAX_VERSION: u8 = 2;

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let Some(md) = hwraid::tail_with(ctx, 1, SIG.0, &SIGNATURE.to_le_bytes(), LEN)? else { return Ok(false) };
    let sum = md[..CHECKSUM.0].iter().fold(0u8, |s, &b| s.wrapping_add(b));
    if md.at(SIG) != SIGNATURE || md.at(VERSION) > MAX_VERSION || sum != md.at(CHECKSUM) {
        return Ok(false);
    }
    ctx.set_version(md.at(VERSION).to_string());
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::probe::probe_bytes;

    #[test]
    fn checksum_and_version_are_checked() {
        let mut img = vec![0u8; 0x10000];
        let at = 0x10000 - 512;
        img[at..at + 3].copy_from_slice(&[0x55, 0xaa, 2]);
        img[at + CHECKSUM.0] = 0x55u8.wrapping_add(0xaa).wrapping_add(2);
        assert_eq!(probe_bytes(probe, None, img.clone()).unwrap(), Some(vec![("VERSION", b"2".to_vec())]));
        img[at + 10] = 1;
        assert_eq!(probe_bytes(probe, None, img.clone()).unwrap(), None);
        img[at + 10] = 0;
        img[at + 2] = 3;
        img[at + CHECKSUM.0] += 1;
        assert_eq!(probe_bytes(probe, None, img).unwrap(), None);
    }
}
