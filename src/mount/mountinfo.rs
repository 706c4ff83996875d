//! The mount table of this process's namespace, `/proc/self/mountinfo`, as
//! proc(5) ("/proc/pid/mountinfo") describes it:
//!
//! ```text
//! 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//! (1)(2)(3)   (4)   (5)      (6)      (7)   (8) (9)   (10)         (11)
//! ```
//!
//! The kernel escapes space, tab, newline and backslash in paths as `\ooo`
//! (fs/proc_namespace.c `mangle`), so a line always has space-separated fields.
#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Where the kernel publishes this namespace's mounts.
pub const MOUNTINFO: &str = "/proc/self/mountinfo";

/// One line of mountinfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountInfo {
    /// (1) unique mount id.
    pub id: u32,
    /// (2) the parent's mount id (its own id for the namespace root).
    pub parent: u32,
    /// (3) `st_dev` of the filesystem.
    pub major: u32,
    pub minor: u32,
    /// (4) the directory of the filesystem that is mounted here (not `/` for
    /// bind mounts and btrfs subvolumes).
    pub root: PathBuf,
    /// (5) the mount point.
    pub mount_point: PathBuf,
    /// (6) per-mount options (`ro`, `nosuid`, `relatime`...).
    pub options: String,
    /// (7) optional fields such as `shared:1` or `master:2`.
    pub optional: Vec<String>,
    /// (9) filesystem type.
    pub fstype: String,
    /// (10) mount source, as the filesystem names it (`none` for some).
    pub source: String,
    /// (11) superblock options.
    pub super_options: String,
}

/// A line that does not have mountinfo's shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub text: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} line {}: unexpected format: {:?}", MOUNTINFO, self.line, self.text)
    }
}

impl std::error::Error for ParseError {}

impl MountInfo {
    /// The per-mount options contain `ro`.
    pub fn is_read_only(&self) -> bool {
        self.options.split(',').any(|o| o == "ro")
    }

    /// Per-mount and superblock options as one list, the way mount(8) lists
    /// them: one `ro` or `rw` first, then the rest in order (libmount
    /// `merge_optstr`; the superblock's own `rw` is dropped, and its `ro` is
    /// kept only as the leading word).
    pub fn merged_options(&self) -> String {
        let (vfs, fs) = (self.options.as_str(), self.super_options.as_str());
        if fs.is_empty() || vfs == fs {
            return if vfs.is_empty() { fs.to_string() } else { vfs.to_string() };
        }
        let mut words: Vec<&str> = vfs.split(',').chain(fs.split(',')).filter(|w| !w.is_empty()).collect();
        let mut remove = |name: &str| match words.iter().position(|w| *w == name) {
            Some(i) => {
                words.remove(i);
                1
            }
            None => 0,
        };
        let rw = remove("rw") + remove("rw");
        let mut ro = 0;
        if rw != 2 {
            ro += remove("ro");
            if ro + rw < 2 {
                ro += remove("ro");
            }
        }
        let first = if ro > 0 { "ro" } else { "rw" };
        std::iter::once(first).chain(words).collect::<Vec<_>>().join(",")
    }

    /// A filesystem with no device behind it (proc, tmpfs, overlay...):
    /// mount(8) prints its source as it is (libmount `mnt_fstype_is_pseudofs`).
    pub fn is_pseudo(&self) -> bool {
        PSEUDO_FILESYSTEMS.binary_search(&self.fstype.as_str()).is_ok()
    }

    /// A network filesystem (libmount `mnt_fstype_is_netfs`).
    pub fn is_network(&self) -> bool {
        let t = self.fstype.as_str();
        ["cifs", "smb3", "smbfs", "afs", "ncpfs", "glusterfs", "fuse.curlftpfs", "fuse.sshfs"].contains(&t)
            || t.starts_with("nfs")
            || t.starts_with("9p")
    }
}

