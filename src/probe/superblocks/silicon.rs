//! Silicon Image Medley RAID members (util-linux `silicon_raid.c`): a
//! 512-byte record in the last sector with a 16-bit checksum.
#![forbid(unsafe_code)]

use super::hwraid;
use crate::probe::{Ctx, Prober, Usage};
use byteorder::{ByteOrder, LittleEndian as LE};
use std::io;

pub static SILICON: Prober =
    Prober { name: "silicon_medley_raid_member", usage: Usage::Raid, tolerant: false, magics: &[], probe };

const LEN: usize = 512;
const MAGIC: usize = 0x60;
const MINOR_VER: usize = 0x108;
const MAJOR_VER: usize = 0x10a;
const DISK_NUMBER: usize = 0x116;
/// The negated sum of the 16-bit words before it.
const CHECKSUM1: usize = 0x13e;
const SILICON_MAGIC: u32 = 0x2f00_0000;
const MAX_DISKS: u8 = 8;
const _: () = assert!(CHECKSUM1 + 2 <= LEN);

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let Some((_, md)) = hwraid::tail(ctx, 1, LEN)? else { return Ok(false) };
    let sum = md[..CHECKSUM1].chunks_exact(2).fold(0u16, |s, w| s.wrapping_add(LE::read_u16(w)));
    if LE::read_u32(&md[MAGIC..]) != SILICON_MAGIC
        || md[DISK_NUMBER] >= MAX_DISKS
        || sum.wrapping_neg() != LE::read_u16(&md[CHECKSUM1..])
    {
        return Ok(false);
    }
    ctx.set_version(format!("{}.{}", LE::read_u16(&md[MAJOR_VER..]), LE::read_u16(&md[MINOR_VER..])));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::testutil::probe_bytes;

    #[test]
    fn magic_disk_number_and_checksum() {
        let mut img = vec![0u8; 0x10000];
        let at = 0x10000 - 512;
        LE::write_u32(&mut img[at + MAGIC..], SILICON_MAGIC);
        LE::write_u16(&mut img[at + MAJOR_VER..], 2);
        LE::write_u16(&mut img[at + MINOR_VER..], 1);
        // The words sum to 0x2f00 + 2 + 1.
        LE::write_u16(&mut img[at + CHECKSUM1..], 0x2f03u16.wrapping_neg());
        assert_eq!(probe_bytes(probe, None, img.clone()).unwrap(), Some(vec![("VERSION", b"2.1".to_vec())]));
        img[at + DISK_NUMBER] = 8;
        assert_eq!(probe_bytes(probe, None, img.clone()).unwrap(), None);
        img[at + DISK_NUMBER] = 0;
        img[at + 4] = 1;
        assert_eq!(probe_bytes(probe, None, img).unwrap(), None);
    }
}
