//! Mounting and unmounting with util-linux 2.38 mount(8)/umount(8) semantics,
//! on mount(2) and umount2(2) directly (no libmount).
//!
//! [`mount`] resolves the source (a path, a tag through a caller-supplied
//! resolver, a loop device for a regular file), finds the type (given, probed
//! by a caller-supplied prober, or tried from /proc/filesystems), retries
//! read-only on a write-protected source, and makes the extra mount(2) calls
//! that propagation changes and `bind,ro` need. Its errors carry util-linux's
//! messages and the exit status class mount(8) would use.
//!
//! Only `loopdev` and `btrfs` issue ioctls and allow `unsafe`; `forbid` here
//! would extend to them, so this file relies on the crate-wide `deny`.

pub mod btrfs;
pub mod fstab;
pub mod loopdev;
pub mod mountinfo;
pub mod options;
pub mod probe_glue;
pub mod source;

use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::Duration;

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};

use loopdev::{LoopDevice, LoopOptions};
use options::{Call, MountOptions};
use source::{Resolver, Source, SourceError};

/// Finds the filesystem type on a device (`Ok(None)`: nothing recognised).
pub type Prober<'a> = &'a dyn Fn(&Path) -> io::Result<Option<String>>;

/// The line mount(8) prints after any failed mount(2) call.
pub const DMESG_HINT: &str = "dmesg(1) may have more information after failed mount system call.";

/// The warning mount(8) prints after falling back to a read-only mount.
pub const READ_ONLY_WARNING: &str = "WARNING: source write-protected, mounted read-only.";

/// A mount request: what mount(8) gets from its command line.
#[derive(Clone)]
pub struct MountSpec<'a> {
    /// Device, file, directory (bind/move) or tag; `None` for a remount or a
    /// propagation change, which need only the target.
    pub source: Option<String>,
    pub target: PathBuf,
    /// `-t`: one type, `a,b` tried in order (`auto` in the list probes), a
    /// `noa,b` pattern excluding types, or `None`/`auto` to probe.
    pub fstype: Option<String>,
    /// `-o`.
    pub options: String,
    /// `-r`: same as `ro`.
    pub read_only: bool,
    /// `-w`: same as `rw`, and no read-only fallback.
    pub read_write: bool,
    /// Accept a bare UUID as source (see [`Source::parse_or_bare_uuid`]).
    pub bare_uuid: bool,
    pub resolver: Option<Resolver<'a>>,
    pub prober: Option<Prober<'a>>,
}

impl fmt::Debug for MountSpec<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MountSpec")
            .field("source", &self.source)
            .field("target", &self.target)
            .field("fstype", &self.fstype)
            .field("options", &self.options)
            .field("read_only", &self.read_only)
            .field("read_write", &self.read_write)
            .finish_non_exhaustive()
    }
}

impl<'a> MountSpec<'a> {
    pub fn new(source: impl Into<String>, target: impl Into<PathBuf>) -> MountSpec<'a> {
        MountSpec { source: Some(source.into()), ..MountSpec::target_only(target) }
    }

    /// A request without source: `remount` or propagation options.
    pub fn target_only(target: impl Into<PathBuf>) -> MountSpec<'a> {
        MountSpec {
            source: None,
            target: target.into(),
            fstype: None,
            options: String::new(),
            read_only: false,
            read_write: false,
            bare_uuid: false,
            resolver: None,
            prober: None,
        }
    }

    pub fn fstype(mut self, fstype: impl Into<String>) -> Self {
        self.fstype = Some(fstype.into());
        self
    }

    pub fn options(mut self, options: impl Into<String>) -> Self {
        self.options = options.into();
        self
    }

    pub fn resolver(mut self, resolver: Resolver<'a>) -> Self {
        self.resolver = Some(resolver);
        self
    }

    pub fn prober(mut self, prober: Prober<'a>) -> Self {
        self.prober = Some(prober);
        self
    }
}

/// What was mounted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mounted {
    /// The source given to mount(2): the device (a loop device for a file).
    pub source: PathBuf,
    pub target: PathBuf,
    /// The type that worked (`None` for bind, move, propagation).
    pub fstype: Option<String>,
    /// Flags of the main mount(2) call, `MS_RDONLY` included when forced.
    pub flags: MsFlags,
    /// The loop device set up for a regular file; it has autoclear, so it
    /// goes away with the unmount.
    pub loop_device: Option<PathBuf>,
    /// Mounted read-only because the source refused writing: mount(8) then
    /// prints [`READ_ONLY_WARNING`].
    pub forced_read_only: bool,
    /// Members of a multi-device btrfs registered before mounting.
    pub registered: Vec<PathBuf>,
}

impl Mounted {
    /// The warning mount(8) prints after this mount, if any.
    pub fn warning(&self) -> Option<&'static str> {
        self.forced_read_only.then_some(READ_ONLY_WARNING)
    }

    fn plain(source: PathBuf, target: PathBuf, flags: MsFlags) -> Mounted {
        Mounted {
            source,
            target,
            fstype: None,
            flags,
            loop_device: None,
            forced_read_only: false,
            registered: Vec::new(),
        }
    }
}

