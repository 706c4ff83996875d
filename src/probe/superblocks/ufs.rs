//! UFS 1 and 2 (libblkid `ufs.c`): no magic table; the superblock is looked
//! for at four places, its magic in either byte order.
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Be32, Bytes, Endian, Fields, Le32, U32};
use crate::probe::{Ctx, Prober, Usage};
use std::io;

pub static UFS: Prober = Prober { name: "ufs", usage: Usage::Filesystem, probe, ..Prober::BASE };

/// Where the superblock may be, in KiB, in the order libblkid tries them.
const PLACES_KIB: [u64; 4] = [0, 8, 64, 256];

layout! { SB_LEN = 1377;
    FSIZE: U32 = 52;
    FS_ID: Bytes<8> = 144;
    ID0: U32 = 144;
    ID1: U32 = 148;
    VOLNAME: Bytes<32> = 680;
    MAGIC: Bytes<4> = 1372;
}

const UFS2_MAGIC: u32 = 0x1954_0119;
/// UFS2 first, then the UFS1 variants, as libblkid tries them.
const MAGICS: [u32; 6] = [UFS2_MAGIC, 0x0001_1954, 0x0019_5612, 0x0009_5014, 0x0061_2195, 0x0523_1994];

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    for kib in PLACES_KIB {
        let off = kib * 1024;
        // A place past the end ends the search, as in libblkid, which reads
        // each whole superblock; here the magic is read first, and the rest
        // only where it matches.
        if !ctx.reader.fits(off, SB_LEN as u64) {
            return Ok(false);
        }
        let word = ctx.read(off + MAGIC.0 as u64, 4)?;
        let (le, be) = (word.at(Le32(0)), word.at(Be32(0)));
        let Some(&magic) = MAGICS.iter().find(|&&m| m == le || m == be) else { continue };
        let sb = ctx.read(off, SB_LEN)?;
        let e = if magic == be { Endian::Big } else { Endian::Little };
        if magic == UFS2_MAGIC {
            ctx.set_version("2");
            ctx.set_label(&sb.at(VOLNAME));
        } else {
            ctx.set_version("1");
        }
        let text = format!("{:08x}{:08x}", sb.at_in(e, ID0), sb.at_in(e, ID1));
        ctx.set_uuid_formatted(&sb.at(FS_ID), text);
        ctx.set_block_size(u64::from(sb.at_in(e, FSIZE)));
        return Ok(true);
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::field::put;
    use crate::support::probe::probe_bytes;

    #[test]
    fn found_at_its_second_place_big_endian() {
        let mut img = vec![0u8; 300 << 10];
        let sb = &mut img[8 << 10..];
        put(sb, MAGIC.0, &0x0001_1954u32.to_be_bytes());
        put(sb, FSIZE.0, &2048u32.to_be_bytes());
        put(sb, ID0.0, &0x0102_0304u32.to_be_bytes());
        let tags = probe_bytes(probe, None, img.clone()).unwrap().unwrap();
        let want = [("VERSION", &b"1"[..]), ("UUID", b"0102030400000000"), ("BLOCK_SIZE", b"2048")];
        assert_eq!(tags.iter().map(|(n, v)| (*n, v.as_slice())).collect::<Vec<_>>(), want);
        // Too small for the last place: nothing, as in libblkid.
        img[8 << 10..][MAGIC.0..][..4].fill(0);
        img.truncate(100 << 10);
        assert_eq!(probe_bytes(probe, None, img).unwrap(), None);
    }
}
