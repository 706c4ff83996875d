//! GUID partition tables, and the protective MBR left behind without one.
#![forbid(unsafe_code)]

use super::{has_mbr_magic, mbr_entries, Disk, Partition, Table, MBR_GPT_PARTITION};
use crate::probe::reader::MAX_READ;
use crate::probe::Reader;
use crate::probe::{encode_to_utf8_max, is_c_space, Encoding};
use std::io;

const SIGNATURE: &[u8] = b"EFI PART";
const PRIMARY_LBA: u64 = 1;
/// The fixed part of the header; `header_size` may not be smaller.
const HEADER_LEN: usize = 92;
const ENTRY_LEN: usize = 128;

// Header fields.
const H_HEADER_SIZE: usize = 12;
const H_HEADER_CRC: usize = 16;
const H_MY_LBA: usize = 24;
const H_FIRST_USABLE: usize = 40;
const H_LAST_USABLE: usize = 48;
const H_DISK_GUID: usize = 56;
const H_ENTRIES_LBA: usize = 72;
const H_NUM_ENTRIES: usize = 80;
const H_ENTRY_SIZE: usize = 84;
const H_ENTRIES_CRC: usize = 88;

// Entry fields.
const E_TYPE: usize = 0;
const E_UUID: usize = 16;
const E_START: usize = 32;
const E_END: usize = 40;
const E_ATTRS: usize = 48;
const E_NAME: usize = 56;
const E_NAME_LEN: usize = 72;

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn le64(b: &[u8], at: usize) -> u64 {
    let mut x = [0; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
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

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as the UEFI spec uses.
pub fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 { 0xedb8_8320 ^ (c >> 1) } else { c >> 1 };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    !data.iter().fold(!0u32, |c, &b| TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8))
}

/// Sector 0 is an MBR with a 0xEE partition.
fn has_pmbr(r: &mut Reader) -> io::Result<bool> {
    let s = match r.read(0, 512) {
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
    let Some(mut h) = read(r, lba, ssz)? else { return Ok(None) };
    if &h[..8] != SIGNATURE {
        return Ok(None);
    }
    let hsz = le32(&h, H_HEADER_SIZE) as usize;
    if hsz as u64 > ssz || hsz < HEADER_LEN {
        return Ok(None);
    }
    let want = le32(&h, H_HEADER_CRC);
    h[H_HEADER_CRC..H_HEADER_CRC + 4].fill(0);
    if crc32(&h[..hsz]) != want {
        return Ok(None);
    }
    if le64(&h, H_MY_LBA) != lba {
        return Ok(None);
    }
    let (fu, lu) = (le64(&h, H_FIRST_USABLE), le64(&h, H_LAST_USABLE));
    if lu < fu || fu > last || lu > last {
        return Ok(None);
    }
    // The header may not sit inside the area it describes.
    if fu < lba && lba < lu {
        return Ok(None);
    }
    let esz = u64::from(le32(&h, H_NUM_ENTRIES)) * u64::from(le32(&h, H_ENTRY_SIZE));
    if esz == 0 || esz >= u64::from(u32::MAX) || le32(&h, H_ENTRY_SIZE) as usize != ENTRY_LEN {
        return Ok(None);
    }
    let Some(entries) = read(r, le64(&h, H_ENTRIES_LBA), esz)? else { return Ok(None) };
    if crc32(&entries) != le32(&h, H_ENTRIES_CRC) {
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
    let disk_guid = &h[H_DISK_GUID..H_DISK_GUID + 16];
    let id = disk_guid.iter().any(|&b| b != 0).then(|| guid(disk_guid));
    let mut t = Table { scheme: "gpt", id, partitions: Vec::new() };
    let ssf = ssz / 512;
    let (fu, lu) = (le64(&h, H_FIRST_USABLE), le64(&h, H_LAST_USABLE));
    for (i, e) in entries.chunks_exact(ENTRY_LEN).enumerate() {
        // Unused and out-of-range entries keep their numbers.
        let number = i as u32 + 1;
        if e[E_TYPE..E_TYPE + 16].iter().all(|&b| b == 0) {
            continue;
        }
        let start = le64(e, E_START);
        let size = le64(e, E_END).wrapping_sub(start).wrapping_add(1);
        if start < fu || start.wrapping_add(size).wrapping_sub(1) > lu {
            continue;
        }
        let mut name = encode_to_utf8_max(Encoding::Utf16Le, &e[E_NAME..E_NAME + E_NAME_LEN], 128);
        while name.last().is_some_and(|&b| is_c_space(b)) {
            name.pop();
        }
        t.partitions.push(Partition {
            scheme: "gpt",
            number,
            start: start.wrapping_mul(ssf),
            size: size.wrapping_mul(ssf),
            type_name: guid(&e[E_TYPE..]),
            name: (!name.is_empty()).then_some(name),
            uuid: Some(guid(&e[E_UUID..])),
            flags: le64(e, E_ATTRS),
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
    let head = r.read(0, 1024)?;
    if !has_mbr_magic(&head) || !has_pmbr(r)? {
        return Ok(None);
    }
    Ok(Some(find_header(r, ssz)?.is_none()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b""), 0);
    }
}