/// What kind of failure, as util-linux classes them for mount(8)'s and
/// umount(8)'s exit statuses (`MNT_EX_*`; the applets map them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    /// Bad invocation, unknown tag, bad options.
    Usage,
    /// Out of memory and the like.
    System,
    /// mount(2)/umount(2) or loop setup failed.
    Failure,
}

/// A failed mount or unmount, worded as util-linux words it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub category: Category,
    /// What the message is about: the target, else the source.
    pub spec: String,
    /// util-linux's message, without the final period.
    pub message: String,
    /// The errno of the failed system call, when one failed.
    pub errno: Option<Errno>,
    /// A further explanation (printed on its own line).
    pub hint: Option<String>,
    /// `nofail` was given and util-linux would report success.
    pub nofail: bool,
}

impl Error {
    fn new(category: Category, spec: impl Into<String>, message: impl Into<String>) -> Error {
        Error { category, spec: spec.into(), message: message.into(), errno: None, hint: None, nofail: false }
    }

    /// mount(8) adds [`DMESG_HINT`] when the system call itself failed.
    pub fn syscall_failed(&self) -> bool {
        self.errno.is_some()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}.", self.spec, self.message)
    }
}

impl std::error::Error for Error {}

/// Mounts as mount(8) does, with mount(2) calls (one per type tried, then one
/// per propagation change and the `bind,ro` remount). A regular file is
/// attached to a loop device first (loop(4)); several btrfs members found
/// for one tag are registered first (`BTRFS_IOC_SCAN_DEV`).
///
/// The stages are libmount's: the options, the operations that need no
/// source device (remount, propagation, bind and move), resolving the source,
/// a loop device for a file, registering btrfs members, then the types in
/// turn with the read-only fallback.
pub fn mount(spec: &MountSpec<'_>) -> Result<Mounted, Error> {
    let target = canonical_or_given(&spec.target);
    let tgt = target.display().to_string();
    let mut opts = options_of(spec)?;
    if let Some(done) = mount_without_device(spec, &target, &tgt, &opts) {
        return done;
    }
    let Some(given) = spec.source.as_deref() else {
        return Err(Error::new(Category::Usage, &tgt, "no mount source specified"));
    };
    let (parsed, devices) = resolve_source(spec, given, &tgt, &opts)?;
    let (device, loop_device, mut forced_read_only) = attach_loop(spec, &devices[0], &target, &tgt, &mut opts)?;
    let src = device.display().to_string();

    let probed = |dev: &Path| -> Option<String> {
        spec.prober.and_then(|p| {
            p(dev).unwrap_or_else(|e| {
                log::debug!("probing {}: {e}", dev.display());
                None
            })
        })
    };
    let attempts = type_attempts(spec.fstype.as_deref(), &device, &probed);
    let btrfs_type = match &attempts {
        Attempts::One(t) => Some(t.clone()),
        _ if devices.len() > 1 => probed(&device),
        _ => None,
    };
    let registered = register_members(&parsed, &devices, btrfs_type.as_deref(), &tgt)?;

    match try_types_read_only_fallback(&attempts, &src, &target, &mut opts) {
        Ok((fstype, flags, fell_back)) => {
            // The mount holds the loop device now; closing ours lets
            // autoclear detach it at unmount.
            let loop_path = loop_device.map(LoopDevice::release);
            forced_read_only |= fell_back;
            Ok(Mounted {
                source: device,
                target,
                fstype: Some(fstype),
                flags,
                loop_device: loop_path,
                forced_read_only,
                registered,
            })
        }
        Err(Failed { errno, fstype, applying_flags }) => {
            let mut err = mount_error(errno, &tgt, &target, &src, fstype.as_deref(), &opts, applying_flags);
            if btrfs_type.as_deref() == Some("btrfs") || fstype.as_deref() == Some("btrfs") {
                err.hint = btrfs_missing_members_hint(&device, &devices, &src).or(err.hint);
            }
            Err(err)
        }
    }
}

/// The mount options, with `-r` and `-w` applied over `-o`.
fn options_of(spec: &MountSpec<'_>) -> Result<MountOptions, Error> {
    let mut opts = MountOptions::parse(&spec.options).map_err(|_| option_error(spec))?;
    if spec.read_only {
        opts.flags.insert(MsFlags::MS_RDONLY);
        opts.read_only = Some(true);
    }
    if spec.read_write {
        opts.flags.remove(MsFlags::MS_RDONLY);
        opts.read_only = Some(false);
    }
    Ok(opts)
}

