//! SNIA DDF RAID members (util-linux `ddf_raid.c`): an anchor header in the
//! last sector (or 257 sectors before the end), in either byte order, which
//! points at the primary header; both must carry the same signature.
#![forbid(unsafe_code)]

use super::hwraid;
use crate::probe::{Ctx, Prober, Usage};
use byteorder::{BigEndian as BE, ByteOrder, LittleEndian as LE};
use std::io;

pub static DDF: Prober = Prober { name: "ddf_raid_member", usage: Usage::Raid, tolerant: false, magics: &[], probe };

/// libblkid looks at no smaller device, partitions included.
const MIN_SIZE: u64 = 0x30000;
/// Sectors from the end where the anchor may be, in libblkid's order.
const ANCHORS: [u64; 2] = [1, 257];
const LEN: usize = 512;
const DDF_MAGIC: u32 = 0xde11_de11;
const GUID: usize = 8;
const GUID_LEN: usize = 24;
const REV: usize = 32;
const REV_LEN: usize = 8;
const PRIMARY_LBA: usize = 96;

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let size = ctx.reader.size();
    if size < MIN_SIZE {
        return Ok(false);
    }
    let mut found = None;
    for back in ANCHORS {
        let off = (size / hwraid::SECTOR - back) * hwraid::SECTOR;
        let Some(hdr) = ctx.read_opt(off, LEN)? else { return Ok(false) };
        if LE::read_u32(&hdr) == DDF_MAGIC || BE::read_u32(&hdr) == DDF_MAGIC {
            found = Some(hdr);
            break;
        }
    }
    let Some(hdr) = found else { return Ok(false) };
    let lba = if BE::read_u32(&hdr) == DDF_MAGIC {
        BE::read_u64(&hdr[PRIMARY_LBA..])
    } else {
        LE::read_u64(&hdr[PRIMARY_LBA..])
    };
    if lba > 0 {
        // The shift drops high bits, as the C expression does.
        match ctx.read_opt(lba << 9, 4)? {
            Some(sig) if sig == hdr[..4] => {}
            _ => return Ok(false),
        }
    }
    ctx.set_uuid_string(&hdr[GUID..GUID + GUID_LEN]);
    let rev = &hdr[REV..REV + REV_LEN];
    ctx.set("VERSION", &rev[..rev.iter().position(|&b| b == 0).unwrap_or(REV_LEN)]);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::testutil::probe_bytes;

    fn image(back: usize, primary: u64) -> Vec<u8> {
        let mut img = vec![0u8; 0x40000];
        let at = img.len() - back * 512;
        let h = &mut img[at..at + LEN];
        BE::write_u32(h, DDF_MAGIC);
        h[GUID..GUID + 8].copy_from_slice(b"Linux-MD");
        h[REV..REV + 8].copy_from_slice(b"01.02.00");
        BE::write_u64(&mut h[PRIMARY_LBA..], primary);
        img
    }

    #[test]
    fn anchor_and_primary_header() {
        let want = vec![("UUID", b"Linux-MD".to_vec()), ("VERSION", b"01.02.00".to_vec())];
        assert_eq!(probe_bytes(probe, None, image(1, 0)).unwrap(), Some(want.clone()));
        assert_eq!(probe_bytes(probe, None, image(257, 0)).unwrap(), Some(want.clone()));
        // The primary header it names must carry the signature.
        assert_eq!(probe_bytes(probe, None, image(1, 4)).unwrap(), None);
        let mut img = image(1, 4);
        BE::write_u32(&mut img[2048..], DDF_MAGIC);
        assert_eq!(probe_bytes(probe, None, img).unwrap(), Some(want));
        assert_eq!(probe_bytes(probe, None, image(1, u64::MAX)).unwrap(), None);
    }
}
