//! blkid: locate and print block device attributes, as util-linux 2.38.1 does.
//!
//! The synopsis and the options are [`usage`] below, util-linux's text, which
//! `-h` prints. Differences: `-c` is accepted but no cache is kept (as with
//! `-c /dev/null`), so `-g` has nothing to collect.
//!
//! Exit status: 0 something printed, 2 nothing found, 4 usage error, 8 more than
//! one conflicting signature with -p, 1 unknown option.
#![forbid(unsafe_code)]

use crate::{args, exit};
use argh::{ArgsInfo, FromArgs};
use krazybox::probe::encode::{udev_ambivalent, udev_line, until_nul};
use krazybox::probe::{self, highlevel, Filter, Options, Probed, Tag};
use krazybox::text::parse_size;
use std::ffi::OsString;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const NOT_FOUND: u8 = 2;
const OTHER: u8 = 4;
const AMBIVALENT: u8 = 8;

/// The help text, as util-linux 2.38.1 words it: synopsis and options.
fn usage(name: &str) -> String {
    format!(
        "
Usage:
 {name} --label <label> | --uuid <uuid>

 {name} [--cache-file <file>] [-ghlLv] [--output <format>] [--match-tag <tag>] 
       [--match-token <token>] [<dev> ...]

 {name} -p [--match-tag <tag>] [--offset <offset>] [--size <size>] 
       [--output <format>] <dev> ...

Options:
 -c, --cache-file <file>    read from <file> instead of reading from the default
                              cache file (-c /dev/null means no cache)
 -d, --no-encoding          don't encode non-printing characters
 -g, --garbage-collect      garbage collect the blkid cache
 -o, --output <format>      output format; can be one of:
                              value, device, export or full; (default: full)
 -k, --list-filesystems     list all known filesystems/RAIDs and exit
 -s, --match-tag <tag>      show specified tag(s) (default show all tags)
 -t, --match-token <token>  find device with a specific token (NAME=value pair)
 -l, --list-one             look up only first device with token specified by -t
 -L, --label <label>        convert LABEL to device name
 -U, --uuid <uuid>          convert UUID to device name

Low-level probing options:
 -p, --probe                low-level superblocks probing (bypass cache)
 -S, --size <size>          overwrite device size
 -O, --offset <offset>      probe at the given offset
 -u, --usages <list>        filter by \"usage\" (e.g. -u filesystem,raid)
 -n, --match-types <list>   filter by filesystem type (e.g. -n vfat,ext3)
 -D, --no-part-details      don't print info from partition table

 -h, --help                 display this help
 -V, --version              display version

Arguments:
 <size> and <offset> arguments may be followed by the suffixes for
   GiB, TiB, PiB, EiB, ZiB, and YiB (the \"iB\" is optional)

 <dev> specify device(s) to probe (default: all devices)

For more details see blkid(8).
"
    )
}

// The options; the devices are the positional words. `-h` prints
// util-linux's text, not argh's.
#[derive(FromArgs, ArgsInfo)]
/// locate and print block device attributes
#[argh(help_triggers("--argh-help"))]
struct Args {
    /// cache file (accepted, no cache is kept)
    #[argh(option, short = 'c', long = "cache-file")]
    _cache_file: Vec<String>,
    /// don't encode non-printing characters
    #[argh(switch, short = 'd', long = "no-encoding")]
    no_encoding: bool,
    /// don't print info from the partition table
    #[argh(switch, short = 'D', long = "no-part-details")]
    no_part_details: bool,
    /// garbage collect the cache
    #[argh(switch, short = 'g', long = "garbage-collect")]
    garbage_collect: bool,
    /// output format
    #[argh(option, short = 'o', long = "output")]
    output: Vec<String>,
    /// list all known types
    #[argh(switch, short = 'k', long = "list-filesystems")]
    list_filesystems: bool,
    /// show only this tag
    #[argh(option, short = 's', long = "match-tag")]
    match_tag: Vec<String>,
    /// NAME=value to search for (read in order with -L and -U by `search_token`)
    #[argh(option, short = 't', long = "match-token")]
    _match_token: Vec<String>,
    /// only the first device with the token
    #[argh(switch, short = 'l', long = "list-one")]
    list_one: bool,
    /// the device with this LABEL
    #[argh(option, short = 'L', long = "label")]
    label: Vec<String>,
    /// the device with this UUID
    #[argh(option, short = 'U', long = "uuid")]
    uuid: Vec<String>,
    /// low-level probing
    #[argh(switch, short = 'p', long = "probe")]
    probe: bool,
    /// device size
    #[argh(option, short = 'S', long = "size")]
    size: Vec<String>,
    /// probe offset
    #[argh(option, short = 'O', long = "offset")]
    offset: Vec<String>,
    /// usage filter
    #[argh(option, short = 'u', long = "usages")]
    usages: Vec<String>,
    /// type filter
    #[argh(option, short = 'n', long = "match-types")]
    match_types: Vec<String>,
    /// print the version
    #[argh(switch, short = 'V', long = "version")]
    version: bool,
    /// the same as -V
    #[argh(switch, short = 'v', hidden_help)]
    version_v: bool,
    /// an old option util-linux accepts and ignores, with its value
    #[argh(option, short = 'w', hidden_help)]
    _w: Vec<String>,
}

const STYLE: args::Style = args::Style { permute: true, long: true, abbreviations: true, aliases: &[] };

#[derive(Clone, Copy, PartialEq, Eq)]
enum Output {
    Full,
    Value,
    Device,
    List,
    Udev,
    Export,
}

impl Output {
    /// `-o FORMAT`, the last one given.
    fn of(format: Option<&str>) -> anyhow::Result<Output> {
        Ok(match format {
            None | Some("full") => Output::Full,
            Some("value") => Output::Value,
            Some("device") => Output::Device,
            Some("list") => Output::List,
            Some("udev") => Output::Udev,
            Some("export") => Output::Export,
            Some(other) => return Err(exit::fail(OTHER, format!("unsupported output format {other}"))),
        })
    }
}

/// What blkid was asked to do with the devices.
enum Mode<'o> {
    /// `-p`: every signature of each device given.
    LowLevel(&'o Options),
    /// `-L`, `-U` (and `-l -o device -t LABEL|UUID=`): the one device with the tag.
    Evaluate,
    /// `-l -t`: the first device with the tag.
    Lookup,
    /// The cache-style listing of the devices given, or of all.
    HighLevel,
}

pub fn main(name: &str, argv: &[OsString]) -> anyhow::Result<ExitCode> {
    let Some((a, line)) = args::parse_util_linux::<Args>(name, &STYLE, argv, usage)? else {
        return Ok(ExitCode::SUCCESS);
    };
    let try_help = args::try_help(name);
    if a.version || a.version_v {
        println!("{name} from krazybox {}  (libblkid 2.38.1 compatible)", env!("CARGO_PKG_VERSION"));
        return Ok(ExitCode::SUCCESS);
    }
    if a.list_filesystems {
        let mut out = io::stdout().lock();
        for p in probe::superblocks::PROBERS {
            writeln!(out, "{}", p.name)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !a.usages.is_empty() && !a.match_types.is_empty() {
        return Err(exit::fail(OTHER, "mutually exclusive arguments: --usages --match-types"));
    }
    if a.match_tag.len() >= 127 {
        return Err(exit::fail(OTHER, format!("Too many tags specified\n{try_help}")));
    }
    let output = Output::of(a.output.last().map(String::as_str))?;
    let opts = probe_options(&a)?;
    let search = search_token(&line.given).map_err(|m| exit::fail(OTHER, format!("{m}\n{try_help}")))?;
    let mut eval = !a.label.is_empty() || !a.uuid.is_empty();
    let mut lookup = a.list_one;

    // Like util-linux, arguments that are not block devices or regular files are dropped silently.
    let devices: Vec<PathBuf> = line.positionals.iter().map(PathBuf::from).filter(|d| probeable(d)).collect();
    if !line.positionals.is_empty() && devices.is_empty() {
        return Ok(ExitCode::from(NOT_FOUND));
    }
    if lookup && output == Output::Device && matches!(&search, Some((t, _)) if t == "LABEL" || t == "UUID") {
        eval = true;
        lookup = false;
    }
    if a.garbage_collect {
        return Ok(ExitCode::SUCCESS);
    }

    let mut p = Printer {
        out: io::BufWriter::new(io::stdout().lock()),
        output,
        raw: a.no_encoding,
        show: a.match_tag,
        first: true,
        columns: Columns::new(terminal_width().unwrap_or(80)),
    };
    if !eval && output == Output::List {
        if a.probe {
            return Err(exit::fail(OTHER, "The low-level probing mode does not support 'list' output format"));
        }
        p.list_header()?;
    }
    let mode = if a.probe {
        Mode::LowLevel(&opts)
    } else if eval {
        Mode::Evaluate
    } else if lookup {
        Mode::Lookup
    } else {
        Mode::HighLevel
    };
    let status = p.run(mode, &devices, search)?;
    p.out.flush()?;
    Ok(ExitCode::from(status))
}

/// What `-O`, `-S`, `-u`, `-n` and `-D` ask of the low-level probe.
fn probe_options(a: &Args) -> anyhow::Result<Options> {
    let mut opts = Options { part_entry: !a.no_part_details, ..Options::default() };
    if let Some(o) = a.offset.last() {
        opts.offset = parse_size(o).map_err(|e| exit::fail(OTHER, format!("invalid offset argument: '{o}': {e}")))?;
    }
    if let Some(s) = a.size.last() {
        let size = parse_size(s).map_err(|e| exit::fail(OTHER, format!("invalid size argument: '{s}': {e}")))?;
        // libblkid reads `-S 0` as "to the end of the device".
        opts.size = (size > 0).then_some(size);
    }
    if let Some(u) = a.usages.last() {
        opts.usages = Some(usage_filter(u).map_err(|m| exit::fail(OTHER, m))?);
    }
    if let Some(n) = a.match_types.last() {
        opts.types = Some(type_filter(n).map_err(|m| exit::fail(OTHER, m))?);
    }
    Ok(opts)
}

/// The one NAME=value pair of -t, -L or -U, in command-line order: -L and -U
/// replace an earlier search, -t refuses to.
fn search_token(given: &[args::Given]) -> Result<Option<(String, String)>, &'static str> {
    let mut search = None;
    for g in given {
        let value = g.value.clone().unwrap_or_default();
        match g.long {
            "--label" => search = Some(("LABEL".to_string(), value)),
            "--uuid" => search = Some(("UUID".to_string(), value)),
            "--match-token" => {
                if search.is_some() {
                    return Err("Can only search for one NAME=value pair");
                }
                search = Some(parse_tag_string(&value).ok_or("-t needs NAME=value pair")?);
            }
            _ => {}
        }
    }
    Ok(search)
}

/// libblkid's `blkid_parse_tag_string`: `NAME=value`, the value optionally in
/// single or double quotes, never empty.
fn parse_tag_string(token: &str) -> Option<(String, String)> {
    let (name, mut value) = token.split_once('=')?;
    if let Some(q) = value.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let inner = &value[1..];
        value = &inner[..inner.rfind(q)?];
    }
    (!value.is_empty()).then(|| (name.to_string(), value.to_string()))
}

/// `-u [no]filesystem,raid,crypto,other`; words match by prefix as util-linux's do.
fn usage_filter(list: &str) -> Result<Filter, String> {
    let (negate, rest) = match list.strip_prefix("no") {
        Some(r) => (true, r),
        None => (false, list),
    };
    let bad = |word: &str| format!("unknown keyword in -u <list> argument: '{word}'");
    if rest.is_empty() {
        return Err(bad(list));
    }
    let mut names = Vec::new();
    let mut word = rest;
    loop {
        let known = ["filesystem", "raid", "crypto", "other"].into_iter().find(|k| word.starts_with(k));
        names.push(known.ok_or_else(|| bad(word))?.to_string());
        match word.find(',') {
            Some(c) => word = &word[c + 1..],
            None => break,
        }
    }
    Ok(Filter { negate, names })
}

/// `-n [no]type,type...`.
fn type_filter(list: &str) -> Result<Filter, String> {
    let (negate, rest) = match list.strip_prefix("no") {
        Some(r) => (true, r),
        None => (false, list),
    };
    if rest.is_empty() {
        return Err("error: -u <list> argument is empty".into());
    }
    Ok(Filter { negate, names: rest.split(',').map(String::from).collect() })
}

/// What `stat` says util-linux probes: block devices and regular files (and UBI
/// character devices).
fn probeable(dev: &Path) -> bool {
    let Ok(md) = std::fs::metadata(dev) else { return false };
    let ft = md.file_type();
    if ft.is_block_device() || ft.is_file() {
        return true;
    }
    // UBI volumes are known by the driver name in Linux's sysfs.
    #[cfg(target_os = "linux")]
    if ft.is_char_device() {
        use std::os::unix::fs::MetadataExt;
        let (major, minor) = (nix::sys::stat::major(md.rdev()), nix::sys::stat::minor(md.rdev()));
        let sys = format!("/sys/dev/char/{major}:{minor}");
        return std::fs::read_link(sys).is_ok_and(|l| l.file_name().is_some_and(|n| n.as_bytes().starts_with(b"ubi")));
    }
    false
}

/// A device's high-level tags; `None` when nothing was found.
fn high_level_tags(dev: &Path) -> Option<Vec<Tag>> {
    match highlevel::probe(dev) {
        Ok(tags) => tags,
        // libblkid keeps a device it may not read, with whatever the cache knew
        // of it: with no cache, nothing, so it is listed without tags.
        Err(e) if matches!(e.raw_os_error(), Some(nix::libc::EPERM | nix::libc::EACCES | nix::libc::ENOENT)) => {
            Some(Vec::new())
        }
        Err(e) => {
            log::debug!("{}: {e}", dev.display());
            None
        }
    }
}

/// The C library's message for an I/O error, without Rust's "(os error N)".
fn strerror(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_string(),
        None => e.to_string(),
    }
}

