//! The mounting engine against the real kernel, with util-linux's mount(8)
//! and umount(8) as the oracle for messages. Needs root, loop devices and the
//! mkfs tools; every mount and loop device is held by a guard so that a
//! failing test leaves nothing behind.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use krazybox::mount::loopdev::{self, LoopDevice, LoopOptions};
use krazybox::mount::{self, btrfs, mountinfo, Category, LoopGuard, MountGuard, MountSpec};

use crate::support::*;
use crate::ErrorScene;

/// The oracle's answer, probed afresh (no cache): `blkid -p -o value -s TAG device`.
fn blkid(tag: &str, device: &Path) -> Option<String> {
    let out = Command::new("blkid").args(["-p", "-o", "value", "-s", tag]).arg(device).output().ok()?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!v.is_empty()).then_some(v)
}

fn blkid_type(device: &Path) -> io::Result<Option<String>> {
    Ok(blkid("TYPE", device))
}

/// What util-linux mount(8) prints as its first error line, and its exit status.
fn real_mount(args: &[&str]) -> (String, i32) {
    let out = Command::new("mount").args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    (err.lines().next().unwrap_or("").to_string(), out.status.code().unwrap_or(-1))
}

fn real_umount(args: &[&str]) -> (String, i32) {
    let out = Command::new("umount").args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    (err.lines().next().unwrap_or("").to_string(), out.status.code().unwrap_or(-1))
}

fn entry(target: &Path) -> mountinfo::MountInfo {
    mountinfo::mount_at(target).unwrap().unwrap_or_else(|| panic!("{} is not mounted", target.display()))
}

/// Waits for autoclear: the kernel may release the device a moment after umount.
fn wait_unbound(device: &Path) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if loopdev::backing_file(device).unwrap().is_none() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// The exit status util-linux gives each class of error (`MNT_EX_*`); the
/// applets map the engine's classes the same way.
fn status(err: &mount::Error) -> i32 {
    match err.category {
        mount::Category::Usage => 1,
        mount::Category::System => 2,
        mount::Category::Failure => 32,
    }
}

#[test]
fn regular_file_gets_an_autoclear_loop_device() {
    let _lock = serial();
    let dir = TempDir::new("file");
    let img = image(&dir, "ext4.img", 32, &["mkfs.ext4", "-q", "-F"]);
    let target = dir.subdir("mnt");

    // No type and no prober: /proc/filesystems is tried in order.
    let mounted = mount::mount(&MountSpec::new(s(&img), &target)).unwrap();
    let guard = MountGuard::from(&mounted);
    let device = mounted.loop_device.clone().expect("a loop device");
    assert_eq!(mounted.source, device);
    assert_eq!(mounted.fstype.as_deref(), Some("ext4"));
    assert!(!mounted.forced_read_only);
    assert_eq!(loopdev::backing_file(&device).unwrap().as_deref(), Some(img.as_path()));
    let info = loopdev::status(&device).unwrap().unwrap();
    assert_ne!(info.lo_flags & loopdev::LO_FLAGS_AUTOCLEAR, 0);
    assert_eq!(loopdev::find_by_backing_file(&img).unwrap(), vec![device.clone()]);

    let m = entry(&target);
    assert_eq!(m.fstype, "ext4");
    assert_eq!(Path::new(&m.source), device);
    assert!(!m.is_read_only());
    std::fs::write(target.join("hello"), b"world").unwrap();
    mount::syncfs(&target).unwrap();

    guard.unmount().unwrap();
    assert!(!mountinfo::is_mount_root(&target).unwrap());
    assert!(wait_unbound(&device), "{} still bound after umount", device.display());

    // Mounted again, with a prober this time, the data is there.
    let prober = blkid_type;
    let mounted = mount::mount(&MountSpec::new(s(&img), &target).prober(&prober).options("noexec,nodev")).unwrap();
    let _guard = MountGuard::from(&mounted);
    assert_eq!(std::fs::read(target.join("hello")).unwrap(), b"world");
    assert_eq!(entry(&target).options, "rw,nodev,noexec,relatime");
}

