//! The vfat, swap, xfs, exfat, btrfs, ntfs, f2fs, squashfs, erofs, nilfs2, jfs
//! and reiserfs probers against util-linux: images made by the real mkfs tools
//! (some then patched where a tool cannot write what is to be tested) are
//! probed by krazybox and by `/usr/sbin/blkid -p -o export`, and the type, usage
//! and every tag, in order, must be the same.
//!
//! A test whose tools are missing says so on stderr and passes: the comparison
//! needs the oracle.

use krazybox::probe::superblocks::PROBERS;
use krazybox::probe::{encode_to_utf8, find_magic, probe_superblocks, Ctx, Encoding, Outcome, Prober, Reader};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{need, serial, Loop, LoopOpts, TempDir};

const BLKID: &str = "/usr/sbin/blkid";

/// Run a command that must succeed; mkfs tools are told to be non-interactive.
fn run(cmd: &mut Command) {
    let out = cmd.env("LC_ALL", "C.UTF-8").output().unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn mkfs(tool: &str, args: &[&str], img: &Path) {
    run(Command::new(tool).args(args).arg(img));
}

/// What blkid reports for the superblocks of `img`: `(NAME, encoded value)` in
/// its order. `DEVNAME` and the partition-table tags (`PTTYPE`, `PTUUID`,
/// `PART_ENTRY_*`, from libblkid's other chain) are left out.
fn blkid(img: &Path) -> Vec<(String, String)> {
    let out = Command::new(BLKID).args(["-p", "-o", "export"]).arg(img).output().expect("running blkid");
    assert!(matches!(out.status.code(), Some(0 | 2)), "blkid -p {}: {:?}", img.display(), out);
    String::from_utf8(out.stdout)
        .expect("blkid's export output is ASCII")
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| !matches!(*k, "DEVNAME" | "PTTYPE" | "PTUUID") && !k.starts_with("PART_ENTRY_"))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// What krazybox reports, in the same form.
fn ours(img: &Path) -> Vec<(String, String)> {
    let file = File::open(img).expect("opening the image");
    let mut reader = Reader::from_file(file, 0, None).expect("reader");
    match probe_superblocks(&mut reader).expect("probing") {
        Outcome::Nothing => Vec::new(),
        Outcome::Found(f) => {
            let mut v: Vec<_> = f.tags.iter().map(|t| (t.name.to_string(), export_encode(&t.value))).collect();
            v.push(("TYPE".into(), f.name.into()));
            v.push(("USAGE".into(), f.usage.as_str().into()));
            v
        }
        Outcome::Ambivalent(all) => panic!("{}: ambivalent: {all:?}", img.display()),
    }
}

/// krazybox and blkid agree on `img`; returns blkid's answer.
fn agree(img: &Path) -> Vec<(String, String)> {
    let theirs = blkid(img);
    assert_eq!(ours(img), theirs, "krazybox (left) and blkid (right) differ on {}", img.display());
    theirs
}

/// Like [`agree`], and blkid found `ty`.
fn agree_on(img: &Path, ty: &str) -> Vec<(String, String)> {
    let tags = agree(img);
    assert!(tags.contains(&("TYPE".into(), ty.into())), "blkid did not find {ty} on {}: {tags:?}", img.display());
    tags
}

fn tag<'a>(tags: &'a [(String, String)], name: &str) -> Option<&'a str> {
    tags.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn read_at(img: &Path, off: u64, len: usize) -> Vec<u8> {
    let mut f = File::open(img).unwrap();
    f.seek(SeekFrom::Start(off)).unwrap();
    let mut buf = vec![0; len];
    f.read_exact(&mut buf).unwrap();
    buf
}

fn write_at(img: &Path, off: u64, bytes: &[u8]) {
    let mut f = OpenOptions::new().write(true).open(img).unwrap();
    f.seek(SeekFrom::Start(off)).unwrap();
    f.write_all(bytes).unwrap();
}

