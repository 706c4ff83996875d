//! ZFS pool members (util-linux `zfs.c`).
//!
//! A vdev carries four 256 KiB labels, two at the start and two at the end.
//! Each holds an XDR-encoded nvlist of the pool configuration at 16 KiB and an
//! array of 128 uberblocks at 128 KiB. libblkid wants at least four uberblock
//! magics over the labels, then reads the pool name and GUIDs from the nvlist.

use crate::probe::field::{Be32, Be64, Endian, Fields, U64};
use crate::probe::{Ctx, Prober, Usage};
use std::io;

pub static ZFS: Prober =
    Prober { name: "zfs_member", usage: Usage::Filesystem, min_size: MIN_SIZE, probe, ..Prober::BASE };

/// libblkid skips devices smaller than this (`minsz`).
const MIN_SIZE: u64 = 64 << 20;
const LABEL_SIZE: u64 = 256 << 10;
const LABEL_NVLIST: u64 = 16 << 10;
const LABEL_UBERBLOCKS: u64 = 128 << 10;
const UBERBLOCK_SIZE: usize = 1024;
const UBERBLOCK_COUNT: usize = 128;
/// Uberblocks are in the writer's byte order.
const UBERBLOCK_MAGIC: u64 = 0x00ba_b10c;
const UB_VERSION: U64 = U64(8);
const WANT_UBERBLOCKS: usize = 4;

/// libblkid assumes the wanted pairs are in the nvlist's first 4 KiB.
const NVLIST_READ: usize = 4096;
/// The nvlist's own header (encoding and version words) before the first pair.
const NVLIST_HEADER: usize = 12;
/// An nvpair: encoded size, decoded size, name length, then the name padded to 4.
const NVPAIR_HEADER: usize = 12;
const DATA_TYPE_UINT64: u32 = 8;
const DATA_TYPE_STRING: u32 = 9;
/// An embedded nvlist (libblkid's "directory"), such as `vdev_tree`.
const DATA_TYPE_NVLIST: u32 = 19;
/// Type, element count, then the value or string length.
const NVSTRING_HEADER: usize = 12;
const NVUINT64_LEN: usize = 16;
const NVLIST_VALUE_HEADER: usize = 16;

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let size = ctx.reader.size();
    let align = size % LABEL_SIZE;
    // The chain runs this only on devices of at least `MIN_SIZE`; called on a
    // smaller one it must still not overflow.
    let end = size - align;
    let labels = [0, LABEL_SIZE, end.saturating_sub(2 * LABEL_SIZE), end.saturating_sub(LABEL_SIZE)];
    let mut found = 0;
    // The last uberblock found: its version word and byte order.
    let mut last: Option<(u64, bool)> = None;
    let mut label_off = 0;
    for off in labels {
        label_off = off;
        // libblkid reads the whole label and fails when it does not fit.
        if !ctx.reader.fits(off, LABEL_SIZE) {
            return Ok(false);
        }
        // Only each uberblock's magic is needed (and the version of a match):
        // reading those alone keeps a probe at a few KiB instead of 512 KiB.
        for i in 0..UBERBLOCK_COUNT {
            let ub = off + LABEL_UBERBLOCKS + (i * UBERBLOCK_SIZE) as u64;
            let magic = ctx.read(ub, 8)?.at_in(Endian::Little, U64(0));
            let swapped = magic == UBERBLOCK_MAGIC.swap_bytes();
            if magic == UBERBLOCK_MAGIC || swapped {
                found += 1;
                let e = if swapped { Endian::Big } else { Endian::Little };
                let version = ctx.read(ub + UB_VERSION.0 as u64, 8)?.at_in(e, U64(0));
                last = Some((version, swapped));
            }
        }
        if found >= WANT_UBERBLOCKS {
            break;
        }
    }
    let Some((version, _)) = last.filter(|_| found >= WANT_UBERBLOCKS) else { return Ok(false) };
    ctx.set_version(version.to_string());
    if let Ok(nvlist) = ctx.read(label_off + LABEL_NVLIST, NVLIST_READ) {
        read_nvlist(ctx, &nvlist);
    }
    Ok(true)
}

/// Walk the nvpairs, descending into embedded nvlists, within the buffer only.
/// Every step moves forward by at least 8 bytes, so the walk ends.
fn read_nvlist(ctx: &mut Ctx, buf: &[u8]) {
    let mut pos = NVLIST_HEADER;
    let mut left = buf.len() - NVLIST_HEADER;
    let mut depth = 0u32;
    while left > NVPAIR_HEADER {
        let mut step = buf.at(Be32(pos)) as usize;
        if step == 0 {
            // End of an (embedded) list: 8 zero bytes.
            if depth == 0 {
                break;
            }
            depth -= 1;
            step = 8;
        } else {
            let name_len = buf.at(Be32(pos + 8)) as usize;
            let name_size = (name_len as u64 + 3) & !3;
            if step > left || name_size + NVPAIR_HEADER as u64 > step as u64 {
                break;
            }
            let name_size = name_size as usize;
            let name = &buf[pos + NVPAIR_HEADER..pos + NVPAIR_HEADER + name_len];
            let value = &buf[pos + NVPAIR_HEADER + name_size..pos + step];
            if value.len() >= NVLIST_VALUE_HEADER && value.at(Be32(0)) == DATA_TYPE_NVLIST {
                step = NVPAIR_HEADER + name_size + NVLIST_VALUE_HEADER;
                depth += 1;
            } else {
                pair(ctx, name, value, depth);
            }
        }
        if step > left {
            break;
        }
        left -= step;
        pos += step;
    }
}

