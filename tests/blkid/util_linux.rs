//! Differential test on util-linux's own blkid test images: `krazybox blkid`
//! against util-linux 2.38.1's `/usr/sbin/blkid` on the 138 images of
//! `shared/data/util-linux-blkid` (filesystems, RAID and crypto signatures,
//! partition tables), in every output mode, low level and high level.
//!
//! Both programs must print the same stdout and stderr and exit with the same
//! status, except for the (image, mode) pairs of [`KNOWN`], each of which
//! docs/blkid.md explains. An entry of [`KNOWN`] that no longer differs fails the test
//! too, so the list only ever says what is true today.
//!
//! The images are found in `shared/` beside the repository or in one of its
//! parent folders (or at `$KRAZYBOX_UTIL_LINUX_IMAGES`), decompressed once with
//! `xz` into a temporary folder and compared in parallel threads. util-linux
//! runs with `BLKID_FILE=/dev/null`, so no cache changes its answers.

use crate::support::{self, Loop, LoopOpts};
use crate::Run;

use std::fmt::Write as _;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

const UTIL_LINUX: &str = "/usr/sbin/blkid";
const DATA: &str = "shared/data/util-linux-blkid";
const IMAGE_COUNT: usize = 138;

/// The output modes every image is compared in: low level (`-p`) and high level.
const MODES: &[&[&str]] = &[
    &["-p"],
    &["-p", "-o", "udev"],
    &["-p", "-o", "export"],
    &["-p", "-o", "value"],
    &["-p", "-s", "TYPE", "-s", "LABEL", "-s", "PTTYPE"],
    &[],
    &["-o", "full"],
    &["-o", "value", "-s", "TYPE"],
    &["-o", "export"],
    &["-o", "udev"],
    &["-o", "device"],
];

/// Every mode of [`MODES`], for [`KNOWN`] entries where all of them differ.
const ALL: &[&str] = &["*"];

/// A documented difference: the image (`fs/NAME` or `pt/NAME`, without
/// `.img.xz`), the modes (as [`MODES`] spells them, joined by spaces; `""` is
/// plain `blkid`; [`ALL`] for every mode) and why.
struct Known {
    image: &'static str,
    modes: &'static [&'static str],
    reason: &'static str,
}

// Unused once every image matches and KNOWN is empty.
#[allow(dead_code)]
const fn known(image: &'static str, modes: &'static [&'static str], reason: &'static str) -> Known {
    Known { image, modes, reason }
}

/// What krazybox does not yet know, as docs/blkid.md says ("util-linux's test images").
const NOT_YET: &str = "not yet supported";

/// The differences docs/blkid.md documents. One line per image, so that each prober
/// that lands removes its own line.
const KNOWN: &[Known] = &[];

/// The folder holding util-linux's images: `$KRAZYBOX_UTIL_LINUX_IMAGES`, else
/// `shared/data/util-linux-blkid` in the repository's parent folder (where CI
/// puts it) or a folder above that.
fn data_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("KRAZYBOX_UTIL_LINUX_IMAGES") {
        return Some(PathBuf::from(d));
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().skip(1).map(|a| a.join(DATA)).find(|d| d.is_dir())
}

/// `fs/NAME` and `pt/NAME` for every `NAME.img.xz`, sorted.
fn image_names(data: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for (sub, short) in [("images-fs", "fs"), ("images-pt", "pt")] {
        for e in std::fs::read_dir(data.join(sub)).unwrap_or_else(|e| panic!("{}: {e}", data.join(sub).display())) {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            if let Some(stem) = name.strip_suffix(".img.xz") {
                names.push(format!("{short}/{stem}"));
            }
        }
    }
    names.sort();
    names
}

/// Run `f` over `items` on a few threads.
fn parallel<T: Sync>(items: &[T], f: impl Fn(&T) + Sync) {
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 8);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                f(item);
            });
        }
    });
}

