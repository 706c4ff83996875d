//! UBIFS (libblkid `ubifs.c`): the superblock node at the start of the volume.
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Fields, Le32, Uuid};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

pub static UBIFS: Prober = Prober {
    name: "ubifs",
    usage: Usage::Filesystem,
    magics: &[Magic { bytes: b"\x31\x18\x10\x06", kboff: 0, sboff: 0 }],
    probe,
    ..Prober::BASE
};

// libblkid reads the whole 4 KiB node.
layout! { SB_LEN = 4096;
    FMT_VERSION: Le32 = 80;
    UUID: Uuid = 108;
    RO_COMPAT_VERSION: Le32 = 124;
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let sb = ctx.read(0, SB_LEN)?;
    ctx.set_uuid(&sb.at(UUID));
    // Printed as signed numbers, as libblkid's "w%dr%d".
    ctx.set_version(format!("w{}r{}", sb.at(FMT_VERSION) as i32, sb.at(RO_COMPAT_VERSION) as i32));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::probe::probe_bytes;

    #[test]
    fn versions_are_signed() {
        let mut img = vec![0u8; 4096];
        img[FMT_VERSION.0..][..4].copy_from_slice(&4u32.to_le_bytes());
        img[RO_COMPAT_VERSION.0..][..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(probe_bytes(probe, None, img).unwrap(), Some(vec![("VERSION", b"w4r-1".to_vec())]));
        assert!(probe_bytes(probe, None, vec![0; 4095]).is_err());
    }
}
