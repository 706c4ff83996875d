//! The `mount` and `umount` applets against util-linux 2.38.1's
//! /usr/bin/mount and /usr/bin/umount: the same command lines on the same
//! images, compared by exit status, messages and the resulting mount table.
//! Needs root, loop devices and the mkfs tools. Mounts and loop devices are
//! held by guards, so a failing test leaves nothing behind.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use krazybox::mount::{self, btrfs, mountinfo, probe_glue, LoopGuard, MountSpec};

use crate::support::*;
use crate::ErrorScene;

/// Unmounts everything stacked on a target when dropped.
struct Unmount(PathBuf);

impl Unmount {
    fn now(&self) {
        for _ in 0..10 {
            if !mountinfo::is_mount_root(&self.0).unwrap_or(false) {
                return;
            }
            if mount::umount(&self.0, false, false).is_err() {
                let _ = mount::umount(&self.0, true, false);
            }
        }
    }
}

impl Drop for Unmount {
    fn drop(&mut self) {
        self.now();
    }
}

/// blkid's answer, probed afresh.
fn blkid(tag: &str, device: &Path) -> String {
    let out = Command::new("blkid").args(["-p", "-o", "value", "-s", tag]).arg(device).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A label no other device on this machine has (xfs allows 12 bytes).
fn unique_label(c: char) -> String {
    format!("kb{:06x}{c}", std::process::id() & 0xff_ffff)
}

#[derive(Debug, PartialEq, Eq)]
struct Out {
    status: i32,
    stdout: String,
    stderr: String,
}

/// Our applet, through the multiplexer.
fn ours(applet: &str, args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_krazybox")).arg(applet).args(args).output().unwrap();
    Out {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// util-linux's, called by its short name as a shell would (getopt's
/// messages name argv[0]).
fn real(applet: &str, args: &[&str]) -> Out {
    use std::os::unix::process::CommandExt;
    // A fresh libblkid cache for every run: loop device numbers are reused by
    // other tests, and a stale /run/blkid/blkid.tab would send UUID= lookups to
    // whatever that device held before.
    let cache = std::env::temp_dir().join(format!("krazybox-blkid-cache-{}-{applet}", std::process::id()));
    let _ = std::fs::remove_file(&cache);
    let out =
        Command::new(format!("/usr/bin/{applet}")).arg0(applet).args(args).env("BLKID_FILE", &cache).output().unwrap();
    let _ = std::fs::remove_file(&cache);
    Out {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Loop device numbers depend on what else is attached at that moment.
fn loops_as_n(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("/dev/loop") {
        out.push_str(&rest[..i + 9]);
        rest = &rest[i + 9..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            out.push('N');
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

/// Our stderr without the explanation lines we add after util-linux's
/// message (indented like the dmesg line, but not it).
fn without_hints(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|l| !l.starts_with("       ") || l.trim() == mount::DMESG_HINT)
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The lines `mount` (util-linux) lists for a target.
fn listed(target: &Path) -> Vec<String> {
    let needle = format!(" on {} type ", target.display());
    real("mount", &[]).stdout.lines().filter(|l| l.contains(&needle)).map(loops_as_n).collect()
}

/// Runs `applet args` with ours and with util-linux, cleaning `targets` after
/// each; asserts the same status, output, messages and mount table lines.
fn compare(applet: &str, args: &[&str], targets: &[&Path]) -> (Out, Out) {
    let run_one = |f: fn(&str, &[&str]) -> Out| {
        let out = f(applet, args);
        let table: Vec<Vec<String>> = targets.iter().map(|t| listed(t)).collect();
        for t in targets {
            Unmount(t.to_path_buf()).now();
        }
        (out, table)
    };
    let (o, o_table) = run_one(ours);
    let (r, r_table) = run_one(real);
    let context = format!("{applet} {args:?}\nours: {o:?}\nreal: {r:?}");
    assert_eq!(o.status, r.status, "{context}");
    assert_eq!(loops_as_n(&o.stdout), loops_as_n(&r.stdout), "{context}");
    assert_eq!(loops_as_n(&without_hints(&o.stderr)), loops_as_n(&r.stderr), "{context}");
    assert_eq!(o_table, r_table, "{context}");
    (o, r)
}

/// Our prober must recognise `fstype` on `device`: tag lookups rest on it.
fn prober_knows(device: &Path, fstype: &str) -> bool {
    let found = probe_glue::probe_type(device).ok().flatten();
    assert_eq!(found.as_deref(), Some(fstype), "the prober does not recognise {}", device.display());
    true
}

#[test]
fn ext4_xfs_btrfs_by_path_uuid_and_label() {
    let _lock = serial();
    let dir = TempDir::new("types");
    let target = dir.subdir("mnt");
    let cases: [(&str, u64, &[&str]); 3] = [
        ("ext4", 32, &["mkfs.ext4", "-q", "-F", "-L"]),
        ("xfs", 320, &["mkfs.xfs", "-q", "-f", "-L"]),
        ("btrfs", 128, &["mkfs.btrfs", "-q", "-f", "-L"]),
    ];
    for (i, (fstype, mib, mkfs)) in cases.into_iter().enumerate() {
        let label = unique_label(char::from(b'a' + i as u8));
        let mut mkfs = mkfs.to_vec();
        mkfs.push(&label);
        let img = image(&dir, &format!("{fstype}.img"), mib, &mkfs);
        let lo = LoopGuard::attach(&img, false).unwrap();
        let dev = s(lo.path()).to_string();
        let uuid = blkid("UUID", lo.path());
        let _clean = Unmount(target.clone());

        let (o, _) = compare("mount", &["-v", &dev, s(&target)], &[&target]);
        assert_eq!(o.status, 0);
        compare("mount", &["-t", fstype, &dev, s(&target)], &[&target]);
        if prober_knows(lo.path(), fstype) {
            for source in [format!("UUID={uuid}"), format!("LABEL={label}"), format!("UUID=\"{uuid}\"")] {
                let (o, _) = compare("mount", &["-v", &source, s(&target)], &[&target]);
                assert_eq!(o.stdout, format!("mount: {dev} mounted on {}.\n", target.display()));
            }
            compare("mount", &["-v", "-U", &uuid, s(&target)], &[&target]);
            compare("mount", &["-L", &label, s(&target)], &[&target]);
        }
        // umount by mount point and by device, verbose: util-linux names the
        // source only when it had to read the mount table.
        for (by, shown) in [
            (s(&target), format!("{}", target.display())),
            (dev.as_str(), format!("{} ({dev})", target.display())),
            (&format!("{}/.", s(&target)), format!("{}/.", target.display())),
        ] {
            run("mount", &[&dev, s(&target)]);
            let o = ours("umount", &["-v", by]);
            run("mount", &[&dev, s(&target)]);
            let r = real("umount", &["-v", by]);
            assert_eq!(o, r);
            assert_eq!(o.stderr, format!("umount: {shown} unmounted\n"));
        }
        // A tag, which util-linux 2.38 takes for a path ("no mount point specified").
        if prober_knows(lo.path(), fstype) {
            run("mount", &[&dev, s(&target)]);
            let o = ours("umount", &["-v", &format!("UUID={uuid}")]);
            assert_eq!((o.status, o.stderr), (0, format!("umount: {} ({dev}) unmounted\n", target.display())));
            assert!(listed(&target).is_empty());
        }
    }
}

#[test]
fn partuuid_and_partlabel_on_a_gpt_image() {
    let lock = serial();
    let dir = TempDir::new("gpt");
    let target = dir.subdir("mnt");
    let img = image(&dir, "disk.img", 40, &[]);
    let name = unique_label('p');
    let script = format!("label: gpt\nsize=20MiB, name=\"{name}\"\n");
    let mut child = Command::new("sfdisk")
        .arg("-q")
        .arg(&img)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), script.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
    let lo = Loop::attach(&lock, &img, LoopOpts::PARTITIONS);
    let part = lo.part(1);
    assert!(part.exists(), "{} did not appear", part.display());
    run("mkfs.ext4", &["-q", "-F", s(&part)]);
    let partuuid = blkid("PART_ENTRY_UUID", &part);
    assert!(!partuuid.is_empty());
    let _clean = Unmount(target.clone());

    for source in [format!("PARTUUID={partuuid}"), format!("PARTLABEL={name}")] {
        let (o, _) = compare("mount", &["-v", &source, s(&target)], &[&target]);
        assert_eq!(o.stdout, format!("mount: {} mounted on {}.\n", part.display(), target.display()));
    }
    // Not there: exit 1, named as given.
    let (o, _) = compare("mount", &["PARTUUID=00000000-dead-beef-0000-000000000000", s(&target)], &[&target]);
    assert_eq!(o.status, 1);
}

#[test]
fn loop_file_read_only_device_bind_and_remount() {
    let _lock = serial();
    let dir = TempDir::new("loop");
    let img = image(&dir, "ext4.img", 32, &["mkfs.ext4", "-q", "-F"]);
    let target = dir.subdir("mnt");
    let other = dir.subdir("other");
    let _clean = (Unmount(target.clone()), Unmount(other.clone()));

    // A file: a loop device with autoclear, listed under the file's name.
    let (o, _) = compare("mount", &["-v", s(&img), s(&target)], &[&target]);
    assert!(o.stdout.starts_with("mount: /dev/loop"), "{o:?}");
    run("mount", &[s(&img), s(&target)]);
    let line = listed(&target);
    assert_eq!(line, [format!("{} on {} type ext4 (rw,relatime)", img.display(), target.display())]);
    let ours_list = ours("mount", &["-t", "ext4"]).stdout;
    assert!(ours_list.contains(&line[0]), "{ours_list}");
    // Again on the same target: refused, status 1.
    compare("mount", &[s(&img), s(&target)], &[]);
    Unmount(target.clone()).now();

    // A read-only loop device: the read-only retry and its warning; -w fails.
    {
        let lo = LoopGuard::attach(&img, true).unwrap();
        let (o, _) = compare("mount", &[s(lo.path()), s(&target)], &[&target]);
        assert_eq!(o.stderr, format!("mount: {}: {}\n", target.display(), mount::READ_ONLY_WARNING));
        let (o, _) = compare("mount", &["-w", s(lo.path()), s(&target)], &[&target]);
        assert_eq!(o.status, 32);
        compare("mount", &["-r", s(lo.path()), s(&target)], &[&target]);
    }

    // bind + ro, and --bind -r, -v says "bound on".
    let src = dir.subdir("src");
    std::fs::write(src.join("f"), b"data").unwrap();
    compare("mount", &["-v", "--bind", "-o", "ro", s(&src), s(&target)], &[&target]);
    compare("mount", &["-v", "-B", "-r", s(&src), s(&target)], &[&target]);
    compare("mount", &["-o", "bind,ro,nosuid", s(&src), s(&target)], &[&target]);
    let o = ours("mount", &["--bind", "-o", "ro", s(&src), s(&target)]);
    assert_eq!(o.status, 0);
    assert_eq!(std::fs::read(target.join("f")).unwrap(), b"data");
    assert_eq!(std::fs::write(target.join("g"), b"x").unwrap_err().raw_os_error(), Some(30)); // EROFS
    Unmount(target.clone()).now();

    // remount: ours and util-linux's on the same mount give the same table.
    for opts in ["remount,ro", "remount,rw,noatime", "remount,nosuid"] {
        let mut tables = Vec::new();
        for f in [ours, real] {
            run("mount", &["-o", "nodev", s(&img), s(&target)]);
            let out = f("mount", &["-o", opts, s(&target)]);
            assert_eq!(out.status, 0, "{opts}: {out:?}");
            tables.push(listed(&target));
            Unmount(target.clone()).now();
        }
        assert_eq!(tables[0], tables[1], "{opts}");
    }
    // -f: everything but mount(2).
    compare("mount", &["-f", "-v", "--bind", s(&src), s(&target)], &[&target]);
    compare("mount", &["-f", "-v", s(&dir.path().join("nothing")), s(&target)], &[&target]);
    compare("mount", &["-f", "UUID=00000000-0000-0000-0000-00000000beef", s(&target)], &[&target]);
    assert!(listed(&target).is_empty());

    // Not mounted: EINVAL from the kernel.
    compare("mount", &["-o", "remount,ro", s(&other)], &[]);

    // --make-*: one mount(2) per change, -v says so.
    for f in [ours, real] {
        run("mount", &["-t", "tmpfs", "krazybox-propagation", s(&target)]);
        let out = f("mount", &["-v", "--make-shared", s(&target)]);
        assert_eq!(out.stdout, format!("mount: {} propagation flags changed.\n", target.display()));
        let info = mountinfo::mount_at(&target).unwrap().unwrap();
        assert!(info.optional.iter().any(|o| o.starts_with("shared:")), "{info:?}");
        let out = f("mount", &["--make-private", s(&target)]);
        assert_eq!((out.status, out.stderr.as_str()), (0, ""));
        assert!(mountinfo::mount_at(&target).unwrap().unwrap().optional.is_empty());
        Unmount(target.clone()).now();
    }

    // --move
    for f in [ours, real] {
        run("mount", &["-t", "tmpfs", "krazybox-move", s(&target)]);
        let out = f("mount", &["--move", s(&target), s(&other)]);
        assert_eq!(out.status, 0, "{out:?}");
        assert!(listed(&target).is_empty());
        assert_eq!(listed(&other), [format!("krazybox-move on {} type tmpfs (rw,relatime)", other.display())]);
        Unmount(other.clone()).now();
    }
}

#[test]
fn failures_match_util_linux() {
    let _lock = serial();
    let scene = ErrorScene::new();
    let (dir, img, target, dev) = (&scene.dir, scene.img.clone(), scene.target.clone(), scene.dev.clone());
    let (missing_dir, missing_dev) = (scene.missing_dir.clone(), scene.missing_dev.clone());
    let _clean = Unmount(target.clone());

    let cases: Vec<Vec<&str>> = vec![
        vec!["-t", "xfs", &dev, s(&target)],
        vec!["-t", "ext4", &dev, s(&missing_dir)],
        vec![s(&missing_dev), s(&target)],
        vec!["-t", "ext4", s(&missing_dev), s(&target)],
        vec!["UUID=00000000-0000-0000-0000-000000000000", s(&target)],
        vec!["-L", "krazybox-no-such-label", s(&target)],
        vec!["-t", "ext4", s(dir.path()), s(&target)],
        vec!["-t", "krazyfs", &dev, s(&target)],
    ];
    for args in &cases {
        compare("mount", args, &[&target]);
    }
    // Options that cannot be parsed: before mount(2), status 1.
    for opts in ["offset=abc", "noatime,sizelimit=1x,ro"] {
        compare("mount", &["-o", opts, s(&img), s(&target)], &[&target]);
    }
    compare("mount", &["-r", "-o", "offset=abc", s(&img), s(&target)], &[&target]);

    // Unknown type: we add why, for gokrazy's kernels.
    let o = ours("mount", &["-t", "krazyfs", &dev, s(&target)]);
    assert!(o.stderr.contains("unknown filesystem type 'krazyfs'"), "{o:?}");
    assert!(o.stderr.contains("running kernel has no 'krazyfs' driver"), "{o:?}");

    // Already mounted: the device elsewhere-or-here, status 32.
    run("mount", &[&dev, s(&target)]);
    compare("mount", &[&dev, s(&target)], &[]);
    compare("mount", &["-t", "ext4", &dev, s(&target)], &[]);
    Unmount(target.clone()).now();

    // Command-line errors: status 1 and util-linux's words.
    for args in [
        vec!["-x"],
        vec!["--bind"],
        vec!["-o", "ro"],
        vec!["-r"],
        vec!["-t", "ext4", "-w"],
        vec!["a", "b", "c"],
        vec!["-B", "-M", "a", "b"],
        vec!["-U", "x", "-L", "y"],
        vec!["--bind", "-t", "ext4", "a", "b"],
        vec!["-L", "x", "UUID=y"],
        vec!["-t"],
        vec!["--no-such-option"],
    ] {
        let (o, _) = compare("mount", &args, &[]);
        assert_eq!(o.status, 1, "{args:?}");
    }
    for args in [
        vec![],
        vec!["-x"],
        vec![s(&missing_dir)],
        vec![s(&target)],
        vec!["-R", s(&missing_dir)],
        vec!["-R", s(&target)],
    ] {
        let (o, _) = compare("umount", &args, &[]);
        assert_ne!(o.status, 0, "{args:?}");
    }
    // -q hides "not mounted", not the status.
    compare("umount", &["-q", s(&target)], &[]);
}

#[test]
fn umount_recursive_takes_the_mounts_below() {
    let _lock = serial();
    let dir = TempDir::new("recursive");
    let target = dir.subdir("mnt");
    let _clean = Unmount(target.clone());
    let mut said = Vec::new();
    for f in [ours, real] {
        run("mount", &["-t", "tmpfs", "krazybox-top", s(&target)]);
        for sub in ["a", "b"] {
            std::fs::create_dir_all(target.join(sub)).unwrap();
            run("mount", &["-t", "tmpfs", &format!("krazybox-{sub}"), s(&target.join(sub))]);
        }
        std::fs::create_dir_all(target.join("a/deep")).unwrap();
        run("mount", &["-t", "tmpfs", "krazybox-deep", s(&target.join("a/deep"))]);
        let out = f("umount", &["-R", "-v", s(&target)]);
        assert_eq!(out.status, 0, "{out:?}");
        assert_eq!(out.stderr.lines().count(), 4, "{out:?}");
        assert!(out.stderr.ends_with(&format!("umount: {} unmounted\n", target.display())), "{out:?}");
        assert!(!mountinfo::is_mount_root(&target).unwrap());
        said.push(out);
    }
    assert_eq!(said[0], said[1]);
}

#[test]
fn fstab_all_with_good_noauto_and_broken_entries() {
    let _lock = serial();
    let dir = TempDir::new("fstab");
    let img = image(&dir, "ext4.img", 32, &["mkfs.ext4", "-q", "-F"]);
    let img2 = image(&dir, "other.img", 32, &["mkfs.ext4", "-q", "-F"]);
    let good = dir.subdir("good dir");
    let tmp = dir.subdir("tmp");
    let noauto = dir.subdir("noauto");
    let broken = dir.subdir("broken");
    let wrong = dir.subdir("wrong");
    let lo = LoopGuard::attach(&img, false).unwrap();
    let lo2 = LoopGuard::attach(&img2, false).unwrap();
    // Declared after the loop devices: unmounted before they are detached.
    let _clean: Vec<Unmount> =
        [&good, &tmp, &noauto, &broken, &wrong].iter().map(|p| Unmount(p.to_path_buf())).collect();
    let esc = |p: &Path| s(p).replace(' ', "\\040");
    let fstab = dir.path().join("fstab");
    let text = format!(
        "# a comment\n\
         \n\
         {dev} {good} ext4 noatime,nodev 0 2\n\
         krazybox-tmp {tmp} tmpfs size=1m,mode=0750\n\
         krazybox-noauto {noauto} tmpfs noauto\n\
         /dev/krazybox-missing {broken} ext4 defaults\n\
         {dev2} {wrong} xfs defaults\n\
         /dev/krazybox-swap none swap sw 0 0\n\
         this-line-is broken\n",
        dev = s(lo.path()),
        dev2 = s(lo2.path()),
        good = esc(&good),
        tmp = s(&tmp),
        noauto = s(&noauto),
        broken = s(&broken),
        wrong = s(&wrong),
    );
    std::fs::write(&fstab, text).unwrap();
    let all: [&Path; 5] = [&good, &tmp, &noauto, &broken, &wrong];

    let (o, _) = compare("mount", &["-a", "-T", s(&fstab)], &all);
    assert_eq!(o.status, 64, "{o:?}");
    compare("mount", &["-a", "-v", "-T", s(&fstab)], &all);
    // With -t only the matching entries are tried.
    let (o, _) = compare("mount", &["-a", "-t", "tmpfs", "-T", s(&fstab)], &all);
    assert_eq!(o.status, 0);
    let (o, _) = compare("mount", &["-a", "-t", "xfs", "-T", s(&fstab)], &all);
    assert_eq!(o.status, 32);

    // What is mounted already is skipped (and said with -v).
    for f in [ours, real] {
        run("mount", &["-t", "tmpfs", "krazybox-tmp", s(&tmp)]);
        run("mount", &[s(lo.path()), s(&good)]);
        let out = f("mount", &["-a", "-v", "-t", "noxfs", "-T", s(&fstab)]);
        assert_eq!(out.status, 32, "{out:?}");
        assert!(out.stdout.contains(&format!("{:<25}: already mounted", tmp.display())), "{out:?}");
        assert!(out.stdout.contains(&format!("{:<25}: already mounted", good.display())), "{out:?}");
        for p in all {
            Unmount(p.to_path_buf()).now();
        }
    }

    // One entry by its target or its source, noauto or not.
    compare("mount", &["-T", s(&fstab), s(&noauto)], &all);
    compare("mount", &["-v", "-T", s(&fstab), s(&good)], &all);
    compare("mount", &["-T", s(&fstab), "krazybox-tmp"], &all);
    compare("mount", &["-T", s(&fstab), s(dir.path())], &all);
    // A missing table.
    compare("mount", &["-a", "-T", s(&dir.path().join("none"))], &all);
}

#[test]
fn listing_matches_util_linux() {
    let _lock = serial();
    let dir = TempDir::new("listing");
    let names = ["with space", "with\ttab", "with\nnewline", "back\\slash", "all of \t\n\\ them"];
    let mut guards = Vec::new();
    for name in names {
        let target = dir.subdir(name);
        mount::mount(&MountSpec::new("krazybox list", &target).fstype("tmpfs").options("size=1m")).unwrap();
        guards.push(Unmount(target));
    }
    for args in [vec![], vec!["-t", "tmpfs"], vec!["-t", "noproc,sysfs"], vec!["-l", "-t", "ext4,tmpfs"]] {
        // Other processes may mount meanwhile: a few tries.
        let same = (0..5).any(|_| ours("mount", &args) == real("mount", &args));
        assert!(same, "{args:?}:\n{:?}\n{:?}", ours("mount", &args), real("mount", &args));
    }
    let listing = ours("mount", &["-t", "tmpfs"]).stdout;
    let mine: Vec<&str> = listing.lines().filter(|l| l.contains(s(dir.path()))).collect();
    assert_eq!(mine.len(), names.len(), "{listing}");
    // Control characters show as '?', the rest as they are.
    assert!(mine.iter().any(|l| l.ends_with("/with?tab type tmpfs (rw,relatime,size=1024k)")), "{mine:?}");
    assert!(mine.iter().any(|l| l.contains("/back\\slash type")), "{mine:?}");
    assert!(mine.iter().all(|l| l.starts_with("krazybox list on ")), "{mine:?}");
}

/// btrfs over two loop devices that come back under other names: the UUID
/// finds both members, registration makes the mount work; with one member
/// missing the mount fails with status 32 and says why.
#[test]
fn btrfs_two_devices_in_the_other_order() {
    let _lock = serial();
    let dir = TempDir::new("btrfs");
    let a = image(&dir, "a.img", 256, &[]);
    let b = image(&dir, "b.img", 256, &[]);
    let target = dir.subdir("mnt");
    let _clean = Unmount(target.clone());

    let (uuid, old) = {
        let la = LoopGuard::attach(&a, false).unwrap();
        let lb = LoopGuard::attach(&b, false).unwrap();
        run("mkfs.btrfs", &["-q", "-f", "-d", "raid1", "-m", "raid1", s(la.path()), s(lb.path())]);
        run("mount", &[s(la.path()), s(&target)]);
        std::fs::write(target.join("kept"), b"on both disks").unwrap();
        Unmount(target.clone()).now();
        let known = prober_knows(la.path(), "btrfs");
        (known.then(|| blkid("UUID", la.path())), [la.path().to_path_buf(), lb.path().to_path_buf()])
    };
    // Only these devices: other btrfs filesystems on this machine stay registered.
    for dev in &old {
        btrfs::forget(Some(dev)).unwrap();
    }
    let Some(uuid) = uuid else { return };

    // One member back: a clear failure.
    let lb = LoopGuard::attach(&b, false).unwrap();
    let source = format!("UUID={uuid}");
    let o = ours("mount", &[&source, s(&target)]);
    assert_eq!(o.status, 32, "{o:?}");
    assert!(o.stderr.contains("missing member devices"), "{o:?}");
    // util-linux's first lines are the same (it has no explanation).
    let r = real("mount", &["-t", "btrfs", s(lb.path()), s(&target)]);
    assert_eq!(without_hints(&o.stderr), r.stderr);
    assert_eq!(r.status, 32);
    btrfs::forget(Some(lb.path())).unwrap();

    // Both back, in the other order.
    let la = LoopGuard::attach(&a, false).unwrap();
    let o = ours("mount", &["-v", &source, s(&target)]);
    assert_eq!(o.status, 0, "{o:?}");
    assert_eq!(std::fs::read(target.join("kept")).unwrap(), b"on both disks");
    // mountinfo names whichever member the kernel picks; mount -a still sees it mounted.
    let fstab = dir.path().join("fstab");
    std::fs::write(&fstab, format!("UUID=\"{uuid}\" {} btrfs defaults\n", s(&target))).unwrap();
    for dev in [&la, &lb] {
        let alt = dir.path().join("fstab-by-path");
        std::fs::write(&alt, format!("{} {} btrfs defaults\n", s(dev.path()), s(&target))).unwrap();
        let out = ours("mount", &["-a", "-v", "-T", s(&alt)]);
        assert_eq!(out.stdout, format!("{:<25}: already mounted\n", target.display()), "{out:?}");
    }
    let out = ours("mount", &["-a", "-v", "-T", s(&fstab)]);
    assert_eq!(out.stdout, format!("{:<25}: already mounted\n", target.display()), "{out:?}");
    let o = ours("umount", &[&source]);
    assert_eq!(o.status, 0, "{o:?}");
    assert!(!mountinfo::is_mount_root(&target).unwrap());
    for dev in [la.path(), lb.path()] {
        btrfs::forget(Some(dev)).unwrap();
    }
}

#[test]
fn mountinfo_escapes_reach_the_listing_raw() {
    // The listing prints the unescaped path: the bytes of the name, control
    // characters replaced.
    let dir = TempDir::new("raw");
    let _lock = serial();
    let target = dir.subdir("a\\134b");
    mount::mount(&MountSpec::new("krazybox raw", &target).fstype("tmpfs")).unwrap();
    let _g = Unmount(target.clone());
    let out = ours("mount", &["-t", "tmpfs"]);
    let wanted = format!("krazybox raw on {} type tmpfs", target.display());
    assert!(out.stdout.lines().any(|l| l.starts_with(&wanted)), "{}", out.stdout);
    assert!(target.as_os_str().as_bytes().ends_with(b"a\\134b"));
}
