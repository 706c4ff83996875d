//! LUKS1 and LUKS2 encrypted volumes (util-linux `luks.c`).
//!
//! The primary header is at offset 0. LUKS2 also keeps a second header copy,
//! with its own magic, at one of a few fixed offsets: libblkid looks there only
//! when the primary magic is gone, and reports what the copy says.

use crate::probe::field::{layout, Be16, Bytes, Fields};
use crate::probe::{Ctx, Prober, Usage};
use std::io;

pub static LUKS: Prober = Prober { name: "crypto_LUKS", usage: Usage::Crypto, probe, ..Prober::BASE };

const MAGIC: &[u8] = b"LUKS\xba\xbe";
const MAGIC_SECONDARY: &[u8] = b"SKUL\xba\xbe";
/// Where cryptsetup may put the LUKS2 secondary header (it follows the
/// primary header's JSON area, whose size is one of these).
const SECONDARY_OFFSETS: [u64; 9] = [0x4000, 0x8000, 0x10000, 0x20000, 0x40000, 0x80000, 0x100000, 0x200000, 0x400000];

// The binary LUKS2 header (the LUKS1 header fits inside it).
layout! { HEADER_LEN = 512;
    VERSION: Be16 = 6;
    V2_LABEL: Bytes<48> = 24;
    /// Both versions keep the UUID string at the same place.
    UUID: Bytes<40> = 168;
    V2_SUBSYSTEM: Bytes<48> = 208;
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let hdr = ctx.read(0, HEADER_LEN)?;
    if hdr.starts_with(MAGIC) {
        attributes(ctx, &hdr);
        return Ok(true);
    }
    for off in SECONDARY_OFFSETS {
        // libblkid reads each whole header (and gives up when one does not
        // fit); the magic alone says whether the rest is needed.
        if !ctx.reader.fits(off, HEADER_LEN as u64) {
            return Ok(false);
        }
        if ctx.read(off, MAGIC_SECONDARY.len())? == MAGIC_SECONDARY {
            let hdr = ctx.read(off, HEADER_LEN)?;
            attributes(ctx, &hdr);
            return Ok(true);
        }
    }
    Ok(false)
}

fn attributes(ctx: &mut Ctx, hdr: &[u8]) {
    let version = hdr.at(VERSION);
    ctx.set_version(version.to_string());
    let uuid = hdr.slice(UUID);
    match version {
        1 => ctx.set_uuid_string(uuid),
        2 => {
            ctx.set_uuid_string(uuid);
            ctx.set_label(hdr.slice(V2_LABEL));
            ctx.set_id_label("SUBSYSTEM", hdr.slice(V2_SUBSYSTEM));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::probe::probe_bytes;

    fn run(img: Vec<u8>) -> Option<Vec<(&'static str, Vec<u8>)>> {
        probe_bytes(probe, None, img).ok().flatten()
    }

    #[test]
    fn secondary_header_is_used_when_primary_is_gone() {
        let mut img = vec![0u8; 0x10000];
        let h = &mut img[0x4000..];
        h[..6].copy_from_slice(MAGIC_SECONDARY);
        h[VERSION.0 + 1] = 2;
        h[UUID.0..UUID.0 + 4].copy_from_slice(b"abcd");
        h[V2_SUBSYSTEM.0..V2_SUBSYSTEM.0 + 5].copy_from_slice(b"  sub");
        let tags = run(img).unwrap();
        assert_eq!(tags, vec![("VERSION", b"2".to_vec()), ("UUID", b"abcd".to_vec()), ("SUBSYSTEM", b"sub".to_vec())]);
    }

    #[test]
    fn primary_without_magic_and_no_copy_is_nothing() {
        assert_eq!(run(vec![0u8; 0x500000]), None);
        assert_eq!(run(vec![0u8; 0x3000]), None);
    }
}
