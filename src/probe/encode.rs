//! How blkid writes tag values, under libblkid's and util-linux's names for
//! each form: `safe_print` (the escaped values of full and export output),
//! `blkid_encode_string` and `blkid_safe_string` (udev's `ID_FS_*` and
//! `ID_FS_*_ENC` forms), and the udev lines built from them.
#![forbid(unsafe_code)]

use super::Found;

/// Characters `blkid -o export` puts a backslash before (they are special to a shell).
pub const EXPORT_SPECIAL: &[u8] = b" \\\"'$`<>";
/// Characters `blkid`'s full output puts a backslash before (inside its double quotes).
pub const FULL_SPECIAL: &[u8] = b"\"\\";

/// A tag value as blkid prints it (util-linux `safe_print`): a byte with the
/// high bit set as `M-` and the rest, a control character as `^` and its
/// letter, and a backslash before any byte of `special`. The result is ASCII.
pub fn escape_value(value: &[u8], special: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    for &b in value {
        let mut c = b;
        if c >= 0x80 {
            out.extend_from_slice(b"M-");
            c -= 0x80;
        }
        if c < 0x20 || c == 0x7f {
            out.push(b'^');
            c ^= 0x40;
        } else if special.contains(&c) {
            out.push(b'\\');
        }
        out.push(c);
    }
    out
}

/// The length of the valid UTF-8 sequence at the start of `s` (ASCII included),
/// or `None`, by libblkid's rules: no overlong forms, surrogates, U+FDD0..U+FDEF
/// or U+xxFFFF.
pub fn utf8_char_len(s: &[u8]) -> Option<usize> {
    let first = *s.first()?;
    let (len, mut cp) = match first {
        0x00..=0x7f => return Some(1),
        _ if first & 0xe0 == 0xc0 => (2, u32::from(first & 0x1f)),
        _ if first & 0xf0 == 0xe0 => (3, u32::from(first & 0x0f)),
        _ if first & 0xf8 == 0xf0 => (4, u32::from(first & 0x07)),
        _ if first & 0xfc == 0xf8 => (5, u32::from(first & 0x03)),
        _ if first & 0xfe == 0xfc => (6, u32::from(first & 0x01)),
        _ => return None,
    };
    let cont = s.get(1..len)?;
    if cont.iter().any(|&c| c & 0xc0 != 0x80) {
        return None;
    }
    for &c in cont {
        cp = (cp << 6) | u32::from(c & 0x3f);
    }
    let encoded_len = match cp {
        0..=0x7f => 1,
        0x80..=0x7ff => 2,
        0x800..=0xffff => 3,
        0x10000..=0x1f_ffff => 4,
        0x20_0000..=0x3ff_ffff => 5,
        _ => 6,
    };
    let valid =
        cp <= 0x10ffff && cp & 0xffff_f800 != 0xd800 && !(0xfdd0..=0xfdef).contains(&cp) && cp & 0xffff != 0xffff;
    (encoded_len == len && valid).then_some(len)
}

/// libblkid `blkid_encode_string` into a buffer of `cap` bytes: valid UTF-8 and
/// `[0-9A-Za-z#+-.:=@_]` stay, everything else becomes `\xNN`; output stops where
/// the C buffer would be full.
pub fn encode_string(s: &[u8], cap: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        match utf8_char_len(&s[i..]) {
            Some(n) if n > 1 => {
                if cap - out.len() < n {
                    break;
                }
                out.extend_from_slice(&s[i..i + n]);
                i += n;
            }
            _ => {
                let c = s[i];
                if c.is_ascii_alphanumeric() || b"#+-.:=@_".contains(&c) {
                    out.push(c);
                } else {
                    if cap - out.len() < 4 {
                        break;
                    }
                    out.extend_from_slice(format!("\\x{c:02x}").as_bytes());
                }
                i += 1;
            }
        }
        if out.len() + 3 >= cap {
            break;
        }
    }
    out
}

