//! The static filesystem table, fstab(5), as libmount 2.38 reads it
//! (`libmount/src/tab_parse.c`): blank-separated fields `source target type
//! [options [freq [passno]]]`, `#` comments and blank lines skipped, and the
//! same `\ooo` octal escapes as mountinfo (`\040` for a space in a path).
#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use super::mountinfo::unescape;
use super::source::Source;
use super::{canonical_or_given as canonical, probe_glue};

/// The table mount(8) reads when no other is given.
pub const FSTAB: &str = "/etc/fstab";

/// One fstab line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// A path or a tag (`UUID="…"`, quotes as written).
    pub source: String,
    pub target: PathBuf,
    pub fstype: String,
    /// Empty when the field is missing.
    pub options: String,
    pub freq: i32,
    pub passno: i32,
    /// 1-based line number in the file.
    pub line: usize,
}

impl Entry {
    /// `swap` entries are for swapon(8), not mount(8).
    pub fn is_swap(&self) -> bool {
        self.fstype == "swap"
    }

    /// The `noauto` word: `mount -a` skips the entry.
    pub fn is_noauto(&self) -> bool {
        self.options.split(',').any(|o| o == "noauto")
    }
}

/// The parsed entries and the numbers of the lines that could not be parsed
/// (mount(8) reports those and goes on).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table {
    pub entries: Vec<Entry>,
    pub bad_lines: Vec<usize>,
}

/// Parses fstab text.
pub fn parse(text: &[u8]) -> Table {
    let mut table = Table::default();
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let start = line.iter().position(|&b| b != b' ' && b != b'\t').unwrap_or(line.len());
        if start == line.len() || line[start] == b'#' {
            continue;
        }
        match parse_line(&line[start..], i + 1) {
            Some(e) => table.entries.push(e),
            None => table.bad_lines.push(i + 1),
        }
    }
    table
}

/// Reads and parses a table file.
pub fn read(path: &Path) -> io::Result<Table> {
    Ok(parse(&std::fs::read(path)?))
}

fn parse_line(line: &[u8], number: usize) -> Option<Entry> {
    let mut fields = line.split(|&b| b == b' ' || b == b'\t').filter(|f| !f.is_empty());
    let text = |f: &[u8]| String::from_utf8_lossy(&unescape(f)).into_owned();
    let source = text(fields.next()?);
    let target = PathBuf::from(OsString::from_vec(unescape(fields.next()?)));
    let fstype = text(fields.next()?);
    let options = fields.next().map(text).unwrap_or_default();
    // freq and passno are optional, but present ones must be numbers.
    let number_field = |f: Option<&[u8]>| -> Option<i32> {
        match f {
            None => Some(0),
            Some(f) => std::str::from_utf8(f).ok()?.parse().ok(),
        }
    };
    let freq = number_field(fields.next())?;
    let passno = number_field(fields.next())?;
    Some(Entry { source, target, fstype, options, freq, passno, line: number })
}

/// The last entry mounted on `target` (libmount `mnt_table_find_target`, which
/// searches fstab backwards), compared as written and canonicalized.
pub fn find_by_target<'t>(table: &'t [Entry], target: &str) -> Option<&'t Entry> {
    let wanted = canonical(Path::new(target));
    table.iter().rev().find(|e| e.target == Path::new(target) || canonical(&e.target) == wanted)
}

/// The last entry whose source is `source` (libmount `mnt_table_find_source`):
/// the same tag, the same path, or a tag that resolves to the device `source`
/// names.
pub fn find_by_source<'t>(table: &'t [Entry], source: &str) -> Option<&'t Entry> {
    let wanted = Source::parse(source);
    let path = canonical(Path::new(source));
    table.iter().rev().find(|e| {
        let theirs = Source::parse(&e.source);
        theirs == wanted
            || match (&theirs, &wanted) {
                (Source::Path(p), Source::Path(_)) => canonical(p) == path,
                (Source::Tag { .. }, Source::Path(_)) => theirs
                    .resolve(Some(probe_glue::resolver()))
                    .is_ok_and(|devices| devices.iter().any(|d| canonical(d) == path)),
                _ => false,
            }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_comments_and_escapes() {
        let t = parse(
            b"# comment\n\n  \t\n\
              UUID=\"c0ffee\"  /srv/backup\\040disk btrfs noatime,compress=zstd 0 2\n\
              /dev/sda1\t/boot vfat\r\n\
              LABEL=x /mnt/back\\134slash ext4 defaults 1\n\
              tmpfs /tmp tmpfs\n\
              only-two /fields\n\
              /dev/sdb /x ext4 rw zero\n\
              /dev/sdc none swap sw 0 0\n",
        );
        assert_eq!(t.bad_lines, vec![8, 9]);
        let e = &t.entries;
        assert_eq!(e.len(), 5);
        assert_eq!(e[0].source, "UUID=\"c0ffee\"");
        assert_eq!(e[0].target, Path::new("/srv/backup disk"));
        assert_eq!((e[0].fstype.as_str(), e[0].options.as_str()), ("btrfs", "noatime,compress=zstd"));
        assert_eq!((e[0].freq, e[0].passno, e[0].line), (0, 2, 4));
        assert_eq!((e[1].fstype.as_str(), e[1].options.as_str()), ("vfat", ""));
        assert_eq!(e[2].target, Path::new("/mnt/back\\slash"));
        assert_eq!(e[2].freq, 1);
        assert!(!e[3].is_noauto());
        assert!(e[4].is_swap());
        assert!(parse(b"a /b c noauto,ro\n").entries[0].is_noauto());
    }
}
