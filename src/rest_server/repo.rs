//! The tree of restic repositories under `--path`, reached only through file
//! descriptors: every name is resolved with openat2(2) and `RESOLVE_BENEATH`, so
//! neither `..` nor a symlink inside the tree can lead out of it, and objects are
//! published with linkat(2), which refuses to replace an existing one.

use nix::errno::Errno;
use nix::fcntl::{openat2, Flock, FlockArg, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fchmod, fstat, fstatat, mkdirat, Mode, SFlag};
use nix::unistd::{linkat, unlinkat, UnlinkatFlags};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;

/// The object folders of a repository, as restic names them.
pub const TYPES: [&str; 5] = ["data", "index", "keys", "locks", "snapshots"];

/// Marks temporary upload files (rest-server uses the same suffix); listings skip them.
pub(super) const TEMP_MARK: &str = ".rest-server-temp";

/// Permissions of what the server creates.
#[derive(Clone, Copy, Debug)]
pub struct Modes {
    pub dir: u32,
    pub file: u32,
}

impl Modes {
    /// 0700/0600, or 0770/0660 when the group may read the repositories.
    pub fn new(group_accessible: bool) -> Modes {
        if group_accessible {
            Modes { dir: 0o770, file: 0o660 }
        } else {
            Modes { dir: 0o700, file: 0o600 }
        }
    }
}

/// Whether `id` is what restic names objects: 64 lowercase hexadecimal digits.
pub fn valid_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The path of an object inside its repository: `data/` is split by the first
/// two digits of the name, the other types are flat.
pub fn object_path(repo: &str, kind: &str, id: &str) -> String {
    let inner = if kind == "data" { format!("data/{}/{id}", &id[..2]) } else { format!("{kind}/{id}") };
    join(repo, &inner)
}

/// `repo/rest`, where `repo` may be empty (the root repository).
pub fn join(repo: &str, rest: &str) -> String {
    if repo.is_empty() {
        rest.to_string()
    } else if rest.is_empty() {
        repo.to_string()
    } else {
        format!("{repo}/{rest}")
    }
}

fn io_err(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// Whether an error means the disk or the user's quota is full.
pub fn is_no_space(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(c) if c == Errno::ENOSPC as i32 || c == Errno::EDQUOT as i32)
}

/// Whether an error means the name does not lead to anything inside the tree:
/// missing, not a folder, or a way out that openat2 refused (EXDEV, ELOOP).
/// Every other error (EIO, EACCES, ...) is the server's or the disk's problem.
pub fn is_outside_or_missing(e: &io::Error) -> bool {
    let codes = [Errno::ENOENT, Errno::ENOTDIR, Errno::EXDEV, Errno::ELOOP];
    match e.raw_os_error() {
        Some(c) => codes.iter().any(|&x| x as i32 == c),
        None => e.kind() == io::ErrorKind::NotFound,
    }
}

/// openat2(2) below `dir`: `..` and symlinks may not leave `dir`, and /proc
/// magic links are refused. Where the kernel (or qemu-user) lacks openat2, the
/// name is walked one component at a time with `O_NOFOLLOW`, refusing every symlink.
#[allow(unsafe_code)]
fn open_beneath(dir: RawFd, rel: &str, flags: OFlag, mode: u32) -> io::Result<OwnedFd> {
    static NO_OPENAT2: AtomicBool = AtomicBool::new(false);
    let rel = if rel.is_empty() { "." } else { rel };
    if !NO_OPENAT2.load(Ordering::Relaxed) {
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC)
            .mode(Mode::from_bits_truncate(mode))
            .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        match openat2(dir, rel, how) {
            // SAFETY: openat2 just returned this descriptor and nothing else owns it.
            Ok(fd) => return Ok(unsafe { OwnedFd::from_raw_fd(fd) }),
            Err(Errno::ENOSYS) => NO_OPENAT2.store(true, Ordering::Relaxed),
            Err(e) => return Err(io_err(e)),
        }
    }
    walk_beneath(dir, rel, flags, mode)
}

