//! FAT12, FAT16 and FAT32 (libblkid `vfat.c`).
//!
//! The boot sector has no single reliable magic, so libblkid accepts one of
//! several file-system-type strings or merely a jump opcode or the 0x55AA
//! signature, then rejects boot sectors whose BIOS parameter block is not
//! plausible. The label a user sees is the volume-label entry of the root
//! directory; the boot sector's copy is reported as `LABEL_FATBOOT`.
#![forbid(unsafe_code)]

use crate::probe::reader::MAX_READ;
use crate::probe::{find_magic, Ctx, Magic, Prober, Reader, Usage};
use byteorder::{ByteOrder, LittleEndian as LE};
use std::io;

pub static VFAT: Prober = Prober {
    name: "vfat",
    usage: Usage::Filesystem,
    tolerant: false,
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
};

// BIOS parameter block, common to all FAT variants.
const BS_LEN: usize = 512;
const SECTOR_SIZE: usize = 0x0b;
const CLUSTER_SIZE: usize = 0x0d;
const RESERVED: usize = 0x0e;
const FATS: usize = 0x10;
const DIR_ENTRIES: usize = 0x11;
const SECTORS: usize = 0x13;
const MEDIA: usize = 0x15;
const FAT_LENGTH: usize = 0x16;
const TOTAL_SECT: usize = 0x20;
// FAT12/16 extended BPB.
const MS_EXT_BOOT_SIGN: usize = 0x26;
const MS_SERNO: usize = 0x27;
const MS_LABEL: usize = 0x2b;
const MS_MAGIC: usize = 0x36;
// FAT32 BPB and extended BPB.
const FAT32_LENGTH: usize = 0x24;
const ROOT_CLUSTER: usize = 0x2c;
const FSINFO_SECTOR: usize = 0x30;
const VS_EXT_BOOT_SIGN: usize = 0x42;
const VS_SERNO: usize = 0x43;
const VS_LABEL: usize = 0x47;
const PMAGIC: usize = 0x1fe;

const LABEL_LEN: usize = 11;
/// Extended boot signature: 0x29 has serial, label and type; 0x28 only the serial.
const EBPB_FULL: u8 = 0x29;
const EBPB_SERIAL_ONLY: u8 = 0x28;
const NO_NAME: &[u8; LABEL_LEN] = b"NO NAME    ";

// Directory entries.
const DIR_ENTRY_LEN: u64 = 32;
/// How much of a root directory to read at a time while looking for the label.
const DIR_CHUNK: u64 = 512;
const ENT_ATTR: usize = 11;
const ENT_CLUSTER_HIGH: usize = 20;
const ENT_CLUSTER_LOW: usize = 26;
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

const FSINFO_LEN: usize = 512;
const FSINFO_SIG2: usize = 484;

fn le16(b: &[u8], off: usize) -> u32 {
    u32::from(LE::read_u16(&b[off..]))
}

fn le32(b: &[u8], off: usize) -> u32 {
    LE::read_u32(&b[off..])
}

/// What the validity check computes and the label search needs.
struct Geometry {
    cluster_count: u32,
    fat_size: u32,
}