#[test]
fn offset_and_sizelimit_reach_the_loop_device() {
    let _lock = serial();
    let dir = TempDir::new("offset");
    let img = image(&dir, "raw.img", 4, &[]);
    let lo = LoopDevice::attach(
        &img,
        &LoopOptions { offset: 1 << 20, sizelimit: 2 << 20, read_only: true, ..LoopOptions::default() },
    )
    .unwrap();
    let guard = LoopGuard::new(lo);
    let info = guard.device().unwrap().status().unwrap();
    assert_eq!(info.lo_offset, 1 << 20);
    assert_eq!(info.lo_sizelimit, 2 << 20);
    assert_ne!(info.lo_flags & loopdev::LO_FLAGS_READ_ONLY, 0);
    assert_eq!(info.file_name(), img);
    let sectors =
        std::fs::read_to_string(format!("/sys/block/{}/size", guard.path().file_name().unwrap().to_str().unwrap()))
            .unwrap();
    assert_eq!(sectors.trim(), "4096");
    let device = guard.path().to_path_buf();
    guard.detach().unwrap();
    assert!(wait_unbound(&device));
}

#[test]
fn xfs_with_explicit_type_and_remount() {
    let _lock = serial();
    let dir = TempDir::new("xfs");
    let img = image(&dir, "xfs.img", 320, &["mkfs.xfs", "-q", "-f"]);
    let target = dir.subdir("mnt");
    let lo = LoopGuard::attach(&img, false).unwrap();

    let mounted = mount::mount(&MountSpec::new(s(lo.path()), &target).fstype("xfs").options("noatime")).unwrap();
    let guard = MountGuard::from(&mounted);
    assert_eq!(mounted.loop_device, None);
    let m = entry(&target);
    assert_eq!((m.fstype.as_str(), m.options.as_str()), ("xfs", "rw,noatime"));
    std::fs::write(target.join("f"), b"x").unwrap();

    // remount keeps the options the mount had (noatime) and changes ro.
    mount::mount(&MountSpec::target_only(&target).options("remount,ro")).unwrap();
    assert_eq!(entry(&target).options, "ro,noatime");
    assert_eq!(std::fs::write(target.join("g"), b"x").unwrap_err().raw_os_error(), Some(30)); // EROFS
    mount::mount(&MountSpec::target_only(&target).options("remount,rw")).unwrap();
    assert_eq!(entry(&target).options, "rw,noatime");
    std::fs::write(target.join("g"), b"x").unwrap();

    // A type list is tried in order.
    guard.unmount().unwrap();
    let mounted = mount::mount(&MountSpec::new(s(lo.path()), &target).fstype("ext4,btrfs,xfs")).unwrap();
    let _guard = MountGuard::from(&mounted);
    assert_eq!(mounted.fstype.as_deref(), Some("xfs"));
    assert!(target.join("g").exists());
}

#[test]
fn read_only_device_is_retried_read_only() {
    let _lock = serial();
    let dir = TempDir::new("ro");
    let img = image(&dir, "ext4.img", 32, &["mkfs.ext4", "-q", "-F"]);
    let target = dir.subdir("mnt");
    let lo = LoopGuard::attach(&img, true).unwrap();
    assert!(lo.device().unwrap().is_read_only());
    let dev = s(lo.path()).to_string();

    let mounted = mount::mount(&MountSpec::new(&dev, &target).fstype("ext4")).unwrap();
    let guard = MountGuard::from(&mounted);
    assert!(mounted.forced_read_only);
    assert!(entry(&target).is_read_only());
    guard.unmount().unwrap();

    // util-linux prints the same warning for the same situation.
    let out = Command::new("mount").args(["-t", "ext4", &dev, s(&target)]).output().unwrap();
    let _real = MountGuard::new(&target);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim(), format!("mount: {}: {}", target.display(), mount::READ_ONLY_WARNING));
    drop(_real);

    // Explicit rw: no fallback, and util-linux's message.
    let mut spec = MountSpec::new(&dev, &target).fstype("ext4");
    spec.read_write = true;
    let err = mount::mount(&spec).unwrap_err();
    assert_eq!(err.category, Category::Failure);
    assert_eq!(status(&err), 32);
    let (real, code) = real_mount(&["-w", "-t", "ext4", &dev, s(&target)]);
    assert_eq!(format!("mount: {err}"), real);
    assert_eq!(code, 32);
    assert!(!mountinfo::is_mount_root(&target).unwrap());
}

