//! mount: mount a filesystem, as util-linux 2.38.1 mount(8) does.
//!
//! ```text
//! mount [-l] [-t TYPES]                                    list the mounts
//! mount -a [-fnrvw] [-t TYPES] [-o OPTS] [-T FSTAB]        mount what fstab lists
//! mount [-fnrvw] [-o OPTS] [-T FSTAB] SOURCE | TARGET      mount one fstab entry
//! mount [-fnrvw] [-t TYPES] [-o OPTS] SOURCE TARGET
//! mount [-fnrvw] [-t TYPES] [-o OPTS] -L LABEL | -U UUID [TARGET]
//! mount --bind | --rbind | --move OLDDIR NEWDIR
//! mount --make-[r]{shared,slave,private,unbindable} TARGET
//!
//!  -a, --all             mount fstab's entries, except noauto, swap and those already mounted
//!  -f, --fake            do everything but the mount(2) call
//!  -n, --no-mtab         accepted (there is no /etc/mtab to write)
//!  -r, --read-only       mount read-only (-o ro)
//!  -w, --read-write      mount read-write, and fail rather than fall back to read-only
//!  -v, --verbose         say what was mounted
//!  -l, --show-labels     list with [LABEL]
//!  -t, --types TYPES     type, or a list tried in order; with -a and listing, a filter
//!                        (noTYPE excludes)
//!  -o, --options OPTS    comma-separated options (repeatable)
//!  -T, --fstab FILE      another table than /etc/fstab
//!  -L, --label LABEL     the device with this label
//!  -U, --uuid UUID       the device with this UUID
//!  -B, --bind            bind a directory elsewhere
//!  -R, --rbind           bind a directory and the mounts below it
//!  -M, --move            move a mount
//! ```
//!
//! SOURCE is a device, a regular file (mounted through a loop device), a
//! directory (with --bind), or `UUID=`, `LABEL=`, `PARTUUID=`, `PARTLABEL=`.
//! Exit status: 0 mounted, 1 bad usage or source not found, 32 mount failure,
//! 64 some of several mounts (-a) failed.
#![forbid(unsafe_code)]

use crate::{args, exit};
use argh::{ArgsInfo, FromArgs};
use krazybox::mount::{self, fstab, mountinfo, probe_glue, source::Source, MountSpec};
use std::ffi::OsString;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// mount(8) exit statuses.
use exit::mnt::{FAIL as FAILURE, SOMEOK as SOME_OK, USAGE};

// The options; source and target are the positional words. `-h` prints
// util-linux's text, not argh's.
#[derive(FromArgs, ArgsInfo)]
/// mount a filesystem
#[argh(help_triggers("--argh-help"))]
struct Args {
    /// mount all filesystems of fstab
    #[argh(switch, short = 'a', long = "all")]
    all: bool,
    /// dry run
    #[argh(switch, short = 'f', long = "fake")]
    fake: bool,
    /// don't write /etc/mtab
    #[argh(switch, short = 'n', long = "no-mtab")]
    _no_mtab: bool,
    /// mount read-only
    #[argh(switch, short = 'r', long = "read-only")]
    read_only: bool,
    /// mount read-write
    #[argh(switch, short = 'w', long = "read-write")]
    read_write: bool,
    /// say what is done
    #[argh(switch, short = 'v', long = "verbose")]
    verbose: bool,
    /// list labels too
    #[argh(switch, short = 'l', long = "show-labels")]
    show_labels: bool,
    /// don't canonicalize paths (accepted)
    #[argh(switch, short = 'c', long = "no-canonicalize")]
    _no_canonicalize: bool,
    /// don't call mount helpers (there are none)
    #[argh(switch, short = 'i', long = "internal-only")]
    _internal_only: bool,
    /// tolerate sloppy options (accepted)
    #[argh(switch, short = 's', hidden_help)]
    _sloppy: bool,
    /// filesystem types
    #[argh(option, short = 't', long = "types")]
    types: Vec<String>,
    /// mount options
    #[argh(option, short = 'o', long = "options")]
    options: Vec<String>,
    /// alternative fstab
    #[argh(option, short = 'T', long = "fstab")]
    fstab: Vec<String>,
    /// device by label
    #[argh(option, short = 'L', long = "label")]
    label: Vec<String>,
    /// device by UUID
    #[argh(option, short = 'U', long = "uuid")]
    uuid: Vec<String>,
    /// bind mount
    #[argh(switch, short = 'B', long = "bind")]
    bind: bool,
    /// recursive bind mount
    #[argh(switch, short = 'R', long = "rbind")]
    rbind: bool,
    /// move a mount
    #[argh(switch, short = 'M', long = "move")]
    move_: bool,
    /// mark shared
    #[argh(switch, long = "make-shared")]
    make_shared: bool,
    /// mark slave
    #[argh(switch, long = "make-slave")]
    make_slave: bool,
    /// mark private
    #[argh(switch, long = "make-private")]
    make_private: bool,
    /// mark unbindable
    #[argh(switch, long = "make-unbindable")]
    make_unbindable: bool,
    /// mark shared, recursively
    #[argh(switch, long = "make-rshared")]
    make_rshared: bool,
    /// mark slave, recursively
    #[argh(switch, long = "make-rslave")]
    make_rslave: bool,
    /// mark private, recursively
    #[argh(switch, long = "make-rprivate")]
    make_rprivate: bool,
    /// mark unbindable, recursively
    #[argh(switch, long = "make-runbindable")]
    make_runbindable: bool,
    /// print the version
    #[argh(switch, short = 'V', long = "version")]
    version: bool,
}

