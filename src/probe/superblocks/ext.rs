//! ext2, ext3, ext4, ext4dev and ext3/4 external journals (jbd).
//!
//! All five share the superblock at 1 KiB and its magic; which one a
//! superblock is depends only on its feature bits, decided exactly as
//! libblkid 2.38.1 (`superblocks/ext.c`) does so that the same image gets the
//! same `TYPE`.
#![forbid(unsafe_code)]

use crate::probe::field::{layout, Bytes, Fields, Le16, Le32, Uuid};
use crate::probe::{Ctx, Magic, Prober, Usage};
use std::io;

/// The superblock starts 1 KiB into the device.
const SB_OFF: u64 = 0x400;

const MAGICS: &[Magic] = &[Magic { bytes: b"\x53\xef", kboff: 1, sboff: 0x38 }];

// libblkid reads (and requires) 512 bytes of the superblock.
layout! { SB_LEN = 0x200;
    S_LOG_BLOCK_SIZE: Le32 = 0x18;
    S_MINOR_REV_LEVEL: Le16 = 0x3e;
    S_REV_LEVEL: Le32 = 0x4c;
    S_FEATURE_COMPAT: Le32 = 0x5c;
    S_FEATURE_INCOMPAT: Le32 = 0x60;
    S_FEATURE_RO_COMPAT: Le32 = 0x64;
    S_UUID: Uuid = 0x68;
    S_VOLUME_NAME: Bytes<16> = 0x78;
    S_JOURNAL_UUID: Uuid = 0xd0;
    S_FLAGS: Le32 = 0x160;
}

/// `s_flags`: a filesystem made for testing ext4 development code (ext4dev).
const FLAGS_TEST_FILESYS: u32 = 0x0004;
/// `s_feature_compat`: has a journal (ext3 and later).
const COMPAT_HAS_JOURNAL: u32 = 0x0004;
/// `s_feature_incompat`: this device is an external journal.
const INCOMPAT_JOURNAL_DEV: u32 = 0x0008;

// The features an ext2 / ext3 driver understands; anything else makes the
// superblock a later revision. RO_COMPAT: sparse_super, large_file, btree_dir.
const EXT2_RO_COMPAT_SUPP: u32 = 0x0001 | 0x0002 | 0x0004;
// INCOMPAT: filetype, meta_bg.
const EXT2_INCOMPAT_SUPP: u32 = 0x0002 | 0x0010;
const EXT3_RO_COMPAT_SUPP: u32 = EXT2_RO_COMPAT_SUPP;
// INCOMPAT: filetype, needs_recovery, meta_bg.
const EXT3_INCOMPAT_SUPP: u32 = 0x0002 | 0x0004 | 0x0010;

struct Super {
    sb: Vec<u8>,
    compat: u32,
    incompat: u32,
    ro_compat: u32,
}

impl Super {
    fn read(ctx: &mut Ctx) -> io::Result<Super> {
        let sb = ctx.read(SB_OFF, SB_LEN)?;
        let (compat, incompat, ro_compat) =
            (sb.at(S_FEATURE_COMPAT), sb.at(S_FEATURE_INCOMPAT), sb.at(S_FEATURE_RO_COMPAT));
        Ok(Super { sb, compat, incompat, ro_compat })
    }

    fn uuid(&self, f: Uuid) -> [u8; 16] {
        self.sb.at(f)
    }

    /// The tags every member of the family sets, in libblkid's order.
    /// `ext2_like` is false for ext3/ext4/ext4dev, which may add `SEC_TYPE`.
    fn set_info(&self, ctx: &mut Ctx, ext2_like: bool) {
        let label = self.sb.at(S_VOLUME_NAME);
        if label[0] != 0 {
            ctx.set_label(&label);
        }
        ctx.set_uuid(&self.uuid(S_UUID));
        if self.compat & COMPAT_HAS_JOURNAL != 0 {
            ctx.set_uuid_tag("EXT_JOURNAL", &self.uuid(S_JOURNAL_UUID));
        }
        // A journalled filesystem an ext2 driver could still mount says so.
        if !ext2_like && self.incompat & !EXT2_INCOMPAT_SUPP == 0 {
            ctx.set("SEC_TYPE", &b"ext2"[..]);
        }
        ctx.set_version(format!("{}.{}", self.sb.at(S_REV_LEVEL), self.sb.at(S_MINOR_REV_LEVEL)));
        let log = self.sb.at(S_LOG_BLOCK_SIZE);
        if log < 32 {
            ctx.set_block_size(u64::from(1024u32 << log));
        }
    }
}

