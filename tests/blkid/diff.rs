//! Differential tests: `krazybox blkid` against util-linux `/usr/sbin/blkid` on
//! images made by the real mkfs tools (`scripts/make-blkid-images.sh`).
//!
//! Every comparison runs both programs with the same arguments in the image
//! directory and requires identical stdout, stderr and exit status. One test per
//! type family, so `cargo test --test blkid diff::` shows at a glance which families
//! differ; each test collects all its mismatches before failing.
//!
//! util-linux is run with `BLKID_FILE=/dev/null` so that its persistent cache
//! (which may remember devices from earlier runs) cannot change its answers;
//! krazybox keeps no cache. Needs root (loop devices) and the mkfs tools.

use crate::support::{self, Loop, LoopOpts};
use crate::Run;

use std::fmt::Write as _;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const UTIL_LINUX: &str = "/usr/sbin/blkid";

/// The image directory, made once per test process.
fn images() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        remove_stale_dirs(base);
        let dir = base.join(format!("blkid-images-{}", std::process::id()));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/make-blkid-images.sh");
        let out = Command::new("bash").arg(script).arg(&dir).output().expect("running make-blkid-images.sh");
        let log = String::from_utf8_lossy(&out.stderr);
        if !log.is_empty() {
            eprintln!("make-blkid-images.sh:\n{log}");
        }
        assert!(out.status.success(), "make-blkid-images.sh failed");
        dir
    })
}

/// Image directories of earlier test processes that are gone (statics are never
/// dropped, so a run cannot clean up after itself).
fn remove_stale_dirs(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix("blkid-images-") {
            if !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// The images of one family, by file-name prefix, sorted.
fn family(prefixes: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(images())
        .expect("image directory")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".img") && prefixes.iter().any(|p| n.starts_with(p)))
        .collect();
    names.sort();
    if names.is_empty() {
        eprintln!("no images for {prefixes:?} (tools not installed?)");
    }
    names
}

fn run(mut cmd: Command) -> Run {
    cmd.current_dir(images());
    Run::of(cmd)
}

fn util_linux(args: &[&str]) -> Run {
    let mut cmd = Command::new(UTIL_LINUX);
    // getopt's messages start with argv[0]; name it as krazybox's applet is named.
    cmd.arg0("blkid").env("BLKID_FILE", "/dev/null").args(args);
    run(cmd)
}

fn krazybox(args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_krazybox"));
    cmd.arg("blkid").args(args);
    run(cmd)
}

/// util-linux 2.38.1 also reports a dos partition table on every exFAT (its MBR
/// check does not know exFAT boot sectors); later releases fixed that and
/// krazybox follows them (docs/blkid.md, "Differences from util-linux 2.38.1"). This is
/// util-linux's answer with that one fix applied, or None when it does not apply.
fn exfat_fixed(args: &[&str], theirs: &Run) -> Option<Run> {
    let out = &theirs.stdout;
    let exfat = ["TYPE=\"exfat\"", "TYPE=exfat", "ID_FS_TYPE=exfat"].iter().any(|t| out.contains(t))
        || (args.contains(&"value") && out.lines().any(|l| l == "exfat"));
    if !exfat || !out.contains("dos") {
        return None;
    }
    if args.iter().any(|a| a.starts_with("PTTYPE=")) {
        // Asked for the table: there is none.
        return Some(Run { stdout: String::new(), stderr: String::new(), status: Some(2) });
    }
    let stdout: String = out
        .split_inclusive('\n')
        .filter(|l| !matches!(l.trim_end(), "PTTYPE=dos" | "ID_PART_TABLE_TYPE=dos" | "dos"))
        .map(|l| l.replace(" PTTYPE=\"dos\"", ""))
        .collect();
    Some(Run { stdout, stderr: theirs.stderr.clone(), status: theirs.status })
}

/// Mismatches of one test, reported together.
#[derive(Default)]
struct Diff {
    compared: usize,
    report: String,
    failed: Vec<String>,
}

impl Diff {
    /// Compare both programs on `args`; `what` names the image or device.
    fn check(&mut self, what: &str, args: &[&str]) -> Run {
        let theirs = util_linux(args);
        let ours = krazybox(args);
        self.compared += 1;
        if theirs != ours && exfat_fixed(args, &theirs).as_ref() != Some(&ours) {
            self.failed.push(format!("{what}: blkid {}", args.join(" ")));
            let _ = write!(
                self.report,
                "\n== {what}: blkid {}\n  util-linux:\n{theirs}  krazybox:\n{ours}",
                args.join(" ")
            );
        }
        theirs
    }

