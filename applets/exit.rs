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
#[cfg(target_os = "linux")]
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
#[cfg(target_os = "linux")]
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

/// The status an error in the chain carries: an applet's [`Failure`], or
/// an engine error type's, mapped here once.
fn status_of(e: &(dyn std::error::Error + 'static)) -> Option<u8> {
    if let Some(f) = e.downcast_ref::<Failure>() {
        return Some(f.status);
    }
    #[cfg(target_os = "linux")]
    if let Some(e) = e.downcast_ref::<krazybox::mount::Error>() {
        return Some(mount_status(e));
    }
    #[cfg(target_os = "linux")]
    if let Some(e) = e.downcast_ref::<krazybox::restic_rest_server::Error>() {
        return Some(wrapper_status(e));
    }
    None
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
            let status = err.chain().find_map(status_of).unwrap_or(1);
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

    #[test]
    fn errors_carry_their_status_through_anyhow() {
        let status = |e: anyhow::Error| e.chain().find_map(status_of);
        let config = krazybox::restic_rest_server::Error::config("MNT_TARGET is not set");
        assert_eq!(status(config.into()), Some(125));
        assert_eq!(status(krazybox::restic_rest_server::Error::transient("no disk yet").into()), Some(1));
        let mount = Error {
            category: Category::Failure,
            spec: "/mnt".into(),
            message: String::new(),
            errno: None,
            hint: None,
            nofail: false,
        };
        assert_eq!(status(anyhow::Error::from(mount).context("mounting")), Some(32));
        assert_eq!(status(fail(7, "bad file")), Some(7));
        assert_eq!(status(anyhow::anyhow!("plain")), None);
    }
}
