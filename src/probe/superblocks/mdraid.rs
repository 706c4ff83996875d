//! Linux software RAID members (util-linux `linux_raid.c`).
//!
//! md superblock placement depends on the metadata version: 0.90 and 1.0 at
//! the end of the device, 1.1 at the start, 1.2 4 KiB from the start. There is
//! no fixed magic offset, so the prober always runs.

use crate::probe::field::{layout, Bytes, Endian, Fields, Le32, Le64, Uuid, U32};
use crate::probe::{Ctx, Prober, Usage};
use std::io;

pub static LINUX_RAID: Prober = Prober { name: "linux_raid_member", usage: Usage::Raid, probe, ..Prober::BASE };

const MD_MAGIC: u32 = 0xa92b_4efc;
/// 0.90 reserves the last 64 KiB (aligned down to 64 KiB) for its superblock.
const MD_RESERVED: u64 = 0x10000;

// 0.90 superblock: 32-bit words in the byte order of the host that wrote it.
layout! { V0_LEN = 64;
    V0_MAGIC: U32 = 0;
    V0_MAJOR: U32 = 4;
    V0_MINOR: U32 = 8;
    V0_PATCH: U32 = 12;
    V0_UUID0: U32 = 20;
    V0_SIZE: U32 = 32;
    /// The other three UUID words.
    V0_UUID1: Bytes<12> = 52;
}

// 1.x superblock, little-endian.
layout! { V1_LEN = 256;
    V1_MAGIC: Le32 = 0;
    V1_MAJOR: Le32 = 4;
    V1_SET_UUID: Uuid = 16;
    V1_SET_NAME: Bytes<32> = 32;
    V1_SUPER_OFFSET: Le64 = 144;
    V1_DEVICE_UUID: Uuid = 168;
}

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

/// Whether the magic is at `off`, in either byte order: read alone first, as
/// most devices have none at any of the four places.
fn magic_at(ctx: &mut Ctx, off: u64) -> io::Result<bool> {
    let m = ctx.read(off, 4)?;
    Ok(m.at_in(Endian::Little, V0_MAGIC) == MD_MAGIC || m.at_in(Endian::Big, V0_MAGIC) == MD_MAGIC)
}

fn probe_v0(ctx: &mut Ctx, off: u64) -> io::Result<bool> {
    if !magic_at(ctx, off)? {
        return Ok(false);
    }
    let sb = ctx.read(off, V0_LEN)?;
    let e = if sb.at_in(Endian::Little, V0_MAGIC) == MD_MAGIC {
        Endian::Little
    } else if sb.at_in(Endian::Big, V0_MAGIC) == MD_MAGIC {
        Endian::Big
    } else {
        return Ok(false);
    };
    let word = |f: U32| sb.at_in(e, f);
    let (major, minor, patch) = (word(V0_MAJOR), word(V0_MINOR), word(V0_PATCH));
    // The UUID is the four words printed big-endian; before 0.90 only the first one existed.
    let mut uuid = [0u8; 16];
    uuid[..4].copy_from_slice(&word(V0_UUID0).to_be_bytes());
    if minor >= 90 {
        for i in 0..3 {
            uuid[4 + 4 * i..8 + 4 * i].copy_from_slice(&word(U32(V0_UUID1.0 + 4 * i)).to_be_bytes());
        }
    }
    let array_size = u64::from(word(V0_SIZE)) << 10;
    let size = ctx.reader.size();
    if size < array_size + MD_RESERVED || off < array_size {
        return Ok(false);
    }
    ctx.set_version(format!("{major}.{minor}.{patch}"));
    ctx.set_uuid(&uuid);
    Ok(true)
}

fn probe_v1(ctx: &mut Ctx, off: u64) -> io::Result<bool> {
    if !magic_at(ctx, off)? {
        return Ok(false);
    }
    let sb = ctx.read(off, V1_LEN)?;
    if sb.at(V1_MAGIC) != MD_MAGIC || sb.at(V1_MAJOR) != 1 || sb.at(V1_SUPER_OFFSET) != off >> 9 {
        return Ok(false);
    }
    ctx.set_uuid(&sb.at(V1_SET_UUID));
    ctx.set_uuid_tag("UUID_SUB", &sb.at(V1_DEVICE_UUID));
    ctx.set_label(&sb.at(V1_SET_NAME));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::probe::probe_bytes;

    fn run(img: Vec<u8>) -> Option<Vec<(&'static str, Vec<u8>)>> {
        probe_bytes(probe, None, img).ok().flatten()
    }

    #[test]
    fn v0_90_big_endian_uuid_words() {
        let mut img = vec![0u8; 0x30000];
        let sb = &mut img[0x20000..];
        sb[..4].copy_from_slice(&MD_MAGIC.to_be_bytes());
        sb[V0_MINOR.0..V0_MINOR.0 + 4].copy_from_slice(&90u32.to_be_bytes());
        sb[V0_UUID0.0..V0_UUID0.0 + 4].copy_from_slice(&[1, 2, 3, 4]);
        sb[V0_UUID1.0..V0_UUID1.0 + 4].copy_from_slice(&[5, 6, 7, 8]);
        let tags = run(img).unwrap();
        assert_eq!(tags[0], ("VERSION", b"0.90.0".to_vec()));
        assert_eq!(tags[1], ("UUID", b"01020304-0506-0708-0000-000000000000".to_vec()));
    }

    #[test]
    fn v1_needs_its_own_offset() {
        let mut img = vec![0u8; 0x3000];
        let sb = &mut img[0x1000..];
        sb[..4].copy_from_slice(&MD_MAGIC.to_le_bytes());
        sb[V1_MAJOR.0] = 1;
        assert_eq!(run(img.clone()), None);
        img[0x1000 + V1_SUPER_OFFSET.0] = 8;
        assert_eq!(run(img).unwrap(), vec![("VERSION", b"1.2".to_vec())]);
    }
}
