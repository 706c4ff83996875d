//! Errors that know their exit status, and the one place that prints them.

use std::fmt;
use std::process::ExitCode;

/// Exit status for a command line the applet cannot parse, unless the applet says otherwise.
pub const USAGE: u8 = 2;

/// An error with the exit status it must end the process with.
#[derive(Debug)]
pub struct Failure {
    pub status: u8,
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// mount(8)'s and umount(8)'s statuses (util-linux `MNT_EX_USAGE`,
/// `MNT_EX_SYSERR`, `MNT_EX_FAIL`, `MNT_EX_SOMEOK`).
#[cfg_attr(not(feature = "mount"), allow(dead_code))]
pub mod mnt {
    pub const USAGE: u8 = 1;
    pub const SYSERR: u8 = 2;
    pub const FAIL: u8 = 32;
    /// `mount -a`: some mounts failed, others succeeded.
    pub const SOMEOK: u8 = 64;
}

/// The status for a failed mount or unmount of the engine.
#[cfg_attr(not(feature = "mount"), allow(dead_code))]
pub fn mount_status(e: &krazybox::mount::Error) -> u8 {
    use krazybox::mount::Category;
    match e.category {
        Category::Usage => mnt::USAGE,
        Category::System => mnt::SYSERR,
        Category::Failure => mnt::FAIL,
    }
}

/// restic-rest-server's status for a failure around rest-server: 1 makes
/// gokrazy restart the service after a second; 125 stops it for good.
#[cfg_attr(not(feature = "restic-rest-server"), allow(dead_code))]
pub fn wrapper_status(e: &krazybox::restic_rest_server::Error) -> u8 {
    use krazybox::restic_rest_server::Kind;
    match e.kind {
        Kind::Transient => 1,
        Kind::Config => 125,
    }
}

/// An error that ends the applet with `status`.
pub fn fail(status: u8, message: impl Into<String>) -> anyhow::Error {
    Failure { status, message: message.into() }.into()
}

/// A command-line error with the default usage status.
pub fn usage_error(message: impl Into<String>) -> anyhow::Error {
    fail(USAGE, message)
}

/// Turn an applet's result into the process exit status, printing an error as
/// one line `APPLET: message`. A closed stdout (`blkid | head -1`) is not an error.
pub fn report(applet: &str, result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(err) => {
            if let Some(io) = err.root_cause().downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::BrokenPipe {
                    return ExitCode::SUCCESS;
                }
            }
            let status = err.chain().find_map(|e| e.downcast_ref::<Failure>()).map(|f| f.status).unwrap_or(1);
            eprintln!("{applet}: {err:#}");
            ExitCode::from(status)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use krazybox::mount::{Category, Error};

    #[test]
    fn mount_statuses_are_util_linux_ones() {
        let e = |category| Error {
            category,
            spec: "/mnt".into(),
            message: String::new(),
            errno: None,
            hint: None,
            nofail: false,
        };
        assert_eq!(mount_status(&e(Category::Usage)), 1);
        assert_eq!(mount_status(&e(Category::System)), 2);
        assert_eq!(mount_status(&e(Category::Failure)), 32);
    }
}