    fn finish(self, name: &str) {
        if !self.failed.is_empty() {
            panic!(
                "{name}: {} of {} comparisons differ:\n  {}\n{}",
                self.failed.len(),
                self.compared,
                self.failed.join("\n  "),
                self.report
            );
        }
        eprintln!("{name}: {} comparisons identical", self.compared);
    }
}

/// The modes every image and device is compared in.
const MODES: &[&[&str]] = &[
    &["-p", "-o", "export"],
    &["-p", "-o", "udev"],
    &["-p"],
    &["-p", "-d"],
    &["-p", "-o", "value"],
    &["-p", "-o", "device"],
    &["-p", "-s", "TYPE", "-s", "LABEL"],
    &["-p", "-o", "export", "-s", "USAGE", "-s", "UUID"],
    &["-p", "-s", "NOSUCHTAG"],
    &["-c", "/dev/null"],
    &[],
    &["-c", "/dev/null", "-d"],
    &["-c", "/dev/null", "-o", "udev"],
    &["-c", "/dev/null", "-o", "export"],
    &["-c", "/dev/null", "-o", "device"],
    &["-c", "/dev/null", "-o", "list"],
    &["-o", "value", "-s", "LABEL"],
    &["-o", "value", "-s", "UUID", "-s", "TYPE"],
    &["-c", "/dev/null", "-s", "NOSUCHTAG"],
];

/// All modes on `dev`, then searches for the values it has.
fn compare_device(d: &mut Diff, what: &str, dev: &str) {
    for mode in MODES {
        let mut args = mode.to_vec();
        args.push(dev);
        d.check(what, &args);
    }
    d.check(what, &["-p", dev, dev]);
    d.check(what, &["-c", "/dev/null", "-o", "export", dev, dev]);
    let export = util_linux(&["-c", "/dev/null", "-o", "export", dev]).stdout;
    let tags: Vec<(&str, &str)> =
        export.lines().filter_map(|l| l.split_once('=')).filter(|(n, _)| *n != "DEVNAME").collect();
    // `-o export` escapes its values; searches need them raw.
    let value = |name: &str| {
        util_linux(&["-c", "/dev/null", "-o", "value", "-s", name, dev]).stdout.trim_end_matches('\n').to_string()
    };
    for (name, _) in &tags {
        let v = value(name);
        let token = format!("{name}={v}");
        d.check(what, &["-c", "/dev/null", "-t", &token, dev]);
        d.check(what, &["-c", "/dev/null", "-l", "-t", &token, dev]);
    }
    d.check(what, &["-c", "/dev/null", "-t", "TYPE=nosuchtype", dev]);
    d.check(what, &["-c", "/dev/null", "-t", "TYPE=\"nosuchtype\"", dev]);
}

/// `-U` and `-L` find devices among all block devices, so only attached
/// images can be found; each is looked up with the value it has.
fn compare_lookups(d: &mut Diff, what: &str, dev: &str) {
    for (tag, opt) in [("UUID", "-U"), ("LABEL", "-L"), ("PARTUUID", ""), ("PARTLABEL", "")] {
        let v = util_linux(&["-c", "/dev/null", "-o", "value", "-s", tag, dev]).stdout;
        let Some(v) = v.lines().next().filter(|v| !v.is_empty()) else { continue };
        let token = format!("{tag}={v}");
        if !opt.is_empty() {
            d.check(what, &[opt, v]);
        }
        d.check(what, &["-c", "/dev/null", "-o", "device", "-l", "-t", &token]);
        d.check(what, &["-c", "/dev/null", "-t", &token, "-o", "device"]);
    }
}

/// A read-only loop device for an image (with its partitions' nodes for a
/// partitioned one), detached when dropped (also on panic); None after saying
/// why there is none.
fn attach(lock: &support::Serial, image: &Path, partitions: bool) -> Option<Loop> {
    let opts = LoopOpts { read_only: true, scan: partitions, partitions };
    Loop::try_attach(lock, image, opts).map_err(|e| eprintln!("{e}")).ok()
}

