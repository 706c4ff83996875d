//! Robustness of the prober: real images made by mkfs and sfdisk, with random
//! bytes of their first 256 KiB changed, must never make it panic, hang or
//! return a malformed result.
//!
//! The generator is a fixed-seed xorshift, so a failure repeats; the failing
//! image is written next to the test's temp dir name in the panic message.

use krazybox::probe::checksum::CRC32;
use krazybox::probe::partitions::{probe_partitions, Disk};
use krazybox::probe::{probe_reader, Options, Probed, Reader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{have, TempDir};

/// Mutated copies probed per image.
const ROUNDS: usize = 600;
/// The region whose bytes are changed.
const FUZZ_SPAN: usize = 256 << 10;
/// No single probe of these small images may take this long.
const SLOW: Duration = Duration::from_secs(5);

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Make an image of `size` bytes with `cmd args… IMAGE`, or say why not.
fn make(dir: &TempDir, name: &str, size: u64, cmd: &str, args: &[&str], stdin: Option<&str>) -> Option<Vec<u8>> {
    if !have(cmd) {
        println!("skipped {name}: {cmd} not installed");
        return None;
    }
    let path = dir.0.join(name);
    std::fs::File::create(&path).and_then(|f| f.set_len(size)).expect("create image");
    let mut child = Command::new(cmd)
        .args(args)
        .arg(&path)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mkfs");
    if let Some(s) = stdin {
        use std::io::Write;
        child.stdin.take().expect("stdin").write_all(s.as_bytes()).expect("feed stdin");
    }
    let out = child.wait_with_output().expect("mkfs");
    assert!(out.status.success(), "{cmd} for {name}: {}", String::from_utf8_lossy(&out.stderr));
    Some(std::fs::read(&path).expect("read image"))
}

fn images(dir: &TempDir) -> Vec<(&'static str, Vec<u8>)> {
    let gpt = "label: gpt\nstart=34, size=200, name=\"a\"\nstart=2048, size=2048\nstart=4096, type=linux\n";
    let dos = "label: dos\nlabel-id: 0x11223344\nstart=1, size=100, type=83, bootable\n\
               start=200, size=3000, type=5\nstart=300, size=200\nstart=600, size=200\nstart=900, size=2000, type=85\n";
    // A small tree for the tools that pack files (large enough that the image is more than 1 KiB).
    let tree = dir.0.join("tree");
    std::fs::create_dir_all(tree.join("sub")).expect("tree");
    std::fs::write(tree.join("sub/file"), vec![b'x'; 5000]).expect("tree file");
    let tree = tree.to_str().expect("UTF-8 temp path");
    type Recipe<'a> = (&'static str, u64, &'a str, Vec<&'a str>, Option<&'a str>);
    let list: Vec<Recipe> = vec![
        ("ext2", 2 << 20, "mkfs.ext2", vec!["-q", "-F", "-L", "fuzz"], None),
        ("ext4", 4 << 20, "mkfs.ext4", vec!["-q", "-F", "-b", "4096"], None),
        ("ext3-1k", 4 << 20, "mkfs.ext3", vec!["-q", "-F", "-b", "1024"], None),
        ("jbd", 2 << 20, "mkfs.ext4", vec!["-q", "-F", "-O", "journal_dev"], None),
        ("gpt", 4 << 20, "sfdisk", vec!["-q", "--no-reread", "--no-tell-kernel"], Some(gpt)),
        ("dos", 4 << 20, "sfdisk", vec!["-q", "--no-reread", "--no-tell-kernel"], Some(dos)),
        ("vfat", 4 << 20, "mkfs.vfat", vec![], None),
        ("exfat", 4 << 20, "mkfs.exfat", vec![], None),
        ("ntfs", 4 << 20, "mkfs.ntfs", vec!["-F", "-Q", "-f"], None),
        ("minix-v1", 2 << 20, "mkfs.minix", vec!["-1"], None),
        ("minix-v2", 2 << 20, "mkfs.minix", vec!["-2"], None),
        ("minix-v3", 2 << 20, "mkfs.minix", vec!["-3"], None),
        ("bfs", 2 << 20, "mkfs.bfs", vec![], None),
        ("cramfs", 0, "mkfs.cramfs", vec!["-n", "fuzz", tree], None),
        ("cramfs-be", 0, "mkfs.cramfs", vec!["-N", "big", tree], None),
        ("romfs", 0, "genromfs", vec!["-d", tree, "-V", "fuzz", "-f"], None),
        ("ubifs", 0, "mkfs.ubifs", vec!["-r", tree, "-m", "2048", "-e", "129024", "-c", "32", "-o"], None),
        (
            "ocfs2",
            14 << 20,
            "mkfs.ocfs2",
            vec!["-q", "-F", "-M", "local", "-b", "1024", "-N", "1", "-J", "size=4M"],
            None,
        ),
        ("gfs2", 33 << 20, "mkfs.gfs2", vec!["-O", "-p", "lock_nolock", "-t", "c:fuzz", "-j", "1", "-J", "8"], None),
    ];
    let mut out = Vec::new();
    for (name, size, cmd, args, stdin) in list {
        if let Some(img) = make(dir, name, size, cmd, &args, stdin) {
            out.push((name, img));
        }
    }
    for (name, label, parts) in [
        ("sun", "sun", &["mkpart", "ext2", "1MiB", "2MiB", "mkpart", "linux-swap", "2MiB", "3MiB"][..]),
        ("mac", "mac", &["mkpart", "a", "ext2", "1MiB", "2MiB", "mkpart", "b", "ext2", "2MiB", "3MiB"][..]),
        ("bsd", "bsd", &["mkpart", "ext2", "1MiB", "2MiB", "mkpart", "ext2", "2MiB", "3MiB"][..]),
        ("atari", "atari", &["mkpart", "primary", "1MiB", "2MiB", "mkpart", "primary", "2MiB", "3MiB"][..]),
        ("sgi", "dvh", &["mkpart", "primary", "2MiB", "3MiB"][..]),
    ] {
        if let Some(img) = parted(dir, name, label, parts) {
            out.push((name, img));
        }
    }
    out.extend(hand_made_tables());
    // Types no Debian tool makes: util-linux's own test images, when present.
    for name in ["befs", "hpfs", "ufs", "vxfs-be", "vxfs-le", "vmfs", "netware", "mpool", "zonefs", "erofs-minix-magic"]
    {
        if let Some(img) = util_linux_image(name) {
            out.push((name, img));
        }
    }
    out
}

/// A 4 MiB image labelled by `parted mklabel LABEL` and `parts`, or say why not.
fn parted(dir: &TempDir, name: &str, label: &str, parts: &[&str]) -> Option<Vec<u8>> {
    if !have("parted") {
        println!("skipped {name}: parted not installed");
        return None;
    }
    let path = dir.0.join(name);
    std::fs::File::create(&path).and_then(|f| f.set_len(4 << 20)).expect("create image");
    let out =
        Command::new("parted").arg("-s").arg(&path).args(["mklabel", label]).args(parts).output().expect("parted");
    assert!(out.status.success(), "parted for {name}: {}", String::from_utf8_lossy(&out.stderr));
    Some(std::fs::read(&path).expect("read image"))
}

/// Tables no Debian tool writes: a dos table whose primaries hold a BSD label,
/// a UnixWare VTOC, a Solaris x86 VTOC and Minix subpartitions; an Ultrix
/// label; an Atari root sector with an XGM chain.
fn hand_made_tables() -> Vec<(&'static str, Vec<u8>)> {
    let le32 = |d: &mut [u8], at: usize, v: u32| d[at..at + 4].copy_from_slice(&v.to_le_bytes());
    let le16 = |d: &mut [u8], at: usize, v: u16| d[at..at + 2].copy_from_slice(&v.to_le_bytes());
    let be32 = |d: &mut [u8], at: usize, v: u32| d[at..at + 4].copy_from_slice(&v.to_be_bytes());
    let mut d = vec![0u8; 4 << 20];
    for (i, (kind, start, size)) in
        [(0xa5u8, 16u32, 1000u32), (0x63, 1024, 3000), (0x82, 4096, 1000), (0x81, 5120, 2000)].into_iter().enumerate()
    {
        let e = 446 + 16 * i;
        d[e + 4] = kind;
        le32(&mut d, e + 8, start);
        le32(&mut d, e + 12, size);
    }
    d[510] = 0x55;
    d[511] = 0xaa;
    // BSD disklabel in the FreeBSD slice's second sector.
    let l = 17 * 512;
    le32(&mut d, l, 0x8256_4557);
    le16(&mut d, l + 138, 3);
    for (i, (off, size)) in [(20u32, 100u32), (200, 300), (16, 1000)].into_iter().enumerate() {
        le32(&mut d, l + 148 + 16 * i, size);
        le32(&mut d, l + 152 + 16 * i, off);
        d[l + 160 + 16 * i] = 7;
    }
    // UnixWare: magic where libblkid looks (29174 into the slice), VTOC in sector 29.
    let u = 1024 * 512;
    d[u + 29174..u + 29178].copy_from_slice(b"\x0d\x60\xe5\xca");
    le32(&mut d, u + 29 * 512 + 156, 0x600d_deee);
    for i in 1..4 {
        let s = u + 29 * 512 + 216 + 12 * i;
        le16(&mut d, s, 2);
        le16(&mut d, s + 2, 0x200);
        le32(&mut d, s + 4, 1100 + 100 * i as u32);
        le32(&mut d, s + 8, 50);
    }
    // Solaris x86 VTOC in the slice's second sector.
    let v = 4097 * 512;
    le32(&mut d, v + 12, 0x600d_deee);
    le32(&mut d, v + 16, 1);
    le16(&mut d, v + 30, 4);
    for i in 0..3 {
        le16(&mut d, v + 72 + 12 * i, 2);
        le32(&mut d, v + 76 + 12 * i, 10 + 100 * i as u32);
        le32(&mut d, v + 80 + 12 * i, 50);
    }
    // Minix subpartitions at the start of the Minix partition.
    let m = 5120 * 512;
    for i in 0..2 {
        let e = m + 446 + 16 * i;
        d[e + 4] = 0x81;
        le32(&mut d, e + 8, 5121 + 500 * i as u32);
        le32(&mut d, e + 12, 400);
    }
    d[m + 510] = 0x55;
    d[m + 511] = 0xaa;
    let nested = d;

    let mut d = vec![0u8; 1 << 20];
    let l = 16384 - 72;
    le32(&mut d, l, 0x0003_2957);
    le32(&mut d, l + 4, 1);
    for i in 0..8 {
        le32(&mut d, l + 8 + 8 * i, 10 * i as u32);
        le32(&mut d, l + 12 + 8 * i, 100 * i as u32);
    }
    let ultrix = d;

    let mut d = vec![0u8; 1 << 20];
    let entry = |d: &mut [u8], at: usize, id: &[u8; 3], start: u32, size: u32| {
        d[at] = 1;
        d[at + 1..at + 4].copy_from_slice(id);
        be32(d, at + 4, start);
        be32(d, at + 8, size);
    };
    be32(&mut d, 0x1c2, 2048);
    entry(&mut d, 0x1c6, b"GEM", 2, 10);
    entry(&mut d, 0x1c6 + 12, b"XGM", 16, 1000);
    for (i, x) in [16usize, 116, 216].into_iter().enumerate() {
        entry(&mut d, x * 512 + 0x1c6, b"LNX", 1, 50);
        if i < 2 {
            entry(&mut d, x * 512 + 0x1c6 + 12, b"XGM", 100 * (i as u32 + 1), 100);
        }
    }
    vec![("nested", nested), ("ultrix", ultrix), ("atari-xgm", d)]
}

/// util-linux's test image `images-fs/NAME.img.xz`, from `$KRAZYBOX_UTIL_LINUX_IMAGES`
/// or `shared/data/util-linux-blkid` beside the repository or a parent folder.
fn util_linux_image(name: &str) -> Option<Vec<u8>> {
    let data = std::env::var_os("KRAZYBOX_UTIL_LINUX_IMAGES").map(PathBuf::from).or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .map(|a| a.join("shared/data/util-linux-blkid"))
            .find(|d| d.is_dir())
    });
    let Some(xz) = data.map(|d| d.join("images-fs").join(format!("{name}.img.xz"))).filter(|p| p.exists()) else {
        println!("skipped {name}: util-linux's test images not found (set KRAZYBOX_UTIL_LINUX_IMAGES)");
        return None;
    };
    let out = Command::new("xz").arg("-dc").arg(&xz).output().expect("run xz");
    assert!(out.status.success(), "xz -dc {}", xz.display());
    Some(out.stdout)
}