#[test]
fn bind_ro_and_propagation() {
    let _lock = serial();
    let dir = TempDir::new("bind");
    let src = dir.subdir("src");
    let target = dir.subdir("dst");
    std::fs::write(src.join("f"), b"data").unwrap();

    let mounted = mount::mount(&MountSpec::new(s(&src), &target).options("bind,ro,nosuid")).unwrap();
    let _guard = MountGuard::from(&mounted);
    let m = entry(&target);
    assert_eq!(m.options.split(',').take(2).collect::<Vec<_>>(), ["ro", "nosuid"]);
    // The bind shows the source directory as its root within the filesystem.
    assert!(m.root.ends_with(src.strip_prefix("/").unwrap()), "{:?}", m.root);
    assert_eq!(std::fs::read(target.join("f")).unwrap(), b"data");
    assert_eq!(std::fs::write(target.join("g"), b"x").unwrap_err().raw_os_error(), Some(30));
    // The original stays writable.
    std::fs::write(src.join("g"), b"x").unwrap();
    assert!(target.join("g").exists());

    // Propagation only: one mount(2) per word, in order.
    mount::mount(&MountSpec::target_only(&target).options("shared")).unwrap();
    assert!(entry(&target).optional.iter().any(|o| o.starts_with("shared:")));
    mount::mount(&MountSpec::target_only(&target).options("private")).unwrap();
    assert!(entry(&target).optional.is_empty());
}

#[test]
fn error_messages_match_util_linux() {
    let _lock = serial();
    let scene = ErrorScene::new();
    let (dir, target, dev) = (&scene.dir, scene.target.clone(), scene.dev.clone());
    let (missing_dir, missing_dev) = (scene.missing_dir.clone(), scene.missing_dev.clone());

    let cases: Vec<(MountSpec, Vec<&str>)> = vec![
        // wrong type: EINVAL
        (MountSpec::new(&dev, &target).fstype("xfs"), vec!["-t", "xfs", &dev, s(&target)]),
        // unknown type: ENODEV
        (MountSpec::new(&dev, &target).fstype("krazyfs"), vec!["-t", "krazyfs", &dev, s(&target)]),
        // missing target: ENOENT
        (MountSpec::new(&dev, &missing_dir).fstype("ext4"), vec!["-t", "ext4", &dev, s(&missing_dir)]),
        // missing source, with and without a type
        (MountSpec::new(s(&missing_dev), &target).fstype("ext4"), vec!["-t", "ext4", s(&missing_dev), s(&target)]),
        (MountSpec::new(s(&missing_dev), &target), vec![s(&missing_dev), s(&target)]),
        // a directory is not a block device
        (MountSpec::new(s(dir.path()), &target).fstype("ext4"), vec!["-t", "ext4", s(dir.path()), s(&target)]),
    ];
    for (spec, args) in &cases {
        let err = mount::mount(spec).unwrap_err();
        let (real, code) = real_mount(args);
        assert_eq!(format!("mount: {err}"), real, "{spec:?}");
        assert_eq!(status(&err), code, "{spec:?}");
        assert!(err.syscall_failed());
        assert!(!mountinfo::is_mount_root(&target).unwrap());
    }
    let err = mount::mount(&cases[1].0).unwrap_err();
    assert!(err.hint.unwrap().contains("no 'krazyfs' driver"));

    // Already mounted: EBUSY names where.
    let mounted = mount::mount(&MountSpec::new(&dev, &target).fstype("ext4")).unwrap();
    let _guard = MountGuard::from(&mounted);
    let err = mount::mount(&MountSpec::new(&dev, &target).fstype("ext4")).unwrap_err();
    let (real, code) = real_mount(&["-t", "ext4", &dev, s(&target)]);
    assert_eq!(format!("mount: {err}"), real);
    assert_eq!(status(&err), code);
    assert_eq!(err.message, format!("{dev} already mounted on {}", target.display()));

    // An unknown tag: exit 1, and nofail turns it into success.
    let resolver = |_: &str, _: &str| -> io::Result<Vec<PathBuf>> { Ok(Vec::new()) };
    let err = mount::mount(&MountSpec::new("UUID=\"0000\"", dir.path()).resolver(&resolver)).unwrap_err();
    // Named as written, quotes included, as util-linux does.
    assert_eq!(err.to_string(), format!("{}: can't find UUID=\"0000\".", dir.path().display()));
    assert_eq!(status(&err), 1);
    assert!(!err.nofail);
    let err = mount::mount(&MountSpec::new("LABEL=x", dir.path()).resolver(&resolver).options("nofail")).unwrap_err();
    assert!(err.nofail);

    // Bad options are a usage error.
    let err = mount::mount(&MountSpec::new(&dev, &target).options("offset=abc")).unwrap_err();
    assert_eq!(status(&err), 1);
}

