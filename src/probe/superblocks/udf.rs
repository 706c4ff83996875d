//! UDF (util-linux `udf.c`).
//!
//! A volume recognition sequence at 32 KiB (`BEA01` … `NSR02`/`NSR03` …) marks
//! UDF; the anchor at block 256 (or 512) gives the block size and the main
//! volume descriptor sequence, whose primary, logical-volume and
//! implementation-use descriptors hold the identifiers. The logical volume
//! integrity descriptor refines the UDF revision.

use crate::probe::field::{layout, Fields, Le16, Le32};
use crate::probe::{encode_to_utf8_max, Ctx, Encoding, Magic, Prober, Usage};
use std::io;

const fn vrs(bytes: &'static [u8]) -> Magic {
    Magic { bytes, kboff: 32, sboff: 1 }
}

pub static UDF: Prober = Prober {
    name: "udf",
    usage: Usage::Filesystem,
    tolerant: true,
    magics: &[vrs(b"BEA01"), vrs(b"BOOT2"), vrs(b"CD001"), vrs(b"CDW02"), vrs(b"NSR02"), vrs(b"NSR03"), vrs(b"TEA01")],
    probe,
    ..Prober::BASE
};

const VRS_OFFSET: u64 = 0x8000;
/// libblkid reads at most this many volume structure descriptors.
const VRS_MAX: u64 = 64;
/// Identifiers that may come before the NSR descriptor.
const VRS_CONTINUE: [&[u8]; 5] = [b"BEA01", b"BOOT2", b"CD001", b"CDW02", b"TEA01"];
/// The device's logical sector size is not known here; libblkid uses 512 for
/// image files, then tries the other block sizes UDF allows.
const BLOCK_SIZES: [u32; 4] = [512, 1024, 2048, 4096];
/// The anchor is at block 256, or 512 on unclosed write-once media.
const ANCHOR_BLOCKS: [u32; 2] = [256, 512];
/// A cap on the descriptor sequence walk; real sequences are a few blocks long.
/// Beyond it the volume is taken as corrupt.
const VDS_MAX: u32 = 4096;

// A descriptor as libblkid reads it (tag + largest body it knows): the
// numbers of the tag and the bodies used here.
layout! { VD_LEN = 440;
    TAG_ID: Le16 = 0;
    TAG_LOCATION: Le32 = 12;
    AVDP_LENGTH: Le32 = 16;
    AVDP_LOCATION: Le32 = 20;
    LVD_UDF_REV: Le16 = 240;
    LVD_NUM_PARTITION_MAPS: Le32 = 268;
    LVD_LVID_LENGTH: Le32 = 432;
    LVD_LVID_LOCATION: Le32 = 436;
    LVID_NUM_PARTITIONS: Le32 = 72;
    LVID_IMP_USE_LENGTH: Le32 = 76;
}
const TAG_PVD: u16 = 1;
const TAG_AVDP: u16 = 2;
const TAG_IUVD: u16 = 4;
const TAG_LVD: u16 = 6;
const TAG_TD: u16 = 8;
const TAG_LVID: u16 = 9;

// Primary volume descriptor.
const PVD_IDENT: Dstring = Dstring { at: 24, len: 32 };
const PVD_VOLSET: Dstring = Dstring { at: 72, len: 128 };
const PVD_CHARSET: usize = 200;
const PVD_APP_ID: (usize, usize) = (345, 23);
const PVD_IMP_ID: (usize, usize) = (389, 23);

// Logical volume descriptor.
const LVD_CHARSET: usize = 20;
const LVD_LOGVOL: Dstring = Dstring { at: 84, len: 128 };
const LVD_DOMAIN_ID: (usize, usize) = (217, 23);

// Implementation use volume descriptor.
const IUVD_ID: (usize, usize) = (21, 23);
const IUVD_CHARSET: usize = 52;
const IUVD_LVINFO1: Dstring = Dstring { at: 244, len: 36 };