/// The fallback of [`open_beneath`]: one component at a time, no symlink at all.
fn walk_beneath(dir: RawFd, rel: &str, flags: OFlag, mode: u32) -> io::Result<OwnedFd> {
    let parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    if parts.contains(&"..") {
        return Err(io_err(Errno::EXDEV));
    }
    let Some((last, folders)) = parts.split_last() else {
        return open_at(dir, ".", flags, mode);
    };
    let mut held: Option<OwnedFd> = None;
    for part in folders {
        let at = held.as_ref().map_or(dir, |d| d.as_raw_fd());
        held = Some(open_at(at, part, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW, 0)?);
    }
    open_at(held.as_ref().map_or(dir, |d| d.as_raw_fd()), last, flags | OFlag::O_NOFOLLOW, mode)
}

#[allow(unsafe_code)]
fn open_at(dir: RawFd, name: &str, flags: OFlag, mode: u32) -> io::Result<OwnedFd> {
    let fd = nix::fcntl::openat(Some(dir), name, flags | OFlag::O_CLOEXEC, Mode::from_bits_truncate(mode))
        .map_err(io_err)?;
    // SAFETY: openat just returned this descriptor and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn is_regular(mode: nix::libc::mode_t) -> bool {
    SFlag::from_bits_truncate(mode) & SFlag::S_IFMT == SFlag::S_IFREG
}

fn is_symlink(mode: nix::libc::mode_t) -> bool {
    SFlag::from_bits_truncate(mode) & SFlag::S_IFMT == SFlag::S_IFLNK
}

/// Set once the kernel or the filesystem turned down an open or a read from
/// its caches alone: from then on all of them go to blocking threads (a
/// network filesystem, say, where even fstat may wait).
static NO_CACHED_IO: AtomicBool = AtomicBool::new(false);

#[allow(unsafe_code)]
fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: the caller just got this descriptor from the kernel and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// An object opened for a download.
pub struct Readable {
    pub file: File,
    pub size: u64,
    /// Opened with `O_NOATIME`: reading it writes nothing to the disk.
    noatime: bool,
}

impl Readable {
    /// Read at `offset` what the page cache holds, without waiting for the disk
    /// (preadv2(2) with `RWF_NOWAIT`, Linux 4.14): `None` where the read would
    /// wait, so the caller reads on a thread instead. A file whose reads would
    /// update its access time (a journal write) always gives `None`.
    #[allow(unsafe_code)]
    pub fn read_cached(&self, buf: &mut [u8], offset: u64) -> io::Result<Option<usize>> {
        if !self.noatime || buf.is_empty() || NO_CACHED_IO.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let iov = nix::libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        // SAFETY: the one iovec describes `buf`, valid for writes of its whole
        // length for the duration of the call; the descriptor is open (we own it).
        let n = unsafe {
            nix::libc::preadv2(self.file.as_raw_fd(), &iov, 1, offset as nix::libc::off_t, nix::libc::RWF_NOWAIT)
        };
        if n >= 0 {
            return Ok(Some(n as usize));
        }
        match Errno::last() {
            Errno::EAGAIN => Ok(None),
            // An old kernel or a filesystem without non-waiting reads.
            Errno::ENOSYS | Errno::EOPNOTSUPP | Errno::EINVAL => {
                NO_CACHED_IO.store(true, Ordering::Relaxed);
                Ok(None)
            }
            e => Err(io_err(e)),
        }
    }
}

/// The root folder and what the server needs to know to write below it.
pub struct Store {
    root: OwnedFd,
    modes: Modes,
}

/// One object being uploaded: a temporary file in the target folder that
/// becomes the object only in [`Upload::commit`]; dropped before, it is removed.
pub struct Upload {
    dir: OwnedFd,
    file: File,
    temp: String,
    name: String,
    finished: bool,
}