#[test]
fn umount_errors_match_util_linux() {
    let dir = TempDir::new("umount");
    let plain = dir.subdir("plain");
    let missing = dir.path().join("missing");
    for path in [&plain, &missing] {
        let err = mount::umount(path, false, false).unwrap_err();
        let (real, code) = real_umount(&[s(path)]);
        assert_eq!(format!("umount: {err}"), real);
        assert_eq!(status(&err), code);
    }
}

#[test]
fn busy_umount_fails_then_lazy_detaches() {
    let dir = TempDir::new("busy");
    let target = dir.subdir("mnt");
    let mounted = mount::mount(&MountSpec::new("krazybox-busy", &target).fstype("tmpfs")).unwrap();
    let guard = MountGuard::from(&mounted);
    let holder = std::fs::File::create(target.join("open")).unwrap();
    let start = Instant::now();
    let err = mount::umount(&target, false, false).unwrap_err();
    assert_eq!(err.message, "target is busy");
    assert!(start.elapsed() >= Duration::from_millis(500), "retried before giving up");
    mount::umount(&target, true, false).unwrap();
    assert!(!mountinfo::is_mount_root(&target).unwrap());
    drop(holder);
    // Already gone: the guard's own unmount fails quietly.
    assert_eq!(guard.unmount().unwrap_err().message, "not mounted");
}

#[test]
fn mountinfo_unescapes_real_mount_points() {
    let dir = TempDir::new("names");
    for name in ["with space", "with\ttab", "with\nnewline", "back\\slash", "all of \t\n\\ them"] {
        let target = dir.subdir(name);
        let mounted = mount::mount(&MountSpec::new("krazybox test", &target).fstype("tmpfs")).unwrap();
        let guard = MountGuard::from(&mounted);
        let m = entry(&target);
        assert_eq!(m.mount_point, target.canonicalize().unwrap());
        assert_eq!(m.source, "krazybox test");
        assert_eq!(m.fstype, "tmpfs");
        assert_eq!(mountinfo::find_by_id(&mountinfo::read().unwrap(), m.id).unwrap(), &m);
        // The st_dev of the mount point is the one mountinfo shows.
        let dev = target.metadata().unwrap().dev();
        assert_eq!((nix::sys::stat::major(dev), nix::sys::stat::minor(dev)), (m.major.into(), m.minor.into()));
        assert!(mountinfo::is_mount_root(&target).unwrap());
        guard.unmount().unwrap();
        assert!(!mountinfo::is_mount_root(&target).unwrap());
    }
}

#[test]
fn stacked_mounts_last_one_wins() {
    let dir = TempDir::new("stack");
    let target = dir.subdir("mnt");
    let first = mount::mount(&MountSpec::new("first", &target).fstype("tmpfs")).unwrap();
    let _g1 = MountGuard::from(&first);
    let second = mount::mount(&MountSpec::new("second", &target).fstype("tmpfs")).unwrap();
    let g2 = MountGuard::from(&second);
    assert_eq!(entry(&target).source, "second");
    g2.unmount().unwrap();
    assert_eq!(entry(&target).source, "first");
}

/// The devices among `candidates` whose `tag` is `value`, per blkid.
fn resolve_among(candidates: &[PathBuf], tag: &str, value: &str) -> io::Result<Vec<PathBuf>> {
    Ok(candidates.iter().filter(|d| blkid(tag, d).as_deref() == Some(value)).cloned().collect())
}

