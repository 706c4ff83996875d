//! Promise FastTrack RAID members (util-linux `promise_raid.c`): the
//! signature is at one of several sector counts from the end, which differ
//! between controller BIOS versions.
#![forbid(unsafe_code)]

use super::hwraid;
use crate::probe::{Ctx, Prober, Usage};
use std::io;

pub static PROMISE: Prober =
    Prober { name: "promise_fasttrack_raid_member", usage: Usage::Raid, probe, ..Prober::BASE };

const SIGNATURE: &[u8] = b"Promise Technology, Inc.";
const MIN_SIZE: u64 = 0x40000;
/// Sectors from the end, in libblkid's order.
const PLACES: [u64; 13] = [63, 255, 256, 16, 399, 591, 675, 735, 911, 974, 991, 951, 3087];

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    for back in PLACES {
        // libblkid gives up at the first place before the start of the device.
        let Some(off) = hwraid::from_end(ctx, MIN_SIZE, back, hwraid::SECTOR) else { return Ok(false) };
        let Some(sig) = ctx.read_opt(off, SIGNATURE.len())? else { return Ok(false) };
        if sig == SIGNATURE {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::probe::probe_bytes;

    #[test]
    fn any_of_the_places() {
        for back in [63u64, 3087] {
            let mut img = vec![0u8; 0x200000];
            let at = img.len() - back as usize * 512;
            img[at..at + SIGNATURE.len()].copy_from_slice(SIGNATURE);
            assert_eq!(probe_bytes(probe, None, img).unwrap(), Some(vec![]));
        }
        assert_eq!(probe_bytes(probe, None, vec![0u8; 0x40000]).unwrap(), None);
    }
}