/// Re-seal GPT checksums after mutation, so the parser behind them runs too.
fn fix_gpt(img: &mut [u8]) {
    for hdr in [512usize, img.len() - 512] {
        if &img[hdr..hdr + 8] != b"EFI PART" {
            continue;
        }
        let le32 = |b: &[u8], at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        let mut lba = [0u8; 8];
        lba.copy_from_slice(&img[hdr + 72..hdr + 80]);
        let entries = u64::from_le_bytes(lba).saturating_mul(512);
        let len = u64::from(le32(img, hdr + 80)) * u64::from(le32(img, hdr + 84));
        if let Some(end) = entries.checked_add(len).filter(|&e| e <= img.len() as u64) {
            let crc = CRC32.checksum(&img[entries as usize..end as usize]);
            img[hdr + 88..hdr + 92].copy_from_slice(&crc.to_le_bytes());
        }
        let hsz = (le32(img, hdr + 12) as usize).clamp(92, 512);
        img[hdr + 16..hdr + 20].fill(0);
        let crc = CRC32.checksum(&img[hdr..hdr + hsz]);
        img[hdr + 16..hdr + 20].copy_from_slice(&crc.to_le_bytes());
    }
}

fn well_formed(p: &Probed) -> Result<(), String> {
    match p {
        Probed::Nothing => Ok(()),
        Probed::Ambivalent(v) if v.len() >= 2 => Ok(()),
        Probed::Ambivalent(v) => Err(format!("ambivalent with {} results", v.len())),
        Probed::Tags(tags) => {
            if tags.is_empty() {
                return Err("empty tag list".into());
            }
            for t in tags {
                if t.name.is_empty()
                    || !t.name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
                {
                    return Err(format!("bad tag name {:?}", t.name));
                }
                if t.value.contains(&0) {
                    return Err(format!("NUL in {}", t.name));
                }
            }
            let has = |n: &str| tags.iter().any(|t| t.name == n);
            if has("TYPE") != has("USAGE") {
                return Err("TYPE without USAGE or the reverse".into());
            }
            Ok(())
        }
    }
}

