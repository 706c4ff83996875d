//! OS/2 HPFS (libblkid `hpfs.c`): superblock at 8 KiB, spare superblock
//! after it, label and serial from the boot sector.
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Bytes, Fields, U8};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

const SB_OFF: u64 = 0x2000;
const SPARE_OFF: u64 = 0x2200;

pub static HPFS: Prober = Prober {
    name: "hpfs",
    usage: Usage::Filesystem,
    magics: &[Magic { bytes: b"\x49\xe8\x95\xf9", kboff: SB_OFF >> 10, sboff: 0 }],
    probe,
    ..Prober::BASE
};

layout! { SB_LEN = 9;
    VERSION: U8 = 8;
}

const SPARE_MAGIC: &[u8] = b"\x49\x18\x91\xf9";

layout! { BOOT_LEN = 512;
    SIG_28H: U8 = 38;
    SERIAL: Bytes<4> = 39;
    LABEL: Bytes<11> = 43;
    SIG_HPFS: Bytes<4> = 54;
    BOOT_MAGIC: Bytes<2> = 510;
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let version = ctx.read(SB_OFF, SB_LEN)?.at(VERSION);
    if ctx.read(SPARE_OFF, SPARE_MAGIC.len())? != SPARE_MAGIC {
        return Ok(false);
    }
    let boot = ctx.read(0, BOOT_LEN)?;
    if &boot.at(BOOT_MAGIC) == b"\x55\xaa" && &boot.at(SIG_HPFS) == b"HPFS" && boot.at(SIG_28H) == 0x28 {
        ctx.set_label(&boot.at(LABEL));
        let s = boot.at(SERIAL);
        ctx.set_uuid_formatted(&s, format!("{:02X}{:02X}-{:02X}{:02X}", s[3], s[2], s[1], s[0]));
    }
    ctx.set_version(version.to_string());
    ctx.set_block_size(512);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::probe::probe_bytes;

    #[test]
    fn spare_superblock_required_boot_sector_optional() {
        let mut img = vec![0u8; 16 << 10];
        img[SB_OFF as usize + VERSION.0] = 2;
        let want = vec![("VERSION", b"2".to_vec()), ("BLOCK_SIZE", b"512".to_vec())];
        assert_eq!(probe_bytes(probe, None, img.clone()).unwrap(), None);
        img[SPARE_OFF as usize..][..4].copy_from_slice(SPARE_MAGIC);
        assert_eq!(probe_bytes(probe, None, img.clone()).unwrap(), Some(want));
        img[510..512].copy_from_slice(b"\x55\xaa");
        img[SIG_HPFS.0..SIG_HPFS.0 + 4].copy_from_slice(b"HPFS");
        img[SIG_28H.0] = 0x28;
        img[SERIAL.0..SERIAL.0 + 4].copy_from_slice(&[0xd5, 0x32, 0xc2, 0x3b]);
        img[LABEL.0..LABEL.0 + 11].copy_from_slice(b"P01 S16A   ");
        let tags = probe_bytes(probe, None, img).unwrap().unwrap();
        assert_eq!(tags[0], ("LABEL", b"P01 S16A".to_vec()));
        assert_eq!(tags[1], ("UUID", b"3BC2-32D5".to_vec()));
    }
}
