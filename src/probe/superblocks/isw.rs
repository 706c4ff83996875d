//! Intel Matrix Storage (IMSM) RAID members (util-linux `isw_raid.c`): the
//! metadata starts two logical sectors before the end of the disk.
#![forbid(unsafe_code)]

use super::hwraid;
use crate::probe::field::{layout, Bytes, Fields};
use crate::probe::{Ctx, Prober, Usage};
use std::io;

pub static ISW: Prober = Prober { name: "isw_raid_member", usage: Usage::Raid, probe, ..Prober::BASE };

const SIGNATURE: &[u8] = b"Intel Raid ISM Cfg Sig. ";
layout! { LEN = 48;
    /// The 32-byte signature field: the signature text, then the version
    /// ("1.3.00"), whose text may run on into the checksum words after it.
    SIG: Bytes<24> = 0;
    VERSION: Bytes<24> = 24;
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let Some(off) = hwraid::from_end(ctx, hwraid::MIN_SIZE, 2, ctx.medium.sector_size) else { return Ok(false) };
    let Some(md) = ctx.read_opt(off, LEN)? else { return Ok(false) };
    if md.at(SIG) != SIGNATURE {
        return Ok(false);
    }
    // libblkid prints it with "%6s": up to a NUL, padded on the left to 6.
    let v = md.slice(VERSION);
    let v = &v[..v.iter().position(|&b| b == 0).unwrap_or(v.len())];
    let mut version = vec![b' '; 6usize.saturating_sub(v.len())];
    version.extend_from_slice(v);
    ctx.set("VERSION", version);
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
        img[at..at + 24].copy_from_slice(SIGNATURE);
        img[at + 24..at + 28].copy_from_slice(b"1.0.");
        let tags = probe_bytes(probe, None, img.clone()).unwrap().unwrap();
        assert_eq!(tags, vec![("VERSION", b"  1.0.".to_vec())]);
        img[at] = b'i';
        assert_eq!(probe_bytes(probe, None, img).unwrap(), None);
    }
}
