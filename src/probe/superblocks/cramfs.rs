//! cramfs (libblkid `cramfs.c`): the magic in either byte order, and a label.
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Bytes, Fields};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

pub static CRAMFS: Prober = Prober {
    name: "cramfs",
    usage: Usage::Filesystem,
    magics: &[
        Magic { bytes: b"\x45\x3d\xcd\x28", kboff: 0, sboff: 0 },
        Magic { bytes: b"\x28\xcd\x3d\x45", kboff: 0, sboff: 0 },
    ],
    probe,
    ..Prober::BASE
};

layout! { SB_LEN = 64;
    NAME: Bytes<16> = 48;
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let sb = ctx.read(0, SB_LEN)?;
    ctx.set_label(&sb.at(NAME));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::probe::probe_bytes;

    #[test]
    fn label_from_the_name() {
        let mut img = vec![0u8; 4096];
        img[..4].copy_from_slice(b"\x45\x3d\xcd\x28");
        img[NAME.0..NAME.0 + 16].copy_from_slice(b"Compressed  ROMF");
        let tags = probe_bytes(probe, CRAMFS.magics.first(), img).unwrap();
        assert_eq!(tags, Some(vec![("LABEL", b"Compressed  ROMF".to_vec())]));
        assert_eq!(probe_bytes(probe, None, vec![0; 40]).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }
}
