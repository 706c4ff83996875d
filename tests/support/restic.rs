//! The real restic client (Debian's restic 0.14) for the rest-server tests:
//! its own HOME and cache folder, no cache, a fixed password.

use crate::rest_server_support::noise;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const PASSWORD: &str = "correct horse";

pub struct Restic {
    home: PathBuf,
    /// Words given to every run (`--cacert FILE`, `--no-lock`).
    pub extra: Vec<String>,
}

impl Restic {
    /// A client whose HOME is `dir/NAME`.
    pub fn new(dir: &Path, name: &str) -> Restic {
        let home = dir.join(name);
        std::fs::create_dir_all(&home).unwrap();
        Restic { home, extra: Vec::new() }
    }

    pub fn command(&self, repo: &str, args: &[&str]) -> Command {
        let mut c = Command::new("restic");
        c.args(["--no-cache", "-r", repo])
            .args(&self.extra)
            .args(args)
            .env("RESTIC_PASSWORD", PASSWORD)
            .env("RESTIC_FROM_PASSWORD", PASSWORD)
            .env("HOME", &self.home)
            .env("XDG_CACHE_HOME", self.home.join("cache"))
            .env_remove("RESTIC_REPOSITORY")
            .env_remove("RESTIC_FROM_REPOSITORY");
        c
    }

    pub fn run(&self, repo: &str, args: &[&str]) -> Output {
        self.command(repo, args).output().expect("running restic")
    }

    pub fn ok(&self, repo: &str, args: &[&str]) -> String {
        let out = self.run(repo, args);
        assert!(
            out.status.success(),
            "restic {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The snapshots' full ids, sorted (`tag`: only those with it).
    pub fn snapshot_ids(&self, repo: &str, tag: Option<&str>) -> Vec<String> {
        let mut args = vec!["snapshots", "--json"];
        if let Some(t) = tag {
            args.extend(["--tag", t]);
        }
        let json = self.ok(repo, &args);
        let mut ids: Vec<String> = json
            .split("\"id\":\"")
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .filter(|id| id.len() == 64)
            .map(String::from)
            .collect();
        ids.sort();
        ids
    }

    pub fn snapshot_count(&self, repo: &str) -> usize {
        self.snapshot_ids(repo, None).len()
    }

    /// Back up `src` with `tag`; the new snapshot's full id.
    pub fn backup(&self, repo: &str, src: &Path, tag: &str) -> Result<String, String> {
        let out = self.run(repo, &["backup", "--json", "--tag", tag, src.to_str().unwrap()]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
        }
        let id = stdout.split("\"snapshot_id\":\"").nth(1).and_then(|s| s.split('"').next()).unwrap_or_default();
        // The summary carries the short id in 0.14; find the full one.
        let full = self.snapshot_ids(repo, Some(tag)).into_iter().find(|f| f.starts_with(id));
        full.ok_or_else(|| format!("no snapshot {id:?} after the backup: {stdout}"))
    }
}

/// A tree of files of many sizes (empty, small, several MiB), some alike.
pub fn make_tree(root: &Path, seed: u64) {
    std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
    std::fs::write(root.join("empty"), b"").unwrap();
    std::fs::write(root.join("big"), noise(seed, 6 << 20)).unwrap();
    for i in 0..40u64 {
        let dir = if i % 3 == 0 { root.join("sub/deeper") } else { root.join("sub") };
        std::fs::write(dir.join(format!("f{i}")), noise(seed + i, (i as usize) * 3001)).unwrap();
    }
    std::fs::write(root.join("sub/copy-of-big"), noise(seed, 6 << 20)).unwrap();
}

/// A small tree: `files` files of up to 64 KiB.
pub fn small_tree(root: &Path, seed: u64, files: u64) {
    std::fs::create_dir_all(root).unwrap();
    for i in 0..files {
        std::fs::write(root.join(format!("f{i}")), noise(seed * 1000 + i, (i as usize * 4099) % 65536)).unwrap();
    }
}

/// Whether two trees hold the same files (diff -r).
pub fn same_tree(a: &Path, b: &Path) {
    let out = Command::new("diff").arg("-r").arg(a).arg(b).output().unwrap();
    assert!(out.status.success(), "restored tree differs: {}", String::from_utf8_lossy(&out.stdout));
}
