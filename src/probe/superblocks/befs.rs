//! The Be File System (libblkid `befs.c`), in either byte order.
//!
//! The volume id is a `be:volume_id` attribute of the root directory: kept
//! inline in the root inode's small-data area, or else found through the
//! attribute directory's B+tree and read from its own inode.
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Bytes, Endian, Fields, Le64, U16, U32, U64};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

/// libblkid's `minsz`: a floppy.
const MIN_SIZE: u64 = 1440 * 1024;
const NAME_LEN: u64 = 32;

pub static BEFS: Prober = Prober {
    name: "befs",
    usage: Usage::Filesystem,
    magics: &[
        Magic { bytes: b"BFS1", kboff: 0, sboff: NAME_LEN },
        Magic { bytes: b"1SFB", kboff: 0, sboff: NAME_LEN },
        Magic { bytes: b"BFS1", kboff: 0, sboff: 0x200 + NAME_LEN },
        Magic { bytes: b"1SFB", kboff: 0, sboff: 0x200 + NAME_LEN },
    ],
    min_size: MIN_SIZE,
    probe,
    ..Prober::BASE
};

layout! { SB_LEN = 164;
    NAME: Bytes<32> = 0;
    MAGIC1: U32 = 32;
    BYTE_ORDER: U32 = 36;
    BLOCK_SIZE: U32 = 40;
    BLOCK_SHIFT: U32 = 44;
    MAGIC2: U32 = 68;
    AG_SHIFT: U32 = 76;
    MAGIC3: U32 = 112;
    ROOT_DIR: Bytes<8> = 116;
}

// The inode; its data stream starts at 72 and its small-data area at 232.
layout! { INODE_LEN = 232;
    I_MAGIC1: U32 = 0;
    I_ATTRIBUTES: Bytes<8> = 52;
    I_TYPE: U32 = 60;
    I_INODE_SIZE: U32 = 64;
    DIRECT: Bytes<96> = 72;
    MAX_DIRECT_RANGE: U64 = 168;
    INDIRECT: Bytes<8> = 176;
    MAX_INDIRECT_RANGE: U64 = 184;
    DOUBLE_INDIRECT: Bytes<8> = 192;
    MAX_DOUBLE_INDIRECT_RANGE: U64 = 200;
    DATA_SIZE: U64 = 208;
}

layout! { TREE_HEADER_LEN = 40;
    TREE_MAGIC: U32 = 0;
    NODE_SIZE: U32 = 4;
    ROOT_NODE: U64 = 16;
}

// A B+tree node: keys from 28, then (8-aligned) key ends, then values.
layout! { NODE_LEN = 28;
    OVERFLOW_LINK: U64 = 16;
    KEY_COUNT: U16 = 24;
    KEY_LENGTH: U16 = 26;
}

const MAGIC1_VALUE: u32 = 0x4246_5331;
const MAGIC2_VALUE: u32 = 0xdd12_1031;
const MAGIC3_VALUE: u32 = 0x15b6_830e;
const FS_ENDIAN: u32 = 0x4249_4745;
const INODE_MAGIC: u32 = 0x3bbe_0ad9;
const TREE_MAGIC_VALUE: u32 = 0x69f6_c2e8;
const ULLG: u32 = 0x554c_4c47;
const KEY: &[u8] = b"be:volume_id";
const SMALL_DATA: usize = INODE_LEN;
const SMALL_DATA_HEADER: u64 = 8;
const RUN_LEN: usize = 8;
const DIRECT_RUNS: usize = 12;
const NULL_NODE: i64 = -1;
/// libblkid follows at most this many B+tree nodes.
const MAX_NODES: u32 = 100;

/// What a lookup failure means: libblkid gives up on the filesystem.
struct NotBefs;

/// A block run `(allocation group, start, length)` in the filesystem's byte order.
#[derive(Clone, Copy)]
struct Run {
    ag: u32,
    start: u16,
    len: u16,
}

struct Fs {
    e: Endian,
    shift: u32,
    ag_shift: u32,
}

impl Fs {
    fn run(&self, rec: &[u8], off: usize) -> Option<Run> {
        let e = self.e;
        let b = rec.get(off..off.checked_add(RUN_LEN)?)?;
        Some(Run { ag: b.at_in(e, U32(0)), start: b.at_in(e, U16(4)), len: b.at_in(e, U16(6)) })
    }

