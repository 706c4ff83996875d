//! Silicon Image Medley RAID members (util-linux `silicon_raid.c`): a
//! 512-byte record in the last sector with a 16-bit checksum.
#![forbid(unsafe_code)]

use super::hwraid;
use crate::probe::field::{layout, Fields, Le16, Le32, U8};
use crate::probe::{Ctx, Prober, Usage};
use std::io;

pub static SILICON: Prober = Prober { name: "silicon_medley_raid_member", usage: Usage::Raid, probe, ..Prober::BASE };

layout! { LEN = 512;
    MAGIC: Le32 = 0x60;
    MINOR_VER: Le16 = 0x108;
    MAJOR_VER: Le16 = 0x10a;
    DISK_NUMBER: U8 = 0x116;
    /// The negated sum of the 16-bit words before it.
    CHECKSUM1: Le16 = 0x13e;
}
const SILICON_MAGIC: u32 = 0x2f00_0000;
const MAX_DISKS: u8 = 8;

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let magic = SILICON_MAGIC.to_le_bytes();
    let Some(md) = hwraid::tail_with(ctx, 1, MAGIC.0, &magic, LEN)? else { return Ok(false) };
    let sum = md[..CHECKSUM1.0].chunks_exact(2).fold(0u16, |s, w| s.wrapping_add(w.at(Le16(0))));
    if md.at(MAGIC) != SILICON_MAGIC || md.at(DISK_NUMBER) >= MAX_DISKS || sum.wrapping_neg() != md.at(CHECKSUM1) {
        return Ok(false);
    }
    ctx.set_version(format!("{}.{}", md.at(MAJOR_VER), md.at(MINOR_VER)));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::field::put;
    use crate::support::probe::probe_bytes;

    #[test]
    fn magic_disk_number_and_checksum() {
        let mut img = vec![0u8; 0x10000];
        let at = 0x10000 - 512;
        put(&mut img, at + MAGIC.0, &SILICON_MAGIC.to_le_bytes());
        put(&mut img, at + MAJOR_VER.0, &2u16.to_le_bytes());
        put(&mut img, at + MINOR_VER.0, &1u16.to_le_bytes());
        // The words sum to 0x2f00 + 2 + 1.
        put(&mut img, at + CHECKSUM1.0, &0x2f03u16.wrapping_neg().to_le_bytes());
        assert_eq!(probe_bytes(probe, None, img.clone()).unwrap(), Some(vec![("VERSION", b"2.1".to_vec())]));
        img[at + DISK_NUMBER.0] = 8;
        assert_eq!(probe_bytes(probe, None, img.clone()).unwrap(), None);
        img[at + DISK_NUMBER.0] = 0;
        img[at + 4] = 1;
        assert_eq!(probe_bytes(probe, None, img).unwrap(), None);
    }
}
