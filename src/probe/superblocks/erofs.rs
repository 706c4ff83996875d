//! EROFS (libblkid `erofs.c`).
#![forbid(unsafe_code)]

use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

/// The superblock is at 1 KiB.
const SB_KBOFF: u64 = 1;

pub static EROFS: Prober = Prober {
    name: "erofs",
    usage: Usage::Filesystem,
    tolerant: false,
    magics: &[Magic { bytes: b"\xe2\xe1\xf5\xe0", kboff: SB_KBOFF, sboff: 0 }],
    probe,
};

const SB_LEN: usize = 128;
const BLKSZBITS: usize = 12;
const UUID: usize = 48;
const VOLUME_NAME: usize = 64;
const VOLUME_NAME_LEN: usize = 16;

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let sb = ctx.read(SB_KBOFF * 1024, SB_LEN)?;
    if sb[VOLUME_NAME] != 0 {
        ctx.set_label(&sb[VOLUME_NAME..VOLUME_NAME + VOLUME_NAME_LEN]);
    }
    let uuid: [u8; 16] = sb[UUID..UUID + 16].try_into().expect("16 bytes");
    ctx.set_uuid(&uuid);
    if sb[BLKSZBITS] < 32 {
        ctx.set_block_size(1u64 << sb[BLKSZBITS]);
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Reader;

    #[test]
    fn label_uuid_block_size_and_oversized_block_bits() {
        let mut img = vec![0u8; 4096];
        let sb = (SB_KBOFF * 1024) as usize;
        img[sb..sb + 4].copy_from_slice(b"\xe2\xe1\xf5\xe0");
        img[sb + VOLUME_NAME..sb + VOLUME_NAME + 5].copy_from_slice(b"ro fs");
        img[sb + BLKSZBITS] = 12;
        let tags = |img: Vec<u8>| {
            let mut r = Reader::from_bytes(img);
            let mut ctx = Ctx::new(&mut r, EROFS.magics.first());
            assert!(probe(&mut ctx).unwrap());
            ctx.into_tags().into_iter().map(|t| (t.name, t.value)).collect::<Vec<_>>()
        };
        assert_eq!(tags(img.clone()), [("LABEL", b"ro fs".to_vec()), ("BLOCK_SIZE", b"4096".to_vec())]);
        img[sb + BLKSZBITS] = 40;
        assert_eq!(tags(img), [("LABEL", b"ro fs".to_vec())]);
    }
}