impl Store {
    /// Open `path`, which must be a folder.
    pub fn open(path: &Path, modes: Modes) -> io::Result<Store> {
        let root = File::open(path)?;
        if !root.metadata()?.is_dir() {
            return Err(io::Error::from_raw_os_error(Errno::ENOTDIR as i32));
        }
        Ok(Store { root: root.into(), modes })
    }

    pub fn modes(&self) -> Modes {
        self.modes
    }

    fn dir(&self, rel: &str) -> io::Result<OwnedFd> {
        open_beneath(self.root.as_raw_fd(), rel, OFlag::O_RDONLY | OFlag::O_DIRECTORY, 0)
    }

    /// Make `name` in `parent` (an existing one is fine) and open it.
    fn make_dir(&self, parent: &OwnedFd, name: &str) -> io::Result<OwnedFd> {
        match mkdirat(Some(parent.as_raw_fd()), name, Mode::from_bits_truncate(self.modes.dir)) {
            Ok(()) => {
                let dir = open_beneath(parent.as_raw_fd(), name, OFlag::O_RDONLY | OFlag::O_DIRECTORY, 0)?;
                // The umask must not take the group bits --group-accessible-repos asks for.
                fchmod(dir.as_raw_fd(), Mode::from_bits_truncate(self.modes.dir)).map_err(io_err)?;
                Ok(dir)
            }
            Err(Errno::EEXIST) => open_beneath(parent.as_raw_fd(), name, OFlag::O_RDONLY | OFlag::O_DIRECTORY, 0),
            Err(e) => Err(io_err(e)),
        }
    }

    /// `POST /repo/?create=true`: the repository folder (and its parents below
    /// the root), the object folders, and `data/00` to `data/ff`.
    pub fn create_repo(&self, repo: &str) -> io::Result<()> {
        let mut dir = self.dir("")?;
        for part in repo.split('/').filter(|p| !p.is_empty()) {
            dir = self.make_dir(&dir, part)?;
        }
        for kind in TYPES {
            let sub = self.make_dir(&dir, kind)?;
            if kind == "data" {
                for i in 0..=255u8 {
                    self.make_dir(&sub, &format!("{i:02x}"))?;
                }
            }
        }
        Ok(())
    }

    /// Open a regular file for reading, with its size. Anything else planted
    /// under an object's name (a folder, a FIFO, a device) is `NotFound`: it is
    /// opened with `O_NONBLOCK`, so a FIFO without a writer cannot hold the thread.
    pub fn open_file(&self, rel: &str) -> io::Result<(File, u64)> {
        let flags = OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOCTTY;
        let fd = open_beneath(self.root.as_raw_fd(), rel, flags, 0)?;
        let st = fstat(fd.as_raw_fd()).map_err(io_err)?;
        if !is_regular(st.st_mode) {
            return Err(io::Error::new(io::ErrorKind::NotFound, "not a regular file"));
        }
        Ok((File::from(fd), st.st_size as u64))
    }

