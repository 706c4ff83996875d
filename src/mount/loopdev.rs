//! Loop devices: a regular file seen as a block device, set up through the
//! ioctls of loop(4) on `/dev/loop-control` and `/dev/loopN`.
//!
//! Attaching follows util-linux 2.38 lib/loopdev.c: ask the control device
//! for a free number (`LOOP_CTL_GET_FREE`), configure it in one step
//! (`LOOP_CONFIGURE`, Linux 5.8) or in two on older kernels (`LOOP_SET_FD`
//! then `LOOP_SET_STATUS64`), and start again with another number when
//! someone else took the device in between (`EBUSY`).
#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::Duration;

use nix::errno::Errno;

/// The loop control device (loop(4)).
pub const LOOP_CONTROL: &str = "/dev/loop-control";

/// `LO_FLAGS_READ_ONLY`: the device refuses writes.
pub const LO_FLAGS_READ_ONLY: u32 = 1;
/// `LO_FLAGS_AUTOCLEAR`: the kernel detaches the device at its last close,
/// e.g. when the filesystem mounted from it is unmounted.
pub const LO_FLAGS_AUTOCLEAR: u32 = 4;
/// `LO_FLAGS_PARTSCAN`: scan the device for partitions.
pub const LO_FLAGS_PARTSCAN: u32 = 8;

const LO_NAME_SIZE: usize = 64;
const LO_KEY_SIZE: usize = 32;

/// `struct loop_info64` of linux/loop.h.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct LoopInfo64 {
    pub lo_device: u64,
    pub lo_inode: u64,
    pub lo_rdevice: u64,
    pub lo_offset: u64,
    pub lo_sizelimit: u64,
    pub lo_number: u32,
    pub lo_encrypt_type: u32,
    pub lo_encrypt_key_size: u32,
    pub lo_flags: u32,
    pub lo_file_name: [u8; LO_NAME_SIZE],
    pub lo_crypt_name: [u8; LO_NAME_SIZE],
    pub lo_encrypt_key: [u8; LO_KEY_SIZE],
    pub lo_init: [u64; 2],
}

/// `struct loop_config` of linux/loop.h (the argument of `LOOP_CONFIGURE`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct LoopConfig {
    pub fd: u32,
    pub block_size: u32,
    pub info: LoopInfo64,
    pub reserved: [u64; 8],
}

const _: () = assert!(std::mem::size_of::<LoopInfo64>() == 232);
const _: () = assert!(std::mem::size_of::<LoopConfig>() == 304);

impl LoopInfo64 {
    fn zeroed() -> LoopInfo64 {
        LoopInfo64 {
            lo_device: 0,
            lo_inode: 0,
            lo_rdevice: 0,
            lo_offset: 0,
            lo_sizelimit: 0,
            lo_number: 0,
            lo_encrypt_type: 0,
            lo_encrypt_key_size: 0,
            lo_flags: 0,
            lo_file_name: [0; LO_NAME_SIZE],
            lo_crypt_name: [0; LO_NAME_SIZE],
            lo_encrypt_key: [0; LO_KEY_SIZE],
            lo_init: [0; 2],
        }
    }

    /// The name recorded at setup (truncated by the kernel to 63 bytes).
    pub fn file_name(&self) -> PathBuf {
        let end = self.lo_file_name.iter().position(|&b| b == 0).unwrap_or(LO_NAME_SIZE);
        PathBuf::from(std::ffi::OsStr::from_bytes(&self.lo_file_name[..end]))
    }
}

mod sys {
    use super::{LoopConfig, LoopInfo64};
    // linux/loop.h numbers them without the _IOC size encoding: "bad" ioctls.
    nix::ioctl_none_bad!(loop_ctl_get_free, 0x4C82);
    nix::ioctl_write_int_bad!(loop_set_fd, 0x4C00);
    nix::ioctl_none_bad!(loop_clr_fd, 0x4C01);
    nix::ioctl_write_ptr_bad!(loop_set_status64, 0x4C04, LoopInfo64);
    nix::ioctl_read_bad!(loop_get_status64, 0x4C05, LoopInfo64);
    nix::ioctl_write_ptr_bad!(loop_configure, 0x4C0A, LoopConfig);
}