/// The operations on an existing mount or tree, which open no device: a
/// remount, a propagation change, a bind or a move. None for a real mount.
fn mount_without_device(
    spec: &MountSpec<'_>,
    target: &Path,
    tgt: &str,
    opts: &MountOptions,
) -> Option<Result<Mounted, Error>> {
    if opts.flags.contains(MsFlags::MS_REMOUNT) {
        return Some(remount(spec, target, opts));
    }
    if opts.propagation_only() && spec.source.is_none() {
        let done = run_calls(opts, "none", target, None, opts.flags)
            .map_err(|(errno, _)| mount_error(errno, tgt, target, "none", None, opts, true))
            .map(|flags| Mounted::plain("none".into(), target.to_path_buf(), flags));
        return Some(done);
    }
    let given = spec.source.as_deref()?;
    if opts.flags.intersects(MsFlags::MS_BIND | MsFlags::MS_MOVE) {
        let src = canonical_or_given(Path::new(given));
        let shown = src.display().to_string();
        let done = run_calls(opts, &shown, target, None, opts.flags)
            .map_err(|(errno, applying)| mount_error(errno, tgt, target, &shown, None, opts, applying))
            .map(|flags| Mounted::plain(src, target.to_path_buf(), flags));
        return Some(done);
    }
    None
}

/// The source as parsed and the devices it names (canonical; several for a
/// multi-device btrfs tag). A tag that names nothing is a usage error that
/// `nofail` forgives.
fn resolve_source(
    spec: &MountSpec<'_>,
    given: &str,
    tgt: &str,
    opts: &MountOptions,
) -> Result<(Source, Vec<PathBuf>), Error> {
    let parsed = if spec.bare_uuid { Source::parse_or_bare_uuid(given) } else { Source::parse(given) };
    let devices = parsed.resolve(spec.resolver).map_err(|e| match e {
        // util-linux names the source as it was written, quotes and all.
        SourceError::NotFound(_) => {
            // Reported before util-linux canonicalizes the target: named as given.
            let mut err = Error::new(Category::Usage, spec.target.display().to_string(), format!("can't find {given}"));
            err.nofail = opts.nofail;
            err
        }
        e => source_error(e, tgt, opts.nofail),
    })?;
    let devices = devices.iter().map(|d| canonical_or_given(d)).collect();
    Ok((parsed, devices))
}

/// The device to mount: `device` itself, or for a regular file a loop device,
/// as libmount attaches one for types that live on block devices (and for
/// files over 1 KiB when no type is given). Also says whether the mount
/// became read-only because a shared loop device is.
fn attach_loop(
    spec: &MountSpec<'_>,
    device: &Path,
    target: &Path,
    tgt: &str,
    opts: &mut MountOptions,
) -> Result<(PathBuf, Option<LoopDevice>, bool), Error> {
    let nodev = nodev_filesystems();
    let single_type = spec.fstype.as_deref().filter(|t| !t.contains(',') && *t != "auto");
    let block_type = single_type.map_or(true, |t| !nodev.iter().any(|n| n == t));
    let Some(meta) = device.metadata().ok().filter(|m| m.is_file()) else {
        return Ok((device.to_path_buf(), None, false));
    };
    if !(opts.wants_loop() || (block_type && meta.len() > 1024)) {
        return Ok((device.to_path_buf(), None, false));
    }
    let (lo, reused) = loop_for_file(device, target, &spec.target, tgt, opts)?;
    let mut forced_read_only = false;
    if lo.is_read_only() && !opts.flags.contains(MsFlags::MS_RDONLY) {
        // A new device is read-only when the file is: the mount follows
        // silently. A shared read-only device is the read-only fallback,
        // with its warning, unless rw was explicit.
        if reused && opts.read_only == Some(false) {
            let mut err = Error::new(Category::Failure, tgt, "mount failed: Read-only file system");
            err.hint = Some(format!("{} is attached read-only", lo.path().display()));
            return Err(err);
        }
        forced_read_only = reused;
        opts.flags.insert(MsFlags::MS_RDONLY);
    }
    Ok((lo.path().to_path_buf(), Some(lo), forced_read_only))
}

/// Several devices share the tag: fine for btrfs, whose members must all be
/// registered with the kernel before the mount. Returns those registered.
fn register_members(
    parsed: &Source,
    devices: &[PathBuf],
    fstype: Option<&str>,
    tgt: &str,
) -> Result<Vec<PathBuf>, Error> {
    source::check_devices(parsed, devices, fstype).map_err(|e| source_error(e, tgt, false))?;
    if devices.len() < 2 {
        return Ok(Vec::new());
    }
    btrfs::register(devices).map_err(|e| Error::new(Category::Failure, tgt, e.to_string()))?;
    Ok(devices.to_vec())
}

/// [`try_types`], and once more read-only when the device is write-protected
/// (EROFS, EACCES) and read-write was not asked for explicitly, as mount(8)
/// does. The flag says whether that fallback happened.
fn try_types_read_only_fallback(
    attempts: &Attempts,
    src: &str,
    target: &Path,
    opts: &mut MountOptions,
) -> Result<(String, MsFlags, bool), Failed> {
    let mut fell_back = false;
    loop {
        match try_types(attempts, src, target, opts) {
            Ok((fstype, flags)) => return Ok((fstype, flags, fell_back)),
            Err(f) => {
                let write_protected = matches!(f.errno, Errno::EROFS | Errno::EACCES);
                if write_protected
                    && !f.applying_flags
                    && !opts.flags.contains(MsFlags::MS_RDONLY)
                    && opts.read_only != Some(false)
                {
                    opts.flags.insert(MsFlags::MS_RDONLY);
                    fell_back = true;
                    continue;
                }
                return Err(f);
            }
        }
    }
}