// Logical volume integrity descriptor and its implementation use area.
const LVID_FIXED_LEN: u64 = 80;
layout! { LVIDIU_LEN = 46;
    LVIDIU_MIN_READ_REV: Le16 = 40;
    LVIDIU_MIN_WRITE_REV: Le16 = 42;
}

/// A `dstring`: a compression id byte, characters, and the used length in the last byte.
struct Dstring {
    at: usize,
    len: usize,
}

impl Dstring {
    /// The encoding and the characters, if the compression id is one UDF defines.
    fn get<'a>(&self, d: &'a [u8]) -> Option<(Encoding, &'a [u8])> {
        let enc = match d[self.at] {
            8 => Encoding::Latin1,
            16 => Encoding::Utf16Be,
            _ => return None,
        };
        // The stored length counts the compression id byte.
        let clen = usize::from(d[self.at + self.len - 1].saturating_sub(1)).min(self.len - 2);
        Some((enc, &d[self.at + 1..self.at + 1 + clen]))
    }
}

/// C `strncmp(field, want, field.len()) == 0` for a fixed-size field longer
/// than `want`: the text in the field ends right after `want`.
fn field_is(field: &[u8], want: &[u8]) -> bool {
    field.starts_with(want) && field.get(want.len()) == Some(&0)
}

