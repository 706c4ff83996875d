//! GUID partition tables, and the protective MBR left behind without one.
#![forbid(unsafe_code)]

use super::{has_mbr_magic, mbr_entries, Disk, Partition, Table, MBR_GPT_PARTITION};
use crate::probe::checksum::CRC32;
use crate::probe::field::{layout, Bytes, Fields, Le32, Le64};
use crate::probe::reader::MAX_READ;
use crate::probe::Reader;
use crate::probe::{encode_to_utf8_max, is_c_space, Encoding};
use std::io;

const SIGNATURE: &[u8] = b"EFI PART";
const PRIMARY_LBA: u64 = 1;

// The header's fixed part; `header_size` may not be smaller.
layout! { HEADER_LEN = 92;
    H_SIGNATURE: Bytes<8> = 0;
    H_HEADER_SIZE: Le32 = 12;
    H_HEADER_CRC: Le32 = 16;
    H_MY_LBA: Le64 = 24;
    H_FIRST_USABLE: Le64 = 40;
    H_LAST_USABLE: Le64 = 48;
    H_DISK_GUID: Bytes<16> = 56;
    H_ENTRIES_LBA: Le64 = 72;
    H_NUM_ENTRIES: Le32 = 80;
    H_ENTRY_SIZE: Le32 = 84;
    H_ENTRIES_CRC: Le32 = 88;
}
layout! { ENTRY_LEN = 128;
    E_TYPE: Bytes<16> = 0;
    E_UUID: Bytes<16> = 16;
    E_START: Le64 = 32;
    E_END: Le64 = 40;
    E_ATTRS: Le64 = 48;
    /// 36 UTF-16LE code units.
    E_NAME: Bytes<72> = 56;
}

/// An EFI GUID as text: its first three fields are stored little-endian.
fn guid(b: &[u8]) -> String {
    let mut u = [0u8; 16];
    u.copy_from_slice(&b[..16]);
    u[0..4].reverse();
    u[4..6].reverse();
    u[6..8].reverse();
    uuid::Uuid::from_bytes(u).hyphenated().to_string()
}

/// Sector 0 is an MBR with a 0xEE partition.
fn has_pmbr(r: &mut Reader) -> io::Result<bool> {
    let s = match super::mbr_sector(r) {
        Ok(s) => s,
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
        Err(e) => return Err(e),
    };
    Ok(has_mbr_magic(&s) && mbr_entries(&s).iter().any(|e| e.sys_ind == MBR_GPT_PARTITION))
}

fn last_lba(r: &Reader, ssz: u64) -> Option<u64> {
    (r.size() >= ssz).then(|| r.size() / ssz - 1)
}

/// A verified header at `lba` and its verified entry array.
struct Header {
    h: Vec<u8>,
    entries: Vec<u8>,
}

/// The header at `lba` if it and its entries pass every check libblkid makes.
fn header(r: &mut Reader, lba: u64, last: u64, ssz: u64) -> io::Result<Option<Header>> {
    let read = |r: &mut Reader, lba: u64, len: u64| -> io::Result<Option<Vec<u8>>> {
        let Some(off) = lba.checked_mul(ssz) else { return Ok(None) };
        if len > MAX_READ as u64 {
            return Ok(None);
        }
        match r.read(off, len as usize) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(e),
        }
    };
    // The signature first: most disks have no header at the last LBA.
    let Some(sig) = read(r, lba, SIGNATURE.len() as u64)? else { return Ok(None) };
    if sig != SIGNATURE {
        return Ok(None);
    }
    let Some(mut h) = read(r, lba, ssz)? else { return Ok(None) };
    if h.len() < HEADER_LEN || h.slice(H_SIGNATURE) != SIGNATURE {
        return Ok(None);
    }
    let hsz = h.at(H_HEADER_SIZE) as usize;
    if hsz as u64 > ssz || hsz < HEADER_LEN {
        return Ok(None);
    }
    let want = h.at(H_HEADER_CRC);
    h[H_HEADER_CRC.0..H_HEADER_CRC.0 + 4].fill(0);
    if CRC32.checksum(&h[..hsz]) != want {
        return Ok(None);
    }
    if h.at(H_MY_LBA) != lba {
        return Ok(None);
    }
    let (fu, lu) = (h.at(H_FIRST_USABLE), h.at(H_LAST_USABLE));
    if lu < fu || fu > last || lu > last {
        return Ok(None);
    }
    // The header may not sit inside the area it describes.
    if fu < lba && lba < lu {
        return Ok(None);
    }
    let esz = u64::from(h.at(H_NUM_ENTRIES)) * u64::from(h.at(H_ENTRY_SIZE));
    if esz == 0 || esz >= u64::from(u32::MAX) || h.at(H_ENTRY_SIZE) as usize != ENTRY_LEN {
        return Ok(None);
    }
    let Some(entries) = read(r, h.at(H_ENTRIES_LBA), esz)? else { return Ok(None) };
    if CRC32.checksum(&entries) != h.at(H_ENTRIES_CRC) {
        return Ok(None);
    }
    Ok(Some(Header { h, entries }))
}