/// Replace every occurrence of `from` in the first `limit` bytes of `img`.
fn replace_all(img: &Path, limit: usize, from: &[u8], to: &[u8]) -> usize {
    assert_eq!(from.len(), to.len());
    let mut data = read_at(img, 0, limit);
    let mut n = 0;
    let mut i = 0;
    while i + from.len() <= data.len() {
        if &data[i..i + from.len()] == from {
            data[i..i + from.len()].copy_from_slice(to);
            n += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    write_at(img, 0, &data);
    n
}

fn le16(b: &[u8], o: usize) -> u64 {
    u64::from(u16::from_le_bytes([b[o], b[o + 1]]))
}

fn le32(b: &[u8], o: usize) -> u64 {
    u64::from(u32::from_le_bytes(b[o..o + 4].try_into().unwrap()))
}

#[test]
fn vfat_matches_blkid() {
    if !need(&["mkfs.vfat", "blkid"]) {
        return;
    }
    let s = TempDir::new("vfat");
    let labels: [Option<&str>; 8] = [
        Some("LABEL"),
        Some("MY LABEL"),
        Some("O'Reil $x"),
        Some("ABCDEFGHIJK"),
        Some("lower"),
        Some("`x&y"),
        Some("NO NAME"),
        None,
    ];
    for (fat, size) in [("12", 4u64 << 20), ("16", 32 << 20), ("32", 64 << 20)] {
        for (i, label) in labels.iter().enumerate() {
            let img = s.sparse(&format!("fat{fat}-{i}.img"), size);
            let mut args = vec!["-F", fat, "-i", "1234ABCD"];
            if let Some(l) = label {
                args.extend(["-n", l]);
            }
            mkfs("mkfs.vfat", &args, &img);
            let tags = agree_on(&img, "vfat");
            assert_eq!(tag(&tags, "VERSION"), Some(format!("FAT{fat}").as_str()));
            assert_eq!(tag(&tags, "UUID"), Some("1234-ABCD"));
        }
    }
    // Larger logical sectors.
    for (fat, sector) in [("12", "2048"), ("16", "4096"), ("32", "4096")] {
        let img = s.sparse(&format!("fat{fat}-{sector}.img"), 64 << 20);
        mkfs("mkfs.vfat", &["-F", fat, "-S", sector, "-n", "BIGSECT"], &img);
        assert_eq!(tag(&agree_on(&img, "vfat"), "BLOCK_SIZE"), Some(sector));
    }
    // A floppy-sized image: libblkid reads the root directory entry by entry.
    let img = s.sparse("floppy.img", 1440 * 1024);
    mkfs("mkfs.vfat", &["-n", "FLOPPY"], &img);
    assert_eq!(tag(&agree_on(&img, "vfat"), "LABEL"), Some("FLOPPY"));
}

#[test]
fn vfat_patched_labels_match_blkid() {
    if !need(&["mkfs.vfat", "blkid"]) {
        return;
    }
    let s = TempDir::new("vfat-patched");
    // mkfs.fat cannot write code-page characters here: put CP850 bytes
    // ("ÉTÉ ÄÖ" and a 0xE5 lead byte, stored as 0x05) in place of a label.
    for (fat, size) in [("16", 32u64 << 20), ("32", 64 << 20)] {
        let img = s.sparse(&format!("cp850-{fat}.img"), size);
        mkfs("mkfs.vfat", &["-F", fat, "-n", "XXXXXXXXXXX"], &img);
        assert!(replace_all(&img, 4 << 20, b"XXXXXXXXXXX", b"\x90T\x90 \x8e\x99     ") >= 2);
        let tags = agree_on(&img, "vfat");
        assert_eq!(tag(&tags, "LABEL"), Some("M-^PTM-^P\\ M-^NM-^Y"));

        let img = s.sparse(&format!("e5-{fat}.img"), size);
        mkfs("mkfs.vfat", &["-F", fat, "-n", "XXXXXXXXXXX"], &img);
        replace_all(&img, 4 << 20, b"XXXXXXXXXXX", b"\x05BC\x0b       ");
        let tags = agree_on(&img, "vfat");
        assert_eq!(tag(&tags, "LABEL"), Some("M-eBC"));
    }
    // Boot-sector label with leading blanks: LABEL_FATBOOT is trimmed on both sides.
    let img = s.sparse("blanks.img", 32 << 20);
    mkfs("mkfs.vfat", &["-F", "16", "-n", "ROOTLBL"], &img);
    write_at(&img, 0x2b, b"  BOOT     ");
    let tags = agree_on(&img, "vfat");
    assert_eq!(tag(&tags, "LABEL_FATBOOT"), Some("BOOT"));
    assert_eq!(tag(&tags, "LABEL"), Some("ROOTLBL"));
}

#[test]
fn vfat_root_directory_past_the_end_matches_blkid() {
    if !need(&["mkfs.vfat", "blkid"]) {
        return;
    }
    let s = TempDir::new("vfat-rootdir");
    // 65535 root entries (2 MiB) on a device cut short: libblkid reads the root
    // directory whole, and finds nothing when it runs past the end, except on
    // devices of 1440 KiB or less, where it reads entry by entry.
    let img = s.sparse("bigroot.img", 32 << 20);
    mkfs("mkfs.vfat", &["-F", "16", "-n", "BIGROOT"], &img);
    write_at(&img, 0x11, &0xffffu16.to_le_bytes());
    for (cut, label) in
        [(3_000_000, true), (2_000_000, false), (1_474_561, false), (1_474_560, true), (1_400_000, true)]
    {
        File::options().write(true).open(&img).unwrap().set_len(cut).unwrap();
        let tags = agree_on(&img, "vfat");
        assert_eq!(tag(&tags, "LABEL").is_some(), label, "cut at {cut}");
    }
}

/// A FAT32 image whose root directory is clusters 2 → 3 (or 2 ⇄ 3 when
/// `cyclic`), cluster 2 full of file entries, and the label entry in cluster 3
/// (none when `cyclic`).
fn fat32_chain(s: &TempDir, name: &str, cyclic: bool) -> PathBuf {
    let img = s.sparse(name, 64 << 20);
    mkfs("mkfs.vfat", &["-F", "32", "-s", "1", "-n", "CHAINED"], &img);
    let bs = read_at(&img, 0, 512);
    let sector = le16(&bs, 0x0b);
    let reserved = le16(&bs, 0x0e);
    let fats = u64::from(bs[0x10]);
    let fat_len = le32(&bs, 0x24);
    assert_eq!(le32(&bs, 0x2c), 2, "mkfs.vfat puts the root directory in cluster 2");
    let cluster = |c: u64| (reserved + fats * fat_len + (c - 2)) * sector;
    let label_entry = read_at(&img, cluster(2), 32);
    assert_eq!(&label_entry[..7], b"CHAINED");
    let mut file = [0u8; 32];
    file[..11].copy_from_slice(b"FILE    TXT");
    file[11] = 0x20;
    file[26] = 9; // a first cluster: not a label candidate
    let files: Vec<u8> = file.iter().copied().cycle().take(sector as usize).collect();
    write_at(&img, cluster(2), &files);
    if cyclic {
        write_at(&img, cluster(3), &files);
    } else {
        write_at(&img, cluster(3), &label_entry);
    }
    for f in 0..fats {
        let fat = (reserved + f * fat_len) * sector;
        write_at(&img, fat + 2 * 4, &3u32.to_le_bytes());
        write_at(&img, fat + 3 * 4, &(if cyclic { 2u32 } else { 0x0fff_ffff }).to_le_bytes());
    }
    img
}

#[test]
fn vfat_root_cluster_chains_match_blkid() {
    if !need(&["mkfs.vfat", "blkid"]) {
        return;
    }
    let s = TempDir::new("vfat-chain");
    let img = fat32_chain(&s, "chain.img", false);
    assert_eq!(tag(&agree_on(&img, "vfat"), "LABEL"), Some("CHAINED"));
    // A cyclic chain: the walk ends, and no label is found.
    let img = fat32_chain(&s, "cycle.img", true);
    assert_eq!(tag(&agree_on(&img, "vfat"), "LABEL"), None);
}

#[test]
fn exfat_matches_blkid() {
    if !need(&["mkfs.exfat", "blkid"]) {
        return;
    }
    let s = TempDir::new("exfat");
    let labels = [None, Some("exfat lbl"), Some("éxfät ÄÖ"), Some("ABCDEFGHIJK"), Some("it's \"q\""), Some("😀 $x<y>")];
    for (i, label) in labels.iter().enumerate() {
        let img = s.sparse(&format!("exfat-{i}.img"), 16 << 20);
        let mut args = vec![];
        if let Some(l) = label {
            args.extend(["-L", l]);
        }
        mkfs("mkfs.exfat", &args, &img);
        let tags = agree_on(&img, "exfat");
        assert_eq!(tag(&tags, "LABEL").is_some(), label.is_some());
    }
    // Labels no mkfs writes: lone surrogates, and blanks and control characters
    // at the ends.
    let img = s.sparse("exfat-units.img", 16 << 20);
    mkfs("mkfs.exfat", &["-L", "WXYZ"], &img);
    let bs = read_at(&img, 0, 512);
    let root = (le32(&bs, 88) + ((le32(&bs, 96) - 2) << bs[109])) << bs[108];
    let dir = read_at(&img, root, 256);
    let entry = root + dir.chunks(32).position(|e| e[0] == 0x83).expect("a label entry") as u64 * 32;
    let cases: [&[u16]; 4] =
        [&[0xd800, 0x41, 0xdc00, 0x20ac], &[0xd83d, 0xde00, 0xdbff], &[0x20, 0x41, 0x0b, 0x0c, 0x20], &[0x41, 0, 0x42]];
    for units in cases {
        let mut name = [0u8; 22];
        for (i, u) in units.iter().enumerate() {
            name[2 * i..2 * i + 2].copy_from_slice(&u.to_le_bytes());
        }
        write_at(&img, entry + 1, &[units.len() as u8]);
        write_at(&img, entry + 2, &name);
        assert!(tag(&agree_on(&img, "exfat"), "LABEL").is_some());
    }
    let img = s.sparse("exfat-64k.img", 64 << 20);
    mkfs("mkfs.exfat", &["-c", "65536", "-L", "big"], &img);
    agree_on(&img, "exfat");
    // Shift counts that make no sense: the label walk lands elsewhere or
    // nowhere, the same way in both.
    for (block_bits, bpc_bits) in [(12u8, 0u8), (9, 31), (20, 20), (40, 3), (255, 255)] {
        write_at(&img, 108, &[block_bits, bpc_bits]);
        agree(&img);
    }
}

#[test]
fn btrfs_matches_blkid() {
    if !need(&["mkfs.btrfs", "blkid"]) {
        return;
    }
    let s = TempDir::new("btrfs");
    let long = "L".repeat(255);
    let labels = [None, Some("bt label"), Some("ünïcødé 😀"), Some(long.as_str()), Some("'\"$`\\<>")];
    for (i, label) in labels.iter().enumerate() {
        let img = s.sparse(&format!("btrfs-{i}.img"), 128 << 20);
        let mut args = vec!["-q", "-f"];
        if let Some(l) = label {
            args.extend(["-L", l]);
        }
        mkfs("mkfs.btrfs", &args, &img);
        let tags = agree_on(&img, "btrfs");
        assert!(tag(&tags, "UUID_SUB").is_some());
    }
}

#[test]
fn xfs_matches_blkid() {
    if !need(&["mkfs.xfs", "blkid"]) {
        return;
    }
    let s = TempDir::new("xfs");
    let labels = [None, Some("xfs lbl"), Some("ABCDEFGHIJKL"), Some("é'\"$"), Some("  lead")];
    for (i, label) in labels.iter().enumerate() {
        let img = s.sparse(&format!("xfs-{i}.img"), 300 << 20);
        let mut args = vec!["-q", "-f"];
        if let Some(l) = label {
            args.extend(["-L", l]);
        }
        mkfs("mkfs.xfs", &args, &img);
        agree_on(&img, "xfs");
    }
    let img = s.sparse("xfs-4k.img", 300 << 20);
    mkfs("mkfs.xfs", &["-q", "-f", "-s", "size=4096", "-L", "sect4k"], &img);
    assert_eq!(tag(&agree_on(&img, "xfs"), "BLOCK_SIZE"), Some("4096"));
    // An external log device.
    let img = s.sparse("xfs-data.img", 300 << 20);
    let log = s.sparse("xfs-log.img", 80 << 20);
    let logdev = format!("logdev={},size=64m", log.display());
    mkfs("mkfs.xfs", &["-q", "-f", "-L", "withlog", "-l", &logdev], &img);
    let data = agree_on(&img, "xfs");
    let log = agree_on(&log, "xfs_external_log");
    assert_eq!(tag(&log, "LOGUUID"), tag(&data, "UUID"));
}

#[test]
fn ntfs_matches_blkid() {
    if !need(&["mkfs.ntfs", "blkid"]) {
        return;
    }
    let s = TempDir::new("ntfs");
    let long = "N".repeat(128);
    let labels = [None, Some("NTFSLABEL"), Some("ntfs ä"), Some("😀 q\"'"), Some(long.as_str())];
    for (i, label) in labels.iter().enumerate() {
        let img = s.sparse(&format!("ntfs-{i}.img"), 16 << 20);
        let mut args = vec!["-q", "-F", "-f"];
        if let Some(l) = label {
            args.extend(["-L", l]);
        }
        mkfs("mkfs.ntfs", &args, &img);
        assert!(tag(&agree_on(&img, "ntfs"), "UUID").is_some());
    }
    for (sector, cluster) in [("4096", "4096"), ("512", "65536"), ("1024", "2048")] {
        let img = s.sparse(&format!("ntfs-{sector}-{cluster}.img"), 64 << 20);
        mkfs("mkfs.ntfs", &["-q", "-F", "-f", "-s", sector, "-c", cluster, "-L", "geom"], &img);
        assert_eq!(tag(&agree_on(&img, "ntfs"), "BLOCK_SIZE"), Some(sector));
    }
}

#[test]
fn f2fs_matches_blkid() {
    if !need(&["mkfs.f2fs", "blkid"]) {
        return;
    }
    let s = TempDir::new("f2fs");
    let long = "F".repeat(512);
    let labels = [None, Some("f2 lbl"), Some("ünï 😀"), Some(long.as_str()), Some("'\"$`")];
    for (i, label) in labels.iter().enumerate() {
        let img = s.sparse(&format!("f2fs-{i}.img"), 64 << 20);
        let mut args = vec!["-q", "-f"];
        if let Some(l) = label {
            args.extend(["-l", l]);
        }
        mkfs("mkfs.f2fs", &args, &img);
        agree_on(&img, "f2fs");
    }
}

#[test]
fn swap_matches_blkid() {
    if !need(&["mkswap", "blkid"]) {
        return;
    }
    let s = TempDir::new("swap");
    let labels = [None, Some("swaplabel"), Some("sw ä'\"$"), Some("0123456789abcdef")];
    for (i, label) in labels.iter().enumerate() {
        let img = s.sparse(&format!("swap-{i}.img"), 1 << 20);
        let mut args = vec!["-q", "-U", "9fb96b15-1111-2222-3333-444455556666"];
        if let Some(l) = label {
            args.extend(["-L", l]);
        }
        mkfs("mkswap", &args, &img);
        let tags = agree_on(&img, "swap");
        assert_eq!(tag(&tags, "UUID"), Some("9fb96b15-1111-2222-3333-444455556666"));
    }
    // Larger pages put the signature further in.
    for page in ["8192", "65536"] {
        let img = s.sparse(&format!("swap-{page}.img"), 1 << 20);
        mkfs("mkswap", &["-q", "-p", page, "-L", "paged"], &img);
        agree_on(&img, "swap");
    }
    // Too small for libblkid (less than ten pages).
    let img = s.sparse("swap-small.img", 1 << 20);
    mkfs("mkswap", &["-q", "-L", "small"], &img);
    File::options().write(true).open(&img).unwrap().set_len(36 * 1024).unwrap();
    assert!(agree(&img).is_empty());
    // Hibernation images and version 0, written over a v1 area.
    for magic in [&b"S1SUSPEND"[..], b"S2SUSPEND", b"ULSUSPEND", b"LINHIB0001", b"SWAP-SPACE"] {
        let img = s.sparse("swap-magic.img", 1 << 20);
        mkfs("mkswap", &["-q", "-L", "hiber"], &img);
        write_at(&img, 4086, b"\0\0\0\0\0\0\0\0\0\0");
        write_at(&img, 4086, magic);
        let ty = if magic == b"SWAP-SPACE" { "swap" } else { "swsuspend" };
        agree_on(&img, ty);
    }
    // TuxOnIce marks the start of a swap area it keeps valid.
    let img = s.sparse("swap-toi.img", 1 << 20);
    mkfs("mkswap", &["-q", "-L", "toi"], &img);
    write_at(&img, 0, b"\xed\xc3\x02\xe9\x98\x56\xe5\x0c");
    assert_eq!(tag(&agree_on(&img, "swsuspend"), "VERSION"), Some("tuxonice"));
}

#[test]
fn squashfs_matches_blkid() {
    if !need(&["mksquashfs", "blkid"]) {
        return;
    }
    let s = TempDir::new("squashfs");
    let dir = s.join("content");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("file"), b"hello").unwrap();
    for comp in ["gzip", "xz"] {
        let img = s.join(&format!("sq-{comp}.img"));
        run(Command::new("mksquashfs").arg(&dir).arg(&img).args(["-quiet", "-noappend", "-comp", comp]));
        agree_on(&img, "squashfs");
    }
    // Version 3 and older, in either byte order; no tool here writes them.
    for (magic, major, minor, name) in [(b"hsqs", 3u16, 1u16, "le"), (b"sqsh", 3, 0, "be"), (b"hsqs", 2, 1, "v2")] {
        let img = s.sparse(&format!("sq3-{name}.img"), 64 * 1024);
        let (maj, min) = if magic == b"sqsh" {
            (major.to_be_bytes(), minor.to_be_bytes())
        } else {
            (major.to_le_bytes(), minor.to_le_bytes())
        };
        write_at(&img, 0, magic);
        write_at(&img, 28, &maj);
        write_at(&img, 30, &min);
        agree_on(&img, "squashfs3");
    }
}

#[test]
fn erofs_matches_blkid() {
    if !need(&["mkfs.erofs", "blkid"]) {
        return;
    }
    let s = TempDir::new("erofs");
    let dir = s.join("content");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("file"), b"hello").unwrap();
    let img = s.join("erofs.img");
    run(Command::new("mkfs.erofs").arg("-Ue1d2c3b4-0000-1111-2222-333344445555").arg(&img).arg(&dir));
    assert_eq!(tag(&agree_on(&img, "erofs"), "UUID"), Some("e1d2c3b4-0000-1111-2222-333344445555"));
    // Cut inside the KiB that holds the magic: libblkid does not see the magic.
    let cut = s.join("erofs-cut.img");
    fs::copy(&img, &cut).unwrap();
    File::options().write(true).open(&cut).unwrap().set_len(1200).unwrap();
    assert!(agree(&cut).is_empty());
    // This mkfs.erofs has no label option: write volume names in place.
    for name in [&b"erofs lbl"[..], b"0123456789abcdef", b"\xc3\xa9t\xc3\xa9 \"q\"  ", b" lead"] {
        let mut field = [0u8; 16];
        field[..name.len()].copy_from_slice(name);
        write_at(&img, 1024 + 64, &field);
        agree_on(&img, "erofs");
    }
}