#[test]
fn mutated_images_never_panic() {
    let dir = TempDir::new("fuzz");
    let imgs = images(&dir);
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for (name, original) in &imgs {
        let span = FUZZ_SPAN.min(original.len());
        let mut kinds = std::collections::BTreeMap::<String, usize>::new();
        for round in 0..ROUNDS {
            let flips = 1 + rng.below(16);
            let edits: Vec<(usize, u8)> = (0..flips)
                .map(|_| {
                    // Mostly near the structures (first 8 KiB), sometimes anywhere.
                    let at = if rng.below(4) == 0 { rng.below(span) } else { rng.below(8192.min(span)) };
                    let byte = match rng.below(4) {
                        0 => 0,
                        1 => 0xff,
                        _ => rng.next() as u8,
                    };
                    (at, byte)
                })
                .collect();
            let mutate = || {
                let mut img = original.clone();
                for &(at, byte) in &edits {
                    img[at] = byte;
                }
                if *name == "gpt" && round % 2 == 0 {
                    fix_gpt(&mut img);
                }
                img
            };
            let started = Instant::now();
            let mut r = Reader::from_bytes(mutate());
            let result = probe_reader(&mut r, &Options::default());
            // The partition list too (nested tables, every entry): what PART_ENTRY_* reads.
            let list = probe_partitions(&mut Reader::from_bytes(mutate()), Disk::default());
            let result = result.and_then(|r| list.map(|_| r));
            let took = started.elapsed();
            let failure = match &result {
                Err(e) => Some(format!("I/O error on bytes: {e}")),
                Ok(p) => well_formed(p).err(),
            };
            if failure.is_some() || took > SLOW {
                let keep = std::env::temp_dir().join(format!("krazybox-fuzz-fail-{name}-{round}.img"));
                let _ = std::fs::write(&keep, mutate());
                panic!("{name} round {round}: {failure:?}, {took:?}; image kept at {}", keep.display());
            }
            let kind = match result.expect("checked above") {
                Probed::Nothing => "nothing".to_string(),
                Probed::Ambivalent(_) => "ambivalent".to_string(),
                Probed::Tags(t) => t
                    .iter()
                    .filter(|t| t.name == "TYPE" || t.name == "PTTYPE")
                    .map(|t| String::from_utf8_lossy(&t.value).into_owned())
                    .collect::<Vec<_>>()
                    .join("+"),
            };
            *kinds.entry(kind).or_default() += 1;
        }
        println!("{name}: {ROUNDS} mutated copies, results {kinds:?}");
    }
}