/// libblkid `blkid_safe_string` into a buffer of `cap` bytes: whitespace runs
/// collapsed to their first character and trimmed, then whitespace and invalid
/// UTF-8 replaced by `_`.
pub fn safe_string(s: &[u8], cap: usize) -> Vec<u8> {
    let s = &s[..s.len().min(cap)];
    let mut out = Vec::new();
    let (mut spaces, mut in_text) = (0, false);
    for &c in s {
        if out.len() >= cap - 1 {
            break;
        }
        if c.is_ascii_whitespace() || c == 0x0b {
            spaces += 1;
        } else {
            spaces = 0;
            in_text = true;
        }
        if spaces == 0 || (spaces == 1 && in_text) {
            out.push(c);
        }
    }
    if spaces > 0 && !out.is_empty() {
        out.pop();
    }
    let mut i = 0;
    while i < out.len() {
        let c = out[i];
        if c > 0x20 && c <= 0x7e {
            i += 1;
        } else if c.is_ascii_whitespace() || c == 0x0b {
            out[i] = b'_';
            i += 1;
        } else if let Some(n) = utf8_char_len(&out[i..]) {
            i += n;
        } else {
            out[i] = b'_';
            i += 1;
        }
    }
    out
}

/// Sizes of the buffers util-linux encodes udev values into.
pub const UDEV_ENC: usize = 265;
pub const UDEV_SAFE: usize = 256;
pub const AMBIVALENT_ENC: usize = 256;

/// One tag in `-o udev` form (util-linux `print_udev_format`).
pub fn udev_line(name: &str, value: &[u8]) -> Vec<u8> {
    const ENCODED: &[&str] = &[
        "TYPE",
        "VERSION",
        "SYSTEM_ID",
        "PUBLISHER_ID",
        "APPLICATION_ID",
        "BOOT_SYSTEM_ID",
        "VOLUME_ID",
        "LOGICAL_VOLUME_ID",
        "VOLUME_SET_ID",
        "DATA_PREPARER_ID",
    ];
    let line = |key: String, v: &[u8]| [key.as_bytes(), b"=", v, b"\n"].concat();
    if ENCODED.contains(&name) {
        line(format!("ID_FS_{name}"), &encode_string(value, UDEV_ENC))
    } else if name == "UUID" || name == "UUID_SUB" || name.starts_with("LABEL") {
        let mut out = line(format!("ID_FS_{name}"), &safe_string(value, UDEV_SAFE));
        out.extend(line(format!("ID_FS_{name}_ENC"), &encode_string(value, UDEV_ENC)));
        out
    } else if name == "PTUUID" {
        line("ID_PART_TABLE_UUID".into(), value)
    } else if name == "PTTYPE" {
        line("ID_PART_TABLE_TYPE".into(), value)
    } else if name == "PART_ENTRY_NAME" || name == "PART_ENTRY_TYPE" {
        line(format!("ID_{name}"), &encode_string(value, UDEV_ENC))
    } else if name.starts_with("PART_ENTRY_") {
        line(format!("ID_{name}"), value)
    } else if name.len() >= 15
        && (name.ends_with("_SECTOR_SIZE") || name.ends_with("_IO_SIZE") || name == "ALIGNMENT_OFFSET")
    {
        line(format!("ID_IOLIMIT_{name}"), value)
    } else {
        line(format!("ID_FS_{name}"), value)
    }
}

/// `ID_FS_AMBIVALENT=usage:type[:version] ...` for the signatures that conflict.
pub fn udev_ambivalent(found: &[Found]) -> Option<Vec<u8>> {
    if found.len() < 2 {
        return None;
    }
    let mut items = Vec::new();
    for f in found {
        let mut item = encode_string(f.usage.as_str().as_bytes(), AMBIVALENT_ENC);
        item.push(b':');
        item.extend(encode_string(f.name.as_bytes(), AMBIVALENT_ENC));
        if let Some(v) = f.get("VERSION") {
            item.push(b':');
            item.extend(encode_string(until_nul(v), AMBIVALENT_ENC));
        }
        items.push(item);
    }
    Some([b"ID_FS_AMBIVALENT=".as_slice(), &items.join(&b' '), b"\n"].concat())
}

