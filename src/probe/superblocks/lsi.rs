//! LSI MegaRAID (software) members (util-linux `lsi_raid.c`): a signature in
//! the last sector, nothing else to report.
#![forbid(unsafe_code)]

use super::hwraid;
use crate::probe::{Ctx, Prober, Usage};
use std::io;

pub static LSI: Prober = Prober { name: "lsi_mega_raid_member", usage: Usage::Raid, probe, ..Prober::BASE };

const SIGNATURE: &[u8] = b"$XIDE$";

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    Ok(hwraid::tail(ctx, 1, SIGNATURE.len())?.is_some_and(|(_, md)| md == SIGNATURE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::probe::probe_bytes;

    #[test]
    fn signature_in_the_last_sector() {
        let mut img = vec![0u8; 0x10200];
        img[0x10000..0x10006].copy_from_slice(SIGNATURE);
        assert_eq!(probe_bytes(probe, None, img.clone()).unwrap(), Some(vec![]));
        img.push(0);
        assert_eq!(probe_bytes(probe, None, img).unwrap(), Some(vec![]), "the size rounds down to sectors");
        assert_eq!(probe_bytes(probe, None, vec![0; 0x10200]).unwrap(), None);
    }
}