    /// Byte offset and length of a run; shifts wrap as the machine's do.
    fn place(&self, r: Run) -> (u64, u64) {
        let start = u64::from(r.ag).wrapping_shl(self.ag_shift).wrapping_shl(self.shift);
        let start = start.wrapping_add(u64::from(r.start).wrapping_shl(self.shift));
        (start, u64::from(r.len) << self.shift)
    }

    fn read_run(&self, ctx: &mut Ctx, r: Run) -> io::Result<Vec<u8>> {
        let (off, len) = self.place(r);
        ctx.read(off, usize::try_from(len).map_err(|_| io::ErrorKind::UnexpectedEof)?)
    }

    /// `length` bytes at `offset` into a run, which must hold them.
    fn read_in_run(&self, ctx: &mut Ctx, r: Run, offset: i64, length: u32) -> io::Result<Option<Vec<u8>>> {
        let (start, len) = self.place(r);
        if offset < 0 || offset.saturating_add(i64::from(length)) > len as i64 {
            return Ok(None);
        }
        ctx.read_opt(start.wrapping_add(offset as u64), length as usize)
    }

    /// `length` bytes at byte `start` of an inode's data stream (libblkid's `get_tree_node`).
    fn stream(&self, ctx: &mut Ctx, inode: &[u8], mut start: i64, length: u32) -> io::Result<Option<Vec<u8>>> {
        let (e, shift) = (self.e, self.shift);
        let run_len = |r: Run| i64::from(r.len) << shift;
        let max_direct = inode.at_in(e, MAX_DIRECT_RANGE) as i64;
        let max_indirect = inode.at_in(e, MAX_INDIRECT_RANGE) as i64;
        if start < max_direct {
            for i in 0..DIRECT_RUNS {
                let Some(r) = self.run(inode, DIRECT.0 + i * RUN_LEN) else { break };
                if start < run_len(r) {
                    return self.read_in_run(ctx, r, start, length);
                }
                start -= run_len(r);
            }
        } else if start < max_indirect {
            start -= max_direct;
            let Some(ind) = self.run(inode, INDIRECT.0) else { return Ok(None) };
            let Some(runs) = self.read_run_opt(ctx, ind)? else { return Ok(None) };
            for i in 0..runs.len() / RUN_LEN {
                let Some(r) = self.run(&runs, i * RUN_LEN) else { break };
                if start < run_len(r) {
                    return self.read_in_run(ctx, r, start, length);
                }
                start -= run_len(r);
            }
        } else if start < inode.at_in(e, MAX_DOUBLE_INDIRECT_RANGE) as i64 {
            start = start.wrapping_sub(max_indirect);
            let Some(dbl) = self.run(inode, DOUBLE_INDIRECT.0) else { return Ok(None) };
            let size = run_len(dbl);
            let per = size / RUN_LEN as i64;
            if size == 0 || per == 0 {
                return Ok(None);
            }
            let span = per * size;
            let (di, ii, start) = (start / span, (start % span) / size, (start % span) % size);
            if di >= per {
                return Ok(None);
            }
            let Some(first) = self.read_run_opt(ctx, dbl)? else { return Ok(None) };
            let Some(r) = self.run(&first, di as usize * RUN_LEN) else { return Ok(None) };
            if ii >= run_len(r) / RUN_LEN as i64 {
                return Ok(None);
            }
            let Some(second) = self.read_run_opt(ctx, r)? else { return Ok(None) };
            let Some(r) = self.run(&second, ii as usize * RUN_LEN) else { return Ok(None) };
            return self.read_in_run(ctx, r, start, length);
        }
        Ok(None)
    }

