//! A big repository on a slow, cold disk: an ext4 image on a loop device whose
//! reads the kernel throttles (cgroup v1 blkio, the server's threads in the
//! cgroup), caches dropped. A listing that takes many times the idle timeout
//! completes, streamed from its first folder on; a client that hangs up stops
//! the walk. The engine runs in-process with a two-second idle timeout (the
//! applet uses 60 s), in a process of its own ([`in_own_process`]): the test
//! stops its server with SIGTERM to that process. Needs root, cgroup v1's
//! blkio hierarchy, mkfs.ext4 and losetup; says what is missing and passes
//! nothing off otherwise.

use crate::rest_server_support::*;
use crate::support::{self, serial, Loop, LoopOpts};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const CGROUPS: &str = "/sys/fs/cgroup/blkio";
const OBJECTS: u64 = 4000;
/// Reads a second the loop device serves to the server.
const IOPS: u32 = 100;
const IDLE: Duration = Duration::from_secs(2);

/// A blkio cgroup of its own, removed when dropped (its threads moved back to the root first).
struct Cgroup(PathBuf);

impl Cgroup {
    fn new() -> Cgroup {
        let p = Path::new(CGROUPS).join(format!("krazybox-test-{}", std::process::id()));
        std::fs::create_dir(&p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
        Cgroup(p)
    }

    fn throttle(&self, dev: &str, iops: u32) {
        std::fs::write(self.0.join("blkio.throttle.read_iops_device"), format!("{dev} {iops}")).unwrap();
    }

    /// Read requests of `dev` so far.
    fn reads(&self, dev: &str) -> u64 {
        let stats = std::fs::read_to_string(self.0.join("blkio.throttle.io_serviced")).unwrap();
        stats.lines().find_map(|l| l.strip_prefix(&format!("{dev} Read "))).map_or(0, |n| n.trim().parse().unwrap())
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        for _ in 0..50 {
            let tasks = std::fs::read_to_string(self.0.join("tasks")).unwrap_or_default();
            for t in tasks.split_whitespace() {
                let _ = std::fs::write(Path::new(CGROUPS).join("tasks"), t);
            }
            if std::fs::remove_dir(&self.0).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("could not remove {}", self.0.display());
    }
}

/// The server's thread; dropping it stops the server (SIGTERM to this process,
/// which the server's handler takes) and waits for it.
struct InProcess(Option<std::thread::JoinHandle<anyhow::Result<()>>>);

impl Drop for InProcess {
    fn drop(&mut self) {
        let Some(t) = self.0.take() else { return };
        nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGTERM).unwrap();
        let start = Instant::now();
        while !t.is_finished() && start.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(50));
        }
        if t.is_finished() {
            let r = t.join().expect("the server thread panicked");
            if !std::thread::panicking() {
                r.expect("the server failed");
            }
        } else if !std::thread::panicking() {
            panic!("the server did not stop within 30 s of SIGTERM");
        }
    }
}

/// A mount, unmounted when dropped.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn drop_caches() {
    nix::unistd::sync();
    std::fs::write("/proc/sys/vm/drop_caches", "3").unwrap();
}

/// A response read until the server closed, with when its first byte came.
fn timed_get(sock: &Path, path: &str, headers: &[(&str, &str)]) -> (Resp, Duration, Duration) {
    let mut c = UnixStream::connect(sock).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(300))).unwrap();
    let start = Instant::now();
    c.write_all(&request_bytes("GET", path, headers, b"")).unwrap();
    let (mut raw, mut first) = (Vec::new(), None);
    let mut buf = [0u8; 65536];
    loop {
        match c.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                first.get_or_insert(start.elapsed());
                raw.extend_from_slice(&buf[..n]);
            }
        }
    }
    let total = start.elapsed();
    assert!(!raw.is_empty(), "GET {path}: the server closed without an answer after {total:?}");
    (parse(&raw, false), first.unwrap(), total)
}

