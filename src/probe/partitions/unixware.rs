//! UnixWare VTOCs, nested in a dos partition (or on a whole disk), libblkid's
//! `unixware.c`.
#![forbid(unsafe_code)]

use super::{entry, List, Window};
use crate::probe::field::{layout, Fields, Le16, Le32};
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
const MAX_PARTITIONS: usize = 16;
layout! { LABEL_LEN = 512;
    /// In the VTOC after the disklabel.
    V_MAGIC: Le32 = 156;
}
const V_SLICES: usize = 216;
layout! { SLICE_LEN = 12;
    S_LABEL: Le16 = 0;
    S_FLAGS: Le16 = 2;
    S_START: Le32 = 4;
    S_SIZE: Le32 = 8;
}
const TAG_UNUSED: u16 = 0;
const TAG_ENTIRE_DISK: u16 = 5;
const FLAG_VALID: u16 = 0x200;

const _: () = assert!(V_SLICES + MAX_PARTITIONS * SLICE_LEN <= LABEL_LEN);

pub(super) fn probe(w: &mut Window, ls: &mut List) -> io::Result<bool> {
    if w.size() < MIN_SIZE || w.find_magic(MAGICS)?.is_none() {
        return Ok(false);
    }
    let Some(l) = w.sector(SECTOR)? else { return Ok(false) };
    if l.at(V_MAGIC) != VTOC_MAGIC {
        return Ok(false);
    }
    if !ls.list {
        return Ok(true);
    }
    // The first slice describes the whole disk.
    for i in 1..MAX_PARTITIONS {
        let s = entry(&l, V_SLICES, SLICE_LEN, i);
        let (tag, flags) = (s.at(S_LABEL), s.at(S_FLAGS));
        if tag == TAG_UNUSED || tag == TAG_ENTIRE_DISK || flags != FLAG_VALID {
            continue;
        }
        let (start, size) = (u64::from(s.at(S_START)), u64::from(s.at(S_SIZE)));
        if ls.parent.is_some() && !ls.inside_parent(start, size) {
            continue;
        }
        if let Some(p) = ls.add("unixware", start, size, u32::from(tag)) {
            p.flags = u64::from(flags);
        }
    }
    Ok(true)
}