    /// Open an object for a download, with its size, as [`Store::open_file`]
    /// does, and without touching its access time where the server may (it owns
    /// the file, or runs as root). `cached`: only from what the kernel has in
    /// memory (see [`Readable::read_cached`]); `WouldBlock` where the disk
    /// would be read, or where the kernel cannot promise that (before 5.12).
    pub fn open_object(&self, rel: &str, cached: bool) -> io::Result<Readable> {
        if cached && NO_CACHED_IO.load(Ordering::Relaxed) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let base = OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOCTTY;
        let open = |flags: OFlag| -> io::Result<OwnedFd> {
            if !cached {
                return open_beneath(self.root.as_raw_fd(), rel, flags, 0);
            }
            let how = OpenHow::new().flags(flags | OFlag::O_CLOEXEC).resolve(
                ResolveFlag::RESOLVE_BENEATH
                    | ResolveFlag::RESOLVE_NO_MAGICLINKS
                    | ResolveFlag::from_bits_retain(nix::libc::RESOLVE_CACHED),
            );
            match openat2(self.root.as_raw_fd(), if rel.is_empty() { "." } else { rel }, how) {
                Ok(fd) => Ok(owned(fd)),
                Err(Errno::EAGAIN) => Err(io::ErrorKind::WouldBlock.into()),
                // No openat2, or no RESOLVE_CACHED: every open goes to a thread.
                Err(Errno::ENOSYS | Errno::EINVAL) => {
                    NO_CACHED_IO.store(true, Ordering::Relaxed);
                    Err(io::ErrorKind::WouldBlock.into())
                }
                Err(e) => Err(io_err(e)),
            }
        };
        let (fd, noatime) = match open(base | OFlag::O_NOATIME) {
            Err(e) if e.raw_os_error() == Some(Errno::EPERM as i32) => (open(base)?, false),
            r => (r?, true),
        };
        let st = fstat(fd.as_raw_fd()).map_err(io_err)?;
        if !is_regular(st.st_mode) {
            return Err(io::Error::new(io::ErrorKind::NotFound, "not a regular file"));
        }
        Ok(Readable { file: File::from(fd), size: st.st_size as u64, noatime })
    }

    /// Start listing the objects of one type (see [`Listing`]); a missing
    /// folder holds none. `sizes`: whether the sizes are wanted (restic's v2
    /// listing); without, the file types readdir(3) gives are enough and no
    /// file is looked at.
    pub fn listing(&self, repo: &str, kind: &str, sizes: bool) -> io::Result<Listing> {
        let mut listing = Listing { folders: Vec::new(), parent: None, current: None, sizes };
        let dir = match self.dir(&join(repo, kind)) {
            Ok(d) => d,
            Err(e) if matches!(e.raw_os_error(), Some(c) if c == Errno::ENOENT as i32 || c == Errno::ENOTDIR as i32) => {
                return Ok(listing)
            }
            Err(e) => return Err(e),
        };
        if kind == "data" {
            // Subfolders only, as the Go server lists them (a symlink is not one),
            // in reverse order of name: they are taken from the end.
            let mut d = nix::dir::Dir::from_fd(dup(&dir)?).map_err(io_err)?;
            for entry in d.iter() {
                let entry = entry.map_err(io_err)?;
                let Ok(name) = entry.file_name().to_str() else { continue };
                if name == "." || name == ".." {
                    continue;
                }
                let is_dir = match entry.file_type() {
                    Some(t) => t == nix::dir::Type::Directory,
                    None => is_type(&dir, name, SFlag::S_IFDIR)?,
                };
                if is_dir {
                    listing.folders.push(name.to_string());
                }
            }
            listing.folders.sort_unstable_by(|a, b| b.cmp(a));
            listing.parent = Some(dir);
        } else {
            listing.current = Some(nix::dir::Dir::from_fd(dir.into_raw_fd()).map_err(io_err)?.into_iter());
        }
        Ok(listing)
    }

