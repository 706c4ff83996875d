//! The command-line faces that need no device, in one test binary: the
//! [`htpasswd`] applet against Apache's, and the [`multicall`] dispatcher.

mod support;

#[path = "cli/htpasswd.rs"]
mod htpasswd;
#[path = "cli/multicall.rs"]
mod multicall;
