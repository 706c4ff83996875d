//! Solaris x86 VTOCs, nested in a dos partition (or on a whole disk),
//! libblkid's `solaris_x86.c`. Slices start relative to the dos partition.
#![forbid(unsafe_code)]

use super::{le16, le32, List, Window};
use crate::probe::Magic;
use std::io;

/// The VTOC is sector 1; `v_sanity` is 12 bytes into it.
const SECTOR: u64 = 1;
const MAGICS: &[Magic] = &[Magic { bytes: b"\xee\xde\x0d\x60", kboff: 0, sboff: (SECTOR << 9) + 12 }];
const V_VERSION: usize = 16;
const V_NPARTS: usize = 30;
const V_SLICES: usize = 72;
const MAX_PARTITIONS: u16 = 16;
const SLICE_LEN: usize = 12;
// Slice fields.
const S_TAG: usize = 0;
const S_FLAG: usize = 2;
const S_START: usize = 4;
const S_SIZE: usize = 8;
const TAG_WHOLEDISK: u16 = 5;

const _: () = assert!(V_SLICES + MAX_PARTITIONS as usize * SLICE_LEN <= 512);

pub(super) fn probe(w: &mut Window, ls: &mut List) -> io::Result<bool> {
    if w.find_magic(MAGICS)?.is_none() {
        return Ok(false);
    }
    let Some(l) = w.sector(SECTOR)? else { return Ok(false) };
    if le32(&l, V_VERSION) != 1 {
        return Ok(false);
    }
    if !ls.list {
        return Ok(true);
    }
    let nparts = le16(&l, V_NPARTS).min(MAX_PARTITIONS);
    // libblkid counts from 1 but reads from the first slice, so it looks at
    // slices 0 to nparts - 2; the same entries give the same partitions.
    for i in 0..usize::from(nparts.saturating_sub(1)) {
        let s = V_SLICES + i * SLICE_LEN;
        let mut start = le32(&l, s + S_START);
        let size = le32(&l, s + S_SIZE);
        let tag = le16(&l, s + S_TAG);
        if size == 0 || tag == TAG_WHOLEDISK {
            continue;
        }
        if let Some(p) = &ls.parent {
            // In libblkid's 32 bits.
            start = start.wrapping_add(p.start as u32);
        }
        let (start, size) = (u64::from(start), u64::from(size));
        if ls.parent.is_some() && !ls.inside_parent(start, size) {
            continue;
        }
        if let Some(p) = ls.add("solaris", start, size, u64::from(tag)) {
            p.flags = u64::from(le16(&l, s + S_FLAG));
        }
    }
    Ok(true)
}
