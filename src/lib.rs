//! The krazybox engine: file formats, probing and mounting, with no command-line code.
//! The applets in `applets/` are thin faces over these modules.
#![deny(unsafe_code)]

// The unit tests use the test-support files of `tests/`, which name the crate
// `krazybox`: what all tests share, and the probe helpers that compare with
// util-linux's blkid (no test binary uses those).
#[cfg(test)]
extern crate self as krazybox;
#[cfg(test)]
#[path = "../tests/support"]
pub(crate) mod support {
    #[path = "mod.rs"]
    mod shared;
    pub(crate) use shared::*;
    pub(crate) mod probe;
}

pub mod htpasswd;
pub mod install;
#[cfg(target_os = "macos")]
mod macos;
pub mod probe;
pub mod text;

// Mounting, loop devices, btrfs registration, the service wrapper and the
// native rest-server are Linux's (mount(2), ioctls, prctl, signalfd, syncfs,
// openat2, /proc and /sys). Elsewhere (a Mac preparing the disk) the crate is
// the htpasswd file, the prober and their applets.
#[cfg(target_os = "linux")]
pub mod mount;
#[cfg(all(feature = "rest-server", target_os = "linux"))]
pub mod rest_server;
#[cfg(target_os = "linux")]
pub mod restic_rest_server;
