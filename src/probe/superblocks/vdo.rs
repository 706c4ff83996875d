//! Red Hat VDO (dm-vdo) volumes (util-linux `vdo.c`).
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Fields, Uuid};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

pub static VDO: Prober = Prober {
    name: "vdo",
    usage: Usage::Other,
    magics: &[Magic { bytes: b"dmvdo001", kboff: 0, sboff: 0 }],
    probe,
    ..Prober::BASE
};

layout! { LEN = 56;
    UUID: Uuid = 40;
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let sb = ctx.read(0, LEN)?;
    ctx.set_uuid(&sb.at(UUID));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::probe::probe_bytes;

    #[test]
    fn uuid_after_the_magic() {
        let mut img = vec![0u8; 4096];
        img[..8].copy_from_slice(b"dmvdo001");
        img[UUID.0] = 0xaa;
        let want = vec![("UUID", b"aa000000-0000-0000-0000-000000000000".to_vec())];
        assert_eq!(probe_bytes(probe, None, img).unwrap(), Some(want));
    }
}