/// The descriptor charset is "OSTA Compressed Unicode".
fn is_charset_udf(d: &[u8], at: usize) -> bool {
    d[at] == 0 && field_is(&d[at + 1..at + 64], b"OSTA Compressed Unicode")
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    let Some((bs, anchor)) = find_anchor(ctx)? else { return Ok(false) };
    let count = anchor.at(AVDP_LENGTH) / bs;
    let loc = anchor.at(AVDP_LOCATION);

    let (mut have_volid, mut have_uuid, mut have_volsetid, mut have_appid) = (false, false, false, false);
    let (mut have_label, mut have_logvolid, mut have_publisher) = (false, false, false);
    let (mut lvid_len, mut lvid_loc) = (0u32, 0u32);
    let mut udf_rev = 0u16;

    for b in 0..count {
        if b == VDS_MAX {
            // Corrupt. libblkid walks on to the first block that is not a descriptor,
            // which in such images is usually past the end of the device: not UDF.
            return Ok(false);
        }
        // Block numbers are 32-bit on disk; libblkid's sum wraps the same way.
        let block = loc.wrapping_add(b);
        let vd = ctx.read(u64::from(block) * u64::from(bs), VD_LEN)?;
        let tag = vd.at(TAG_ID);
        if tag == 0 || vd.at(TAG_LOCATION) != block || tag == TAG_TD {
            break;
        }
        match tag {
            TAG_PVD => {
                let udf_charset = is_charset_udf(&vd, PVD_CHARSET);
                if !have_volid && udf_charset {
                    if let Some((enc, s)) = PVD_IDENT.get(&vd) {
                        ctx.set_encoded_id_label("VOLUME_ID", s, enc);
                        have_volid = true;
                    }
                }
                if !have_uuid && udf_charset {
                    if let Some(uuid) = uuid_from_volset_id(&vd) {
                        ctx.set_uuid_string(&uuid);
                        have_uuid = true;
                    }
                }
                if !have_volsetid && udf_charset {
                    if let Some((enc, s)) = PVD_VOLSET.get(&vd) {
                        ctx.set_encoded_id_label("VOLUME_SET_ID", s, enc);
                        have_volsetid = true;
                    }
                }
                if !have_appid {
                    // Without an application id, the implementation's developer id.
                    let id = entity_id(&vd, PVD_APP_ID);
                    let id = if id.is_empty() { entity_id(&vd, PVD_IMP_ID) } else { id };
                    if !id.is_empty() {
                        ctx.set_id_label("APPLICATION_ID", id);
                        have_appid = true;
                    }
                }
            }
            TAG_LVD => {
                // No partition maps means no integrity descriptor (ECMA-167 3/10.6.12).
                if (lvid_len == 0 || lvid_loc == 0) && vd.at(LVD_NUM_PARTITION_MAPS) != 0 {
                    lvid_len = vd.at(LVD_LVID_LENGTH);
                    lvid_loc = vd.at(LVD_LVID_LOCATION);
                }
                if udf_rev == 0 && field_is(&vd[LVD_DOMAIN_ID.0..][..LVD_DOMAIN_ID.1], b"*OSTA UDF Compliant") {
                    udf_rev = vd.at(LVD_UDF_REV);
                }
                if (!have_logvolid || !have_label) && is_charset_udf(&vd, LVD_CHARSET) {
                    if let Some((enc, s)) = LVD_LOGVOL.get(&vd) {
                        if !have_label {
                            ctx.set_encoded_label(s, enc);
                            have_label = true;
                        }
                        if !have_logvolid {
                            ctx.set_encoded_id_label("LOGICAL_VOLUME_ID", s, enc);
                            have_logvolid = true;
                        }
                    }
                }
            }
            // LVInfo1 usually names the owner: exported like ISO 9660's publisher.
            TAG_IUVD
                if !have_publisher
                    && field_is(&vd[IUVD_ID.0..][..IUVD_ID.1], b"*UDF LV Info")
                    && is_charset_udf(&vd, IUVD_CHARSET) =>
            {
                if let Some((enc, s)) = IUVD_LVINFO1.get(&vd) {
                    ctx.set_encoded_id_label("PUBLISHER_ID", s, enc);
                    have_publisher = true;
                }
            }
            _ => {}
        }
        if have_volid
            && have_uuid
            && have_volsetid
            && have_logvolid
            && have_label
            && lvid_len != 0
            && lvid_loc != 0
            && have_appid
            && have_publisher
        {
            break;
        }
    }

    // Only the first integrity descriptor of the chain: it serves just the revision.
    if lvid_loc != 0 && lvid_len as usize >= VD_LEN {
        let base = u64::from(lvid_loc) * u64::from(bs);
        let vd = ctx.read(base, VD_LEN)?;
        if vd.at(TAG_ID) == TAG_LVID
            && vd.at(TAG_LOCATION) == lvid_loc
            && vd.at(LVID_IMP_USE_LENGTH) as usize >= LVIDIU_LEN
        {
            let iu_off = LVID_FIXED_LEN + 8 * u64::from(vd.at(LVID_NUM_PARTITIONS));
            let iu = ctx.read(base + iu_off, LVIDIU_LEN)?;
            for f in [LVIDIU_MIN_READ_REV, LVIDIU_MIN_WRITE_REV] {
                let rev = iu.at(f);
                if rev != 0 && udf_rev < rev {
                    udf_rev = rev;
                }
            }
        }
    }
    if udf_rev != 0 {
        // Binary-coded decimal: 0x0201 is revision 2.01.
        ctx.set_version(format!("{:x}.{:02x}", udf_rev >> 8, udf_rev & 0xff));
    }
    ctx.set_block_size(u64::from(bs));
    Ok(true)
}

/// Find the recognition sequence's NSR descriptor and the anchor, trying each
/// block size; the anchor that records its own location fixes the size.
fn find_anchor(ctx: &mut Ctx) -> io::Result<Option<(u32, Vec<u8>)>> {
    // The 2048-byte VRS is the same for the first three block sizes: scan it once.
    let mut vrs_2048: Option<bool> = None;
    for bs in BLOCK_SIZES {
        let vsd_len = bs.max(2048);
        let nsr = if vsd_len == 2048 && vrs_2048.is_some() {
            vrs_2048 == Some(true)
        } else {
            let found = has_nsr(ctx, u64::from(vsd_len))?;
            if vsd_len == 2048 {
                vrs_2048 = Some(found);
            }
            found
        };
        if !nsr {
            continue;
        }
        for block in ANCHOR_BLOCKS {
            let vd = ctx.read(u64::from(block) * u64::from(bs), VD_LEN)?;
            if vd.at(TAG_LOCATION) == block && vd.at(TAG_ID) == TAG_AVDP {
                return Ok(Some((bs, vd)));
            }
        }
    }
    Ok(None)
}

