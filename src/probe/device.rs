//! Block devices as the kernel describes them in sysfs: which ones `blkid`
//! looks at when given none, and where a partition sits on its disk.
#![forbid(unsafe_code)]

pub use super::ctx::DeviceInfo;
use super::partitions::{self, Disk};
use super::{Reader, Tag};
use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// glibc's `major()`/`minor()` split of a `dev_t`.
fn split_dev(rdev: u64) -> (u32, u32) {
    let major = ((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff);
    let minor = (rdev & 0xff) | ((rdev >> 12) & !0xff);
    (major as u32, minor as u32)
}

fn sysfs_dir(major: u32, minor: u32) -> PathBuf {
    PathBuf::from(format!("/sys/dev/block/{major}:{minor}"))
}

fn read_u64(path: &Path) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

impl DeviceInfo {
    /// The device behind `meta`, if it is a block device the kernel lists in sysfs.
    pub fn of(meta: &fs::Metadata) -> Option<DeviceInfo> {
        if !meta.file_type().is_block_device() {
            return None;
        }
        let (major, minor) = split_dev(meta.rdev());
        let dir = sysfs_dir(major, minor);
        let whole_disk = !dir.join("partition").exists();
        let queue = if whole_disk { dir.join("queue") } else { dir.join("../queue") };
        let sector_size = read_u64(&queue.join("logical_block_size")).filter(|&s| s >= 512).unwrap_or(512);
        Some(DeviceInfo { major, minor, whole_disk, sector_size })
    }
}

/// The size in bytes of an image file or block device: where seeking ends.
pub fn size(file: &mut fs::File) -> io::Result<u64> {
    use std::io::Seek;
    file.seek(io::SeekFrom::End(0))
}

/// `PART_ENTRY_*` for a partition device, read from its disk's partition table
/// as libblkid's `blkid_partitions_probe_partition` does; nothing for a whole
/// disk or when the disk's table has no entry at the partition's place.
pub fn part_entry_tags(dev: &DeviceInfo) -> io::Result<Vec<Tag>> {
    if dev.whole_disk {
        return Ok(Vec::new());
    }
    let dir = sysfs_dir(dev.major, dev.minor);
    let (Some(start), Some(size)) = (read_u64(&dir.join("start")), read_u64(&dir.join("size"))) else {
        return Ok(Vec::new());
    };
    let Ok(disk_dir) = fs::canonicalize(dir.join("..")) else { return Ok(Vec::new()) };
    let Some((disk_major, disk_minor)) = read_dev(&disk_dir) else { return Ok(Vec::new()) };
    let Some(disk_node) = dev_node(&disk_dir, disk_major, disk_minor) else { return Ok(Vec::new()) };
    let file = match super::reader::open(&disk_node) {
        Ok(f) => f,
        Err(_) => return Ok(Vec::new()),
    };
    let sector_size = read_u64(&disk_dir.join("queue/logical_block_size")).filter(|&s| s >= 512).unwrap_or(512);
    let mut r = Reader::from_file(file, 0, None)?;
    let Some(table) = partitions::probe_partitions(&mut r, Disk { sector_size, fs_type: None })? else {
        return Ok(Vec::new());
    };
    let Some(p) = partitions::find_partition(&table, start, size) else { return Ok(Vec::new()) };
    let mut tags = vec![Tag { name: "PART_ENTRY_SCHEME", value: p.scheme.as_bytes().to_vec() }];
    if let Some(name) = &p.name {
        // Bytes, not a String: a lone UTF-16 surrogate stays as libblkid encodes it.
        tags.push(Tag { name: "PART_ENTRY_NAME", value: name.clone() });
    }
    if let Some(uuid) = &p.uuid {
        tags.push(Tag { name: "PART_ENTRY_UUID", value: uuid.clone().into_bytes() });
    }
    // Bytes: a mac or atari type string is whatever the table holds.
    tags.push(Tag { name: "PART_ENTRY_TYPE", value: p.type_name.clone() });
    let mut set = |name: &'static str, value: String| tags.push(Tag { name, value: value.into_bytes() });
    if p.flags != 0 {
        set("PART_ENTRY_FLAGS", format!("0x{:x}", p.flags));
    }
    set("PART_ENTRY_NUMBER", p.number.to_string());
    // libblkid prints these as signed 64-bit numbers.
    set("PART_ENTRY_OFFSET", (p.start as i64).to_string());
    set("PART_ENTRY_SIZE", (p.size as i64).to_string());
    set("PART_ENTRY_DISK", format!("{disk_major}:{disk_minor}"));
    Ok(tags)
}

/// `major:minor` from a sysfs device directory's `dev` file.
fn read_dev(dir: &Path) -> Option<(u32, u32)> {
    let s = fs::read_to_string(dir.join("dev")).ok()?;
    let (a, b) = s.trim().split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// The `/dev` node of a sysfs block device: the name udev and devtmpfs give it
/// (`DEVNAME` in `uevent`), checked to be that device.
fn dev_node(dir: &Path, major: u32, minor: u32) -> Option<PathBuf> {
    let uevent = fs::read_to_string(dir.join("uevent")).unwrap_or_default();
    let name = uevent
        .lines()
        .find_map(|l| l.strip_prefix("DEVNAME="))
        .map(str::to_string)
        .or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()))?;
    let path = Path::new("/dev").join(name);
    let meta = fs::metadata(&path).ok()?;
    (meta.file_type().is_block_device() && split_dev(meta.rdev()) == (major, minor)).then_some(path)
}

