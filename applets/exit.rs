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