/// A value as printed: raw with `-d`, else escaped as util-linux does.
fn escaped(value: &[u8], special: &[u8], raw: bool) -> Vec<u8> {
    if raw {
        value.to_vec()
    } else {
        probe::escape_value(value, special)
    }
}

struct Printer<W: Write> {
    out: W,
    output: Output,
    raw: bool,
    show: Vec<String>,
    /// No device printed yet: export and udev put a blank line between devices.
    first: bool,
    /// The `-o list` table's column widths.
    columns: Columns,
}

impl<W: Write> Printer<W> {
    /// Runs `mode` over `devices`; returns the exit status.
    fn run(&mut self, mode: Mode<'_>, devices: &[PathBuf], search: Option<(String, String)>) -> anyhow::Result<u8> {
        Ok(match mode {
            Mode::LowLevel(opts) => {
                if devices.is_empty() {
                    return Err(exit::fail(OTHER, "The low-level probing mode requires a device"));
                }
                let mut status = 0;
                for dev in devices {
                    status = self.lowprobe_device(dev, opts)?;
                    if status != 0 {
                        break;
                    }
                }
                status
            }
            Mode::Evaluate => {
                // Like libblkid's evaluation, this ignores the device arguments.
                let (name, value) = search.unwrap_or_default();
                match probe::find_devices(&name, value.as_bytes())?.first() {
                    Some(dev) => {
                        self.device(dev)?;
                        0
                    }
                    None => NOT_FOUND,
                }
            }
            Mode::Lookup => {
                let Some((name, value)) = search else {
                    return Err(exit::fail(OTHER, "The lookup option requires a search type specified using -t"));
                };
                self.lookup(devices, &name, value.as_bytes())?
            }
            Mode::HighLevel if devices.is_empty() => self.high_level(&probe::block_devices()?, search.as_ref())?,
            Mode::HighLevel => self.high_level(devices, search.as_ref())?,
        })
    }

