//! Partition tables made by sfdisk (and file systems on and around them),
//! compared with util-linux blkid, on image files and on loop devices.
use crate::probe::checksum::CRC32;
use crate::probe::{probe_reader, Options, Probed, Reader};
use crate::support::probe::assert_same_as_blkid;
use crate::support::{have, run, serial, zero_image, Loop, LoopOpts, TempDir};
use std::path::Path;
use std::process::{Command, Stdio};

/// Write a table with `sfdisk` from its script on stdin.
fn sfdisk(img: &Path, script: &str) {
    use std::io::Write;
    let mut child = Command::new("sfdisk")
        .args(["-q", "--no-reread", "--no-tell-kernel"])
        .arg(img)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sfdisk");
    child.stdin.take().expect("stdin").write_all(script.as_bytes()).expect("feed sfdisk");
    let out = child.wait_with_output().expect("sfdisk");
    assert!(out.status.success(), "sfdisk: {}", String::from_utf8_lossy(&out.stderr));
}

const DOS: &str = "label: dos\nlabel-id: 0x1234abcd\n\
    start=2048, size=4096, type=83, bootable\n\
    start=6144, size=8192, type=5\n\
    start=8192, size=2048, type=83\n\
    start=12288, size=2048, type=c\n";
const GPT: &str = "label: gpt\nlabel-id: 01234567-89AB-CDEF-0123-456789ABCDEF\n\
    start=2048, size=4096, name=\"EFI system\", type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, attrs=\"RequiredPartition LegacyBIOSBootable\"\n\
    start=6144, size=8192, name=\"root ünï\", uuid=11111111-2222-3333-4444-555555555555, type=0FC63DAF-8483-4772-8E79-3D69DE4784E4\n\
    start=14336, size=2048, type=0FC63DAF-8483-4772-8E79-3D69DE4784E4, attrs=\"GUID:60,63\"\n";

fn image(dir: &TempDir, name: &str, size: u64, script: &str) -> std::path::PathBuf {
    let img = dir.join(name);
    zero_image(&img, size);
    sfdisk(&img, script);
    img
}

#[test]
fn dos_and_gpt_images_like_blkid() {
    if !have("sfdisk") {
        eprintln!("skipped: sfdisk not installed");
        return;
    }
    let dir = TempDir::new("pt");
    assert_same_as_blkid(&image(&dir, "dos.img", 16 << 20, DOS));
    assert_same_as_blkid(&image(&dir, "gpt.img", 16 << 20, GPT));
    // A dos table without a disk id has no PTUUID.
    assert_same_as_blkid(&image(&dir, "noid.img", 4 << 20, "label: dos\nlabel-id: 0\nstart=2048, type=83\n"));
}

/// Overwrite `len` bytes at `off` of an image with `byte`.
fn smash(img: &Path, off: u64, len: usize, byte: u8) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(img).expect("open image");
    f.write_all_at(&vec![byte; len], off).expect("write image");
}

#[test]
fn gpt_backup_header_and_protective_mbr_like_blkid() {
    if !have("sfdisk") {
        eprintln!("skipped: sfdisk not installed");
        return;
    }
    let dir = TempDir::new("gptbad");
    let size = 16u64 << 20;
    // Primary header corrupt: the backup at the last LBA is used.
    let img = image(&dir, "backup.img", size, GPT);
    smash(&img, 512 + 100, 1, 0x42);
    smash(&img, 512 + 16, 1, 0x42);
    assert_same_as_blkid(&img);
    // Both headers corrupt: only the protective MBR is left.
    smash(&img, size - 512 + 16, 4, 0);
    assert_same_as_blkid(&img);
    // Entries corrupt in both copies: PMBR too.
    let img = image(&dir, "entries.img", size, GPT);
    smash(&img, 1024 + 60, 2, 0x55);
    smash(&img, size - 512 - 32 * 512 + 60, 2, 0x55);
    assert_same_as_blkid(&img);
}