fn probe_jbd(ctx: &mut Ctx) -> io::Result<bool> {
    let s = Super::read(ctx)?;
    if s.incompat & INCOMPAT_JOURNAL_DEV == 0 {
        return Ok(false);
    }
    s.set_info(ctx, true);
    ctx.set_uuid_tag("LOGUUID", &s.uuid(S_UUID));
    Ok(true)
}

fn probe_ext2(ctx: &mut Ctx) -> io::Result<bool> {
    let s = Super::read(ctx)?;
    if s.compat & COMPAT_HAS_JOURNAL != 0
        || s.ro_compat & !EXT2_RO_COMPAT_SUPP != 0
        || s.incompat & !EXT2_INCOMPAT_SUPP != 0
    {
        return Ok(false);
    }
    s.set_info(ctx, true);
    Ok(true)
}

fn probe_ext3(ctx: &mut Ctx) -> io::Result<bool> {
    let s = Super::read(ctx)?;
    if s.compat & COMPAT_HAS_JOURNAL == 0
        || s.ro_compat & !EXT3_RO_COMPAT_SUPP != 0
        || s.incompat & !EXT3_INCOMPAT_SUPP != 0
    {
        return Ok(false);
    }
    s.set_info(ctx, false);
    Ok(true)
}

fn probe_ext4dev(ctx: &mut Ctx) -> io::Result<bool> {
    let s = Super::read(ctx)?;
    if s.incompat & INCOMPAT_JOURNAL_DEV != 0 || s.sb.at(S_FLAGS) & FLAGS_TEST_FILESYS == 0 {
        return Ok(false);
    }
    s.set_info(ctx, false);
    Ok(true)
}

fn probe_ext4(ctx: &mut Ctx) -> io::Result<bool> {
    let s = Super::read(ctx)?;
    if s.incompat & INCOMPAT_JOURNAL_DEV != 0 {
        return Ok(false);
    }
    // ext4 needs at least one feature ext3 does not know ...
    if s.ro_compat & !EXT3_RO_COMPAT_SUPP == 0 && s.incompat & !EXT3_INCOMPAT_SUPP == 0 {
        return Ok(false);
    }
    // ... and a test filesystem is ext4dev (probed before this one).
    if s.sb.at(S_FLAGS) & FLAGS_TEST_FILESYS != 0 {
        return Ok(false);
    }
    s.set_info(ctx, false);
    Ok(true)
}

pub static EXT4DEV: Prober =
    Prober { name: "ext4dev", usage: Usage::Filesystem, magics: MAGICS, probe: probe_ext4dev, ..Prober::BASE };
pub static EXT4: Prober =
    Prober { name: "ext4", usage: Usage::Filesystem, magics: MAGICS, probe: probe_ext4, ..Prober::BASE };
pub static EXT3: Prober =
    Prober { name: "ext3", usage: Usage::Filesystem, magics: MAGICS, probe: probe_ext3, ..Prober::BASE };
pub static EXT2: Prober =
    Prober { name: "ext2", usage: Usage::Filesystem, magics: MAGICS, probe: probe_ext2, ..Prober::BASE };
pub static JBD: Prober = Prober { name: "jbd", usage: Usage::Other, magics: MAGICS, probe: probe_jbd, ..Prober::BASE };

#[cfg(test)]
mod tests {
    use crate::support::probe::assert_same_as_blkid;
    use crate::support::{have, run, serial, zero_image, Loop, LoopOpts, TempDir};

    /// mkfs.ext* into a file of `size` bytes with `args`, then compare with blkid.
    fn check(mkfs: &str, size: u64, args: &[&str]) {
        if !have(mkfs) {
            eprintln!("skipped: {mkfs} not installed");
            return;
        }
        let dir = TempDir::new("ext");
        let img = dir.join("fs.img");
        zero_image(&img, size);
        let img_s = img.to_str().expect("utf-8 temp path");
        let mut a = vec!["-q", "-F"];
        a.extend_from_slice(args);
        a.push(img_s);
        run(mkfs, &a);
        assert_same_as_blkid(&img);
    }

