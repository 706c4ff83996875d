//! LVM2 and LVM1 physical volumes (util-linux `lvm.c`).
//!
//! The LVM2 label ("LABELONE") sits in one of the first four 512-byte sectors;
//! its type string "LVM2 001" is the magic, 0x18 bytes into the label. LVM1
//! starts the device with "HM" and a version.

use crate::probe::checksum::crc32_le;
use crate::probe::field::{layout, Bytes, Fields, Le16, Le32, Le64};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

/// LVM2 checksums its label with the reflected CRC-32 register seeded so,
/// without a final inversion (`calc_crc` in lvm2).
const LVM2_CRC_SEED: u32 = 0xf597_a6cf;

const TYPE: &[u8] = b"LVM2 001";

pub static LVM2: Prober = Prober {
    name: "LVM2_member",
    usage: Usage::Raid,
    // libblkid's order: sector 1, sector 0, then sectors 2 and 3.
    magics: &[
        Magic { bytes: TYPE, kboff: 0, sboff: 0x218 },
        Magic { bytes: TYPE, kboff: 0, sboff: 0x018 },
        Magic { bytes: TYPE, kboff: 1, sboff: 0x018 },
        Magic { bytes: TYPE, kboff: 1, sboff: 0x218 },
    ],
    probe,
    ..Prober::BASE
};

pub static LVM1: Prober = Prober {
    name: "LVM1_member",
    usage: Usage::Raid,
    magics: &[Magic { bytes: b"HM", kboff: 0, sboff: 0 }],
    probe: probe_lvm1,
    ..Prober::BASE
};

layout! { LVM1_LEN = 172;
    LVM1_VERSION: Le16 = 2;
    /// The id field; the UUID is its first 32 bytes, as in LVM2.
    LVM1_PV_UUID: Bytes<128> = 44;
}

fn probe_lvm1(ctx: &mut Ctx) -> io::Result<bool> {
    let label = ctx.read(0, LVM1_LEN)?;
    if !matches!(label.at(LVM1_VERSION), 1 | 2) {
        return Ok(false);
    }
    set_pv_uuid(ctx, label.slice(LVM1_PV_UUID));
    Ok(true)
}

const LABEL_ID: &[u8] = b"LABELONE";
// The label header, in its sector.
layout! { SECTOR = 512;
    SECTOR_XL: Le64 = 8;
    CRC_XL: Le32 = 16;
    /// The CRC covers the label from this field to the end of its sector.
    OFFSET_XL: Le32 = 20;
    PV_UUID: Bytes<PV_UUID_LEN> = 32;
}
const PV_UUID_LEN: usize = 32;

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let Some(magic) = ctx.magic else { return Ok(false) };
    // libblkid reads two sectors from the matched kilobyte and looks for the
    // label in the first, then in the second; only the one found is read whole.
    let base = magic.kboff * 1024;
    if !ctx.reader.fits(base, 2 * SECTOR as u64) {
        return Ok(false);
    }
    let mut sector = magic.kboff * 2;
    if ctx.read(base, LABEL_ID.len())? != LABEL_ID {
        if ctx.read(base + SECTOR as u64, LABEL_ID.len())? != LABEL_ID {
            return Ok(false);
        }
        sector += 1;
    }
    let label = ctx.read(sector * SECTOR as u64, SECTOR)?;
    if label.at(SECTOR_XL) != sector {
        return Ok(false);
    }
    if crc32_le(LVM2_CRC_SEED, &label[OFFSET_XL.0..SECTOR]) != label.at(CRC_XL) {
        return Ok(false);
    }
    set_pv_uuid(ctx, label.slice(PV_UUID));
    ctx.set_version("LVM2 001");
    Ok(true)
}

