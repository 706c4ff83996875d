//! SGI disk labels (IRIX volume headers), libblkid's `sgi.c`.
#![forbid(unsafe_code)]

use super::{be32, List, Window};
use crate::probe::Magic;
use std::io;

const MAGICS: &[Magic] = &[Magic { bytes: b"\x0b\xe5\xa9\x41", kboff: 0, sboff: 0 }];
/// The label is the first sector; its big-endian 32-bit words sum to zero.
const LABEL_LEN: usize = 512;
/// The partition entries (after the header, device parameters and volume directory).
const PARTITIONS_OFF: usize = 312;
const MAX_PARTITIONS: usize = 16;
const ENTRY_LEN: usize = 12;
// Entry fields.
const E_NUM_BLOCKS: usize = 0;
const E_FIRST_BLOCK: usize = 4;
const E_TYPE: usize = 8;

const _: () = assert!(PARTITIONS_OFF + MAX_PARTITIONS * ENTRY_LEN + 8 == LABEL_LEN);

pub(super) fn probe(w: &mut Window, ls: &mut List) -> io::Result<bool> {
    if w.find_magic(MAGICS)?.is_none() {
        return Ok(false);
    }
    let Some(l) = w.sector(0)? else { return Ok(false) };
    let sum = l.chunks_exact(4).fold(0u32, |s, c| s.wrapping_add(u32::from_be_bytes([c[0], c[1], c[2], c[3]])));
    if sum != 0 || !ls.list {
        return Ok(sum == 0);
    }
    for i in 0..MAX_PARTITIONS {
        let e = PARTITIONS_OFF + i * ENTRY_LEN;
        let size = be32(&l, e + E_NUM_BLOCKS);
        if size == 0 {
            ls.skip();
            continue;
        }
        ls.add("sgi", u64::from(be32(&l, e + E_FIRST_BLOCK)), u64::from(size), u64::from(be32(&l, e + E_TYPE)));
    }
    Ok(true)
}