#[test]
fn a_listing_slower_than_the_idle_timeout_completes() {
    if !in_own_process("slow_disk::a_listing_slower_than_the_idle_timeout_completes") {
        return;
    }
    if !nix::unistd::geteuid().is_root() || !Path::new(CGROUPS).join("cgroup.procs").exists() {
        eprintln!("skipped: needs root and cgroup v1's blkio hierarchy at {CGROUPS}");
        return;
    }
    if !support::need(&["mkfs.ext4", "losetup", "mount", "umount"]) {
        return;
    }
    let dir = TempDir::new("slowdisk");
    // The repository: OBJECTS packs in data/xx/, sparse, restic's layout.
    let tree = dir.subdir("tree");
    for kind in ["index", "keys", "locks", "snapshots"] {
        std::fs::create_dir_all(tree.join(kind)).unwrap();
    }
    for i in 0..256 {
        std::fs::create_dir_all(tree.join(format!("data/{i:02x}"))).unwrap();
    }
    for i in 0..OBJECTS {
        let id = sha256_hex(&i.to_le_bytes());
        let f = std::fs::File::create(tree.join("data").join(&id[..2]).join(&id)).unwrap();
        f.set_len(4 << 20).unwrap();
    }
    let img = dir.sparse("disk.img", 256 << 20);
    let inodes = (OBJECTS + 2000).to_string();
    support::run("mkfs.ext4", &["-q", "-F", "-N", &inodes, "-d", tree.to_str().unwrap(), img.to_str().unwrap()]);

    let serial = serial();
    let lo = Loop::attach(&serial, &img, LoopOpts::default());
    let dev = std::fs::read_to_string(Path::new("/sys/block").join(lo.path().file_name().unwrap()).join("dev"))
        .unwrap()
        .trim()
        .to_string();
    let mnt = dir.subdir("mnt");
    support::run("mount", &["-o", "noatime", lo.as_str(), mnt.to_str().unwrap()]);
    let mounted = Mounted(mnt.clone());
    let cgroup = Cgroup::new();

    // The server in its thread, which joins the cgroup first. --max-size makes
    // it count the tree before it listens: no walk at start runs beside the test.
    let sock = dir.join("s.sock");
    let mut cfg = krazybox::rest_server::Config::new(mnt.clone());
    cfg.htpasswd = None;
    cfg.listen = krazybox::rest_server::Listen::Unix(sock.clone());
    cfg.idle_timeout = IDLE;
    cfg.grace = Duration::from_secs(1);
    cfg.max_size = Some(1 << 40);
    // A tree never scrubbed is scrubbed at once: its reads would be counted
    // with the walk's.
    cfg.scrub_interval = None;
    let cg = cgroup.0.clone();
    // The threads it starts (the blocking pool) are in the cgroup too; the test's are not.
    let server = InProcess(Some(std::thread::spawn(move || {
        std::fs::write(cg.join("tasks"), nix::unistd::gettid().to_string()).unwrap();
        krazybox::rest_server::serve(cfg)
    })));
    let start = Instant::now();
    while !sock.exists() {
        assert!(start.elapsed() < Duration::from_secs(60), "server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop_caches();
    cgroup.throttle(&dev, IOPS);

    // Cold and slow: many idle timeouts long, and whole.
    let v2 = [("Accept", "application/vnd.x.restic.rest.v2")];
    let reads = cgroup.reads(&dev);
    let (r, first, total) = timed_get(&sock, "/data/", &v2);
    let reads = cgroup.reads(&dev) - reads;
    eprintln!(
        "cold listing of {OBJECTS} objects at {IOPS} reads/s: {total:?}, first byte after {first:?}, {reads} reads"
    );
    assert_eq!(r.status, 200);
    assert!(r.complete, "the listing was cut after {total:?}");
    assert_eq!(r.text().matches("\"name\":").count() as u64, OBJECTS);
    assert!(total > IDLE * 3, "the listing took {total:?}: not slow enough to show anything (raise OBJECTS)");
    assert!(first < total / 2, "streamed: the first bytes after {first:?} of {total:?}");

    // A client that hangs up stops the walk: the reads stop.
    drop_caches();
    let mut c = UnixStream::connect(&sock).unwrap();
    c.write_all(&request_bytes("GET", "/data/", &v2, b"")).unwrap();
    let mut head = [0u8; 256];
    c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    assert!(c.read(&mut head).unwrap() > 0);
    drop(c);
    std::thread::sleep(Duration::from_secs(1));
    let after = cgroup.reads(&dev);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(cgroup.reads(&dev), after, "the walk went on reading after the client hung up");

    drop(server);
    drop(cgroup);
    drop(mounted);
    drop(lo);
}
