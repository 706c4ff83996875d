//! The appliance under a real kernel: runs `scripts/system-test.sh` (Debian's
//! kernels in qemu, amd64 and arm64, the static krazybox supervised as gokrazy
//! does, the real restic client) when its tools are there, and fails if any
//! scenario fails. Without them it says what is missing and passes nothing off
//! as tested; `scripts/test.sh` refuses to run without them.
//!
//! `KRAZYBOX_VM_ARCH=amd64|arm64` runs one architecture (default: both).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

#[test]
fn system_test_suite() {
    let cache = std::env::var("KRAZYBOX_VM_CACHE").unwrap_or_else(|_| "/var/cache/krazybox-vm".to_string());
    let mut missing = Vec::new();
    if !nix::unistd::geteuid().is_root() {
        missing.push("root".to_string());
    }
    for f in ["qemu/usr/bin/qemu-system-x86_64", "qemu/usr/bin/qemu-system-aarch64", "amd64/kernel", "arm64/kernel"] {
        if !Path::new(&cache).join(f).exists() {
            missing.push(format!("{cache}/{f} (scripts/vm-fetch.sh)"));
        }
    }
    for tool in ["restic", "curl", "mkfs.ext4", "mkfs.btrfs", "e2fsck", "losetup", "flock", "python3"] {
        if Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().map_or(true, |o| !o.status.success())
        {
            missing.push(tool.to_string());
        }
    }
    if !missing.is_empty() {
        eprintln!("SKIPPED system_test_suite: missing {}", missing.join(", "));
        return;
    }
    let arch = std::env::var("KRAZYBOX_VM_ARCH").unwrap_or_else(|_| "all".to_string());
    // The suite builds the static binaries with cargo. The variables cargo sets
    // for a test (CARGO_PKG_*, OUT_DIR, ...) would change what build scripts see
    // and rebuild everything twice: pass on only what a shell would have.
    let keep = |k: &str| {
        ["PATH", "HOME", "TERM", "TMPDIR", "RUSTUP_HOME", "CARGO_HOME", "RUSTUP_TOOLCHAIN"].contains(&k)
            || k.starts_with("KRAZYBOX_")
    };
    let mut child = Command::new("bash")
        .arg("scripts/system-test.sh")
        .arg(&arch)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_clear()
        .envs(std::env::vars().filter(|(k, _)| keep(k)))
        .stdout(Stdio::piped())
        .spawn()
        .expect("start scripts/system-test.sh");
    // The scenario lines go straight to the terminal (not captured), one by one
    // as they come: the suite takes minutes.
    let mut summary = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.expect("read the suite's output");
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "system-test: {line}");
        if line.ends_with(" failed") && line.contains(" passed, ") {
            summary = Some(line);
        }
    }
    let status = child.wait().expect("wait for scripts/system-test.sh");
    let summary = summary.expect("the suite printed no 'N passed, M failed' line");
    let (passed, failed) = summary.split_once(" passed, ").unwrap();
    let passed: u32 = passed.parse().expect("a count of passed scenarios");
    let failed: u32 = failed.trim_end_matches(" failed").parse().expect("a count of failed scenarios");
    assert!(passed > 0, "no scenario ran: {summary}");
    assert_eq!(failed, 0, "system test scenarios failed: {summary}");
    assert!(status.success(), "scripts/system-test.sh exited with {status}");
}
