//! SNIA DDF RAID members (util-linux `ddf_raid.c`): an anchor header in the
//! last sector (or 257 sectors before the end), in either byte order, which
//! points at the primary header; both must carry the same signature.
#![forbid(unsafe_code)]

use super::hwraid;
use crate::probe::field::{layout, Bytes, Endian, Fields, U32, U64};
use crate::probe::{Ctx, Prober, Usage};
use std::io;

pub static DDF: Prober = Prober { name: "ddf_raid_member", usage: Usage::Raid, probe, ..Prober::BASE };

/// libblkid looks at no smaller device, partitions included.
const MIN_SIZE: u64 = 0x30000;
/// Sectors from the end where the anchor may be, in libblkid's order.
const ANCHORS: [u64; 2] = [1, 257];
const DDF_MAGIC: u32 = 0xde11_de11;
layout! { LEN = 512;
    /// The record's byte order is that of the signature.
    SIGNATURE: U32 = 0;
    GUID: Bytes<24> = 8;
    REV: Bytes<8> = 32;
    PRIMARY_LBA: U64 = 96;
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let size = ctx.reader.size();
    if size < MIN_SIZE {
        return Ok(false);
    }
    let mut found = None;
    for back in ANCHORS {
        let off = (size / hwraid::SECTOR - back) * hwraid::SECTOR;
        // The signature first: almost every device has none.
        let Some(start) = ctx.read_opt(off, 4)? else { return Ok(false) };
        if let Some(e) = [Endian::Big, Endian::Little].into_iter().find(|&e| start.at_in(e, SIGNATURE) == DDF_MAGIC) {
            let Some(hdr) = ctx.read_opt(off, LEN)? else { return Ok(false) };
            found = Some((hdr, e));
            break;
        }
    }
    let Some((hdr, order)) = found else { return Ok(false) };
    let lba = hdr.at_in(order, PRIMARY_LBA);
    if lba > 0 {
        // The shift drops high bits, as the C expression does.
        match ctx.read_opt(lba << 9, 4)? {
            Some(sig) if sig == hdr[..4] => {}
            _ => return Ok(false),
        }
    }
    ctx.set_uuid_string(hdr.slice(GUID));
    let rev = hdr.slice(REV);
    ctx.set("VERSION", &rev[..rev.iter().position(|&b| b == 0).unwrap_or(rev.len())]);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::field::put;
    use crate::support::probe::probe_bytes;

    fn image(back: usize, primary: u64) -> Vec<u8> {
        let mut img = vec![0u8; 0x40000];
        let at = img.len() - back * 512;
        let h = &mut img[at..at + LEN];
        put(h, 0, &DDF_MAGIC.to_be_bytes());
        put(h, GUID.0, b"Linux-MD");
        put(h, REV.0, b"01.02.00");
        put(h, PRIMARY_LBA.0, &primary.to_be_bytes());
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
        put(&mut img, 2048, &DDF_MAGIC.to_be_bytes());
        assert_eq!(probe_bytes(probe, None, img).unwrap(), Some(want));
        assert_eq!(probe_bytes(probe, None, image(1, u64::MAX)).unwrap(), None);
    }
}