#[test]
fn nilfs2_matches_blkid() {
    if !need(&["mkfs.nilfs2", "blkid"]) {
        return;
    }
    let s = TempDir::new("nilfs2");
    let long = "n".repeat(80);
    let labels = [None, Some("nil lbl"), Some("ünï 'q' $"), Some(long.as_str())];
    for (i, label) in labels.iter().enumerate() {
        let img = s.sparse(&format!("nilfs-{i}.img"), 200 << 20);
        let mut args = vec!["-q", "-f"];
        if let Some(l) = label {
            args.extend(["-L", l]);
        }
        mkfs("mkfs.nilfs2", &args, &img);
        agree_on(&img, "nilfs2");
    }
    // A broken primary superblock: the backup near the end is used.
    let img = s.sparse("nilfs-backup.img", 200 << 20);
    mkfs("mkfs.nilfs2", &["-q", "-f", "-L", "backup"], &img);
    write_at(&img, 1024 + 100, b"garbage");
    assert_eq!(tag(&agree_on(&img, "nilfs2"), "LABEL"), Some("backup"));
    // Both broken: nothing.
    let size = fs::metadata(&img).unwrap().len();
    write_at(&img, (size / 512 - 8) * 512 + 100, b"garbage");
    assert!(agree(&img).is_empty());
}

