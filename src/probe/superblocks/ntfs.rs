//! NTFS (libblkid `ntfs.c`). The label is the `$VOLUME_NAME` attribute of the
//! `$Volume` file, the fourth record of the master file table.
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Bytes, Fields, Le16, Le32, Le64, U8};
use crate::probe::reader::MAX_READ;
use crate::probe::{find_magic, Ctx, Magic, Prober, Reader, Usage};
use std::io;

pub static NTFS: Prober = Prober {
    name: "ntfs",
    usage: Usage::Filesystem,
    magics: &[Magic { bytes: b"NTFS    ", kboff: 0, sboff: 3 }],
    probe,
    ..Prober::BASE
};

// Boot sector.
layout! { SB_LEN = 84;
    SECTOR_SIZE: Le16 = 11;
    SECTORS_PER_CLUSTER: U8 = 13;
    RESERVED_SECTORS: Le16 = 14;
    FATS: U8 = 16;
    ROOT_ENTRIES: Le16 = 17;
    SECTORS: Le16 = 19;
    SECTORS_PER_FAT: Le16 = 22;
    LARGE_SECTORS: Le32 = 32;
    NUMBER_OF_SECTORS: Le64 = 40;
    MFT_CLUSTER: Le64 = 48;
    MFT_MIRROR_CLUSTER: Le64 = 56;
    CLUSTERS_PER_MFT_RECORD: U8 = 64;
    VOLUME_SERIAL: Bytes<8> = 72;
}

/// Windows 10 allows clusters of up to 2 MiB.
const MAX_CLUSTER_SIZE: u32 = 2 * 1024 * 1024;
const MFT_RECORD_VOLUME: u32 = 3;
// MFT record header and attribute header.
layout! { MFT_HEAD_LEN = 32;
    MFT_ATTRS_OFFSET: Le16 = 20;
    MFT_BYTES_ALLOCATED: Le32 = 28;
}
layout! { ATTR_HEADER_LEN = 22;
    ATTR_TYPE: Le32 = 0;
    ATTR_LEN: Le32 = 4;
    ATTR_VALUE_LEN: Le32 = 16;
    ATTR_VALUE_OFFSET: Le16 = 20;
}
const ATTR_VOLUME_NAME: u32 = 0x60;
const ATTR_END: u32 = 0xffff_ffff;

/// What the checks leave for the tags.
struct Checked {
    boot: Vec<u8>,
    sector_size: u16,
    /// Where the `$Volume` MFT record starts, and its size.
    volume: u64,
    record_size: u64,
}

