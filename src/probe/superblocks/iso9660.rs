//! ISO 9660 (with Joliet) and High Sierra CD images (util-linux `iso9660.c`).
//!
//! Volume descriptors start at 32 KiB, one per 2 KiB sector, until a
//! terminator. The primary descriptor's identifiers are upper-case ASCII; a
//! Joliet supplementary descriptor repeats them in UTF-16BE, but only half as
//! many characters fit. libblkid merges the two: where the Joliet text is a
//! prefix of the ASCII one (ignoring case and '_' for unrepresentable
//! characters), the Joliet characters are taken and the ASCII tail appended.

use crate::probe::field::{layout, Bytes, Fields, U8};
use crate::probe::{is_c_space, Ctx, Encoding, Magic, Prober, Usage};
use std::io;

pub static ISO9660: Prober = Prober {
    name: "iso9660",
    usage: Usage::Filesystem,
    tolerant: true,
    magics: &[Magic { bytes: b"CD001", kboff: 32, sboff: 1 }, Magic { bytes: b"CDROM", kboff: 32, sboff: 9 }],
    probe,
    ..Prober::BASE
};

const DESCRIPTORS: u64 = 0x8000;
const SECTOR: u64 = 0x800;
/// libblkid looks at no more than this many descriptors.
const MAX_DESCRIPTORS: u64 = 16;
const VD_BOOT_RECORD: u8 = 0;
const VD_PRIMARY: u8 = 1;
const VD_SUPPLEMENTARY: u8 = 2;
const VD_END: u8 = 0xff;

// Primary/supplementary volume descriptor fields, and the boot record's.
layout! { VD_LEN = 847;
    VD_TYPE: U8 = 0;
    SYSTEM_ID: Bytes<32> = 8;
    VOLUME_ID: Bytes<32> = 40;
    ESCAPES: Bytes<3> = 88;
    VOLUME_SET_ID: Bytes<128> = 190;
    PUBLISHER_ID: Bytes<128> = 318;
    DATA_PREPARER_ID: Bytes<128> = 446;
    APPLICATION_ID: Bytes<128> = 574;
    CREATED: Bytes<17> = 813;
    MODIFIED: Bytes<17> = 830;
    /// Boot record: the boot system identifier.
    BOOT_SYSTEM_ID: Bytes<32> = 7;
}
/// Joliet levels 1-3 announce themselves with these UCS-2 escape sequences.
const JOLIET_ESCAPES: [&[u8]; 3] = [b"%/@", b"%/C", b"%/E"];

// High Sierra descriptor: the volume identifier.
layout! { HS_LEN = 80;
    HS_VOLUME_ID: Bytes<32> = 48;
}

fn field(d: &[u8], (off, len): (usize, usize)) -> &[u8] {
    &d[off..off + len]
}

fn probe(ctx: &mut Ctx) -> io::Result<bool> {
    if ctx.magic.is_some_and(|m| m.bytes == b"CDROM") {
        let d = ctx.read(DESCRIPTORS, HS_LEN)?;
        ctx.set_block_size(SECTOR);
        ctx.set_version("High Sierra");
        ctx.set_label(d.slice(HS_VOLUME_ID));
        return Ok(true);
    }
    let (mut boot, mut pvd, mut joliet) = (None, None, None);
    for i in 0..MAX_DESCRIPTORS {
        if boot.is_some() && pvd.is_some() && joliet.is_some() {
            break;
        }
        let d = match ctx.read(DESCRIPTORS + i * SECTOR, VD_LEN) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e),
        };
        match d.at(VD_TYPE) {
            VD_END => break,
            VD_BOOT_RECORD if boot.is_none() => boot = Some(d),
            VD_PRIMARY if pvd.is_none() => pvd = Some(d),
            VD_SUPPLEMENTARY if joliet.is_none() && JOLIET_ESCAPES.iter().any(|e| d.slice(ESCAPES) == *e) => {
                joliet = Some(d)
            }
            _ => {}
        }
    }
    let Some(pvd) = pvd else { return Ok(false) };
    let joliet = joliet.as_deref();
    ctx.set_block_size(SECTOR);

    for (name, f) in [("SYSTEM_ID", SYSTEM_ID.span()), ("VOLUME_SET_ID", VOLUME_SET_ID.span())] {
        match joliet {
            Some(j) => {
                let text = merge_utf16be_ascii(field(j, f), field(&pvd, f)).unwrap_or_else(|| field(j, f).to_vec());
                ctx.set_encoded_id_label(name, &text, Encoding::Utf16Be);
            }
            None => ctx.set_id_label(name, field(&pvd, f)),
        }
    }
    // These three are often blank or '_' in one of the two descriptors.
    for (name, f) in
        [("PUBLISHER_ID", PUBLISHER_ID), ("DATA_PREPARER_ID", DATA_PREPARER_ID), ("APPLICATION_ID", APPLICATION_ID)]
            .map(|(n, f)| (n, f.span()))
    {
        let ascii = field(&pvd, f);
        let ascii_empty = is_str_empty(ascii) || ascii[0] == b'_';
        let unicode = joliet.map(|j| field(j, f)).filter(|u| !is_utf16be_str_empty(u) && u[..2] != [0, b'_']);
        match unicode {
            Some(u) => {
                let merged = if ascii_empty { None } else { merge_utf16be_ascii(u, ascii) };
                ctx.set_encoded_id_label(name, merged.as_deref().unwrap_or(u), Encoding::Utf16Be);
            }
            None if !ascii_empty => ctx.set_id_label(name, ascii),
            None => {}
        }
    }

    if !set_uuid_from_date(ctx, pvd.slice(MODIFIED)) {
        set_uuid_from_date(ctx, pvd.slice(CREATED));
    }
    if let Some(boot) = &boot {
        ctx.set_id_label("BOOT_SYSTEM_ID", boot.slice(BOOT_SYSTEM_ID));
    }
    if let Some(j) = joliet {
        ctx.set_version("Joliet Extension");
        let text = merge_utf16be_ascii(j.slice(VOLUME_ID), pvd.slice(VOLUME_ID))
            .unwrap_or_else(|| j.slice(VOLUME_ID).to_vec());
        ctx.set_encoded_label(&text, Encoding::Utf16Be);
    } else {
        ctx.set_label(pvd.slice(VOLUME_ID));
    }
    Ok(true)
}

