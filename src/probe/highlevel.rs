//! The tags `blkid` shows without `-p`: what libblkid keeps when it turns a
//! low-level probe into cache entries (`blkid_verify`, `blkid_probe_to_tags` in
//! util-linux 2.38.1 `libblkid/src/verify.c`).
//!
//! The cache probes with LABEL, UUID, TYPE and SEC_TYPE enabled but not VERSION
//! or USAGE; of the partition entry only its UUID and name survive, renamed; and
//! informational superblock fields whose names contain `_ID` (iso9660's
//! SYSTEM_ID, APPLICATION_ID…) are left out. Everything else keeps probe order.
#![forbid(unsafe_code)]

use super::{probe_path, Options, Probed, Tag};
use std::io;
use std::path::Path;

/// The high-level tag list for a low-level one, in the order `blkid` prints it.
pub fn high_level(tags: &[Tag]) -> Vec<Tag> {
    let mut out: Vec<Tag> = Vec::new();
    for tag in tags {
        let name = match tag.name {
            "VERSION" | "USAGE" => continue,
            "PART_ENTRY_UUID" => "PARTUUID",
            "PART_ENTRY_NAME" => "PARTLABEL",
            n if n.starts_with("PART_ENTRY_") || n.contains("_ID") => continue,
            n => n,
        };
        // A cache entry holds one value per name; a repeated name updates it in place.
        match out.iter_mut().find(|t| t.name == name) {
            Some(t) => t.value.clone_from(&tag.value),
            None => out.push(Tag { name, value: tag.value.clone() }),
        }
    }
    out
}

/// Probe `path` as the cache does (whole device, partition details on, and no
/// `-p` rule that a small partitioned disk shows only its table) and return its
/// high-level tags; `None` when nothing, or more than one conflicting
/// signature, is found.
pub fn probe(path: &Path) -> io::Result<Option<Vec<Tag>>> {
    let opts = Options { small_disk_table_only: false, ..Options::default() };
    Ok(match probe_path(path, &opts)? {
        Probed::Tags(tags) => Some(high_level(&tags)),
        Probed::Nothing | Probed::Ambivalent(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[(&'static str, &str)]) -> Vec<Tag> {
        list.iter().map(|&(name, v)| Tag { name, value: v.as_bytes().to_vec() }).collect()
    }

    fn names(tags: &[Tag]) -> Vec<&str> {
        tags.iter().map(|t| t.name).collect()
    }

    #[test]
    fn drops_version_usage_and_keeps_order() {
        let low = tags(&[
            ("LABEL", "l"),
            ("UUID", "u"),
            ("SEC_TYPE", "ext2"),
            ("VERSION", "1.0"),
            ("BLOCK_SIZE", "1024"),
            ("TYPE", "ext3"),
            ("USAGE", "filesystem"),
        ]);
        assert_eq!(names(&high_level(&low)), ["LABEL", "UUID", "SEC_TYPE", "BLOCK_SIZE", "TYPE"]);
    }

    #[test]
    fn partition_entry_renamed_or_dropped() {
        let low = tags(&[
            ("TYPE", "ext4"),
            ("PART_ENTRY_SCHEME", "gpt"),
            ("PART_ENTRY_NAME", "root"),
            ("PART_ENTRY_UUID", "abc"),
            ("PART_ENTRY_TYPE", "t"),
            ("PART_ENTRY_NUMBER", "1"),
        ]);
        let high = high_level(&low);
        assert_eq!(names(&high), ["TYPE", "PARTLABEL", "PARTUUID"]);
        assert_eq!(high[1].value, b"root");
    }

    #[test]
    fn informational_ids_dropped_but_not_uuid_sub() {
        let low = tags(&[
            ("LABEL", "CD"),
            ("SYSTEM_ID", "LINUX"),
            ("APPLICATION_ID", "x"),
            ("UUID_SUB", "s"),
            ("PTUUID", "p"),
            ("PTTYPE", "dos"),
        ]);
        assert_eq!(names(&high_level(&low)), ["LABEL", "UUID_SUB", "PTUUID", "PTTYPE"]);
    }
}