/// libmount 2.38's list of pseudo filesystems, sorted.
const PSEUDO_FILESYSTEMS: &[&str] = &[
    "anon_inodefs",
    "apparmorfs",
    "autofs",
    "bdev",
    "binder",
    "binfmt_misc",
    "bpf",
    "cgroup",
    "cgroup2",
    "configfs",
    "cpuset",
    "debugfs",
    "devfs",
    "devpts",
    "devtmpfs",
    "dlmfs",
    "dmabuf",
    "drm",
    "efivarfs",
    "fuse",
    "fuse.archivemount",
    "fuse.avfsd",
    "fuse.dumpfs",
    "fuse.encfs",
    "fuse.gvfs-fuse-daemon",
    "fuse.gvfsd-fuse",
    "fuse.lxcfs",
    "fuse.rofiles-fuse",
    "fuse.vmware-vmblock",
    "fuse.xwmfs",
    "fusectl",
    "hugetlbfs",
    "ipathfs",
    "mqueue",
    "nfsd",
    "none",
    "nsfs",
    "overlay",
    "pipefs",
    "proc",
    "pstore",
    "ramfs",
    "resctrl",
    "rootfs",
    "rpc_pipefs",
    "securityfs",
    "selinuxfs",
    "smackfs",
    "sockfs",
    "spufs",
    "sysfs",
    "tmpfs",
    "tracefs",
    "vboxsf",
    "virtiofs",
];

/// A `-t` pattern as mount(8) and umount(8) match types: a comma list, a
/// leading `no` negating the whole list, `noX` items excluding X
/// (util-linux `match_fstype`; case-insensitive).
pub fn match_fstype(fstype: &str, pattern: &str) -> bool {
    let (negated, list) = match pattern.strip_prefix("no") {
        Some(rest) => (true, rest),
        None => (false, pattern),
    };
    for item in list.split(',') {
        if item.strip_prefix("no").is_some_and(|i| i.eq_ignore_ascii_case(fstype)) {
            return false;
        }
        if item.eq_ignore_ascii_case(fstype) {
            return !negated;
        }
    }
    negated
}

/// Undoes the kernel's `\ooo` escapes; a backslash not followed by three
/// octal digits stays as it is.
pub fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let octal = |b: u8| (b'0'..=b'7').contains(&b);
        if field[i] == b'\\' && field.len() - i > 3 {
            let d = &field[i + 1..i + 4];
            if d.iter().all(|&b| octal(b)) {
                let v = (u32::from(d[0] - b'0') << 6) | (u32::from(d[1] - b'0') << 3) | u32::from(d[2] - b'0');
                if let Ok(byte) = u8::try_from(v) {
                    out.push(byte);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(field[i]);
        i += 1;
    }
    out
}

fn path_field(field: &[u8]) -> PathBuf {
    PathBuf::from(OsString::from_vec(unescape(field)))
}

fn text_field(field: &[u8]) -> String {
    String::from_utf8_lossy(&unescape(field)).into_owned()
}

/// Parses one mountinfo line.
pub fn parse_line(line: &[u8]) -> Option<MountInfo> {
    let fields: Vec<&[u8]> = line.split(|&b| b == b' ').filter(|f| !f.is_empty()).collect();
    let sep = fields.iter().position(|f| *f == b"-")?;
    if sep < 6 || fields.len() < sep + 3 {
        return None;
    }
    let num = |f: &[u8]| std::str::from_utf8(f).ok()?.parse::<u32>().ok();
    let (major, minor) = {
        let s = std::str::from_utf8(fields[2]).ok()?;
        let (a, b) = s.split_once(':')?;
        (a.parse().ok()?, b.parse().ok()?)
    };
    Some(MountInfo {
        id: num(fields[0])?,
        parent: num(fields[1])?,
        major,
        minor,
        root: path_field(fields[3]),
        mount_point: path_field(fields[4]),
        options: text_field(fields[5]),
        optional: fields[6..sep].iter().map(|f| text_field(f)).collect(),
        fstype: text_field(fields[sep + 1]),
        source: text_field(fields[sep + 2]),
        super_options: fields.get(sep + 3).map(|f| text_field(f)).unwrap_or_default(),
    })
}

/// Parses a whole mountinfo file.
pub fn parse(text: &[u8]) -> Result<Vec<MountInfo>, ParseError> {
    text.split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, l)| {
            parse_line(l).ok_or_else(|| ParseError { line: i + 1, text: String::from_utf8_lossy(l).into_owned() })
        })
        .collect()
}

