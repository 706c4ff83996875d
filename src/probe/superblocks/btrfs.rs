//! Btrfs (libblkid `btrfs.c`). Zoned devices, whose superblock moves within
//! the first zones, are not handled: the reader has no zone report.
#![forbid(unsafe_code)]

use crate::probe::{Ctx, Magic, Prober, Usage};
use byteorder::{ByteOrder, LittleEndian as LE};
use std::io;

/// The primary superblock is at 64 KiB.
const SB_KBOFF: u64 = 64;
/// libblkid's `minsz`.
const MIN_SIZE: u64 = 1024 * 1024;

pub static BTRFS: Prober = Prober {
    name: "btrfs",
    usage: Usage::Filesystem,
    tolerant: false,
    magics: &[Magic { bytes: b"_BHRfS_M", kboff: SB_KBOFF, sboff: 0x40 }],
    probe,
};

const SB_LEN: usize = 555;
/// The file system's UUID, shared by all its devices.
const FSID: usize = 0x20;
const SECTORSIZE: usize = 0x90;
/// `dev_item.uuid`: this device's own UUID.
const DEV_UUID: usize = 0x10b;
const LABEL: usize = 0x12b;
const LABEL_LEN: usize = 256;

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    if ctx.reader.size() < MIN_SIZE {
        return Ok(false);
    }
    let sb = ctx.read(SB_KBOFF * 1024, SB_LEN)?;
    if sb[LABEL] != 0 {
        ctx.set_label(&sb[LABEL..LABEL + LABEL_LEN]);
    }
    let uuid = |off: usize| -> [u8; 16] { sb[off..off + 16].try_into().expect("16 bytes") };
    ctx.set_uuid(&uuid(FSID));
    ctx.set_uuid_tag("UUID_SUB", &uuid(DEV_UUID));
    ctx.set_block_size(u64::from(LE::read_u32(&sb[SECTORSIZE..])));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::testutil::probe_bytes;

    fn image() -> Vec<u8> {
        let mut img = vec![0u8; MIN_SIZE as usize];
        let sb = (SB_KBOFF * 1024) as usize;
        img[sb + 0x40..sb + 0x48].copy_from_slice(b"_BHRfS_M");
        img[sb + FSID] = 0xaa;
        img[sb + DEV_UUID] = 0xbb;
        LE::write_u32(&mut img[sb + SECTORSIZE..], 4096);
        img[sb + LABEL..sb + LABEL + 4].copy_from_slice(b"bt  ");
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
        img.truncate(MIN_SIZE as usize - 1);
        assert!(run(img).is_none());
    }
}
