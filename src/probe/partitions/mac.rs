//! Apple partition maps, libblkid's `mac.c`.
#![forbid(unsafe_code)]

use super::{field_string, List, Window};
use crate::probe::field::{layout, Be16, Be32, Bytes, Fields};
use crate::probe::Magic;
use std::io;

/// The driver descriptor record in block 0 ("ER").
const MAGICS: &[Magic] = &[Magic { bytes: b"\x45\x52", kboff: 0, sboff: 0 }];
layout! { DD_LEN = 512;
    DD_BLOCK_SIZE: Be16 = 2;
}
// Partition map entries, one per block from block 1. libblkid reads this
// much of each; smaller blocks are not a map.
layout! { ENTRY_LEN = 136;
    SIGNATURE: Be16 = 0;
    MAP_COUNT: Be32 = 4;
    START_BLOCK: Be32 = 8;
    BLOCK_COUNT: Be32 = 12;
    NAME: Bytes<32> = 16;
    TYPE: Bytes<32> = 48;
}
const PART_MAGIC: u16 = 0x504d;
const PART_MAGIC_OLD: u16 = 0x5453;
/// libblkid reads at most this many entries, whatever the map says.
const MAX_ENTRIES: u32 = 256;

fn has_signature(p: &[u8]) -> bool {
    matches!(p.at(SIGNATURE), PART_MAGIC | PART_MAGIC_OLD)
}

pub(super) fn probe(w: &mut Window, ls: &mut List) -> io::Result<bool> {
    if w.find_magic(MAGICS)?.is_none() {
        return Ok(false);
    }
    let Some(dd) = w.sector(0)? else { return Ok(false) };
    let block_size = dd.at(DD_BLOCK_SIZE);
    if usize::from(block_size) < ENTRY_LEN {
        return Ok(false);
    }
    let bs = u64::from(block_size);
    let Some(first) = w.read_opt(bs, usize::from(block_size))? else { return Ok(false) };
    if !has_signature(&first) {
        return Ok(false);
    }
    if !ls.list {
        return Ok(true);
    }
    // Blocks count in 512-byte sectors, in libblkid's 32-bit arithmetic.
    let ssf = u32::from(block_size / 512);
    let count = first.at(MAP_COUNT).min(MAX_ENTRIES);
    for i in 0..u64::from(count) {
        // An unreadable or unsigned entry means there is no map at all.
        let Some(p) = w.read_opt((i + 1) * bs, usize::from(block_size))? else { return Ok(false) };
        if !has_signature(&p) {
            return Ok(false);
        }
        let start = p.at(START_BLOCK).wrapping_mul(ssf);
        let size = p.at(BLOCK_COUNT).wrapping_mul(ssf);
        let type_name = field_string(p.slice(TYPE));
        let name = field_string(p.slice(NAME));
        if let Some(par) = ls.add_named("mac", u64::from(start), u64::from(size), type_name) {
            par.name = (!name.is_empty()).then_some(name);
        }
    }
    Ok(true)
}