#[test]
fn random_garbage_never_panics() {
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    for round in 0..200 {
        let len = [0, 1, 511, 512, 1023, 1024, 1025, 4096, 65536, 300_000][round % 10];
        let mut img: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        // Plant the magics the probers look for, so they get past their first check.
        if len >= 2048 {
            img[0x438] = 0x53;
            img[0x439] = 0xef;
            img[510] = 0x55;
            img[511] = 0xaa;
        }
        if len >= 1024 && round % 3 == 0 {
            img[512..520].copy_from_slice(b"EFI PART");
            img[446 + 4] = 0xee;
        }
        let mut r = Reader::from_bytes(img);
        let p = probe_reader(&mut r, &Options::default()).expect("bytes never fail to read");
        well_formed(&p).unwrap_or_else(|e| panic!("round {round}: {e}"));
    }
}

/// Every magic of every prober planted at its place in random bytes, on
/// devices small and large enough for libblkid's minimum sizes: the checks
/// behind the magics see hostile fields.
#[test]
fn planted_magics_never_panic() {
    const SIZES: [u64; 3] = [1 << 20, 3 << 20, 65 << 20];
    let mut rng = XorShift(0x5851_f42d_4c95_7f2d);
    for prober in krazybox::probe::superblocks::PROBERS {
        for (m, magic) in prober.magics.iter().enumerate() {
            let at = magic.offset() as usize;
            for round in 0..12 {
                let size = (SIZES[round % 3] as usize).max(at + (64 << 10));
                let mut img = vec![0u8; size];
                // Random bytes at the start and around the magic, zeros elsewhere.
                let spans = [(0, FUZZ_SPAN.min(size)), (at.saturating_sub(4096), (at + (64 << 10)).min(size))];
                for (from, to) in spans {
                    img[from..to].iter_mut().for_each(|b| *b = rng.next() as u8);
                }
                img[at..at + magic.bytes.len()].copy_from_slice(magic.bytes);
                let started = Instant::now();
                let p = probe_reader(&mut Reader::from_bytes(img), &Options::default()).expect("bytes never fail");
                let what = format!("{} magic {m} round {round}", prober.name);
                well_formed(&p).unwrap_or_else(|e| panic!("{what}: {e}"));
                assert!(started.elapsed() < SLOW, "{what}: {:?}", started.elapsed());
            }
        }
    }
}

