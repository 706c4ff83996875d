//! romfs (libblkid `romfs.c`).
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Bytes, Fields};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

pub static ROMFS: Prober = Prober {
    name: "romfs",
    usage: Usage::Filesystem,
    magics: &[Magic { bytes: b"-rom1fs-", kboff: 0, sboff: 0 }],
    probe,
    ..Prober::BASE
};

layout! { SB_LEN = 32;
    VOLUME: Bytes<16> = 16;
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let sb = ctx.read(0, SB_LEN)?;
    let volume = sb.at(VOLUME);
    if volume[0] != 0 {
        ctx.set_label(&volume);
    }
    ctx.set_block_size(1024);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::probe::probe_bytes;

    #[test]
    fn label_and_fixed_block_size() {
        let mut img = vec![0u8; 2048];
        img[..8].copy_from_slice(b"-rom1fs-");
        img[VOLUME.0..VOLUME.0 + 4].copy_from_slice(b"rom ");
        let want = vec![("LABEL", b"rom".to_vec()), ("BLOCK_SIZE", b"1024".to_vec())];
        assert_eq!(probe_bytes(probe, None, img).unwrap(), Some(want));
    }
}
