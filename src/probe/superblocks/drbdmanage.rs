//! drbdmanage control volumes (util-linux `drbdmanage.c`): a text header with
//! a 32-digit hex id, and a persistence record at 4 KiB that gives the version.
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Be32, Bytes, Fields, U8};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

pub static DRBDMANAGE: Prober = Prober {
    name: "drbdmanage_control_volume",
    usage: Usage::Other,
    magics: &[Magic { bytes: b"$DRBDmgr=q", kboff: 0, sboff: 0 }],
    min_size: MIN_SIZE,
    probe,
    ..Prober::BASE
};

const MIN_SIZE: u64 = 64 * 1024;
layout! { HDR_LEN = 44;
    UUID: Bytes<32> = 11;
    /// A newline ends the id.
    LF: U8 = 43;
}
const PERSISTENCE: u64 = 0x1000;
layout! { PERS_LEN = 8;
    PERS_MAGIC: Bytes<4> = 0;
    VERSION: Be32 = 4;
}
const PERSISTENCE_MAGIC: [u8; 4] = *b"\x1a\xdb\x98\xa2";

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let hdr = ctx.read(0, HDR_LEN)?;
    if !hdr.slice(UUID).iter().all(u8::is_ascii_hexdigit) || hdr.at(LF) != b'\n' {
        return Ok(false);
    }
    ctx.set_uuid_string(hdr.slice(UUID));
    let prs = ctx.read(PERSISTENCE, PERS_LEN)?;
    if prs.at(PERS_MAGIC) == PERSISTENCE_MAGIC {
        // Printed as a signed number, as libblkid's "%d".
        ctx.set_version((prs.at(VERSION) as i32).to_string());
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::probe::probe_bytes;

    #[test]
    fn hex_id_and_version() {
        let mut img = vec![0u8; 0x10000];
        img[..HDR_LEN].copy_from_slice(b"$DRBDmgr=q 0123456789abcdef0123456789ABCDEF\n");
        let id = b"0123456789abcdef0123456789ABCDEF".to_vec();
        assert_eq!(probe_bytes(probe, None, img.clone()).unwrap(), Some(vec![("UUID", id.clone())]));
        img[0x1000..0x1008].copy_from_slice(b"\x1a\xdb\x98\xa2\xff\xff\xff\xfe");
        let want = vec![("UUID", id), ("VERSION", b"-2".to_vec())];
        assert_eq!(probe_bytes(probe, None, img.clone()).unwrap(), Some(want));
        img[20] = b'g';
        assert_eq!(probe_bytes(probe, None, img).unwrap(), None);
    }
}