/// Damaged images are where probers disagree first: compare with util-linux
/// blkid on mutated copies, wherever blkid's answer only names types krazybox
/// has a prober for.
#[test]
fn mutated_images_match_blkid() {
    const BLKID: &str = "/usr/sbin/blkid";
    const ROUNDS: usize = 120;
    if !Path::new(BLKID).exists() {
        println!("skipped: no {BLKID}");
        return;
    }
    let known: Vec<&str> = krazybox::probe::superblocks::PROBERS.iter().map(|p| p.name).collect();
    let dir = TempDir::new("fuzz");
    let imgs = images(&dir);
    let path = dir.0.join("mutated.img");
    let mut rng = XorShift(0x0123_4567_89ab_cdef);
    for (name, original) in &imgs {
        let (mut compared, mut skipped) = (0, 0);
        // Written whole once; each round rewrites only the places mutations touch
        // (the first 8 KiB, and a GPT's backup header), so large images stay cheap.
        std::fs::write(&path, original).expect("write image");
        let file = std::fs::OpenOptions::new().write(true).open(&path).expect("open image");
        for round in 0..ROUNDS {
            let mut img = original.clone();
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(8192.min(img.len()));
                img[at] = rng.next() as u8;
            }
            if *name == "gpt" && round % 2 == 0 {
                fix_gpt(&mut img);
            }
            {
                use std::os::unix::fs::FileExt;
                let head = 8192.min(img.len());
                file.write_all_at(&img[..head], 0).expect("write image");
                let tail = img.len().saturating_sub(512).max(head);
                file.write_all_at(&img[tail..], tail as u64).expect("write image");
            }
            let out = Command::new(BLKID).args(["-p", "-o", "export"]).arg(&path).output().expect("run blkid");
            let theirs: Option<Vec<Vec<u8>>> = match out.status.code() {
                Some(0) => Some(
                    out.stdout
                        .split(|&b| b == b'\n')
                        .filter(|l| !l.is_empty() && !l.starts_with(b"DEVNAME="))
                        .map(<[u8]>::to_vec)
                        .collect(),
                ),
                Some(2) => None,
                _ => {
                    // Ambivalent: the other signature may be one krazybox does not know.
                    skipped += 1;
                    continue;
                }
            };
            // util-linux 2.38.1 also reports a dos table on a valid exFAT; krazybox
            // follows later releases, which do not. A damaged exFAT boot region can
            // still be a table for both, so either answer may match.
            let theirs_fixed = theirs.clone().map(|lines| {
                if lines.iter().any(|l| l == b"TYPE=exfat") {
                    lines.into_iter().filter(|l| !l.starts_with(b"PTTYPE=dos") && !l.starts_with(b"PTUUID=")).collect()
                } else {
                    lines
                }
            });
            let unknown = theirs
                .iter()
                .flatten()
                .any(|l| l.strip_prefix(b"TYPE=").is_some_and(|t| !known.iter().any(|k| k.as_bytes() == t)));
            if unknown {
                skipped += 1;
                continue;
            }
            let ours = match krazybox::probe::probe_path(&path, &Options::default()).expect("probe") {
                Probed::Tags(tags) => Some(
                    tags.iter()
                        .map(|t| {
                            [
                                t.name.as_bytes(),
                                b"=",
                                &krazybox::probe::escape_value(&t.value, krazybox::probe::EXPORT_SPECIAL),
                            ]
                            .concat()
                        })
                        .collect::<Vec<_>>(),
                ),
                Probed::Nothing | Probed::Ambivalent(_) => None,
            };
            if ours != theirs && ours != theirs_fixed {
                let keep = std::env::temp_dir().join(format!("krazybox-differs-{name}-{round}.img"));
                let _ = std::fs::write(&keep, &img);
                let show = |v: &Option<Vec<Vec<u8>>>| {
                    v.as_ref().map(|l| l.iter().map(|x| String::from_utf8_lossy(x).into_owned()).collect::<Vec<_>>())
                };
                panic!(
                    "{name} round {round}: ours {:?}, blkid {:?}; image kept at {}",
                    show(&ours),
                    show(&theirs),
                    keep.display()
                );
            }
            compared += 1;
        }
        println!("{name}: {compared} mutated copies agree with blkid, {skipped} name types krazybox lacks");
    }
}

