//! Apple HFS and HFS+ (util-linux `hfs.c`).
//!
//! Both start with a volume header 1 KiB into the device. An HFS+ volume may
//! be wrapped in an HFS one ("BD" with an embedded "H+" signature), which is
//! then HFS+ and not HFS. The HFS+ label is the name of the root folder's
//! thread record: the first record of the catalog B-tree's first leaf node.

use crate::probe::field::{layout, Be16, Be32, Bytes, Fields, U8};
use crate::probe::{Ctx, Encoding, Magic, Prober, Usage};
use std::io;

pub static HFS: Prober = Prober {
    name: "hfs",
    usage: Usage::Filesystem,
    tolerant: true,
    magics: &[Magic { bytes: b"BD", kboff: 1, sboff: 0 }],
    probe: probe_hfs,
    ..Prober::BASE
};

pub static HFSPLUS: Prober = Prober {
    name: "hfsplus",
    usage: Usage::Filesystem,
    magics: &[
        Magic { bytes: b"BD", kboff: 1, sboff: 0 },
        Magic { bytes: b"H+", kboff: 1, sboff: 0 },
        Magic { bytes: b"HX", kboff: 1, sboff: 0 },
    ],
    probe: probe_hfsplus,
    ..Prober::BASE
};

const SB_OFFSET: u64 = 1024;

// HFS master directory block.
layout! { MDB_LEN = 130;
    MDB_SIG: Bytes<2> = 0;
    MDB_AL_BLK_SIZE: Be32 = 20;
    MDB_AL_BL_ST: Be16 = 28;
    MDB_LABEL_LEN: U8 = 36;
    /// At most 27 bytes of it are the name.
    MDB_LABEL: Bytes<27> = 37;
    MDB_FINDER_ID: Bytes<8> = 116;
    MDB_EMBED_SIG: Bytes<2> = 124;
    MDB_EMBED_START: Be16 = 126;
}

// HFS+ volume header.
layout! { VH_LEN = 512;
    VH_SIG: Bytes<2> = 0;
    VH_FINDER_ID: Bytes<8> = 104;
    VH_BLOCKSIZE: Be32 = 40;
    /// Eight (start block, block count) pairs.
    VH_CAT_EXTENTS: Bytes<64> = 288;
}
const EXTENT_COUNT: usize = 8;

// Catalog B-tree: node descriptor, then the header record.
const NODE_DESC_LEN: usize = 14;
layout! { CATALOG_HEAD_READ = 0x2000;
    HDR_LEAF_COUNT: Be32 = NODE_DESC_LEN + 6;
    HDR_LEAF_HEAD: Be32 = NODE_DESC_LEN + 10;
    HDR_NODE_SIZE: Be16 = NODE_DESC_LEN + 18;
}
/// Catalog key: length, parent id, name length, up to 255 UTF-16BE units.
const KEY_LEN: usize = 8 + 255 * 2;
// A leaf node: its descriptor and first key; a node is at least this long.
layout! { NODE_MIN_LEN = NODE_DESC_LEN + KEY_LEN;
    NODE_TYPE: U8 = 8;
    NODE_NUM_RECS: Be16 = 10;
    KEY_PARENT: Be32 = NODE_DESC_LEN + 2;
    KEY_NAME_LEN: Be16 = NODE_DESC_LEN + 6;
}
const KEY_NAME: usize = NODE_DESC_LEN + 8;
const LEAF_NODE: u8 = 0xff;
/// The root folder's parent.
const ROOT_PARENT_ID: u32 = 1;

fn is_hfsplus_sig(sig: &[u8]) -> bool {
    sig == b"H+" || sig == b"HX"
}

fn probe_hfs(ctx: &mut Ctx) -> io::Result<bool> {
    let mdb = ctx.read(SB_OFFSET, MDB_LEN)?;
    if is_hfsplus_sig(&mdb.at(MDB_EMBED_SIG)) {
        return Ok(false);
    }
    let alloc = mdb.at(MDB_AL_BLK_SIZE);
    if alloc == 0 || alloc % 512 != 0 {
        return Ok(false);
    }
    set_uuid(ctx, &mdb.at(MDB_FINDER_ID));
    let label = mdb.slice(MDB_LABEL);
    ctx.set_label(&label[..usize::from(mdb.at(MDB_LABEL_LEN)).min(label.len())]);
    Ok(true)
}