/// The BIOS parameter block checks of libblkid's `fat_valid_superblock`. The
/// arithmetic wraps at 32 bits as libblkid's does, so that nonsense values are
/// rejected (or accepted) the same way.
fn valid_superblock(reader: &mut Reader, magic_len: usize, bs: &[u8]) -> Option<Geometry> {
    if magic_len <= 2 {
        if bs[PMAGIC..PMAGIC + 2] != [0x55, 0xaa] {
            return None;
        }
        // OS/2 and DFSee put a FAT-like boot sector in front of JFS and HPFS.
        let fstype = &bs[MS_MAGIC..MS_MAGIC + 8];
        if fstype == b"JFS     " || fstype == b"HPFS    " {
            return None;
        }
    }
    let fats = u32::from(bs[FATS]);
    let reserved = le16(bs, RESERVED);
    let media = bs[MEDIA];
    let cluster_size = u32::from(bs[CLUSTER_SIZE]);
    let sector_size = le16(bs, SECTOR_SIZE);
    if fats == 0 || reserved == 0 || !(media >= 0xf8 || media == 0xf0) || !cluster_size.is_power_of_two() {
        return None;
    }
    if !sector_size.is_power_of_two() || !(512..=4096).contains(&sector_size) {
        return None;
    }
    let dir_entries = le16(bs, DIR_ENTRIES);
    let mut sect_count = le16(bs, SECTORS);
    if sect_count == 0 {
        sect_count = le32(bs, TOTAL_SECT);
    }
    let fat16_length = le16(bs, FAT_LENGTH);
    let fat32_length = le32(bs, FAT32_LENGTH);
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
        let attr = ent[ENT_ATTR];
        let has_cluster = ent[ENT_CLUSTER_HIGH..ENT_CLUSTER_HIGH + 2] != [0, 0]
            || ent[ENT_CLUSTER_LOW..ENT_CLUSTER_LOW + 2] != [0, 0];
        if ent[0] == ENTRY_FREE || has_cluster || attr & ATTR_MASK == ATTR_LONG_NAME {
            continue;
        }
        if attr & (ATTR_VOLUME_ID | ATTR_DIR) == ATTR_VOLUME_ID {
            let mut name = [0u8; LABEL_LEN];
            name.copy_from_slice(&ent[..LABEL_LEN]);
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
    let cluster_size = u32::from(bs[CLUSTER_SIZE]);
    let cluster_bytes = cluster_size * sector_size;
    let data_start = reserved.wrapping_add(geo.fat_size);
    let fat_entries = (u64::from(le32(bs, FAT32_LENGTH)) * u64::from(sector_size) / 4) as u32;
    let mut next = le32(bs, ROOT_CLUSTER);
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
            Some(buf) => next = le32(&buf, 0) & 0x0fff_ffff,
            None => break,
        }
    }
    Ok(None)
}

