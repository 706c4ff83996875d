//! Device-mapper targets with on-disk headers (util-linux `lvm.c`): snapshot
//! exception stores, dm-verity hash devices and dm-integrity devices.
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Fields, Le32, Uuid, U8};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

/// The magic is the whole check.
pub static SNAPSHOT_COW: Prober = Prober {
    name: "DM_snapshot_cow",
    usage: Usage::Other,
    magics: &[Magic { bytes: b"SnAp", kboff: 0, sboff: 0 }],
    probe: |_| Ok(true),
    ..Prober::BASE
};

pub static VERITY_HASH: Prober = Prober {
    name: "DM_verity_hash",
    usage: Usage::Crypto,
    magics: &[Magic { bytes: b"verity\0\0", kboff: 0, sboff: 0 }],
    probe: probe_verity,
    ..Prober::BASE
};

pub static INTEGRITY: Prober = Prober {
    name: "DM_integrity",
    usage: Usage::Crypto,
    magics: &[Magic { bytes: b"integrt\0", kboff: 0, sboff: 0 }],
    probe: probe_integrity,
    ..Prober::BASE
};

// The start of the 512-byte verity superblock. libblkid reads all of it, which
// always fits where the magic did.
layout! { VERITY_LEN = 32;
    VERITY_VERSION: Le32 = 8;
    VERITY_UUID: Uuid = 16;
}
// The integrity superblock as far as libblkid reads it.
layout! { INTEGRITY_LEN = 29;
    INTEGRITY_VERSION: U8 = 8;
}

fn probe_verity(ctx: &mut Ctx) -> io::Result<bool> {
    let sb = ctx.read(0, VERITY_LEN)?;
    if sb.at(VERITY_VERSION) != 1 {
        return Ok(false);
    }
    ctx.set_uuid(&sb.at(VERITY_UUID));
    ctx.set_version("1");
    Ok(true)
}

fn probe_integrity(ctx: &mut Ctx) -> io::Result<bool> {
    let sb = ctx.read(0, INTEGRITY_LEN)?;
    let version = sb.at(INTEGRITY_VERSION);
    if version == 0 {
        return Ok(false);
    }
    ctx.set_version(version.to_string());
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::probe::probe_bytes;

    #[test]
    fn verity_needs_version_1() {
        let mut img = vec![0u8; 4096];
        img[..9].copy_from_slice(b"verity\0\0\x01");
        img[VERITY_UUID.0 + 15] = 0xff;
        let want = vec![("UUID", b"00000000-0000-0000-0000-0000000000ff".to_vec()), ("VERSION", b"1".to_vec())];
        assert_eq!(probe_bytes(probe_verity, None, img.clone()).unwrap(), Some(want));
        img[VERITY_VERSION.0] = 2;
        assert_eq!(probe_bytes(probe_verity, None, img).unwrap(), None);
    }

    #[test]
    fn integrity_needs_a_version() {
        let mut img = vec![0u8; 4096];
        img[..8].copy_from_slice(b"integrt\0");
        assert_eq!(probe_bytes(probe_integrity, None, img.clone()).unwrap(), None);
        img[INTEGRITY_VERSION.0] = 5;
        assert_eq!(probe_bytes(probe_integrity, None, img).unwrap(), Some(vec![("VERSION", b"5".to_vec())]));
    }
}
