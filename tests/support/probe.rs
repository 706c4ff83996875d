//! Helpers for tests that compare the prober with util-linux's blkid on real
//! images: the prober's unit tests (src/lib.rs declares this file as
//! `crate::support::probe`).
use krazybox::probe::{
    escape_value, probe_path, run_one, Ctx, Magic, Medium, Options, Probed, Prober, Reader, EXPORT_SPECIAL,
};
use std::path::Path;
use std::process::Command;

pub const BLKID: &str = "/usr/sbin/blkid";

/// Tags as (name, value) pairs.
pub type Pairs = Vec<(&'static str, Vec<u8>)>;

/// One probe function run over `img` in memory with `magic` found: the
/// tags it set when it matched, `None` when it did not.
pub fn probe_bytes(
    probe: fn(&mut Ctx) -> std::io::Result<bool>,
    magic: Option<&'static Magic>,
    img: Vec<u8>,
) -> std::io::Result<Option<Pairs>> {
    let mut r = Reader::from_bytes(img);
    let mut ctx = Ctx::new(&mut r, magic);
    let matched = probe(&mut ctx)?;
    Ok(matched.then(|| ctx.into_tags().into_iter().map(|t| (t.name, t.value)).collect()))
}

/// `prober` run over `img` in memory as the chain runs it (minimum size and
/// magics first): the tags it set when it matched, `None` when it did not.
pub fn probe_prober(prober: &'static Prober, img: Vec<u8>) -> std::io::Result<Option<Pairs>> {
    let mut r = Reader::from_bytes(img);
    let found = run_one(&mut r, Medium::default(), prober)?;
    Ok(found.map(|f| f.tags.into_iter().map(|t| (t.name, t.value)).collect()))
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
