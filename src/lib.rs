//! The krazybox engine: file formats, probing and mounting, with no command-line code.
//! The applets in `applets/` are thin faces over these modules.
#![deny(unsafe_code)]

pub mod htpasswd;
pub mod install;
pub mod mount;
pub mod probe;
#[cfg(feature = "rest-server")]
pub mod restserver;
pub mod wrapper;