/// Reads and parses `/proc/self/mountinfo` (proc(5)).
pub fn read() -> io::Result<Vec<MountInfo>> {
    let text = std::fs::read(MOUNTINFO)?;
    parse(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// The mount whose mount point is `path` (compared as given: pass a
/// canonical path). When several mounts are stacked there, the last one
/// listed is the one on top.
pub fn find_by_mount_point<'a>(table: &'a [MountInfo], path: &Path) -> Option<&'a MountInfo> {
    table.iter().rev().find(|m| m.mount_point == path)
}

/// The mount with this mount id.
pub fn find_by_id(table: &[MountInfo], id: u32) -> Option<&MountInfo> {
    table.iter().find(|m| m.id == id)
}

/// The mount whose root `path` is, if any: the top mount on the canonical
/// path in mountinfo. (Comparing `st_dev` with the parent directory would be
/// wrong for bind mounts of one filesystem and for btrfs subvolumes.)
pub fn mount_at(path: &Path) -> io::Result<Option<MountInfo>> {
    let canonical = path.canonicalize()?;
    let table = read()?;
    Ok(find_by_mount_point(&table, &canonical).cloned())
}

/// True when `path` is the root of a mount. (A mount hidden by a later mount
/// on one of its parents is still listed; such a path would count as a mount
/// root too.)
pub fn is_mount_root(path: &Path) -> io::Result<bool> {
    Ok(mount_at(path)?.is_some())
}

/// libmount `mnt_pretty_path`: the canonical path of a mount's source, and for
/// a loop device with autoclear (one that mount set up) its backing file.
pub fn pretty_source(source: &str) -> PathBuf {
    let path = Path::new(source).canonicalize().unwrap_or_else(|_| PathBuf::from(source));
    if path.as_os_str().as_bytes().starts_with(b"/dev/loop") {
        let autoclear = super::loopdev::status(&path)
            .ok()
            .flatten()
            .is_some_and(|i| i.lo_flags & super::loopdev::LO_FLAGS_AUTOCLEAR != 0);
        if autoclear {
            if let Ok(Some(file)) = super::loopdev::backing_file(&path) {
                return file;
            }
        }
    }
    path
}

/// The mounts `umount -R` takes down for `top`, in the order it unmounts them
/// (util-linux `umount_do_recurse`): for each mount, first a mount on top of
/// it, then its other children in mount id order (libmount `mnt_table_over_fs`,
/// `mnt_table_next_child_fs`), each with its own children before it; `top`
/// comes last.
pub fn submounts_deepest_first<'a>(table: &'a [MountInfo], top: &'a MountInfo) -> Vec<&'a MountInfo> {
    fn walk<'a>(table: &'a [MountInfo], m: &'a MountInfo, depth: usize, out: &mut Vec<&'a MountInfo>) {
        // A corrupt table could make a cycle of parents: it is never deeper than its length.
        if depth > table.len() {
            return;
        }
        let mut children: Vec<&MountInfo> = table.iter().filter(|c| c.parent == m.id && c.id != m.id).collect();
        children.sort_by_key(|c| (c.mount_point != m.mount_point, c.id));
        for child in children {
            walk(table, child, depth + 1, out);
        }
        out.push(m);
    }
    let mut out = Vec::new();
    walk(table, top, 0, &mut out);
    out
}

