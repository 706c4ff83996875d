//! What a prober is and what it gets: its magics, the device it looks at, and
//! the setters that put tags in libblkid's forms (labels trimmed as C trims
//! them, UUIDs formatted, on-disk text converted to UTF-8).
#![forbid(unsafe_code)]

use super::{Reader, Tag, Usage};
use std::io;

/// A magic string at `kboff * 1024 + sboff` bytes from the start of the device,
/// as util-linux's `struct blkid_idmag` places it.
#[derive(Debug)]
pub struct Magic {
    pub bytes: &'static [u8],
    pub kboff: u64,
    pub sboff: u64,
}

impl Magic {
    /// Byte offset of the magic string.
    pub const fn offset(&self) -> u64 {
        self.kboff * 1024 + self.sboff
    }
}

/// A superblock prober: its identity, its magics and its check.
pub struct Prober {
    /// The `TYPE` value.
    pub name: &'static str,
    pub usage: Usage,
    /// May coexist with another signature without making the result ambivalent
    /// (libblkid's `BLKID_IDINFO_TOLERANT`: iso9660, udf, hfs…).
    pub tolerant: bool,
    /// The function is called only if one of these is found (for the first
    /// one found, in this order); with none, it is always called.
    pub magics: &'static [Magic],
    /// The smallest device, in bytes, the type can be on (libblkid's `minsz`;
    /// 0: no minimum). A smaller device is not searched for the magics.
    pub min_size: u64,
    /// Check the signature and set tags. `Ok(false)`: not this type.
    /// A read past the end of the device also means "not this type".
    pub probe: fn(&mut Ctx) -> io::Result<bool>,
}

impl Prober {
    /// What a prober is unless it says otherwise: not tolerant, no magics
    /// (its function is always called), no minimum size. A prober names
    /// itself, its usage and its function, then `..Prober::BASE`.
    pub const BASE: Prober =
        Prober { name: "", usage: Usage::Filesystem, tolerant: false, magics: &[], min_size: 0, probe: |_| Ok(false) };
}

/// What the prober needs to know about a block device beyond its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    pub major: u32,
    pub minor: u32,
    /// Not a partition of another device.
    pub whole_disk: bool,
    /// Logical sector size (`queue/logical_block_size`), 512 when unknown.
    pub sector_size: u64,
}

/// What the probers may know about the device besides its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Medium {
    /// A regular file (or bytes in memory), not a block device.
    pub regular_file: bool,
    /// A block device that is not a partition (`blkid_probe_is_wholedisk`).
    pub whole_disk: bool,
    /// An optical drive: libblkid looks for no RAID and no "other" signature
    /// (swap, journals, caches) there, whose last sectors often do not read.
    pub cdrom: bool,
    /// Logical sector size in bytes (512 for files).
    pub sector_size: u64,
}

/// The block major number of SCSI CD-ROM drives (`sr`).
pub(super) const SCSI_CDROM_MAJOR: u32 = 11;

impl Medium {
    /// Not a partition: libblkid looks for firmware-RAID metadata only on
    /// these (`S_ISREG(mode) || blkid_probe_is_wholedisk`).
    pub fn disk_or_file(&self) -> bool {
        self.regular_file || self.whole_disk
    }
}

impl Default for Medium {
    fn default() -> Medium {
        Medium { regular_file: true, whole_disk: false, cdrom: false, sector_size: 512 }
    }
}

/// What a prober gets: the device, the magic that matched, and where tags go.
pub struct Ctx<'r> {
    pub reader: &'r mut Reader,
    /// The magic that matched, if the prober has magics.
    pub magic: Option<&'static Magic>,
    pub medium: Medium,
    tags: Vec<Tag>,
}