/// `blkid` with no device arguments: the devices util-linux scans, in its order.
///
/// As libblkid 2.38.1's `sysfs_probe_all` (devname.c): every entry of
/// `/sys/block` in directory order, skipping empty devices (unbound loops) and
/// removable devices that cannot have partitions; a disk with partitions is
/// replaced by its partitions, except extended-partition stubs (1 KiB).
/// device-mapper devices are named `/dev/mapper/<name>`.
pub fn block_devices() -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in fs::read_dir("/sys/block")? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name().to_string_lossy().into_owned();
        let dir = Path::new("/sys/block").join(&name);
        if read_u64(&dir.join("size")).unwrap_or(0) == 0 {
            continue;
        }
        let removable = read_u64(&dir.join("removable")).unwrap_or(0) != 0;
        let ext_range = read_u64(&dir.join("ext_range")).unwrap_or(0);
        if removable && ext_range == 0 {
            continue;
        }
        let mut parts = Vec::new();
        let mut nparts = 0;
        if let Ok(rd) = fs::read_dir(&dir) {
            for e in rd.flatten() {
                let pname = e.file_name().to_string_lossy().into_owned();
                // Partitions are the subdirectories named after the disk that have a `partition` file.
                if !pname.starts_with(&name) || !dir.join(&pname).join("partition").exists() {
                    continue;
                }
                let psize = read_u64(&dir.join(&pname).join("size"));
                if psize.is_some_and(|s| s >> 1 == 1) {
                    continue;
                }
                nparts += 1;
                if let Some(p) = node_for(&dir.join(&pname), &pname) {
                    parts.push(p);
                }
            }
        }
        if nparts == 0 {
            if let Some(p) = node_for(&dir, &name) {
                out.push(p);
            }
        } else {
            out.extend(parts);
        }
    }
    Ok(out)
}

/// The device node util-linux would name for sysfs entry `name`.
fn node_for(dir: &Path, name: &str) -> Option<PathBuf> {
    let (major, minor) = read_dev(dir)?;
    if name.strip_prefix("dm-").is_some_and(|n| n.starts_with(|c: char| c.is_ascii_digit())) {
        if let Ok(n) = fs::read_to_string(dir.join("dm/name")) {
            let p = Path::new("/dev/mapper").join(n.trim());
            if p.exists() {
                return Some(p);
            }
        }
    }
    let p = Path::new("/dev").join(name);
    match fs::metadata(&p) {
        Ok(m) if m.file_type().is_block_device() && split_dev(m.rdev()) == (major, minor) => Some(p),
        _ => dev_node(dir, major, minor),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_t_split_matches_glibc() {
        assert_eq!(split_dev(0x0801), (8, 1));
        assert_eq!(split_dev((259 << 8) | 3), (259, 3));
        // Large minors spill into the high bits.
        assert_eq!(split_dev(0x0010_0700), (7, 0x100));
    }

    /// Our scan, restricted to the loop devices this test made, is what
    /// `blkid -c /dev/null -o device` lists of them, in the same order.
    #[test]
    fn scan_matches_blkid_on_own_loop_devices() {
        use crate::support::{have, run, serial, zero_image, Loop, LoopOpts, TempDir};
        use std::process::{Command, Stdio};
        if !have("sfdisk") || !have("mkfs.ext4") || !Path::new("/dev/loop-control").exists() {
            eprintln!("skipped: sfdisk, mkfs.ext4 or loop devices missing");
            return;
        }
        let dir = TempDir::new("scan");
        let disk = dir.join("disk.img");
        zero_image(&disk, 16 << 20);
        let mut child = Command::new("sfdisk")
            .args(["-q", "--no-reread", "--no-tell-kernel"])
            .arg(&disk)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("sfdisk");
        let script = "label: dos\nstart=2048, size=4096, type=83\nstart=6144, size=8192, type=5\n\
                      start=8192, size=2048, type=83\nstart=12288, size=2048, type=83\n";
        std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), script.as_bytes()).expect("write");
        assert!(child.wait().expect("sfdisk").success());
        let plain = dir.join("plain.img");
        zero_image(&plain, 8 << 20);
        run("mkfs.ext4", &["-q", "-F", plain.to_str().expect("utf-8")]);

        let lock = serial();
        let lo_disk = Loop::attach(&lock, &disk, LoopOpts::PARTITIONS);
        let lo_plain = Loop::attach(&lock, &plain, LoopOpts::PARTITIONS);
        run("mkfs.ext4", &["-q", "-F", lo_disk.part(1).to_str().expect("utf-8")]);

        let disk_s = lo_disk.0.to_string_lossy().into_owned();
        let mine = |p: &Path| {
            let s = p.to_string_lossy();
            p == lo_plain.0 || s == disk_s || s.strip_prefix(&disk_s).is_some_and(|n| n.starts_with('p'))
        };
        let ours: Vec<PathBuf> = block_devices().expect("scan").into_iter().filter(|p| mine(p)).collect();
        let expect: Vec<PathBuf> = [lo_disk.part(1), lo_disk.part(5), lo_disk.part(6)].into_iter().collect();
        for p in &expect {
            assert!(ours.contains(p), "{} not scanned: {ours:?}", p.display());
        }
        assert!(ours.contains(&lo_plain.0));
        assert!(!ours.contains(&lo_disk.0), "a partitioned disk is replaced by its partitions");
        assert!(!ours.contains(&lo_disk.part(2)), "extended-partition stubs are skipped");

        let out = Command::new(crate::support::probe::BLKID)
            .args(["-c", "/dev/null", "-o", "device"])
            .output()
            .expect("blkid");
        let theirs: Vec<PathBuf> =
            String::from_utf8_lossy(&out.stdout).lines().map(PathBuf::from).filter(|p| mine(p)).collect();
        assert_eq!(ours, theirs);
    }
}