/// `LOOP_CTL_GET_FREE` (loop(4)): the number of a free device, created if needed.
fn ctl_get_free(ctl: &File) -> nix::Result<u32> {
    // SAFETY: the request takes no argument; `ctl` is an open descriptor.
    let n = unsafe { sys::loop_ctl_get_free(ctl.as_raw_fd()) }?;
    u32::try_from(n).map_err(|_| Errno::EINVAL)
}

/// `LOOP_CONFIGURE` (loop(4), Linux 5.8): bind the backing file and set the status at once.
fn configure(dev: &File, config: &LoopConfig) -> nix::Result<()> {
    // SAFETY: `config` is a live, fully initialised `struct loop_config` the kernel only reads.
    unsafe { sys::loop_configure(dev.as_raw_fd(), config) }.map(drop)
}

/// `LOOP_SET_FD` (loop(4)): bind the backing file.
fn set_fd(dev: &File, backing: &File) -> nix::Result<()> {
    // SAFETY: the argument is a plain descriptor number, passed by value.
    unsafe { sys::loop_set_fd(dev.as_raw_fd(), backing.as_raw_fd()) }.map(drop)
}

/// `LOOP_SET_STATUS64` (loop(4)): set offset, size limit, flags and name.
fn set_status(dev: &File, info: &LoopInfo64) -> nix::Result<()> {
    // SAFETY: `info` is a live, fully initialised `struct loop_info64` the kernel only reads.
    unsafe { sys::loop_set_status64(dev.as_raw_fd(), info) }.map(drop)
}

/// `LOOP_GET_STATUS64` (loop(4)): read the status back; `ENXIO` when unbound.
fn get_status(dev: &File) -> nix::Result<LoopInfo64> {
    let mut info = LoopInfo64::zeroed();
    // SAFETY: `info` is a writable `struct loop_info64` the kernel fills in.
    unsafe { sys::loop_get_status64(dev.as_raw_fd(), &mut info) }?;
    Ok(info)
}

/// `LOOP_CLR_FD` (loop(4)): unbind the backing file. On a device that is
/// still open elsewhere (mounted) the kernel only sets `LO_FLAGS_AUTOCLEAR`.
fn clr_fd(dev: &File) -> nix::Result<()> {
    // SAFETY: the request takes no argument; `dev` is an open descriptor.
    unsafe { sys::loop_clr_fd(dev.as_raw_fd()) }.map(drop)
}

/// How to attach a file.
#[derive(Clone, Debug, Default)]
pub struct LoopOptions {
    /// Start of the device within the file, in bytes.
    pub offset: u64,
    /// Size of the device in bytes; 0 means up to the end of the file.
    pub sizelimit: u64,
    /// Refuse writes. Also chosen when the file cannot be opened for writing.
    pub read_only: bool,
    /// Detach at the last close (`LO_FLAGS_AUTOCLEAR`): after unmount, or when
    /// the [`LoopDevice`] is dropped without being mounted.
    pub autoclear: bool,
    /// Use this device (`loop=/dev/loopN`) instead of a free one.
    pub device: Option<PathBuf>,
}

/// An attached loop device, kept open: with autoclear, closing the last
/// descriptor of an unmounted device detaches it, so keep this value alive
/// until the filesystem is mounted.
#[derive(Debug)]
pub struct LoopDevice {
    path: PathBuf,
    file: File,
    read_only: bool,
}

/// Tries for a free device, against other processes attaching at the same time.
const ATTACH_ATTEMPTS: usize = 64;