    fn shown(&self, name: &str) -> bool {
        self.show.is_empty() || self.show.iter().any(|s| s == name)
    }

    fn separated(&self) -> bool {
        matches!(self.output, Output::Udev | Output::Export)
    }

    /// One tag; `num` counts the tags printed for this device, from 1.
    fn value(&mut self, num: usize, dev: &Path, name: &str, value: &[u8]) -> io::Result<()> {
        let value = until_nul(value);
        let dev = dev.as_os_str().as_bytes();
        let o = &mut self.out;
        match self.output {
            Output::Value => {
                o.write_all(value)?;
                o.write_all(b"\n")
            }
            Output::Udev => o.write_all(&udev_line(name, value)),
            Output::Export => {
                if num == 1 {
                    o.write_all(b"DEVNAME=")?;
                    o.write_all(dev)?;
                    o.write_all(b"\n")?;
                }
                write!(o, "{name}=")?;
                o.write_all(&escaped(value, probe::EXPORT_SPECIAL, self.raw))?;
                o.write_all(b"\n")
            }
            _ => {
                if num == 1 {
                    o.write_all(dev)?;
                    o.write_all(b":")?;
                }
                write!(o, " {name}=\"")?;
                o.write_all(&escaped(value, probe::FULL_SPECIAL, self.raw))?;
                o.write_all(b"\"")
            }
        }
    }

