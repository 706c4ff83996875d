//! Ultrix partition tables, libblkid's `ultrix.c`.
#![forbid(unsafe_code)]

use super::{entry, List, Window};
use crate::probe::field::{layout, Fields, Le32};
use std::io;

const MAX_PARTITIONS: usize = 8;
// The label is the last 72 bytes of the 16 KiB boot area. Its numbers are
// native-endian in libblkid, which only runs little-endian here.
layout! { LABEL_LEN = 8 + MAX_PARTITIONS * ENTRY_LEN;
    PT_MAGIC: Le32 = 0;
    PT_VALID: Le32 = 4;
}
const PARTITIONS: usize = 8;
layout! { ENTRY_LEN = 8;
    /// Signed: libblkid widens it with its sign.
    NBLOCKS: Le32 = 0;
    BLKOFF: Le32 = 4;
}
const SECTOR: u64 = ((16384 - LABEL_LEN) >> 9) as u64;
const OFFSET: usize = 512 - LABEL_LEN;
const MAGIC: u32 = 0x0003_2957;

pub(super) fn probe(w: &mut Window, ls: &mut List) -> io::Result<bool> {
    // libblkid reads the whole sector; the magic and the valid flag decide,
    // so read those first.
    let at = SECTOR * 512 + OFFSET as u64;
    if !w.fits(SECTOR * 512, 512) {
        return Ok(false);
    }
    let head = w.read(at, PT_VALID.0 + 4)?;
    if head.at(PT_MAGIC) != MAGIC || head.at(PT_VALID) != 1 {
        return Ok(false);
    }
    if !ls.list {
        return Ok(true);
    }
    let l = w.read(at, LABEL_LEN)?;
    let l = &l[..];
    for i in 0..MAX_PARTITIONS {
        let e = entry(l, PARTITIONS, ENTRY_LEN, i);
        let nblocks = e.at(NBLOCKS) as i32;
        if nblocks == 0 {
            ls.skip();
        } else {
            ls.add("ultrix", u64::from(e.at(BLKOFF)), i64::from(nblocks) as u64, 0);
        }
    }
    Ok(true)
}
