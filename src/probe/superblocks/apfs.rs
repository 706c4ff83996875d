//! Apple APFS containers (util-linux `apfs.c`): the container superblock at 0.

use crate::probe::field::{layout, Fields, Le16, Le32, Uuid};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

pub static APFS: Prober = Prober {
    name: "apfs",
    usage: Usage::Filesystem,
    magics: &[Magic { bytes: b"NXSB", kboff: 0, sboff: 32 }],
    probe,
    ..Prober::BASE
};

layout! { SB_LEN = 88;
    OBJ_TYPE: Le16 = 24;
    OBJ_SUBTYPE: Le16 = 28;
    OBJ_PAD: Le16 = 30;
    BLOCK_SIZE: Le32 = 36;
    UUID: Uuid = 72;
}
const CONTAINER_TYPE: u16 = 1;
/// libblkid accepts only the standard block size, to avoid false positives.
const STANDARD_BLOCK_SIZE: u32 = 4096;

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let sb = ctx.read(0, SB_LEN)?;
    if sb.at(OBJ_TYPE) != CONTAINER_TYPE
        || sb.at(OBJ_SUBTYPE) != 0
        || sb.at(OBJ_PAD) != 0
        || sb.at(BLOCK_SIZE) != STANDARD_BLOCK_SIZE
    {
        return Ok(false);
    }
    ctx.set_uuid(&sb.at(UUID));
    ctx.set_block_size(u64::from(STANDARD_BLOCK_SIZE));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Reader;

    #[test]
    fn only_the_standard_block_size() {
        let mut img = vec![0u8; 4096];
        img[32..36].copy_from_slice(b"NXSB");
        img[OBJ_TYPE.0] = 1;
        img[BLOCK_SIZE.0..BLOCK_SIZE.0 + 4].copy_from_slice(&8192u32.to_le_bytes());
        let mut r = Reader::from_bytes(img.clone());
        assert!(!probe(&mut Ctx::new(&mut r, None)).unwrap());
        img[BLOCK_SIZE.0..BLOCK_SIZE.0 + 4].copy_from_slice(&4096u32.to_le_bytes());
        let mut r = Reader::from_bytes(img);
        let mut ctx = Ctx::new(&mut r, None);
        assert!(probe(&mut ctx).unwrap());
        assert_eq!(ctx.tags()[0].name, "BLOCK_SIZE");
    }
}