/// Why a btrfs mount failed when members are missing: how many were found
/// and what to do. None when the kernel has them all.
fn btrfs_missing_members_hint(device: &Path, devices: &[PathBuf], src: &str) -> Option<String> {
    if !matches!(btrfs::devices_ready(device), Ok(false)) {
        return None;
    }
    let found =
        if devices.is_empty() { std::slice::from_ref(&device.to_path_buf()).to_vec() } else { devices.to_vec() };
    let members = btrfs::describe_members(&found).map(|m| format!(" ({m})")).unwrap_or_default();
    Some(format!(
        "the btrfs filesystem on {src} is missing member devices{members}: \
         make all of them available (a UUID= source registers them) or mount with -o degraded"
    ))
}

/// Whether `spec` is mounted already, as `mount -a` decides it (libmount
/// `mnt_table_is_fs_mounted`): a mount on the target whose source is one of
/// the devices the source resolves to (by name or device number), the loop
/// device of a source file, a member of the same multi-device btrfs, the
/// filesystem of a bind source, or the same name for a pseudo filesystem.
/// A source that cannot be resolved is not mounted.
pub fn is_mounted(spec: &MountSpec<'_>) -> bool {
    let Some(given) = spec.source.as_deref() else { return false };
    let target = canonical_or_given(&spec.target);
    let Ok(table) = mountinfo::read() else { return false };
    let here: Vec<&mountinfo::MountInfo> = table.iter().filter(|m| m.mount_point == target).collect();
    if here.is_empty() {
        return false;
    }
    let bind = MountOptions::parse(&spec.options).is_ok_and(|o| o.flags.contains(MsFlags::MS_BIND));
    if bind {
        let Ok(meta) = Path::new(given).metadata() else { return false };
        let dev = meta.dev();
        return here.iter().any(|m| {
            u64::from(m.major) == nix::sys::stat::major(dev) && u64::from(m.minor) == nix::sys::stat::minor(dev)
        });
    }
    if here.iter().any(|m| m.source == given) {
        return true;
    }
    let parsed = if spec.bare_uuid { Source::parse_or_bare_uuid(given) } else { Source::parse(given) };
    let Ok(devices) = parsed.resolve(spec.resolver) else { return false };
    devices.iter().any(|d| {
        let d = canonical_or_given(d);
        if source::is_regular_file(&d) {
            return here.iter().any(|m| loopdev::backing_file(Path::new(&m.source)).ok().flatten() == Some(d.clone()));
        }
        let named = mountinfo::find_by_source(&table, &d);
        here.iter().any(|m| {
            named.iter().any(|n| n.id == m.id)
                || (m.fstype == "btrfs" && btrfs::same_filesystem(Path::new(&m.source), &d))
        })
    })
}

/// The loop device for a regular file: an existing one over the same range
/// of the file is shared (two devices would be two independent caches of
/// the same blocks), a partly overlapping one is an error, else a new one is
/// attached with autoclear (libmount `mnt_context_setup_loopdev`).
fn loop_for_file(
    file: &Path,
    target: &Path,
    given_target: &Path,
    tgt: &str,
    opts: &MountOptions,
) -> Result<(LoopDevice, bool), Error> {
    let offset = opts.offset.unwrap_or(0);
    let sizelimit = opts.sizelimit.unwrap_or(0);
    let failed = |e: io::Error| {
        let mut err = Error::new(Category::Failure, tgt, format!("failed to setup loop device for {}", file.display()));
        err.hint = Some(e.to_string());
        err
    };
    // Already mounted here: the same file and offset on the same target.
    if let Some(top) = mountinfo::read().ok().as_deref().and_then(|t| mountinfo::find_by_mount_point(t, target)) {
        let dev = Path::new(&top.source);
        let same_file = loopdev::backing_file(dev).ok().flatten().is_some_and(|b| Some(b) == file.canonicalize().ok());
        if same_file && loopdev::status(dev).ok().flatten().is_some_and(|i| i.lo_offset == offset) {
            // Found before util-linux canonicalizes the target: named as given.
            let given = given_target.display().to_string();
            return Err(Error::new(Category::Usage, given, format!("{} is already mounted", file.display())));
        }
    }
    if opts.loop_device.is_none() {
        match loopdev::find_overlap(file, offset, sizelimit).map_err(failed)? {
            Some(loopdev::Overlap::Same(dev)) => {
                if let Ok(lo) = LoopDevice::open(&dev) {
                    return Ok((lo, true));
                }
                // Autocleared meanwhile: attach a new one.
            }
            Some(loopdev::Overlap::Overlapping(_)) => {
                return Err(Error::new(
                    Category::Failure,
                    tgt,
                    format!("overlapping loop device exists for {}", file.display()),
                ))
            }
            None => {}
        }
    }
    LoopDevice::attach(
        file,
        &LoopOptions {
            offset,
            sizelimit,
            read_only: opts.flags.contains(MsFlags::MS_RDONLY),
            autoclear: true,
            device: opts.loop_device.as_ref().map(PathBuf::from),
        },
    )
    .map(|lo| (lo, false))
    .map_err(failed)
}