/// Whether the FAT32 FS information sector carries its signatures, or none at
/// all (some formatters leave it zeroed).
fn fsinfo_ok(fsinfo: &[u8]) -> bool {
    let sig1 = &fsinfo[..4];
    let sig2 = &fsinfo[FSINFO_SIG2..FSINFO_SIG2 + 4];
    (sig1 == b"RRaA" || sig1 == b"RRdA" || sig1 == [0; 4]) && (sig2 == b"rrAa" || sig2 == [0; 4])
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let bs = ctx.read(0, BS_LEN)?;
    let magic_len = ctx.magic.map_or(0, |m| m.bytes.len());
    let Some(geo) = valid_superblock(ctx.reader, magic_len, &bs) else { return Ok(false) };
    let sector_size = le16(&bs, SECTOR_SIZE);
    let reserved = le16(&bs, RESERVED);

    let mut vol_label = None;
    let mut boot_label = None;
    let mut serial = None;
    let mut version = None;
    if le16(&bs, FAT_LENGTH) != 0 {
        let root_start = reserved.wrapping_add(geo.fat_size).wrapping_mul(sector_size);
        vol_label = search_label(ctx, u64::from(root_start), le16(&bs, DIR_ENTRIES))?;
        let ebpb = bs[MS_EXT_BOOT_SIGN];
        if ebpb == EBPB_FULL {
            boot_label = Some(&bs[MS_LABEL..MS_LABEL + LABEL_LEN]);
        }
        if ebpb == EBPB_FULL || ebpb == EBPB_SERIAL_ONLY {
            serial = Some(&bs[MS_SERNO..MS_SERNO + 4]);
        }
        ctx.set("SEC_TYPE", "msdos");
        if geo.cluster_count < FAT12_MAX {
            version = Some("FAT12");
        } else if geo.cluster_count < FAT16_MAX {
            version = Some("FAT16");
        }
    } else if le32(&bs, FAT32_LENGTH) != 0 {
        vol_label = search_fat32_label(ctx, &bs, &geo)?;
        version = Some("FAT32");
        if bs[VS_EXT_BOOT_SIGN] == EBPB_FULL {
            boot_label = Some(&bs[VS_LABEL..VS_LABEL + LABEL_LEN]);
        }
        serial = Some(&bs[VS_SERNO..VS_SERNO + 4]);
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
        ctx.set_id_label("LABEL_FATBOOT", l);
    }
    if let Some(l) = vol_label {
        ctx.set_label(&l);
    }
    if let Some(s) = serial {
        ctx.set_uuid_formatted(s, format!("{:02X}{:02X}-{:02X}{:02X}", s[3], s[2], s[1], s[0]));
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
    let bs = match reader.read(0, BS_LEN) {
        Ok(bs) => bs,
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
        Err(e) => return Err(e),
    };
    Ok(valid_superblock(reader, magic.bytes.len(), &bs).is_some())
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
        img[SECTOR_SIZE..SECTOR_SIZE + 2].copy_from_slice(&512u16.to_le_bytes());
        img[CLUSTER_SIZE] = 1;
        img[RESERVED..RESERVED + 2].copy_from_slice(&1u16.to_le_bytes());
        img[FATS] = 2;
        img[DIR_ENTRIES..DIR_ENTRIES + 2].copy_from_slice(&16u16.to_le_bytes());
        img[SECTORS..SECTORS + 2].copy_from_slice(&2048u16.to_le_bytes());
        img[MEDIA] = 0xf8;
        img[FAT_LENGTH..FAT_LENGTH + 2].copy_from_slice(&1u16.to_le_bytes());
        img[MS_EXT_BOOT_SIGN] = EBPB_FULL;
        img[MS_SERNO..MS_SERNO + 4].copy_from_slice(&[0xcd, 0xab, 0x34, 0x12]);
        img[MS_LABEL..MS_LABEL + 11].copy_from_slice(b"  BOOT     ");
        img[MS_MAGIC..MS_MAGIC + 8].copy_from_slice(b"FAT16   ");
        img[PMAGIC] = 0x55;
        img[PMAGIC + 1] = 0xaa;
        if let Some(l) = label_entry {
            let root = 3 * 512;
            img[root..root + 11].copy_from_slice(l);
            img[root + ENT_ATTR] = ATTR_VOLUME_ID;
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
        img[MS_LABEL..MS_LABEL + 11].copy_from_slice(NO_NAME);
        img[MS_SERNO..MS_SERNO + 4].fill(0);
        let tags = run(img).unwrap();
        assert_eq!(get(&tags, "LABEL_FATBOOT"), None);
        assert_eq!(get(&tags, "LABEL"), None);
        assert_eq!(get(&tags, "UUID"), None);
    }

    #[test]
    fn implausible_boot_sectors_are_rejected() {
        let breakers: [fn(&mut Vec<u8>); 5] = [
            |i| i[FATS] = 0,
            |i| i[MEDIA] = 0x12,
            |i| i[CLUSTER_SIZE] = 3,
            |i| i[SECTOR_SIZE..SECTOR_SIZE + 2].copy_from_slice(&256u16.to_le_bytes()),
            |i| i[RESERVED..RESERVED + 2].fill(0),
        ];
        for brk in breakers {
            let mut img = small_fat(None);
            brk(&mut img);
            assert!(run(img).is_none());
        }
        // Without a type string, a JFS pseudo boot sector is not FAT.
        let mut img = small_fat(None);
        img[MS_MAGIC..MS_MAGIC + 8].copy_from_slice(b"JFS     ");
        assert!(run(img).is_none());
    }

    #[test]
    fn bitlocker_boot_sector_is_not_fat() {
        let mut img = small_fat(None);
        img[..11].copy_from_slice(b"\xeb\x52\x90-FVE-FS-");
        assert!(run(img).is_none());
    }
}
