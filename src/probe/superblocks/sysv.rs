//! System V and Xenix filesystems (libblkid `sysv.c`).
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Bytes, Fields};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

pub static XENIX: Prober = Prober {
    name: "xenix",
    usage: Usage::Filesystem,
    magics: &[
        Magic { bytes: b"\x2b\x55\x44", kboff: 1, sboff: 0x400 },
        Magic { bytes: b"\x44\x55\x2b", kboff: 1, sboff: 0x400 },
    ],
    probe: probe_xenix,
    ..Prober::BASE
};

/// SysV may be in either byte order and at four places: libblkid looks for
/// its magic itself.
pub static SYSV: Prober = Prober { name: "sysv", usage: Usage::Filesystem, probe: probe_sysv, ..Prober::BASE };

/// The Xenix superblock is read at 1 KiB (libblkid's `kboff`), whatever the magic's place.
const XENIX_SB_OFF: u64 = 1024;

layout! { XENIX_LEN = 1024;
    XENIX_FNAME: Bytes<6> = 632;
}

layout! { SYSV_LEN = 512;
    SYSV_FNAME: Bytes<6> = 440;
    SYSV_MAGIC: Bytes<4> = 504;
}

/// Blocks (of 1 KiB) whose second half may hold the SysV superblock.
const SYSV_BLOCKS: [u64; 4] = [0, 9, 15, 18];
const SYSV_MAGIC_VALUE: u32 = 0xfd18_7e20;

fn probe_xenix(ctx: &mut Ctx) -> io::Result<bool> {
    let sb = ctx.read(XENIX_SB_OFF, XENIX_LEN)?;
    ctx.set_label(&sb.at(XENIX_FNAME));
    Ok(true)
}

fn probe_sysv(ctx: &mut Ctx) -> io::Result<bool> {
    for block in SYSV_BLOCKS {
        let off = block * 1024 + 512;
        // A place past the end ends the search, as in libblkid, which reads
        // each whole superblock; here the magic is read first.
        if !ctx.reader.fits(off, SYSV_LEN as u64) {
            return Ok(false);
        }
        let magic = ctx.read(off + SYSV_MAGIC.0 as u64, 4)?;
        if magic == SYSV_MAGIC_VALUE.to_le_bytes() || magic == SYSV_MAGIC_VALUE.to_be_bytes() {
            let sb = ctx.read(off, SYSV_LEN)?;
            ctx.set_label(&sb.at(SYSV_FNAME));
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::probe::probe_bytes;

    #[test]
    fn sysv_at_a_later_block_in_big_endian() {
        let mut img = vec![0u8; 20 << 10];
        let sb = 15 * 1024 + 512;
        img[sb + SYSV_MAGIC.0..][..4].copy_from_slice(&SYSV_MAGIC_VALUE.to_be_bytes());
        img[sb + SYSV_FNAME.0..][..6].copy_from_slice(b"sysv\0\0");
        assert_eq!(probe_bytes(probe_sysv, None, img.clone()).unwrap(), Some(vec![("LABEL", b"sysv".to_vec())]));
        img.truncate(18 << 10);
        img[sb + SYSV_MAGIC.0] = 0;
        assert_eq!(probe_bytes(probe_sysv, None, img).unwrap(), None, "block 18 is past the end");
    }

    #[test]
    fn xenix_label() {
        let mut img = vec![0u8; 4096];
        img[1024 + XENIX_FNAME.0..][..6].copy_from_slice(b"xenix ");
        assert_eq!(probe_bytes(probe_xenix, None, img).unwrap(), Some(vec![("LABEL", b"xenix".to_vec())]));
    }
}
