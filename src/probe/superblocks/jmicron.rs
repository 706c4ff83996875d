//! JMicron RAID members (util-linux `jmicron_raid.c`): "JM" and a version in
//! the last sector. libblkid 2.38.1 does not check the record's checksum.
#![forbid(unsafe_code)]

use super::hwraid;
use crate::probe::field::{layout, Bytes, Fields, U8};
use crate::probe::{Ctx, Prober, Usage};
use std::io;

pub static JMICRON: Prober = Prober { name: "jmicron_raid_member", usage: Usage::Raid, probe, ..Prober::BASE };

const SIGNATURE: &[u8] = b"JM";
layout! { LEN = 6;
    SIG: Bytes<2> = 0;
    MINOR: U8 = 2;
    MAJOR: U8 = 3;
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let Some((_, md)) = hwraid::tail(ctx, 1, LEN)? else { return Ok(false) };
    if md.at(SIG) != SIGNATURE {
        return Ok(false);
    }
    ctx.set_version(format!("{}.{}", md.at(MAJOR), md.at(MINOR)));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::probe::probe_bytes;

    #[test]
    fn signature_and_version() {
        let mut img = vec![0u8; 0x10000];
        img[0x10000 - 512..][..4].copy_from_slice(b"JM\x05\x01");
        assert_eq!(probe_bytes(probe, None, img).unwrap(), Some(vec![("VERSION", b"1.5".to_vec())]));
    }
}