/// Compare every image of a family as a file and as a loop device.
fn compare_family(name: &str, prefixes: &[&str]) {
    let mut d = Diff::default();
    for image in family(prefixes) {
        compare_device(&mut d, &image, &image);
        let lock = support::serial();
        if let Some(l) = attach(&lock, &images().join(&image), false) {
            let what = format!("{image} on {}", l.as_str());
            compare_device(&mut d, &what, l.as_str());
            compare_lookups(&mut d, &what, l.as_str());
        }
    }
    d.finish(name);
}

#[test]
fn ext() {
    compare_family("ext", &["ext2", "ext3", "ext4", "jbd"]);
}

#[test]
fn vfat() {
    compare_family("vfat", &["vfat"]);
}

#[test]
fn exfat() {
    compare_family("exfat", &["exfat"]);
}

#[test]
fn btrfs() {
    compare_family("btrfs", &["btrfs"]);
}

#[test]
fn xfs() {
    compare_family("xfs", &["xfs"]);
}

#[test]
fn ntfs() {
    compare_family("ntfs", &["ntfs"]);
}

#[test]
fn f2fs() {
    compare_family("f2fs", &["f2fs"]);
}

#[test]
fn nilfs2() {
    compare_family("nilfs2", &["nilfs2"]);
}

#[test]
fn jfs() {
    compare_family("jfs", &["jfs"]);
}

#[test]
fn reiserfs() {
    compare_family("reiserfs", &["reiserfs"]);
}

#[test]
fn swap() {
    compare_family("swap", &["swap"]);
}

#[test]
fn squashfs_erofs() {
    compare_family("squashfs/erofs", &["squashfs", "erofs"]);
}

#[test]
fn iso9660_udf() {
    compare_family("iso9660/udf", &["iso9660", "udf"]);
}

#[test]
fn luks() {
    compare_family("luks", &["luks"]);
}

#[test]
fn lvm2() {
    compare_family("lvm2", &["lvm2"]);
}

#[test]
fn minix_bfs() {
    compare_family("minix/bfs", &["minix", "bfs"]);
}

#[test]
fn cramfs_romfs() {
    compare_family("cramfs/romfs", &["cramfs", "romfs"]);
}

#[test]
fn ocfs2_gfs2() {
    compare_family("ocfs2/gfs2", &["ocfs2", "gfs2"]);
}

#[test]
fn ubifs_ufs() {
    compare_family("ubifs/ufs", &["ubifs", "ufs"]);
}

/// One signature written over another: ambivalent, or decided by libblkid's
/// order on a floppy-sized device, or by crypto ending the search.
#[test]
fn two_signatures() {
    compare_family("two signatures", &["two-"]);
}

/// Signatures no Debian tool writes, written by hand where libblkid looks.
#[test]
fn hand_written() {
    compare_family("hand-written signatures", &["hand-"]);
}

#[test]
fn ambivalent() {
    compare_family("ambivalent", &["ambivalent"]);
}

#[test]
fn empty() {
    compare_family("empty", &["empty"]);
}

#[test]
fn raid_members() {
    compare_family("raid", &["raid-"]);
}