fn has_nsr(ctx: &mut Ctx, vsd_len: u64) -> io::Result<bool> {
    for b in 0..VRS_MAX {
        let vsd = ctx.read(VRS_OFFSET + b * vsd_len, 7)?;
        let id = &vsd[1..6];
        if id[0] == 0 {
            break;
        }
        if id == b"NSR02" || id == b"NSR03" {
            return Ok(true);
        }
        if !VRS_CONTINUE.contains(&id) {
            break;
        }
    }
    Ok(false)
}

/// An entity identifier's text: up to its NUL, without a leading '*'.
fn entity_id(d: &[u8], (at, len): (usize, usize)) -> &[u8] {
    let f = &d[at..at + len];
    let f = &f[..f.iter().position(|&b| b == 0).unwrap_or(len)];
    f.strip_prefix(b"*").unwrap_or(f)
}

/// libblkid's UUID from the volume set identifier, whose first 16 characters
/// should be unique (UDF 2.2.2.5): the first 16 UTF-8 bytes, lower-cased if
/// all are hex digits; otherwise hex digits stand and the first non-hex byte
/// and what follows are replaced by hex dumps of the bytes.
fn uuid_from_volset_id(vd: &[u8]) -> Option<Vec<u8>> {
    let (enc, s) = PVD_VOLSET.get(vd)?;
    let text = encode_to_utf8_max(enc, s, 17);
    if text.len() < 8 {
        return None;
    }
    let mut buf = [0u8; 16];
    buf[..text.len()].copy_from_slice(&text);
    let nonhex = buf.iter().position(|b| !b.is_ascii_hexdigit()).unwrap_or(16);
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>().into_bytes();
    let lower = |bytes: &[u8]| bytes.to_ascii_lowercase();
    Some(match nonhex {
        0..=7 => hex(&buf[..8]),
        8..=15 => [lower(&buf[..8]), hex(&buf[8..12])].concat(),
        _ => lower(&buf),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pvd_with_volset(cid: u8, text: &[u8]) -> Vec<u8> {
        let mut vd = vec![0u8; VD_LEN];
        vd[PVD_VOLSET.at] = cid;
        vd[PVD_VOLSET.at + 1..PVD_VOLSET.at + 1 + text.len()].copy_from_slice(text);
        vd[PVD_VOLSET.at + PVD_VOLSET.len - 1] = text.len() as u8 + 1;
        vd
    }

    #[test]
    fn uuid_from_volume_set_identifier() {
        let u = |cid, t: &[u8]| uuid_from_volset_id(&pvd_with_volset(cid, t)).map(|v| String::from_utf8(v).unwrap());
        assert_eq!(u(8, b"5F3A2B1C0D0E0F10 rest").as_deref(), Some("5f3a2b1c0d0e0f10"));
        assert_eq!(u(8, b"5F3A2B1CLinuxUDF").as_deref(), Some("5f3a2b1c4c696e75"));
        assert_eq!(u(8, b"Volume Set").as_deref(), Some("566f6c756d652053"));
        assert_eq!(u(8, b"short"), None);
        assert_eq!(u(3, b"5F3A2B1C0D0E0F10"), None);
    }

    #[test]
    fn fixed_fields_compare_like_strncmp() {
        let mut f = [0u8; 23];
        f[..19].copy_from_slice(b"*OSTA UDF Compliant");
        assert!(field_is(&f, b"*OSTA UDF Compliant"));
        f[19] = b'x';
        assert!(!field_is(&f, b"*OSTA UDF Compliant"));
    }
}