/// What a device is used for, as blkid's `-o list` says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Use {
    /// Listed in /proc/swaps.
    Swap,
    /// Mounted here (the first mount in the table).
    Mounted(PathBuf),
    /// Not mounted, but opened exclusively by someone (a RAID, LVM, ...).
    InUse,
    NotMounted,
}

/// How `dev` is used: swap, mounted (where), in use, or not mounted. A file
/// counts as the same as a source when it is the same block device or, for
/// regular files, the same inode.
pub fn use_of(dev: &Path) -> Use {
    let Ok(md) = std::fs::metadata(dev) else { return Use::NotMounted };
    let same = |src: &Path| {
        std::fs::metadata(src).is_ok_and(|m| {
            if md.file_type().is_block_device() {
                m.file_type().is_block_device() && m.rdev() == md.rdev()
            } else {
                m.dev() == md.dev() && m.ino() == md.ino()
            }
        })
    };
    let swaps = std::fs::read("/proc/swaps").unwrap_or_default();
    let mut lines = swaps.split(|&b| b == b'\n').skip(1);
    if lines
        .any(|l| l.split(|&b| b == b' ' || b == b'\t').find(|w| !w.is_empty()).is_some_and(|s| same(&path_field(s))))
    {
        return Use::Swap;
    }
    for m in read().unwrap_or_default() {
        if m.source.starts_with('/') && same(Path::new(&m.source)) {
            return Use::Mounted(m.mount_point);
        }
    }
    let busy = md.file_type().is_block_device()
        && std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::fcntl::OFlag::O_EXCL.bits())
            .open(dev)
            .is_err_and(|e| e.raw_os_error() == Some(nix::libc::EBUSY));
    if busy {
        Use::InUse
    } else {
        Use::NotMounted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &[u8] = b"22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime shared:1 master:2 - ext4 /dev/vda rw,discard
90 27 7:3 /sub\\040dir /mnt/with\\040space\\011tab\\012nl\\134bs ro,nosuid - ext4 /dev/loop3 ro
91 27 0:55 /@data /srv rw - btrfs /dev/loop4 rw,space_cache=v2,subvolid=256,subvol=/@data
92 27 0:56 / /srv rw - tmpfs none rw
";

    #[test]
    fn fields() {
        let t = parse(SAMPLE).unwrap();
        assert_eq!(t.len(), 5);
        assert_eq!(t[1].optional, vec!["shared:1", "master:2"]);
        assert_eq!((t[1].major, t[1].minor), (254, 0));
        assert_eq!(t[1].super_options, "rw,discard");
        let m = &t[2];
        assert_eq!(m.root, Path::new("/sub dir"));
        assert_eq!(m.mount_point, Path::new("/mnt/with space\ttab\nnl\\bs"));
        assert!(m.is_read_only());
        assert!(m.optional.is_empty());
        assert_eq!(m.source, "/dev/loop3");
        assert_eq!(t[3].root, Path::new("/@data"));
    }

    #[test]
    fn lookups() {
        let t = parse(SAMPLE).unwrap();
        // Stacked mounts: the last one is on top.
        assert_eq!(find_by_mount_point(&t, Path::new("/srv")).unwrap().id, 92);
        assert!(find_by_mount_point(&t, Path::new("/mnt")).is_none());
        assert_eq!(find_by_id(&t, 90).unwrap().fstype, "ext4");
        let loop4 = super::super::filesystem::Filesystem::on(vec!["/dev/loop4".into()]);
        assert_eq!(loop4.mounts(&t)[0].id, 91);
    }

    #[test]
    fn escapes() {
        assert_eq!(unescape(b"a\\040b"), b"a b");
        assert_eq!(unescape(b"\\134\\011\\012"), b"\\\t\n");
        // Not an escape: left alone.
        assert_eq!(unescape(b"a\\x"), b"a\\x");
        assert_eq!(unescape(b"a\\04"), b"a\\04");
        assert_eq!(unescape(b"a\\"), b"a\\");
        assert_eq!(unescape(b"\\777"), b"\\777");
    }

    fn info(options: &str, super_options: &str) -> MountInfo {
        let mut m = parse_line(b"1 2 0:1 / /x rw - ext4 /dev/x rw").unwrap();
        m.options = options.to_string();
        m.super_options = super_options.to_string();
        m
    }

    #[test]
    fn merged_options_as_mount_lists_them() {
        assert_eq!(info("rw,relatime", "rw").merged_options(), "rw,relatime");
        assert_eq!(
            info("rw,relatime", "rw,discard,errors=remount-ro").merged_options(),
            "rw,relatime,discard,errors=remount-ro"
        );
        assert_eq!(info("ro,noatime", "ro,attr2").merged_options(), "ro,noatime,attr2");
        // A read-only superblock under a read-write mount: ro wins.
        assert_eq!(info("rw,nosuid", "ro,x").merged_options(), "ro,nosuid,x");
        assert_eq!(info("ro", "rw").merged_options(), "ro");
        assert_eq!(info("rw", "rw").merged_options(), "rw");
        assert_eq!(info("rw,nodev", "").merged_options(), "rw,nodev");
        assert_eq!(info("rw,nodev", "size=10k").merged_options(), "rw,nodev,size=10k");
    }

    #[test]
    fn fstype_patterns() {
        assert!(match_fstype("ext4", "ext4"));
        assert!(match_fstype("ext4", "xfs,EXT4"));
        assert!(!match_fstype("ext4", "xfs,btrfs"));
        assert!(!match_fstype("ext4", "noext4,xfs"));
        assert!(!match_fstype("xfs", "noext4,xfs"));
        assert!(match_fstype("btrfs", "noext4,xfs"));
        assert!(!match_fstype("ext4", "xfs,noext4"));
        assert!(!match_fstype("ext", "ext4"));
    }

    #[test]
    fn pseudo_list_is_sorted() {
        assert!(PSEUDO_FILESYSTEMS.windows(2).all(|w| w[0] < w[1]));
        assert!(!info("rw", "").is_pseudo());
    }

    #[test]
    fn malformed() {
        assert!(parse(b"1 2 3\n").is_err());
        assert!(parse(b"1 2 0:1 / /x rw - ext4\n").is_err());
        assert!(parse_line(b"1 2 0:1 / /x rw - ext4 /dev/x").is_some());
    }

    #[test]
    fn this_process_has_a_root() {
        assert!(is_mount_root(Path::new("/")).unwrap());
        assert!(is_mount_root(Path::new("/proc")).unwrap());
        // A symlink to a directory inside /proc, not a mount root itself.
        assert!(!is_mount_root(Path::new("/proc/self")).unwrap());
    }

    #[test]
    fn submounts_come_deepest_first_with_an_overmount_before_siblings() {
        // 30 /mnt, with children 33 /mnt/b and 31 /mnt/a (31 has 32 /mnt/a/x)
        // and 34 mounted on top of /mnt itself.
        let table = parse(
            b"30 1 0:40 / /mnt rw - tmpfs t rw
33 30 0:43 / /mnt/b rw - tmpfs t rw
31 30 0:41 / /mnt/a rw - tmpfs t rw
32 31 0:42 / /mnt/a/x rw - tmpfs t rw
34 30 0:44 / /mnt rw - tmpfs t rw
",
        )
        .unwrap();
        let order: Vec<u32> = submounts_deepest_first(&table, &table[0]).iter().map(|m| m.id).collect();
        assert_eq!(order, [34, 32, 31, 33, 30]);
    }

    #[test]
    fn submounts_of_a_cyclic_table_end() {
        let table = parse(b"40 41 0:40 / /a rw - tmpfs t rw\n41 40 0:41 / /a/b rw - tmpfs t rw\n").unwrap();
        assert!(submounts_deepest_first(&table, &table[0]).len() <= 2 * table.len() + 2);
    }
}