#[test]
fn btrfs_raid1_over_two_loop_devices() {
    let _lock = serial();
    let dir = TempDir::new("btrfs");
    let a = image(&dir, "a.img", 256, &[]);
    let b = image(&dir, "b.img", 256, &[]);
    let target = dir.subdir("mnt");

    // Make the filesystem on loop devices, write to it, and take it apart.
    let (uuid, old) = {
        let la = LoopGuard::attach(&a, false).unwrap();
        let lb = LoopGuard::attach(&b, false).unwrap();
        run("mkfs.btrfs", &["-q", "-f", "-d", "raid1", "-m", "raid1", s(la.path()), s(lb.path())]);
        let uuid = blkid("UUID", la.path()).unwrap();
        assert_eq!(blkid("UUID", lb.path()).as_deref(), Some(uuid.as_str()));
        let mounted = mount::mount(&MountSpec::new(s(la.path()), &target).fstype("btrfs")).unwrap();
        let guard = MountGuard::from(&mounted);
        std::fs::write(target.join("kept"), b"on both disks").unwrap();
        guard.unmount().unwrap();
        (uuid, [la.path().to_path_buf(), lb.path().to_path_buf()])
    };
    // The kernel still remembers the members under their old names.
    for dev in &old {
        btrfs::forget(Some(dev)).unwrap();
    }

    // Back in the other order: the names are now swapped or new.
    let lb = LoopGuard::attach(&b, false).unwrap();
    let candidates = vec![lb.path().to_path_buf()];
    let resolver = |tag: &str, value: &str| resolve_among(&candidates, tag, value);
    let prober = blkid_type;
    let spec = format!("UUID=\"{uuid}\"");

    // One member missing: a clear error.
    let err = mount::mount(&MountSpec::new(&spec, &target).resolver(&resolver).prober(&prober)).unwrap_err();
    assert_eq!(status(&err), 32);
    let hint = err.hint.as_deref().unwrap_or("");
    assert!(hint.contains("missing member devices"), "{err:?}");
    // Which one is there and which one is not, from the superblocks.
    let (devid_b, total) = btrfs::member(lb.path()).unwrap();
    assert_eq!(total, 2);
    let devid_a = 3 - devid_b;
    let expected =
        format!("found 1 of 2 devices (devid {devid_b} on {}), missing devid {devid_a}", lb.path().display());
    assert!(hint.contains(&expected), "{hint}");
    // The same message as util-linux, which has no hint.
    let (real, code) = real_mount(&["-t", "btrfs", s(lb.path()), s(&target)]);
    assert_eq!((format!("mount: {err}"), 32), (real, code));
    assert!(!btrfs::devices_ready(lb.path()).unwrap());
    btrfs::forget(Some(lb.path())).unwrap();

    let la = LoopGuard::attach(&a, false).unwrap();
    let candidates = vec![lb.path().to_path_buf(), la.path().to_path_buf()];
    let resolver = |tag: &str, value: &str| resolve_among(&candidates, tag, value);

    // Registered explicitly, the filesystem is complete.
    btrfs::register(&candidates).unwrap();
    assert!(btrfs::devices_ready(la.path()).unwrap());
    btrfs::forget(Some(la.path())).unwrap();
    btrfs::forget(Some(lb.path())).unwrap();

    // mount() registers both itself.
    let mounted = mount::mount(&MountSpec::new(&spec, &target).resolver(&resolver).prober(&prober)).unwrap();
    let _guard = MountGuard::from(&mounted);
    assert_eq!(mounted.fstype.as_deref(), Some("btrfs"));
    assert_eq!(mounted.registered, candidates);
    assert_eq!(std::fs::read(target.join("kept")).unwrap(), b"on both disks");
    // mountinfo names one member, whichever the kernel picks.
    assert!(candidates.contains(&PathBuf::from(entry(&target).source)));

    // The same UUID on two devices is refused for anything but btrfs.
    let err = mount::mount(&MountSpec::new(&spec, &target).resolver(&resolver).fstype("ext4")).unwrap_err();
    assert_eq!(status(&err), 1);
    assert!(err.message.contains("matches several devices"), "{err}");
}

