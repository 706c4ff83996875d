//! NVIDIA MediaShield RAID members (util-linux `nvidia_raid.c`): metadata two
//! sectors before the end.
#![forbid(unsafe_code)]

use super::hwraid;
use crate::probe::field::{layout, Bytes, Fields, Le16};
use crate::probe::{Ctx, Prober, Usage};
use std::io;

pub static NVIDIA: Prober = Prober { name: "nvidia_raid_member", usage: Usage::Raid, probe, ..Prober::BASE };

const SIGNATURE: &[u8] = b"NVIDIA";
layout! { LEN = 18;
    VENDOR: Bytes<6> = 0;
    VERSION: Le16 = 16;
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let Some((_, md)) = hwraid::tail(ctx, 2, LEN)? else { return Ok(false) };
    if md.at(VENDOR) != SIGNATURE {
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
    fn signature_two_sectors_from_the_end() {
        let mut img = vec![0u8; 0x10000];
        let at = 0x10000 - 1024;
        img[at..at + 6].copy_from_slice(SIGNATURE);
        img[at + VERSION.0] = 100;
        assert_eq!(probe_bytes(probe, None, img.clone()).unwrap(), Some(vec![("VERSION", b"100".to_vec())]));
        img.truncate(0x10000 - 512);
        assert_eq!(probe_bytes(probe, None, img).unwrap(), None);
    }
}
