//! The prober and the `blkid` applet against util-linux's blkid, in one test
//! binary: [`diff`] and [`util_linux`] compare the applet's output on images
//! made by the real tools and on util-linux's own test images, [`filesystems`]
//! and [`volumes`] the probers' tags, and [`fuzz`] feeds the prober damaged
//! images. `cargo test --test blkid diff::` runs one of them.

mod support;

use std::process::Command;

#[path = "blkid/diff.rs"]
mod diff;
#[path = "blkid/filesystems.rs"]
mod filesystems;
#[path = "blkid/fuzz.rs"]
mod fuzz;
#[path = "blkid/util_linux.rs"]
mod util_linux;
#[path = "blkid/volumes.rs"]
mod volumes;

/// What one program printed and returned, for comparing two programs.
#[derive(PartialEq, Eq)]
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    pub status: Option<i32>,
}

impl Run {
    /// Run `cmd` in the C locale with no input and keep what it did.
    pub fn of(mut cmd: Command) -> Run {
        let out = cmd.env("LC_ALL", "C").stdin(std::process::Stdio::null()).output();
        let out = out.unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
        Run {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            status: out.status.code(),
        }
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "    status {:?}", self.status)?;
        for l in self.stdout.lines() {
            writeln!(f, "    out| {l}")?;
        }
        for l in self.stderr.lines() {
            writeln!(f, "    err| {l}")?;
        }
        Ok(())
    }
}