/// RAID, volume-manager and crypto members, laid out by hand (most have no
/// tool on Debian), each checked to be found before it is mutated. Their
/// metadata is at the start, at 1 MiB or at the end of the device, so the
/// mutations go there.
mod members {
    use super::*;

    /// Above floppy size, where libblkid looks for RAID members.
    const SIZE: usize = (2 << 20) + 4096;
    const MIB: usize = 1 << 20;

    fn crc32c(data: &[u8]) -> u32 {
        !data.iter().fold(!0u32, |mut c, &b| {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 { (c >> 1) ^ 0x82f6_3b78 } else { c >> 1 };
            }
            c
        })
    }

    fn put(img: &mut [u8], at: usize, b: &[u8]) {
        img[at..at + b.len()].copy_from_slice(b);
    }

    /// (expected TYPE, image).
    pub fn images() -> Vec<(&'static str, Vec<u8>)> {
        let end = |back: usize| SIZE - back * 512;
        let mut out = Vec::new();
        let mut add = |name: &'static str, f: &dyn Fn(&mut Vec<u8>)| {
            let mut img = vec![0u8; SIZE];
            f(&mut img);
            out.push((name, img));
        };
        add("ddf_raid_member", &|i| {
            let at = end(1);
            put(i, at, &0xde11_de11u32.to_be_bytes());
            put(i, at + 8, b"Linux-MD krazybox ddf 01");
            put(i, at + 32, b"01.02.00");
            put(i, at + 96, &((at / 512) as u64).to_be_bytes());
        });
        add("isw_raid_member", &|i| put(i, end(2), b"Intel Raid ISM Cfg Sig. 1.3.00"));
        add("lsi_mega_raid_member", &|i| put(i, end(1), b"$XIDE$"));
        add("via_raid_member", &|i| {
            put(i, end(1), &[0x55, 0xaa, 1, 3, 0]);
            i[end(1) + 50] = 0x55u8.wrapping_add(0xaa).wrapping_add(1).wrapping_add(3);
        });
        add("silicon_medley_raid_member", &|i| {
            let at = end(1);
            put(i, at + 0x60, &0x2f00_0000u32.to_le_bytes());
            put(i, at + 0x10a, &2u16.to_le_bytes());
            put(i, at + 0x116, &[1]);
            let sum = i[at..at + 0x13e].chunks(2).fold(0u16, |s, w| s.wrapping_add(u16::from_le_bytes([w[0], w[1]])));
            put(i, at + 0x13e, &sum.wrapping_neg().to_le_bytes());
        });
        add("nvidia_raid_member", &|i| put(i, end(2), b"NVIDIA\0\0\0\0\0\0\0\0\0\0\x64\0"));
        add("promise_fasttrack_raid_member", &|i| put(i, end(63), b"Promise Technology, Inc."));
        add("hpt45x_raid_member", &|i| put(i, end(11), &0x5a78_16f3u32.to_le_bytes()));
        add("hpt37x_raid_member", &|i| put(i, 4640, b"\xf0\x16\x78\x5a"));
        add("adaptec_raid_member", &|i| {
            put(i, end(1), &0x37fc_4d1eu32.to_be_bytes());
            put(i, end(1) + 256, b"DPTM");
        });
        add("jmicron_raid_member", &|i| put(i, end(1), b"JM\x01\x02"));
        add("ceph_bluestore", &|i| put(i, 0, b"bluestore block device\n"));
        add("drbd", &|i| {
            put(i, SIZE - 4096 + 40, &0x1234_5678_9abcu64.to_be_bytes());
            put(i, SIZE - 4096 + 60, &0x8374_026bu32.to_be_bytes());
        });
        add("drbdmanage_control_volume", &|i| {
            put(i, 0, b"$DRBDmgr=q 0123456789abcdef0123456789abcdef\n");
            put(i, 0x1000, b"\x1a\xdb\x98\xa2\0\0\0\x01");
        });
        add("drbdproxy_datalog", &|i| put(i, 0, b"DRBDdlh*\x02\0\0\0\0\0\0\0\x11\x22"));
        add("LVM1_member", &|i| put(i, 0, b"HM\x01\0"));
        add("DM_snapshot_cow", &|i| put(i, 0, b"SnAp"));
        add("DM_verity_hash", &|i| put(i, 0, b"verity\0\0\x01\0\0\0\x01\0\0\0\xab"));
        add("DM_integrity", &|i| put(i, 0, b"integrt\0\x01"));
        add("VMFS_volume_member", &|i| {
            put(i, MIB, b"\x0d\xd0\x01\xc0\x04\0\0\0");
            put(i, MIB + 130, b"0123456789abcdef");
            put(i, MIB + 532, b"4f2a0c1e-12345678-9abc-0123456789ab");
        });
        add("ubi", &|i| put(i, 0, b"UBI#\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x10\x92"));
        add("vdo", &|i| {
            put(i, 0, b"dmvdo001");
            put(i, 40, b"\x01\x02\x03\x04");
        });
        add("stratis", &|i| {
            for at in [512, 9 * 512] {
                put(i, at + 4, b"!Stra0tis\x86\xff\x02^\x41rh");
                put(i, at + 32, b"0123456789abcdef0123456789abcdef");
                put(i, at + 64, b"fedcba9876543210fedcba9876543210");
                let crc = crc32c(&i[at + 4..at + 512]);
                put(i, at, &crc.to_le_bytes());
            }
        });
        add("BitLocker", &|i| {
            put(i, 0, b"\xeb\x58\x90-FVE-FS-");
            put(i, 176, &0x10000u64.to_le_bytes());
            put(i, 0x10000, b"-FVE-FS-\0\0\x02\0");
        });
        add("BitLocker", &|i| put(i, 0, b"\xeb\x52\x90-FVE-FS-"));
        add("BitLocker", &|i| {
            put(i, 0, b"\xeb\x58\x90MSWIN4.1");
            put(i, 440, &0x2000u64.to_le_bytes());
            put(i, 0x2000, b"-FVE-FS-\0\0\x01\0");
        });
        add("ddf_raid_member", &|i| {
            let at = end(257);
            put(i, at, &0xde11_de11u32.to_le_bytes());
            put(i, at + 8, b"little-endian anchor");
        });
        add("promise_fasttrack_raid_member", &|i| put(i, end(3087), b"Promise Technology, Inc."));
        add("drbd", &|i| {
            put(i, SIZE - 4096 + 48, &0xfeed_f00du64.to_be_bytes());
            put(i, SIZE - 4096 + 60, &0x8374_026cu32.to_be_bytes());
        });
        // A firmware-RAID member over a filesystem: the member wins.
        add("isw_raid_member", &|i| {
            put(i, 0x438, &[0x53, 0xef]);
            put(i, end(2), b"Intel Raid ISM Cfg Sig. 1.1.00");
        });
        out
    }

    /// A mutation offset near one of the places member metadata lives.
    pub fn hot_offset(rng: &mut XorShift) -> usize {
        match rng.below(6) {
            0 => rng.below(1024),
            1 => 4096 + rng.below(1024),
            2 => MIB + rng.below(1024),
            3 => rng.below(SIZE),
            4 => SIZE - 1 - rng.below(32 << 10),
            _ => SIZE - 1 - rng.below(6144),
        }
    }

    pub fn type_of(p: &Probed) -> Option<Vec<u8>> {
        match p {
            Probed::Tags(t) => t.iter().find(|t| t.name == "TYPE").map(|t| t.value.clone()),
            _ => None,
        }
    }
}

