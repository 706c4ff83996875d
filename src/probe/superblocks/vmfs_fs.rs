//! VMware VMFS filesystems (libblkid `vmfs.c`, `vmfs_fs_idinfo`); the volume
//! member signature of the same file is a separate prober.
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Bytes, Fields, Uuid, U8};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

const SB_KBOFF: u64 = 2048;

pub static VMFS: Prober = Prober {
    name: "VMFS",
    usage: Usage::Filesystem,
    magics: &[Magic { bytes: b"\x5e\xf1\xab\x2f", kboff: SB_KBOFF, sboff: 0 }],
    probe,
    ..Prober::BASE
};

layout! { SB_LEN = 157;
    VERSION: U8 = 8;
    UUID: Uuid = 9;
    LABEL: Bytes<128> = 29;
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let sb = ctx.read(SB_KBOFF * 1024, SB_LEN)?;
    let u = sb.at(UUID);
    let hex = |r: &[u8]| r.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let (mut a, mut b, mut c) = ([u[0], u[1], u[2], u[3]], [u[4], u[5], u[6], u[7]], [u[8], u[9]]);
    // The first three groups are little-endian numbers.
    a.reverse();
    b.reverse();
    c.reverse();
    ctx.set_uuid_formatted(&u, format!("{}-{}-{}-{}", hex(&a), hex(&b), hex(&c), hex(&u[10..])));
    ctx.set_label(&sb.at(LABEL));
    ctx.set_version(sb.at(VERSION).to_string());
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::probe::probe_bytes;

    #[test]
    fn uuid_groups_and_label() {
        let mut img = vec![0u8; (SB_KBOFF * 1024) as usize + 512];
        let sb = &mut img[(SB_KBOFF * 1024) as usize..];
        sb[VERSION.0] = 31;
        sb[UUID.0..UUID.0 + 16].copy_from_slice(&[
            0x44, 0xf8, 0xed, 0x49, 0xf3, 0x28, 0xfc, 0xeb, 0xcb, 0x65, 0x00, 0x21, 0x28, 0x00, 0x83, 0xcf,
        ]);
        sb[LABEL.0..LABEL.0 + 4].copy_from_slice(b"toto");
        let tags = probe_bytes(probe, None, img).unwrap().unwrap();
        assert_eq!(tags[0], ("UUID", b"49edf844-ebfc28f3-65cb-0021280083cf".to_vec()));
        assert_eq!(tags[1], ("LABEL", b"toto".to_vec()));
        assert_eq!(tags[2], ("VERSION", b"31".to_vec()));
    }
}
