//! The appliance end to end on one machine: an ext4 image on a loop device,
//! the real binary started as `restic-rest-server` with the disk named by
//! UUID and no `REST_SERVER`, so that it mounts the disk and runs its own
//! `rest-server` applet there, and Debian's restic 0.14 backing up to it,
//! checking and restoring. Then SIGTERM: exit status 0, the disk unmounted,
//! and the repository found on the disk when it is mounted again, not in the
//! folder underneath the mount point. Needs root, loop devices, mkfs.ext4,
//! util-linux blkid and mount, and restic. Every loop device, mount and child
//! process is held by a guard, so a failing test leaves nothing behind.

use std::collections::BTreeMap;
use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use crate::rest_server_support::noise;
use krazybox::mount::{mountinfo, LoopGuard, MountGuard};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::support::*;

fn usable() -> bool {
    let ok = nix::unistd::geteuid().is_root()
        && Path::new("/dev/loop-control").exists()
        && ["mkfs.ext4", "/usr/sbin/blkid", "mount", "umount", "restic"].iter().all(|t| have(t));
    if !ok {
        eprintln!("skipped: needs root, loop devices, mkfs.ext4, blkid, mount and restic");
    }
    ok
}

fn checked(what: &str, out: Output) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The wrapper as gokrazy starts it: `argv[0]` is `restic-rest-server`, the
/// environment holds only `PATH` and `vars`. On drop it is stopped as gokrazy
/// would (SIGTERM, then SIGKILL), so that it unmounts before the guards run.
struct Wrapper {
    child: Child,
    log: PathBuf,
}

impl Wrapper {
    fn start(dir: &TempDir, vars: &[(&str, &str)], args: &[&str]) -> Wrapper {
        let log = dir.join("wrapper.log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_krazybox"));
        cmd.arg0("restic-rest-server")
            .args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .envs(vars.iter().copied())
            .current_dir(&dir.0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).unwrap());
        Wrapper { child: cmd.spawn().unwrap(), log }
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }

    fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if let Some(s) = self.exited() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Wrapper {
    fn drop(&mut self) {
        if self.exited().is_none() {
            let _ = kill(self.pid(), Signal::SIGTERM);
            if self.wait(Duration::from_secs(20)).is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }
}

/// restic 0.14 with its own HOME and cache folder, no cache, a fixed password.
struct Restic {
    home: PathBuf,
}

impl Restic {
    fn new(dir: &TempDir) -> Restic {
        let home = dir.join("home");
        fs::create_dir_all(&home).unwrap();
        Restic { home }
    }

    fn ok(&self, repo: &str, args: &[&str]) -> String {
        let out = Command::new("restic")
            .args(["--no-cache", "-r", repo])
            .args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("RESTIC_PASSWORD", "correct horse battery staple")
            .env("HOME", &self.home)
            .env("XDG_CACHE_HOME", self.home.join("cache"))
            .stdin(Stdio::null())
            .output()
            .expect("running restic");
        checked(&format!("restic -r {repo} {args:?}"), out)
    }

    /// The snapshot ids, long form, in the repository's order.
    fn snapshot_ids(&self, repo: &str, extra: &[&str]) -> Vec<String> {
        let json = self.ok(repo, &[extra, &["snapshots", "--json"][..]].concat());
        json.split("\"id\":\"").skip(1).map(|s| s.split('"').next().unwrap().to_string()).collect()
    }
}

/// Files of many sizes (empty, small, several MiB, one repeated), two levels deep.
fn make_tree(root: &Path) {
    fs::create_dir_all(root.join("sub/deeper")).unwrap();
    fs::write(root.join("empty"), b"").unwrap();
    fs::write(root.join("big"), noise(1, 5 << 20)).unwrap();
    fs::write(root.join("sub/copy-of-big"), noise(1, 5 << 20)).unwrap();
    for i in 0..30u64 {
        let dir = if i % 3 == 0 { root.join("sub/deeper") } else { root.join("sub") };
        fs::write(dir.join(format!("f{i}")), noise(100 + i, i as usize * 4099)).unwrap();
    }
}

/// Every regular file below `root` by relative path, with its bytes; folders as `None`.
fn read_tree(root: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let rel = e.path().strip_prefix(root).unwrap().to_path_buf();
            let kind = e.file_type().unwrap();
            if kind.is_dir() {
                todo.push(e.path());
                out.insert(rel, None);
            } else {
                assert!(kind.is_file(), "{} is neither file nor folder", e.path().display());
                out.insert(rel, Some(fs::read(e.path()).unwrap()));
            }
        }
    }
    out
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Mount points and sources from /proc/self/mountinfo, read directly.
fn mount_table() -> Vec<(String, String)> {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let point = left.split(' ').nth(4)?;
            let source = right.split(' ').nth(1)?;
            Some((point.to_string(), source.to_string()))
        })
        .collect()
}