    /// Remove an object; `None` when there was none, else its size.
    pub fn delete(&self, rel: &str) -> io::Result<Option<u64>> {
        let (parent, name) = rel.rsplit_once('/').unwrap_or(("", rel));
        let dir = match self.dir(parent) {
            Ok(d) => d,
            Err(e) if e.raw_os_error() == Some(Errno::ENOENT as i32) => return Ok(None),
            Err(e) => return Err(e),
        };
        let size = match fstatat(Some(dir.as_raw_fd()), name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) if is_regular(st.st_mode) => st.st_size as u64,
            // Only a name: removing it frees nothing the quota counted.
            Ok(st) if is_symlink(st.st_mode) => 0,
            // A folder, FIFO or device was not made by an upload: the disk's owner has to look at it.
            Ok(_) => return Err(io::Error::other("not a regular file; left in place")),
            Err(Errno::ENOENT) => return Ok(None),
            Err(e) => return Err(io_err(e)),
        };
        match unlinkat(Some(dir.as_raw_fd()), name, UnlinkatFlags::NoRemoveDir) {
            Ok(()) => Ok(Some(size)),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(io_err(e)),
        }
    }

    /// Start uploading `rel`. `AlreadyExists` when the object is there; the
    /// folder of a `data/xx` object is created if a repository lacks it.
    pub fn begin_upload(&self, rel: &str) -> io::Result<Upload> {
        let (parent, name) = rel.rsplit_once('/').unwrap_or(("", rel));
        let dir = match self.dir(parent) {
            Ok(d) => d,
            Err(e)
                if e.raw_os_error() == Some(Errno::ENOENT as i32)
                    && parent.ends_with(|c: char| c.is_ascii_hexdigit()) =>
            {
                // Only the last level (`data/xx`) is made here; a missing repository stays missing.
                let (grand, last) = parent.rsplit_once('/').unwrap_or(("", parent));
                let g = self.dir(grand)?;
                self.make_dir(&g, last)?
            }
            Err(e) => return Err(e),
        };
        match fstatat(Some(dir.as_raw_fd()), name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(_) => return Err(io::Error::from(io::ErrorKind::AlreadyExists)),
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(io_err(e)),
        }
        let temp = temp_name(name);
        let fd =
            open_beneath(dir.as_raw_fd(), &temp, OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL, self.modes.file)?;
        fchmod(fd.as_raw_fd(), Mode::from_bits_truncate(self.modes.file)).map_err(io_err)?;
        Ok(Upload { dir, file: File::from(fd), temp, name: name.to_string(), finished: false })
    }
}

/// A name no other upload uses: the object's name, the marker, this process's
/// token and a counter.
fn temp_name(name: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(".{name}{TEMP_MARK}-{}-{}", token(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// This process among all that ever wrote to the tree: its pid alone repeats
/// (pid 1 in a container, a restarted appliance), so 64 random bits are added.
pub(super) fn token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| {
        let mut bits = [0u8; 8];
        let random = File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bits));
        if random.is_err() {
            // No /dev: the time still differs between two boots that reuse a pid.
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            bits = (now.as_nanos() as u64).to_le_bytes();
        }
        format!("{}-{:016x}", std::process::id(), u64::from_le_bytes(bits))
    })
}

fn dup(fd: &OwnedFd) -> io::Result<RawFd> {
    nix::unistd::dup(fd.as_raw_fd()).map_err(io_err)
}

/// Whether `name` in `dir` is of type `kind` (not following a symlink); false when it is gone.
fn is_type(dir: &impl AsRawFd, name: &str, kind: SFlag) -> io::Result<bool> {
    match fstatat(Some(dir.as_raw_fd()), name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == kind),
        Err(Errno::ENOENT) => Ok(false),
        Err(e) => Err(io_err(e)),
    }
}

/// The objects of one type, read a batch at a time: `data/` subfolder by
/// subfolder in order of name, the other types from their one folder. Memory
/// holds one batch, whatever the number of objects. Only regular files count;
/// temporary uploads and hidden names are left out. A file removed between
/// readdir(3) and its stat is left out too (restic removes its locks while
/// another client lists them); any other error ends the listing: a list with
/// objects missing would look complete.
pub struct Listing {
    /// `data/`'s subfolders still to read, the next last.
    folders: Vec<String>,
    /// `data/` itself.
    parent: Option<OwnedFd>,
    /// The folder being read.
    current: Option<nix::dir::OwningIter>,
    sizes: bool,
}

