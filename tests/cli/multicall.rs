//! The multi-call dispatcher: applet names from argv[0] or argv[1], --list, --install.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Output};

use crate::support::TempDir;

fn krazybox() -> &'static str {
    env!("CARGO_BIN_EXE_krazybox")
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program).args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn list_names_every_applet_of_this_build() {
    let out = run(krazybox(), &["--list"]);
    assert!(out.status.success());
    let names: Vec<String> = text(&out.stdout).lines().map(String::from).collect();
    assert!(names.contains(&"htpasswd".to_string()), "{names:?}");
    assert!(names.iter().all(|n| !n.is_empty() && !n.contains(' ')));
}

#[test]
fn unknown_applet_is_127() {
    let out = run(krazybox(), &["frobnicate", "-x"]);
    assert_eq!(out.status.code(), Some(127));
    assert_eq!(text(&out.stderr), "krazybox: applet not found: frobnicate\n");
    let dir = TempDir::new("unknown");
    let link = dir.0.join("frobnicate");
    std::os::unix::fs::symlink(krazybox(), &link).unwrap();
    let out = run(link.to_str().unwrap(), &[]);
    assert_eq!(out.status.code(), Some(127));
}

#[test]
fn applet_by_link_name_and_by_first_argument() {
    let dir = TempDir::new("names");
    for name in ["htpasswd", "krazybox-aarch64"] {
        std::os::unix::fs::symlink(krazybox(), dir.0.join(name)).unwrap();
    }
    let by_link = run(dir.0.join("htpasswd").to_str().unwrap(), &["-nbs", "u", "pw"]);
    let by_arg = run(dir.0.join("krazybox-aarch64").to_str().unwrap(), &["htpasswd", "-nbs", "u", "pw"]);
    assert!(by_link.status.success(), "{by_link:?}");
    assert_eq!(text(&by_link.stdout), "u:{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM=\n\n");
    assert_eq!(by_link.stdout, by_arg.stdout);
}

#[test]
fn help_and_version() {
    let out = run(krazybox(), &["--help"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("krazybox --install [-s] DIR"));
    let out = run(krazybox(), &["--version"]);
    assert_eq!(text(&out.stdout), format!("krazybox {}\n", env!("CARGO_PKG_VERSION")));
    // Only -h/--help ask for help: a user may be called "help".
    let out = run(krazybox(), &["htpasswd", "-nbs", "help", "pw"]);
    assert_eq!(text(&out.stdout), "help:{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM=\n\n");
    let out = run(krazybox(), &["htpasswd", "--help"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("rest-server rejects"), "{}", text(&out.stdout));
}

#[test]
fn install_symlinks_and_hard_links() {
    let dir = TempDir::new("install");
    let out = run(krazybox(), &["--install", "-s", dir.0.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let listed = text(&run(krazybox(), &["--list"]).stdout);
    for name in listed.lines() {
        let link = dir.0.join(name);
        assert_eq!(fs::read_link(&link).unwrap(), fs::canonicalize(krazybox()).unwrap(), "{name}");
    }
    // Again: nothing to do, no error.
    assert!(run(krazybox(), &["--install", "-s", dir.0.to_str().unwrap()]).status.success());

    // Hard links need the same filesystem: copy the executable next to the folder.
    let hard = TempDir::new("install-hard");
    let exe = hard.0.join("krazybox");
    fs::copy(krazybox(), &exe).unwrap();
    let bin = hard.0.join("bin");
    fs::create_dir(&bin).unwrap();
    let out = run(exe.to_str().unwrap(), &["--install", bin.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let ino = fs::metadata(&exe).unwrap().ino();
    assert_eq!(fs::metadata(bin.join("htpasswd")).unwrap().ino(), ino);

    // Somebody else's program is never overwritten.
    let other = TempDir::new("install-other");
    fs::write(other.0.join("htpasswd"), b"#!/bin/sh\n").unwrap();
    let out = run(krazybox(), &["--install", "-s", other.0.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("is not a link to"), "{}", text(&out.stderr));
    assert_eq!(fs::read(other.0.join("htpasswd")).unwrap(), b"#!/bin/sh\n");
    let out = run(krazybox(), &["--install"]);
    assert_eq!(out.status.code(), Some(2));
}
