//! SGI disk labels (IRIX volume headers), libblkid's `sgi.c`.
#![forbid(unsafe_code)]

use super::{entry, List, Window};
use crate::probe::field::{layout, Be32, Fields};
use crate::probe::Magic;
use std::io;

const MAGICS: &[Magic] = &[Magic { bytes: b"\x0b\xe5\xa9\x41", kboff: 0, sboff: 0 }];
const MAX_PARTITIONS: usize = 16;

// The label is the first sector; its big-endian 32-bit words sum to zero.
const LABEL_LEN: usize = 512;
/// The partition entries, after the header, device parameters and volume
/// directory, and before the checksum and padding.
const PARTITIONS: usize = 312;
const _: () = assert!(PARTITIONS + MAX_PARTITIONS * ENTRY_LEN + 8 == LABEL_LEN);
layout! { ENTRY_LEN = 12;
    NUM_BLOCKS: Be32 = 0;
    FIRST_BLOCK: Be32 = 4;
    TYPE: Be32 = 8;
}

pub(super) fn probe(w: &mut Window, ls: &mut List) -> io::Result<bool> {
    if w.find_magic(MAGICS)?.is_none() {
        return Ok(false);
    }
    let Some(l) = w.sector(0)? else { return Ok(false) };
    let sum = l.chunks_exact(4).fold(0u32, |s, c| s.wrapping_add(c.at(Be32(0))));
    if sum != 0 || !ls.list {
        return Ok(sum == 0);
    }
    for i in 0..MAX_PARTITIONS {
        let e = entry(&l, PARTITIONS, ENTRY_LEN, i);
        let size = e.at(NUM_BLOCKS);
        if size == 0 {
            ls.skip();
            continue;
        }
        ls.add("sgi", u64::from(e.at(FIRST_BLOCK)), u64::from(size), e.at(TYPE));
    }
    Ok(true)
}
