//! krazybox: one executable, several applets, chosen BusyBox-style.
//!
//! ```text
//! APPLET [ARGS...]                 through a link named after the applet
//! krazybox APPLET [ARGS...]        through the multiplexer's own name
//! krazybox --list                  the applet names, one per line
//! krazybox --install [-s] DIR      hard links (or symlinks) to this executable in DIR
//! krazybox --help | --version
//! ```
#![forbid(unsafe_code)]

// mount, umount, the wrapper and the native rest-server are Linux's; a Mac
// builds the laptop's two applets.
#[cfg(all(not(target_os = "linux"), any(feature = "mount", feature = "restic-rest-server", feature = "rest-server")))]
compile_error!(
    "mount, restic-rest-server and rest-server need Linux: build with --no-default-features --features htpasswd,blkid"
);

// A build with only some applets leaves some of these helpers unused.
#[cfg_attr(not(all(feature = "htpasswd", feature = "blkid", feature = "rest-server")), allow(dead_code))]
mod args;
#[cfg(feature = "blkid")]
mod blkid;
mod exit;
#[cfg(feature = "htpasswd")]
mod htpasswd;
#[cfg(feature = "mount")]
mod mount;
#[cfg(feature = "rest-server")]
mod rest_server;
#[cfg(feature = "restic-rest-server")]
mod restic_rest_server;
#[cfg(feature = "mount")]
mod umount;

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

/// One row of the applet table.
struct Applet {
    name: &'static str,
    /// Gets the words after the applet's name, as the kernel gave them.
    main: fn(&str, &[OsString]) -> anyhow::Result<ExitCode>,
}

/// Every applet this build has, in the order `--list` prints them.
const APPLETS: &[Applet] = &[
    #[cfg(feature = "blkid")]
    Applet { name: "blkid", main: blkid::main },
    #[cfg(feature = "htpasswd")]
    Applet { name: "htpasswd", main: htpasswd::main },
    #[cfg(feature = "mount")]
    Applet { name: "mount", main: mount::main },
    #[cfg(feature = "rest-server")]
    Applet { name: "rest-server", main: rest_server::main },
    #[cfg(feature = "restic-rest-server")]
    Applet { name: "restic-rest-server", main: restic_rest_server::main },
    #[cfg(feature = "mount")]
    Applet { name: "umount", main: umount::main },
];

/// The exit status for an unknown applet name, as busybox and shells use it.
const NOT_FOUND: u8 = 127;

fn find(name: &str) -> Option<&'static Applet> {
    APPLETS.iter().find(|a| a.name == name)
}

/// Whether this build has the applet `name` (the wrapper runs a native rest-server if so).
#[cfg(feature = "restic-rest-server")]
fn has_applet(name: &str) -> bool {
    find(name).is_some()
}

fn main() -> ExitCode {
    let raw: Vec<OsString> = std::env::args_os().collect();
    let argv0 = raw.first().cloned().unwrap_or_else(|| "krazybox".into());
    let name =
        Path::new(&argv0).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "krazybox".into());
    let args = raw.get(1..).unwrap_or_default();
    init_logging();

    if name.starts_with("krazybox") {
        return multiplexer(args);
    }
    run_applet(&name, args)
}

/// Diagnostics go to stderr as `LEVEL [applet] message`; `KRAZYBOX_LOG=debug` shows more.
fn init_logging() {
    let level = std::env::var("KRAZYBOX_LOG").ok().and_then(|l| l.parse().ok()).unwrap_or(log::LevelFilter::Info);
    // A second initialisation can only fail if a logger exists already; that one is fine.
    // The logger passes everything; the global filter decides, so an applet can
    // raise it later (rest-server --debug).
    let _ = simple_logger::SimpleLogger::new().with_level(log::LevelFilter::Trace).init();
    log::set_max_level(level);
}

fn run_applet(name: &str, args: &[OsString]) -> ExitCode {
    let Some(applet) = find(name) else {
        eprintln!("krazybox: applet not found: {name}");
        return ExitCode::from(NOT_FOUND);
    };
    exit::report(name, (applet.main)(name, args))
}

fn multiplexer(args: &[OsString]) -> ExitCode {
    let Some(first) = args.first() else {
        print!("{}", usage());
        return ExitCode::from(exit::USAGE);
    };
    match first.to_str().unwrap_or_default() {
        "--list" | "-l" => {
            for applet in APPLETS {
                println!("{}", applet.name);
            }
            ExitCode::SUCCESS
        }
        "--install" => exit::report("krazybox", install(&args[1..])),
        "--help" | "-h" => {
            print!("{}", usage());
            ExitCode::SUCCESS
        }
        "--version" | "-V" => {
            println!("krazybox {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        "" => {
            eprintln!("krazybox: applet not found: {}", first.to_string_lossy());
            ExitCode::from(NOT_FOUND)
        }
        name => run_applet(name, &args[1..]),
    }
}

fn usage() -> String {
    let names: Vec<&str> = APPLETS.iter().map(|a| a.name).collect();
    format!(
        "krazybox {}: a restic backup server for gokrazy in one executable\n\n\
         Usage: krazybox APPLET [ARGS...]   (or call it through a link named APPLET)\n\
         \x20      krazybox --list\n\
         \x20      krazybox --install [-s] DIR\n\n\
         Applets: {}\n",
        env!("CARGO_PKG_VERSION"),
        names.join(", ")
    )
}

/// `--install [-s] DIR`: a link named after every applet, pointing at this executable.
fn install(args: &[OsString]) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    let (symbolic, dir) = match args {
        [s, dir] if s == "-s" => (true, dir),
        [dir] => (false, dir),
        _ => return Err(exit::usage_error("usage: krazybox --install [-s] DIR")),
    };
    let exe = std::env::current_exe().context("finding this executable")?;
    let names: Vec<&str> = APPLETS.iter().map(|a| a.name).collect();
    krazybox::install::links(&exe, Path::new(dir), &names, symbolic)?;
    Ok(ExitCode::SUCCESS)
}