/// Decompress `fs/NAME` to `dir/fs/NAME.img`.
fn unpack(data: &Path, dir: &Path, image: &str) {
    let (short, stem) = image.split_once('/').unwrap();
    let sub = if short == "fs" { "images-fs" } else { "images-pt" };
    let src = data.join(sub).join(format!("{stem}.img.xz"));
    let out = std::fs::File::create(dir.join(format!("{image}.img"))).unwrap();
    let status = Command::new("xz")
        .arg("-dc")
        .arg(&src)
        .stdout(out)
        .status()
        .unwrap_or_else(|e| panic!("running xz (package xz-utils) on {}: {e}", src.display()));
    assert!(status.success(), "xz -dc {} failed", src.display());
}

/// Run `cmd` with `args` in the folder `cwd`.
fn run(mut cmd: Command, cwd: &Path, args: &[&str]) -> Run {
    cmd.args(args).current_dir(cwd);
    Run::of(cmd)
}

fn util_linux(cwd: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(UTIL_LINUX);
    // Messages start with argv[0]; name it as krazybox's applet is named.
    cmd.arg0("blkid").env("BLKID_FILE", "/dev/null");
    run(cmd, cwd, args)
}

fn krazybox(cwd: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_krazybox"));
    cmd.arg("blkid");
    run(cmd, cwd, args)
}

/// Both programs on image `fs/NAME` in `mode`, run inside `dir/fs` on
/// `NAME.img` so that both print the same device name.
fn compare_image(dir: &Path, image: &str, mode: &[&str]) -> (Run, Run) {
    let (short, stem) = image.split_once('/').unwrap();
    let file = format!("{stem}.img");
    let args: Vec<&str> = mode.iter().copied().chain([file.as_str()]).collect();
    let cwd = dir.join(short);
    (util_linux(&cwd, &args), krazybox(&cwd, &args))
}

/// Whether [`KNOWN`] lists `image` in `mode`.
fn is_known(image: &str, mode: &str) -> bool {
    KNOWN.iter().any(|k| k.image == image && (k.modes == ALL || k.modes.contains(&mode)))
}

#[test]
fn util_linux_images() {
    if !Path::new(UTIL_LINUX).exists() {
        eprintln!("skipped: {UTIL_LINUX} (util-linux) is not installed");
        return;
    }
    let Some(data) = data_dir() else {
        eprintln!("skipped: no {DATA} beside the repository (set KRAZYBOX_UTIL_LINUX_IMAGES)");
        return;
    };
    let images = image_names(&data);
    assert_eq!(images.len(), IMAGE_COUNT, "images in {}", data.display());
    for k in KNOWN {
        assert!(images.iter().any(|i| i == k.image), "KNOWN names {}, which is not an image", k.image);
        assert!(!k.reason.is_empty(), "KNOWN entry {} gives no reason", k.image);
        for m in k.modes {
            assert!(
                k.modes == ALL || MODES.iter().any(|mode| mode.join(" ") == *m),
                "KNOWN entry {} names mode {m:?}, which is not compared",
                k.image
            );
        }
    }

    let tmp = support::TempDir::new("util-linux-blkid");
    tmp.subdir("fs");
    tmp.subdir("pt");
    parallel(&images, |image| unpack(&data, tmp.path(), image));

    // Per image: the modes that differ, and the report of each difference.
    let results: Mutex<Vec<(String, Vec<String>, String)>> = Mutex::new(Vec::new());
    parallel(&images, |image| {
        let (mut differ, mut report) = (Vec::new(), String::new());
        for mode in MODES {
            let (theirs, ours) = compare_image(tmp.path(), image, mode);
            if theirs != ours {
                differ.push(mode.join(" "));
                let _ = write!(
                    report,
                    "\n== {image}: blkid {}\n  util-linux:\n{theirs}  krazybox:\n{ours}",
                    mode.join(" ")
                );
            }
        }
        results.lock().unwrap().push((image.clone(), differ, report));
    });
    let mut results = results.into_inner().unwrap();
    results.sort();

    let matching = results.iter().filter(|(_, differ, _)| differ.is_empty()).count();
    let (mut undocumented, mut stale, mut report) = (Vec::new(), Vec::new(), String::new());
    for (image, differ, text) in &results {
        if differ.iter().any(|m| !is_known(image, m)) {
            undocumented
                .push(format!("{image}: {}", differ.iter().map(|m| format!("{m:?}")).collect::<Vec<_>>().join(", ")));
            report.push_str(text);
        }
        for k in KNOWN.iter().filter(|k| k.image == image) {
            let listed: Vec<String> = if k.modes == ALL {
                MODES.iter().map(|m| m.join(" ")).collect()
            } else {
                k.modes.iter().map(|m| m.to_string()).collect()
            };
            let gone: Vec<String> = listed.iter().filter(|m| !differ.contains(m)).map(|m| format!("{m:?}")).collect();
            if gone.len() == MODES.len() {
                stale.push(format!("{image}, every mode ({})", k.reason));
            } else if !gone.is_empty() {
                stale.push(format!("{image} {} ({})", gone.join(", "), k.reason));
            }
        }
    }
    eprintln!("{matching} of {} util-linux images match in all {} modes", results.len(), MODES.len());
    let not_yet = KNOWN.iter().filter(|k| k.reason.starts_with(NOT_YET)).count();
    eprintln!("{not_yet} images hold signatures krazybox does not support yet");
    assert!(
        undocumented.is_empty() && stale.is_empty(),
        "{} images differ where docs/blkid.md documents no difference:\n  {}\n\
         {} documented differences no longer occur (remove them from KNOWN and docs/blkid.md):\n  {}\n{report}",
        undocumented.len(),
        undocumented.join("\n  "),
        stale.len(),
        stale.join("\n  "),
    );
}

