//! Minix subpartitions: an MBR-like table at the start of a dos partition of
//! type 0x81, libblkid's `minix.c`.
#![forbid(unsafe_code)]

use super::{has_mbr_magic, mbr_entries, List, Window, MBR_MINIX_PARTITION};
use crate::probe::Magic;
use std::io;

const MAGICS: &[Magic] = &[Magic { bytes: b"\x55\xaa", kboff: 0, sboff: 510 }];

pub(super) fn probe(w: &mut Window, ls: &mut List) -> io::Result<bool> {
    if w.find_magic(MAGICS)?.is_none() {
        return Ok(false);
    }
    let Some(s) = w.sector(0)? else { return Ok(false) };
    // The table looks like any MBR: only the parent's type says it is Minix.
    let minix_parent = ls.parent.as_ref().is_some_and(|p| p.type_code == u32::from(MBR_MINIX_PARTITION));
    if !minix_parent || !has_mbr_magic(&s) {
        return Ok(false);
    }
    if !ls.list {
        return Ok(true);
    }
    for e in mbr_entries(&s) {
        if e.sys_ind != MBR_MINIX_PARTITION {
            continue;
        }
        let (start, size) = (u64::from(e.start), u64::from(e.size));
        if !ls.inside_parent(start, size) {
            continue;
        }
        if let Some(p) = ls.add("minix", start, size, u32::from(e.sys_ind)) {
            p.flags = u64::from(e.boot_ind);
        }
    }
    Ok(true)
}
