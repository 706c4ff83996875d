//! Mount sources: a path, or a tag (`UUID=`, `LABEL=`, `PARTUUID=`,
//! `PARTLABEL=`) that a prober turns into device paths, as mount(8)
//! "INDEXES" and fstab(5) describe them.
//!
//! The tag lookup itself is not done here: callers pass a resolver, a function
//! from (tag name, value) to the devices that carry it, so that any prober
//! (or a test double) can be plugged in.
#![forbid(unsafe_code)]

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::text::unquote;

/// The quotes a tag's value may have around it: fstab's, and gokrazy's
/// env.txt values, which keep them.
pub const QUOTES: &[char] = &['"', '\''];

/// Looks devices up by tag: `resolver("UUID", "c0ffee…")` returns every
/// device whose probe gives that value (several for a multi-device btrfs).
pub type Resolver<'a> = &'a dyn Fn(&str, &str) -> io::Result<Vec<PathBuf>>;

/// The tags a source may name.
pub const TAGS: &[&str] = &["UUID", "LABEL", "PARTUUID", "PARTLABEL"];

/// A parsed source spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Path(PathBuf),
    /// `name` is one of [`TAGS`]; `value` has its quotes removed.
    Tag {
        name: &'static str,
        value: String,
    },
}

/// Why a source gave no usable device.
#[derive(Debug)]
pub enum SourceError {
    /// No device carries the tag: mount(8) says `can't find UUID=…`.
    NotFound(Source),
    /// A tag was given but nothing can look tags up.
    NoResolver(Source),
    /// Several devices carry the tag and the filesystem is not a
    /// multi-device one.
    Ambiguous(Source, Vec<PathBuf>),
    /// The resolver failed.
    Io(Source, io::Error),
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceError::NotFound(s) => write!(f, "can't find {s}"),
            SourceError::NoResolver(s) => write!(f, "can't find {s}: no device prober available"),
            SourceError::Ambiguous(s, devices) => {
                let names: Vec<String> = devices.iter().map(|d| d.display().to_string()).collect();
                write!(f, "{s} matches several devices ({}); only btrfs may span devices", names.join(", "))
            }
            SourceError::Io(s, e) => write!(f, "can't find {s}: {e}"),
        }
    }
}

impl std::error::Error for SourceError {}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Path(p) => write!(f, "{}", p.display()),
            Source::Tag { name, value } => write!(f, "{name}={value}"),
        }
    }
}

impl Source {
    /// Parses a source as mount(8) does: `NAME=value` for a known tag name,
    /// with one level of single or double quotes around the value (fstab, and
    /// gokrazy env.txt values, which keep their quotes); anything else is a path.
    pub fn parse(spec: &str) -> Source {
        if let Some((name, value)) = spec.split_once('=') {
            if let Some(&name) = TAGS.iter().find(|t| **t == name) {
                return Source::Tag { name, value: unquote(value, QUOTES).to_string() };
            }
        }
        Source::Path(PathBuf::from(spec))
    }

    /// Like [`Source::parse`], and a bare UUID that is not an existing path
    /// (`c0ffee00-…`, a FAT `ABCD-1234`, quotes allowed) means `UUID=` that
    /// value. For configuration that names a disk by its UUID alone.
    pub fn parse_or_bare_uuid(spec: &str) -> Source {
        match Source::parse(spec) {
            Source::Path(p) => {
                let bare = unquote(spec, QUOTES);
                if looks_like_uuid(bare) && !p.exists() {
                    Source::Tag { name: "UUID", value: bare.to_string() }
                } else {
                    Source::Path(p)
                }
            }
            tag => tag,
        }
    }

    /// The devices this source stands for: a path as it is, a tag through
    /// `resolver`. Never empty on success; duplicates removed, order kept.
    pub fn resolve(&self, resolver: Option<Resolver<'_>>) -> Result<Vec<PathBuf>, SourceError> {
        match self {
            Source::Path(p) => Ok(vec![p.clone()]),
            Source::Tag { name, value } => {
                let resolver = resolver.ok_or_else(|| SourceError::NoResolver(self.clone()))?;
                let found = resolver(name, value).map_err(|e| SourceError::Io(self.clone(), e))?;
                let mut devices: Vec<PathBuf> = Vec::new();
                for d in found {
                    if !devices.contains(&d) {
                        devices.push(d);
                    }
                }
                if devices.is_empty() {
                    return Err(SourceError::NotFound(self.clone()));
                }
                Ok(devices)
            }
        }
    }
}