/// getopt_long, with util-linux's two short spellings of -r and -w.
const STYLE: args::Style = args::Style {
    permute: true,
    long: true,
    abbreviations: true,
    aliases: &[("--ro", "--read-only"), ("--rw", "--read-write")],
};

/// The propagation switches in the order util-linux appends them.
const PROPAGATION: &[&str] =
    &["shared", "slave", "private", "unbindable", "rshared", "rslave", "rprivate", "runbindable"];

fn usage(name: &str) -> String {
    format!(
        "\nUsage:\n {name} [-lhV]\n {name} -a [options]\n {name} [options] <source> | <directory>\n \
         {name} [options] <source> <directory>\n {name} <operation> <mountpoint> [<target>]\n\n\
         Mount a filesystem.\n\n\
         Options:\n \
         -a, --all               mount all filesystems mentioned in fstab\n \
         -f, --fake              dry run; skip the mount(2) syscall\n \
         -n, --no-mtab           don't write to /etc/mtab\n \
         -r, --read-only         mount the filesystem read-only (same as -o ro)\n \
         -w, --rw, --read-write  mount the filesystem read-write (default)\n \
         -v, --verbose           say what is being done\n \
         -l, --show-labels       show also filesystem labels\n \
         -t, --types <list>      limit the set of filesystem types\n \
         -o, --options <list>    comma-separated list of mount options\n \
         -T, --fstab <path>      alternative file to /etc/fstab\n \
         -L, --label <label>     synonym for LABEL=<label>\n \
         -U, --uuid <uuid>       synonym for UUID=<uuid>\n\n\
         Operations:\n \
         -B, --bind              mount a subtree somewhere else (same as -o bind)\n \
         -M, --move              move a subtree to some other place\n \
         -R, --rbind             mount a subtree and all submounts somewhere else\n \
         --make-[r]shared, --make-[r]slave, --make-[r]private, --make-[r]unbindable\n\n\
         Source: <device>, <file> (a loop device is set up), LABEL=, UUID=, PARTLABEL=, PARTUUID=\n"
    )
}

