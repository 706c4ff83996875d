//! DRBD Proxy data logs (util-linux `drbdproxy_datalog.c`). libblkid counts
//! them as filesystems, so one beside another signature is ambivalent.
#![forbid(unsafe_code)]

use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

pub static DRBDPROXY_DATALOG: Prober = Prober {
    name: "drbdproxy_datalog",
    usage: Usage::Filesystem,
    tolerant: false,
    magics: &[Magic { bytes: b"DRBDdlh*", kboff: 0, sboff: 0 }],
    probe,
};

const MIN_SIZE: u64 = 16 * 1024;
const VERSION: usize = 8;
const UUID: usize = 16;

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    if ctx.reader.size() < MIN_SIZE {
        return Ok(false);
    }
    let lh = ctx.read(0, UUID + 16)?;
    ctx.set_uuid(lh[UUID..UUID + 16].try_into().expect("16 bytes"));
    let version = u64::from_le_bytes(lh[VERSION..VERSION + 8].try_into().expect("8 bytes"));
    ctx.set_version(format!("v{version}"));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::testutil::probe_bytes;

    #[test]
    fn uuid_and_version() {
        let mut img = vec![0u8; 16 * 1024];
        img[..9].copy_from_slice(b"DRBDdlh*\x01");
        img[UUID] = 0x12;
        let want = vec![("UUID", b"12000000-0000-0000-0000-000000000000".to_vec()), ("VERSION", b"v1".to_vec())];
        assert_eq!(probe_bytes(probe, None, img.clone()).unwrap(), Some(want));
        img.pop();
        assert_eq!(probe_bytes(probe, None, img).unwrap(), None);
    }
}
