//! The restic-rest-server wrapper against the real kernel: loop devices,
//! ext4 and btrfs images made by the mkfs tools, and a stand-in rest-server
//! (a shell script) that records its argv, environment and signals and
//! writes into its `--path`. Needs root. Every loop device, mount and child
//! process is held by a guard, so a failing test leaves nothing behind.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use krazybox::mount::{self, btrfs, mountinfo, LoopGuard, MountGuard, MountSpec};

mod support;
use support::*;

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--help").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

fn usable() -> bool {
    let ok = nix::unistd::geteuid().is_root() && Path::new("/dev/loop-control").exists() && have("mkfs.ext4");
    if !ok {
        eprintln!("skipped: needs root, loop devices and mkfs.ext4");
    }
    ok
}

/// The oracle: util-linux blkid, probing afresh.
fn blkid(tag: &str, device: &Path) -> String {
    let out = Command::new("blkid").args(["-p", "-o", "value", "-s", tag]).arg(device).output().unwrap();
    let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(!v.is_empty(), "blkid found no {tag} on {}", device.display());
    v
}

/// The stand-in rest-server. It finds its folder through STANDIN_DIR,
/// exits with STANDIN_EXIT at once if set, else runs until SIGTERM/SIGINT.
const STANDIN: &str = r#"#!/bin/sh
d=$STANDIN_DIR
printf '%s\n' "$@" > "$d/argv"
env > "$d/env"
path=/tmp/restic
prev=
for a in "$@"; do
  [ "$prev" = --path ] && path=$a
  case $a in --path=*) path=${a#--path=} ;; esac
  prev=$a
done
trap 'echo HUP >> "$d/signals"' HUP
trap 'echo TERM >> "$d/signals"; exit 0' TERM
trap 'echo INT >> "$d/signals"; exit 0' INT
mkdir -p "$path" && echo "written by the stand-in" > "$path/standin-was-here" || exit 7
stat -f -c %T "$path" > "$d/fstype"
# Leave a process behind that keeps a file on the disk open.
[ -n "$STANDIN_HOLD" ] && (exec sleep "$STANDIN_HOLD" < "$path/standin-was-here" > /dev/null 2>&1 &)
[ -n "$STANDIN_EXIT" ] && exit "$STANDIN_EXIT"
echo $$ > "$d/ready"
while :; do sleep 0.05; done
"#;

struct Standin {
    dir: PathBuf,
    script: PathBuf,
}

impl Standin {
    fn new(tmp: &TempDir) -> Standin {
        let dir = tmp.join("standin");
        fs::create_dir_all(&dir).unwrap();
        let script = tmp.join("rest-server");
        fs::write(&script, STANDIN).unwrap();
        fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        Standin { dir, script }
    }

    fn read(&self, name: &str) -> Option<String> {
        fs::read_to_string(self.dir.join(name)).ok()
    }

    fn started(&self) -> bool {
        self.dir.join("argv").exists()
    }

    fn argv(&self) -> Vec<String> {
        self.read("argv").unwrap_or_default().lines().map(String::from).collect()
    }

    fn signals(&self) -> Vec<String> {
        self.read("signals").unwrap_or_default().lines().map(String::from).collect()
    }

    /// Waits for the stand-in to be running and returns its pid.
    fn wait_ready(&self, wrapper: &mut Wrapper) -> i32 {
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(pid) = self.read("ready").and_then(|p| p.trim().parse().ok()) {
                return pid;
            }
            if let Some(status) = wrapper.0.try_wait().unwrap() {
                panic!("wrapper ended early with {status}: {}", wrapper.stderr());
            }
            assert!(Instant::now() < end, "stand-in never became ready");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The wrapper as gokrazy starts it: `restic-rest-server` through argv[0],
/// a clean environment plus `vars`. Killed on drop if still running.
struct Wrapper(Child, PathBuf);

impl Wrapper {
    fn start(tmp: &TempDir, standin: &Standin, vars: &[(&str, &str)], args: &[&str]) -> Wrapper {
        let link = tmp.join("restic-rest-server");
        if !link.exists() {
            std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_krazybox"), &link).unwrap();
        }
        let log = tmp.join("wrapper.log");
        let mut cmd = Command::new(&link);
        cmd.args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("STANDIN_DIR", &standin.dir)
            .env("REST_SERVER", &standin.script)
            .current_dir(&tmp.0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).unwrap());
        for (k, v) in vars {
            cmd.env(k, v);
        }
        Wrapper(cmd.spawn().unwrap(), log)
    }

    fn pid(&self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(self.0.id() as i32)
    }

    fn stderr(&self) -> String {
        fs::read_to_string(&self.1).unwrap_or_default()
    }

    fn wait(&mut self, limit: Duration) -> ExitStatus {
        let end = Instant::now() + limit;
        loop {
            if let Some(s) = self.0.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < end, "wrapper still running after {limit:?}: {}", self.stderr());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs to the end: (exit status, stderr).
    fn finish(mut self) -> (i32, String) {
        let s = self.wait(Duration::from_secs(60));
        (s.code().unwrap_or(-1), self.stderr())
    }
}

impl Drop for Wrapper {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn mounted_at(target: &Path) -> Option<mountinfo::MountInfo> {
    mountinfo::mount_at(target).ok().flatten()
}

/// The file the stand-in wrote must be on the disk, not in the directory
/// underneath the mount point.
fn assert_written_to_disk(device: &Path, target: &Path, sub: &str) {
    assert!(!target.join(sub).join("standin-was-here").exists(), "written under the mount point");
    let check = target.with_extension("check");
    fs::create_dir_all(&check).unwrap();
    let m = mount::mount(&MountSpec::new(device.display().to_string(), &check)).unwrap();
    let guard = MountGuard::from(&m);
    let text = fs::read_to_string(check.join(sub).join("standin-was-here"));
    guard.unmount().unwrap();
    assert_eq!(text.unwrap(), "written by the stand-in\n");
}

fn ext4(tmp: &TempDir, name: &str) -> (PathBuf, LoopGuard, String) {
    let img = image(tmp, name, 32, &["mkfs.ext4", "-q", "-F"]);
    let lo = LoopGuard::attach(&img, false).unwrap();
    let uuid = blkid("UUID", lo.path());
    (img, lo, uuid)
}

#[test]
fn mounts_by_uuid_passes_arguments_and_exit_status_then_unmounts() {
    if !usable() {
        return;
    }
    let _s = serial();
    let tmp = TempDir::new("uuid");
    let standin = Standin::new(&tmp);
    let (_img, lo, uuid) = ext4(&tmp, "disk.img");
    let target = tmp.join("mnt");
    fs::create_dir(&target).unwrap();
    let _cleanup = MountGuard::new(&target);
    let path = target.join("restic");
    let path_arg = format!("--path={}", path.display());
    let args = ["--listen", ":8000", &path_arg, "--private-repos", "two words", ""];

    let source = format!("UUID={uuid}");
    let vars = [("MNT_SOURCE", source.as_str()), ("MNT_TARGET", target.to_str().unwrap()), ("STANDIN_EXIT", "3")];
    let (code, log) = Wrapper::start(&tmp, &standin, &vars, &args).finish();
    assert_eq!(code, 3, "{log}");
    assert_eq!(standin.argv(), args, "arguments reach rest-server untouched");
    let env = standin.read("env").unwrap();
    assert!(env.lines().any(|l| l == format!("MNT_SOURCE={source}")), "{env}");
    assert_eq!(standin.read("fstype").unwrap().trim(), "ext2/ext3", "rest-server ran on the disk");
    assert!(mounted_at(&target).is_none(), "unmounted after rest-server exited: {log}");
    assert!(log.contains("mounted") && log.contains("exited with status 3") && log.contains("unmounted"), "{log}");
    assert_written_to_disk(lo.path(), &target, "restic");
}

#[test]
fn quoted_uuid_sighup_forwarded_sigterm_stops_cleanly() {
    if !usable() {
        return;
    }
    let _s = serial();
    let tmp = TempDir::new("signals");
    let standin = Standin::new(&tmp);
    let (_img, lo, uuid) = ext4(&tmp, "disk.img");
    let target = tmp.join("mnt");
    let _cleanup = MountGuard::new(&target);
    let path = target.join("repos");
    // As env.txt hands it over: quotes included; the target is created.
    let source = format!("UUID=\"{uuid}\"");
    let vars = [("MNT_SOURCE", source.as_str()), ("MNT_TARGET", target.to_str().unwrap())];
    let mut w = Wrapper::start(&tmp, &standin, &vars, &["--path", path.to_str().unwrap()]);
    standin.wait_ready(&mut w);

    let m = mounted_at(&target).expect("mounted while rest-server runs");
    assert_eq!(Path::new(&m.source), lo.path());
    let rss = fs::read_to_string(format!("/proc/{}/status", w.pid()))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .map(String::from)
        .unwrap_or_default();
    eprintln!("wrapper (debug build) while rest-server runs: {rss}");
    let cwd = fs::read_link(format!("/proc/{}/cwd", w.pid())).unwrap();
    assert!(!cwd.starts_with(&target), "the wrapper keeps its cwd out of the mount: {}", cwd.display());
    for fd in fs::read_dir(format!("/proc/{}/fd", w.pid())).unwrap().flatten() {
        let to = fs::read_link(fd.path()).unwrap_or_default();
        assert!(!to.starts_with(&target), "the wrapper holds {} open", to.display());
    }

    nix::sys::signal::kill(w.pid(), nix::sys::signal::Signal::SIGHUP).unwrap();
    let end = Instant::now() + Duration::from_secs(10);
    while standin.signals().is_empty() {
        assert!(Instant::now() < end, "SIGHUP not forwarded: {}", w.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(w.0.try_wait().unwrap().is_none(), "SIGHUP does not stop the service");
    nix::sys::signal::kill(w.pid(), nix::sys::signal::Signal::SIGTERM).unwrap();
    let started = Instant::now();
    let (code, log) = w.finish();
    assert_eq!(code, 0, "{log}");
    assert!(started.elapsed() < Duration::from_secs(10), "stopping took {:?}", started.elapsed());
    assert_eq!(standin.signals(), ["HUP", "TERM"]);
    assert!(mounted_at(&target).is_none(), "{log}");
    assert!(log.contains("forwarding SIGTERM"), "{log}");
    assert_written_to_disk(lo.path(), &target, "repos");
}

#[test]
fn btrfs_over_two_loop_devices_attached_in_swapped_order() {
    if !usable() || !have("mkfs.btrfs") || !Path::new(btrfs::BTRFS_CONTROL).exists() {
        eprintln!("skipped: needs mkfs.btrfs and btrfs in the kernel");
        return;
    }
    let _s = serial();
    let tmp = TempDir::new("btrfs");
    let standin = Standin::new(&tmp);
    let a = image(&tmp, "a.img", 128, &[]);
    let b = image(&tmp, "b.img", 128, &[]);
    run("mkfs.btrfs", &["-q", "-f", "-d", "single", "-m", "raid1", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(mount::probe_glue::probe_type(&a).ok().flatten().as_deref(), Some("btrfs"));
    // The second member gets the lower loop number, as after a reboot that
    // renamed the disks, and the first one comes later; the kernel knows
    // neither until the wrapper registers them.
    let lo_b = LoopGuard::attach(&b, false).unwrap();
    let _ = btrfs::forget(Some(lo_b.path()));
    let uuid = blkid("UUID", lo_b.path());
    let target = tmp.join("mnt");
    fs::create_dir(&target).unwrap();
    let _cleanup = MountGuard::new(&target);
    let path = target.join("restic");
    let source = format!("UUID={uuid}");
    let vars = [("MNT_SOURCE", source.as_str()), ("MNT_TARGET", target.to_str().unwrap()), ("STANDIN_EXIT", "0")];
    let args = ["--path", path.to_str().unwrap()];
    let w = Wrapper::start(&tmp, &standin, &vars, &args);
    let end = Instant::now() + Duration::from_secs(10);
    while !w.stderr().contains(&format!("waiting up to 30s for the other members of btrfs {source} (1 present)")) {
        assert!(Instant::now() < end, "{}", w.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!standin.started());
    let lo_a = LoopGuard::attach(&a, false).unwrap();
    assert_eq!(uuid, blkid("UUID", lo_a.path()));
    let (code, log) = w.finish();
    assert_eq!(code, 0, "{log}");
    assert_eq!(standin.read("fstype").unwrap().trim(), "btrfs", "{log}");
    assert!(mounted_at(&target).is_none(), "{log}");

    // A restart: mounted already through the other member; mountinfo names
    // whichever member it likes, the wrapper must still recognise it.
    btrfs::register(&[lo_a.path().to_path_buf(), lo_b.path().to_path_buf()]).unwrap();
    mount::mount(&MountSpec::new(lo_b.path().display().to_string(), &target)).unwrap();
    fs::remove_dir_all(&standin.dir).unwrap();
    fs::create_dir(&standin.dir).unwrap();
    let (code, log) = Wrapper::start(&tmp, &standin, &vars, &args).finish();
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("already mounted"), "{log}");
    assert_eq!(standin.read("fstype").unwrap().trim(), "btrfs");
    assert!(mounted_at(&target).is_none(), "{log}");
    for lo in [&lo_a, &lo_b] {
        let _ = btrfs::forget(Some(lo.path()));
    }
}

#[test]
fn waits_for_a_device_that_appears_later() {
    if !usable() {
        return;
    }
    let _s = serial();
    let tmp = TempDir::new("late");
    let standin = Standin::new(&tmp);
    let img = image(&tmp, "late.img", 32, &["mkfs.ext4", "-q", "-F"]);
    let uuid = blkid("UUID", &img);
    let target = tmp.join("mnt");
    fs::create_dir(&target).unwrap();
    let _cleanup = MountGuard::new(&target);
    let source = format!("UUID={uuid}");
    let path = target.join("r");
    let vars = [
        ("MNT_SOURCE", source.as_str()),
        ("MNT_TARGET", target.to_str().unwrap()),
        ("MNT_WAIT", "30"),
        ("STANDIN_EXIT", "0"),
    ];
    let mut w = Wrapper::start(&tmp, &standin, &vars, &["--path", path.to_str().unwrap()]);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(w.0.try_wait().unwrap().is_none(), "gave up too early: {}", w.stderr());
    assert!(!standin.started());
    let _lo = LoopGuard::attach(&img, false).unwrap();
    let (code, log) = w.finish();
    assert_eq!(code, 0, "{log}");
    assert!(log.contains(&format!("waiting up to 30s for a device with UUID={uuid}")), "{log}");
    assert_eq!(standin.read("fstype").unwrap().trim(), "ext2/ext3");
    assert!(mounted_at(&target).is_none(), "{log}");
}

#[test]
fn device_that_never_appears_is_transient() {
    if !usable() {
        return;
    }
    let tmp = TempDir::new("never");
    let standin = Standin::new(&tmp);
    let target = tmp.join("mnt");
    let vars = [
        ("MNT_SOURCE", "0b3c1f0e-6a4e-4c1a-9d1e-000000000000"),
        ("MNT_TARGET", target.to_str().unwrap()),
        ("MNT_WAIT", "1"),
    ];
    let (code, log) = Wrapper::start(&tmp, &standin, &vars, &[]).finish();
    assert_eq!(code, 1, "{log}");
    assert!(log.contains("gave up after 1s waiting for a device with UUID=0b3c1f0e"), "{log}");
    assert!(!standin.started());
}

#[test]
fn sigterm_while_waiting_for_the_device_stops_at_once() {
    if !usable() {
        return;
    }
    let tmp = TempDir::new("stopwait");
    let standin = Standin::new(&tmp);
    let target = tmp.join("mnt");
    let vars = [("MNT_SOURCE", "LABEL=no-such-disk-here"), ("MNT_TARGET", target.to_str().unwrap())];
    let mut w = Wrapper::start(&tmp, &standin, &vars, &[]);
    let end = Instant::now() + Duration::from_secs(10);
    while !w.stderr().contains("waiting up to 30s for a device with LABEL=no-such-disk-here") {
        assert!(Instant::now() < end, "{}", w.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    nix::sys::signal::kill(w.pid(), nix::sys::signal::Signal::SIGTERM).unwrap();
    let stopped = Instant::now();
    let status = w.wait(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0), "{}", w.stderr());
    assert!(stopped.elapsed() < Duration::from_secs(2), "took {:?}", stopped.elapsed());
    assert!(w.stderr().contains("stopped while waiting"), "{}", w.stderr());
    assert!(!standin.started());
}

#[test]
fn a_busy_disk_is_detached_lazily() {
    if !usable() {
        return;
    }
    let _s = serial();
    let tmp = TempDir::new("busy");
    let standin = Standin::new(&tmp);
    let (_img, _lo, uuid) = ext4(&tmp, "disk.img");
    let target = tmp.join("mnt");
    fs::create_dir(&target).unwrap();
    let _cleanup = MountGuard::new(&target);
    let source = format!("UUID={uuid}");
    let path = target.join("restic");
    let hold = 4;
    let vars = [
        ("MNT_SOURCE", source.as_str()),
        ("MNT_TARGET", target.to_str().unwrap()),
        ("STANDIN_EXIT", "0"),
        ("STANDIN_HOLD", &hold.to_string()),
    ];
    let started = Instant::now();
    let (code, log) = Wrapper::start(&tmp, &standin, &vars, &["--path", path.to_str().unwrap()]).finish();
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("still busy: detaching lazily"), "{log}");
    assert!(log.contains(&format!("detached {}", target.display())), "{log}");
    assert!(mounted_at(&target).is_none(), "gone from the mount table: {log}");
    assert!(started.elapsed() < Duration::from_secs(hold), "did not wait for the holder: {:?}", started.elapsed());
    // Let the holder go before the loop device is detached.
    std::thread::sleep(Duration::from_secs(hold).saturating_sub(started.elapsed()) + Duration::from_millis(300));
}

#[test]
fn restart_finds_the_filesystem_already_mounted() {
    if !usable() {
        return;
    }
    let _s = serial();
    let tmp = TempDir::new("restart");
    let standin = Standin::new(&tmp);
    let (_img, lo, uuid) = ext4(&tmp, "disk.img");
    let target = tmp.join("mnt");
    fs::create_dir(&target).unwrap();
    let _cleanup = MountGuard::new(&target);
    mount::mount(&MountSpec::new(lo.path().display().to_string(), &target)).unwrap();
    let source = format!("UUID={uuid}");
    let path = target.join("restic");
    let vars = [("MNT_SOURCE", source.as_str()), ("MNT_TARGET", target.to_str().unwrap()), ("STANDIN_EXIT", "0")];
    let (code, log) = Wrapper::start(&tmp, &standin, &vars, &["--path", path.to_str().unwrap()]).finish();
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("already mounted"), "{log}");
    assert_eq!(
        mountinfo::read().unwrap().iter().filter(|m| m.mount_point == target).count(),
        0,
        "not mounted twice, and unmounted at the end: {log}"
    );
    assert_written_to_disk(lo.path(), &target, "restic");
}

#[test]
fn another_filesystem_at_the_target_is_refused() {
    if !usable() {
        return;
    }
    let _s = serial();
    let tmp = TempDir::new("other");
    let standin = Standin::new(&tmp);
    let (_img, _lo, uuid) = ext4(&tmp, "disk.img");
    let target = tmp.join("mnt");
    fs::create_dir(&target).unwrap();
    let m = mount::mount(&MountSpec::new("tmpfs", &target).fstype("tmpfs")).unwrap();
    let other = MountGuard::from(&m);
    let source = format!("UUID={uuid}");
    let vars = [("MNT_SOURCE", source.as_str()), ("MNT_TARGET", target.to_str().unwrap())];
    let path = target.join("restic");
    let (code, log) = Wrapper::start(&tmp, &standin, &vars, &["--path", path.to_str().unwrap()]).finish();
    assert_eq!(code, 125, "{log}");
    assert!(log.contains("already has tmpfs (tmpfs) mounted"), "{log}");
    assert!(!standin.started());
    assert_eq!(mounted_at(&target).map(|m| m.fstype).as_deref(), Some("tmpfs"), "left alone");
    other.unmount().unwrap();
}

#[test]
fn path_outside_the_mount_is_refused() {
    if !usable() {
        return;
    }
    let _s = serial();
    let tmp = TempDir::new("outside");
    let standin = Standin::new(&tmp);
    let (_img, _lo, uuid) = ext4(&tmp, "disk.img");
    let target = tmp.join("mnt");
    fs::create_dir(&target).unwrap();
    let _cleanup = MountGuard::new(&target);
    // A symlink inside the mount point's directory that leads out of it.
    std::os::unix::fs::symlink(&tmp.0, target.join("escape")).unwrap();
    let source = format!("UUID={uuid}");
    let vars = [("MNT_SOURCE", source.as_str()), ("MNT_TARGET", target.to_str().unwrap())];
    // `escape/..` is the mount point by its spelling, the temp folder's parent by the kernel's rules.
    let paths = [tmp.join("elsewhere"), target.join("../elsewhere"), target.join("escape/x"), target.join("escape/..")];
    for path in paths {
        let arg = format!("--path={}", path.display());
        let (code, log) = Wrapper::start(&tmp, &standin, &vars, &[&arg]).finish();
        assert_eq!(code, 125, "{}: {log}", path.display());
        assert!(log.contains("is outside the mounted disk"), "{log}");
        assert!(!standin.started());
        assert!(mounted_at(&target).is_none());
    }
}

#[test]
fn mount_failures_never_start_rest_server() {
    if !usable() {
        return;
    }
    let _s = serial();
    let tmp = TempDir::new("fail");
    let standin = Standin::new(&tmp);
    // A device with no filesystem on it: mount(2) fails (EINVAL), worth retrying.
    let blank = image(&tmp, "blank.img", 8, &[]);
    let lo = LoopGuard::attach(&blank, false).unwrap();
    let target = tmp.join("mnt");
    fs::create_dir(&target).unwrap();
    let _cleanup = MountGuard::new(&target);
    let dev = lo.path().to_str().unwrap();
    let path = target.join("r");
    let args = ["--path", path.to_str().unwrap()];
    let vars = [("MNT_SOURCE", dev), ("MNT_TARGET", target.to_str().unwrap()), ("MNT_FSTYPE", "ext4")];
    let (code, log) = Wrapper::start(&tmp, &standin, &vars, &args).finish();
    assert_eq!(code, 1, "{log}");
    assert!(log.contains("wrong fs type"), "{log}");
    assert!(!standin.started());

    // A type the kernel does not have: only a configuration change helps.
    let vars = [("MNT_SOURCE", dev), ("MNT_TARGET", target.to_str().unwrap()), ("MNT_FSTYPE", "bogusfs")];
    let (code, log) = Wrapper::start(&tmp, &standin, &vars, &args).finish();
    assert_eq!(code, 125, "{log}");
    assert!(log.contains("unknown filesystem type 'bogusfs'"), "{log}");
    assert!(!standin.started());
    assert!(mounted_at(&target).is_none());
}

#[test]
fn configuration_errors_exit_125_with_one_line() {
    let tmp = TempDir::new("config");
    let standin = Standin::new(&tmp);
    let cases: &[&[(&str, &str)]] = &[
        &[("MNT_SOURCE", "UUID=\"0b3c1f0e\"")],
        &[("MNT_SOURCE", "UUID=xyz"), ("MNT_TARGET", "/mnt")],
        &[("MNT_SOURCE", "/dev/sda1"), ("MNT_TARGET", "/mnt"), ("MNT_DATA", "offset=x")],
    ];
    for vars in cases {
        let (code, log) = Wrapper::start(&tmp, &standin, vars, &[]).finish();
        assert_eq!(code, 125, "{vars:?}: {log}");
        assert_eq!(log.lines().count(), 1, "{log}");
        assert!(log.starts_with("restic-rest-server: MNT_"), "{log}");
        assert!(!standin.started());
    }
}

#[test]
fn a_mount_point_that_cannot_be_made_is_retried() {
    let tmp = TempDir::new("notarget");
    let standin = Standin::new(&tmp);
    // As when /perm is not mounted yet: the parent does not exist.
    let target = tmp.join("perm/rest-server");
    let vars = [("MNT_SOURCE", "LABEL=backup"), ("MNT_TARGET", target.to_str().unwrap())];
    let (code, log) = Wrapper::start(&tmp, &standin, &vars, &[]).finish();
    assert_eq!(code, 1, "{log}");
    assert!(log.contains("does not exist and cannot be created"), "{log}");
    assert!(!standin.started());
    // Not a directory: only a configuration change helps.
    let file = tmp.join("file");
    fs::write(&file, "x").unwrap();
    let vars = [("MNT_SOURCE", "LABEL=backup"), ("MNT_TARGET", file.to_str().unwrap())];
    let (code, log) = Wrapper::start(&tmp, &standin, &vars, &[]).finish();
    assert_eq!(code, 125, "{log}");
    assert!(log.contains("is not a directory"), "{log}");
}

#[test]
fn without_mnt_variables_runs_without_mounting() {
    let tmp = TempDir::new("plain");
    let standin = Standin::new(&tmp);
    let path = tmp.join("repos");
    let args = ["--path", path.to_str().unwrap(), "--no-auth"];
    let (code, log) = Wrapper::start(&tmp, &standin, &[("STANDIN_EXIT", "0")], &args).finish();
    assert_eq!(code, 0, "{log}");
    assert_eq!(standin.argv(), args);
    assert!(path.join("standin-was-here").exists());
    assert!(log.contains("without mounting"), "{log}");
    assert!(!mountinfo::read().unwrap().iter().any(|m| m.mount_point.starts_with(&tmp.0)));

    // Killed by a signal it did not get from us: 128+N, so gokrazy restarts it.
    let vars = [("STANDIN_EXIT", "")];
    let mut w = Wrapper::start(&tmp, &standin, &vars, &args);
    let pid = standin.wait_ready(&mut w);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).unwrap();
    let (code, log) = w.finish();
    assert_eq!(code, 128 + 9, "{log}");
}

#[test]
fn missing_rest_server_is_a_configuration_error_and_unmounts() {
    if !usable() {
        return;
    }
    let _s = serial();
    let tmp = TempDir::new("noprogram");
    let standin = Standin::new(&tmp);
    let (_img, _lo, uuid) = ext4(&tmp, "disk.img");
    let target = tmp.join("mnt");
    let _cleanup = MountGuard::new(&target);
    let source = format!("UUID={uuid}");
    let missing = tmp.join("no-such-rest-server");
    let vars = [
        ("MNT_SOURCE", source.as_str()),
        ("MNT_TARGET", target.to_str().unwrap()),
        ("REST_SERVER", missing.to_str().unwrap()),
    ];
    let path = target.join("restic");
    let (code, log) = Wrapper::start(&tmp, &standin, &vars, &["--path", path.to_str().unwrap()]).finish();
    assert_eq!(code, 125, "{log}");
    assert!(log.contains("set REST_SERVER"), "{log}");
    assert!(log.contains("unmounted"), "{log}");
    assert!(mounted_at(&target).is_none());
}
