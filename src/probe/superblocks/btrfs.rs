//! Btrfs (libblkid `btrfs.c`). Zoned devices, whose superblock moves within
//! the first zones, are not handled: the reader has no zone report.
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Bytes, Fields, Le32, Uuid};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

/// The primary superblock is at 64 KiB.
const SB_KBOFF: u64 = 64;
/// libblkid's `minsz`.
const MIN_SIZE: u64 = 1024 * 1024;

pub static BTRFS: Prober = Prober {
    name: "btrfs",
    usage: Usage::Filesystem,
    magics: &[Magic { bytes: b"_BHRfS_M", kboff: SB_KBOFF, sboff: 0x40 }],
    min_size: MIN_SIZE,
    probe,
    ..Prober::BASE
};

layout! { SB_LEN = 555;
    /// The file system's UUID, shared by all its devices.
    FSID: Uuid = 0x20;
    SECTORSIZE: Le32 = 0x90;
    /// `dev_item.uuid`: this device's own UUID.
    DEV_UUID: Uuid = 0x10b;
    LABEL: Bytes<256> = 0x12b;
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let sb = ctx.read(SB_KBOFF * 1024, SB_LEN)?;
    let label = sb.slice(LABEL);
    if label[0] != 0 {
        ctx.set_label(label);
    }
    ctx.set_uuid(&sb.at(FSID));
    ctx.set_uuid_tag("UUID_SUB", &sb.at(DEV_UUID));
    ctx.set_block_size(u64::from(sb.at(SECTORSIZE)));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::probe::probe_bytes;

    fn image() -> Vec<u8> {
        let mut img = vec![0u8; MIN_SIZE as usize];
        let sb = (SB_KBOFF * 1024) as usize;
        img[sb + 0x40..sb + 0x48].copy_from_slice(b"_BHRfS_M");
        img[sb + FSID.0] = 0xaa;
        img[sb + DEV_UUID.0] = 0xbb;
        img[sb + SECTORSIZE.0..][..4].copy_from_slice(&4096u32.to_le_bytes());
        img[sb + LABEL.0..][..4].copy_from_slice(b"bt  ");
        img
    }

    fn run(img: Vec<u8>) -> Option<Vec<(&'static str, String)>> {
        let tags = probe_bytes(probe, BTRFS.magics.first(), img).unwrap()?;
        Some(tags.into_iter().map(|(name, value)| (name, String::from_utf8(value).unwrap())).collect())
    }

    #[test]
    fn fsid_is_uuid_and_device_uuid_is_uuid_sub() {
        let tags = run(image()).unwrap();
        let want = [
            ("LABEL", "bt"),
            ("UUID", "aa000000-0000-0000-0000-000000000000"),
            ("UUID_SUB", "bb000000-0000-0000-0000-000000000000"),
            ("BLOCK_SIZE", "4096"),
        ];
        assert_eq!(tags, want.map(|(k, v)| (k, v.to_string())));
    }

    #[test]
    fn devices_under_one_mib_are_ignored() {
        let mut img = image();
        assert!(crate::support::probe::probe_prober(&BTRFS, img.clone()).unwrap().is_some());
        img.truncate(MIN_SIZE as usize - 1);
        assert_eq!(crate::support::probe::probe_prober(&BTRFS, img).unwrap(), None);
    }
}