/// A read-only loop device with partition scanning on (the partitions are
/// added one at a time), detached (its partitions first) on drop; None after
/// saying why there is none.
fn attach(lock: &support::Serial, image: &Path) -> Option<Loop> {
    let opts = LoopOpts { read_only: true, scan: true, partitions: false };
    Loop::try_attach(lock, image, opts).map_err(|e| eprintln!("{e}")).ok()
}

/// The partition numbers libblkid lists on the device (`partx -g -o NR`).
fn numbers(lo: &Loop) -> Vec<u32> {
    let out = Command::new("partx").args(["-g", "-o", "NR", lo.as_str()]).output().expect("running partx");
    String::from_utf8_lossy(&out.stdout).split_whitespace().filter_map(|n| n.parse().ok()).collect()
}

/// Add partition `n` alone (nested entries overlap their dos partition,
/// which the kernel refuses next to it); its device node, or None when the
/// kernel refuses it (an entry past the end of the disk). A kernel that
/// reads the table itself may have made the partition already.
fn add(lo: &Loop, n: u32) -> Option<PathBuf> {
    let nr = format!("{n}:{n}");
    let _ = Command::new("partx").args(["-a", "-n", &nr, lo.as_str()]).output();
    let name = lo.as_str().trim_start_matches("/dev/");
    if !Path::new(&format!("/sys/block/{name}/{name}p{n}")).exists() {
        return None;
    }
    // The node appears a moment after the partition.
    let dev = lo.part(n);
    dev.exists().then_some(dev)
}

fn remove(lo: &Loop, n: u32) {
    let nr = format!("{n}:{n}");
    let _ = Command::new("partx").args(["-d", "-n", &nr, lo.as_str()]).output();
}