#[test]
fn boot_sectors_are_not_tables() {
    let dir = TempDir::new("bootsec");
    for (tool, args, size) in [
        ("mkfs.vfat", &["-F", "12"][..], 2u64 << 20),
        ("mkfs.vfat", &["-F", "16"][..], 16u64 << 20),
        ("mkfs.vfat", &["-F", "32"][..], 40 << 20),
        ("mkfs.ntfs", &["-F", "-Q", "-f"][..], 8 << 20),
    ] {
        if !have(tool) {
            eprintln!("skipped: {tool} not installed");
            continue;
        }
        let img = dir.join("fs.img");
        zero_image(&img, size);
        let mut a = args.to_vec();
        let s = img.to_str().expect("utf-8 path").to_string();
        a.push(&s);
        let out = Command::new(tool).args(&a).output().expect("run mkfs");
        assert!(out.status.success(), "{tool}: {}", String::from_utf8_lossy(&out.stderr));
        // Without a vfat/ntfs prober in the table, compare only the partition part.
        let mut r = Reader::from_file(std::fs::File::open(&img).expect("open"), 0, None).expect("reader");
        let t = super::probe_table(&mut r, super::Disk::default()).expect("probe");
        assert_eq!(t, None, "{tool} boot sector taken for a partition table");
        let _ = std::fs::remove_file(&img);
    }
    if have("mkfs.exfat") {
        // util-linux 2.38.1 says PTTYPE="dos" here; later releases (and krazybox) do not.
        let img = dir.join("exfat.img");
        zero_image(&img, 8 << 20);
        run("mkfs.exfat", &[img.to_str().expect("utf-8 path")]);
        let mut r = Reader::from_file(std::fs::File::open(&img).expect("open"), 0, None).expect("reader");
        assert_eq!(super::probe_table(&mut r, super::Disk::default()).expect("probe"), None);
    } else {
        eprintln!("skipped: mkfs.exfat not installed");
    }
}

#[test]
fn ext4_inside_a_dos_table_whole_disk_image() {
    if !have("sfdisk") || !have("mkfs.ext4") {
        eprintln!("skipped: sfdisk or mkfs.ext4 not installed");
        return;
    }
    // A filesystem made over the whole image, then a table written in front:
    // blkid reports both.
    let dir = TempDir::new("fsandpt");
    let img = dir.join("both.img");
    zero_image(&img, 16 << 20);
    run("mkfs.ext4", &["-q", "-F", img.to_str().expect("utf-8")]);
    sfdisk(&img, "label: dos\nlabel-id: 0xcafe0001\nstart=2048, type=83\n");
    assert_same_as_blkid(&img);
}

#[test]
fn partition_devices_like_blkid() {
    if !have("sfdisk") || !have("losetup") || !have("partx") || !have("mkfs.ext4") {
        eprintln!("skipped: sfdisk, losetup, partx or mkfs.ext4 missing");
        return;
    }
    if !Path::new("/dev/loop-control").exists() {
        eprintln!("skipped: no loop devices");
        return;
    }
    let lock = serial();
    let dir = TempDir::new("partdev");
    for (name, script, parts) in [("dos.img", DOS, &[1u32, 2, 5, 6][..]), ("gpt.img", GPT, &[1, 2, 3][..])] {
        let img = image(&dir, name, 16 << 20, script);
        let lo = Loop::attach(&lock, &img, LoopOpts::PARTITIONS);
        run("mkfs.ext4", &["-q", "-F", "-L", "in part", lo.part(1).to_str().expect("utf-8")]);
        assert_same_as_blkid(&lo.0);
        for &n in parts {
            let p = lo.part(n);
            assert!(p.exists(), "{} missing", p.display());
            assert_same_as_blkid(&p);
        }
    }
}

#[test]
fn small_partitioned_disk_hides_its_filesystem() {
    if !have("sfdisk") || !have("losetup") || !have("mkfs.ext2") {
        eprintln!("skipped: sfdisk, losetup or mkfs.ext2 missing");
        return;
    }
    // Floppy-sized whole disk with an ext2 and a table: blkid shows only the table.
    let dir = TempDir::new("tiny");
    let img = dir.join("tiny.img");
    zero_image(&img, 1440 * 1024);
    run("mkfs.ext2", &["-q", "-F", img.to_str().expect("utf-8")]);
    sfdisk(&img, "label: dos\nlabel-id: 0x0badcafe\nstart=4, size=100, type=83\n");
    assert_same_as_blkid(&img);
    let lock = serial();
    let lo = Loop::attach(&lock, &img, LoopOpts::PARTITIONS);
    assert_same_as_blkid(&lo.0);
    // Without the rule (as libblkid's cache probes), the filesystem shows too.
    let opts = Options { small_disk_table_only: false, ..Options::default() };
    let Probed::Tags(tags) = crate::probe::probe_path(&lo.0, &opts).expect("probe") else { panic!("nothing") };
    let names: Vec<&str> = tags.iter().map(|t| t.name).collect();
    assert!(names.contains(&"TYPE") && names.contains(&"PTTYPE"), "{names:?}");
}

