//! drbdmanage control volumes (util-linux `drbdmanage.c`): a text header with
//! a 32-digit hex id, and a persistence record at 4 KiB that gives the version.
#![forbid(unsafe_code)]

use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

pub static DRBDMANAGE: Prober = Prober {
    name: "drbdmanage_control_volume",
    usage: Usage::Other,
    tolerant: false,
    magics: &[Magic { bytes: b"$DRBDmgr=q", kboff: 0, sboff: 0 }],
    probe,
};

const MIN_SIZE: u64 = 64 * 1024;
const UUID: usize = 11;
const UUID_LEN: usize = 32;
/// A newline ends the id.
const LF: usize = UUID + UUID_LEN;
const PERSISTENCE: u64 = 0x1000;
const PERSISTENCE_MAGIC: &[u8] = b"\x1a\xdb\x98\xa2";
const VERSION: usize = 4;

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    if ctx.reader.size() < MIN_SIZE {
        return Ok(false);
    }
    let hdr = ctx.read(0, LF + 1)?;
    if !hdr[UUID..LF].iter().all(u8::is_ascii_hexdigit) || hdr[LF] != b'\n' {
        return Ok(false);
    }
    ctx.set_uuid_string(&hdr[UUID..LF]);
    let prs = ctx.read(PERSISTENCE, VERSION + 4)?;
    if prs.starts_with(PERSISTENCE_MAGIC) {
        // Printed as a signed number, as libblkid's "%d".
        ctx.set_version(i32::from_be_bytes([prs[4], prs[5], prs[6], prs[7]]).to_string());
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::testutil::probe_bytes;

    #[test]
    fn hex_id_and_version() {
        let mut img = vec![0u8; 0x10000];
        img[..LF + 1].copy_from_slice(b"$DRBDmgr=q 0123456789abcdef0123456789ABCDEF\n");
        let id = b"0123456789abcdef0123456789ABCDEF".to_vec();
        assert_eq!(probe_bytes(probe, None, img.clone()).unwrap(), Some(vec![("UUID", id.clone())]));
        img[0x1000..0x1008].copy_from_slice(b"\x1a\xdb\x98\xa2\xff\xff\xff\xfe");
        let want = vec![("UUID", id), ("VERSION", b"-2".to_vec())];
        assert_eq!(probe_bytes(probe, None, img.clone()).unwrap(), Some(want));
        img[20] = b'g';
        assert_eq!(probe_bytes(probe, None, img).unwrap(), None);
    }
}
