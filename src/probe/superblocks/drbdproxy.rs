//! DRBD Proxy data logs (util-linux `drbdproxy_datalog.c`). libblkid counts
//! them as filesystems, so one beside another signature is ambivalent.
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Fields, Le64, Uuid};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

pub static DRBDPROXY_DATALOG: Prober = Prober {
    name: "drbdproxy_datalog",
    usage: Usage::Filesystem,
    magics: &[Magic { bytes: b"DRBDdlh*", kboff: 0, sboff: 0 }],
    min_size: MIN_SIZE,
    probe,
    ..Prober::BASE
};

const MIN_SIZE: u64 = 16 * 1024;
layout! { LEN = 32;
    VERSION: Le64 = 8;
    UUID: Uuid = 16;
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let lh = ctx.read(0, LEN)?;
    ctx.set_uuid(&lh.at(UUID));
    ctx.set_version(format!("v{}", lh.at(VERSION)));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::probe::{probe_bytes, probe_prober};

    #[test]
    fn uuid_and_version() {
        let mut img = vec![0u8; 16 * 1024];
        img[..9].copy_from_slice(b"DRBDdlh*\x01");
        img[UUID.0] = 0x12;
        let want = vec![("UUID", b"12000000-0000-0000-0000-000000000000".to_vec()), ("VERSION", b"v1".to_vec())];
        assert_eq!(probe_bytes(probe, None, img.clone()).unwrap(), Some(want));
        img.pop();
        assert_eq!(probe_prober(&DRBDPROXY_DATALOG, img).unwrap(), None);
    }
}
