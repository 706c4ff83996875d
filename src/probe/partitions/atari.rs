//! Atari (AHDI and ICD) root sectors with XGM extended partitions, libblkid's
//! `atari.c`. There is no magic: the root sector has to make sense.
#![forbid(unsafe_code)]

use super::{entry, List, Window};
use crate::probe::field::{layout, Be32, Bytes, Fields, U8};
use std::io;

layout! { ROOT_LEN = 512;
    HD_SIZE: Be32 = 0x1c2;
    BSL_START: Be32 = 0x1f6;
    BSL_LEN: Be32 = 0x1fa;
}
/// ICD entries, in the boot-code area.
const ICD_PARTS: usize = 0x156;
const ICD_COUNT: usize = 8;
/// The primary entries.
const PARTS: usize = 0x1c6;
const PART_COUNT: usize = 4;
// An entry: flags, a three-letter id, start and size in sectors.
/// Flags (bit 0: active) and the id lead the entry, inside it by construction.
const E_FLAGS: U8 = U8(0);
const E_ID: Bytes<3> = Bytes(1);
layout! { ENTRY_LEN = 12;
    E_START: Be32 = 4;
    E_SIZE: Be32 = 8;
}
const ACTIVE: u8 = 1;
/// The id of an extended partition, and of the link to the next one.
const XGM: &[u8] = b"XGM";
/// Ids that mark an ICD table (eight more entries in the boot-code area).
const ICD_IDS: [&[u8]; 5] = [b"GEM", b"BGM", b"LNX", b"SWP", b"RAW"];
/// Bound on the chain of extended root sectors.
const MAX_XGM: u32 = 100;

const _: () = assert!(ICD_PARTS + ICD_COUNT * ENTRY_LEN + 12 == HD_SIZE.0);
const _: () = assert!(PARTS + PART_COUNT * ENTRY_LEN == BSL_START.0);

/// One 12-byte partition entry.
#[derive(Clone, Copy)]
struct Entry<'a>(&'a [u8]);

impl<'a> Entry<'a> {
    /// Entry `i` of the table at `base` of a root sector.
    fn of(sector: &'a [u8], base: usize, i: usize) -> Entry<'a> {
        Entry(entry(sector, base, ENTRY_LEN, i))
    }
    fn active(self) -> bool {
        self.0.at(E_FLAGS) & ACTIVE != 0
    }
    fn id(self) -> &'a [u8] {
        self.0.slice(E_ID)
    }
    fn start(self) -> u32 {
        self.0.at(E_START)
    }
    fn size(self) -> u32 {
        self.0.at(E_SIZE)
    }
}

/// Whether `c` is alphanumeric for the Linux kernel's ctype (Latin-1 letters count).
fn linux_isalnum(c: u8) -> bool {
    c.is_ascii_alphanumeric() || (c >= 0xc0 && c != 0xd7 && c != 0xf7)
}

/// libblkid's `is_valid_dimension`: the end is computed in 32 bits.
fn valid_dimension(start: u32, size: u32, max: u32) -> bool {
    let end = start.wrapping_add(size);
    end >= start && 0 < start && start <= max && 0 < size && size <= max && 0 < end && end <= max
}

fn valid_partition(e: Entry, max: u32) -> bool {
    e.active() && e.id().iter().all(|&c| linux_isalnum(c)) && valid_dimension(e.start(), e.size(), max)
}

pub(super) fn probe(w: &mut Window, ls: &mut List) -> io::Result<bool> {
    // Not defined for other sector sizes, nor for disks past 32-bit sizes.
    if w.sector_size != 512 || w.size() / 512 > i32::MAX as u64 {
        return Ok(false);
    }
    let sectors = w.size() / 512;
    // libblkid reads the root sector; its disk size decides first, so read that alone.
    if !w.fits(0, ROOT_LEN as u64) {
        return Ok(false);
    }
    let rssize = w.read(HD_SIZE.0 as u64, 4)?.at(Be32(0));
    if rssize < 2 || u64::from(rssize) > sectors {
        return Ok(false);
    }
    let Some(rs) = w.sector(0)? else { return Ok(false) };
    let (bsl_start, bsl_len) = (rs.at(BSL_START), rs.at(BSL_LEN));
    if (bsl_start != 0 || bsl_len != 0) && !valid_dimension(bsl_start, bsl_len, rssize) {
        return Ok(false);
    }
    let parts = |i: usize| Entry::of(&rs, PARTS, i);
    if !(0..PART_COUNT).any(|i| valid_partition(parts(i), rssize)) {
        return Ok(false);
    }
    if !ls.list {
        return Ok(true);
    }
    let mut has_xgm = false;
    for i in 0..PART_COUNT {
        let p = parts(i);
        if !p.active() {
            ls.skip();
        } else if p.id() == XGM {
            has_xgm = true;
            extended(w, ls, p)?;
        } else {
            add(ls, p, 0);
        }
    }
    // Without XGM partitions the boot-code area may hold ICD entries.
    let icd = |i: usize| Entry::of(&rs, ICD_PARTS, i);
    if !has_xgm && ICD_IDS.contains(&icd(0).id()) {
        for i in 0..ICD_COUNT {
            let p = icd(i);
            if !p.active() || !ICD_IDS.contains(&p.id()) {
                ls.skip();
            } else {
                add(ls, p, 0);
            }
        }
    }
    Ok(true)
}

/// Add the partition of entry `e` of a root sector at `offset`, unless one
/// starts there already. Returns whether it was added.
fn add(ls: &mut List, e: Entry, offset: u32) -> bool {
    let start = e.start().wrapping_add(offset);
    if ls.partitions.iter().any(|p| p.start == u64::from(start)) {
        // A duplicate primary entry still uses up its number.
        if offset == 0 {
            ls.skip();
        }
        return false;
    }
    let type_name = super::field_string(e.id());
    ls.add_named("atari", u64::from(start), u64::from(e.size()), type_name);
    true
}

/// Follow the chain of extended root sectors from the XGM entry `xgm`: each
/// holds one data partition (relative to itself) and a link to the next
/// (relative to the first).
fn extended(w: &mut Window, ls: &mut List, xgm: Entry) -> io::Result<()> {
    let first = xgm.start();
    let mut cur = first;
    for _ in 0..MAX_XGM {
        let Some(xrs) = w.sector(u64::from(cur))? else { return Ok(()) };
        let part = |i: usize| Entry::of(&xrs, PARTS, i);
        let Some(i) = (0..PART_COUNT - 1).find(|&i| part(i).active()) else { return Ok(()) };
        if part(i).id() == XGM || !add(ls, part(i), cur) {
            return Ok(());
        }
        let link = part(i + 1);
        if !link.active() || link.id() != XGM {
            return Ok(());
        }
        cur = first.wrapping_add(link.start());
    }
    Ok(())
}