/// The primary header, or the backup at the last LBA when the primary is bad.
fn find_header(r: &mut Reader, ssz: u64) -> io::Result<Option<Header>> {
    let Some(last) = last_lba(r, ssz) else { return Ok(None) };
    if let Some(h) = header(r, PRIMARY_LBA, last, ssz)? {
        return Ok(Some(h));
    }
    header(r, last, last, ssz)
}

pub(super) fn probe(r: &mut Reader, disk: Disk) -> io::Result<Option<Table>> {
    let ssz = disk.sector_size;
    if last_lba(r, ssz).is_none() || !has_pmbr(r)? {
        return Ok(None);
    }
    let Some(Header { h, entries }) = find_header(r, ssz)? else { return Ok(None) };
    let disk_guid = h.slice(H_DISK_GUID);
    let id = disk_guid.iter().any(|&b| b != 0).then(|| guid(disk_guid));
    let mut t = Table { scheme: "gpt", id, partitions: Vec::new() };
    let ssf = ssz / 512;
    let (fu, lu) = (h.at(H_FIRST_USABLE), h.at(H_LAST_USABLE));
    for (i, e) in entries.chunks_exact(ENTRY_LEN).enumerate() {
        // Unused and out-of-range entries keep their numbers.
        let number = i as u32 + 1;
        if e.at(E_TYPE).iter().all(|&b| b == 0) {
            continue;
        }
        let start = e.at(E_START);
        let size = e.at(E_END).wrapping_sub(start).wrapping_add(1);
        if start < fu || start.wrapping_add(size).wrapping_sub(1) > lu {
            continue;
        }
        let mut name = encode_to_utf8_max(Encoding::Utf16Le, e.slice(E_NAME), 128);
        while name.last().is_some_and(|&b| is_c_space(b)) {
            name.pop();
        }
        t.partitions.push(Partition {
            scheme: "gpt",
            number,
            start: start.wrapping_mul(ssf),
            size: size.wrapping_mul(ssf),
            type_name: guid(e.slice(E_TYPE)).into_bytes(),
            type_code: 0,
            name: (!name.is_empty()).then_some(name),
            uuid: Some(guid(e.slice(E_UUID))),
            flags: e.at(E_ATTRS),
            extended: false,
        });
    }
    Ok(Some(t))
}

/// A protective MBR whose GPT headers are both missing or corrupt.
pub(super) fn probe_pmbr(r: &mut Reader, disk: Disk) -> io::Result<Option<bool>> {
    let ssz = disk.sector_size;
    if last_lba(r, ssz).is_none() {
        return Ok(None);
    }
    // libblkid matches this prober by the 55 AA magic in the first KiB.
    if !r.fits(0, 1024) {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    if r.read(super::MBR_MAGIC_OFF, super::MBR_MAGIC.len())? != super::MBR_MAGIC || !has_pmbr(r)? {
        return Ok(None);
    }
    Ok(Some(find_header(r, ssz)?.is_none()))
}
