//! FAT12, FAT16 and FAT32 (libblkid `vfat.c`).
//!
//! The boot sector has no single reliable magic, so libblkid accepts one of
//! several file-system-type strings or merely a jump opcode or the 0x55AA
//! signature, then rejects boot sectors whose BIOS parameter block is not
//! plausible. The label a user sees is the volume-label entry of the root
//! directory; the boot sector's copy is reported as `LABEL_FATBOOT`.
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Bytes, Fields, Le16, Le32, U8};
use crate::probe::reader::MAX_READ;
use crate::probe::{find_magic, Ctx, Magic, Prober, Reader, Usage};
use std::io;

pub static VFAT: Prober = Prober {
    name: "vfat",
    usage: Usage::Filesystem,
    magics: &[
        Magic { bytes: b"MSWIN", kboff: 0, sboff: 0x52 },
        Magic { bytes: b"FAT32   ", kboff: 0, sboff: 0x52 },
        Magic { bytes: b"MSDOS", kboff: 0, sboff: 0x36 },
        Magic { bytes: b"FAT16   ", kboff: 0, sboff: 0x36 },
        Magic { bytes: b"FAT12   ", kboff: 0, sboff: 0x36 },
        Magic { bytes: b"FAT     ", kboff: 0, sboff: 0x36 },
        // x86 jump opcodes and the MBR signature: old floppies carry nothing else.
        Magic { bytes: b"\xeb", kboff: 0, sboff: 0 },
        Magic { bytes: b"\xe9", kboff: 0, sboff: 0 },
        Magic { bytes: b"\x55\xaa", kboff: 0, sboff: 0x1fe },
    ],
    probe,
    ..Prober::BASE
};

const LABEL_LEN: usize = 11;
// The boot sector: the BIOS parameter block common to all FAT variants, the
// FAT12/16 extended BPB (MS_) and the FAT32 BPB and extended BPB (VS_).
layout! { BS_LEN = 512;
    SECTOR_SIZE: Le16 = 0x0b;
    CLUSTER_SIZE: U8 = 0x0d;
    RESERVED: Le16 = 0x0e;
    FATS: U8 = 0x10;
    DIR_ENTRIES: Le16 = 0x11;
    SECTORS: Le16 = 0x13;
    MEDIA: U8 = 0x15;
    FAT_LENGTH: Le16 = 0x16;
    TOTAL_SECT: Le32 = 0x20;
    MS_EXT_BOOT_SIGN: U8 = 0x26;
    MS_SERNO: Bytes<4> = 0x27;
    MS_LABEL: Bytes<LABEL_LEN> = 0x2b;
    MS_MAGIC: Bytes<8> = 0x36;
    FAT32_LENGTH: Le32 = 0x24;
    ROOT_CLUSTER: Le32 = 0x2c;
    FSINFO_SECTOR: Le16 = 0x30;
    VS_EXT_BOOT_SIGN: U8 = 0x42;
    VS_SERNO: Bytes<4> = 0x43;
    VS_LABEL: Bytes<LABEL_LEN> = 0x47;
    PMAGIC: Bytes<2> = 0x1fe;
}
/// Extended boot signature: 0x29 has serial, label and type; 0x28 only the serial.
const EBPB_FULL: u8 = 0x29;
const EBPB_SERIAL_ONLY: u8 = 0x28;
const NO_NAME: &[u8; LABEL_LEN] = b"NO NAME    ";

// Directory entries.
const DIR_ENTRY_LEN: u64 = 32;
/// How much of a root directory to read at a time while looking for the label.
const DIR_CHUNK: u64 = 512;
layout! { ENT_LEN = DIR_ENTRY_LEN as usize;
    ENT_NAME: Bytes<LABEL_LEN> = 0;
    ENT_ATTR: U8 = 11;
    ENT_CLUSTER_HIGH: Bytes<2> = 20;
    ENT_CLUSTER_LOW: Bytes<2> = 26;
}
const ATTR_VOLUME_ID: u8 = 0x08;
const ATTR_DIR: u8 = 0x10;
const ATTR_LONG_NAME: u8 = 0x0f;
const ATTR_MASK: u8 = 0x3f;
const ENTRY_FREE: u8 = 0xe5;
/// A name starting with 0xE5 is stored as 0x05, since 0xE5 marks a free entry.
const ENTRY_KANJI_E5: u8 = 0x05;