/// libblkid reads a whole MFT record and gives up when it does not fit; only
/// the `FILE` magic is needed, though (and later a few attributes of one).
fn record_magic(ctx: &mut Ctx, off: u64, record_size: u32) -> io::Result<bool> {
    if record_size as usize > MAX_READ || !ctx.reader.fits(off, u64::from(record_size)) {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(ctx.read(off, 4)? == b"FILE")
}

/// The checks and MFT record reads of libblkid's `__probe_ntfs`.
fn check(ctx: &mut Ctx) -> io::Result<Option<Checked>> {
    let ns = ctx.read(0, SB_LEN)?;
    let sector_size = ns.at(SECTOR_SIZE);
    if !(256..=4096).contains(&sector_size) {
        return Ok(None);
    }
    let spc = ns.at(SECTORS_PER_CLUSTER);
    let sectors_per_cluster: u32 = match spc {
        1 | 2 | 4 | 8 | 16 | 32 | 64 | 128 => u32::from(spc),
        // Larger clusters are given as a negative power of two.
        240..=249 => 1 << (256 - u32::from(spc)),
        _ => return Ok(None),
    };
    if u32::from(sector_size) * sectors_per_cluster > MAX_CLUSTER_SIZE {
        return Ok(None);
    }
    // Fields that FAT uses must be zero.
    if ns.at(RESERVED_SECTORS) != 0
        || ns.at(ROOT_ENTRIES) != 0
        || ns.at(SECTORS) != 0
        || ns.at(SECTORS_PER_FAT) != 0
        || ns.at(LARGE_SECTORS) != 0
        || ns.at(FATS) != 0
    {
        return Ok(None);
    }
    let cpmr = ns.at(CLUSTERS_PER_MFT_RECORD) as i8;
    let record_size: u32 = match cpmr {
        1 | 2 | 4 | 8 | 16 | 32 | 64 => {
            (cpmr as u32).wrapping_mul(sectors_per_cluster).wrapping_mul(u32::from(sector_size))
        }
        // A negative value n means records of 2^-n bytes.
        -31..=-9 => 1u32 << -i32::from(cpmr),
        _ => return Ok(None),
    };
    let nr_clusters = ns.at(NUMBER_OF_SECTORS) / u64::from(sectors_per_cluster);
    let mft = ns.at(MFT_CLUSTER);
    if mft > nr_clusters || ns.at(MFT_MIRROR_CLUSTER) > nr_clusters {
        return Ok(None);
    }
    let mut off = mft.wrapping_mul(u64::from(sector_size)).wrapping_mul(u64::from(sectors_per_cluster));
    if !record_magic(ctx, off, record_size)? {
        return Ok(None);
    }
    off = off.wrapping_add(u64::from(MFT_RECORD_VOLUME.wrapping_mul(record_size)));
    if !record_magic(ctx, off, record_size)? {
        return Ok(None);
    }
    Ok(Some(Checked { boot: ns, sector_size, volume: off, record_size: u64::from(record_size) }))
}

/// The `$VOLUME_NAME` value of the MFT record at `rec` of `size` bytes, read as
/// libblkid reads it (without applying the update sequence fixups). Only the
/// record header, the attribute headers on the way and the value are read.
fn volume_name(ctx: &mut Ctx, rec: u64, size: u64) -> io::Result<Option<Vec<u8>>> {
    let head = ctx.read(rec, MFT_HEAD_LEN)?;
    let allocated = u64::from(head.at(MFT_BYTES_ALLOCATED));
    let mut off = u64::from(head.at(MFT_ATTRS_OFFSET));
    while off + ATTR_HEADER_LEN as u64 <= size && off <= allocated {
        let attr = ctx.read(rec + off, ATTR_HEADER_LEN)?;
        let (len, kind) = (attr.at(ATTR_LEN), attr.at(ATTR_TYPE));
        if len == 0 || kind == ATTR_END {
            break;
        }
        if kind == ATTR_VOLUME_NAME {
            let val_off = u64::from(attr.at(ATTR_VALUE_OFFSET));
            let val_len = u64::from(attr.at(ATTR_VALUE_LEN));
            if off + val_off + val_len > size {
                return Ok(None);
            }
            return ctx.read(rec + off + val_off, val_len as usize).map(Some);
        }
        off += u64::from(len);
    }
    Ok(None)
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let Some(found) = check(ctx)? else { return Ok(false) };
    if let Some(name) = volume_name(ctx, found.volume, found.record_size)? {
        ctx.set_utf16_label(&name, false);
    }
    ctx.set_block_size(u64::from(found.sector_size));
    let serial = found.boot.at(VOLUME_SERIAL);
    ctx.set_uuid_formatted(&serial, format!("{:016X}", serial.at(Le64(0))));
    Ok(true)
}

/// Whether the device holds NTFS, as libblkid's `blkid_probe_is_ntfs` decides
/// for the DOS partition table parser (an NTFS boot sector carries 0x55AA too).
pub fn is_ntfs(reader: &mut Reader) -> io::Result<bool> {
    let Some(magic) = find_magic(reader, &NTFS)? else { return Ok(false) };
    match check(&mut Ctx::new(reader, Some(magic))) {
        Ok(found) => Ok(found.is_some()),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_name_walk_is_bounded_by_the_record() {
        let mut rec = vec![0u8; 1024];
        rec[..4].copy_from_slice(b"FILE");
        rec[MFT_ATTRS_OFFSET.0..][..2].copy_from_slice(&u16::to_le_bytes(56));
        rec[MFT_BYTES_ALLOCATED.0..][..4].copy_from_slice(&u32::to_le_bytes(1024));
        // A $STANDARD_INFORMATION-like attribute, then the name, then the end.
        rec[56 + ATTR_TYPE.0..][..4].copy_from_slice(&u32::to_le_bytes(0x10));
        rec[56 + ATTR_LEN.0..][..4].copy_from_slice(&u32::to_le_bytes(24));
        let a = 80;
        rec[a + ATTR_TYPE.0..][..4].copy_from_slice(&u32::to_le_bytes(ATTR_VOLUME_NAME));
        rec[a + ATTR_LEN.0..][..4].copy_from_slice(&u32::to_le_bytes(32));
        rec[a + ATTR_VALUE_LEN.0..][..4].copy_from_slice(&u32::to_le_bytes(4));
        rec[a + ATTR_VALUE_OFFSET.0..][..2].copy_from_slice(&u16::to_le_bytes(24));
        rec[a + 24..a + 28].copy_from_slice(&[b'h', 0, b'i', 0]);
        // The record sits at 512 in the image, with more bytes after it.
        let name = |rec: &[u8]| {
            let mut image = vec![0xffu8; 512];
            image.extend_from_slice(rec);
            image.extend_from_slice(&[0xff; 4096]);
            let mut reader = Reader::from_bytes(image);
            let mut ctx = Ctx::new(&mut reader, None);
            volume_name(&mut ctx, 512, rec.len() as u64).unwrap()
        };
        assert_eq!(name(&rec), Some(vec![b'h', 0, b'i', 0]));
        // A value running past the record is ignored.
        rec[a + ATTR_VALUE_LEN.0..][..4].copy_from_slice(&u32::to_le_bytes(2000));
        assert_eq!(name(&rec), None);
        // A zero-length attribute ends the walk.
        rec[56 + ATTR_LEN.0..][..4].copy_from_slice(&u32::to_le_bytes(0));
        assert_eq!(name(&rec), None);
    }
}