impl<'r> Ctx<'r> {
    pub fn new(reader: &'r mut Reader, magic: Option<&'static Magic>) -> Ctx<'r> {
        Ctx { reader, magic, medium: Medium::default(), tags: Vec::new() }
    }

    /// `len` bytes at `off`; see [`Reader::read`].
    pub fn read(&mut self, off: u64, len: usize) -> io::Result<Vec<u8>> {
        self.reader.read(off, len)
    }

    /// Like [`Ctx::read`], but a range outside the device is `None` rather than an
    /// error: for walks where libblkid stops at an unreadable block instead of
    /// rejecting the signature.
    pub fn read_opt(&mut self, off: u64, len: usize) -> io::Result<Option<Vec<u8>>> {
        match self.reader.read(off, len) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The tags set so far, in order.
    pub fn tags(&self) -> &[Tag] {
        &self.tags
    }

    pub fn into_tags(self) -> Vec<Tag> {
        self.tags
    }

    /// Set a tag, replacing an earlier value of the same name in place.
    pub fn set(&mut self, name: &'static str, value: impl Into<Vec<u8>>) {
        let value = value.into();
        match self.tags.iter_mut().find(|t| t.name == name) {
            Some(t) => t.value = value,
            None => self.tags.push(Tag { name, value }),
        }
    }

    /// Set a label-like tag the way libblkid's `blkid_probe_set_label` does: cut at
    /// the first NUL, trailing whitespace removed, nothing set when empty.
    pub fn set_label_tag(&mut self, name: &'static str, raw: &[u8]) {
        let v = trim_end_c_space(cut_at_nul(raw));
        if !v.is_empty() {
            self.set(name, v.to_vec());
        }
    }

    /// `LABEL` from raw bytes (see [`Ctx::set_label_tag`]).
    pub fn set_label(&mut self, raw: &[u8]) {
        self.set_label_tag("LABEL", raw)
    }

    /// `LABEL` from UTF-16 code units (`big_endian` or little), converted to UTF-8
    /// as libblkid's `blkid_probe_set_utf8label` does: up to the first NUL, see
    /// [`encode_to_utf8`].
    pub fn set_utf16_label(&mut self, raw: &[u8], big_endian: bool) {
        let enc = if big_endian { Encoding::Utf16Be } else { Encoding::Utf16Le };
        self.set_label_tag("LABEL", &encode_to_utf8(enc, raw));
    }

    /// A 16-byte UUID as `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` under `name`;
    /// an all-zero UUID is not set (libblkid's `blkid_uuid_is_empty`).
    pub fn set_uuid_tag(&mut self, name: &'static str, raw: &[u8; 16]) {
        if raw.iter().all(|&b| b == 0) {
            return;
        }
        let s = uuid::Uuid::from_bytes(*raw).hyphenated().to_string();
        self.set(name, s.into_bytes());
    }

    /// `UUID` from 16 raw bytes.
    pub fn set_uuid(&mut self, raw: &[u8; 16]) {
        self.set_uuid_tag("UUID", raw)
    }

    /// `UUID` as already formatted `text` (a FAT serial `XXXX-XXXX`, an NTFS
    /// serial…), not set when the `raw` bytes it was made from are all zero, as
    /// libblkid's `blkid_probe_sprintf_uuid` does.
    pub fn set_uuid_formatted(&mut self, raw: &[u8], text: impl Into<String>) {
        if raw.iter().any(|&b| b != 0) {
            self.set("UUID", text.into().into_bytes());
        }
    }

    /// `VERSION`.
    pub fn set_version(&mut self, v: impl Into<String>) {
        self.set("VERSION", v.into().into_bytes());
    }

    /// `BLOCK_SIZE`, in bytes.
    pub fn set_block_size(&mut self, size: u64) {
        self.set("BLOCK_SIZE", size.to_string().into_bytes());
    }
}

/// `isspace()` in the C locale, which libblkid's trimming uses: unlike
/// [`u8::is_ascii_whitespace`] it includes the vertical tab.
pub fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

pub(super) fn cut_at_nul(raw: &[u8]) -> &[u8] {
    raw.iter().position(|&b| b == 0).map_or(raw, |n| &raw[..n])
}

fn trim_end_c_space(v: &[u8]) -> &[u8] {
    let end = v.iter().rposition(|&b| !is_c_space(b)).map_or(0, |i| i + 1);
    &v[..end]
}

/// Character sets of on-disk strings that libblkid converts to UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Utf16Be,
    Utf16Le,
    Latin1,
}

/// Convert on-disk text to UTF-8 as util-linux's `ul_encode_to_utf8` does: stop
/// at the first NUL character, join valid surrogate pairs, and encode anything
/// else (lone surrogates too) as its own 1-3 byte sequence, so the result is
/// not always valid UTF-8. A trailing odd byte of UTF-16 is dropped.
pub fn encode_to_utf8(enc: Encoding, src: &[u8]) -> Vec<u8> {
    encode_to_utf8_max(enc, src, usize::MAX)
}

/// [`encode_to_utf8`] into a C buffer of `cap` bytes: at most `cap - 1` bytes
/// come out, and the first character that does not fit ends the conversion.
pub fn encode_to_utf8_max(enc: Encoding, src: &[u8], cap: usize) -> Vec<u8> {
    let unit = |i: usize| -> u32 {
        match enc {
            Encoding::Utf16Be => u32::from(src[i]) << 8 | u32::from(src[i + 1]),
            Encoding::Utf16Le => u32::from(src[i + 1]) << 8 | u32::from(src[i]),
            Encoding::Latin1 => u32::from(src[i]),
        }
    };
    let step = if enc == Encoding::Latin1 { 1 } else { 2 };
    let mut out = Vec::with_capacity(src.len() * 2);
    let mut i = 0;
    while i + step <= src.len() {
        let mut c = unit(i);
        i += step;
        if step == 2 && (0xd800..=0xdbff).contains(&c) && i + 2 <= src.len() {
            let low = unit(i);
            if (0xdc00..=0xdfff).contains(&low) {
                c = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
                i += 2;
            }
        }
        let need = match c {
            0 => break,
            1..=0x7f => 1,
            0x80..=0x7ff => 2,
            0x800..=0xffff => 3,
            _ => 4,
        };
        if out.len() + need >= cap {
            break;
        }
        match c {
            0..=0x7f => out.push(c as u8),
            0x80..=0x7ff => out.extend([0xc0 | (c >> 6) as u8, 0x80 | (c & 0x3f) as u8]),
            0x800..=0xffff => {
                out.extend([0xe0 | (c >> 12) as u8, 0x80 | ((c >> 6) & 0x3f) as u8, 0x80 | (c & 0x3f) as u8])
            }
            _ => out.extend([
                0xf0 | (c >> 18) as u8,
                0x80 | ((c >> 12) & 0x3f) as u8,
                0x80 | ((c >> 6) & 0x3f) as u8,
                0x80 | (c & 0x3f) as u8,
            ]),
        }
    }
    out
}

