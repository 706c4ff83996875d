//! Ultrix partition tables, libblkid's `ultrix.c`.
#![forbid(unsafe_code)]

use super::{le32, List, Window};
use std::io;

const MAX_PARTITIONS: usize = 8;
/// The label is the last 72 bytes of the 16 KiB boot area.
const LABEL_LEN: usize = 8 + MAX_PARTITIONS * 8;
const SECTOR: u64 = ((16384 - LABEL_LEN) >> 9) as u64;
const OFFSET: usize = 512 - LABEL_LEN;
/// Native-endian in libblkid, which only runs little-endian here.
const MAGIC: u32 = 0x0003_2957;
const L_MAGIC: usize = 0;
const L_VALID: usize = 4;
const L_PARTITIONS: usize = 8;

pub(super) fn probe(w: &mut Window, ls: &mut List) -> io::Result<bool> {
    let Some(s) = w.sector(SECTOR)? else { return Ok(false) };
    let l = &s[OFFSET..];
    if le32(l, L_MAGIC) != MAGIC || le32(l, L_VALID) != 1 {
        return Ok(false);
    }
    if !ls.list {
        return Ok(true);
    }
    for i in 0..MAX_PARTITIONS {
        let e = L_PARTITIONS + 8 * i;
        // A signed count: libblkid widens it with its sign.
        let nblocks = le32(l, e) as i32;
        if nblocks == 0 {
            ls.skip();
        } else {
            ls.add("ultrix", u64::from(le32(l, e + 4)), i64::from(nblocks) as u64, 0);
        }
    }
    Ok(true)
}
