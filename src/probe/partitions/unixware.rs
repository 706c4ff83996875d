//! UnixWare VTOCs, nested in a dos partition (or on a whole disk), libblkid's
//! `unixware.c`.
#![forbid(unsafe_code)]

use super::{le16, le32, List, Window};
use crate::probe::Magic;
use std::io;

/// The disklabel is in sector 29.
const SECTOR: u64 = 29;
const OFFSET: u64 = SECTOR << 9;
const KBOFFSET: u64 = OFFSET >> 10;
/// libblkid 2.38.1 places the magic with this formula (it subtracts the KiB
/// offset as bytes), so it looks for `d_magic` at byte 29174, not at 14852 where
/// the label keeps it; follow it for the same answers.
const MAGIC_SBOFF: u64 = OFFSET - KBOFFSET + 4;
const MAGICS: &[Magic] = &[Magic { bytes: b"\x0d\x60\xe5\xca", kboff: KBOFFSET, sboff: MAGIC_SBOFF }];
/// Floppies are never looked at.
const MIN_SIZE: u64 = 1024 * 1440 + 1;
const VTOC_MAGIC: u32 = 0x600d_deee;
const V_MAGIC: usize = 156;
const V_SLICES: usize = 216;
const MAX_PARTITIONS: usize = 16;
const SLICE_LEN: usize = 12;
// Slice fields.
const S_LABEL: usize = 0;
const S_FLAGS: usize = 2;
const S_START: usize = 4;
const S_SIZE: usize = 8;
const TAG_UNUSED: u16 = 0;
const TAG_ENTIRE_DISK: u16 = 5;
const FLAG_VALID: u16 = 0x200;

const _: () = assert!(V_SLICES + MAX_PARTITIONS * SLICE_LEN <= 512);

pub(super) fn probe(w: &mut Window, ls: &mut List) -> io::Result<bool> {
    if w.size() < MIN_SIZE || w.find_magic(MAGICS)?.is_none() {
        return Ok(false);
    }
    let Some(l) = w.sector(SECTOR)? else { return Ok(false) };
    if le32(&l, V_MAGIC) != VTOC_MAGIC {
        return Ok(false);
    }
    if !ls.list {
        return Ok(true);
    }
    // The first slice describes the whole disk.
    for i in 1..MAX_PARTITIONS {
        let s = V_SLICES + i * SLICE_LEN;
        let (tag, flags) = (le16(&l, s + S_LABEL), le16(&l, s + S_FLAGS));
        if tag == TAG_UNUSED || tag == TAG_ENTIRE_DISK || flags != FLAG_VALID {
            continue;
        }
        let (start, size) = (u64::from(le32(&l, s + S_START)), u64::from(le32(&l, s + S_SIZE)));
        if ls.parent.is_some() && !ls.inside_parent(start, size) {
            continue;
        }
        if let Some(p) = ls.add("unixware", start, size, u64::from(tag)) {
            p.flags = u64::from(flags);
        }
    }
    Ok(true)
}