/// Accepts several devices only for btrfs, whose members share one `UUID`
/// (the filesystem id) and differ in `UUID_SUB`.
pub fn check_devices(source: &Source, devices: &[PathBuf], fstype: Option<&str>) -> Result<(), SourceError> {
    if devices.len() > 1 && !super::filesystem::may_span_devices(fstype) {
        return Err(SourceError::Ambiguous(source.clone(), devices.to_vec()));
    }
    Ok(())
}

/// A canonical 8-4-4-4-12 UUID, a FAT/exFAT volume id `XXXX-XXXX`, or a
/// 16-digit NTFS serial, as blkid prints them.
fn looks_like_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    let hex = groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()));
    hex && (lens == [8, 4, 4, 4, 12] || lens == [4, 4] || lens == [16])
}

/// True when `path` names something that exists and is a regular file (a
/// candidate for a loop device).
pub fn is_regular_file(path: &Path) -> bool {
    path.metadata().map(|m| m.is_file()).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(name: &'static str, value: &str) -> Source {
        Source::Tag { name, value: value.to_string() }
    }

    #[test]
    fn parse_tags_and_paths() {
        assert_eq!(Source::parse("/dev/sda1"), Source::Path("/dev/sda1".into()));
        assert_eq!(Source::parse("UUID=abc"), tag("UUID", "abc"));
        assert_eq!(Source::parse("UUID=\"abc\""), tag("UUID", "abc"));
        assert_eq!(Source::parse("LABEL='my disk'"), tag("LABEL", "my disk"));
        assert_eq!(Source::parse("PARTUUID=1234-01"), tag("PARTUUID", "1234-01"));
        assert_eq!(Source::parse("PARTLABEL=\"a=b\""), tag("PARTLABEL", "a=b"));
        // Unknown names and lower case are paths, as in mount(8).
        assert_eq!(Source::parse("uuid=abc"), Source::Path("uuid=abc".into()));
        assert_eq!(Source::parse("/tmp/a=b"), Source::Path("/tmp/a=b".into()));
        // Unbalanced quotes stay.
        assert_eq!(Source::parse("LABEL=\"x"), tag("LABEL", "\"x"));
        assert_eq!(tag("UUID", "x").to_string(), "UUID=x");
    }

    #[test]
    fn bare_uuids() {
        let u = "0b3c1f0e-6a4e-4c1a-9d1e-2f3a4b5c6d7e";
        assert_eq!(Source::parse_or_bare_uuid(u), tag("UUID", u));
        assert_eq!(Source::parse_or_bare_uuid(&format!("\"{u}\"")), tag("UUID", u));
        assert_eq!(Source::parse_or_bare_uuid("ABCD-1234"), tag("UUID", "ABCD-1234"));
        assert_eq!(Source::parse_or_bare_uuid("0123456789ABCDEF"), tag("UUID", "0123456789ABCDEF"));
        assert_eq!(Source::parse_or_bare_uuid("/dev/sda"), Source::Path("/dev/sda".into()));
        assert_eq!(Source::parse_or_bare_uuid("sdb-1"), Source::Path("sdb-1".into()));
        assert_eq!(Source::parse_or_bare_uuid("LABEL=x"), tag("LABEL", "x"));
    }

    #[test]
    fn resolution() {
        let r = |name: &str, value: &str| -> io::Result<Vec<PathBuf>> {
            Ok(match (name, value) {
                ("UUID", "one") => vec!["/dev/sda1".into()],
                ("UUID", "two") => vec!["/dev/sdb".into(), "/dev/sdc".into(), "/dev/sdb".into()],
                _ => vec![],
            })
        };
        let one = tag("UUID", "one");
        assert_eq!(one.resolve(Some(&r)).unwrap(), vec![PathBuf::from("/dev/sda1")]);
        let two = tag("UUID", "two");
        let devices = two.resolve(Some(&r)).unwrap();
        assert_eq!(devices, vec![PathBuf::from("/dev/sdb"), PathBuf::from("/dev/sdc")]);
        assert!(check_devices(&two, &devices, Some("btrfs")).is_ok());
        let err = check_devices(&two, &devices, Some("ext4")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "UUID=two matches several devices (/dev/sdb, /dev/sdc); only btrfs may span devices"
        );
        let missing = tag("UUID", "nope");
        assert_eq!(missing.resolve(Some(&r)).unwrap_err().to_string(), "can't find UUID=nope");
        assert!(matches!(missing.resolve(None), Err(SourceError::NoResolver(_))));
        let path = Source::parse("/x");
        assert_eq!(path.resolve(None).unwrap(), vec![PathBuf::from("/x")]);
    }
}