    fn read_run_opt(&self, ctx: &mut Ctx, r: Run) -> io::Result<Option<Vec<u8>>> {
        match self.read_run(ctx, r) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The value of `KEY` in the B+tree that is `inode`'s data (libblkid's
    /// `get_key_value`): `Ok(0)` when the walk ends without it.
    fn key_value(&self, ctx: &mut Ctx, inode: &[u8]) -> io::Result<Result<i64, NotBefs>> {
        let e = self.e;
        let Some(h) = self.stream(ctx, inode, 0, TREE_HEADER_LEN as u32)? else { return Ok(Err(NotBefs)) };
        if h.at_in(e, TREE_MAGIC) != TREE_MAGIC_VALUE {
            return Ok(Err(NotBefs));
        }
        let mut pointer = h.at_in(e, ROOT_NODE) as i64;
        let size = h.at_in(e, NODE_SIZE);
        if (size as usize) < NODE_LEN {
            return Ok(Err(NotBefs));
        }
        for _ in 0..MAX_NODES {
            let Some(n) = self.stream(ctx, inode, pointer, size)? else { return Ok(Err(NotBefs)) };
            let (count, keys_len) = (usize::from(n.at_in(e, KEY_COUNT)), usize::from(n.at_in(e, KEY_LENGTH)));
            let ends = (NODE_LEN + keys_len + 7) & !7;
            let values = ends + count * 2;
            if values + count * 8 > size as usize {
                return Ok(Err(NotBefs));
            }
            let overflow = n.at_in(e, OVERFLOW_LINK) as i64;
            let value =
                |i: i64| usize::try_from(i).ok().and_then(|i| n.try_at_in(e, U64(values + i * 8))).map(|v| v as i64);
            let cmp = |i: i64| -> Option<i32> {
                let end = |i: i64| usize::try_from(i).ok().and_then(|i| n.try_at_in(e, U16(ends + i * 2)));
                let start = if i == 0 { 0 } else { end(i - 1)? };
                let klen = end(i)?.wrapping_sub(start);
                if usize::from(start) + usize::from(klen) > keys_len {
                    return None;
                }
                let key = &n[NODE_LEN + usize::from(start)..][..usize::from(klen)];
                let common = key.len().min(KEY.len());
                Some(match key[..common].cmp(&KEY[..common]) {
                    std::cmp::Ordering::Equal => i32::from(klen) - KEY.len() as i32,
                    std::cmp::Ordering::Less => -1,
                    std::cmp::Ordering::Greater => 1,
                })
            };
            let last = count as i64 - 1;
            let Some(c) = cmp(last) else { return Ok(Err(NotBefs)) };
            let next = if c == 0 {
                if overflow == NULL_NODE {
                    return Ok(value(last).ok_or(NotBefs));
                }
                value(last)
            } else if c < 0 {
                Some(overflow)
            } else {
                let (mut first, mut last, mut mid, mut c) = (0i64, last, 0i64, c);
                while first <= last {
                    mid = (first + last) / 2;
                    let Some(m) = cmp(mid) else { return Ok(Err(NotBefs)) };
                    c = m;
                    if c == 0 {
                        if overflow == NULL_NODE {
                            return Ok(value(mid).ok_or(NotBefs));
                        }
                        break;
                    }
                    if c < 0 {
                        first = mid + 1;
                    } else {
                        last = mid - 1;
                    }
                }
                value(if c < 0 { mid + 1 } else { mid })
            };
            let Some(next) = next else { return Ok(Err(NotBefs)) };
            pointer = next;
            if overflow == NULL_NODE {
                break;
            }
        }
        Ok(Ok(0))
    }

    /// The raw volume id, 0 when there is none (libblkid's `get_uuid`).
    fn volume_id(&self, ctx: &mut Ctx, sb: &[u8]) -> io::Result<Result<u64, NotBefs>> {
        let e = self.e;
        let Some(root) = self.run(sb, ROOT_DIR.0) else { return Ok(Err(NotBefs)) };
        let inode = self.read_run(ctx, root)?;
        if inode.len() < INODE_LEN || inode.at_in(e, I_MAGIC1) != INODE_MAGIC {
            return Ok(Err(NotBefs));
        }
        let total = (inode.len() as u64).wrapping_sub(INODE_LEN as u64).min(u64::from(inode.at_in(e, I_INODE_SIZE)));
        let mut id = 0u64;
        let mut off = 0u64;
        while off + SMALL_DATA_HEADER <= total {
            let at = SMALL_DATA as u64 + off;
            let field =
                |o: u64, len: u64| inode.get(usize::try_from(at + o).ok()?..usize::try_from(at + o + len).ok()?);
            let Some(h) = field(0, SMALL_DATA_HEADER) else { break };
            let (kind, name_size, data_size) =
                (h.at_in(e, U32(0)), u64::from(h.at_in(e, U16(4))), u64::from(h.at_in(e, U16(6))));
            let size = SMALL_DATA_HEADER + name_size + 3 + data_size + 1;
            if off + size > total {
                break;
            }
            let named = field(SMALL_DATA_HEADER, KEY.len() as u64 + 1)
                .is_some_and(|n| &n[..KEY.len()] == KEY && n[KEY.len()] == 0);
            if kind == ULLG && name_size == KEY.len() as u64 && data_size == 8 && named {
                if let Some(v) = field(SMALL_DATA_HEADER + name_size + 3, 8) {
                    id = v.at(Le64(0));
                }
                break;
            }
            if kind == 0 && name_size == 0 && data_size == 0 {
                break;
            }
            off += size;
        }
        let Some(attrs) = self.run(&inode, I_ATTRIBUTES.0) else { return Ok(Err(NotBefs)) };
        if id != 0 || (attrs.ag == 0 && attrs.start == 0 && attrs.len == 0) {
            return Ok(Ok(id));
        }
        let dir = self.read_run(ctx, attrs)?;
        if dir.len() < INODE_LEN || dir.at_in(e, I_MAGIC1) != INODE_MAGIC {
            return Ok(Err(NotBefs));
        }
        let value = match self.key_value(ctx, &dir)? {
            Ok(v) => v,
            Err(n) => return Ok(Err(n)),
        };
        if value > 0 {
            let bs = ctx.read(value.wrapping_shl(self.shift) as u64, 1 << self.shift)?;
            if bs.at_in(e, I_MAGIC1) != INODE_MAGIC {
                return Ok(Err(NotBefs));
            }
            let Some(first) = self.run(&bs, DIRECT.0) else { return Ok(Err(NotBefs)) };
            if bs.at_in(e, I_TYPE) == ULLG && bs.at_in(e, DATA_SIZE) == 8 && first.len == 1 {
                let data = self.read_run(ctx, first)?;
                id = data.at(Le64(0));
            }
        }
        Ok(Ok(id))
    }
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let off = ctx.magic.map_or(0, |m| m.sboff - NAME_LEN);
    let sb = ctx.read(off, SB_LEN)?;
    let valid = |e| {
        sb.at_in(e, MAGIC1) == MAGIC1_VALUE
            && sb.at_in(e, MAGIC2) == MAGIC2_VALUE
            && sb.at_in(e, MAGIC3) == MAGIC3_VALUE
            && sb.at_in(e, BYTE_ORDER) == FS_ENDIAN
    };
    let (e, version) = if valid(Endian::Little) {
        (Endian::Little, "little-endian")
    } else if valid(Endian::Big) {
        (Endian::Big, "big-endian")
    } else {
        return Ok(false);
    };
    let (block_size, shift) = (sb.at_in(e, BLOCK_SIZE), sb.at_in(e, BLOCK_SHIFT));
    if !(10..=13).contains(&shift) || block_size != 1 << shift {
        return Ok(false);
    }
    let fs = Fs { e, shift, ag_shift: sb.at_in(e, AG_SHIFT) };
    let Ok(id) = fs.volume_id(ctx, &sb)? else { return Ok(false) };
    let name = sb.at(NAME);
    if name[0] != 0 {
        ctx.set_label(&name);
    }
    ctx.set_version(version);
    // The id is stored in the filesystem's byte order; the raw bytes decide "empty".
    let raw = id.to_le_bytes();
    let value = if e == Endian::Big { id.swap_bytes() } else { id };
    ctx.set_uuid_formatted(&raw, format!("{value:016x}"));
    ctx.set_block_size(u64::from(block_size));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::probe::probe_bytes;

    fn put(img: &mut [u8], off: usize, v: &[u8]) {
        img[off..off + v.len()].copy_from_slice(v);
    }

    fn run(img: &mut [u8], off: usize, start: u16, len: u16) {
        put(img, off + 4, &start.to_le_bytes());
        put(img, off + 6, &len.to_le_bytes());
    }

    /// A little-endian volume with 1 KiB blocks whose root inode (block 2)
    /// has no small data and an attribute directory (block 3).
    fn volume() -> Vec<u8> {
        let mut img = vec![0u8; MIN_SIZE as usize];
        put(&mut img, NAME.0, b"be vol");
        for (f, v) in [(MAGIC1, MAGIC1_VALUE), (MAGIC2, MAGIC2_VALUE), (MAGIC3, MAGIC3_VALUE), (BYTE_ORDER, FS_ENDIAN)]
        {
            put(&mut img, f.0, &v.to_le_bytes());
        }
        put(&mut img, BLOCK_SIZE.0, &1024u32.to_le_bytes());
        put(&mut img, BLOCK_SHIFT.0, &10u32.to_le_bytes());
        put(&mut img, AG_SHIFT.0, &13u32.to_le_bytes());
        run(&mut img, ROOT_DIR.0, 2, 1);
        put(&mut img, 2048, &INODE_MAGIC.to_le_bytes());
        img
    }

    fn uuid(img: Vec<u8>) -> Option<Vec<u8>> {
        let tags = probe_bytes(probe, None, img).unwrap()?;
        Some(tags.into_iter().find(|t| t.0 == "UUID").map_or(Vec::new(), |t| t.1))
    }

    #[test]
    fn volume_id_inline_in_the_root_inode() {
        let mut img = volume();
        put(&mut img, 2048 + I_INODE_SIZE.0, &512u32.to_le_bytes());
        let sd = 2048 + SMALL_DATA;
        put(&mut img, sd, &ULLG.to_le_bytes());
        put(&mut img, sd + 4, &12u16.to_le_bytes());
        put(&mut img, sd + 6, &8u16.to_le_bytes());
        put(&mut img, sd + 8, b"be:volume_id\0");
        put(&mut img, sd + 8 + 15, &0x95d8_9dec_82f6_b73bu64.to_le_bytes());
        assert_eq!(uuid(img.clone()).unwrap(), b"95d89dec82f6b73b");
        // A block size that does not match its shift is not BeFS.
        put(&mut img, BLOCK_SIZE.0, &2048u32.to_le_bytes());
        assert_eq!(uuid(img), None);
    }

    #[test]
    fn volume_id_through_the_attribute_tree() {
        let mut img = volume();
        run(&mut img, 2048 + I_ATTRIBUTES.0, 3, 1);
        // The attribute directory: its B+tree in blocks 4 and 5.
        put(&mut img, 3072, &INODE_MAGIC.to_le_bytes());
        run(&mut img, 3072 + DIRECT.0, 4, 2);
        put(&mut img, 3072 + MAX_DIRECT_RANGE.0, &2048u64.to_le_bytes());
        put(&mut img, 4096, &TREE_MAGIC_VALUE.to_le_bytes());
        put(&mut img, 4096 + NODE_SIZE.0, &1024u32.to_le_bytes());
        put(&mut img, 4096 + ROOT_NODE.0, &1024u64.to_le_bytes());
        // One node with the keys "be:volume_id" and "zz": the binary search finds the first.
        let node = 5120;
        put(&mut img, node + OVERFLOW_LINK.0, &(-1i64).to_le_bytes());
        put(&mut img, node + KEY_COUNT.0, &2u16.to_le_bytes());
        put(&mut img, node + KEY_LENGTH.0, &14u16.to_le_bytes());
        put(&mut img, node + NODE_LEN, b"be:volume_idzz");
        put(&mut img, node + 48, &[12, 0, 14, 0]);
        put(&mut img, node + 52, &7u64.to_le_bytes());
        // Its value: the attribute's inode in block 7, its data in block 8.
        put(&mut img, 7168, &INODE_MAGIC.to_le_bytes());
        put(&mut img, 7168 + I_TYPE.0, &ULLG.to_le_bytes());
        put(&mut img, 7168 + DATA_SIZE.0, &8u64.to_le_bytes());
        run(&mut img, 7168 + DIRECT.0, 8, 1);
        put(&mut img, 8192, &0x0123_4567_89ab_cdefu64.to_le_bytes());
        assert_eq!(uuid(img.clone()).unwrap(), b"0123456789abcdef");
        // A tree without the key: no UUID, still BeFS.
        put(&mut img, node + NODE_LEN, b"be:volume_ix");
        assert_eq!(uuid(img.clone()).unwrap(), b"");
        // A broken tree header: not BeFS, as libblkid decides.
        put(&mut img, 4096, b"junk");
        assert_eq!(uuid(img), None);
    }
}
