//! The tables other than dos and gpt: images made by parted and by hand,
//! compared with util-linux both ways libblkid probes them: `blkid -p` (the
//! table type alone) and `partx` (libblkid's list of partitions, nested
//! tables included).
use crate::probe::partitions::{probe_partitions, Disk};
use crate::probe::{Options, Reader};
use crate::support::probe::{blkid_export, our_export};
use crate::support::{need, run, zero_image, TempDir};
use std::path::{Path, PathBuf};
use std::process::Command;

const PARTX_COLUMNS: &str = "NR,START,SECTORS,TYPE,FLAGS,SCHEME,NAME,UUID";

/// libblkid's partition list of an image as `partx -g -r` prints it; `None`
/// when it finds no table.
fn partx_list(img: &Path) -> Option<Vec<String>> {
    let out = Command::new("partx").args(["-g", "-r", "-o", PARTX_COLUMNS]).arg(img).output().expect("run partx");
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect())
}

/// Ours in the same form (partx prints names with `\x20`-style escapes for
/// unsafe bytes; the names used here have none).
fn our_list(img: &Path) -> Option<Vec<String>> {
    let mut r = Reader::from_file(std::fs::File::open(img).expect("open image"), 0, None).expect("reader");
    let t = probe_partitions(&mut r, Disk::default()).expect("probe")?;
    if t.partitions.is_empty() {
        // partx finds "no partitions" and fails on an empty table.
        return None;
    }
    Some(
        t.partitions
            .iter()
            .map(|p| {
                let name = p.name.as_ref().map(|n| String::from_utf8_lossy(n).into_owned()).unwrap_or_default();
                let uuid = p.uuid.clone().unwrap_or_default();
                format!(
                    "{} {} {} {} 0x{:x} {} {name} {uuid}",
                    p.number,
                    p.start,
                    p.size,
                    String::from_utf8_lossy(&p.type_name),
                    p.flags,
                    p.scheme
                )
            })
            .collect(),
    )
}

/// Both probes of `img` match util-linux's.
fn assert_same(img: &Path) {
    assert_eq!(
        our_export(img, &Options::default())
            .map(|v| v.iter().map(|l| String::from_utf8_lossy(l).into_owned()).collect::<Vec<_>>()),
        blkid_export(img, &[]).map(|v| v.iter().map(|l| String::from_utf8_lossy(l).into_owned()).collect::<Vec<_>>()),
        "blkid -p {}",
        img.display()
    );
    assert_eq!(our_list(img), partx_list(img), "partx {}", img.display());
}

#[test]
fn parted_labels_like_util_linux() {
    if !need(&["parted", "partx", "blkid"]) {
        return;
    }
    let dir = TempDir::new("parted");
    for (label, parts) in [
        ("sun", &["mkpart", "ext2", "1MiB", "3MiB", "mkpart", "linux-swap", "3MiB", "6MiB"][..]),
        ("mac", &["mkpart", "p-one", "ext2", "1MiB", "3MiB", "mkpart", "two", "ext2", "3MiB", "5MiB"][..]),
        ("bsd", &["mkpart", "ext2", "1MiB", "3MiB", "mkpart", "ext2", "3MiB", "5MiB"][..]),
        ("atari", &["mkpart", "primary", "1MiB", "3MiB", "mkpart", "primary", "3MiB", "5MiB"][..]),
        ("dvh", &["mkpart", "primary", "2MiB", "3MiB", "mkpart", "primary", "3MiB", "5MiB"][..]),
    ] {
        let img = dir.join(&format!("{label}.img"));
        zero_image(&img, 8 << 20);
        let mut args = vec!["-s", img.to_str().expect("utf-8"), "mklabel", label];
        args.extend_from_slice(parts);
        run("parted", &args);
        assert_same(&img);
    }
}