pub fn main(name: &str, argv: &[OsString]) -> anyhow::Result<ExitCode> {
    let Some((a, line)) = args::parse_util_linux::<Args>(name, &STYLE, argv, usage)? else {
        return Ok(ExitCode::SUCCESS);
    };
    let bad = |msg: &str| exit::fail(USAGE, format!("{msg}\n{}", args::try_help(name)));
    let paths = line.utf8_positionals().map_err(|e| exit::fail(USAGE, e))?;
    if a.version {
        println!("{name} from krazybox {} (util-linux 2.38.1 compatible)", env!("CARGO_PKG_VERSION"));
        return Ok(ExitCode::SUCCESS);
    }
    if [a.bind, a.move_, a.rbind].iter().filter(|&&b| b).count() > 1 {
        return Err(exit::fail(USAGE, "mutually exclusive arguments: --bind --move --rbind"));
    }
    if !a.label.is_empty() && !a.uuid.is_empty() {
        return Err(exit::fail(USAGE, "mutually exclusive arguments: --label --uuid --source"));
    }

    let ops = a.operations();
    let (options, propa, oper) = (ops.options, ops.propagation, ops.operation);
    let tag_source =
        a.label.last().map(|l| format!("LABEL=\"{l}\"")).or_else(|| a.uuid.last().map(|u| format!("UUID=\"{u}\"")));
    let types = a.types.last().cloned();

    if tag_source.is_none() && paths.is_empty() && !a.all {
        // -r and -w are options too (`ro`, `rw`): not for a listing.
        if oper || !options.is_empty() || a.read_only || a.read_write {
            return Err(bad("bad usage"));
        }
        list(types.as_deref(), a.show_labels)?;
        return Ok(ExitCode::SUCCESS);
    }
    if oper && (types.is_some() || a.all || tag_source.is_some()) {
        return Err(bad("bad usage"));
    }
    let run = Run {
        name,
        options: options.join(","),
        read_only: a.read_only,
        read_write: a.read_write,
        verbose: a.verbose,
        fake: a.fake,
    };
    let fstab_paths: Vec<PathBuf> = if a.fstab.is_empty() {
        vec![PathBuf::from(fstab::FSTAB)]
    } else {
        a.fstab.iter().map(PathBuf::from).collect()
    };
    if a.all {
        return run.all(&fstab_paths, types.as_deref());
    }

    let spec = spec_of(&a, tag_source, &paths, &run.options, types, propa, &fstab_paths).map_err(|e| match e {
        Refused::Usage(m) => bad(&m),
        Refused::Plain(m) => exit::fail(USAGE, m),
        Refused::Other(e) => e,
    })?;
    match run.one(spec) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.nofail => Ok(ExitCode::SUCCESS),
        Err(e) => Err(exit::fail(exit::mount_status(&e), describe(&e))),
    }
}

/// The options the switches add to `-o`, in util-linux's order.
struct Operations {
    /// `-o`'s words, the propagation switches' and the operation's.
    options: Vec<String>,
    /// A `--make-*` switch was given.
    propagation: bool,
    /// A bind, rbind or move.
    operation: bool,
}

impl Args {
    fn operations(&self) -> Operations {
        let mut options: Vec<String> = self.options.clone();
        let propagation = [
            self.make_shared,
            self.make_slave,
            self.make_private,
            self.make_unbindable,
            self.make_rshared,
            self.make_rslave,
            self.make_rprivate,
            self.make_runbindable,
        ];
        options.extend(PROPAGATION.iter().zip(propagation).filter(|(_, on)| *on).map(|(w, _)| w.to_string()));
        // `move` in -o is the --move operation, as in util-linux.
        let mut is_move = self.move_;
        let mut options: Vec<String> = options
            .join(",")
            .split(',')
            .filter(|w| {
                let mv = *w == "move";
                is_move |= mv;
                !w.is_empty() && !mv
            })
            .map(String::from)
            .collect();
        for (on, word) in [(self.bind, "bind"), (self.rbind, "rbind"), (is_move, "move")] {
            if on {
                options.push(word.into());
            }
        }
        Operations {
            options,
            propagation: propagation.iter().any(|&p| p),
            operation: self.bind || self.rbind || is_move,
        }
    }
}

/// Why the command line names no mount.
enum Refused {
    /// A usage error, with the "Try --help" line.
    Usage(String),
    /// A usage error worded on its own.
    Plain(String),
    Other(anyhow::Error),
}

/// The mount the words name: source and target given, a target alone for a
/// propagation change or remount, else the fstab entry for the one given.
fn spec_of<'a>(
    a: &Args,
    tag_source: Option<String>,
    paths: &[String],
    options: &str,
    types: Option<String>,
    propagation: bool,
    fstab_paths: &[PathBuf],
) -> Result<MountSpec<'a>, Refused> {
    let (source, target) = match (tag_source, paths) {
        (Some(tag), []) => (Some(tag), None),
        (Some(_), [one]) if is_tag(one) => return Err(Refused::Plain("source specified more than once".into())),
        (Some(tag), [one]) => (Some(tag), Some(one.clone())),
        (None, [one]) if is_tag(one) => (Some(one.clone()), None),
        (None, [one]) => (None, Some(one.clone())),
        (None, [src, tgt]) => (Some(src.clone()), Some(tgt.clone())),
        _ => return Err(Refused::Usage("bad usage".into())),
    };
    match (source, target) {
        (Some(source), Some(target)) => {
            let mut spec = MountSpec::new(source, target).options(options.to_string());
            spec.fstype = types;
            Ok(spec)
        }
        (None, Some(target)) if propagation || has_word(options, "remount") => {
            let mut spec = MountSpec::target_only(target).options(options.to_string());
            spec.fstype = types;
            Ok(spec)
        }
        // One of them: the rest comes from fstab.
        (source, target) => {
            let table = read_fstab(fstab_paths).map_err(Refused::Other)?;
            let found = match (&source, &target) {
                (_, Some(t)) => fstab::find_by_target(&table, t).or_else(|| fstab::find_by_source(&table, t)),
                (Some(s), None) => fstab::find_by_source(&table, s),
                (None, None) => None,
            };
            let Some(entry) = found else {
                let message = match (&source, &target, a.label.is_empty() && a.uuid.is_empty()) {
                    (_, Some(t), _) => format!("{t}: can't find in {}.", fstab::FSTAB),
                    (Some(s), None, true) => format!("{s}: can't find in {}.", fstab::FSTAB),
                    (Some(s), None, false) => format!("{s}: can't find mount source {s} in {}.", fstab::FSTAB),
                    (None, None, _) => "bad usage".to_string(),
                };
                return Err(Refused::Plain(message));
            };
            Ok(entry_spec(entry, options, types.as_deref()))
        }
    }
}

