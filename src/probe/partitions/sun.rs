//! Sun (Solaris SPARC) disk labels, libblkid's `sun.c`.
#![forbid(unsafe_code)]

use super::{entry, List, Window};
use crate::probe::field::{layout, Be16, Be32, Fields};
use crate::probe::Magic;
use std::io;

const MAX_PARTITIONS: u16 = 8;

// The label is the first sector; its 16-bit words XOR to zero.
layout! { LABEL_LEN = 512;
    // The VTOC, which names partition tags and flags when it is sane.
    VTOC_VERSION: Be32 = 128;
    VTOC_NPARTS: Be16 = 140;
    VTOC_SANITY: Be32 = 188;
    // Geometry: partitions start at a cylinder.
    NHEAD: Be16 = 436;
    NSECT: Be16 = 438;
    MAGIC: Be16 = 508;
}
/// Start cylinder and size of each partition, up to the magic.
const PARTITIONS: usize = 444;
const _: () = assert!(PARTITIONS + MAX_PARTITIONS as usize * ENTRY_LEN == MAGIC.0);
layout! { ENTRY_LEN = 8;
    START_CYLINDER: Be32 = 0;
    NUM_SECTORS: Be32 = 4;
}
layout! { INFO_LEN = 4;
    INFO_TAG: Be16 = 0;
    INFO_FLAGS: Be16 = 2;
}
/// Tag and flags of each partition, in the VTOC.
const VTOC_INFOS: usize = 142;
const _: () = assert!(VTOC_INFOS + MAX_PARTITIONS as usize * INFO_LEN <= VTOC_SANITY.0);

const MAGICS: &[Magic] = &[Magic { bytes: b"\xda\xbe", kboff: 0, sboff: MAGIC.0 as u64 }];
const VTOC_SANITY_MAGIC: u32 = 0x600d_deee;
const VTOC_VERSION_ONE: u32 = 1;
/// The tag of the slice that covers the whole disk, which is not a partition.
const TAG_WHOLEDISK: u16 = 5;

pub(super) fn probe(w: &mut Window, ls: &mut List) -> io::Result<bool> {
    if w.find_magic(MAGICS)?.is_none() {
        return Ok(false);
    }
    let Some(l) = w.sector(0)? else { return Ok(false) };
    let xor = l.chunks_exact(2).fold(0u16, |x, c| x ^ c.at(Be16(0)));
    if xor != 0 || !ls.list {
        return Ok(xor == 0);
    }
    let spc = u64::from(l.at(NHEAD)) * u64::from(l.at(NSECT));
    let (sanity, version, nparts) = (l.at(VTOC_SANITY), l.at(VTOC_VERSION), l.at(VTOC_NPARTS));
    let sane = sanity == VTOC_SANITY_MAGIC && version == VTOC_VERSION_ONE && nparts <= MAX_PARTITIONS;
    let count = if sane { nparts } else { MAX_PARTITIONS };
    // Old Linux-made labels have an all-zero VTOC; its (zero) tags are used too.
    let use_vtoc = sane || (sanity == 0 && version == 0 && nparts == 0);
    for i in 0..usize::from(count) {
        let e = entry(&l, PARTITIONS, ENTRY_LEN, i);
        let start = u64::from(e.at(START_CYLINDER)).wrapping_mul(spc);
        let size = e.at(NUM_SECTORS);
        let info = entry(&l, VTOC_INFOS, INFO_LEN, i);
        let (tag, flags) = if use_vtoc { (info.at(INFO_TAG), info.at(INFO_FLAGS)) } else { (0, 0) };
        if tag == TAG_WHOLEDISK || size == 0 {
            ls.skip();
            continue;
        }
        if let Some(p) = ls.add("sun", start, u64::from(size), u32::from(tag)) {
            p.flags = u64::from(flags);
        }
    }
    Ok(true)
}
