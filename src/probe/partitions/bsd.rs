//! BSD disklabels, on a whole disk or nested in a dos partition of a BSD type,
//! libblkid's `bsd.c`. libblkid reports them only in partition lists.
#![forbid(unsafe_code)]

use super::{entry, List, Window};
use super::{MBR_FREEBSD_PARTITION, MBR_NETBSD_PARTITION, MBR_OPENBSD_PARTITION};
use crate::probe::field::{layout, Fields, Le16, Le32, U8};
use crate::probe::Magic;
use std::io;

const MAGIC: &[u8] = b"\x57\x45\x56\x82";
/// Where the architectures put the label: sector 1 (i386, amd64, …), or 64 or
/// 128 bytes into sector 0 (alpha, vax, sparc64, …).
const MAGICS: &[Magic] = &[
    Magic { bytes: MAGIC, kboff: 0, sboff: 512 },
    Magic { bytes: MAGIC, kboff: 0, sboff: 64 },
    Magic { bytes: MAGIC, kboff: 0, sboff: 128 },
];
const MAX_PARTITIONS: usize = 16;
layout! { LABEL_LEN = D_PARTITIONS + MAX_PARTITIONS * ENTRY_LEN;
    D_NPARTITIONS: Le16 = 138;
}
const D_PARTITIONS: usize = 148;
layout! { ENTRY_LEN = 16;
    P_SIZE: Le32 = 0;
    P_OFFSET: Le32 = 4;
    P_FSTYPE: U8 = 12;
}
/// The third entry conventionally covers the whole disk (FreeBSD's `c`).
const WHOLE_DISK_ENTRY: usize = 2;

// Every label lies inside the first KiB that the magic search reads.
const _: () = assert!(128 + LABEL_LEN <= 1024 && 512 + LABEL_LEN <= 1024);

pub(super) fn probe(w: &mut Window, ls: &mut List) -> io::Result<bool> {
    if !ls.list {
        return Ok(false);
    }
    let Some(m) = w.find_magic(MAGICS)? else { return Ok(false) };
    let Some(head) = w.read_opt(0, 1024)? else { return Ok(false) };
    let l = &head[m.sboff as usize..m.sboff as usize + LABEL_LEN];
    let (mut scheme, mut abs_offset) = ("bsd", 0u32);
    if let Some(parent) = &ls.parent {
        match u8::try_from(parent.type_code) {
            Ok(MBR_FREEBSD_PARTITION) => {
                scheme = "freebsd";
                // libblkid keeps this in 32 bits.
                abs_offset = parent.start as u32;
            }
            Ok(MBR_NETBSD_PARTITION) => scheme = "netbsd",
            Ok(MBR_OPENBSD_PARTITION) => scheme = "openbsd",
            _ => {}
        }
    }
    let nparts = usize::from(l.at(D_NPARTITIONS)).min(MAX_PARTITIONS);
    let part = |i: usize| entry(l, D_PARTITIONS, ENTRY_LEN, i);
    // FreeBSD 10 and later store offsets relative to the slice; a whole-disk
    // entry at offset 0 tells.
    let relative = abs_offset != 0 && nparts > WHOLE_DISK_ENTRY && part(WHOLE_DISK_ENTRY).at(P_OFFSET) == 0;
    for i in 0..nparts {
        let e = part(i);
        let fstype = e.at(P_FSTYPE);
        if fstype == 0 {
            continue;
        }
        let mut start = e.at(P_OFFSET);
        let size = e.at(P_SIZE);
        if relative {
            start = start.wrapping_add(abs_offset);
        }
        let (start, size) = (u64::from(start), u64::from(size));
        if let Some(p) = &ls.parent {
            // The entry for the whole slice, and entries outside it, are not partitions.
            if (p.start == start && p.size == size) || !ls.inside_parent(start, size) {
                continue;
            }
        }
        ls.add(scheme, start, size, u32::from(fstype));
    }
    Ok(true)
}