/// The partition-table images on loop devices: every partition of util-linux's
/// list that the kernel accepts is added on its own, and both programs must
/// report the same `PART_ENTRY_*` (and everything else) for it in every mode.
#[test]
fn util_linux_partition_devices() {
    if !Path::new(UTIL_LINUX).exists() || !Path::new("/dev/loop-control").exists() {
        eprintln!("skipped: {UTIL_LINUX} or loop devices missing");
        return;
    }
    let Some(data) = data_dir() else {
        eprintln!("skipped: no {DATA} beside the repository (set KRAZYBOX_UTIL_LINUX_IMAGES)");
        return;
    };
    let images: Vec<String> = image_names(&data).into_iter().filter(|i| i.starts_with("pt/")).collect();
    let tmp = support::TempDir::new("util-linux-pt");
    tmp.subdir("pt");
    parallel(&images, |image| unpack(&data, tmp.path(), image));

    let lock = support::serial();
    let (mut compared, mut refused, mut failed, mut report) = (0, Vec::new(), Vec::new(), String::new());
    for image in &images {
        let Some(lo) = attach(&lock, &tmp.path().join(format!("{image}.img"))) else { continue };
        for n in numbers(&lo) {
            let Some(dev) = add(&lo, n) else {
                refused.push(format!("{image} #{n}"));
                continue;
            };
            let dev = dev.to_str().expect("utf-8 device name").to_string();
            for mode in MODES {
                let args: Vec<&str> = mode.iter().copied().chain([dev.as_str()]).collect();
                let (theirs, ours) = (util_linux(tmp.path(), &args), krazybox(tmp.path(), &args));
                compared += 1;
                if theirs != ours {
                    failed.push(format!("{image} #{n}: blkid {}", args.join(" ")));
                    let _ = write!(
                        report,
                        "\n== {image} #{n}: blkid {}\n  util-linux:\n{theirs}  krazybox:\n{ours}",
                        args.join(" ")
                    );
                }
            }
            remove(&lo, n);
        }
    }
    eprintln!("{compared} comparisons on partition devices; the kernel refused {}", refused.join(", "));
    assert!(compared > 0, "no partition device could be made");
    assert!(failed.is_empty(), "{} comparisons differ:\n  {}\n{report}", failed.len(), failed.join("\n  "));
}

/// libblkid's partition list of every image, as `partx` prints it (partx reads
/// tables through libblkid, nested ones included), against krazybox's: what
/// `PART_ENTRY_*` of each partition device is made from, for the entries the
/// kernel would not accept as devices too.
#[test]
fn util_linux_partition_lists() {
    use krazybox::probe::partitions::{probe_partitions, Disk};
    use krazybox::probe::Reader;
    if !Path::new("/usr/bin/partx").exists() {
        eprintln!("skipped: partx (util-linux) is not installed");
        return;
    }
    let Some(data) = data_dir() else {
        eprintln!("skipped: no {DATA} beside the repository (set KRAZYBOX_UTIL_LINUX_IMAGES)");
        return;
    };
    let images = image_names(&data);
    let tmp = support::TempDir::new("util-linux-lists");
    tmp.subdir("fs");
    tmp.subdir("pt");
    parallel(&images, |image| unpack(&data, tmp.path(), image));
    let (mut listed, mut failed) = (0, Vec::new());
    for image in &images {
        let path = tmp.path().join(format!("{image}.img"));
        let out = Command::new("partx")
            .args(["-g", "-r", "-o", "NR,START,SECTORS,TYPE,FLAGS,SCHEME,NAME,UUID"])
            .arg(&path)
            .output()
            .expect("running partx");
        let theirs: Vec<String> = if out.status.success() {
            String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
        } else {
            Vec::new()
        };
        let file = std::fs::File::open(&path).expect("open image");
        let table =
            probe_partitions(&mut Reader::from_file(file, 0, None).expect("reader"), Disk::default()).expect("probe");
        let ours: Vec<String> = table
            .map(|t| t.partitions)
            .unwrap_or_default()
            .iter()
            .map(|p| {
                let name = p.name.as_ref().map(|n| String::from_utf8_lossy(n).into_owned()).unwrap_or_default();
                format!(
                    "{} {} {} {} 0x{:x} {} {name} {}",
                    p.number,
                    p.start,
                    p.size,
                    String::from_utf8_lossy(&p.type_name),
                    p.flags,
                    p.scheme,
                    p.uuid.as_deref().unwrap_or("")
                )
            })
            .collect();
        listed += usize::from(!theirs.is_empty());
        if ours != theirs {
            failed.push(format!("{image}:\n    partx    {theirs:?}\n    krazybox {ours:?}"));
        }
    }
    eprintln!("{listed} images have partitions; {} lists differ", failed.len());
    assert!(listed > 0, "partx listed no partitions on any image");
    assert!(failed.is_empty(), "partition lists differ:\n  {}", failed.join("\n  "));
}