/// The volume date (16 ASCII digits and a timezone byte) as a pseudo-UUID
/// `YYYY-MM-DD-HH-MM-SS-CC`. A date of all '0' digits and zone 0 is unset:
/// `false`, so the caller tries the other date.
fn set_uuid_from_date(ctx: &mut Ctx, date: &[u8]) -> bool {
    let digits = &date[..16];
    if digits.iter().all(|&b| b == b'0') && date[16] == 0 {
        return false;
    }
    if digits.iter().any(|&b| b != 0) {
        let mut s = Vec::with_capacity(22);
        for (i, &b) in digits.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10 | 12 | 14) {
                s.push(b'-');
            }
            s.push(b);
        }
        // The value is a C string: it ends at a NUL digit.
        let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
        s.truncate(end);
        ctx.set("UUID", s);
    }
    true
}

fn is_str_empty(s: &[u8]) -> bool {
    s[0] == 0 || s.iter().all(|&b| is_c_space(b))
}

fn is_utf16be_str_empty(s: &[u8]) -> bool {
    s.chunks_exact(2).all(|c| c[0] == 0 && is_c_space(c[1]))
}

/// If the UTF-16BE `utf16` is, character for character, the start of `ascii`
/// (case-insensitively, '_' in either standing for any character), rebuild the
/// full text in UTF-16BE: the Joliet characters, then the rest of the ASCII.
/// Both fields have the same length in bytes.
fn merge_utf16be_ascii(utf16: &[u8], ascii: &[u8]) -> Option<Vec<u8>> {
    let len = ascii.len();
    let mut out = Vec::with_capacity(2 * len + 4);
    let (mut a, mut u) = (0, 0);
    while u + 1 < len && a < len {
        // A surrogate pair stands for one ASCII '_': copy its high half.
        if (0xd8..=0xdb).contains(&utf16[u]) && u + 3 < len && (0xdc..=0xdf).contains(&utf16[u + 2]) {
            out.extend_from_slice(&utf16[u..u + 2]);
            u += 2;
        }
        let (hi, lo) = (utf16[u], utf16[u + 1]);
        if ascii[a] == b'_' {
            out.extend_from_slice(&[hi, lo]);
        } else if hi == 0 && lo == b'_' {
            out.extend_from_slice(&[0, ascii[a]]);
        } else if hi == 0 && ascii[a].eq_ignore_ascii_case(&lo) {
            out.extend_from_slice(&[0, if ascii[a].is_ascii_uppercase() { lo } else { ascii[a] }]);
        } else {
            return None;
        }
        a += 1;
        u += 2;
    }
    for &c in &ascii[a..] {
        out.extend_from_slice(&[0, c]);
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::encode_to_utf8;

    /// The text a merged field gives.
    fn merged_text(utf16: &[u8], ascii: &[u8]) -> Option<String> {
        merge_utf16be_ascii(utf16, ascii).map(|m| String::from_utf8(encode_to_utf8(Encoding::Utf16Be, &m)).unwrap())
    }

    fn utf16(s: &str, len: usize) -> Vec<u8> {
        let mut v: Vec<u8> = s.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
        while v.len() < len {
            v.extend([0, b' ']);
        }
        v.truncate(len);
        v
    }

    fn ascii(s: &str, len: usize) -> Vec<u8> {
        let mut v = s.as_bytes().to_vec();
        v.resize(len, b' ');
        v
    }

    #[test]
    fn joliet_prefix_is_completed_from_ascii() {
        let long = "A_VERY_LONG_VOLUME_LABEL_32CHARS";
        let merged = merged_text(&utf16("A_very_long_volu", 32), &ascii(long, 32)).unwrap();
        assert_eq!(merged, "A_very_long_voluME_LABEL_32CHARS");
        let merged = merged_text(&utf16("Grüße", 32), &ascii("GR__E", 32)).unwrap();
        assert_eq!(merged.trim_end(), "Grüße");
        assert_eq!(merged_text(&utf16("OTHER", 32), &ascii("LABEL", 32)), None);
    }

    #[test]
    fn unset_date_falls_back() {
        let mut r = crate::probe::Reader::from_bytes(vec![]);
        let mut ctx = Ctx::new(&mut r, None);
        let mut date = [b'0'; 17];
        date[16] = 0;
        assert!(!set_uuid_from_date(&mut ctx, &date));
        let date = *b"2024010203040506\x00";
        assert!(set_uuid_from_date(&mut ctx, &date));
        assert_eq!(ctx.tags()[0].value, b"2024-01-02-03-04-05-06");
    }
}