    /// `blkid -p DEV`: the exit status for this device.
    fn lowprobe_device(&mut self, dev: &Path, opts: &Options) -> io::Result<u8> {
        let probed = match probe::probe_path(dev, opts) {
            Ok(p) => p,
            Err(e) => {
                if e.raw_os_error().is_some() {
                    self.out.flush()?;
                    eprintln!("blkid: error: {}: {}", dev.display(), strerror(&e));
                } else {
                    log::debug!("{}: {e}", dev.display());
                }
                return Ok(NOT_FOUND);
            }
        };
        let tags = match probed {
            Probed::Nothing => Vec::new(),
            Probed::Tags(tags) => tags,
            Probed::Ambivalent(found) => {
                if self.output == Output::Udev {
                    if let Some(line) = udev_ambivalent(&found) {
                        self.out.write_all(&line)?;
                    }
                } else {
                    self.out.flush()?;
                    eprintln!(
                        "blkid: {}: ambivalent result (probably more filesystems on the device, use wipefs(8) to see more details)",
                        dev.display()
                    );
                }
                return Ok(AMBIVALENT);
            }
        };
        if !tags.is_empty() && !self.first && self.separated() {
            self.out.write_all(b"\n")?;
        }
        if !tags.is_empty() && self.output == Output::Device {
            self.device(dev)?;
            return Ok(0);
        }
        let mut num = 1;
        for t in &tags {
            if self.shown(t.name) {
                self.value(num, dev, t.name, &t.value)?;
                num += 1;
            }
        }
        self.first = false;
        // util-linux ends the line even when -s left no tag to print.
        if !tags.is_empty() && matches!(self.output, Output::Full | Output::List) {
            self.out.write_all(b"\n")?;
        }
        Ok(if tags.is_empty() { NOT_FOUND } else { 0 })
    }

