//! Oracle Cluster File System 1 and 2, and Oracle ASM disks (libblkid `ocfs.c`).
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Bytes, Fields, Le16, Le32, Uuid};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

/// libblkid's `minsz` for OCFS 1 and 2.
const MIN_SIZE: u64 = 14000 * 1024;

pub static OCFS: Prober = Prober {
    name: "ocfs",
    usage: Usage::Filesystem,
    magics: &[Magic { bytes: b"OracleCFS", kboff: 8, sboff: 0 }],
    min_size: MIN_SIZE,
    probe: probe_ocfs,
    ..Prober::BASE
};

pub static OCFS2: Prober = Prober {
    name: "ocfs2",
    usage: Usage::Filesystem,
    magics: &[
        Magic { bytes: b"OCFSV2", kboff: 1, sboff: 0 },
        Magic { bytes: b"OCFSV2", kboff: 2, sboff: 0 },
        Magic { bytes: b"OCFSV2", kboff: 4, sboff: 0 },
        Magic { bytes: b"OCFSV2", kboff: 8, sboff: 0 },
    ],
    min_size: MIN_SIZE,
    probe: probe_ocfs2,
    ..Prober::BASE
};

pub static ORACLEASM: Prober = Prober {
    name: "oracleasm",
    usage: Usage::Filesystem,
    magics: &[Magic { bytes: b"ORCLDISK", kboff: 0, sboff: 32 }],
    probe: probe_oracleasm,
    ..Prober::BASE
};

// OCFS 1: a volume header, and 512 bytes after it a volume label.
layout! { HEADER_LEN = 266;
    MINOR: Le32 = 0;
    MAJOR: Le32 = 4;
    MOUNT: Bytes<128> = 136;
    MOUNT_LEN: Le16 = 264;
}
layout! { VOL_LABEL_LEN = 132;
    LABEL: Bytes<64> = 48;
    LABEL_LEN: Le16 = 112;
    VOL_ID: Uuid = 114;
}

// OCFS 2: the superblock inode.
layout! { SB2_LEN = 352;
    MAJOR_REV: Le16 = 192;
    MINOR_REV: Le16 = 194;
    BLOCKSIZE_BITS: Le32 = 248;
    LABEL2: Bytes<64> = 272;
    UUID2: Uuid = 336;
}

layout! { ASM_LEN = 64;
    ASM_ID: Bytes<24> = 40;
}

/// The magic's block (its `kboff`), where libblkid reads the superblock.
fn sb_offset(ctx: &Ctx) -> u64 {
    ctx.magic.map_or(0, |m| m.kboff * 1024)
}

fn probe_ocfs(ctx: &mut Ctx) -> io::Result<bool> {
    let off = sb_offset(ctx);
    let header = ctx.read(off, HEADER_LEN)?;
    let label = ctx.read(off + 512, VOL_LABEL_LEN)?;
    let (major, minor) = (header.at(MAJOR), header.at(MINOR));
    if major == 1 {
        ctx.set("SEC_TYPE", "ocfs1");
    } else if major >= 9 {
        ctx.set("SEC_TYPE", "ntocfs");
    }
    // The lengths are the disk's; libblkid copies that many bytes from its
    // copy of the record, so nothing past the record is used here.
    let tail = |rec: &[u8], from: usize, len: u16| rec[from..rec.len().min(from + usize::from(len))].to_vec();
    ctx.set_label(&tail(&label, LABEL.0, label.at(LABEL_LEN)));
    ctx.set("MOUNT", tail(&header, MOUNT.0, header.at(MOUNT_LEN)));
    ctx.set_uuid(&label.at(VOL_ID));
    ctx.set_version(format!("{major}.{minor}"));
    Ok(true)
}

fn probe_ocfs2(ctx: &mut Ctx) -> io::Result<bool> {
    let sb = ctx.read(sb_offset(ctx), SB2_LEN)?;
    ctx.set_label(&sb.at(LABEL2));
    ctx.set_uuid(&sb.at(UUID2));
    ctx.set_version(format!("{}.{}", sb.at(MAJOR_REV), sb.at(MINOR_REV)));
    let bits = sb.at(BLOCKSIZE_BITS);
    if bits < 32 {
        ctx.set_block_size(1u64 << bits);
    }
    Ok(true)
}

fn probe_oracleasm(ctx: &mut Ctx) -> io::Result<bool> {
    let dl = ctx.read(0, ASM_LEN)?;
    ctx.set_label(&dl.at(ASM_ID));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::probe::probe_bytes;

    #[test]
    fn ocfs1_lengths_stay_inside_the_record() {
        let mut img = vec![0u8; MIN_SIZE as usize];
        let (h, l) = (8192, 8192 + 512);
        img[h + MAJOR.0] = 1;
        img[h + MOUNT.0..][..3].copy_from_slice(b"/mt");
        img[h + MOUNT_LEN.0..][..2].copy_from_slice(&3u16.to_le_bytes());
        img[l + LABEL.0..][..5].copy_from_slice(b"lbl  ");
        img[l + LABEL_LEN.0..][..2].copy_from_slice(&u16::MAX.to_le_bytes());
        let tags = probe_bytes(probe_ocfs, OCFS.magics.first(), img).unwrap().unwrap();
        let names: Vec<_> = tags.iter().map(|t| t.0).collect();
        assert_eq!(names, ["SEC_TYPE", "LABEL", "MOUNT", "VERSION"]);
        assert_eq!(tags[1].1, b"lbl");
        assert_eq!(tags[2].1, b"/mt");
        assert_eq!(tags[3].1, b"1.0");
    }

    #[test]
    fn ocfs2_at_a_later_block() {
        let mut img = vec![0u8; MIN_SIZE as usize];
        let sb = 4096;
        img[sb..sb + 6].copy_from_slice(b"OCFSV2");
        img[sb + BLOCKSIZE_BITS.0] = 12;
        img[sb + LABEL2.0..][..2].copy_from_slice(b"o2");
        let tags = probe_bytes(probe_ocfs2, OCFS2.magics.get(2), img).unwrap().unwrap();
        let want = [("LABEL", &b"o2"[..]), ("VERSION", b"0.0"), ("BLOCK_SIZE", b"4096")];
        assert_eq!(tags.iter().map(|(n, v)| (*n, v.as_slice())).collect::<Vec<_>>(), want);
    }
}