// Highest cluster counts; beyond them the FAT type is a different one.
const FAT12_MAX: u32 = 0xff4;
const FAT16_MAX: u32 = 0xfff4;
const FAT32_MAX: u32 = 0x0fff_fff6;

/// libblkid reads the root directory entry by entry on devices this small
/// (`BLKID_FL_TINY_DEV`), and all at once otherwise: a directory that runs past
/// the end of the device still yields its readable entries only on small ones.
const TINY_DEVICE: u64 = 1440 * 1024;
/// Bound on the FAT32 root directory cluster chain (libblkid's `maxloop`).
const MAX_ROOT_CLUSTERS: usize = 99;

layout! { FSINFO_LEN = 512;
    FSINFO_SIG1: Bytes<4> = 0;
    FSINFO_SIG2: Bytes<4> = 484;
}

/// A 16-bit field, widened for libblkid's 32-bit arithmetic.
fn le16(b: &[u8], f: Le16) -> u32 {
    u32::from(b.at(f))
}

/// What the validity check computes and the label search needs.
struct Geometry {
    cluster_count: u32,
    fat_size: u32,
}

/// The BIOS parameter block's first fields, from the sector size to the media
/// byte: what [`valid_superblock`] checks first.
const BPB_HEAD: (usize, usize) = (SECTOR_SIZE.0, MEDIA.0 + 1);

/// libblkid's first checks of the fields in [`BPB_HEAD`]: some FATs, a
/// reserved sector, a known media byte, power-of-two cluster and sector
/// sizes, sectors of 512 to 4096 bytes.
fn plausible_head(bs: &[u8]) -> bool {
    let (fats, reserved, media) = (bs.at(FATS), le16(bs, RESERVED), bs.at(MEDIA));
    let (cluster_size, sector_size) = (u32::from(bs.at(CLUSTER_SIZE)), le16(bs, SECTOR_SIZE));
    fats != 0
        && reserved != 0
        && (media >= 0xf8 || media == 0xf0)
        && cluster_size.is_power_of_two()
        && sector_size.is_power_of_two()
        && (512..=4096).contains(&sector_size)
}

/// Whether the fields in [`BPB_HEAD`] already rule a FAT boot sector out:
/// then the sector need not be read whole.
fn ruled_out(reader: &mut Reader) -> io::Result<bool> {
    let (from, to) = BPB_HEAD;
    let mut bs = vec![0u8; to];
    bs[from..].copy_from_slice(&reader.read(from as u64, to - from)?);
    Ok(!plausible_head(&bs))
}

/// The BIOS parameter block checks of libblkid's `fat_valid_superblock`. The
/// arithmetic wraps at 32 bits as libblkid's does, so that nonsense values are
/// rejected (or accepted) the same way.
fn valid_superblock(reader: &mut Reader, magic_len: usize, bs: &[u8]) -> Option<Geometry> {
    if magic_len <= 2 {
        if bs.at(PMAGIC) != [0x55, 0xaa] {
            return None;
        }
        // OS/2 and DFSee put a FAT-like boot sector in front of JFS and HPFS.
        let fstype = bs.at(MS_MAGIC);
        if &fstype == b"JFS     " || &fstype == b"HPFS    " {
            return None;
        }
    }
    if !plausible_head(bs) {
        return None;
    }
    let fats = u32::from(bs.at(FATS));
    let reserved = le16(bs, RESERVED);
    let cluster_size = u32::from(bs.at(CLUSTER_SIZE));
    let sector_size = le16(bs, SECTOR_SIZE);
    let dir_entries = le16(bs, DIR_ENTRIES);
    let mut sect_count = le16(bs, SECTORS);
    if sect_count == 0 {
        sect_count = bs.at(TOTAL_SECT);
    }
    let fat16_length = le16(bs, FAT_LENGTH);
    let fat32_length = bs.at(FAT32_LENGTH);
    let fat_length = if fat16_length == 0 { fat32_length } else { fat16_length };
    let fat_size = fat_length.wrapping_mul(fats);
    let dir_size = (dir_entries * DIR_ENTRY_LEN as u32).div_ceil(sector_size);
    let cluster_count = sect_count.wrapping_sub(reserved.wrapping_add(fat_size).wrapping_add(dir_size)) / cluster_size;
    let max_count = if fat16_length == 0 && fat32_length != 0 {
        FAT32_MAX
    } else if cluster_count > FAT12_MAX {
        FAT16_MAX
    } else {
        FAT12_MAX
    };
    if cluster_count > max_count || super::bitlocker::is_bitlocker(reader) {
        return None;
    }
    Some(Geometry { cluster_count, fat_size })
}