    fn device(&mut self, dev: &Path) -> io::Result<()> {
        self.out.write_all(dev.as_os_str().as_bytes())?;
        self.out.write_all(b"\n")
    }

    /// `blkid [DEV...]`: the high-level tags of every device that has some and
    /// matches the `-t` search; the exit status.
    fn high_level(&mut self, devices: &[PathBuf], search: Option<&(String, String)>) -> io::Result<u8> {
        let mut status = NOT_FOUND;
        for dev in devices {
            let Some(tags) = high_level_tags(dev) else { continue };
            if let Some((name, value)) = search {
                if !tags.iter().any(|t| t.name == name && t.value == value.as_bytes()) {
                    continue;
                }
            }
            self.print_tags(dev, &tags)?;
            status = 0;
        }
        Ok(status)
    }

    /// A device's high-level tags (util-linux `print_tags`).
    fn print_tags(&mut self, dev: &Path, tags: &[Tag]) -> io::Result<()> {
        match self.output {
            Output::List => return self.list_line(dev, tags),
            Output::Device => return self.device(dev),
            _ => {}
        }
        let mut num = 1;
        for t in tags {
            if !self.shown(t.name) {
                continue;
            }
            if num == 1 && !self.first && self.separated() {
                self.out.write_all(b"\n")?;
            }
            self.value(num, dev, t.name, &t.value)?;
            num += 1;
        }
        if num > 1 {
            if self.output == Output::Full {
                self.out.write_all(b"\n")?;
            }
            self.first = false;
        }
        Ok(())
    }