fn probe_hfsplus(ctx: &mut Ctx) -> io::Result<bool> {
    let mdb = ctx.read(SB_OFFSET, MDB_LEN)?;
    // u32 arithmetic, wrapping, as in libblkid.
    let mut off: u32 = 0;
    if &mdb.at(MDB_SIG) == b"BD" {
        if !is_hfsplus_sig(&mdb.at(MDB_EMBED_SIG)) {
            return Ok(false);
        }
        let alloc = mdb.at(MDB_AL_BLK_SIZE);
        let first = u32::from(mdb.at(MDB_AL_BL_ST));
        let embed = u32::from(mdb.at(MDB_EMBED_START));
        off = first.wrapping_mul(512).wrapping_add(embed.wrapping_mul(alloc));
    }
    let off = u64::from(off);
    let vh = ctx.read(off + SB_OFFSET, VH_LEN)?;
    if !is_hfsplus_sig(&vh.at(VH_SIG)) {
        return Ok(false);
    }
    set_uuid(ctx, &vh.at(VH_FINDER_ID));
    let blocksize = vh.at(VH_BLOCKSIZE);
    if blocksize < 512 {
        return Ok(false);
    }
    ctx.set_block_size(u64::from(blocksize));
    // From here on, whatever is wrong only costs the label.
    let ext = vh.slice(VH_CAT_EXTENTS);
    let extents: Vec<(u32, u32)> = (0..EXTENT_COUNT).map(|i| (ext.at(Be32(8 * i)), ext.at(Be32(8 * i + 4)))).collect();
    if let Some(label) = catalog_root_name(ctx, off, blocksize, &extents)? {
        ctx.set_encoded_label(&label, Encoding::Utf16Be);
    }
    Ok(true)
}

/// The root folder's name from the first catalog leaf node, if it can be
/// reached; reads past the end of the device just mean no label.
fn catalog_root_name(ctx: &mut Ctx, off: u64, blocksize: u32, extents: &[(u32, u32)]) -> io::Result<Option<Vec<u8>>> {
    let bs = u64::from(blocksize);
    let head = match ctx.read(off + u64::from(extents[0].0) * bs, CATALOG_HEAD_READ) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    };
    let (leaf_head, node_size, leaf_count) = (head.at(HDR_LEAF_HEAD), head.at(HDR_NODE_SIZE), head.at(HDR_LEAF_COUNT));
    if usize::from(node_size) < NODE_MIN_LEN || leaf_count == 0 {
        return Ok(None);
    }
    // Which allocation block of the catalog file holds the node (u32, as libblkid).
    let mut leaf_block = leaf_head.wrapping_mul(u32::from(node_size)) / blocksize;
    let mut start = None;
    for &(ext_start, ext_count) in extents {
        if ext_count == 0 {
            return Ok(None);
        }
        if leaf_block < ext_count {
            start = Some(ext_start);
            break;
        }
        leaf_block -= ext_count;
    }
    let Some(start) = start else { return Ok(None) };
    let leaf_off = (u64::from(start) + u64::from(leaf_block)) * bs;
    let node = match ctx.read(off + leaf_off, usize::from(node_size)) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    };
    if node.at(NODE_NUM_RECS) == 0 || node.at(NODE_TYPE) != LEAF_NODE {
        return Ok(None);
    }
    let name_len = usize::from(node.at(KEY_NAME_LEN));
    if node.at(KEY_PARENT) != ROOT_PARENT_ID || name_len > 255 {
        return Ok(None);
    }
    Ok(Some(node[KEY_NAME..KEY_NAME + name_len * 2].to_vec()))
}

/// HFS has no UUID; like Mac OS X, libblkid derives a version-3 one (RFC
/// 4122: MD5 of a namespace and a name) from the 64-bit volume id in the
/// Finder info, with Apple's fixed namespace.
fn set_uuid(ctx: &mut Ctx, id: &[u8]) {
    const NAMESPACE: uuid::Uuid = uuid::Uuid::from_bytes([
        0xb3, 0xe2, 0x0f, 0x39, 0xf2, 0x92, 0x11, 0xd6, 0x97, 0xa4, 0x00, 0x30, 0x65, 0x43, 0xec, 0xac,
    ]);
    if id.iter().all(|&b| b == 0) {
        return;
    }
    ctx.set_uuid(uuid::Uuid::new_v3(&NAMESPACE, id).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Reader;

    #[test]
    fn uuid_from_the_volume_id() {
        // MD5 of the namespace and the id, version 3 and variant bits set
        // (computed independently with Python's hashlib).
        let mut r = Reader::from_bytes(Vec::new());
        let mut ctx = Ctx::new(&mut r, None);
        set_uuid(&mut ctx, &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(ctx.tags()[0].value, b"6095e009-5132-3fc5-87c2-d5a01745283e");
        let mut ctx = Ctx::new(&mut r, None);
        set_uuid(&mut ctx, &[0; 8]);
        assert!(ctx.tags().is_empty());
    }

    #[test]
    fn embedded_hfsplus_is_not_hfs() {
        let mut img = vec![0u8; 4096];
        img[1024..1026].copy_from_slice(b"BD");
        img[1024 + MDB_AL_BLK_SIZE.0 + 2] = 2; // 512
        let mut r = Reader::from_bytes(img.clone());
        assert!(probe_hfs(&mut Ctx::new(&mut r, None)).unwrap());
        img[1024 + MDB_EMBED_SIG.0..1024 + MDB_EMBED_SIG.0 + 2].copy_from_slice(b"H+");
        let mut r = Reader::from_bytes(img);
        assert!(!probe_hfs(&mut Ctx::new(&mut r, None)).unwrap());
    }
}
