//! zonefs (libblkid `zonefs.c`).
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Bytes, Fields, Uuid};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

pub static ZONEFS: Prober = Prober {
    name: "zonefs",
    usage: Usage::Filesystem,
    magics: &[Magic { bytes: b"SFOZ", kboff: 0, sboff: 0 }],
    probe,
    ..Prober::BASE
};

layout! { SB_LEN = 76;
    LABEL: Bytes<32> = 8;
    UUID: Uuid = 40;
}

/// zonefs always uses 4 KiB blocks.
const BLOCK_SIZE: u64 = 4096;

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let sb = ctx.read(0, SB_LEN)?;
    let label = sb.at(LABEL);
    if label[0] != 0 {
        ctx.set_label(&label);
    }
    ctx.set_uuid(&sb.at(UUID));
    ctx.set_block_size(BLOCK_SIZE);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::probe::probe_bytes;

    #[test]
    fn label_uuid_and_fixed_block_size() {
        let mut img = vec![0u8; 4096];
        img[LABEL.0..LABEL.0 + 2].copy_from_slice(b"zn");
        img[UUID.0] = 1;
        let tags = probe_bytes(probe, None, img).unwrap().unwrap();
        assert_eq!(tags[0], ("LABEL", b"zn".to_vec()));
        assert_eq!(tags[1], ("UUID", b"01000000-0000-0000-0000-000000000000".to_vec()));
        assert_eq!(tags[2], ("BLOCK_SIZE", b"4096".to_vec()));
    }
}
