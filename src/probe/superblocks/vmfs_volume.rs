//! VMware VMFS volume members (util-linux `vmfs.c`, `probe_vmfs_volume`): the
//! LVM-like volume header at 1 MiB; the VMFS filesystem itself is another type.
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Fields, Le32, Uuid};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

const VOLUME_INFO: u64 = 1024 * 1024;

pub static VMFS_VOLUME: Prober = Prober {
    name: "VMFS_volume_member",
    usage: Usage::Raid,
    magics: &[Magic { bytes: b"\x0d\xd0\x01\xc0", kboff: VOLUME_INFO / 1024, sboff: 0 }],
    probe,
    ..Prober::BASE
};

layout! { LEN = 146;
    VERSION: Le32 = 4;
    UUID: Uuid = 130;
}
/// The logical volume's id, as text, in the LVM record after the header.
const LVM_UUID: u64 = VOLUME_INFO + 512 + 20;
const LVM_UUID_LEN: usize = 35;

/// VMware's UUID layout: two little-endian words, a little-endian half-word,
/// then six bytes as they are.
fn vmware_uuid(u: &[u8; 16]) -> String {
    let order = [3, 2, 1, 0, 7, 6, 5, 4, 9, 8, 10, 11, 12, 13, 14, 15];
    let mut s = String::with_capacity(35);
    for (i, &at) in order.iter().enumerate() {
        if matches!(i, 4 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{:02x}", u[at]));
    }
    s
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let hdr = ctx.read(VOLUME_INFO, LEN)?;
    ctx.set("UUID_SUB", vmware_uuid(&hdr.at(UUID)));
    ctx.set_version(hdr.at(VERSION).to_string());
    if let Some(lvm) = ctx.read_opt(LVM_UUID, LVM_UUID_LEN)? {
        ctx.set_uuid_string(&lvm);
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::probe::probe_bytes;

    #[test]
    fn sub_uuid_version_and_lvm_uuid() {
        let mut img = vec![0u8; (VOLUME_INFO + 4096) as usize];
        let h = VOLUME_INFO as usize;
        img[h..h + 5].copy_from_slice(b"\x0d\xd0\x01\xc0\x03");
        for i in 0..16 {
            img[h + UUID.0 + i] = i as u8;
        }
        img[LVM_UUID as usize..][..4].copy_from_slice(b"abc ");
        let want = vec![
            ("UUID_SUB", b"03020100-07060504-0908-0a0b0c0d0e0f".to_vec()),
            ("VERSION", b"3".to_vec()),
            ("UUID", b"abc".to_vec()),
        ];
        assert_eq!(probe_bytes(probe, None, img).unwrap(), Some(want));
    }
}
