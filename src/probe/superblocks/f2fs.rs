//! F2FS (libblkid `f2fs.c`).
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Bytes, Fields, Le16, Le32, Uuid};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

/// The first superblock is at 1 KiB.
const SB_KBOFF: u64 = 1;

pub static F2FS: Prober = Prober {
    name: "f2fs",
    usage: Usage::Filesystem,
    magics: &[Magic { bytes: b"\x10\x20\xf5\xf2", kboff: SB_KBOFF, sboff: 0 }],
    probe,
    ..Prober::BASE
};

layout! { SB_LEN = 0x7c + 1024;
    MAJOR_VER: Le16 = 0x04;
    MINOR_VER: Le16 = 0x06;
    LOG_BLOCKSIZE: Le32 = 0x10;
    UUID: Uuid = 0x6c;
    /// 512 UTF-16 units.
    VOLUME_NAME: Bytes<1024> = 0x7c;
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let sb = ctx.read(SB_KBOFF * 1024, SB_LEN)?;
    let (major, minor) = (sb.at(MAJOR_VER), sb.at(MINOR_VER));
    // Version 1.0 superblocks had another layout: nothing past the magic is trusted.
    if (major, minor) == (1, 0) {
        return Ok(true);
    }
    // libblkid tests the first byte only, not the first UTF-16 unit.
    let name = sb.slice(VOLUME_NAME);
    if name[0] != 0 {
        ctx.set_utf16_label(name, false);
    }
    ctx.set_uuid(&sb.at(UUID));
    ctx.set_version(format!("{major}.{minor}"));
    let log_blocksize = sb.at(LOG_BLOCKSIZE);
    if log_blocksize < 32 {
        ctx.set_block_size(1u64 << log_blocksize);
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Reader;

    fn run(major: u16, minor: u16, name: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
        let mut img = vec![0u8; 4096];
        let sb = (SB_KBOFF * 1024) as usize;
        img[sb..sb + 4].copy_from_slice(b"\x10\x20\xf5\xf2");
        img[sb + MAJOR_VER.0..][..2].copy_from_slice(&major.to_le_bytes());
        img[sb + MINOR_VER.0..][..2].copy_from_slice(&minor.to_le_bytes());
        img[sb + LOG_BLOCKSIZE.0..][..4].copy_from_slice(&12u32.to_le_bytes());
        img[sb + VOLUME_NAME.0..][..name.len()].copy_from_slice(name);
        let mut r = Reader::from_bytes(img);
        let mut ctx = Ctx::new(&mut r, F2FS.magics.first());
        assert!(probe(&mut ctx).unwrap());
        ctx.into_tags().into_iter().map(|t| (t.name, t.value)).collect()
    }

    #[test]
    fn label_version_block_size() {
        let tags = run(1, 15, b"f\0s\0");
        let want: [(&str, &[u8]); 3] = [("LABEL", b"fs"), ("VERSION", b"1.15"), ("BLOCK_SIZE", b"4096")];
        assert_eq!(tags.iter().filter(|t| t.0 != "UUID").map(|t| (t.0, t.1.as_slice())).collect::<Vec<_>>(), want);
    }

    #[test]
    fn version_1_0_is_bare_and_only_the_first_label_byte_is_tested() {
        assert!(run(1, 0, b"x\0").is_empty());
        // U+0100 starts with a zero byte in little-endian: libblkid sees no label.
        assert!(run(1, 2, b"\0\x01").iter().all(|t| t.0 != "LABEL"));
    }
}