/// The bytes before the first NUL (a C string in a fixed field).
pub fn until_nul(v: &[u8]) -> &[u8] {
    &v[..v.iter().position(|&b| b == 0).unwrap_or(v.len())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_and_export_escapes() {
        assert_eq!(escape_value(b"a b\"c\\$", FULL_SPECIAL), b"a b\\\"c\\\\$");
        assert_eq!(escape_value(b"a b\"c\\$", EXPORT_SPECIAL), b"a\\ b\\\"c\\\\\\$");
        assert_eq!(escape_value(b"\t\x7f\xc3\xa9", b""), b"^I^?M-CM-)");
        assert_eq!(escape_value(b"\x9b", b""), b"M-^[");
    }

    #[test]
    fn encode_keeps_utf8_and_whitelist() {
        assert_eq!(encode_string(b"a b\"c\\$", UDEV_ENC), b"a\\x20b\\x22c\\x5c\\x24");
        assert_eq!(encode_string("é€#+-.:=@_".as_bytes(), UDEV_ENC), "é€#+-.:=@_".as_bytes());
        // Lone continuation byte, overlong NUL, surrogate, noncharacter.
        assert_eq!(encode_string(b"\x80\xc0\x80", UDEV_ENC), b"\\x80\\xc0\\x80");
        assert_eq!(encode_string(b"\xed\xa0\x80", UDEV_ENC), b"\\xed\\xa0\\x80");
        assert_eq!(encode_string("\u{fdd0}".as_bytes(), UDEV_ENC), b"\\xef\\xb7\\x90");
        let long = encode_string(&[b' '; 100], UDEV_ENC);
        assert!(long.len() + 3 >= UDEV_ENC && long.len() < UDEV_ENC);
    }

    #[test]
    fn safe_string_collapses_and_replaces() {
        assert_eq!(safe_string(b"  a  b\t\tc  ", UDEV_SAFE), b"a_b_c");
        assert_eq!(safe_string(b"a\tb", UDEV_SAFE), b"a_b");
        assert_eq!(safe_string(b"x\xffy\x01", UDEV_SAFE), b"x_y\x01");
        assert_eq!(safe_string("é ü".as_bytes(), UDEV_SAFE), "é_ü".as_bytes());
        assert_eq!(safe_string(b"   ", UDEV_SAFE), b"");
    }

    #[test]
    fn udev_names() {
        assert_eq!(udev_line("LABEL", b"a b"), b"ID_FS_LABEL=a_b\nID_FS_LABEL_ENC=a\\x20b\n");
        assert_eq!(udev_line("PTTYPE", b"gpt"), b"ID_PART_TABLE_TYPE=gpt\n");
        assert_eq!(udev_line("PART_ENTRY_NAME", b"my part"), b"ID_PART_ENTRY_NAME=my\\x20part\n");
        assert_eq!(udev_line("PART_ENTRY_OFFSET", b"2048"), b"ID_PART_ENTRY_OFFSET=2048\n");
        assert_eq!(udev_line("BLOCK_SIZE", b"4096"), b"ID_FS_BLOCK_SIZE=4096\n");
        assert_eq!(udev_line("LOGICAL_SECTOR_SIZE", b"512"), b"ID_IOLIMIT_LOGICAL_SECTOR_SIZE=512\n");
    }

    #[test]
    fn udev_ambivalent_lists_usage_type_version() {
        let found = |name, usage, version: Option<&str>| Found {
            name,
            usage,
            tags: version
                .map(|v| crate::probe::Tag { name: "VERSION", value: v.as_bytes().to_vec() })
                .into_iter()
                .collect(),
        };
        let both = [
            found("ext4", crate::probe::Usage::Filesystem, Some("1.0")),
            found("swap", crate::probe::Usage::Other, None),
        ];
        assert_eq!(udev_ambivalent(&both).unwrap(), b"ID_FS_AMBIVALENT=filesystem:ext4:1.0 other:swap\n");
        assert_eq!(udev_ambivalent(&both[..1]), None);
    }
}