/// The types to try on `device`: `-t` as given (a list, `auto` in a list
/// probing, a `no…` pattern over /proc/filesystems), else the probed type,
/// else the type the device is mounted as already, else /proc/filesystems.
fn type_attempts(fstype: Option<&str>, device: &Path, probed: &dyn Fn(&Path) -> Option<String>) -> Attempts {
    match fstype {
        Some(t) if t.starts_with("no") => Attempts::Pattern(kernel_filesystems_matching(t)),
        Some(t) if t.contains(',') => Attempts::List(
            t.split(',').filter_map(|t| if t == "auto" { probed(device) } else { Some(t.to_string()) }).collect(),
        ),
        Some(t) if t != "auto" => Attempts::One(t.to_string()),
        _ => match probed(device).or_else(|| type_mounted_from(device)) {
            Some(t) => Attempts::One(t),
            None => Attempts::Pattern(kernel_filesystems_matching("")),
        },
    }
}

/// The type a device is already mounted as. Without a prober this saves
/// guessing: trying another type on a device in use gives `EBUSY`, which
/// ends the walk through /proc/filesystems.
fn type_mounted_from(device: &Path) -> Option<String> {
    let table = mountinfo::read().ok()?;
    mountinfo::find_by_source(&table, device).last().map(|m| m.fstype.clone())
}

/// Types to try.
enum Attempts {
    /// One type, as given: no `MS_SILENT`.
    One(String),
    /// A list from `-t a,b`: each tried with `MS_SILENT` until one works.
    List(Vec<String>),
    /// From /proc/filesystems: tried with `MS_SILENT`, stopping at the first
    /// error other than "not this type" (`EINVAL`, `ENODEV`).
    Pattern(Vec<String>),
}

/// A mount(2) failure.
struct Failed {
    errno: Errno,
    fstype: Option<String>,
    /// The main call worked and a propagation/bind-remount call failed.
    applying_flags: bool,
}

fn try_types(attempts: &Attempts, src: &str, target: &Path, opts: &MountOptions) -> Result<(String, MsFlags), Failed> {
    let (types, silent, stop_early): (&[String], bool, bool) = match attempts {
        Attempts::One(t) => (std::slice::from_ref(t), false, false),
        Attempts::List(l) => (l, true, false),
        Attempts::Pattern(l) => (l, true, true),
    };
    let mut last = Failed { errno: Errno::EINVAL, fstype: None, applying_flags: false };
    for t in types {
        let mut flags = opts.flags;
        if silent {
            flags.insert(MsFlags::MS_SILENT);
        }
        match run_calls(opts, src, target, Some(t), flags) {
            Ok(flags) => return Ok((t.clone(), flags)),
            Err((errno, true)) => return Err(Failed { errno, fstype: Some(t.clone()), applying_flags: true }),
            Err((errno, false)) => {
                last = Failed { errno, fstype: Some(t.clone()), applying_flags: false };
                if stop_early && !matches!(errno, Errno::EINVAL | Errno::ENODEV) {
                    break;
                }
            }
        }
    }
    if types.is_empty() {
        last.errno = Errno::ENODEV;
    }
    Err(last)
}

/// A failed call of a plan: the errno, and whether the main call had
/// already worked (so applying propagation or bind flags failed).
type CallFailed = (Errno, bool);

/// Runs the calls of a plan: the main mount(2) with `flags` (the options'
/// flags plus `MS_SILENT`/`MS_RDONLY` adjustments), then the propagation and
/// bind-remount calls (mount(2) with source "none" and no type).
fn run_calls(
    opts: &MountOptions,
    src: &str,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
) -> Result<MsFlags, CallFailed> {
    let silent = flags & MsFlags::MS_SILENT;
    let data = (!opts.data.is_empty()).then_some(opts.data.as_str());
    let mut main_done = opts.propagation_only();
    for call in opts.calls() {
        let none = Some("none");
        let result = match call {
            Call::Main(_) => nix::mount::mount(Some(src), target, fstype, flags, data),
            Call::Propagation(f) => nix::mount::mount(none, target, None::<&str>, f | silent, None::<&str>),
            Call::BindRemount(f) => nix::mount::mount(none, target, None::<&str>, f | silent, None::<&str>),
        };
        result.map_err(|errno| (errno, main_done))?;
        main_done = true;
    }
    Ok(flags - MsFlags::MS_SILENT)
}