/// The volume label entry among the first `entries` entries of the directory at
/// `offset`, as libblkid's `search_fat_label` finds it.
fn search_label(ctx: &mut Ctx, offset: u64, entries: u32) -> io::Result<Option<[u8; LABEL_LEN]>> {
    let tiny = ctx.reader.size() <= TINY_DEVICE;
    let total = u64::from(entries) * DIR_ENTRY_LEN;
    // libblkid reads the whole directory at once (entry by entry on tiny
    // devices) and finds no label when that read fails. The label is usually
    // the first entry, so read a sector's worth at a time, after the same check.
    if !tiny && (total as usize > MAX_READ || !ctx.reader.fits(offset, total)) {
        return Ok(None);
    }
    let mut chunk: (u64, Vec<u8>) = (0, Vec::new());
    for i in 0..u64::from(entries) {
        let Some(off) = offset.checked_add(i * DIR_ENTRY_LEN) else { break };
        let ent = if tiny {
            match ctx.read_opt(off, DIR_ENTRY_LEN as usize)? {
                Some(e) => e,
                None => break,
            }
        } else {
            if off >= chunk.0 + chunk.1.len() as u64 {
                let len = DIR_CHUNK.min(offset + total - off);
                chunk = (off, ctx.read(off, len as usize)?);
            }
            let at = (off - chunk.0) as usize;
            chunk.1[at..at + DIR_ENTRY_LEN as usize].to_vec()
        };
        if ent[0] == 0 {
            break;
        }
        let attr = ent.at(ENT_ATTR);
        let has_cluster = ent.at(ENT_CLUSTER_HIGH) != [0, 0] || ent.at(ENT_CLUSTER_LOW) != [0, 0];
        if ent[0] == ENTRY_FREE || has_cluster || attr & ATTR_MASK == ATTR_LONG_NAME {
            continue;
        }
        if attr & (ATTR_VOLUME_ID | ATTR_DIR) == ATTR_VOLUME_ID {
            let mut name = ent.at(ENT_NAME);
            if name[0] == ENTRY_KANJI_E5 {
                name[0] = ENTRY_FREE;
            }
            return Ok(Some(name));
        }
    }
    Ok(None)
}

/// Follow the FAT32 root directory's cluster chain (bounded, so a cyclic chain
/// ends) looking for the volume label entry.
fn search_fat32_label(ctx: &mut Ctx, bs: &[u8], geo: &Geometry) -> io::Result<Option<[u8; LABEL_LEN]>> {
    let sector_size = le16(bs, SECTOR_SIZE);
    let reserved = le16(bs, RESERVED);
    let cluster_size = u32::from(bs.at(CLUSTER_SIZE));
    let cluster_bytes = cluster_size * sector_size;
    let data_start = reserved.wrapping_add(geo.fat_size);
    let fat_entries = (u64::from(bs.at(FAT32_LENGTH)) * u64::from(sector_size) / 4) as u32;
    let mut next = bs.at(ROOT_CLUSTER);
    for _ in 0..MAX_ROOT_CLUSTERS {
        if next == 0 || next >= fat_entries {
            break;
        }
        let sector = data_start.wrapping_add(next.wrapping_sub(2).wrapping_mul(cluster_size));
        let off = u64::from(sector) * u64::from(sector_size);
        if let Some(label) = search_label(ctx, off, cluster_bytes / DIR_ENTRY_LEN as u32)? {
            return Ok(Some(label));
        }
        // libblkid reads a whole cluster's worth at the FAT entry: near the end
        // of the device that read fails and the walk stops.
        let fat_entry = u64::from(reserved) * u64::from(sector_size) + u64::from(next) * 4;
        match ctx.read_opt(fat_entry, cluster_bytes as usize)? {
            Some(buf) => next = buf.at(Le32(0)) & 0x0fff_ffff,
            None => break,
        }
    }
    Ok(None)
}