/// What the command line asks of every mount.
struct Run<'a> {
    name: &'a str,
    /// `-o` and the operation switches, comma-joined.
    options: String,
    read_only: bool,
    read_write: bool,
    verbose: bool,
    fake: bool,
}

impl Run<'_> {
    /// One mount, with the prober plugged in; prints the read-only warning and,
    /// with -v, what was done.
    fn one(&self, spec: MountSpec<'_>) -> Result<(), mount::Error> {
        self.mount(spec, self.verbose)
    }

    /// [`Run::one`]; `say` prints what was done (`mount -a` says it its own way).
    fn mount(&self, mut spec: MountSpec<'_>, say: bool) -> Result<(), mount::Error> {
        spec.read_only |= self.read_only;
        spec.read_write |= self.read_write;
        let spec = spec.resolver(probe_glue::resolver()).prober(probe_glue::prober());
        if self.fake {
            return self.fake(&spec, say);
        }
        let mounted = mount::mount(&spec)?;
        let tgt = mounted.target.display();
        if let Some(w) = mounted.warning() {
            eprintln!("{}: {tgt}: {w}", self.name);
        }
        if say {
            let src = mounted.source.display();
            let flags = mounted.flags;
            use nix::mount::MsFlags;
            if flags.contains(MsFlags::MS_MOVE) {
                println!("{}: {src} moved to {tgt}.", self.name);
            } else if flags.contains(MsFlags::MS_BIND) {
                println!("{}: {src} bound on {tgt}.", self.name);
            } else if mounted.fstype.is_none() {
                println!("{}: {tgt} propagation flags changed.", self.name);
            } else {
                println!("{}: {src} mounted on {tgt}.", self.name);
            }
        }
        Ok(())
    }

    /// `-f`: the source resolved and the paths canonicalized, no mount(2).
    /// (util-linux also sets up the loop device for a file; this does not.)
    fn fake(&self, spec: &MountSpec<'_>, say: bool) -> Result<(), mount::Error> {
        let source = match spec.source.as_deref() {
            None => None,
            Some(given) => Some(match Source::parse(given).resolve(spec.resolver) {
                Ok(devices) => canonical(&devices[0]),
                Err(_) => {
                    return Err(mount::Error {
                        category: mount::Category::Usage,
                        spec: spec.target.display().to_string(),
                        message: format!("can't find {given}"),
                        errno: None,
                        hint: None,
                        nofail: has_word(&spec.options, "nofail"),
                    })
                }
            }),
        };
        if say {
            let (src, tgt) = (source.as_deref().unwrap_or(Path::new("none")).display(), canonical(&spec.target));
            let verb = if has_word(&spec.options, "bind") || has_word(&spec.options, "rbind") {
                "bound on"
            } else if has_word(&spec.options, "move") {
                "moved to"
            } else {
                "mounted on"
            };
            println!("{}: {src} {verb} {}.", self.name, tgt.display());
        }
        Ok(())
    }

    /// `mount -a`: every entry that is not noauto, swap, the root, filtered
    /// out by -t, or mounted already. Status 0 when none failed, 32 when all
    /// tried failed, 64 when some did.
    fn all(&self, paths: &[PathBuf], types: Option<&str>) -> anyhow::Result<ExitCode> {
        let table = read_fstab(paths)?;
        let (mut succeeded, mut failed) = (0, 0);
        let mut out = io::stdout().lock();
        for entry in &table {
            let tgt = entry.target.display().to_string();
            let root = entry.target == Path::new("/") || entry.target == Path::new("root");
            let filtered = types.is_some_and(|t| !mountinfo::match_fstype(&entry.fstype, t));
            if entry.is_swap() || root || entry.is_noauto() || filtered {
                if self.verbose {
                    writeln!(out, "{tgt:<25}: ignored")?;
                }
                continue;
            }
            let spec = entry_spec(entry, &self.options, None);
            if mount::is_mounted(&spec.clone().resolver(probe_glue::resolver())) {
                if self.verbose {
                    writeln!(out, "{tgt:<25}: already mounted")?;
                }
                continue;
            }
            out.flush()?;
            match self.mount(spec, false) {
                Ok(()) => {
                    succeeded += 1;
                    if self.verbose {
                        writeln!(out, "{tgt:<25}: successfully mounted")?;
                    }
                }
                Err(e) if e.nofail => succeeded += 1,
                Err(e) => {
                    failed += 1;
                    eprintln!("{}: {}", self.name, describe(&e));
                }
            }
        }
        Ok(ExitCode::from(match (succeeded, failed) {
            (_, 0) => 0,
            (0, _) => FAILURE,
            _ => SOME_OK,
        }))
    }
}

