//! EROFS (libblkid `erofs.c`).
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Bytes, Fields, Uuid, U8};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

/// The superblock is at 1 KiB.
const SB_KBOFF: u64 = 1;

pub static EROFS: Prober = Prober {
    name: "erofs",
    usage: Usage::Filesystem,
    magics: &[Magic { bytes: b"\xe2\xe1\xf5\xe0", kboff: SB_KBOFF, sboff: 0 }],
    probe,
    ..Prober::BASE
};

layout! { SB_LEN = 128;
    BLKSZBITS: U8 = 12;
    UUID: Uuid = 48;
    VOLUME_NAME: Bytes<16> = 64;
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let sb = ctx.read(SB_KBOFF * 1024, SB_LEN)?;
    let label = sb.at(VOLUME_NAME);
    if label[0] != 0 {
        ctx.set_label(&label);
    }
    ctx.set_uuid(&sb.at(UUID));
    let bits = sb.at(BLKSZBITS);
    if bits < 32 {
        ctx.set_block_size(1u64 << bits);
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
        img[sb + VOLUME_NAME.0..sb + VOLUME_NAME.0 + 5].copy_from_slice(b"ro fs");
        img[sb + BLKSZBITS.0] = 12;
        let tags = |img: Vec<u8>| {
            let mut r = Reader::from_bytes(img);
            let mut ctx = Ctx::new(&mut r, EROFS.magics.first());
            assert!(probe(&mut ctx).unwrap());
            ctx.into_tags().into_iter().map(|t| (t.name, t.value)).collect::<Vec<_>>()
        };
        assert_eq!(tags(img.clone()), [("LABEL", b"ro fs".to_vec()), ("BLOCK_SIZE", b"4096".to_vec())]);
        img[sb + BLKSZBITS.0] = 40;
        assert_eq!(tags(img), [("LABEL", b"ro fs".to_vec())]);
    }
}