#[test]
fn jfs_matches_blkid() {
    if !need(&["mkfs.jfs", "blkid"]) {
        return;
    }
    let s = TempDir::new("jfs");
    let labels = [None, Some("jfs lbl"), Some("0123456789abcdef"), Some("ä'\"$")];
    for (i, label) in labels.iter().enumerate() {
        let img = s.sparse(&format!("jfs-{i}.img"), 32 << 20);
        let mut args = vec!["-q"];
        if let Some(l) = label {
            args.extend(["-L", l]);
        }
        mkfs("mkfs.jfs", &args, &img);
        agree_on(&img, "jfs");
    }
}

#[test]
fn reiserfs_matches_blkid() {
    if !need(&["mkreiserfs", "blkid"]) {
        return;
    }
    let s = TempDir::new("reiserfs");
    let labels = [None, Some("reiser lbl"), Some("0123456789abcdef"), Some("ä'\"$")];
    for (i, label) in labels.iter().enumerate() {
        let img = s.sparse(&format!("reiser-{i}.img"), 64 << 20);
        let mut args = vec!["-q", "-f"];
        if let Some(l) = label {
            args.extend(["-l", l]);
        }
        mkfs("mkreiserfs", &args, &img);
        assert_eq!(tag(&agree_on(&img, "reiserfs"), "VERSION"), Some("3.6"));
    }
    let img = s.sparse("reiser-35.img", 64 << 20);
    mkfs("mkreiserfs", &["-q", "-f", "--format", "3.5", "-l", "old"], &img);
    assert_eq!(tag(&agree_on(&img, "reiserfs"), "VERSION"), Some("3.5"));
    // A relocated journal ("ReIsEr3Fs") whose first block is small: libblkid
    // takes the superblock for one inside the journal and reports nothing.
    let img = s.sparse("reiser-jr.img", 64 << 20);
    let journal = s.sparse("reiser-journal.img", 40 << 20);
    mkfs("mkreiserfs", &["-q", "-f", "-l", "jr", "-j", journal.to_str().unwrap()], &img);
    assert_eq!(&read_at(&img, 65536 + 0x34, 9), b"ReIsEr3Fs");
    assert!(agree(&img).is_empty());
    // With a journal block further in, it is reported as "JR".
    write_at(&img, 65536 + 12, &1000u32.to_le_bytes());
    assert_eq!(tag(&agree_on(&img, "reiserfs"), "VERSION"), Some("JR"));
    // Reiser4 (no mkfs here): magic, a block size byte, UUID and label.
    let img = s.sparse("reiser4.img", 1 << 20);
    write_at(&img, 65536, b"ReIsEr4\0\0\0\0\0\0\0\0\0\0\0\0\x10");
    write_at(&img, 65536 + 20, &[0x5a; 16]);
    write_at(&img, 65536 + 36, b"r4 label");
    assert_eq!(tag(&agree_on(&img, "reiser4"), "BLOCK_SIZE"), Some("4096"));
}

