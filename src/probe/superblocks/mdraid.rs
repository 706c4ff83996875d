//! Linux software RAID members (util-linux `linux_raid.c`).
//!
//! md superblock placement depends on the metadata version: 0.90 and 1.0 at
//! the end of the device, 1.1 at the start, 1.2 4 KiB from the start. There is
//! no fixed magic offset, so the prober always runs.

use crate::probe::{Ctx, Prober, Usage};
use byteorder::{BigEndian, ByteOrder, LittleEndian};
use std::io;

pub static LINUX_RAID: Prober =
    Prober { name: "linux_raid_member", usage: Usage::Raid, tolerant: false, magics: &[], probe };

const MD_MAGIC: u32 = 0xa92b_4efc;
/// 0.90 reserves the last 64 KiB (aligned down to 64 KiB) for its superblock.
const MD_RESERVED: u64 = 0x10000;

// 0.90 superblock: 32-bit words in the byte order of the host that wrote it.
const V0_LEN: usize = 64;
const V0_MAJOR: usize = 4;
const V0_MINOR: usize = 8;
const V0_PATCH: usize = 12;
const V0_UUID0: usize = 20;
const V0_SIZE: usize = 32;
const V0_UUID1: usize = 52;

// 1.x superblock, little-endian.
const V1_LEN: usize = 256;
const V1_MAJOR: usize = 4;
const V1_SET_UUID: usize = 16;
const V1_SET_NAME: usize = 32;
const V1_SET_NAME_LEN: usize = 32;
const V1_SUPER_OFFSET: usize = 144;
const V1_DEVICE_UUID: usize = 168;

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let size = ctx.reader.size();
    if size > MD_RESERVED {
        let off = (size & !(MD_RESERVED - 1)) - MD_RESERVED;
        if probe_v0(ctx, off)? {
            return Ok(true);
        }
        let off = (size & !0xfff) - 0x2000;
        if probe_v1(ctx, off)? {
            ctx.set_version("1.0");
            return Ok(true);
        }
    }
    for (off, version) in [(0, "1.1"), (0x1000, "1.2")] {
        if probe_v1(ctx, off)? {
            ctx.set_version(version);
            return Ok(true);
        }
    }
    Ok(false)
}

fn probe_v0(ctx: &mut Ctx, off: u64) -> io::Result<bool> {
    let sb = ctx.read(off, V0_LEN)?;
    let word = |at: usize, be: bool| {
        if be {
            BigEndian::read_u32(&sb[at..])
        } else {
            LittleEndian::read_u32(&sb[at..])
        }
    };
    let be = if word(0, false) == MD_MAGIC {
        false
    } else if word(0, true) == MD_MAGIC {
        true
    } else {
        return Ok(false);
    };
    let (major, minor, patch) = (word(V0_MAJOR, be), word(V0_MINOR, be), word(V0_PATCH, be));
    // The UUID is the four words printed big-endian; before 0.90 only the first one existed.
    let mut uuid = [0u8; 16];
    uuid[..4].copy_from_slice(&word(V0_UUID0, be).to_be_bytes());
    if minor >= 90 {
        for i in 0..3 {
            uuid[4 + 4 * i..8 + 4 * i].copy_from_slice(&word(V0_UUID1 + 4 * i, be).to_be_bytes());
        }
    }
    let array_size = u64::from(word(V0_SIZE, be)) << 10;
    let size = ctx.reader.size();
    if size < array_size + MD_RESERVED || off < array_size {
        return Ok(false);
    }
    ctx.set_version(format!("{major}.{minor}.{patch}"));
    ctx.set_uuid(&uuid);
    Ok(true)
}

fn probe_v1(ctx: &mut Ctx, off: u64) -> io::Result<bool> {
    let sb = ctx.read(off, V1_LEN)?;
    if LittleEndian::read_u32(&sb) != MD_MAGIC
        || LittleEndian::read_u32(&sb[V1_MAJOR..]) != 1
        || LittleEndian::read_u64(&sb[V1_SUPER_OFFSET..]) != off >> 9
    {
        return Ok(false);
    }
    ctx.set_uuid(sb[V1_SET_UUID..V1_SET_UUID + 16].try_into().expect("16 bytes"));
    ctx.set_uuid_tag("UUID_SUB", sb[V1_DEVICE_UUID..V1_DEVICE_UUID + 16].try_into().expect("16 bytes"));
    ctx.set_label(&sb[V1_SET_NAME..V1_SET_NAME + V1_SET_NAME_LEN]);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::testutil::probe_bytes;

    fn run(img: Vec<u8>) -> Option<Vec<(&'static str, Vec<u8>)>> {
        probe_bytes(probe, None, img).ok().flatten()
    }

    #[test]
    fn v0_90_big_endian_uuid_words() {
        let mut img = vec![0u8; 0x30000];
        let sb = &mut img[0x20000..];
        sb[..4].copy_from_slice(&MD_MAGIC.to_be_bytes());
        sb[V0_MINOR..V0_MINOR + 4].copy_from_slice(&90u32.to_be_bytes());
        sb[V0_UUID0..V0_UUID0 + 4].copy_from_slice(&[1, 2, 3, 4]);
        sb[V0_UUID1..V0_UUID1 + 4].copy_from_slice(&[5, 6, 7, 8]);
        let tags = run(img).unwrap();
        assert_eq!(tags[0], ("VERSION", b"0.90.0".to_vec()));
        assert_eq!(tags[1], ("UUID", b"01020304-0506-0708-0000-000000000000".to_vec()));
    }

    #[test]
    fn v1_needs_its_own_offset() {
        let mut img = vec![0u8; 0x3000];
        let sb = &mut img[0x1000..];
        sb[..4].copy_from_slice(&MD_MAGIC.to_le_bytes());
        sb[V1_MAJOR] = 1;
        assert_eq!(run(img.clone()), None);
        img[0x1000 + V1_SUPER_OFFSET] = 8;
        assert_eq!(run(img).unwrap(), vec![("VERSION", b"1.2".to_vec())]);
    }
}