    /// `-l -t NAME=value`: the first of the given devices that matches, else the
    /// first matching device of the system.
    fn lookup(&mut self, devices: &[PathBuf], name: &str, value: &[u8]) -> io::Result<u8> {
        let matches = |tags: &[Tag]| tags.iter().any(|t| t.name == name && t.value == value);
        for dev in devices {
            if let Some(tags) = high_level_tags(dev).filter(|t| matches(t)) {
                self.print_tags(dev, &tags)?;
                return Ok(0);
            }
        }
        for dev in probe::find_devices(name, value)? {
            if let Some(tags) = high_level_tags(&dev).filter(|t| matches(t)) {
                self.print_tags(&dev, &tags)?;
                return Ok(0);
            }
        }
        Ok(NOT_FOUND)
    }

    fn list_header(&mut self) -> io::Result<()> {
        let line = self.columns.line([b"device", b"fs_type", b"label", b"mount point", b"UUID"]);
        self.out.write_all(&line)?;
        let dashes = terminal_width().unwrap_or(0).saturating_sub(1);
        self.out.write_all(&b"-".repeat(dashes))?;
        self.out.write_all(b"\n")
    }

    fn list_line(&mut self, dev: &Path, tags: &[Tag]) -> io::Result<()> {
        if !dev.exists() {
            return Ok(());
        }
        let get = |n: &str| tags.iter().find(|t| t.name == n).map_or(&[][..], |t| until_nul(&t.value));
        let mtpt = mount_point(dev);
        let cells = [dev.as_os_str().as_bytes(), get("TYPE"), get("LABEL"), mtpt.as_bytes(), get("UUID")];
        let line = self.columns.line(cells);
        self.out.write_all(&line)
    }
}

/// Column widths of the deprecated `-o list` table. util-linux keeps them in
/// statics and widens them on every line while the remaining terminal width is
/// over 80: the label and type columns get up to 8 more, the device and mount
/// point columns half of the rest. Very wide terminals so widen them twice.
struct Columns {
    term: usize,
    widths: [usize; 4],
}

impl Columns {
    fn new(term: usize) -> Columns {
        Columns { term, widths: [10, 7, 8, 14] }
    }

    /// One table line: device, type, label, mount point, UUID.
    fn line(&mut self, cells: [&[u8]; 5]) -> Vec<u8> {
        if self.term > 80 {
            self.term -= 80;
            let w = (self.term / 10).min(8);
            self.term -= 2 * w;
            let half = self.term / 2;
            let [dev, fs, label, mtpt] = &mut self.widths;
            *label += w;
            *fs += w;
            *dev += half;
            *mtpt += half;
        }
        let mut out = Vec::new();
        let mut over = 0;
        for (i, (cell, width)) in cells.iter().zip(self.widths).enumerate() {
            over = pad_word(&mut out, cell, width, over, i == 0);
        }
        out.extend_from_slice(cells[4]);
        out.push(b'\n');
        out
    }
}

