//! umount: unmount filesystems, as util-linux 2.38.1 umount(8) does.
//!
//! ```text
//! umount [-dflnqRv] TARGET|SOURCE...
//!
//!  -l, --lazy          detach now, clean up when the filesystem is no longer busy
//!  -f, --force         force (network and FUSE filesystems)
//!  -R, --recursive     unmount the mounts below TARGET first
//!  -v, --verbose       say what was unmounted
//!  -q, --quiet         no "not mounted" messages
//!  -d, --detach-loop   accepted: loop devices that mount set up go away by themselves (autoclear)
//!  -n, --no-mtab       accepted (there is no /etc/mtab to write)
//! ```
//!
//! SOURCE may be a device or `UUID=`, `LABEL=`...; its most recent mount is
//! unmounted. A busy filesystem is retried for a moment before giving up.
//! Exit status: 0 done, 1 bad usage or nothing mounted (-R), 32 failure;
//! with several arguments, the statuses add up.
#![forbid(unsafe_code)]

use crate::{args, exit};
use argh::{ArgsInfo, FromArgs};
use krazybox::mount::{self, filesystem, mountinfo, probe_glue, source::Source};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use exit::mnt::USAGE;

// The options; the targets are the positional words. `-h` prints
// util-linux's text, not argh's.
#[derive(FromArgs, ArgsInfo)]
/// unmount filesystems
#[argh(help_triggers("--argh-help"))]
struct Args {
    /// lazy unmount
    #[argh(switch, short = 'l', long = "lazy")]
    lazy: bool,
    /// force unmount
    #[argh(switch, short = 'f', long = "force")]
    force: bool,
    /// recursive unmount
    #[argh(switch, short = 'R', long = "recursive")]
    recursive: bool,
    /// say what is done
    #[argh(switch, short = 'v', long = "verbose")]
    verbose: bool,
    /// suppress "not mounted" errors
    #[argh(switch, short = 'q', long = "quiet")]
    quiet: bool,
    /// free loop devices (autoclear does)
    #[argh(switch, short = 'd', long = "detach-loop")]
    detach_loop: bool,
    /// don't write /etc/mtab
    #[argh(switch, short = 'n', long = "no-mtab")]
    _no_mtab: bool,
    /// don't canonicalize paths (accepted)
    #[argh(switch, short = 'c', long = "no-canonicalize")]
    no_canonicalize: bool,
    /// don't call umount helpers (there are none)
    #[argh(switch, short = 'i', long = "internal-only")]
    _internal_only: bool,
    /// print the version
    #[argh(switch, short = 'V', long = "version")]
    version: bool,
}

const STYLE: args::Style = args::Style { permute: true, long: true, abbreviations: true, aliases: &[] };

fn usage(name: &str) -> String {
    format!(
        "\nUsage:\n {name} [-hV]\n {name} [options] <source> | <directory>\n\n\
         Unmount filesystems.\n\n\
         Options:\n \
         -f, --force             force unmount (in case of an unreachable NFS system)\n \
         -l, --lazy              detach the filesystem now, clean up things later\n \
         -R, --recursive         recursively unmount a target with all its children\n \
         -q, --quiet             suppress 'not mounted' error messages\n \
         -v, --verbose           say what is being done\n \
         -d, --detach-loop       accepted; loop devices set up by mount are freed anyway\n \
         -n, --no-mtab           don't write to /etc/mtab\n"
    )
}

pub fn main(name: &str, argv: &[OsString]) -> anyhow::Result<ExitCode> {
    let Some((a, line)) = args::parse_util_linux::<Args>(name, &STYLE, argv, usage)? else {
        return Ok(ExitCode::SUCCESS);
    };
    let bad = |msg: &str| exit::fail(USAGE, format!("{msg}\n{}", args::try_help(name)));
    let targets = line.utf8_positionals().map_err(|e| exit::fail(USAGE, e))?;
    if a.version {
        println!("{name} from krazybox {} (util-linux 2.38.1 compatible)", env!("CARGO_PKG_VERSION"));
        return Ok(ExitCode::SUCCESS);
    }
    if targets.is_empty() {
        return Err(bad("bad usage"));
    }
    let mut total: u32 = 0;
    for spec in &targets {
        let status = if a.recursive { recursive(name, &a, spec) } else { one(name, &a, spec, spec) };
        total += u32::from(status);
    }
    Ok(ExitCode::from(u8::try_from(total).unwrap_or(255)))
}

/// Unmounts one target or source; returns its exit status. `shown` is the
/// name errors use (the argument as given).
fn one(name: &str, a: &Args, spec: &str, shown: &str) -> u8 {
    // What is about to go, for -v and for a source: the mount at the path,
    // else the latest mount of the device, image file or tag.
    let table = mountinfo::read().unwrap_or_default();
    let entry = filesystem::mount_named(&table, &Source::parse(spec), Some(probe_glue::resolver())).cloned();
    let path = entry.as_ref().map_or_else(|| PathBuf::from(spec), |m| m.mount_point.clone());
    // util-linux skips reading the mount table for an absolute directory
    // (statfs gives the type), and then does not know the source to name.
    let fast = spec.starts_with('/')
        && !a.lazy
        && !a.force
        && !a.detach_loop
        && !a.no_canonicalize
        && Path::new(spec).is_dir();
    match mount::umount(&path, a.lazy, a.force) {
        Ok(()) => {
            if a.verbose {
                match &entry {
                    Some(m) if !fast => eprintln!("{name}: {} ({}) unmounted", m.mount_point.display(), m.source),
                    _ => eprintln!("{name}: {spec} unmounted"),
                }
            }
            0
        }
        Err(e) => {
            let not_mounted = e.errno == Some(nix::errno::Errno::EINVAL);
            if !(a.quiet && not_mounted) {
                eprintln!("{name}: {shown}: {}.", e.message);
            }
            exit::mount_status(&e)
        }
    }
}

/// `umount -R`: the mounts on top of and below the target first, deepest
/// first, then the target itself (util-linux `umount_do_recurse`).
fn recursive(name: &str, a: &Args, spec: &str) -> u8 {
    let table = mountinfo::read().unwrap_or_default();
    let target = Path::new(spec).canonicalize().unwrap_or_else(|_| PathBuf::from(spec));
    let Some(top) = table.iter().rev().find(|m| m.mount_point == target) else {
        if !a.quiet {
            let what = if Path::new(spec).exists() { "not mounted" } else { "not found" };
            eprintln!("{name}: {spec}: {what}");
        }
        return USAGE;
    };
    for m in mountinfo::submounts_deepest_first(&table, top) {
        // Gone already (a lazy unmount of a parent took it along): nothing to do.
        let still = mountinfo::read().is_ok_and(|t| mountinfo::find_by_id(&t, m.id).is_some());
        if !still {
            continue;
        }
        let path = m.mount_point.to_string_lossy().into_owned();
        let status = one(name, a, &path, &path);
        if status != 0 {
            return status;
        }
    }
    0
}