#[test]
fn restic_backs_up_through_the_wrapper_onto_the_disk() {
    if !usable() {
        return;
    }
    let _s = serial();
    let tmp = TempDir::new("wrapper-restic");

    // The disk as the user's laptop prepares it: ext4 with the folder for
    // --path on it, since rest-server never creates that folder.
    let seed = tmp.join("seed");
    fs::create_dir_all(seed.join("restic")).unwrap();
    let img = tmp.join("disk.img");
    fs::File::create(&img).unwrap().set_len(64 << 20).unwrap();
    let mkfs = Command::new("mkfs.ext4").args(["-q", "-F", "-d"]).arg(&seed).arg(&img).output().unwrap();
    checked("mkfs.ext4", mkfs);
    let lo = LoopGuard::attach(&img, false).unwrap();
    let blkid = Command::new("/usr/sbin/blkid").args(["-p", "-o", "value", "-s", "UUID"]).arg(lo.path()).output();
    let uuid = checked("blkid", blkid.unwrap()).trim().to_string();
    assert!(!uuid.is_empty(), "blkid found no UUID on {}", lo.path().display());

    // The wrapper creates the missing mount point itself.
    let target = tmp.join("mnt");
    let _target_guard = MountGuard::new(&target);
    let path = target.join("restic");
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let source = format!("UUID={uuid}");
    let vars = [("MNT_SOURCE", source.as_str()), ("MNT_TARGET", target.to_str().unwrap())];
    let listen = addr.to_string();
    let mut w = Wrapper::start(&tmp, &vars, &["--path", path.to_str().unwrap(), "--listen", &listen, "--no-auth"]);

    let end = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if let Some(status) = w.exited() {
            panic!("wrapper ended early with {status}: {}", w.log());
        }
        assert!(Instant::now() < end, "nothing listens on {addr}: {}", w.log());
        std::thread::sleep(Duration::from_millis(50));
    }

    // Serving from the disk, and by the native applet of this very binary:
    // /user/rest-server does not exist here and REST_SERVER is unset.
    let m = mountinfo::mount_at(&target).unwrap().expect("the disk is mounted while rest-server runs");
    assert_eq!(Path::new(&m.source), lo.path());
    assert_eq!(m.fstype, "ext4");
    let log = w.log();
    assert!(log.contains(&format!("mounted {} (ext4) on {}", lo.path().display(), target.display())), "{log}");
    assert!(!log.contains("/user/rest-server"), "{log}");
    let server: i32 = log
        .split("started rest-server (pid ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no native rest-server started: {log}"));
    let exe = fs::read_link(format!("/proc/{server}/exe")).unwrap();
    assert_eq!(exe, Path::new(env!("CARGO_BIN_EXE_krazybox")).canonicalize().unwrap());
    let cmdline = fs::read(format!("/proc/{server}/cmdline")).unwrap();
    assert_eq!(cmdline.split(|&b| b == 0).next().unwrap(), b"rest-server");
    let status = fs::read_to_string(format!("/proc/{server}/status")).unwrap();
    assert!(status.lines().any(|l| l == format!("PPid:\t{}", w.pid())), "not the wrapper's child: {status}");
    assert!(log.contains(&format!("Starting server on {addr}")), "{log}");

    let restic = Restic::new(&tmp);
    let repo = format!("rest:http://{addr}/repo/");
    let src = tmp.join("src");
    make_tree(&src);
    restic.ok(&repo, &["init"]);
    restic.ok(&repo, &["backup", "-q", src.to_str().unwrap()]);
    let ids = restic.snapshot_ids(&repo, &[]);
    assert_eq!(ids.len(), 1, "{ids:?}");
    restic.ok(&repo, &["check", "--read-data"]);
    let restored = tmp.join("restore");
    restic.ok(&repo, &["restore", "latest", "--target", restored.to_str().unwrap()]);
    let original = read_tree(&src);
    assert_eq!(original.len(), 35);
    assert!(original == read_tree(&restored.join(src.strip_prefix("/").unwrap())), "restored tree differs");

    kill(w.pid(), Signal::SIGTERM).unwrap();
    let status = w.wait(Duration::from_secs(30)).unwrap_or_else(|| panic!("still running: {}", w.log()));
    let log = w.log();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("forwarding SIGTERM to rest-server"), "{log}");
    assert!(log.contains(&format!("unmounted {}", target.display())), "{log}");
    let table = mount_table();
    let lo_text = lo.path().to_str().unwrap();
    assert!(!table.iter().any(|(p, s)| Path::new(p) == target || s == lo_text), "still mounted: {table:?}");
    // Nothing was written to the folder underneath the mount point.
    assert_eq!(fs::read_dir(&target).unwrap().count(), 0, "files under the mount point");

    // The disk mounted again by util-linux holds the very repository restic
    // wrote, readable through restic's local backend.
    let check = tmp.join("check");
    fs::create_dir(&check).unwrap();
    let check_guard = MountGuard::new(&check);
    checked("mount", Command::new("mount").args(["-o", "ro"]).arg(lo.path()).arg(&check).output().unwrap());
    let on_disk = check.join("restic/repo");
    assert!(on_disk.join("config").is_file(), "no restic/repo/config on the disk");
    assert_eq!(fs::read_dir(on_disk.join("keys")).unwrap().count(), 1);
    assert_eq!(restic.snapshot_ids(on_disk.to_str().unwrap(), &["--no-lock"]), ids);
    checked("umount", Command::new("umount").arg(&check).output().unwrap());
    check_guard.disarm();
    // Nothing the wrapper started still holds the disk.
    lo.detach().unwrap();
}