/// Whether the FAT32 FS information sector carries its signatures, or none at
/// all (some formatters leave it zeroed).
fn fsinfo_ok(fsinfo: &[u8]) -> bool {
    let (sig1, sig2) = (&fsinfo.at(FSINFO_SIG1), &fsinfo.at(FSINFO_SIG2));
    (sig1 == b"RRaA" || sig1 == b"RRdA" || sig1 == &[0; 4]) && (sig2 == b"rrAa" || sig2 == &[0; 4])
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let magic_len = ctx.magic.map_or(0, |m| m.bytes.len());
    let Some((bs, geo)) = boot_sector(ctx.reader, magic_len)? else { return Ok(false) };
    let sector_size = le16(&bs, SECTOR_SIZE);
    let reserved = le16(&bs, RESERVED);

    let mut vol_label = None;
    let mut boot_label = None;
    let mut serial = None;
    let mut version = None;
    if le16(&bs, FAT_LENGTH) != 0 {
        let root_start = reserved.wrapping_add(geo.fat_size).wrapping_mul(sector_size);
        vol_label = search_label(ctx, u64::from(root_start), le16(&bs, DIR_ENTRIES))?;
        let ebpb = bs.at(MS_EXT_BOOT_SIGN);
        if ebpb == EBPB_FULL {
            boot_label = Some(bs.at(MS_LABEL));
        }
        if ebpb == EBPB_FULL || ebpb == EBPB_SERIAL_ONLY {
            serial = Some(bs.at(MS_SERNO));
        }
        ctx.set("SEC_TYPE", "msdos");
        if geo.cluster_count < FAT12_MAX {
            version = Some("FAT12");
        } else if geo.cluster_count < FAT16_MAX {
            version = Some("FAT16");
        }
    } else if bs.at(FAT32_LENGTH) != 0 {
        vol_label = search_fat32_label(ctx, &bs, &geo)?;
        version = Some("FAT32");
        if bs.at(VS_EXT_BOOT_SIGN) == EBPB_FULL {
            boot_label = Some(bs.at(VS_LABEL));
        }
        serial = Some(bs.at(VS_SERNO));
        let fsinfo_sector = le16(&bs, FSINFO_SECTOR);
        if fsinfo_sector != 0 {
            let Some(fsinfo) = ctx.read_opt(u64::from(fsinfo_sector) * u64::from(sector_size), FSINFO_LEN)? else {
                return Ok(false);
            };
            if !fsinfo_ok(&fsinfo) {
                return Ok(false);
            }
        }
    }

    if let Some(l) = boot_label.filter(|l| l != NO_NAME) {
        ctx.set_id_label("LABEL_FATBOOT", &l);
    }
    if let Some(l) = vol_label {
        ctx.set_label(&l);
    }
    if let Some(s) = serial {
        ctx.set_uuid_formatted(&s, format!("{:02X}{:02X}-{:02X}{:02X}", s[3], s[2], s[1], s[0]));
    }
    if let Some(v) = version {
        ctx.set_version(v);
    }
    ctx.set_block_size(u64::from(sector_size));
    Ok(true)
}