/// `mount -o remount`: the mount's current options (per-mount flags, and
/// superblock options as data) come first and the requested ones override
/// them, as libmount merges mountinfo with the command line.
fn remount(spec: &MountSpec<'_>, target: &Path, opts: &MountOptions) -> Result<Mounted, Error> {
    let tgt = target.display().to_string();
    let table = mountinfo::read().map_err(|e| Error::new(Category::System, &tgt, e.to_string()))?;
    let Some(current) = mountinfo::find_by_mount_point(&table, target) else {
        let mut err = Error::new(Category::Failure, &tgt, "mount point not mounted or bad option");
        err.errno = Some(Errno::EINVAL);
        return Err(err);
    };
    let fs_options: Vec<&str> =
        current.super_options.split(',').filter(|o| !o.is_empty() && *o != "ro" && *o != "rw").collect();
    let merged = if opts.flags.contains(MsFlags::MS_BIND) {
        format!("{},{}", current.options, spec.options)
    } else {
        format!("{},{},{}", current.options, fs_options.join(","), spec.options)
    };
    let mut merged = MountOptions::parse(&merged).map_err(|e| Error::new(Category::Usage, &tgt, e.to_string()))?;
    // -r/-w and the explicit words win over what the mount had.
    merged.flags.set(MsFlags::MS_RDONLY, opts.flags.contains(MsFlags::MS_RDONLY));
    let source = spec.source.clone().unwrap_or_else(|| current.source.clone());
    let fstype = current.fstype.clone();
    let flags = merged.flags;
    run_calls(&merged, &source, target, Some(&fstype), flags).map_err(|(errno, _)| {
        let message = match errno {
            Errno::EINVAL => "mount point not mounted or bad option".to_string(),
            Errno::EBUSY => "mount point is busy".to_string(),
            Errno::EACCES | Errno::EROFS if !flags.contains(MsFlags::MS_RDONLY) => {
                format!("cannot remount {source} read-write, is write-protected")
            }
            _ => format!("mount(2) system call failed: {}", errno.desc()),
        };
        let mut err = Error::new(Category::Failure, &tgt, message);
        err.errno = Some(errno);
        err
    })?;
    Ok(Mounted {
        source: PathBuf::from(source),
        target: target.to_path_buf(),
        fstype: Some(fstype),
        flags,
        loop_device: None,
        forced_read_only: false,
        registered: Vec::new(),
    })
}

/// An option string that cannot be used, as util-linux reports it: before
/// the target is canonicalized, and with the option string as libmount holds
/// it then (`ro` or `rw` first, the other words after).
fn option_error(spec: &MountSpec<'_>) -> Error {
    let words: Vec<&str> = spec.options.split(',').filter(|w| !w.is_empty()).collect();
    let last_ro = words.iter().rev().find(|w| **w == "ro" || **w == "rw").is_some_and(|w| *w == "ro");
    let ro = (spec.read_only || last_ro) && !spec.read_write;
    let rest = words.iter().filter(|w| **w != "ro" && **w != "rw").copied();
    let shown: Vec<&str> = std::iter::once(if ro { "ro" } else { "rw" }).chain(rest).collect();
    let message = format!("failed to parse mount options '{}': Invalid argument", shown.join(","));
    Error::new(Category::Usage, spec.target.display().to_string(), message)
}

fn source_error(e: SourceError, tgt: &str, nofail: bool) -> Error {
    let mut err = Error::new(Category::Usage, tgt, e.to_string());
    err.nofail = nofail && matches!(e, SourceError::NotFound(_));
    err
}