/// A word and at least one space up to `max` columns; what overflowed is taken
/// from the next column, or with `wrap` the rest goes to a new line.
fn pad_word(out: &mut Vec<u8>, word: &[u8], max: usize, left: usize, wrap: bool) -> usize {
    let mut len = word.len() + left;
    let mut over = 0;
    out.extend_from_slice(word);
    if wrap && len > max {
        out.push(b'\n');
        len = 0;
    } else if len > max {
        over = len - max;
    }
    out.extend(std::iter::repeat(b' ').take(max.saturating_sub(len) + 1));
    over
}

/// The terminal width from `COLUMNS`, as util-linux reads it when stdout is not a terminal.
fn terminal_width() -> Option<usize> {
    std::env::var("COLUMNS").ok()?.parse::<usize>().ok().filter(|&c| c > 0 && c <= i32::MAX as usize)
}

/// Where `dev` is mounted, for `-o list`, in util-linux's words.
#[cfg(target_os = "linux")]
fn mount_point(dev: &Path) -> String {
    use krazybox::mount::mountinfo;
    match mountinfo::use_of(dev) {
        mountinfo::Use::Swap => "[SWAP]".into(),
        mountinfo::Use::Mounted(dir) => dir.to_string_lossy().into_owned(),
        mountinfo::Use::InUse => "(in use)".into(),
        mountinfo::Use::NotMounted => "(not mounted)".into(),
    }
}

/// Elsewhere there is no mount table of Linux's to look in: the column says so.
#[cfg(not(target_os = "linux"))]
fn mount_point(_: &Path) -> String {
    "(unknown)".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_escaped_unless_raw() {
        assert_eq!(escaped(b"\t\"", b"\"", false), b"^I\\\"");
        assert_eq!(escaped(b"\t\"", b"\"", true), b"\t\"");
    }

    #[test]
    fn filters_and_tokens() {
        assert_eq!(
            usage_filter("nofilesystem,raid").unwrap(),
            Filter { negate: true, names: vec!["filesystem".into(), "raid".into()] }
        );
        assert_eq!(usage_filter("nofoo,raid").unwrap_err(), "unknown keyword in -u <list> argument: 'foo,raid'");
        assert_eq!(usage_filter("no").unwrap_err(), "unknown keyword in -u <list> argument: 'no'");
        assert_eq!(
            type_filter("ext4,vfat").unwrap(),
            Filter { negate: false, names: vec!["ext4".into(), "vfat".into()] }
        );
        assert_eq!(parse_tag_string("LABEL=\"a b\""), Some(("LABEL".into(), "a b".into())));
        assert_eq!(parse_tag_string("TYPE="), None);
        assert_eq!(parse_tag_string("TYPE"), None);
    }

    #[test]
    fn list_columns() {
        let mut c = Columns::new(80);
        let l = c.line([b"e.img", b"ext4", b"lbl", b"(not mounted)", b"u"]);
        assert_eq!(l, b"e.img      ext4    lbl      (not mounted)  u\n");
        let l = c.line([b"/dev/a-very-long-name", b"ext4", b"", b"x", b"u"]);
        assert!(l.starts_with(b"/dev/a-very-long-name\n           ext4"));
        // 200 columns: widened by 8 and 52, then by 2 and 10 on the next line.
        let mut c = Columns::new(200);
        c.line([b"", b"", b"", b"", b""]);
        assert_eq!(c.widths, [62, 15, 16, 66]);
        c.line([b"", b"", b"", b"", b""]);
        assert_eq!(c.widths, [72, 17, 18, 76]);
    }
}