impl Listing {
    /// The next objects with their sizes (0 when sizes were not asked for):
    /// the next at most `max` of one folder, sorted by name (so a folder of up
    /// to `max` objects comes in the Go server's order), empty folders passed
    /// over. An empty batch is the end. Once `stop` is set (the client hung
    /// up), it gives up at the next file with `Interrupted`.
    pub fn next_batch(&mut self, max: usize, stop: &AtomicBool) -> io::Result<Vec<(String, u64)>> {
        let stopped = || io::Error::new(io::ErrorKind::Interrupted, "the listing was stopped");
        let mut names = Vec::new();
        let folder = loop {
            if stop.load(Ordering::Relaxed) {
                return Err(stopped());
            }
            let Some(folder) = &mut self.current else {
                let (Some(parent), Some(name)) = (&self.parent, self.folders.pop()) else { return Ok(Vec::new()) };
                let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW;
                match open_at(parent.as_raw_fd(), &name, flags, 0) {
                    Ok(fd) => {
                        self.current = Some(nix::dir::Dir::from_fd(fd.into_raw_fd()).map_err(io_err)?.into_iter())
                    }
                    // Removed, or replaced by something else, since data/ was read.
                    Err(e) if is_outside_or_missing(&e) => {}
                    Err(e) => return Err(e),
                }
                continue;
            };
            let mut ended = true;
            for entry in folder.by_ref() {
                let entry = entry.map_err(io_err)?;
                let Ok(name) = entry.file_name().to_str() else { continue };
                if name.starts_with('.') || name.contains(TEMP_MARK) {
                    continue;
                }
                let regular = entry.file_type().map(|t| t == nix::dir::Type::File);
                if regular != Some(false) {
                    names.push((name.to_string(), entry.ino(), regular.is_none()));
                }
                if names.len() == max {
                    ended = false;
                    break;
                }
            }
            if names.is_empty() && ended {
                self.current = None;
                continue;
            }
            let folder = if ended { self.current.take() } else { None };
            break folder;
        };
        let dir = folder.as_ref().or(self.current.as_ref()).expect("the folder just read").as_raw_fd();
        let mut out = Vec::with_capacity(names.len());
        // The inodes in the order they lie on the disk, not readdir's hash order.
        names.sort_unstable_by_key(|n| n.1);
        for (name, _, unknown) in names {
            if !self.sizes && !unknown {
                out.push((name, 0));
                continue;
            }
            if stop.load(Ordering::Relaxed) {
                return Err(stopped());
            }
            match fstatat(Some(dir), name.as_str(), nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(st) if is_regular(st.st_mode) => out.push((name, if self.sizes { st.st_size as u64 } else { 0 })),
                Ok(_) | Err(Errno::ENOENT) => {}
                Err(e) => return Err(io_err(e)),
            }
        }
        out.sort_unstable();
        Ok(out)
    }
}

impl Upload {
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.file.write_all(data)
    }

    /// Make the upload the object: fsync the file, link it under its name (which
    /// fails if another upload won the race: `AlreadyExists`), drop the temporary
    /// name, fsync the folder so the new name survives a power cut.
    pub fn commit(mut self) -> io::Result<()> {
        self.file.sync_all()?;
        let dir = self.dir.as_raw_fd();
        match linkat(Some(dir), self.temp.as_str(), Some(dir), self.name.as_str(), nix::fcntl::AtFlags::empty()) {
            Ok(()) => {
                let _ = unlinkat(Some(dir), self.temp.as_str(), UnlinkatFlags::NoRemoveDir);
            }
            Err(Errno::EEXIST) => return Err(io::Error::from(io::ErrorKind::AlreadyExists)),
            // Filesystems without hard links (FAT, exFAT): check, then rename.
            Err(Errno::EPERM | Errno::EOPNOTSUPP | Errno::EMLINK) => {
                if fstatat(Some(dir), self.name.as_str(), nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW).is_ok() {
                    return Err(io::Error::from(io::ErrorKind::AlreadyExists));
                }
                nix::fcntl::renameat(Some(dir), self.temp.as_str(), Some(dir), self.name.as_str()).map_err(io_err)?;
            }
            Err(e) => return Err(io_err(e)),
        }
        self.finished = true;
        nix::unistd::fsync(dir).map_err(io_err)
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.finished {
            let _ = unlinkat(Some(self.dir.as_raw_fd()), self.temp.as_str(), UnlinkatFlags::NoRemoveDir);
        }
    }
}

