//! The mount(2) calls of one mount request, in libmount's order: the
//! options, the operations that need no source device (remount, propagation,
//! bind and move), the source's devices, a loop device for an image file,
//! registering btrfs members, then the types in turn with the read-only
//! fallback.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::MsFlags;

use super::filesystem::Filesystem;
use super::loop_setup::attach_loop;
use super::loopdev::LoopDevice;
use super::messages::{btrfs_missing_members_hint, mount_error, option_error, source_error};
use super::mountinfo;
use super::options::{Call, MountOptions};
use super::source::{self, Source, SourceError};
use super::{canonical_or_given, kernel_filesystems_matching, Category, Error, MountSpec, Mounted};

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
    Filesystem::on(devices.to_vec()).register().map_err(|e| Error::new(Category::Failure, tgt, e.to_string()))?;
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
    Filesystem::on(vec![device.to_path_buf()]).mounts(&table).last().map(|m| m.fstype.clone())
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

#[cfg(test)]
mod tests {
    use super::*;

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