/// util-linux's message for a failed mount(2) (libmount
/// `mnt_context_get_mount_excode`), with a hint where this system differs.
fn mount_error(
    errno: Errno,
    tgt: &str,
    target: &Path,
    src: &str,
    fstype: Option<&str>,
    opts: &MountOptions,
    applying_flags: bool,
) -> Error {
    let flags = opts.flags;
    let mut nofail = false;
    let message = match errno {
        Errno::EPERM => {
            if target.metadata().map(|m| m.is_dir()).unwrap_or(false) {
                "permission denied".to_string()
            } else {
                "mount point is not a directory".to_string()
            }
        }
        // The first mount listing the same source path (libmount
        // `get_already_mounted_source`), not one found by device number.
        Errno::EBUSY => match mountinfo::read().ok().and_then(|t| {
            t.iter().find(|m| Path::new(&m.source) == Path::new(src)).map(|m| m.mount_point.display().to_string())
        }) {
            Some(on) => format!("{src} already mounted on {on}"),
            None => format!("{src} already mounted or mount point busy"),
        },
        Errno::ENOENT => {
            if target.symlink_metadata().is_err() {
                "mount point does not exist".to_string()
            } else if target.metadata().is_err() {
                "mount point is a symbolic link to nowhere".to_string()
            } else if Path::new(src).metadata().is_err() {
                nofail = opts.nofail;
                format!("special device {src} does not exist")
            } else {
                format!("mount(2) system call failed: {}", errno.desc())
            }
        }
        Errno::ENOTDIR => {
            if !target.metadata().map(|m| m.is_dir()).unwrap_or(false) {
                "mount point is not a directory".to_string()
            } else {
                nofail = opts.nofail;
                format!("special device {src} does not exist (a path prefix is not a directory)")
            }
        }
        Errno::EINVAL if applying_flags => "not mount point or bad option".to_string(),
        Errno::EINVAL => format!(
            "wrong fs type, bad option, bad superblock on {src}, missing codepage or helper program, or other error"
        ),
        Errno::EMFILE => "mount table full".to_string(),
        Errno::EIO => format!("can't read superblock on {src}"),
        Errno::ENODEV => match fstype {
            Some(t) => format!("unknown filesystem type '{t}'"),
            None => "unknown filesystem type".to_string(),
        },
        Errno::ENOTBLK => {
            nofail = opts.nofail;
            match Path::new(src).metadata() {
                Err(_) => format!("{src} is not a block device, and stat(2) fails?"),
                Ok(m) if m.is_file() => format!("{src} is not a block device; try \"-o loop\""),
                Ok(_) => format!("{src} is not a block device"),
            }
        }
        Errno::ENXIO => {
            nofail = opts.nofail;
            format!("{src} is not a valid block device")
        }
        Errno::EACCES | Errno::EROFS => {
            if flags.contains(MsFlags::MS_RDONLY) {
                format!("cannot mount {src} read-only")
            } else if opts.read_only == Some(false) {
                format!("{src} is write-protected but explicit read-write mode requested")
            } else if flags.contains(MsFlags::MS_BIND) {
                format!("bind {src} failed")
            } else {
                format!("mount(2) system call failed: {}", errno.desc())
            }
        }
        Errno::ENOMEDIUM => {
            nofail = opts.nofail;
            format!("no medium found on {src}")
        }
        Errno::EBADMSG => format!("cannot mount; probably corrupted filesystem on {src}"),
        _ => format!("mount(2) system call failed: {}", errno.desc()),
    };
    let mut err = Error::new(Category::Failure, tgt, message);
    err.errno = Some(errno);
    err.nofail = nofail;
    if errno == Errno::ENODEV {
        let known = kernel_filesystems().unwrap_or_default().into_iter().any(|(n, _)| Some(n.as_str()) == fstype);
        if let Some(t) = fstype.filter(|_| !known) {
            err.hint = Some(format!(
                "the running kernel has no '{t}' driver (not in /proc/filesystems); \
                 gokrazy's default Raspberry Pi kernel has no btrfs, xfs or ntfs"
            ));
        }
    }
    err
}

/// Unmounts `target` as umount(8) does: a busy filesystem is retried a few
/// times with short pauses; `lazy` detaches it at once (umount2(2)
/// `MNT_DETACH`: gone from the namespace, alive until its last user leaves);
/// `force` adds `MNT_FORCE` (network and FUSE filesystems). `target` may also
/// be a mounted device, whose most recent mount point is used.
pub fn umount(target: &Path, lazy: bool, force: bool) -> Result<(), Error> {
    let mut path = canonical_or_given(target);
    if let Ok(table) = mountinfo::read() {
        if mountinfo::find_by_mount_point(&table, &path).is_none() {
            if let Some(m) = mountinfo::find_by_source(&table, &path).last() {
                path = m.mount_point.clone();
            }
        }
    }
    let mut flags = MntFlags::empty();
    if lazy {
        flags |= MntFlags::MNT_DETACH;
    }
    if force {
        flags |= MntFlags::MNT_FORCE;
    }
    const BUSY_RETRIES: u32 = 5;
    let mut attempt = 0;
    loop {
        match nix::mount::umount2(&path, flags) {
            Ok(()) => return Ok(()),
            Err(Errno::EBUSY) if !lazy && attempt < BUSY_RETRIES => {
                sleep(Duration::from_millis(50 << attempt));
                attempt += 1;
            }
            Err(errno) => {
                let message = match errno {
                    Errno::ENXIO => "invalid block device".to_string(),
                    Errno::EINVAL => "not mounted".to_string(),
                    Errno::EIO => "can't write superblock".to_string(),
                    Errno::EBUSY => "target is busy".to_string(),
                    Errno::ENOENT => "no mount point specified".to_string(),
                    Errno::EPERM => "must be superuser to unmount".to_string(),
                    Errno::EACCES => "block devices are not permitted on filesystem".to_string(),
                    _ => format!("umount(2) system call failed: {}", errno.desc()),
                };
                let mut err = Error::new(Category::Failure, target.display().to_string(), message);
                err.errno = Some(errno);
                return Err(err);
            }
        }
    }
}

/// Flushes the filesystem that holds `path` to its device (syncfs(2)).
pub fn syncfs(path: &Path) -> io::Result<()> {
    let f = File::open(path)?;
    nix::unistd::syncfs(f.as_raw_fd())?;
    Ok(())
}

/// Types in /proc/filesystems, each with whether it is `nodev` (needs no device).
pub fn kernel_filesystems() -> io::Result<Vec<(String, bool)>> {
    let text = std::fs::read_to_string("/proc/filesystems")?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let nodev = l.starts_with("nodev");
            let name = l.trim_start_matches("nodev").trim();
            (!name.is_empty()).then(|| (name.to_string(), nodev))
        })
        .collect())
}

