//! restic-rest-server: mount the backup disk, run rest-server on it, unmount.
//!
//! ```text
//! restic-rest-server [REST-SERVER-ARGS...]
//! ```
//!
//! No options of its own: every argument goes to rest-server untouched.
//! The environment says what to mount (gokrazy's `Environment`, `env.txt`):
//!
//! ```text
//! MNT_SOURCE   /dev/sda1, UUID=..., LABEL=..., PARTUUID=..., PARTLABEL=... or a bare UUID
//! MNT_TARGET   the mount point, e.g. /perm/rest-server
//! MNT_FSTYPE   filesystem type (probed when unset)
//! MNT_DATA     mount options as for mount -o (noatime,compress=zstd,...)
//! MNT_WAIT     seconds to wait for the disk to appear (default 30)
//! REST_SERVER  program to run (default /user/rest-server, else this
//!              executable's rest-server applet, else rest-server on PATH)
//! ```
//!
//! Without any `MNT_*` variable rest-server runs without mounting; with
//! them, rest-server's `--path` must lie on the disk. A disk that leaves
//! while rest-server runs stops it, and the wrapper exits 1 to wait for it.
//! Exit status: rest-server's (128+N if killed by signal N; 0 after a stop
//! by SIGTERM/SIGINT), 1 for trouble worth retrying (no disk yet, busy, a
//! pulled disk), 125 for a configuration to fix (gokrazy then stops
//! restarting it).
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use krazybox::wrapper::{self, Config};

use crate::exit;

pub fn main(_name: &str, args: &[String]) -> anyhow::Result<ExitCode> {
    let native = native_rest_server();
    let config = Config::from_env(|k| std::env::var(k).ok(), native.as_deref())
        .map_err(|e| exit::fail(e.exit_status(), e.message))?;
    match wrapper::run(&config, args) {
        Ok(status) => Ok(ExitCode::from(status)),
        Err(e) => Err(exit::fail(e.exit_status(), e.message)),
    }
}

/// This executable, when it has a `rest-server` applet to run.
fn native_rest_server() -> Option<PathBuf> {
    crate::has_applet("rest-server").then(|| std::fs::read_link("/proc/self/exe").ok()).flatten()
}