impl LoopDevice {
    /// Attaches `backing` (a regular file) to a loop device, as losetup(8) does.
    pub fn attach(backing: &Path, options: &LoopOptions) -> io::Result<LoopDevice> {
        let (file, read_only) = open_backing(backing, options.read_only)?;
        let name = std::path::absolute(backing).unwrap_or_else(|_| backing.to_path_buf());
        let mut info = LoopInfo64::zeroed();
        info.lo_offset = options.offset;
        info.lo_sizelimit = options.sizelimit;
        info.lo_flags =
            if read_only { LO_FLAGS_READ_ONLY } else { 0 } | if options.autoclear { LO_FLAGS_AUTOCLEAR } else { 0 };
        let bytes = name.as_os_str().as_bytes();
        let n = bytes.len().min(LO_NAME_SIZE - 1);
        info.lo_file_name[..n].copy_from_slice(&bytes[..n]);

        let mut last = Errno::EBUSY;
        for _ in 0..ATTACH_ATTEMPTS {
            let path = match &options.device {
                Some(d) => d.clone(),
                None => free_device()?,
            };
            let dev = open_device(&path, read_only)?;
            match setup(&dev, &file, &info) {
                Ok(()) => return Ok(LoopDevice { path, file: dev, read_only }),
                Err(Errno::EBUSY) if options.device.is_none() => last = Errno::EBUSY,
                Err(e) => {
                    return Err(io::Error::new(
                        io::Error::from(e).kind(),
                        format!("{}: failed to set up loop device for {}: {e}", path.display(), backing.display()),
                    ))
                }
            }
        }
        Err(io::Error::new(
            io::Error::from(last).kind(),
            format!("failed to set up loop device for {}: {last}", backing.display()),
        ))
    }

    /// Opens a device that is already attached, to keep it from being
    /// autocleared while it is used; `ENXIO` when it has no backing file.
    pub fn open(path: &Path) -> io::Result<LoopDevice> {
        // Read-only: a read-only loop device refuses to be opened for writing.
        let file = File::open(path)?;
        let info = get_status(&file)?;
        Ok(LoopDevice { path: path.to_path_buf(), file, read_only: info.lo_flags & LO_FLAGS_READ_ONLY != 0 })
    }

    /// The device node, `/dev/loopN`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True when the device refuses writes.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The kernel's view of the device (`LOOP_GET_STATUS64`).
    pub fn status(&self) -> io::Result<LoopInfo64> {
        Ok(get_status(&self.file)?)
    }

    /// Unbinds the backing file now (`LOOP_CLR_FD`). A mounted device is
    /// detached later, by autoclear, when it is unmounted.
    pub fn detach(self) -> io::Result<()> {
        Ok(clr_fd(&self.file)?)
    }

    /// Closes the descriptor and keeps the device attached (with autoclear it
    /// goes away when its last user, e.g. a mount, lets go).
    pub fn release(self) -> PathBuf {
        self.path
    }
}

/// Opens the backing file read-write, or read-only when asked or when the
/// file or its filesystem refuses writing (util-linux does the same).
fn open_backing(path: &Path, read_only: bool) -> io::Result<(File, bool)> {
    let open = |write: bool| OpenOptions::new().read(true).write(write).open(path);
    if read_only {
        return Ok((open(false)?, true));
    }
    match open(true) {
        Ok(f) => Ok((f, false)),
        Err(e) if matches!(e.raw_os_error(), Some(c) if c == Errno::EROFS as i32 || c == Errno::EACCES as i32) => {
            Ok((open(false)?, true))
        }
        Err(e) => Err(e),
    }
}

/// Asks `/dev/loop-control` for a free device.
fn free_device() -> io::Result<PathBuf> {
    let ctl = OpenOptions::new()
        .read(true)
        .write(true)
        .open(LOOP_CONTROL)
        .map_err(|e| io::Error::new(e.kind(), format!("{LOOP_CONTROL}: {e}")))?;
    let n = ctl_get_free(&ctl)
        .map_err(|e| io::Error::new(io::Error::from(e).kind(), format!("{LOOP_CONTROL}: LOOP_CTL_GET_FREE: {e}")))?;
    Ok(PathBuf::from(format!("/dev/loop{n}")))
}

/// Opens the device node; devtmpfs may need a moment to create a new one.
fn open_device(path: &Path, read_only: bool) -> io::Result<File> {
    let mut tries = 0;
    loop {
        match OpenOptions::new().read(true).write(!read_only).open(path) {
            Ok(f) => return Ok(f),
            Err(e) if tries < 16 && matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied) => {
                tries += 1;
                sleep(Duration::from_millis(25));
            }
            Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
        }
    }
}