/// Helpers for libblkid's other ways of setting a value.
impl Ctx<'_> {
    /// Add a tag even if one of the same name exists, as libblkid's value list
    /// does (blkid then prints both).
    pub fn push(&mut self, name: &'static str, value: impl Into<Vec<u8>>) {
        self.tags.push(Tag { name, value: value.into() });
    }

    /// `LABEL` as [`Ctx::set_label`] makes it, but added even if a `LABEL`
    /// exists (libblkid keeps both).
    pub fn push_label(&mut self, raw: &[u8]) {
        let v = trim_end_c_space(cut_at_nul(raw));
        if !v.is_empty() {
            self.push("LABEL", v);
        }
    }

    /// An identifier tag (`SYSTEM_ID`, `SUBSYSTEM`…) as libblkid's
    /// `blkid_probe_set_id_label` sets it: cut at the first NUL, whitespace
    /// trimmed at both ends, nothing set when empty.
    pub fn set_id_label(&mut self, name: &'static str, raw: &[u8]) {
        let v = trim_end_c_space(cut_at_nul(raw));
        let start = v.iter().position(|&b| !is_c_space(b)).unwrap_or(v.len());
        if start < v.len() {
            self.set(name, v[start..].to_vec());
        }
    }

    /// `LABEL` from text in `enc`, as `blkid_probe_set_utf8label` (trailing
    /// whitespace trimmed).
    pub fn set_encoded_label(&mut self, raw: &[u8], enc: Encoding) {
        self.set_label_tag("LABEL", &encode_to_utf8(enc, raw));
    }

    /// An identifier tag from text in `enc`, as `blkid_probe_set_utf8_id_label`
    /// (whitespace trimmed at both ends).
    pub fn set_encoded_id_label(&mut self, name: &'static str, raw: &[u8], enc: Encoding) {
        self.set_id_label(name, &encode_to_utf8(enc, raw));
    }

    /// `UUID` stored as a string, as `blkid_probe_strncpy_uuid`: not set when
    /// the first byte is NUL, cut at a NUL, trailing whitespace trimmed.
    pub fn set_uuid_string(&mut self, raw: &[u8]) {
        if raw.first().is_some_and(|&b| b != 0) {
            self.set_label_tag("UUID", raw);
        }
    }
}

#[cfg(test)]
mod value_tests {
    use super::*;

    #[test]
    fn encode_to_utf8_follows_util_linux() {
        // A surrogate pair joins; a lone surrogate is encoded as it is; NUL ends.
        let be = [0xd8, 0x3d, 0xde, 0x00, 0xd8, 0x00, 0x00, b'a', 0x00, 0x00, 0x00, b'b'];
        assert_eq!(encode_to_utf8(Encoding::Utf16Be, &be), b"\xf0\x9f\x98\x80\xed\xa0\x80a");
        assert_eq!(encode_to_utf8(Encoding::Utf16Le, b"a\0\xe9\0z"), "aé".as_bytes());
        assert_eq!(encode_to_utf8(Encoding::Latin1, b"caf\xe9"), "café".as_bytes());
        // A 5-byte buffer holds 4 bytes and the NUL: "é" does not fit after "abc".
        assert_eq!(encode_to_utf8_max(Encoding::Latin1, b"abc\xe9", 5), b"abc");
    }

    #[test]
    fn labels_trim_like_c_isspace() {
        let mut r = Reader::from_bytes(vec![]);
        let mut ctx = Ctx::new(&mut r, None);
        ctx.set_label(b"lbl \x0b\t\0junk");
        ctx.set_id_label("SYSTEM_ID", b"\x0b  id  ");
        ctx.set_id_label("EMPTY", b"   ");
        ctx.set_uuid_string(b"\0abc");
        ctx.push("X", "1");
        ctx.push("X", "2");
        let tags: Vec<_> = ctx.tags().iter().map(|t| (t.name, t.value.as_slice())).collect();
        assert_eq!(tags, [("LABEL", &b"lbl"[..]), ("SYSTEM_ID", b"id"), ("X", b"1"), ("X", b"2")]);
    }
}
