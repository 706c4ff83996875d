//! HighPoint RocketRAID members (util-linux `highpoint_raid.c`): the 45x
//! series keeps a magic 11 sectors before the end, the 37x series at 4.5 KiB.
#![forbid(unsafe_code)]

use super::hwraid;
use crate::probe::field::{layout, Fields, Le32};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

pub static HPT45X: Prober = Prober { name: "hpt45x_raid_member", usage: Usage::Raid, probe: probe_45x, ..Prober::BASE };

/// The superblock is at sector 9, its magic 32 bytes into it.
pub static HPT37X: Prober = Prober {
    name: "hpt37x_raid_member",
    usage: Usage::Raid,
    magics: &[
        Magic { bytes: b"\xf0\x16\x78\x5a", kboff: 4, sboff: 544 },
        Magic { bytes: b"\xfd\x16\x78\x5a", kboff: 4, sboff: 544 },
    ],
    probe: probe_37x,
    ..Prober::BASE
};

layout! { LEN_45X = 4;
    MAGIC_45X: Le32 = 0;
}
/// A good and a "bad" (degraded) array.
const MAGICS_45X: [u32; 2] = [0x5a78_16f3, 0x5a78_16fd];

fn probe_45x(ctx: &mut Ctx) -> io::Result<bool> {
    let Some((_, m)) = hwraid::tail(ctx, 11, LEN_45X)? else { return Ok(false) };
    Ok(MAGICS_45X.contains(&m.at(MAGIC_45X)))
}

/// The magic is all there is; only the whole-disk rule remains.
fn probe_37x(ctx: &mut Ctx) -> io::Result<bool> {
    Ok(ctx.medium.disk_or_file())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::probe::probe_bytes;

    #[test]
    fn hpt45x_magic_eleven_sectors_from_the_end() {
        let mut img = vec![0u8; 0x10000];
        img[0x10000 - 11 * 512..][..4].copy_from_slice(&MAGICS_45X[1].to_le_bytes());
        assert_eq!(probe_bytes(probe_45x, None, img).unwrap(), Some(vec![]));
        assert_eq!(probe_bytes(probe_45x, None, vec![0u8; 0x10000]).unwrap(), None);
        assert_eq!(HPT37X.magics[0].offset(), 9 * 512 + 32);
    }
}
