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

use crate::support::*;

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
[ -n "$STANDIN_IGNORE_TERM" ] && trap 'echo TERM >> "$d/signals"' TERM
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

/// Runs the wrapper in a mount namespace of its own whose
/// `/sys/class/block` is a tmpfs of links to the real entries, so that a
/// test can take a device out of the wrapper's sight while it stays mounted
/// (a mounted loop device cannot really leave: the kernel keeps it bound).
const PRIVATE_SYS_CLASS_BLOCK: &str = r#"
links=$(for e in /sys/class/block/*; do printf '%s %s\n' "${e##*/}" "$(readlink -f "$e")"; done)
mount -t tmpfs krazybox-test /sys/class/block || exit 99
printf '%s\n' "$links" | while read -r n t; do ln -s "$t" "/sys/class/block/$n"; done
exec "$@"
"#;

/// How a test starts the wrapper.
#[derive(Clone, Copy)]
enum Launch {
    Direct,
    /// With a /sys/class/block of its own: see [`PRIVATE_SYS_CLASS_BLOCK`].
    OwnSys,
    /// Under nohup(1): SIGHUP ignored, as its children would inherit it.
    Nohup,
}

impl Wrapper {
    fn start(tmp: &TempDir, standin: &Standin, vars: &[(&str, &str)], args: &[&str]) -> Wrapper {
        Wrapper::start_in(tmp, standin, vars, args, &tmp.0, Launch::Direct)
    }