#[test]
fn mutated_members_never_panic() {
    let mut rng = XorShift(0x005e_ed0f_ba5e_ba11);
    for (name, original) in members::images() {
        let mut r = Reader::from_bytes(original.clone());
        let p = probe_reader(&mut r, &Options::default()).expect("probe");
        assert_eq!(members::type_of(&p).as_deref(), Some(name.as_bytes()), "unmutated {name}");
        let mut kinds = std::collections::BTreeMap::<String, usize>::new();
        for round in 0..300 {
            let mut img = original.clone();
            for _ in 0..1 + rng.below(12) {
                let at = members::hot_offset(&mut rng);
                img[at] = match rng.below(3) {
                    0 => 0,
                    1 => 0xff,
                    _ => rng.next() as u8,
                };
            }
            let started = Instant::now();
            let mut r = Reader::from_bytes(img.clone());
            let result = probe_reader(&mut r, &Options::default());
            let took = started.elapsed();
            let failure = match &result {
                Err(e) => Some(format!("I/O error on bytes: {e}")),
                Ok(p) => well_formed(p).err(),
            };
            if failure.is_some() || took > SLOW {
                let keep = std::env::temp_dir().join(format!("krazybox-fuzz-fail-{name}-{round}.img"));
                let _ = std::fs::write(&keep, &img);
                panic!("{name} round {round}: {failure:?}, {took:?}; image kept at {}", keep.display());
            }
            let kind = result
                .ok()
                .as_ref()
                .and_then(members::type_of)
                .map_or("-".into(), |t| String::from_utf8_lossy(&t).into_owned());
            *kinds.entry(kind).or_default() += 1;
        }
        println!("{name}: 300 mutated copies, results {kinds:?}");
    }
}