/// An error as mount(8) prints it: `TARGET: message.`, then the dmesg line
/// when mount(2) failed, then what this system adds (the kernel lacking a
/// driver, missing btrfs members).
fn describe(e: &mount::Error) -> String {
    let mut text = e.to_string();
    if e.syscall_failed() {
        text.push_str("\n       ");
        text.push_str(mount::DMESG_HINT);
    }
    if let Some(hint) = &e.hint {
        text.push_str("\n       ");
        text.push_str(hint);
        text.push('.');
    }
    text
}

/// The entries of the tables, in order; unparsable lines are reported and skipped.
fn read_fstab(paths: &[PathBuf]) -> anyhow::Result<Vec<fstab::Entry>> {
    let mut entries = Vec::new();
    for path in paths {
        let table = fstab::read(path).map_err(|_| exit::fail(USAGE, format!("{}: failed to parse", path.display())))?;
        for line in &table.bad_lines {
            eprintln!("mount: {}: parse error at line {line} -- ignored", path.display());
        }
        entries.extend(table.entries);
    }
    Ok(entries)
}

/// The request for an fstab entry: its options, then the command line's.
fn entry_spec<'a>(entry: &fstab::Entry, extra: &str, types: Option<&str>) -> MountSpec<'a> {
    let options = [entry.options.as_str(), extra].iter().filter(|o| !o.is_empty()).copied().collect::<Vec<_>>();
    let mut spec = MountSpec::new(entry.source.clone(), entry.target.clone()).options(options.join(","));
    spec.fstype = types.map(String::from).or_else(|| Some(entry.fstype.clone()).filter(|t| t != "auto"));
    spec
}

fn is_tag(s: &str) -> bool {
    matches!(Source::parse(s), Source::Tag { .. })
}

fn has_word(options: &str, word: &str) -> bool {
    options.split(',').any(|w| w == word)
}

fn canonical(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

/// `mount` alone: `SOURCE on TARGET type TYPE (OPTIONS)` for every mount, as
/// util-linux lists them: a device-backed source canonicalized, a loop device
/// that mount set up (autoclear) shown as its file, control characters in the
/// target as `?`; `-t` filters by type, `-l` adds ` [LABEL]`.
fn list(types: Option<&str>, labels: bool) -> anyhow::Result<()> {
    let table = mountinfo::read()?;
    let mut out = io::BufWriter::new(io::stdout().lock());
    for m in &table {
        if types.is_some_and(|t| !mountinfo::match_fstype(&m.fstype, t)) {
            continue;
        }
        let src = if m.is_pseudo() || m.is_network() || m.fstype == "swap" {
            PathBuf::from(&m.source)
        } else {
            mountinfo::pretty_source(&m.source)
        };
        out.write_all(src.as_os_str().as_bytes())?;
        out.write_all(b" on ")?;
        let target: Vec<u8> =
            m.mount_point.as_os_str().as_bytes().iter().map(|&b| if b.is_ascii_control() { b'?' } else { b }).collect();
        out.write_all(&target)?;
        write!(out, " type {} ({})", m.fstype, m.merged_options())?;
        if labels {
            let dev = Path::new(&m.source);
            let block = dev.metadata().is_ok_and(|md| md.file_type().is_block_device());
            if let Some(label) = block.then(|| probe_glue::tag(dev, "LABEL")).flatten() {
                out.write_all(b" [")?;
                out.write_all(&label)?;
                out.write_all(b"]")?;
            }
        }
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}
