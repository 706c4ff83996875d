//! Sun (Solaris SPARC) disk labels, libblkid's `sun.c`.
#![forbid(unsafe_code)]

use super::{be16, be32, List, Window};
use crate::probe::Magic;
use std::io;

const MAGICS: &[Magic] = &[Magic { bytes: b"\xda\xbe", kboff: 0, sboff: MAGIC_OFF as u64 }];
/// The label is the first sector; its 16-bit words XOR to zero.
const LABEL_LEN: usize = 512;
const MAGIC_OFF: usize = 508;
// The VTOC, which names partition tags and flags when it is sane.
const VTOC_VERSION: usize = 128;
const VTOC_NPARTS: usize = 140;
const VTOC_INFOS: usize = 142;
const VTOC_SANITY: usize = 188;
const VTOC_SANITY_MAGIC: u32 = 0x600d_deee;
const VTOC_VERSION_ONE: u32 = 1;
// Geometry: partitions start at a cylinder.
const NHEAD: usize = 436;
const NSECT: usize = 438;
const PARTITIONS_OFF: usize = 444;
const MAX_PARTITIONS: u16 = 8;
const ENTRY_LEN: usize = 8;
/// The tag of the slice that covers the whole disk, which is not a partition.
const TAG_WHOLEDISK: u16 = 5;

const _: () = assert!(PARTITIONS_OFF + MAX_PARTITIONS as usize * ENTRY_LEN == MAGIC_OFF);
const _: () = assert!(MAGIC_OFF + 4 == LABEL_LEN);

pub(super) fn probe(w: &mut Window, ls: &mut List) -> io::Result<bool> {
    if w.find_magic(MAGICS)?.is_none() {
        return Ok(false);
    }
    let Some(l) = w.sector(0)? else { return Ok(false) };
    let xor = l.chunks_exact(2).fold(0u16, |x, c| x ^ u16::from_be_bytes([c[0], c[1]]));
    if xor != 0 || !ls.list {
        return Ok(xor == 0);
    }
    let spc = u64::from(be16(&l, NHEAD)) * u64::from(be16(&l, NSECT));
    let (sanity, version, nparts) = (be32(&l, VTOC_SANITY), be32(&l, VTOC_VERSION), be16(&l, VTOC_NPARTS));
    let sane = sanity == VTOC_SANITY_MAGIC && version == VTOC_VERSION_ONE && nparts <= MAX_PARTITIONS;
    let count = if sane { nparts } else { MAX_PARTITIONS };
    // Old Linux-made labels have an all-zero VTOC; its (zero) tags are used too.
    let use_vtoc = sane || (sanity == 0 && version == 0 && nparts == 0);
    for i in 0..usize::from(count) {
        let e = PARTITIONS_OFF + i * ENTRY_LEN;
        let start = u64::from(be32(&l, e)).wrapping_mul(spc);
        let size = be32(&l, e + 4);
        let (tag, flags) =
            if use_vtoc { (be16(&l, VTOC_INFOS + 4 * i), be16(&l, VTOC_INFOS + 4 * i + 2)) } else { (0, 0) };
        if tag == TAG_WHOLEDISK || size == 0 {
            ls.skip();
            continue;
        }
        if let Some(p) = ls.add("sun", start, u64::from(size), u64::from(tag)) {
            p.flags = u64::from(flags);
        }
    }
    Ok(true)
}