/// The lock file in `--path` that one server at a time holds.
pub const LOCK_FILE: &str = ".rest-server.lock";

/// An flock(2) on [`LOCK_FILE`], held until dropped; the file names the holder's
/// pid. `None` for a tree the server cannot write to (a read-only disk served
/// for restores), where there is nothing to guard: no upload, no sweep.
pub struct Lock {
    _file: Option<Flock<File>>,
}

impl Store {
    /// Take the lock of the tree, or say which process holds it. Two servers on
    /// one tree would sweep away each other's uploads in flight.
    pub fn lock(&self) -> io::Result<Lock> {
        let root = self.root.as_raw_fd();
        let (file, writable) = match open_beneath(
            root,
            LOCK_FILE,
            OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_NOFOLLOW,
            self.modes.file,
        ) {
            Ok(fd) => (File::from(fd), true),
            Err(e) if matches!(e.raw_os_error(), Some(c) if c == Errno::EROFS as i32 || c == Errno::EACCES as i32) => {
                // flock(2) needs no write access: a lock file made earlier still works.
                match open_beneath(root, LOCK_FILE, OFlag::O_RDONLY | OFlag::O_NOFOLLOW, 0) {
                    Ok(fd) => (File::from(fd), false),
                    Err(_) => {
                        log::warn!("cannot make the lock file ({e}): serving without one");
                        return Ok(Lock { _file: None });
                    }
                }
            }
            Err(e) => return Err(e),
        };
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(mut locked) => {
                if writable {
                    locked.set_len(0)?;
                    locked.write_all(format!("{}\n", std::process::id()).as_bytes())?;
                }
                Ok(Lock { _file: Some(locked) })
            }
            Err((mut file, Errno::EWOULDBLOCK)) => {
                // The holder writes its pid just after locking: give it a moment.
                let mut pid = String::new();
                for _ in 0..10 {
                    pid.clear();
                    let _ = file.seek(SeekFrom::Start(0)).and_then(|_| file.read_to_string(&mut pid));
                    if !pid.trim().is_empty() {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                let pid = pid.trim();
                let who = if pid.is_empty() { "another process".to_string() } else { format!("pid {pid}") };
                Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    format!("another rest-server ({who}) serves this folder"),
                ))
            }
            Err((_, e)) => Err(io_err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_opens_and_reads_give_the_file_or_nothing() {
        let dir = std::env::temp_dir().join(format!("krazybox-cached-read-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("r")).unwrap();
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(dir.join("r/obj"), &data).unwrap();
        let store = Store::open(&dir, Modes::new(false)).unwrap();
        // Just written: in the page cache, so a cached read gives its bytes where the
        // kernel and filesystem can read without waiting, and nothing else.
        let mut buf = vec![0u8; 5000];
        for cached in [true, false] {
            let r = match store.open_object("r/obj", cached) {
                Ok(r) => r,
                Err(e) if cached && e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => panic!("{e}"),
            };
            assert_eq!(r.size, 100_000);
            if let Some(n) = r.read_cached(&mut buf, 90_000).unwrap() {
                assert!(n > 0 && n <= 5000);
                assert_eq!(buf[..n], data[90_000..90_000 + n]);
            }
            assert_eq!(r.read_cached(&mut buf, 100_000).unwrap().unwrap_or(0), 0, "at the end: nothing");
        }
        // A way out of the tree or a missing name is refused the same way as before.
        assert!(is_outside_or_missing(&store.open_object("r/missing", false).err().unwrap()));
        assert!(store.open_object("../etc/passwd", false).is_err());
        assert!(store.open_object("r", false).is_err(), "a folder is not an object");
        // Without O_NOATIME a read could write an access time: never from the page cache alone.
        let plain = Readable { file: File::open(dir.join("r/obj")).unwrap(), size: 100_000, noatime: false };
        assert_eq!(plain.read_cached(&mut buf, 0).unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ids_and_paths() {
        let id = "ab".repeat(32);
        assert!(valid_id(&id));
        assert!(!valid_id(&id.to_uppercase()));
        assert!(!valid_id(&id[..63]));
        assert_eq!(object_path("", "data", &id), format!("data/ab/{id}"));
        assert_eq!(object_path("u/r", "keys", &id), format!("u/r/keys/{id}"));
    }

    #[test]
    fn listings_come_in_batches_and_stop() {
        let base = std::env::temp_dir().join(format!("krazybox-listing-{}", std::process::id()));
        let data = base.join("r/data");
        let ids: Vec<String> = (0..40u8).map(|i| format!("{:02x}{}", i % 3, format!("{i:02x}").repeat(31))).collect();
        for id in &ids {
            std::fs::create_dir_all(data.join(&id[..2])).unwrap();
            std::fs::write(data.join(&id[..2]).join(id), id.as_bytes()).unwrap();
        }
        std::fs::create_dir_all(data.join("ff")).unwrap();
        std::fs::write(data.join("00/.hidden"), b"x").unwrap();
        let store = Store::open(&base, Modes::new(false)).unwrap();
        let go = AtomicBool::new(false);
        let mut l = store.listing("r", "data", true).unwrap();
        let mut batches = Vec::new();
        loop {
            let b = l.next_batch(5, &go).unwrap();
            if b.is_empty() {
                break;
            }
            assert!(b.len() <= 5 && b.windows(2).all(|w| w[0] < w[1]), "{b:?}");
            assert!(b.iter().all(|(n, size)| *size == 64 && n[..2] == b[0].0[..2]), "one folder a batch");
            batches.push(b);
        }
        let mut got: Vec<String> = batches.concat().into_iter().map(|(n, _)| n).collect();
        assert_eq!(got.len(), ids.len());
        got.sort();
        let mut want = ids.clone();
        want.sort();
        assert_eq!(got, want);
        assert_eq!(batches.len(), 3 * 3, "14, 13 and 13 objects in 5s");
        // Without sizes, nothing is stat'ed and every size is 0.
        let mut l = store.listing("r", "data", false).unwrap();
        assert!(l.next_batch(100, &go).unwrap().iter().all(|(_, n)| *n == 0));
        // A missing folder holds nothing; a stopped listing gives up.
        assert!(store.listing("r", "keys", true).unwrap().next_batch(10, &go).unwrap().is_empty());
        let stop = AtomicBool::new(true);
        let e = store.listing("r", "data", true).unwrap().next_batch(10, &stop).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Interrupted);
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn symlinks_do_not_lead_out() {
        let base = std::env::temp_dir().join(format!("krazybox-repo-{}", std::process::id()));
        let root = base.join("root");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(base.join("secret"), b"x").unwrap();
        std::os::unix::fs::symlink("../secret", root.join("link")).unwrap();
        std::os::unix::fs::symlink(".", root.join("self")).unwrap();
        std::fs::write(root.join("inside"), b"yes").unwrap();
        let store = Store::open(&root, Modes::new(false)).unwrap();
        assert!(store.open_file("link").is_err());
        assert!(store.open_file("../secret").is_err());
        assert_eq!(store.open_file("self/inside").unwrap().1, 3);
        let root_fd = store.root.as_raw_fd();
        let walk = |rel: &str| walk_beneath(root_fd, rel, OFlag::O_RDONLY, 0);
        assert!(walk("inside").is_ok());
        assert!(walk("link").is_err());
        assert!(walk("../secret").is_err());
        assert!(walk("self/inside").is_err(), "the fallback refuses every symlink");
        std::fs::remove_dir_all(&base).unwrap();
    }
}
