//! exFAT (libblkid `exfat.c`). The label is not in the boot sector but in a
//! directory entry of the root directory, found by walking its cluster chain.
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Bytes, Fields, Le32, U8};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

pub static EXFAT: Prober = Prober {
    name: "exfat",
    usage: Usage::Filesystem,
    magics: &[Magic { bytes: b"EXFAT   ", kboff: 0, sboff: 3 }],
    probe,
    ..Prober::BASE
};

// Boot sector fields.
layout! { SB_LEN = 113;
    FAT_BLOCK_START: Le32 = 80;
    CLUSTER_BLOCK_START: Le32 = 88;
    ROOTDIR_CLUSTER: Le32 = 96;
    VOLUME_SERIAL: Bytes<4> = 100;
    VERMIN: U8 = 104;
    VERMAJ: U8 = 105;
    BLOCK_BITS: U8 = 108;
    BPC_BITS: U8 = 109;
}

const FIRST_DATA_CLUSTER: u32 = 2;
const LAST_DATA_CLUSTER: u32 = 0x0fff_fff6;
const ENTRY_LEN: u64 = 32;
const ENTRY_EOD: u8 = 0x00;
const ENTRY_LABEL: u8 = 0x83;
/// The label entry: type, length in UTF-16 units, then up to 11 units.
const LABEL_NAME: usize = 2;
const LABEL_MAX: usize = 22;
/// Bound on the directory walk (libblkid's `max_iter`), so cyclic chains end.
const MAX_ENTRIES: usize = 10_000;

/// The shifts as the x86 and ARM instructions libblkid compiles to do them:
/// counts taken modulo the width, so corrupt values give what blkid gives.
struct Geometry {
    block_bits: u32,
    bpc_bits: u32,
    fat_block_start: u32,
    cluster_block_start: u32,
}

impl Geometry {
    fn block_size(&self) -> u32 {
        1u32.wrapping_shl(self.block_bits)
    }

    fn cluster_size(&self) -> u32 {
        self.block_size().wrapping_shl(self.bpc_bits)
    }

    fn block_to_offset(&self, block: u64) -> u64 {
        block.wrapping_shl(self.block_bits)
    }

    fn cluster_to_offset(&self, cluster: u32) -> u64 {
        let rel = u64::from(cluster.wrapping_sub(FIRST_DATA_CLUSTER)).wrapping_shl(self.bpc_bits);
        self.block_to_offset(u64::from(self.cluster_block_start).wrapping_add(rel))
    }

    /// The FAT entry of `cluster`, 0 (end of the walk) when unreadable.
    fn next_cluster(&self, ctx: &mut Ctx, cluster: u32) -> io::Result<u32> {
        let off = self.block_to_offset(u64::from(self.fat_block_start)).wrapping_add(u64::from(cluster) * 4);
        Ok(ctx.read_opt(off, 4)?.map_or(0, |b| b.at(Le32(0))))
    }
}

/// The volume label entry of the root directory (libblkid's `find_label`).
fn find_label(ctx: &mut Ctx, geo: &Geometry, root: u32) -> io::Result<Option<Vec<u8>>> {
    let mut cluster = root;
    let mut offset = geo.cluster_to_offset(cluster);
    let cluster_size = u64::from(geo.cluster_size());
    for _ in 0..MAX_ENTRIES {
        let Some(entry) = ctx.read_opt(offset, ENTRY_LEN as usize)? else { return Ok(None) };
        match entry[0] {
            ENTRY_EOD => return Ok(None),
            ENTRY_LABEL => return Ok(Some(entry)),
            _ => {}
        }
        offset = offset.wrapping_add(ENTRY_LEN);
        if offset % cluster_size == 0 {
            cluster = geo.next_cluster(ctx, cluster)?;
            if !(FIRST_DATA_CLUSTER..=LAST_DATA_CLUSTER).contains(&cluster) {
                return Ok(None);
            }
            offset = geo.cluster_to_offset(cluster);
        }
    }
    Ok(None)
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let sb = ctx.read(0, SB_LEN)?;
    let geo = Geometry {
        block_bits: u32::from(sb.at(BLOCK_BITS)),
        bpc_bits: u32::from(sb.at(BPC_BITS)),
        fat_block_start: sb.at(FAT_BLOCK_START),
        cluster_block_start: sb.at(CLUSTER_BLOCK_START),
    };
    if geo.cluster_size() == 0 {
        return Ok(false);
    }
    if let Some(entry) = find_label(ctx, &geo, sb.at(ROOTDIR_CLUSTER))? {
        let len = (usize::from(entry[1]) * 2).min(LABEL_MAX);
        ctx.set_utf16_label(&entry[LABEL_NAME..LABEL_NAME + len], false);
    }
    let s = sb.at(VOLUME_SERIAL);
    ctx.set_uuid_formatted(&s, format!("{:02X}{:02X}-{:02X}{:02X}", s[3], s[2], s[1], s[0]));
    ctx.set_version(format!("{}.{}", sb.at(VERMAJ), sb.at(VERMIN)));
    ctx.set_block_size(u64::from(geo.block_size()));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{Reader, Tag};

    /// 512-byte blocks, 1-block clusters, FAT at block 1, clusters from block 2,
    /// root directory in cluster `root`; the FAT chains every cluster to itself.
    fn image(root: u32, label_at: Option<u32>) -> Vec<u8> {
        let mut img = vec![0u8; 64 * 512];
        img[3..11].copy_from_slice(b"EXFAT   ");
        img[FAT_BLOCK_START.0..][..4].copy_from_slice(&u32::to_le_bytes(1));
        img[CLUSTER_BLOCK_START.0..][..4].copy_from_slice(&u32::to_le_bytes(2));
        img[ROOTDIR_CLUSTER.0..][..4].copy_from_slice(&u32::to_le_bytes(root));
        img[VOLUME_SERIAL.0..VOLUME_SERIAL.0 + 4].copy_from_slice(&[0x78, 0x56, 0x34, 0x12]);
        img[VERMAJ.0] = 1;
        img[BLOCK_BITS.0] = 9;
        for c in 2..60u32 {
            let fat = 512 + c as usize * 4;
            img[fat..][..4].copy_from_slice(&u32::to_le_bytes(c));
        }
        for c in 2..60usize {
            let dir = (c * 512)..((c + 1) * 512);
            for e in img[dir].chunks_exact_mut(32) {
                e[0] = 0x85; // a file entry, not the label
            }
        }
        if let Some(c) = label_at {
            let e = c as usize * 512 + 64;
            img[e] = ENTRY_LABEL;
            img[e + 1] = 2;
            img[e + 2..e + 6].copy_from_slice(&[b'o', 0, b'k', 0]);
        }
        img
    }

    fn run(img: Vec<u8>) -> Vec<Tag> {
        let mut r = Reader::from_bytes(img);
        let mut ctx = Ctx::new(&mut r, EXFAT.magics.first());
        assert!(probe(&mut ctx).unwrap());
        ctx.into_tags()
    }

    #[test]
    fn label_serial_version() {
        let tags = run(image(4, Some(4)));
        let want: [(&str, &[u8]); 4] =
            [("LABEL", b"ok"), ("UUID", b"1234-5678"), ("VERSION", b"1.0"), ("BLOCK_SIZE", b"512")];
        let got: Vec<_> = tags.iter().map(|t| (t.name, t.value.as_slice())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn cyclic_root_chain_ends() {
        // Cluster 4 points to itself and holds no label: the walk must stop.
        let tags = run(image(4, None));
        assert!(tags.iter().all(|t| t.name != "LABEL"));
    }
}
