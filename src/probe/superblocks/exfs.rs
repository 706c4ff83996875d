//! EXFS, a clone of XFS with its own magic (libblkid `exfs.c`): XFS's
//! superblock checks, and its block size rather than its sector size.
#![forbid(unsafe_code)]

use super::xfs;
use crate::probe::field::{layout, Be32, Bytes, Fields, Uuid};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

pub static EXFS: Prober = Prober {
    name: "exfs",
    usage: Usage::Filesystem,
    magics: &[Magic { bytes: b"EXFS", kboff: 0, sboff: 0 }],
    probe,
    ..Prober::BASE
};

layout! { SB_LEN = xfs::SB_LEN;
    BLOCKSIZE: Be32 = 4;
    UUID: Uuid = 32;
    FNAME: Bytes<12> = 108;
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let sb = ctx.read(0, SB_LEN)?;
    if !xfs::verify_sb(&sb) {
        return Ok(false);
    }
    let fname = sb.at(FNAME);
    if fname[0] != 0 {
        ctx.set_label(&fname);
    }
    ctx.set_uuid(&sb.at(UUID));
    ctx.set_block_size(u64::from(sb.at(BLOCKSIZE)));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::probe::probe_bytes;

    #[test]
    fn xfs_checks_apply() {
        let mut img = vec![0u8; 4096];
        img[..4].copy_from_slice(b"EXFS");
        let be32 = |img: &mut Vec<u8>, off: usize, v: u32| img[off..off + 4].copy_from_slice(&v.to_be_bytes());
        assert_eq!(probe_bytes(probe, None, img.clone()).unwrap(), None);
        be32(&mut img, BLOCKSIZE.0, 4096);
        be32(&mut img, 8 + 4, 1000); // dblocks (low half)
        be32(&mut img, 80, 1); // rextsize
        be32(&mut img, 84, 1000); // agblocks
        be32(&mut img, 88, 1); // agcount
        img[102..104].copy_from_slice(&512u16.to_be_bytes());
        img[104..106].copy_from_slice(&256u16.to_be_bytes());
        img[120..124].copy_from_slice(&[12, 9, 8, 4]);
        img[FNAME.0..FNAME.0 + 2].copy_from_slice(b"ex");
        let want = vec![("LABEL", b"ex".to_vec()), ("BLOCK_SIZE", b"4096".to_vec())];
        assert_eq!(probe_bytes(probe, None, img).unwrap(), Some(want));
    }
}
