//! The krazybox engine: file formats, probing and mounting, with no command-line code.
//! The applets in `applets/` are thin faces over these modules.
#![deny(unsafe_code)]

// The unit tests use the same test-support file as `tests/`, which names the
// crate `krazybox`.
#[cfg(test)]
extern crate self as krazybox;
#[cfg(test)]
#[path = "../tests/support/mod.rs"]
pub(crate) mod support;

pub mod htpasswd;
pub mod install;
pub mod mount;
pub mod probe;
#[cfg(feature = "rest-server")]
pub mod rest_server;
pub mod restic_rest_server;
pub mod text;