// Robustness: no prober may panic, loop or accept garbage on arbitrary bytes.

const MINE: [&str; 16] = [
    "vfat",
    "swsuspend",
    "swap",
    "xfs",
    "xfs_external_log",
    "reiserfs",
    "reiser4",
    "jfs",
    "ntfs",
    "squashfs",
    "squashfs3",
    "btrfs",
    "nilfs2",
    "exfat",
    "f2fs",
    "erofs",
];

fn prober(name: &str) -> &'static Prober {
    PROBERS.iter().copied().find(|p| p.name == name).unwrap_or_else(|| panic!("{name} is not in the table"))
}

/// Run one prober the way the driver does: first matching magic, then its function.
fn probe_one(p: &'static Prober, bytes: Vec<u8>) -> bool {
    let mut r = Reader::from_bytes(bytes);
    let magic = find_magic(&mut r, p).expect("reading bytes in memory");
    if !p.magics.is_empty() && magic.is_none() {
        return false;
    }
    let mut ctx = Ctx::new(&mut r, magic);
    match (p.probe)(&mut ctx) {
        Ok(found) => found,
        Err(e) => {
            assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{}: {e}", p.name);
            false
        }
    }
}

/// xorshift64*: deterministic noise without a dependency.
struct Noise(u64);

impl Noise {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let v = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// Enough bytes for `p` to get past its minimum size and reach every structure
/// it reads at fixed places (JFS wants 16 MiB, an XFS log 10 MiB).
fn fuzz_size(p: &Prober) -> usize {
    match p.name {
        "jfs" | "xfs_external_log" => 17 << 20,
        _ => 2 << 20,
    }
}

#[test]
fn probers_reject_zeroed_short_and_random_bytes() {
    for name in MINE {
        let p = prober(name);
        assert!(!probe_one(p, Vec::new()), "{name} on nothing");
        assert!(!probe_one(p, vec![0; 4096]), "{name} on a zeroed page");
        assert!(!probe_one(p, vec![0; fuzz_size(p)]), "{name} on zeroes");
    }
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    let mut buf = vec![0u8; 17 << 20];
    for round in 0..3 {
        noise.fill(&mut buf);
        for name in MINE {
            let p = prober(name);
            let buf = &buf[..fuzz_size(p)];
            assert!(!probe_one(p, buf.to_vec()), "{name} on noise {round}");
            // Noise with each magic planted: the checks behind it run on garbage.
            // The weakest signatures (a squashfs version, an erofs or f2fs magic)
            // do match; what is asserted is that probing ends without a panic.
            for m in p.magics {
                let mut b = buf.to_vec();
                let off = m.offset() as usize;
                b[off..off + m.bytes.len()].copy_from_slice(m.bytes);
                // Truncated at, just after and well after the magic, and whole.
                for end in [off + m.bytes.len(), off + 512, off + 70_000, 1 << 20] {
                    probe_one(p, b[..end.min(b.len())].to_vec());
                }
                probe_one(p, b);
            }
        }
    }
}

#[test]
fn corrupt_fat_and_exfat_chains_end() {
    let mut noise = Noise(42);
    for round in 0..40u32 {
        // A plausible FAT32 boot sector over noise: the root cluster chain is garbage.
        // Every other round is floppy-sized: libblkid reads directories entry by entry there.
        let mut img = vec![0u8; if round % 2 == 0 { 8 << 20 } else { 1 << 20 }];
        noise.fill(&mut img);
        img[0] = 0xeb;
        img[0x0b..0x0d].copy_from_slice(&512u16.to_le_bytes());
        img[0x0d] = 1 << (round % 8);
        img[0x0e..0x10].copy_from_slice(&32u16.to_le_bytes());
        img[0x10] = 2;
        img[0x11..0x13].fill(0);
        img[0x13..0x15].fill(0);
        img[0x15] = 0xf8;
        img[0x16..0x18].fill(0);
        img[0x20..0x24].copy_from_slice(&16384u32.to_le_bytes());
        img[0x24..0x28].copy_from_slice(&64u32.to_le_bytes());
        img[0x2c..0x30].copy_from_slice(&(2 + round).to_le_bytes());
        img[0x30..0x32].fill(0);
        img[0x52..0x5a].copy_from_slice(b"FAT32   ");
        assert!(probe_one(prober("vfat"), img.clone()), "round {round}");

        // An exFAT boot sector over noise, root directory anywhere.
        let mut ex = img;
        ex[3..11].copy_from_slice(b"EXFAT   ");
        ex[80..84].copy_from_slice(&1u32.to_le_bytes());
        ex[88..92].copy_from_slice(&64u32.to_le_bytes());
        ex[108] = 9;
        ex[109] = (round % 4) as u8;
        assert!(probe_one(prober("exfat"), ex), "round {round}");
    }
}

#[test]
fn utf16_conversion_follows_util_linux() {
    let units = |s: &[u16]| s.iter().flat_map(|u| u.to_le_bytes()).collect::<Vec<u8>>();
    assert_eq!(encode_to_utf8(Encoding::Utf16Le, &units(&[0x41, 0xe9, 0x20ac])), "Aé€".as_bytes());
    // A surrogate pair, then a lone high surrogate kept as three bytes.
    assert_eq!(
        encode_to_utf8(Encoding::Utf16Le, &units(&[0xd83d, 0xde00, 0xd800, 0x41])),
        b"\xf0\x9f\x98\x80\xed\xa0\x80A"
    );
    // Up to the first NUL; an odd trailing byte is ignored.
    assert_eq!(encode_to_utf8(Encoding::Utf16Le, &[0x41, 0, 0, 0, 0x42, 0]), b"A");
    assert_eq!(encode_to_utf8(Encoding::Utf16Be, &[0, 0x41, 0x42]), b"A");
}

#[test]
fn label_trimming_follows_libblkid() {
    let mut r = Reader::from_bytes(vec![0; 2048]);
    let mut ctx = Ctx::new(&mut r, None);
    ctx.set_label(b" a b \x0b\t\0junk");
    ctx.set_id_label("LABEL_FATBOOT", b" \x0b a b  ");
    ctx.set_label_tag("EMPTY", b" \x0b\t ");
    let tags: Vec<_> = ctx.tags().iter().map(|t| (t.name, t.value.as_slice())).collect();
    assert_eq!(tags, [("LABEL", &b" a b"[..]), ("LABEL_FATBOOT", b"a b")]);
}

/// Real images with bytes of their superblock (or what the prober reads next to
/// it) overwritten at random: whatever krazybox makes of them, blkid must make
/// the same. This exercises the checks and the odd arithmetic on values no
/// mkfs writes.
#[test]
fn mutated_superblocks_match_blkid() {
    let tools = ["mkfs.vfat", "mkfs.exfat", "mkfs.btrfs", "mkfs.xfs", "mkfs.ntfs", "mkfs.f2fs", "mkswap"];
    let more = ["mkfs.nilfs2", "mkfs.jfs", "mkreiserfs", "mkfs.erofs", "mksquashfs"];
    if !need(&tools) || !need(&more) || !need(&["blkid"]) {
        return;
    }
    let s = TempDir::new("mutated");
    let content = s.join("content");
    fs::create_dir(&content).unwrap();
    fs::write(content.join("file"), b"hello").unwrap();
    // (image, byte ranges [start, end) to mutate)
    let mut cases: Vec<(PathBuf, Vec<(u64, u64)>)> = Vec::new();
    let mut add = |name: &str, size: u64, tool: &str, args: &[&str], ranges: Vec<(u64, u64)>| {
        let img = s.sparse(name, size);
        mkfs(tool, args, &img);
        cases.push((img, ranges));
    };
    add("fat12.img", 4 << 20, "mkfs.vfat", &["-F", "12", "-n", "M12"], vec![(0, 0x40), (0x1fe, 0x200)]);
    add("fat16.img", 32 << 20, "mkfs.vfat", &["-F", "16", "-n", "M16"], vec![(0, 0x40)]);
    add("fat32.img", 64 << 20, "mkfs.vfat", &["-F", "32", "-n", "M32"], vec![(0, 0x60), (512, 1024)]);
    add("exfat.img", 16 << 20, "mkfs.exfat", &["-L", "mex"], vec![(64, 113)]);
    add("btrfs.img", 128 << 20, "mkfs.btrfs", &["-q", "-f", "-L", "mbt"], vec![(0x10000, 0x10000 + 555)]);
    add("xfs.img", 300 << 20, "mkfs.xfs", &["-q", "-f", "-L", "mxfs"], vec![(0, 160)]);
    add("ntfs.img", 16 << 20, "mkfs.ntfs", &["-q", "-F", "-f", "-L", "mntfs"], vec![(0, 84)]);
    add("f2fs.img", 64 << 20, "mkfs.f2fs", &["-q", "-f", "-l", "mf2"], vec![(1024, 1040), (1024 + 0x7c, 1024 + 0x90)]);
    add("swap.img", 1 << 20, "mkswap", &["-q", "-L", "msw"], vec![(1024, 1236), (4086, 4096)]);
    add("jfs.img", 32 << 20, "mkfs.jfs", &["-q", "-L", "mjfs"], vec![(32768, 32768 + 184)]);
    add("reiser.img", 64 << 20, "mkreiserfs", &["-q", "-f", "-l", "mr"], vec![(65536, 65536 + 116)]);
    add("nilfs.img", 200 << 20, "mkfs.nilfs2", &["-q", "-f", "-L", "mnil"], vec![(1024, 1280)]);
    let sq = s.join("sq.img");
    run(Command::new("mksquashfs").arg(&content).arg(&sq).args(["-quiet", "-noappend"]));
    cases.push((sq, vec![(0, 32)]));
    let ero = s.join("erofs.img");
    run(Command::new("mkfs.erofs").arg(&ero).arg(&content));
    cases.push((ero, vec![(1024, 1152)]));

    // And where the labels are: the FAT16 root directory, the exFAT root
    // directory and the NTFS $Volume record.
    for (img, ranges) in cases.iter_mut() {
        let name = img.file_name().unwrap().to_str().unwrap();
        let bs = read_at(img, 0, 512);
        let extra = match name {
            "fat16.img" => (le16(&bs, 0x0e) + u64::from(bs[0x10]) * le16(&bs, 0x16)) * le16(&bs, 0x0b),
            "exfat.img" => (le32(&bs, 88) + ((le32(&bs, 96) - 2) << bs[109])) << bs[108],
            "ntfs.img" => {
                let cluster = le16(&bs, 11) * u64::from(bs[13]);
                u64::from_le_bytes(bs[48..56].try_into().unwrap()) * cluster + 3 * 1024
            }
            _ => continue,
        };
        let len = if name == "ntfs.img" { 1024 } else { 96 };
        let area = read_at(img, extra, len);
        let hit = match name {
            "fat16.img" => area.starts_with(b"M16"),
            "exfat.img" => area.chunks(32).any(|e| e[0] == 0x83),
            _ => area.starts_with(b"FILE"),
        };
        assert!(hit, "{name}: no label structure at {extra}");
        ranges.push((extra, extra + len as u64));
    }
    let mut noise = Noise(8);
    let mut rnd = [0u8; 8];
    let mut next = |n: u64| {
        noise.fill(&mut rnd);
        u64::from_le_bytes(rnd) % n
    };
    for (img, ranges) in &cases {
        for _ in 0..80 {
            let mut saved = Vec::new();
            for _ in 0..1 + next(3) {
                let (start, end) = ranges[next(ranges.len() as u64) as usize];
                let off = start + next(end - start);
                let old = read_at(img, off, 1);
                // Mostly the interesting extremes, sometimes anything.
                let new = match next(4) {
                    0 => 0,
                    1 => 0xff,
                    2 => old[0] ^ (1 << next(8)),
                    _ => next(256) as u8,
                };
                write_at(img, off, &[new]);
                saved.push((off, old));
            }
            agree(img);
            for (off, old) in saved.into_iter().rev() {
                write_at(img, off, &old);
            }
        }
    }
}

/// Real images cut shorter and shorter: the minimum sizes, backup superblocks
/// and reads past the end must give what blkid gives.
#[test]
fn truncated_images_match_blkid() {
    let tools = ["mkfs.vfat", "mkfs.exfat", "mkfs.btrfs", "mkfs.xfs", "mkfs.ntfs", "mkfs.f2fs", "mkswap"];
    let more = ["mkfs.nilfs2", "mkfs.jfs", "mkreiserfs"];
    if !need(&tools) || !need(&more) || !need(&["blkid"]) {
        return;
    }
    let s = TempDir::new("truncated");
    let images: [(&str, u64, &str, &[&str]); 12] = [
        ("fat12.img", 4 << 20, "mkfs.vfat", &["-F", "12", "-n", "T12"]),
        ("fat16.img", 32 << 20, "mkfs.vfat", &["-F", "16", "-n", "T16"]),
        ("fat32.img", 64 << 20, "mkfs.vfat", &["-F", "32", "-n", "T32"]),
        ("exfat.img", 16 << 20, "mkfs.exfat", &["-L", "tex"]),
        ("btrfs.img", 128 << 20, "mkfs.btrfs", &["-q", "-f", "-L", "tbt"]),
        ("xfs.img", 300 << 20, "mkfs.xfs", &["-q", "-f", "-L", "txfs"]),
        ("ntfs.img", 16 << 20, "mkfs.ntfs", &["-q", "-F", "-f", "-L", "tntfs"]),
        ("f2fs.img", 64 << 20, "mkfs.f2fs", &["-q", "-f", "-l", "tf2"]),
        ("swap.img", 1 << 20, "mkswap", &["-q", "-L", "tsw"]),
        ("jfs.img", 32 << 20, "mkfs.jfs", &["-q", "-L", "tjfs"]),
        ("reiser.img", 64 << 20, "mkreiserfs", &["-q", "-f", "-l", "tr"]),
        ("nilfs.img", 200 << 20, "mkfs.nilfs2", &["-q", "-f", "-L", "tnil"]),
    ];
    let cuts = [
        100 << 20,
        16 << 20,
        (16 << 20) - 1,
        10 << 20,
        2 << 20,
        (1 << 20) + 4096,
        1 << 20,
        (1 << 20) - 1,
        200 << 10,
        128 << 10,
        (128 << 10) - 1,
        65536 + 1024,
        65536 + 100,
        40960,
        40959,
        33 << 10,
        8192 + 100,
        4096,
        2048,
        1100,
        1025,
        1024,
    ];
    for (name, size, tool, args) in images {
        let img = s.sparse(name, size);
        mkfs(tool, args, &img);
        agree(&img);
        for cut in cuts.iter().filter(|&&c| c < size) {
            File::options().write(true).open(&img).unwrap().set_len(*cut).unwrap();
            agree(&img);
        }
    }
}

/// The same comparisons on block devices rather than image files: sizes come
/// from the device, and libblkid treats a whole disk differently in places.
#[test]
fn block_devices_match_blkid() {
    if !need(&["losetup", "mkfs.vfat", "mkfs.btrfs", "mkfs.nilfs2", "mkfs.ntfs", "blkid"]) {
        return;
    }
    let lock = serial();
    let s = TempDir::new("loop");
    let images: [(&str, u64, &str, &[&str], &str); 4] = [
        ("fat32.img", 64 << 20, "mkfs.vfat", &["-F", "32", "-n", "LOOPFAT"], "vfat"),
        ("btrfs.img", 128 << 20, "mkfs.btrfs", &["-q", "-f", "-L", "loop btrfs"], "btrfs"),
        ("nilfs.img", 200 << 20, "mkfs.nilfs2", &["-q", "-f", "-L", "loop nilfs"], "nilfs2"),
        ("ntfs.img", 16 << 20, "mkfs.ntfs", &["-q", "-F", "-f", "-L", "loop ntfs"], "ntfs"),
    ];
    for (name, size, tool, args, ty) in images {
        let img = s.sparse(name, size);
        mkfs(tool, args, &img);
        let dev = match Loop::try_attach(&lock, &img, LoopOpts::default()) {
            Ok(dev) => dev,
            Err(e) => {
                eprintln!("skipped: {e}");
                return;
            }
        };
        agree_on(&dev.0, ty);
    }
}

/// A value as `blkid -o export` prints it.
fn export_encode(v: &[u8]) -> String {
    String::from_utf8(krazybox::probe::escape_value(v, krazybox::probe::EXPORT_SPECIAL))
        .expect("escaped values are ASCII")
}