/// The hand-made members, mutated where their metadata is, against util-linux.
#[test]
fn mutated_members_match_blkid() {
    const BLKID: &str = "/usr/sbin/blkid";
    if !Path::new(BLKID).exists() {
        println!("skipped: no {BLKID}");
        return;
    }
    let dir = TempDir::new("fuzz");
    let path = dir.0.join("member.img");
    let mut rng = XorShift(0x00c0_ffee_d00d_f00d);
    for (name, original) in members::images() {
        for round in 0..40 {
            let mut img = original.clone();
            if round > 0 {
                for _ in 0..1 + rng.below(6) {
                    let at = members::hot_offset(&mut rng);
                    img[at] = rng.next() as u8;
                }
            }
            std::fs::write(&path, &img).expect("write image");
            let out = Command::new(BLKID).args(["-p", "-o", "udev"]).arg(&path).output().expect("run blkid");
            let ours = Command::new(env!("CARGO_BIN_EXE_krazybox"))
                .args(["blkid", "-p", "-o", "udev"])
                .arg(&path)
                .output()
                .expect("run krazybox");
            if (out.status.code(), &out.stdout) != (ours.status.code(), &ours.stdout) {
                let keep = std::env::temp_dir().join(format!("krazybox-differs-{name}-{round}.img"));
                let _ = std::fs::write(&keep, &img);
                panic!(
                    "{name} round {round}: blkid {:?} {}, krazybox {:?} {}; image kept at {}",
                    out.status.code(),
                    String::from_utf8_lossy(&out.stdout),
                    ours.status.code(),
                    String::from_utf8_lossy(&ours.stdout),
                    keep.display()
                );
            }
        }
    }
}

/// The partition lists of damaged tables against libblkid's, as `partx`
/// prints them (partx reads tables through libblkid, nested ones included).
#[test]
fn mutated_tables_match_partx() {
    const ROUNDS: usize = 80;
    if !have("partx") {
        println!("skipped: no partx");
        return;
    }
    let dir = TempDir::new("fuzz");
    let tables = ["gpt", "dos", "sun", "mac", "bsd", "atari", "sgi", "nested", "ultrix", "atari-xgm"];
    let imgs: Vec<_> = images(&dir).into_iter().filter(|(n, _)| tables.contains(n)).collect();
    let path = dir.0.join("mutated-table.img");
    let mut rng = XorShift(0x5151_7a7a_0f0f_e1e1);
    for (name, original) in &imgs {
        let mut differ = Vec::new();
        for round in 0..ROUNDS {
            let mut img = original.clone();
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(8192.min(img.len()));
                img[at] = rng.next() as u8;
            }
            if *name == "gpt" && round % 2 == 0 {
                fix_gpt(&mut img);
            }
            std::fs::write(&path, &img).expect("write image");
            let out = Command::new("partx")
                .args(["-g", "-r", "-o", "NR,START,SECTORS,TYPE,FLAGS,SCHEME,UUID"])
                .arg(&path)
                .output()
                .expect("run partx");
            let theirs: Vec<String> = if out.status.success() {
                String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
            } else {
                Vec::new()
            };
            let table = probe_partitions(&mut Reader::from_bytes(img.clone()), Disk::default()).expect("probe");
            let ours: Vec<String> = table
                .map(|t| t.partitions)
                .unwrap_or_default()
                .iter()
                .map(|p| {
                    let uuid = p.uuid.clone().unwrap_or_default();
                    format!(
                        "{} {} {} {} 0x{:x} {} {uuid}",
                        p.number,
                        p.start,
                        p.size,
                        String::from_utf8_lossy(&p.type_name),
                        p.flags,
                        p.scheme
                    )
                })
                .collect();
            // partx prints type strings with \x escapes for unsafe bytes: compare
            // only lists whose types are plain.
            let plain = |l: &Vec<String>| l.iter().all(|x| x.is_ascii() && !x.contains('\\'));
            if ours != theirs && plain(&theirs) && plain(&ours) {
                let keep = std::env::temp_dir().join(format!("krazybox-partx-differs-{name}-{round}.img"));
                let _ = std::fs::write(&keep, &img);
                differ
                    .push(format!("round {round}: ours {ours:?}, partx {theirs:?}; image kept at {}", keep.display()));
            }
        }
        assert!(differ.is_empty(), "{name}: {} of {ROUNDS} differ:\n{}", differ.len(), differ.join("\n"));
        println!("{name}: {ROUNDS} mutated tables list the same partitions as partx");
    }
}
