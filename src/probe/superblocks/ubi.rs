//! UBI (unsorted block images) on raw flash (util-linux `ubi.c`): the erase
//! counter header of the first eraseblock. Its image sequence number is the UUID.
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Be32, Bytes, Fields, U8};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

pub static UBI: Prober = Prober {
    name: "ubi",
    usage: Usage::Raid,
    magics: &[Magic { bytes: b"UBI#", kboff: 0, sboff: 0 }],
    probe,
    ..Prober::BASE
};

// The erase counter header.
layout! { LEN = 64;
    VERSION: U8 = 4;
    IMAGE_SEQ: Bytes<4> = 24;
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let hdr = ctx.read(0, LEN)?;
    ctx.set_version(hdr.at(VERSION).to_string());
    let seq = hdr.at(IMAGE_SEQ);
    ctx.set_uuid_formatted(&seq, seq.at(Be32(0)).to_string());
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::probe::probe_bytes;

    #[test]
    fn version_and_image_sequence() {
        let mut img = vec![0u8; 4096];
        img[..5].copy_from_slice(b"UBI#\x01");
        assert_eq!(probe_bytes(probe, None, img.clone()).unwrap(), Some(vec![("VERSION", b"1".to_vec())]));
        img[IMAGE_SEQ.0..IMAGE_SEQ.0 + 4].copy_from_slice(&[0x12, 0x34, 0x56, 0x78]);
        let want = vec![("VERSION", b"1".to_vec()), ("UUID", b"305419896".to_vec())];
        assert_eq!(probe_bytes(probe, None, img).unwrap(), Some(want));
    }
}