    /// In the working directory `cwd`, started as `how` says.
    fn start_in(
        tmp: &TempDir,
        standin: &Standin,
        vars: &[(&str, &str)],
        args: &[&str],
        cwd: &Path,
        how: Launch,
    ) -> Wrapper {
        let link = tmp.join("restic-rest-server");
        if !link.exists() {
            std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_krazybox"), &link).unwrap();
        }
        let log = tmp.join("wrapper.log");
        let mut cmd = match how {
            Launch::Direct => Command::new(&link),
            Launch::OwnSys => {
                let mut c = Command::new("unshare");
                c.args(["--mount", "--propagation", "private", "sh", "-c", PRIVATE_SYS_CLASS_BLOCK, "sh"]).arg(&link);
                c
            }
            Launch::Nohup => {
                let mut c = Command::new("nohup");
                c.arg(&link);
                c
            }
        };
        cmd.args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("STANDIN_DIR", &standin.dir)
            .env("REST_SERVER", &standin.script)
            .current_dir(cwd)
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
    // When the disk was mounted, for the native server's status page.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let mounted: u64 = env.lines().find_map(|l| l.strip_prefix("KRAZYBOX_MOUNTED_AT=")).unwrap().parse().unwrap();
    assert!(now - 60 <= mounted && mounted <= now, "{mounted} {now}");
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
    // Under nohup: the SIGHUP the wrapper forwards must still reach rest-server,
    // which would otherwise inherit it ignored (and a shell could not trap it).
    let mut w = Wrapper::start_in(&tmp, &standin, &vars, &["--path", path.to_str().unwrap()], &tmp.0, Launch::Nohup);
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
    // Both members are watched for a pulled disk.
    let name = |lo: &LoopGuard| lo.path().file_name().unwrap().to_str().unwrap().to_string();
    let watched = log.lines().find(|l| l.contains("watching ")).unwrap_or_default();
    assert!(watched.contains(&name(&lo_a)) && watched.contains(&name(&lo_b)), "{log}");
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
    let path = target.join("restic");
    let (code, log) = Wrapper::start(&tmp, &standin, &vars, &["--path", path.to_str().unwrap()]).finish();
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
    let path = target.join("restic");
    let mut w = Wrapper::start(&tmp, &standin, &vars, &["--path", path.to_str().unwrap()]);
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
    let path = target.join("restic");
    let (code, log) = Wrapper::start(&tmp, &standin, &vars, &["--path", path.to_str().unwrap()]).finish();
    assert_eq!(code, 1, "{log}");
    assert!(log.contains("does not exist and cannot be created"), "{log}");
    assert!(!standin.started());
    // Not a directory: only a configuration change helps.
    let file = tmp.join("file");
    fs::write(&file, "x").unwrap();
    let vars = [("MNT_SOURCE", "LABEL=backup"), ("MNT_TARGET", file.to_str().unwrap())];
    let path = file.join("restic");
    let (code, log) = Wrapper::start(&tmp, &standin, &vars, &["--path", path.to_str().unwrap()]).finish();
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
    assert!(!standin.read("env").unwrap().contains("KRAZYBOX_MOUNTED_AT="), "nothing mounted, no mount time");
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

fn alive(pid: i32) -> bool {
    // A zombie has exited; only its parent's wait is missing.
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|st| st.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z')))
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < end, "{what} not within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn no_path_with_mnt_source_is_refused() {
    let tmp = TempDir::new("nopath");
    let standin = Standin::new(&tmp);
    let target = tmp.subdir("mnt");
    let vars = [("MNT_SOURCE", "LABEL=backup"), ("MNT_TARGET", target.to_str().unwrap()), ("MNT_WAIT", "1")];
    // --htpasswd-file takes the next word: there is no --path here.
    for args in [&["--no-auth"][..], &["--htpasswd-file", "--path=/x"][..], &["--", "--path", "/x"][..]] {
        let (code, log) = Wrapper::start(&tmp, &standin, &vars, args).finish();
        assert_eq!(code, 125, "{args:?}: {log}");
        assert_eq!(log.lines().count(), 1, "{log}");
        assert!(log.contains("MNT_SOURCE is set but rest-server has no --path"), "{log}");
        assert!(!standin.started());
    }
    let (code, log) = Wrapper::start(&tmp, &standin, &vars, &["--path"]).finish();
    assert_eq!(code, 125, "{log}");
    assert!(log.contains("--path has no value"), "{log}");
}

#[test]
fn path_is_read_by_rest_servers_grammar() {
    let tmp = TempDir::new("grammar");
    let standin = Standin::new(&tmp);
    let target = tmp.subdir("mnt");
    let sd = tmp.subdir("sd");
    let vars = [("MNT_SOURCE", "LABEL=no-such-disk"), ("MNT_TARGET", target.to_str().unwrap()), ("MNT_WAIT", "1")];
    // rest-server serves /sd and takes `--path=<disk>/restic` as its htpasswd file.
    let first = format!("--path={}", sd.display());
    let last = format!("--path={}/restic", target.display());
    let (code, log) = Wrapper::start(&tmp, &standin, &vars, &[&first, "--htpasswd-file", &last]).finish();
    assert_eq!(code, 125, "{log}");
    assert!(log.contains(&format!("--path {} is outside the mounted disk", sd.display())), "{log}");
    // Switches never take a value: here the disk's path is the one served.
    let (code, log) = Wrapper::start(&tmp, &standin, &vars, &[&first, "--no-auth", &last]).finish();
    assert_eq!(code, 1, "{log}");
    assert!(log.contains("gave up after 1s waiting for a device with LABEL=no-such-disk"), "{log}");
}

#[test]
fn relative_path_from_the_mount_point_lands_on_the_disk() {
    if !usable() {
        return;
    }
    let _s = serial();
    let tmp = TempDir::new("relative");
    let standin = Standin::new(&tmp);
    let (_img, lo, uuid) = ext4(&tmp, "disk.img");
    let target = tmp.subdir("mnt");
    let _cleanup = MountGuard::new(&target);
    let source = format!("UUID={uuid}");
    let vars = [("MNT_SOURCE", source.as_str()), ("MNT_TARGET", target.to_str().unwrap()), ("STANDIN_EXIT", "0")];
    // gokrazy starts a service in its home folder; here that is the mount point itself.
    let (code, log) = Wrapper::start_in(&tmp, &standin, &vars, &["--path", "restic"], &target, Launch::Direct).finish();
    assert_eq!(code, 0, "{log}");
    assert_eq!(standin.argv(), ["--path", "restic"], "the argument is passed as given");
    assert_eq!(standin.read("fstype").unwrap().trim(), "ext2/ext3", "rest-server ran on the disk: {log}");
    assert!(mounted_at(&target).is_none(), "{log}");
    assert_written_to_disk(lo.path(), &target, "restic");
}

#[test]
fn rest_server_dies_with_the_wrapper_and_a_busy_mount_is_left_alone() {
    if !usable() {
        return;
    }
    let _s = serial();
    let tmp = TempDir::new("orphan");
    let standin = Standin::new(&tmp);
    let (_img, lo, uuid) = ext4(&tmp, "disk.img");
    let target = tmp.subdir("mnt");
    let _cleanup = MountGuard::new(&target);
    let source = format!("UUID={uuid}");
    let path = target.join("restic");
    let args = ["--path", path.to_str().unwrap()];
    let vars = [("MNT_SOURCE", source.as_str()), ("MNT_TARGET", target.to_str().unwrap())];
    let mut w = Wrapper::start(&tmp, &standin, &vars, &args);
    let server = standin.wait_ready(&mut w);
    nix::sys::signal::kill(w.pid(), nix::sys::signal::Signal::SIGKILL).unwrap();
    w.wait(Duration::from_secs(5));
    wait_until("rest-server dying with the wrapper", Duration::from_secs(5), || !alive(server));
    assert!(mounted_at(&target).is_some(), "nobody unmounted it");

    // Something still uses the disk: the next run must not take it away.
    let holder = Command::new("sleep").arg("60").current_dir(&target).spawn().unwrap();
    struct Kill(Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut holder = Kill(holder);
    wait_until("the holder in the mount", Duration::from_secs(5), || {
        fs::read_link(format!("/proc/{}/cwd", holder.0.id())).is_ok_and(|c| c == target)
    });
    fs::remove_dir_all(&standin.dir).unwrap();
    fs::create_dir(&standin.dir).unwrap();
    let exit0 = [("MNT_SOURCE", source.as_str()), ("MNT_TARGET", target.to_str().unwrap()), ("STANDIN_EXIT", "0")];
    let (code, log) = Wrapper::start(&tmp, &standin, &exit0, &args).finish();
    assert_eq!(code, 1, "{log}");
    assert!(log.contains("and in use (by pid") && log.contains("sleep"), "{log}");
    assert!(!standin.started(), "{log}");
    assert!(mounted_at(&target).is_some(), "left mounted under its user: {log}");
    assert!(holder.0.try_wait().unwrap().is_none());

    // Once nobody uses it, the next run takes it over.
    let _ = holder.0.kill();
    let _ = holder.0.wait();
    let (code, log) = Wrapper::start(&tmp, &standin, &exit0, &args).finish();
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("already mounted"), "{log}");
    assert!(mounted_at(&target).is_none(), "{log}");
    assert_written_to_disk(lo.path(), &target, "restic");
}

#[test]
fn a_source_mounted_elsewhere_is_refused() {
    if !usable() {
        return;
    }
    let _s = serial();
    let tmp = TempDir::new("elsewhere");
    let standin = Standin::new(&tmp);
    let (_img, lo, uuid) = ext4(&tmp, "disk.img");
    // As the SD card's /perm partition is mounted when MNT_SOURCE names it.
    let perm = tmp.subdir("perm");
    let m = mount::mount(&MountSpec::new(lo.path().display().to_string(), &perm)).unwrap();
    let perm_mount = MountGuard::from(&m);
    let target = tmp.subdir("mnt");
    let _cleanup = MountGuard::new(&target);
    let path = target.join("restic");
    let source = format!("UUID={uuid}");
    for source in [source.as_str(), lo.path().to_str().unwrap()] {
        let vars = [("MNT_SOURCE", source), ("MNT_TARGET", target.to_str().unwrap())];
        let (code, log) = Wrapper::start(&tmp, &standin, &vars, &["--path", path.to_str().unwrap()]).finish();
        assert_eq!(code, 125, "{log}");
        assert!(log.contains(&format!("is already mounted on {}", perm.display())), "{log}");
        assert!(!standin.started(), "{log}");
        assert!(mounted_at(&target).is_none(), "{log}");
        assert!(mounted_at(&perm).is_some(), "left alone: {log}");
    }
    perm_mount.unmount().unwrap();
}

#[test]
fn a_missing_path_is_judged_by_its_nearest_folder() {
    if !usable() {
        return;
    }
    let _s = serial();
    let tmp = TempDir::new("nearest");
    let (_img, lo, _uuid) = ext4(&tmp, "disk.img");
    let target = tmp.subdir("mnt");
    let m = mount::mount(&MountSpec::new(lo.path().display().to_string(), &target)).unwrap();
    let disk = MountGuard::from(&m);
    // Another filesystem inside the disk's folder tree.
    fs::create_dir(target.join("sub")).unwrap();
    let t = mount::mount(&MountSpec::new("tmpfs", target.join("sub")).fstype("tmpfs")).unwrap();
    let other = MountGuard::from(&t);
    for ok in ["restic", "new/deeper/restic", "sub/../restic", "new/../restic"] {
        let p = target.join(ok);
        assert_eq!(krazybox::restic_rest_server::check_path(&p, &target, true), Ok(()), "{ok}");
    }
    for bad in ["sub/restic", "sub", "new/../sub/restic", "sub/new/deeper"] {
        let p = target.join(bad);
        let e = krazybox::restic_rest_server::check_path(&p, &target, true).unwrap_err();
        assert_eq!(e.kind, krazybox::restic_rest_server::Kind::Config, "{bad}: {e}");
        assert!(e.message.contains("is on another filesystem"), "{bad}: {e}");
    }
    other.unmount().unwrap();
    disk.unmount().unwrap();
}

#[test]
fn a_pulled_disk_stops_rest_server_and_the_disk_is_served_again_under_a_new_name() {
    if !usable() || !have("unshare") {
        eprintln!("skipped: needs unshare");
        return;
    }
    let _s = serial();
    let tmp = TempDir::new("pulled");
    let standin = Standin::new(&tmp);
    let (img, lo, uuid) = ext4(&tmp, "disk.img");
    let target = tmp.subdir("mnt");
    let _cleanup = MountGuard::new(&target);
    let source = format!("UUID={uuid}");
    let path = target.join("restic");
    let args = ["--path", path.to_str().unwrap()];
    let vars = [("MNT_SOURCE", source.as_str()), ("MNT_TARGET", target.to_str().unwrap())];
    let mut w = Wrapper::start_in(&tmp, &standin, &vars, &args, &tmp.0, Launch::OwnSys);
    let server = standin.wait_ready(&mut w);
    let name = lo.path().file_name().unwrap().to_str().unwrap().to_string();
    let table = mountinfo::parse(&fs::read(format!("/proc/{}/mountinfo", w.pid())).unwrap()).unwrap();
    assert!(table.iter().any(|m| m.mount_point == target), "mounted in the wrapper's namespace");

    // The device leaves the wrapper's /sys/class/block, as a pulled USB disk leaves sysfs.
    let pulled = Instant::now();
    fs::remove_file(format!("/proc/{}/root/sys/class/block/{name}", w.pid())).unwrap();
    let status = w.wait(Duration::from_secs(10));
    let took = pulled.elapsed();
    let log = w.stderr();
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(took < Duration::from_secs(5), "noticed and stopped after {took:?}: {log}");
    let rdev = std::os::unix::fs::MetadataExt::rdev(&fs::metadata(lo.path()).unwrap());
    let number = format!("{}:{}", nix::sys::stat::major(rdev), nix::sys::stat::minor(rdev));
    let line = format!("/dev/{name} ({number}) left /sys/class/block: the disk is gone");
    assert!(log.contains(&line), "{line}\n{log}");
    assert!(log.contains(&format!("detached {}", target.display())), "{log}");
    assert_eq!(standin.signals(), ["TERM"], "{log}");
    assert!(!alive(server));
    eprintln!("pulled disk: rest-server stopped and the wrapper exited after {took:?}");

    // The disk comes back under another name while the restarted wrapper waits for it.
    // Once the last user of the detached filesystem is gone, the loop device is free.
    lo.detach().unwrap();
    let bound = format!("/sys/block/{name}/loop/backing_file");
    wait_until("the old device freed", Duration::from_secs(10), || !Path::new(&bound).exists());
    let placeholder = image(&tmp, "placeholder.img", 1, &[]);
    let _taken = LoopGuard::attach(&placeholder, false).unwrap();
    fs::remove_dir_all(&standin.dir).unwrap();
    fs::create_dir(&standin.dir).unwrap();
    let mut w = Wrapper::start(&tmp, &standin, &vars, &args);
    wait_until("the wrapper waiting", Duration::from_secs(10), || w.stderr().contains("waiting up to 30s"));
    let back = LoopGuard::attach(&img, false).unwrap();
    let plugged = Instant::now();
    standin.wait_ready(&mut w);
    let took = plugged.elapsed();
    assert_ne!(back.path().file_name().unwrap().to_str(), Some(name.as_str()), "a new name");
    assert!(took < Duration::from_secs(5), "served again {took:?} after the disk came back");
    eprintln!("disk back as {}: rest-server started after {took:?}", back.path().display());
    nix::sys::signal::kill(w.pid(), nix::sys::signal::Signal::SIGTERM).unwrap();
    let (code, log) = w.finish();
    assert_eq!(code, 0, "{log}");
    assert!(mounted_at(&target).is_none(), "{log}");
}

#[test]
fn a_pulled_disk_under_a_rest_server_that_ignores_sigterm() {
    if !usable() || !have("unshare") {
        eprintln!("skipped: needs unshare");
        return;
    }
    let _s = serial();
    let tmp = TempDir::new("pulledkill");
    let standin = Standin::new(&tmp);
    let (_img, lo, uuid) = ext4(&tmp, "disk.img");
    let target = tmp.subdir("mnt");
    let _cleanup = MountGuard::new(&target);
    let source = format!("UUID={uuid}");
    let path = target.join("restic");
    let vars =
        [("MNT_SOURCE", source.as_str()), ("MNT_TARGET", target.to_str().unwrap()), ("STANDIN_IGNORE_TERM", "1")];
    let mut w = Wrapper::start_in(&tmp, &standin, &vars, &["--path", path.to_str().unwrap()], &tmp.0, Launch::OwnSys);
    let server = standin.wait_ready(&mut w);
    let name = lo.path().file_name().unwrap().to_str().unwrap().to_string();
    let pulled = Instant::now();
    fs::remove_file(format!("/proc/{}/root/sys/class/block/{name}", w.pid())).unwrap();
    let status = w.wait(Duration::from_secs(20));
    let took = pulled.elapsed();
    let log = w.stderr();
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(log.contains("did not stop within 5s: killing it"), "{log}");
    assert!(log.contains("was killed by SIGKILL"), "{log}");
    assert!(took >= Duration::from_secs(5) && took < Duration::from_secs(9), "{took:?}: {log}");
    assert!(!alive(server));
    // Let the detached filesystem go before the loop device does.
    lo.detach().unwrap();
}

/// The wrapper tells a pulled disk to the `--alert-url` receivers itself
/// (rest-server is being stopped), and logs the URL without its secrets.
#[cfg(feature = "rest-server")]
#[test]
fn a_pulled_disk_is_told_to_the_alert_receivers() {
    if !usable() || !have("unshare") {
        eprintln!("skipped: needs unshare");
        return;
    }
    let _s = serial();
    let tmp = TempDir::new("pulledalert");
    let standin = Standin::new(&tmp);
    let (_img, lo, uuid) = ext4(&tmp, "disk.img");
    let target = tmp.subdir("mnt");
    let _cleanup = MountGuard::new(&target);
    let receiver = crate::rest_server_support::Receiver::start();
    let url = format!("http://owner:s3cret@{}/backup-topic", receiver.addr);
    let source = format!("UUID={uuid}");
    let path = target.join("restic");
    let args = ["--path", path.to_str().unwrap(), "--alert-url", &url];
    let vars = [("MNT_SOURCE", source.as_str()), ("MNT_TARGET", target.to_str().unwrap())];
    let mut w = Wrapper::start_in(&tmp, &standin, &vars, &args, &tmp.0, Launch::OwnSys);
    standin.wait_ready(&mut w);
    assert!(standin.argv().contains(&url), "rest-server gets the URL as it was given: {:?}", standin.argv());
    let name = lo.path().file_name().unwrap().to_str().unwrap().to_string();
    let pulled = Instant::now();
    fs::remove_file(format!("/proc/{}/root/sys/class/block/{name}", w.pid())).unwrap();
    let m = receiver.wait_for(&format!("disk-pulled /dev/{name}: the backup disk is gone"), Duration::from_secs(10));
    eprintln!("{} (told {:?} after the pull)", m.title(), pulled.elapsed());
    assert!(m.body.contains(&source), "{}", m.body);
    assert_eq!(m.target, "/backup-topic");
    let status = w.wait(Duration::from_secs(20));
    let log = w.stderr();
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(log.contains(&format!("--alert-url http://{}/…", receiver.addr)), "{log}");
    assert!(!log.contains("s3cret") && !log.contains("backup-topic"), "{log}");
    assert_eq!(receiver.count("disk-pulled"), 1);
    lo.detach().unwrap();
}

/// A root file system of its own, as gokrazy's: a tmpfs (in a private mount
/// namespace) with the host's programs and the test's folder bound in, a
/// `/perm` folder on it that is either a mount point (a tmpfs, as a formatted
/// partition gives) or not (gokrazy found no file system), `SETUP`'s folders
/// made, and the root remounted read-only (gokrazy's squashfs) or not.
const OWN_ROOT: &str = r#"
set -e
new=$1 root_mode=$2 perm=$3; shift 3
mount -t tmpfs krazybox-test-root "$new"
for d in bin sbin lib lib32 lib64 libx32 usr etc proc sys dev "$KEEP_1" "$KEEP_2"; do
  d=${d#/}
  if [ -L "/$d" ]; then ln -s "$(readlink "/$d")" "$new/$d"
  elif [ -d "/$d" ]; then mkdir -p "$new/$d"; mount --bind "/$d" "$new/$d"
  fi
done
mkdir -p "$new/perm"
for d in $SETUP; do mkdir -p "$new/$d"; done
[ "$perm" = mounted ] && mount -t tmpfs krazybox-test-perm "$new/perm"
[ "$root_mode" = ro ] && mount -o remount,ro "$new"
cd "$new"
exec chroot "$new" "$@"
"#;

/// Runs the wrapper in [`OWN_ROOT`] with a clean environment plus `vars`
/// (`SETUP` among them names folders to make), `--path` in `MNT_TARGET`:
/// (exit status, stderr).
fn in_own_root(tmp: &TempDir, standin: &Standin, root_mode: &str, perm: &str, vars: &[(&str, &str)]) -> (i32, String) {
    let link = tmp.join("restic-rest-server");
    if !link.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_krazybox"), &link).unwrap();
    }
    let new_root = tmp.subdir(&format!("root-{root_mode}-{perm}"));
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_krazybox")).parent().unwrap();
    let log = tmp.join("own-root.log");
    let target = vars.iter().find(|(k, _)| *k == "MNT_TARGET").expect("MNT_TARGET").1;
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "sh", "-c", OWN_ROOT, "sh"])
        .arg(&new_root)
        .args([root_mode, perm])
        .arg(&link)
        .args(["--path", &format!("{target}/restic")])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("KEEP_1", tmp.path())
        .env("KEEP_2", bin_dir)
        .env("STANDIN_DIR", &standin.dir)
        .env("REST_SERVER", &standin.script)
        .env("MNT_SOURCE", "LABEL=krazybox-no-such-disk")
        .env("MNT_WAIT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&log).unwrap());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let status = cmd.status().unwrap();
    (status.code().unwrap_or(-1), fs::read_to_string(&log).unwrap_or_default())
}

/// gokrazy's `/perm` without a file system (`gok overwrite --full` leaves it
/// unformatted) will not fix itself: exit 125 with what to do, never a
/// restart every second. Told by a read-only parent, or by `/perm` not being
/// a mount point while `HOME` is the one gokrazy's supervisor sets.
#[test]
fn an_unformatted_perm_is_a_configuration_error() {
    if !usable() || !have("unshare") || !have("chroot") {
        return;
    }
    let tmp = TempDir::new("perm");
    let standin = Standin::new(&tmp);
    let gokrazy = ("HOME", "/perm/home/restic-rest-server");
    let other = ("HOME", "/");
    let perm_target = ("MNT_TARGET", "/perm/rest-server");
    let one_line = |code: i32, log: &str, want: &str| {
        assert_eq!(code, 125, "{log}");
        assert_eq!(log.lines().count(), 1, "{log}");
        assert!(log.starts_with("restic-rest-server: MNT_TARGET /perm/rest-server cannot be made: "), "{log}");
        assert!(log.contains(want), "{log}");
        assert!(log.contains("format the /perm partition (gokrazy's mkfs package, or mkfs.ext4"), "{log}");
        assert!(log.contains("or choose another MNT_TARGET"), "{log}");
    };
    // gokrazy's shape: a read-only root, /perm a folder of it. Whoever started us.
    for home in [gokrazy, other] {
        let (code, log) = in_own_root(&tmp, &standin, "ro", "folder", &[home, perm_target]);
        one_line(code, &log, "nothing is mounted on /perm and /perm is read-only");
    }
    // A writable root: only gokrazy's HOME says that /perm must be a mount.
    let (code, log) = in_own_root(&tmp, &standin, "rw", "folder", &[gokrazy, perm_target]);
    one_line(code, &log, "nothing is mounted on /perm (its partition");
    let (code, log) = in_own_root(&tmp, &standin, "rw", "folder", &[other, perm_target]);
    assert_eq!(code, 1, "another init may mount /perm later: {log}");
    assert!(log.contains("created mount point /perm/rest-server") && log.contains("gave up after 0s"), "{log}");
    // /perm mounted: the mount point is made and the disk waited for.
    let (code, log) = in_own_root(&tmp, &standin, "rw", "mounted", &[gokrazy, perm_target]);
    assert_eq!(code, 1, "{log}");
    assert!(log.contains("created mount point /perm/rest-server") && log.contains("gave up after 0s"), "{log}");
    // Elsewhere on a read-only root: a mount point that exists takes the
    // disk, one that would have to be made cannot be.
    let mnt = [("MNT_TARGET", "/mnt/disk"), ("SETUP", "mnt/disk"), gokrazy];
    let (code, log) = in_own_root(&tmp, &standin, "ro", "mounted", &mnt);
    assert_eq!(code, 1, "{log}");
    assert!(log.contains("gave up after 0s") && !log.contains("created mount point"), "{log}");
    let mnt = [("MNT_TARGET", "/mnt/disk"), ("SETUP", "mnt"), gokrazy];
    let (code, log) = in_own_root(&tmp, &standin, "ro", "mounted", &mnt);
    assert_eq!(code, 125, "{log}");
    assert!(log.contains("MNT_TARGET /mnt/disk cannot be made: /mnt is on a read-only file system: choose"), "{log}");
    assert!(!standin.started());
}

/// The README and the pages in docs/ quote the program's log lines: the module
/// each names (the part in brackets) must exist, or a rename has made the
/// quotes stale.
#[test]
fn the_docs_log_quotes_name_modules_that_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![root.join("README.md")];
    for entry in fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    let mut quoted = 0;
    for page in &pages {
        let text = fs::read_to_string(page).unwrap();
        for line in text.lines() {
            let Some(rest) = ["INFO  [", "WARN  [", "ERROR ["].iter().find_map(|p| line.strip_prefix(p)) else {
                continue;
            };
            let module = rest.split(']').next().unwrap();
            let path = module.strip_prefix("krazybox::").unwrap_or_else(|| panic!("not a krazybox module: {line}"));
            let file = root.join("src").join(path.replace("::", "/"));
            assert!(
                file.with_extension("rs").is_file() || file.join("mod.rs").is_file(),
                "{} quotes a log line of {module}, which does not exist: {line}",
                page.display()
            );
            quoted += 1;
        }
    }
    assert!(quoted >= 8, "the docs quote {quoted} log lines");
}