fn nodev_filesystems() -> Vec<String> {
    kernel_filesystems().unwrap_or_default().into_iter().filter(|(_, nodev)| *nodev).map(|(n, _)| n).collect()
}

/// The device-backed types of /proc/filesystems, in its order, filtered by a
/// `-t` pattern: `""` keeps all, `noa,b` drops `a` and `b` (mount(8) `-t`).
fn kernel_filesystems_matching(pattern: &str) -> Vec<String> {
    let excluded: Vec<&str> = match pattern.strip_prefix("no") {
        Some(rest) => rest.split(',').map(|t| t.strip_prefix("no").unwrap_or(t)).collect(),
        None => Vec::new(),
    };
    kernel_filesystems()
        .unwrap_or_default()
        .into_iter()
        .filter(|(name, nodev)| !nodev && !excluded.contains(&name.as_str()))
        .map(|(n, _)| n)
        .collect()
}

pub(crate) fn canonical_or_given(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// Unmounts its target when dropped (after EBUSY retries, then lazily), so a
/// failing test or an early return leaves no mount behind.
#[derive(Debug)]
pub struct MountGuard {
    target: Option<PathBuf>,
}

impl MountGuard {
    pub fn new(target: impl Into<PathBuf>) -> MountGuard {
        MountGuard { target: Some(target.into()) }
    }

    pub fn target(&self) -> &Path {
        self.target.as_deref().unwrap_or(Path::new(""))
    }

    /// Unmounts now and reports how it went.
    pub fn unmount(mut self) -> Result<(), Error> {
        match self.target.take() {
            Some(t) => umount(&t, false, false),
            None => Ok(()),
        }
    }

    /// Keeps the mount: the guard no longer unmounts it.
    pub fn disarm(mut self) -> PathBuf {
        self.target.take().unwrap_or_default()
    }
}

impl From<&Mounted> for MountGuard {
    fn from(m: &Mounted) -> MountGuard {
        MountGuard::new(&m.target)
    }
}

impl Drop for MountGuard {
    fn drop(&mut self) {
        if let Some(t) = self.target.take() {
            if let Err(e) = umount(&t, false, false) {
                if e.errno == Some(Errno::EBUSY) {
                    log::warn!("{}: busy, detaching lazily", t.display());
                    let _ = umount(&t, true, false);
                }
            }
        }
    }
}

/// Detaches its loop device when dropped (`LOOP_CLR_FD`; if the device is
/// still mounted the kernel detaches it at unmount instead).
#[derive(Debug)]
pub struct LoopGuard {
    device: Option<LoopDevice>,
}

impl LoopGuard {
    pub fn new(device: LoopDevice) -> LoopGuard {
        LoopGuard { device: Some(device) }
    }

    /// Attaches `file` read-write (read-only if asked), without autoclear.
    pub fn attach(file: &Path, read_only: bool) -> io::Result<LoopGuard> {
        let options = LoopOptions { read_only, ..LoopOptions::default() };
        Ok(LoopGuard::new(LoopDevice::attach(file, &options)?))
    }

    pub fn path(&self) -> &Path {
        self.device.as_ref().map_or(Path::new(""), |d| d.path())
    }

    pub fn device(&self) -> Option<&LoopDevice> {
        self.device.as_ref()
    }

    /// Detaches now and reports how it went.
    pub fn detach(mut self) -> io::Result<()> {
        match self.device.take() {
            Some(d) => d.detach(),
            None => Ok(()),
        }
    }
}

impl Drop for LoopGuard {
    fn drop(&mut self) {
        if let Some(d) = self.device.take() {
            let _ = d.detach();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_as_util_linux_words_them() {
        let e = Error::new(Category::Failure, "/mnt", "mount point does not exist");
        assert_eq!(e.to_string(), "/mnt: mount point does not exist.");
        assert!(!e.syscall_failed());
    }

    #[test]
    fn type_patterns() {
        let all = kernel_filesystems_matching("");
        let nodev = nodev_filesystems();
        assert!(!all.is_empty());
        assert!(all.iter().all(|t| !nodev.contains(t)), "nodev types are never tried");
        let first = all[0].clone();
        let without = kernel_filesystems_matching(&format!("no{first},nosuchtype"));
        assert_eq!(without, all[1..]);
    }

    #[test]
    fn type_attempts_follow_the_request() {
        let probe = |_: &Path| Some("ext4".to_string());
        let dev = Path::new("/nonexistent/device");
        assert!(matches!(type_attempts(Some("xfs"), dev, &probe), Attempts::One(t) if t == "xfs"));
        assert!(matches!(type_attempts(None, dev, &probe), Attempts::One(t) if t == "ext4"));
        assert!(matches!(type_attempts(Some("auto"), dev, &probe), Attempts::One(t) if t == "ext4"));
        assert!(
            matches!(type_attempts(Some("vfat,auto,xfs"), dev, &probe), Attempts::List(l) if l == ["vfat", "ext4", "xfs"])
        );
        let nothing = |_: &Path| None;
        assert!(matches!(type_attempts(None, dev, &nothing), Attempts::Pattern(_)));
    }
}
