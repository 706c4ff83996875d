//! Helpers for tests that compare the prober with util-linux on real images.
use super::{escape_value, probe_path, Options, Probed, EXPORT_SPECIAL};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

pub const BLKID: &str = "/usr/sbin/blkid";

/// Tags as (name, value) pairs.
pub type Pairs = Vec<(&'static str, Vec<u8>)>;

/// One probe function run over `img` in memory with `magic` found: the
/// tags it set when it matched, `None` when it did not.
pub fn probe_bytes(
    probe: fn(&mut super::Ctx) -> std::io::Result<bool>,
    magic: Option<&'static super::Magic>,
    img: Vec<u8>,
) -> std::io::Result<Option<Pairs>> {
    let mut r = super::Reader::from_bytes(img);
    let mut ctx = super::Ctx::new(&mut r, magic);
    let matched = probe(&mut ctx)?;
    Ok(matched.then(|| ctx.into_tags().into_iter().map(|t| (t.name, t.value)).collect()))
}

/// A fresh directory, removed with everything in it when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("krazybox-{tag}-{}-{n}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether `tool` can be run (found in PATH or the sbin directories).
pub fn have(tool: &str) -> bool {
    ["/usr/sbin", "/sbin", "/usr/bin", "/bin"].iter().any(|d| Path::new(d).join(tool).exists())
}

/// Run a command, panicking with its stderr when it fails.
pub fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd).args(args).output().unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(out.status.success(), "{cmd} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// An image file of `size` bytes, all zero.
pub fn zero_image(path: &Path, size: u64) {
    let f = std::fs::File::create(path).expect("create image");
    f.set_len(size).expect("size image");
}

/// `blkid -p -o export` as lines after `DEVNAME`, or `None` when blkid found
/// nothing or an ambivalent result (exit status 2 or 8).
pub fn blkid_export(path: &Path, extra: &[&str]) -> Option<Vec<Vec<u8>>> {
    let out = Command::new(BLKID).args(["-p", "-o", "export"]).args(extra).arg(path).output().expect("run blkid");
    if !out.status.success() {
        return None;
    }
    let lines: Vec<Vec<u8>> = out
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty() && !l.starts_with(b"DEVNAME="))
        .map(<[u8]>::to_vec)
        .collect();
    Some(lines)
}

/// Our result in the same form as [`blkid_export`].
pub fn our_export(path: &Path, opts: &Options) -> Option<Vec<Vec<u8>>> {
    match probe_path(path, opts).expect("probe") {
        Probed::Tags(tags) => Some(
            tags.iter()
                .map(|t| {
                    let mut l = t.name.as_bytes().to_vec();
                    l.push(b'=');
                    l.extend(escape_value(&t.value, EXPORT_SPECIAL));
                    l
                })
                .collect(),
        ),
        Probed::Nothing | Probed::Ambivalent(_) => None,
    }
}

/// Assert that krazybox and util-linux blkid report the same tags for `path`.
pub fn assert_same_as_blkid(path: &Path) {
    let want = blkid_export(path, &[]);
    let got = our_export(path, &Options::default());
    let show = |v: &Option<Vec<Vec<u8>>>| {
        v.as_ref().map(|l| l.iter().map(|x| String::from_utf8_lossy(x).into_owned()).collect::<Vec<_>>())
    };
    assert!(want.is_some(), "blkid found nothing on {}", path.display());
    assert_eq!(show(&got), show(&want), "{}", path.display());
}

/// A loop device over an image, with its partitions made visible
/// (`losetup -P` then `partx -a`), detached when dropped.
pub struct LoopDev(pub PathBuf);

impl LoopDev {
    pub fn attach(img: &Path) -> LoopDev {
        let out = Command::new("losetup").args(["-f", "--show", "-P"]).arg(img).output().expect("run losetup");
        assert!(out.status.success(), "losetup: {}", String::from_utf8_lossy(&out.stderr));
        let dev = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let guard = LoopDev(dev);
        // partx -a fails harmlessly when the kernel already added them.
        let _ = Command::new("partx").arg("-a").arg(&guard.0).output();
        let _ = Command::new("udevadm").args(["settle", "-t", "5"]).output();
        guard
    }

    /// The node of partition `n`, e.g. `/dev/loop3p1`.
    pub fn part(&self, n: u32) -> PathBuf {
        PathBuf::from(format!("{}p{n}", self.0.display()))
    }
}

impl Drop for LoopDev {
    fn drop(&mut self) {
        let _ = Command::new("partx").arg("-d").arg(&self.0).output();
        let _ = Command::new("losetup").arg("-d").arg(&self.0).output();
    }
}

/// `prober` run over `img` in memory as the chain runs it (minimum size and
/// magics first): the tags it set when it matched, `None` when it did not.
pub fn probe_prober(prober: &'static super::Prober, img: Vec<u8>) -> std::io::Result<Option<Pairs>> {
    let mut r = super::Reader::from_bytes(img);
    let found = super::chain::run_one(&mut r, super::Medium::default(), prober)?;
    Ok(found.map(|f| f.tags.into_iter().map(|t| (t.name, t.value)).collect()))
}