/// `UUID` from a PV id field (its first 32 bytes are the UUID) as libblkid's
/// `blkid_probe_sprintf_uuid` sets it: not when the field is all zero, and not
/// when the text is empty (the id starts with a NUL).
fn set_pv_uuid(ctx: &mut Ctx, raw: &[u8]) {
    let text = format_uuid(&raw[..PV_UUID_LEN]);
    if raw.iter().any(|&b| b != 0) && !text.is_empty() {
        ctx.set("UUID", text);
    }
}

/// The 32 UUID characters grouped 6-4-4-4-4-4-6 with dashes, as `pvs` shows
/// them; the value ends at a NUL byte, as the C string does.
fn format_uuid(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 6);
    for (i, &c) in raw.iter().enumerate() {
        if matches!(i, 6 | 10 | 14 | 18 | 22 | 26) {
            out.push(b'-');
        }
        out.push(c);
    }
    let end = out.iter().position(|&b| b == 0).unwrap_or(out.len());
    out.truncate(end);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Reader;

    /// A label in `sector` with a correct CRC.
    fn image(sector: u64) -> Vec<u8> {
        let mut img = vec![0u8; 8192];
        let at = sector as usize * SECTOR;
        let l = &mut img[at..at + SECTOR];
        l[..8].copy_from_slice(LABEL_ID);
        l[SECTOR_XL.0..SECTOR_XL.0 + 8].copy_from_slice(&sector.to_le_bytes());
        l[OFFSET_XL.0..OFFSET_XL.0 + 4].copy_from_slice(&32u32.to_le_bytes());
        l[0x18..0x20].copy_from_slice(TYPE);
        l[PV_UUID.0..PV_UUID.0 + 32].copy_from_slice(b"BMmneeyJwGAyDySF2nMqiqsSp4VM5KRR");
        let crc = crc32_le(LVM2_CRC_SEED, &l[OFFSET_XL.0..]);
        l[CRC_XL.0..CRC_XL.0 + 4].copy_from_slice(&crc.to_le_bytes());
        img
    }

    fn run(img: Vec<u8>, m: usize) -> Option<Vec<u8>> {
        let mut r = Reader::from_bytes(img);
        let mut ctx = Ctx::new(&mut r, Some(&LVM2.magics[m]));
        match probe(&mut ctx) {
            Ok(true) => Some(ctx.tags()[0].value.clone()),
            _ => None,
        }
    }

    #[test]
    fn label_in_any_of_the_first_four_sectors() {
        for (sector, m) in [(1, 0), (0, 1), (2, 2), (3, 3)] {
            assert_eq!(run(image(sector), m).unwrap(), b"BMmnee-yJwG-AyDy-SF2n-Mqiq-sSp4-VM5KRR");
        }
    }

    #[test]
    fn lvm1_version_and_uuid() {
        let mut img = vec![0u8; 4096];
        img[..4].copy_from_slice(b"HM\x02\x00");
        img[LVM1_PV_UUID.0..LVM1_PV_UUID.0 + 32].copy_from_slice(b"BMmneeyJwGAyDySF2nMqiqsSp4VM5KRR");
        let tags = crate::support::probe::probe_bytes(probe_lvm1, None, img.clone()).unwrap().unwrap();
        assert_eq!(tags, vec![("UUID", b"BMmnee-yJwG-AyDy-SF2n-Mqiq-sSp4-VM5KRR".to_vec())]);
        // An id that starts with a NUL gives no UUID, even if more follows.
        img[LVM1_PV_UUID.0] = 0;
        let tags = crate::support::probe::probe_bytes(probe_lvm1, None, img.clone()).unwrap().unwrap();
        assert_eq!(tags, vec![]);
        img[2] = 3;
        assert_eq!(crate::support::probe::probe_bytes(probe_lvm1, None, img).unwrap(), None);
    }

    #[test]
    fn wrong_sector_number_or_crc_is_nothing() {
        let mut img = image(1);
        img[512 + SECTOR_XL.0] = 2;
        assert_eq!(run(img, 0), None);
        let mut img = image(1);
        img[512 + 100] ^= 1;
        assert_eq!(run(img, 0), None);
    }
}