/// A firmware-RAID member with an ext4 inside is a RAID member to every
/// lookup: neither blkid finds the ext4's UUID or label, so `mount UUID=`
/// cannot mount the member directly.
#[test]
fn raid_member_hides_its_filesystem() {
    let img = images().join("raid-isw-ext4.img");
    if !img.exists() {
        eprintln!("skipped: no raid-isw-ext4.img (mkfs.ext4 missing?)");
        return;
    }
    // Whole-device scans and a mount attempt: no other test's devices come and go meanwhile.
    let lock = support::serial();
    let Some(l) = attach(&lock, &img, false) else { return };
    let path = img.to_str().expect("UTF-8 path");
    // The ext4 is still there for a search that leaves out RAID members.
    let uuid = util_linux(&["-p", "-u", "filesystem", "-o", "value", "-s", "UUID", path]).stdout;
    let uuid = uuid.trim();
    assert_eq!(uuid.len(), 36, "ext4 UUID of {path}");
    let mut d = Diff::default();
    d.check("isw over ext4", &["-p", "-u", "filesystem", path]);
    d.check("isw over ext4", &["-p", "-n", "noisw_raid_member", path]);
    d.finish("raid member lookups");
    // These scan every block device, which other programs may attach and
    // detach meanwhile: only what they say about this one is compared.
    for args in
        [vec!["-U", uuid], vec!["-L", "inside raid"], vec!["-c", "/dev/null", "-t", "TYPE=ext4", "-o", "device"]]
    {
        for (who, run) in [("util-linux", util_linux(&args)), ("krazybox", krazybox(&args))] {
            assert!(!run.stdout.lines().any(|d| d == l.as_str()), "{who} finds {} with {args:?}", l.as_str());
        }
    }
    let found = krazybox::probe::find_devices("UUID", uuid.as_bytes()).expect("scan");
    assert!(!found.iter().any(|p| p.to_str() == Some(l.as_str())), "{found:?}");
    // And mount by that UUID finds nothing to mount.
    let target = images().join("raid-mountpoint");
    std::fs::create_dir_all(&target).expect("mount point");
    let out = Command::new(env!("CARGO_BIN_EXE_krazybox"))
        .args(["mount", "-r", &format!("UUID={uuid}")])
        .arg(&target)
        .output()
        .expect("run krazybox mount");
    if out.status.success() {
        let _ = Command::new("umount").arg(&target).status();
        panic!("mount UUID={uuid} mounted a RAID member");
    }
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("can't find UUID={uuid}")), "mount: {err}");
}