#[test]
fn hand_made_tables_do_not_loop() {
    // An EBR that links to itself, and a GPT header claiming 2^32-1 entries.
    let mut disk = vec![0u8; 1 << 20];
    disk[510] = 0x55;
    disk[511] = 0xaa;
    let e = &mut disk[446..462];
    e[4] = 0x05;
    e[8..12].copy_from_slice(&8u32.to_le_bytes());
    e[12..16].copy_from_slice(&1000u32.to_le_bytes());
    let ebr = 8 * 512;
    disk[ebr + 510] = 0x55;
    disk[ebr + 511] = 0xaa;
    for slot in 0..2 {
        let e = &mut disk[ebr + 446 + 16 * slot..ebr + 462 + 16 * slot];
        e[4] = if slot == 0 { 0x83 } else { 0x05 };
        e[8..12].copy_from_slice(&(if slot == 0 { 1u32 } else { 0 }).to_le_bytes());
        e[12..16].copy_from_slice(&10u32.to_le_bytes());
    }
    let mut r = Reader::from_bytes(disk.clone());
    let t = super::probe_table(&mut r, super::Disk::default()).expect("probe").expect("dos");
    assert!(t.partitions.len() < 300);

    let mut gpt = vec![0u8; 1 << 20];
    gpt[510] = 0x55;
    gpt[511] = 0xaa;
    gpt[446 + 4] = 0xee;
    let h = &mut gpt[512..1024];
    h[..8].copy_from_slice(b"EFI PART");
    h[12..16].copy_from_slice(&92u32.to_le_bytes());
    h[24..32].copy_from_slice(&1u64.to_le_bytes());
    h[40..48].copy_from_slice(&34u64.to_le_bytes());
    h[48..56].copy_from_slice(&2000u64.to_le_bytes());
    h[72..80].copy_from_slice(&2u64.to_le_bytes());
    h[80..84].copy_from_slice(&u32::MAX.to_le_bytes());
    h[84..88].copy_from_slice(&128u32.to_le_bytes());
    let crc = CRC32.checksum(&h[..92]);
    h[16..20].copy_from_slice(&crc.to_le_bytes());
    let mut r = Reader::from_bytes(gpt);
    let p = probe_reader(&mut r, &Options::default()).expect("probe");
    assert_eq!(p, Probed::Tags(vec![crate::probe::Tag { name: "PTTYPE", value: b"PMBR".to_vec() }]));
}

#[test]
fn covered_by_partition_table() {
    // One dos partition at sectors 2048..6144 of a 4 MiB disk.
    let mut disk = vec![0u8; 4 << 20];
    disk[510] = 0x55;
    disk[511] = 0xaa;
    let e = &mut disk[446..462];
    e[4] = 0x83;
    e[8..12].copy_from_slice(&2048u32.to_le_bytes());
    e[12..16].copy_from_slice(&4096u32.to_le_bytes());
    let mut r = Reader::from_bytes(disk.clone());
    assert!(super::is_covered_by_pt(&mut r, 2048 * 512, 4096).expect("probe"));
    assert!(super::is_covered_by_pt(&mut r, 6143 * 512, 512).expect("probe"));
    assert!(!super::is_covered_by_pt(&mut r, 0, 512).expect("probe"));
    assert!(!super::is_covered_by_pt(&mut r, 6000 * 512, 1 << 20).expect("probe"));
    // A table that does not fit the device covers nothing.
    disk[446 + 12..446 + 16].copy_from_slice(&100_000u32.to_le_bytes());
    let mut r = Reader::from_bytes(disk);
    assert!(!super::is_covered_by_pt(&mut r, 2048 * 512, 4096).expect("probe"));
}

#[test]
fn aix_magic_is_a_table_of_its_own() {
    let dir = TempDir::new("aix");
    let img = dir.join("aix.img");
    let mut data = vec![0u8; 2 << 20];
    data[..4].copy_from_slice(b"\xc9\xc2\xd4\xc1");
    // An MBR signature does not make it dos.
    data[510] = 0x55;
    data[511] = 0xaa;
    std::fs::write(&img, data).expect("write image");
    assert_same_as_blkid(&img);
}

#[path = "tests_more.rs"]
mod more;