/// Whether the device starts with a valid FAT boot sector, as libblkid's
/// `blkid_probe_is_vfat` decides for the DOS partition table parser (a FAT boot
/// sector carries 0x55AA too, and is not a partition table).
pub fn is_vfat(reader: &mut Reader) -> io::Result<bool> {
    let Some(magic) = find_magic(reader, &VFAT)? else { return Ok(false) };
    match boot_sector(reader, magic.bytes.len()) {
        Ok(found) => Ok(found.is_some()),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

/// The boot sector and what its checks computed, when the device starts with
/// a valid FAT boot sector (found by a magic `magic_len` bytes long).
fn boot_sector(reader: &mut Reader, magic_len: usize) -> io::Result<Option<(Vec<u8>, Geometry)>> {
    if !reader.fits(0, BS_LEN as u64) || ruled_out(reader)? {
        return Ok(None);
    }
    let bs = reader.read(0, BS_LEN)?;
    Ok(valid_superblock(reader, magic_len, &bs).map(|geo| (bs, geo)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Tag;

    /// A minimal FAT12/16-style image: 1 reserved sector, 2 FATs of 1 sector, 16 root
    /// entries, 2048 sectors of 512 bytes.
    fn small_fat(label_entry: Option<&[u8; 11]>) -> Vec<u8> {
        let mut img = vec![0u8; 2048 * 512];
        img[0] = 0xeb;
        img[SECTOR_SIZE.0..SECTOR_SIZE.0 + 2].copy_from_slice(&512u16.to_le_bytes());
        img[CLUSTER_SIZE.0] = 1;
        img[RESERVED.0..RESERVED.0 + 2].copy_from_slice(&1u16.to_le_bytes());
        img[FATS.0] = 2;
        img[DIR_ENTRIES.0..DIR_ENTRIES.0 + 2].copy_from_slice(&16u16.to_le_bytes());
        img[SECTORS.0..SECTORS.0 + 2].copy_from_slice(&2048u16.to_le_bytes());
        img[MEDIA.0] = 0xf8;
        img[FAT_LENGTH.0..FAT_LENGTH.0 + 2].copy_from_slice(&1u16.to_le_bytes());
        img[MS_EXT_BOOT_SIGN.0] = EBPB_FULL;
        img[MS_SERNO.0..MS_SERNO.0 + 4].copy_from_slice(&[0xcd, 0xab, 0x34, 0x12]);
        img[MS_LABEL.0..MS_LABEL.0 + 11].copy_from_slice(b"  BOOT     ");
        img[MS_MAGIC.0..MS_MAGIC.0 + 8].copy_from_slice(b"FAT16   ");
        img[PMAGIC.0] = 0x55;
        img[PMAGIC.0 + 1] = 0xaa;
        if let Some(l) = label_entry {
            let root = 3 * 512;
            img[root..root + 11].copy_from_slice(l);
            img[root + ENT_ATTR.0] = ATTR_VOLUME_ID;
        }
        img
    }

    fn run(img: Vec<u8>) -> Option<Vec<Tag>> {
        let mut r = Reader::from_bytes(img);
        let magic = find_magic(&mut r, &VFAT).unwrap();
        let mut ctx = Ctx::new(&mut r, magic);
        match probe(&mut ctx) {
            Ok(true) => Some(ctx.into_tags()),
            _ => None,
        }
    }

    fn get<'a>(tags: &'a [Tag], name: &str) -> Option<&'a [u8]> {
        tags.iter().find(|t| t.name == name).map(|t| t.value.as_slice())
    }

    #[test]
    fn fat_tags_in_libblkid_order() {
        let tags = run(small_fat(Some(b"\x05VOL       "))).unwrap();
        let names: Vec<_> = tags.iter().map(|t| t.name).collect();
        assert_eq!(names, ["SEC_TYPE", "LABEL_FATBOOT", "LABEL", "UUID", "VERSION", "BLOCK_SIZE"]);
        assert_eq!(get(&tags, "LABEL_FATBOOT"), Some(&b"BOOT"[..]));
        assert_eq!(get(&tags, "LABEL"), Some(&b"\xe5VOL"[..]));
        assert_eq!(get(&tags, "UUID"), Some(&b"1234-ABCD"[..]));
        assert_eq!(get(&tags, "VERSION"), Some(&b"FAT12"[..]));
    }

    #[test]
    fn no_name_boot_label_and_zero_serial_are_not_reported() {
        let mut img = small_fat(None);
        img[MS_LABEL.0..MS_LABEL.0 + 11].copy_from_slice(NO_NAME);
        img[MS_SERNO.0..MS_SERNO.0 + 4].fill(0);
        let tags = run(img).unwrap();
        assert_eq!(get(&tags, "LABEL_FATBOOT"), None);
        assert_eq!(get(&tags, "LABEL"), None);
        assert_eq!(get(&tags, "UUID"), None);
    }

    #[test]
    fn implausible_boot_sectors_are_rejected() {
        let breakers: [fn(&mut Vec<u8>); 5] = [
            |i| i[FATS.0] = 0,
            |i| i[MEDIA.0] = 0x12,
            |i| i[CLUSTER_SIZE.0] = 3,
            |i| i[SECTOR_SIZE.0..SECTOR_SIZE.0 + 2].copy_from_slice(&256u16.to_le_bytes()),
            |i| i[RESERVED.0..RESERVED.0 + 2].fill(0),
        ];
        for brk in breakers {
            let mut img = small_fat(None);
            brk(&mut img);
            assert!(run(img).is_none());
        }
        // Without a type string, a JFS pseudo boot sector is not FAT.
        let mut img = small_fat(None);
        img[MS_MAGIC.0..MS_MAGIC.0 + 8].copy_from_slice(b"JFS     ");
        assert!(run(img).is_none());
    }

    #[test]
    fn bitlocker_boot_sector_is_not_fat() {
        let mut img = small_fat(None);
        img[..11].copy_from_slice(b"\xeb\x52\x90-FVE-FS-");
        assert!(run(img).is_none());
    }
}