    #[test]
    fn ext2_ext3_ext4_like_blkid() {
        check("mkfs.ext2", 4 << 20, &["-L", "e2label"]);
        check("mkfs.ext3", 8 << 20, &["-L", "e3 label"]);
        check("mkfs.ext4", 8 << 20, &["-L", "e4label"]);
        check("mkfs.ext4", 8 << 20, &[]);
    }

    #[test]
    fn block_sizes_and_odd_labels_like_blkid() {
        check("mkfs.ext4", 8 << 20, &["-b", "1024", "-L", "a \"q\" $x`<>"]);
        check("mkfs.ext4", 8 << 20, &["-b", "4096", "-L", "sixteen-bytes-xx"]);
        check("mkfs.ext2", 4 << 20, &["-L", "grün é"]);
        check("mkfs.ext4", 8 << 20, &["-L", "  trailing   "]);
    }

    #[test]
    fn feature_variants_like_blkid() {
        // ext3 that an ext2 driver could not mount (no SEC_TYPE); ext4 without extents.
        check("mkfs.ext3", 8 << 20, &["-O", "^filetype"]);
        check(
            "mkfs.ext4",
            8 << 20,
            &["-O", "^extent,^64bit,^flex_bg,^huge_file,^dir_nlink,^extra_isize,^metadata_csum"],
        );
        check("mkfs.ext4", 8 << 20, &["-E", "test_fs"]);
        check("mkfs.ext2", 4 << 20, &["-r", "0"]);
    }

    #[test]
    fn external_journal_like_blkid() {
        if !have("mkfs.ext4") || !have("losetup") || !std::path::Path::new("/dev/loop-control").exists() {
            eprintln!("skipped: mkfs.ext4 or loop devices missing");
            return;
        }
        let dir = TempDir::new("extjournal");
        let (j, fs) = (dir.join("journal.img"), dir.join("fs.img"));
        zero_image(&j, 4 << 20);
        zero_image(&fs, 16 << 20);
        run("mkfs.ext4", &["-q", "-F", "-O", "journal_dev", "-b", "4096", "-L", "jlabel", j.to_str().expect("utf-8")]);
        assert_same_as_blkid(&j);
        // mke2fs takes an external journal only as a block device.
        let lock = serial();
        let lo = Loop::attach(&lock, &j, LoopOpts::PARTITIONS);
        let journal = format!("device={}", lo.0.display());
        run("mkfs.ext4", &["-q", "-F", "-b", "4096", "-J", &journal, fs.to_str().expect("utf-8")]);
        assert_same_as_blkid(&fs);
        assert_same_as_blkid(&lo.0);
    }

    /// ext2 with the test_fs flag is also ext4dev: ambivalent, except on a
    /// floppy-sized device, where the first match (ext4dev) wins.
    #[test]
    fn test_fs_ext2_is_ambivalent_unless_tiny() {
        use crate::probe::{probe_path, Options, Probed};
        use crate::support::probe::{blkid_export, BLKID};
        if !have("mkfs.ext2") || !have("tune2fs") {
            eprintln!("skipped: mkfs.ext2 or tune2fs not installed");
            return;
        }
        let dir = TempDir::new("ext4dev");
        for size in [1u64 << 20, 4 << 20] {
            let img = dir.join(&format!("{size}.img"));
            zero_image(&img, size);
            let s = img.to_str().expect("utf-8");
            run("mkfs.ext2", &["-q", "-F", s]);
            run("tune2fs", &["-E", "test_fs", s]);
            if size <= 1440 * 1024 {
                assert_same_as_blkid(&img);
                continue;
            }
            assert_eq!(blkid_export(&img, &[]), None);
            let udev = std::process::Command::new(BLKID).args(["-p", "-o", "udev", s]).output().expect("blkid");
            let line = String::from_utf8_lossy(&udev.stdout).trim().to_string();
            let Probed::Ambivalent(found) = probe_path(&img, &Options::default()).expect("probe") else {
                panic!("not ambivalent")
            };
            let ours: Vec<String> = found
                .iter()
                .map(|f| {
                    let v = String::from_utf8_lossy(f.get("VERSION").unwrap_or_default()).into_owned();
                    format!("{}:{}:{v}", f.usage.as_str(), f.name)
                })
                .collect();
            assert_eq!(format!("ID_FS_AMBIVALENT={}", ours.join(" ")), line);
        }
    }
}
