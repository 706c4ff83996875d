//! Solaris x86 VTOCs, nested in a dos partition (or on a whole disk),
//! libblkid's `solaris_x86.c`. Slices start relative to the dos partition.
#![forbid(unsafe_code)]

use super::{entry, List, Window};
use crate::probe::field::{layout, Fields, Le16, Le32};
use crate::probe::Magic;
use std::io;

/// The VTOC is sector 1; `v_sanity` is 12 bytes into it.
const SECTOR: u64 = 1;
const MAGICS: &[Magic] = &[Magic { bytes: b"\xee\xde\x0d\x60", kboff: 0, sboff: (SECTOR << 9) + 12 }];
const MAX_PARTITIONS: u16 = 16;
layout! { VTOC_LEN = 512;
    V_VERSION: Le32 = 16;
    V_NPARTS: Le16 = 30;
}
const V_SLICES: usize = 72;
layout! { SLICE_LEN = 12;
    S_TAG: Le16 = 0;
    S_FLAG: Le16 = 2;
    S_START: Le32 = 4;
    S_SIZE: Le32 = 8;
}
const TAG_WHOLEDISK: u16 = 5;

const _: () = assert!(V_SLICES + MAX_PARTITIONS as usize * SLICE_LEN <= VTOC_LEN);

pub(super) fn probe(w: &mut Window, ls: &mut List) -> io::Result<bool> {
    if w.find_magic(MAGICS)?.is_none() {
        return Ok(false);
    }
    let Some(l) = w.sector(SECTOR)? else { return Ok(false) };
    if l.at(V_VERSION) != 1 {
        return Ok(false);
    }
    if !ls.list {
        return Ok(true);
    }
    let nparts = l.at(V_NPARTS).min(MAX_PARTITIONS);
    // libblkid counts from 1 but reads from the first slice, so it looks at
    // slices 0 to nparts - 2; the same entries give the same partitions.
    for i in 0..usize::from(nparts.saturating_sub(1)) {
        let s = entry(&l, V_SLICES, SLICE_LEN, i);
        let mut start = s.at(S_START);
        let size = s.at(S_SIZE);
        let tag = s.at(S_TAG);
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
        if let Some(p) = ls.add("solaris", start, size, u32::from(tag)) {
            p.flags = u64::from(s.at(S_FLAG));
        }
    }
    Ok(true)
}
