//! Apple partition maps, libblkid's `mac.c`.
#![forbid(unsafe_code)]

use super::{be16, be32, field_string, List, Window};
use crate::probe::Magic;
use std::io;

/// The driver descriptor record in block 0 ("ER").
const MAGICS: &[Magic] = &[Magic { bytes: b"\x45\x52", kboff: 0, sboff: 0 }];
const DD_BLOCK_SIZE: usize = 2;
/// Partition map entries, one per block from block 1.
const PART_MAGIC: u16 = 0x504d;
const PART_MAGIC_OLD: u16 = 0x5453;
const P_SIGNATURE: usize = 0;
const P_MAP_COUNT: usize = 4;
const P_START: usize = 8;
const P_COUNT: usize = 12;
const P_NAME: usize = 16;
const P_TYPE: usize = 48;
const FIELD_LEN: usize = 32;
/// The part of an entry libblkid reads; smaller blocks are not a map.
const ENTRY_LEN: usize = 136;
/// libblkid reads at most this many entries, whatever the map says.
const MAX_ENTRIES: u32 = 256;

const _: () = assert!(P_TYPE + FIELD_LEN <= ENTRY_LEN);

fn has_signature(p: &[u8]) -> bool {
    matches!(be16(p, P_SIGNATURE), PART_MAGIC | PART_MAGIC_OLD)
}

pub(super) fn probe(w: &mut Window, ls: &mut List) -> io::Result<bool> {
    if w.find_magic(MAGICS)?.is_none() {
        return Ok(false);
    }
    let Some(dd) = w.sector(0)? else { return Ok(false) };
    let block_size = be16(&dd, DD_BLOCK_SIZE);
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
    let count = be32(&first, P_MAP_COUNT).min(MAX_ENTRIES);
    for i in 0..u64::from(count) {
        // An unreadable or unsigned entry means there is no map at all.
        let Some(p) = w.read_opt((i + 1) * bs, usize::from(block_size))? else { return Ok(false) };
        if !has_signature(&p) {
            return Ok(false);
        }
        let start = be32(&p, P_START).wrapping_mul(ssf);
        let size = be32(&p, P_COUNT).wrapping_mul(ssf);
        let type_name = String::from_utf8_lossy(&field_string(&p[P_TYPE..P_TYPE + FIELD_LEN])).into_owned();
        let name = field_string(&p[P_NAME..P_NAME + FIELD_LEN]);
        if let Some(par) = ls.add_named("mac", u64::from(start), u64::from(size), type_name) {
            par.name = (!name.is_empty()).then_some(name);
        }
    }
    Ok(true)
}