#[test]
fn same_file_twice_shares_its_loop_device() {
    let _lock = serial();
    let dir = TempDir::new("twice");
    let img = image(&dir, "ext4.img", 32, &["mkfs.ext4", "-q", "-F"]);
    let a = dir.subdir("a");
    let b = dir.subdir("b");
    let c = dir.subdir("c");

    let first = mount::mount(&MountSpec::new(s(&img), &a).options("ro")).unwrap();
    let _ga = MountGuard::from(&first);
    let device = first.loop_device.clone().unwrap();
    assert!(loopdev::status(&device).unwrap().unwrap().lo_flags & loopdev::LO_FLAGS_READ_ONLY != 0);

    // Again on the same target: refused before mount(2), as util-linux does.
    let err = mount::mount(&MountSpec::new(s(&img), &a)).unwrap_err();
    let (real, code) = real_mount(&[s(&img), s(&a)]);
    assert_eq!(format!("mount: {err}"), real);
    assert_eq!((status(&err), code), (1, 1));
    assert!(!err.syscall_failed());

    // Elsewhere: the read-only device is shared, so the mount falls back to
    // read-only with util-linux's warning.
    let second = mount::mount(&MountSpec::new(s(&img), &b)).unwrap();
    let _gb = MountGuard::from(&second);
    assert_eq!(second.loop_device.as_ref(), Some(&device));
    assert!(second.forced_read_only);
    assert!(entry(&b).is_read_only());
    let out = Command::new("mount").args([s(&img), s(&c)]).output().unwrap();
    let _gc = MountGuard::new(&c);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        format!("mount: {}: {}", c.display(), mount::READ_ONLY_WARNING)
    );
    assert_eq!(Path::new(&entry(&c).source), device);
    drop(_gc);

    // Explicit rw cannot share a read-only device.
    let mut spec = MountSpec::new(s(&img), &c);
    spec.read_write = true;
    let err = mount::mount(&spec).unwrap_err();
    assert_eq!(status(&err), 32);
    let (real, code) = real_mount(&["-w", s(&img), s(&c)]);
    assert_eq!(format!("mount: {err}"), real);
    assert_eq!(code, 32);

    // A different but overlapping range of the file is refused.
    let err = mount::mount(&MountSpec::new(s(&img), &c).options("offset=1024")).unwrap_err();
    let (real, code) = real_mount(&["-o", "offset=1024", s(&img), s(&c)]);
    assert_eq!(format!("mount: {err}"), real);
    assert_eq!((status(&err), code), (32, 32));
    assert_eq!(loopdev::find_by_backing_file(&img).unwrap(), vec![device]);
}

#[test]
fn concurrent_attaches_get_distinct_devices() {
    let _lock = serial();
    let dir = TempDir::new("race");
    let files: Vec<PathBuf> = (0..4).map(|i| image(&dir, &format!("{i}.img"), 1, &[])).collect();
    // Threads asking LOOP_CTL_GET_FREE together are told the same number;
    // all but one get EBUSY from LOOP_CONFIGURE and must try again.
    let barrier = std::sync::Barrier::new(files.len());
    let guards: Vec<LoopGuard> = std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .iter()
            .map(|f| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    LoopGuard::attach(f, false).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut devices: Vec<PathBuf> = guards.iter().map(|g| g.path().to_path_buf()).collect();
    for (g, f) in guards.iter().zip(&files) {
        assert_eq!(loopdev::backing_file(g.path()).unwrap().as_deref(), Some(f.as_path()));
    }
    devices.sort();
    devices.dedup();
    assert_eq!(devices.len(), files.len());
}

#[test]
fn flags_render_as_proc_mounts_shows_them() {
    let dir = TempDir::new("render");
    let target = dir.subdir("mnt");
    for words in ["ro,sync,nosuid,nodev,noexec,noatime,nodiratime", "dirsync,nosymfollow,lazytime", "strictatime"] {
        let mounted =
            mount::mount(&MountSpec::new("krazybox", &target).fstype("tmpfs").options(format!("{words},size=1m")))
                .unwrap();
        let _guard = MountGuard::from(&mounted);
        let mut flags = mounted.flags;
        // The kernel's default atime policy, unless another one was asked for.
        if !flags.intersects(nix::mount::MsFlags::MS_NOATIME | nix::mount::MsFlags::MS_STRICTATIME) {
            flags |= nix::mount::MsFlags::MS_RELATIME;
        }
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
        let line = mounts.lines().rev().find(|l| l.split(' ').nth(1) == Some(s(&target))).unwrap();
        let shown = line.split(' ').nth(3).unwrap();
        assert!(shown.starts_with(&format!("{},", krazybox::mount::options::flags_to_string(flags))), "{shown}");
    }
}
