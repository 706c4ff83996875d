//! htpasswd (placeholder while the engine is written)
use std::process::ExitCode;
pub fn main(_name: &str, _args: &[String]) -> anyhow::Result<ExitCode> {
    Err(crate::exit::fail(9, "not built yet"))
}