/// Binds `file` to `dev` with `info`: `LOOP_CONFIGURE`, or `LOOP_SET_FD` and
/// `LOOP_SET_STATUS64` on kernels before 5.8. On failure (except `EBUSY`,
/// where the device belongs to someone else) the device is unbound again.
fn setup(dev: &File, file: &File, info: &LoopInfo64) -> nix::Result<()> {
    let fd = u32::try_from(file.as_raw_fd()).map_err(|_| Errno::EBADF)?;
    let config = LoopConfig { fd, block_size: 0, info: *info, reserved: [0; 8] };
    let result = match configure(dev, &config) {
        Err(Errno::EINVAL | Errno::ENOTTY | Errno::ENOSYS) => set_fd(dev, file).and_then(|()| {
            let mut tries = 0;
            loop {
                // The kernel asks to retry while it flushes the page cache.
                match set_status(dev, info) {
                    Err(Errno::EAGAIN) if tries < 40 => {
                        tries += 1;
                        sleep(Duration::from_millis(250));
                    }
                    other => break other,
                }
            }
        }),
        other => other,
    };
    if let Err(e) = result {
        if e != Errno::EBUSY {
            let _ = clr_fd(dev);
        }
    }
    result
}

/// Detaches the loop device at `path` (`LOOP_CLR_FD`, as `losetup -d`).
pub fn detach(path: &Path) -> io::Result<()> {
    let dev = OpenOptions::new().read(true).open(path)?;
    Ok(clr_fd(&dev)?)
}

/// The status of the loop device at `path`, or `None` when it has no backing file.
pub fn status(path: &Path) -> io::Result<Option<LoopInfo64>> {
    let dev = OpenOptions::new().read(true).open(path)?;
    match get_status(&dev) {
        Ok(info) => Ok(Some(info)),
        Err(Errno::ENXIO) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The backing file of a loop device, from `/sys/block/loopN/loop/backing_file`
/// (the kernel's full path, unlike the 63-byte `lo_file_name`); `None` when
/// the device is not bound.
pub fn backing_file(device: &Path) -> io::Result<Option<PathBuf>> {
    let name = device.file_name().ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    let sys = Path::new("/sys/block").join(name).join("loop/backing_file");
    match std::fs::read(&sys) {
        Ok(mut bytes) => {
            if bytes.last() == Some(&b'\n') {
                bytes.pop();
            }
            Ok(Some(PathBuf::from(std::ffi::OsString::from(std::ffi::OsStr::from_bytes(&bytes)))))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Loop devices whose backing file is `file` (compared after canonicalizing).
pub fn find_by_backing_file(file: &Path) -> io::Result<Vec<PathBuf>> {
    let file = file.canonicalize()?;
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/sys/block")? {
        let name = entry?.file_name();
        if !name.as_bytes().starts_with(b"loop") {
            continue;
        }
        let dev = Path::new("/dev").join(&name);
        if backing_file(&dev)?.as_deref() == Some(file.as_path()) {
            found.push(dev);
        }
    }
    found.sort();
    Ok(found)
}

/// An existing loop device over the same file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Overlap {
    /// Same offset and size limit: the device can be shared.
    Same(PathBuf),
    /// The byte ranges overlap but differ: two devices would let two
    /// filesystems write the same blocks.
    Overlapping(PathBuf),
}

/// Looks for a loop device over `file` whose range overlaps
/// `[offset, offset + sizelimit)` (0: to the end), as util-linux does before
/// attaching a file again (lib/loopdev.c `loopcxt_find_overlap`).
pub fn find_overlap(file: &Path, offset: u64, sizelimit: u64) -> io::Result<Option<Overlap>> {
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata()?;
    let end = |offset: u64, sizelimit: u64| {
        if sizelimit == 0 {
            meta.len()
        } else {
            offset.saturating_add(sizelimit).min(meta.len())
        }
    };
    for dev in find_by_backing_file(file)? {
        // Unbound meanwhile, or not ours to read: not a conflict.
        let Ok(Some(info)) = status(&dev) else { continue };
        if info.lo_inode != meta.ino() {
            continue;
        }
        if info.lo_offset == offset && info.lo_sizelimit == sizelimit {
            return Ok(Some(Overlap::Same(dev)));
        }
        if info.lo_offset < end(offset, sizelimit) && offset < end(info.lo_offset, info.lo_sizelimit) {
            return Ok(Some(Overlap::Overlapping(dev)));
        }
    }
    Ok(None)
}