/// Does `name` (its first `name.len()` bytes) equal `want` as C's
/// `strncmp(name, want, namelen) == 0`? A shorter name is a prefix match.
fn name_is(name: &[u8], want: &[u8]) -> bool {
    for (i, &c) in name.iter().enumerate() {
        let w = want.get(i).copied().unwrap_or(0);
        if c != w {
            return false;
        }
        if c == 0 {
            return true;
        }
    }
    true
}

fn pair(ctx: &mut Ctx, name: &[u8], value: &[u8], depth: u32) {
    let u64_value = |value: &[u8]| (value.at(Be32(0)) == DATA_TYPE_UINT64).then(|| value.at(Be64(8)));
    if name_is(name, b"name") && value.len() >= NVSTRING_HEADER && depth == 0 {
        let len = value.at(Be32(8)) as usize;
        if value.at(Be32(0)) == DATA_TYPE_STRING && len as u64 + NVSTRING_HEADER as u64 <= value.len() as u64 {
            // A second name adds a second LABEL, as in libblkid's value list.
            ctx.push_label(&value[NVSTRING_HEADER..NVSTRING_HEADER + len]);
        }
    } else if name_is(name, b"guid") && value.len() >= NVUINT64_LEN && depth == 0 {
        if let Some(v) = u64_value(value) {
            ctx.push("UUID_SUB", v.to_string());
        }
    } else if name_is(name, b"pool_guid") && value.len() >= NVUINT64_LEN && depth == 0 {
        if let Some(v) = u64_value(value).filter(|&v| v != 0) {
            ctx.push("UUID", v.to_string());
        }
    } else if name_is(name, b"ashift") && value.len() >= NVUINT64_LEN {
        if let Some(v) = u64_value(value).filter(|&v| v < 32) {
            ctx.push("BLOCK_SIZE", (1u64 << v).to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nvpair(name: &str, value: &[u8]) -> Vec<u8> {
        let name_size = (name.len() + 3) & !3;
        let size = NVPAIR_HEADER + name_size + value.len();
        let mut p = Vec::new();
        p.extend((size as u32).to_be_bytes());
        p.extend(0u32.to_be_bytes());
        p.extend((name.len() as u32).to_be_bytes());
        p.extend(name.as_bytes());
        p.resize(NVPAIR_HEADER + name_size, 0);
        p.extend(value);
        p
    }

    fn u64_value(v: u64) -> Vec<u8> {
        let mut p = DATA_TYPE_UINT64.to_be_bytes().to_vec();
        p.extend(1u32.to_be_bytes());
        p.extend(v.to_be_bytes());
        p
    }

    fn tags(buf: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
        let mut r = crate::probe::Reader::from_bytes(vec![]);
        let mut ctx = Ctx::new(&mut r, None);
        read_nvlist(&mut ctx, buf);
        ctx.into_tags().into_iter().map(|t| (t.name, t.value)).collect()
    }

    #[test]
    fn pairs_inside_embedded_lists_are_skipped_except_ashift() {
        let mut buf = vec![0u8; NVLIST_HEADER];
        buf.extend(nvpair("guid", &u64_value(7)));
        let mut tree = DATA_TYPE_NVLIST.to_be_bytes().to_vec();
        tree.extend([0u8; 12]);
        buf.extend(nvpair("vdev_tree", &tree));
        buf.extend(nvpair("guid", &u64_value(8)));
        buf.extend(nvpair("ashift", &u64_value(12)));
        buf.extend([0u8; 8]);
        buf.extend(nvpair("pool_guid", &u64_value(9)));
        let mut name = DATA_TYPE_STRING.to_be_bytes().to_vec();
        name.extend(1u32.to_be_bytes());
        name.extend(4u32.to_be_bytes());
        name.extend(b"tank");
        buf.extend(nvpair("name", &name));
        buf.extend(nvpair("name", &name));
        buf.resize(NVLIST_READ, 0);
        assert_eq!(
            tags(&buf),
            vec![
                ("UUID_SUB", b"7".to_vec()),
                ("BLOCK_SIZE", b"4096".to_vec()),
                ("UUID", b"9".to_vec()),
                ("LABEL", b"tank".to_vec()),
                ("LABEL", b"tank".to_vec())
            ]
        );
    }

    #[test]
    fn oversized_and_self_sized_pairs_end_the_walk() {
        let mut buf = vec![0u8; NVLIST_READ];
        // A pair claiming to be larger than what is left.
        buf[NVLIST_HEADER..NVLIST_HEADER + 4].copy_from_slice(&0xffff_fff0u32.to_be_bytes());
        assert!(tags(&buf).is_empty());
        // A name longer than its pair.
        buf[NVLIST_HEADER..NVLIST_HEADER + 4].copy_from_slice(&16u32.to_be_bytes());
        buf[NVLIST_HEADER + 8..NVLIST_HEADER + 12].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(tags(&buf).is_empty());
        // Nested list openings only: depth grows, the walk still ends.
        let mut buf = vec![0u8; NVLIST_HEADER];
        let mut tree = DATA_TYPE_NVLIST.to_be_bytes().to_vec();
        tree.extend([0u8; 12]);
        while buf.len() + 32 < NVLIST_READ {
            buf.extend(nvpair("x", &tree));
        }
        buf.resize(NVLIST_READ, 0);
        assert!(tags(&buf).is_empty());
    }
}