/// Intel RAID metadata sits two logical sectors before the end: on a disk of
/// 4 KiB sectors the signature written for 512-byte ones is not it, and the
/// ext4 inside shows.
#[test]
fn raid_member_sector_size() {
    let img = images().join("raid-isw-ext4.img");
    if !img.exists() {
        eprintln!("skipped: no raid-isw-ext4.img (mkfs.ext4 missing?)");
        return;
    }
    // Whole-device scans and a mount attempt: no other test's devices come and go meanwhile.
    let _serial = support::serial();
    let out = Command::new("losetup").args(["-f", "--show", "-r", "-b", "4096"]).arg(&img).output().expect("losetup");
    if !out.status.success() {
        eprintln!("skipped: losetup -b 4096: {}", String::from_utf8_lossy(&out.stderr));
        return;
    }
    let l = Loop(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    let mut d = Diff::default();
    let theirs = d.check("isw on 4 KiB sectors", &["-p", "-o", "udev", l.as_str()]);
    assert!(theirs.stdout.contains("ID_FS_TYPE=ext4"), "util-linux: {theirs}");
    d.check("isw on 4 KiB sectors", &["-p", l.as_str()]);
    d.check("isw on 4 KiB sectors", &["-c", "/dev/null", l.as_str()]);
    d.finish("raid member on 4 KiB sectors");
}

/// GPT and MBR disks, a floppy-sized partitioned disk and the tables parted
/// writes (sun, mac, bsd, atari, sgi): the whole disk and
/// every partition device, with `-D`, offsets and sizes into the disk, and
/// lookups by PARTUUID and PARTLABEL.
#[test]
fn partitions() {
    let mut d = Diff::default();
    for image in family(&["gpt", "mbr", "small", "pt-", "raidpart"]) {
        compare_device(&mut d, &image, &image);
        // Windows into the disk where its partitions start (the small disk has none there).
        if std::fs::metadata(images().join(&image)).is_ok_and(|m| m.len() >= 16 << 20) {
            d.check(&image, &["-p", "-O", "1MiB", &image]);
            d.check(&image, &["-p", "-O", "2048K", "-S", "8M", &image]);
            d.check(&image, &["-p", "-O", "0x100000", "-o", "udev", &image]);
        }
        let lock = support::serial();
        let Some(l) = attach(&lock, &images().join(&image), true) else { continue };
        let disk = format!("{image} on {}", l.as_str());
        compare_device(&mut d, &disk, l.as_str());
        for part in l.partitions() {
            let what = format!("{image} partition {part}");
            compare_device(&mut d, &what, &part);
            d.check(&what, &["-p", "-D", &part]);
            d.check(&what, &["-p", "-D", "-o", "udev", &part]);
            compare_lookups(&mut d, &what, &part);
        }
        let parts = l.partitions();
        let mut all = vec!["-p", "-o", "export"];
        all.extend(parts.iter().map(String::as_str));
        d.check(&disk, &all);
        let mut all = vec!["-c", "/dev/null", "-o", "udev"];
        all.extend(parts.iter().map(String::as_str));
        d.check(&disk, &all);
    }
    d.finish("partitions");
}

/// Options, filters and errors, on an ext4 image and without one.
#[test]
fn command_line() {
    let mut d = Diff::default();
    let img = "ext4.img";
    let cases: &[&[&str]] = &[
        &["-p"],
        &["-k"],
        &["-o", "foo", img],
        &["-p", "-o", "list", img],
        &["-u", "foo", img],
        &["-p", "-u", "nofoo,raid", img],
        &["-p", "-u", "no", img],
        &["-p", "-u", "filesystem", img],
        &["-p", "-u", "nofilesystem", img],
        &["-p", "-u", "raid,crypto", img],
        &["-p", "-n", "ext4", img],
        &["-p", "-n", "noext4", img],
        &["-p", "-n", "vfat,ext3", img],
        &["-p", "-n", "no", img],
        &["-n"],
        &["-s"],
        &["-x"],
        &["--foo"],
        &["--output"],
        &["-t", "FOO"],
        &["-t", "FOO="],
        &["-t", "A=b", "-t", "C=d"],
        &["-L", "x", "-t", "A=b"],
        &["-O", "abc", img],
        &["-S", "-1", img],
        &["-p", "-O", "1Q", img],
        &["-l", img],
        &["-g", "-c", "/dev/null"],
        &["-p", "/nonexistent"],
        &["/nonexistent"],
        &["-p", "/etc"],
        &["-p", img, "empty.img", img],
        &["-p", "/nonexistent", img],
        &["--probe", "--output=udev", "--match-tag=LABEL", img],
        &["--no-encoding", "--cache-file=/dev/null", img],
        &["-povalue", "-sTYPE", img],
        &["-p", "-O", "1024", img],
        &["-p", "-S", "1K", img],
        &["-p", "-S", "0", img],
        &["-p", "-O", "100M", img],
        &["-p", "-O", "12M", "-S", "8M", img],
        &["-p", "-O", "4M", "-S", "12M", img],
        &["-c", "/dev/null", "-o", "list", img, "ext4-maxlabel.img", "empty.img"],
        &["-w", "x", "-c", "/dev/null", img],
        &["--no", img],
        &["--lab", "nosuchlabel"],
        &["--out=value", "--match-t=LABEL", img],
        &["--ou", "value", "--match-tag", "LABEL", img],
        &["--probe=1", img],
        &["--no-encoding=x"],
        &["--foo=bar"],
        &["--cache-file"],
        &["-s", "--foo", img],
        &["-ps", "--foo", img],
        &["--", "-p", img],
        &["-p", "--", img],
        &["-p", "-o", "udev", "-o", "export", img],
        &["-L", "x", "-U", "y"],
        &["-t", "A=b", "-L", "nosuchlabel"],
    ];
    for args in cases {
        d.check("command line", args);
    }
    // The version line names the implementation; only the status is compared.
    assert_eq!(util_linux(&["-v"]).status, krazybox(&["-v"]).status);
    d.finish("command line");
}

/// No device arguments: every block device of the machine, with an ext4 image
/// attached so there is something to find. Other programs may attach or detach
/// loop devices between the two runs, so a mismatch is retried a few times.
#[test]
fn scan() {
    let mut d = Diff::default();
    let lock = support::serial();
    let Some(_l) = attach(&lock, &images().join("ext4.img"), false) else { return };
    let modes: &[&[&str]] = &[
        &["-c", "/dev/null"],
        &["-o", "export"],
        &["-o", "device"],
        &["-o", "udev"],
        &["-o", "list"],
        &["-t", "TYPE=ext4"],
        &["-t", "TYPE=ext4", "-o", "device"],
        &["-l", "-t", "TYPE=ext4", "-o", "device"],
        &["-s", "TYPE", "-o", "value"],
    ];
    for args in modes {
        for attempt in 1..=3 {
            let mut once = Diff::default();
            once.check("scan", args);
            if once.failed.is_empty() || attempt == 3 {
                d.compared += once.compared;
                d.failed.extend(once.failed);
                d.report.push_str(&once.report);
                break;
            }
        }
    }
    d.finish("scan");
}