/// A 16 MiB image from a dos table with these `(type, start, size)` entries and
/// `fill` called on the bytes.
fn dos_image(dir: &TempDir, name: &str, entries: &[(u8, u32, u32)], fill: impl FnOnce(&mut [u8])) -> PathBuf {
    let mut d = vec![0u8; 16 << 20];
    d[440..444].copy_from_slice(&0x5eed_0001u32.to_le_bytes());
    for (i, &(kind, start, size)) in entries.iter().enumerate() {
        let e = &mut d[446 + 16 * i..462 + 16 * i];
        e[4] = kind;
        e[8..12].copy_from_slice(&start.to_le_bytes());
        e[12..16].copy_from_slice(&size.to_le_bytes());
    }
    d[510] = 0x55;
    d[511] = 0xaa;
    fill(&mut d);
    let img = dir.join(name);
    std::fs::write(&img, d).expect("write image");
    img
}

fn put32le(d: &mut [u8], at: usize, v: u32) {
    d[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put16le(d: &mut [u8], at: usize, v: u16) {
    d[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put32be(d: &mut [u8], at: usize, v: u32) {
    d[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

/// A BSD disklabel at `at` with `(fstype, offset, size)` entries.
fn bsd_label(d: &mut [u8], at: usize, entries: &[(u8, u32, u32)]) {
    put32le(d, at, 0x8256_4557);
    put16le(d, at + 138, entries.len() as u16);
    for (i, &(fstype, off, size)) in entries.iter().enumerate() {
        let e = at + 148 + 16 * i;
        put32le(d, e, size);
        put32le(d, e + 4, off);
        d[e + 12] = fstype;
    }
}

#[test]
fn nested_tables_like_util_linux() {
    if !need(&["partx", "blkid"]) {
        return;
    }
    let dir = TempDir::new("nested");
    // FreeBSD slice with absolute offsets, an entry for the whole slice, one
    // outside it, and an unused one; a logical partition before it in number.
    let img = dos_image(&dir, "freebsd.img", &[(0x83, 2048, 2048), (0xa5, 4096, 8192), (0x05, 12288, 4096)], |d| {
        bsd_label(
            d,
            4096 * 512 + 512,
            &[(7, 4096 + 16, 1000), (1, 5200, 100), (0, 0, 0), (7, 4096, 8192), (7, 12000, 5000)],
        );
        // One logical partition in the extended one.
        let ebr = 12288 * 512;
        d[ebr + 446 + 4] = 0x83;
        put32le(d, ebr + 446 + 8, 64);
        put32le(d, ebr + 446 + 12, 100);
        d[ebr + 510] = 0x55;
        d[ebr + 511] = 0xaa;
    });
    assert_same(&img);
    // FreeBSD 10 style: offsets relative to the slice, told by a whole-disk entry at 0.
    let img = dos_image(&dir, "freebsd10.img", &[(0xa5, 4096, 8192)], |d| {
        bsd_label(d, 4096 * 512 + 512, &[(7, 16, 1000), (1, 1100, 100), (7, 0, 8192)]);
    });
    assert_same(&img);
    // NetBSD and OpenBSD, the label 64 bytes into the slice's first sector.
    let img = dos_image(&dir, "netopen.img", &[(0xa9, 2048, 4096), (0xa6, 8192, 4096)], |d| {
        bsd_label(d, 2048 * 512 + 512, &[(7, 2100, 100)]);
        bsd_label(d, 8192 * 512 + 64, &[(7, 8300, 100), (7, 8500, 50)]);
    });
    assert_same(&img);
    // A slice to look into that ends past the disk: libblkid lists nothing at all.
    let img = dos_image(&dir, "overflow.img", &[(0x83, 2048, 2048), (0xa5, 30000, 8192)], |d| {
        bsd_label(d, 30000 * 512 + 512, &[(7, 30016, 100)]);
    });
    assert_same(&img);
    assert_eq!(our_list(&img), None);
    // UnixWare: the magic libblkid looks for at byte 29174 of the slice, the VTOC in sector 29.
    let img = dos_image(&dir, "unixware.img", &[(0x63, 2048, 8192)], |d| {
        let base = 2048 * 512;
        d[base + 29174..base + 29178].copy_from_slice(b"\x0d\x60\xe5\xca");
        let l = base + 29 * 512;
        put32le(d, l + 156, 0x600d_deee);
        for (i, (tag, flags, start, size)) in [
            (5u16, 0x200u16, 2048u32, 8192u32),
            (2, 0x200, 2100, 500),
            (3, 0x201, 2700, 100),
            (4, 0x200, 3000, 200),
            (4, 0x200, 9000, 5000),
        ]
        .into_iter()
        .enumerate()
        {
            let s = l + 216 + 12 * i;
            put16le(d, s, tag);
            put16le(d, s + 2, flags);
            put32le(d, s + 4, start);
            put32le(d, s + 8, size);
        }
    });
    assert_same(&img);
    // Solaris x86 (type 0x82, like Linux swap): slices relative to the partition.
    let img = dos_image(&dir, "solaris.img", &[(0x82, 2048, 8192)], |d| {
        let v = 2048 * 512 + 512;
        put32le(d, v + 12, 0x600d_deee);
        put32le(d, v + 16, 1);
        put16le(d, v + 30, 5);
        for (i, (tag, flag, start, size)) in
            [(2u16, 0u16, 16u32, 500u32), (5, 0, 0, 8192), (3, 1, 600, 100), (4, 0, 8000, 500), (8, 0, 1000, 10)]
                .into_iter()
                .enumerate()
        {
            let s = v + 72 + 12 * i;
            put16le(d, s, tag);
            put16le(d, s + 2, flag);
            put32le(d, s + 4, start);
            put32le(d, s + 8, size);
        }
    });
    assert_same(&img);
    // Minix subpartitions: an MBR at the start of a type 0x81 partition, absolute offsets.
    let img = dos_image(&dir, "minix.img", &[(0x81, 2048, 8192)], |d| {
        let m = 2048 * 512;
        for (i, (kind, start, size)) in
            [(0x81u8, 2049u32, 1000u32), (0x83, 3100, 100), (0x81, 4000, 100), (0x81, 9000, 5000)]
                .into_iter()
                .enumerate()
        {
            let e = m + 446 + 16 * i;
            d[e] = if i == 2 { 0x80 } else { 0 };
            d[e + 4] = kind;
            put32le(d, e + 8, start);
            put32le(d, e + 12, size);
        }
        d[m + 510] = 0x55;
        d[m + 511] = 0xaa;
    });
    assert_same(&img);
}

#[test]
fn hand_made_labels_like_util_linux() {
    if !need(&["partx", "blkid"]) {
        return;
    }
    let dir = TempDir::new("labels");
    let write = |name: &str, d: Vec<u8>| {
        let img = dir.join(name);
        std::fs::write(&img, d).expect("write image");
        img
    };
    // Ultrix: the label in the last 72 bytes of the 16 KiB boot area; a negative size.
    let mut d = vec![0u8; 8 << 20];
    let l = 16384 - 72;
    put32le(&mut d, l, 0x0003_2957);
    put32le(&mut d, l + 4, 1);
    for (i, (size, off)) in [(1000u32, 64u32), (0, 0), (u32::MAX - 5, 2000), (300, 3000)].into_iter().enumerate() {
        put32le(&mut d, l + 8 + 8 * i, size);
        put32le(&mut d, l + 12 + 8 * i, off);
    }
    assert_same(&write("ultrix.img", d));

    // Atari: a primary, an XGM chain of two, an inactive slot; then ICD entries.
    let atari_entry = |d: &mut [u8], at: usize, flags: u8, id: &[u8; 3], start: u32, size: u32| {
        d[at] = flags;
        d[at + 1..at + 4].copy_from_slice(id);
        put32be(d, at + 4, start);
        put32be(d, at + 8, size);
    };
    let mut d = vec![0u8; 8 << 20];
    put32be(&mut d, 0x1c2, 16384);
    atari_entry(&mut d, 0x1c6, 1, b"GEM", 2, 1000);
    atari_entry(&mut d, 0x1c6 + 12, 1, b"XGM", 2000, 6000);
    // First extended root sector: a data partition and a link.
    let x = 2000 * 512;
    atari_entry(&mut d, x + 0x1c6, 1, b"LNX", 1, 500);
    atari_entry(&mut d, x + 0x1c6 + 12, 1, b"XGM", 1000, 1000);
    let x = 3000 * 512;
    atari_entry(&mut d, x + 0x1c6, 1, b"SWP", 1, 300);
    atari_entry(&mut d, 0x1c6 + 36, 1, b"BGM", 9000, 100);
    assert_same(&write("atari-xgm.img", d.clone()));
    // No XGM: ICD entries after the four primaries; a duplicate start keeps its number.
    let mut d = vec![0u8; 8 << 20];
    put32be(&mut d, 0x1c2, 16384);
    atari_entry(&mut d, 0x1c6, 1, b"GEM", 2, 1000);
    atari_entry(&mut d, 0x156, 1, b"LNX", 2000, 100);
    atari_entry(&mut d, 0x156 + 12, 1, b"RAW", 2, 1000);
    atari_entry(&mut d, 0x156 + 24, 1, b"XYZ", 3000, 100);
    atari_entry(&mut d, 0x156 + 36, 1, b"SWP", 4000, 100);
    assert_same(&write("atari-icd.img", d));

    // Sun with an all-zero VTOC (old Linux labels) and a bad checksum.
    let mut d = vec![0u8; 8 << 20];
    d[436..438].copy_from_slice(&16u16.to_be_bytes());
    d[438..440].copy_from_slice(&63u16.to_be_bytes());
    for (i, (cyl, size)) in [(0u32, 1008u32), (1, 0), (2, 2016)].into_iter().enumerate() {
        put32be(&mut d, 444 + 8 * i, cyl);
        put32be(&mut d, 448 + 8 * i, size);
    }
    d[508] = 0xda;
    d[509] = 0xbe;
    let xor = d[..510].chunks_exact(2).fold(0u16, |x, c| x ^ u16::from_be_bytes([c[0], c[1]]));
    d[510..512].copy_from_slice(&xor.to_be_bytes());
    assert_same(&write("sun-old.img", d.clone()));
    d[200] ^= 1;
    assert_same(&write("sun-bad.img", d));

    // A mac map whose second entry lost its signature: a table for blkid -p,
    // none in the list.
    let mut d = vec![0u8; 8 << 20];
    d[0..2].copy_from_slice(b"ER");
    d[2..4].copy_from_slice(&512u16.to_be_bytes());
    for (i, sig) in [b"PM", b"XX"].into_iter().enumerate() {
        let p = 512 * (1 + i);
        d[p..p + 2].copy_from_slice(sig);
        put32be(&mut d, p + 4, 2);
        put32be(&mut d, p + 8, 100 * (i as u32 + 1));
        put32be(&mut d, p + 12, 50);
    }
    assert_same(&write("mac-broken.img", d));
}

/// Type strings are bytes: a mac entry whose type and name are not UTF-8 gives
/// the same `PART_ENTRY_TYPE` and `PART_ENTRY_NAME` bytes on its partition device.
#[test]
fn mac_type_bytes_on_a_partition_device() {
    use crate::support::probe::assert_same_as_blkid;
    use crate::support::{serial, Loop, LoopOpts};
    if !need(&["losetup", "partx", "blkid"]) || !Path::new("/dev/loop-control").exists() {
        return;
    }
    let dir = TempDir::new("macbytes");
    let mut d = vec![0u8; 8 << 20];
    d[0..2].copy_from_slice(b"ER");
    d[2..4].copy_from_slice(&512u16.to_be_bytes());
    let entries: [(u32, u32, &[u8], &[u8]); 2] =
        [(1, 63, b"Apple", b"Apple_partition_map"), (2048, 4096, b"n\xe9me \"q\"", b"T\xffpe\x01 x  ")];
    for (i, (start, count, name, kind)) in entries.into_iter().enumerate() {
        let p = 512 * (1 + i);
        d[p..p + 2].copy_from_slice(b"PM");
        put32be(&mut d, p + 4, 2);
        put32be(&mut d, p + 8, start);
        put32be(&mut d, p + 12, count);
        d[p + 16..p + 16 + name.len()].copy_from_slice(name);
        d[p + 48..p + 48 + kind.len()].copy_from_slice(kind);
    }
    let img = dir.join("mac-bytes.img");
    std::fs::write(&img, d).expect("write image");
    // (partx escapes such bytes in its output: compare blkid's answers only.)
    assert_same_as_blkid(&img);
    let lock = serial();
    let lo = Loop::attach(&lock, &img, LoopOpts::PARTITIONS);
    let p2 = lo.part(2);
    assert!(p2.exists(), "{} missing", p2.display());
    assert_same_as_blkid(&p2);
}
