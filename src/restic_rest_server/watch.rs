//! Noticing a pulled disk. When a USB disk is unplugged, loses power or
//! resets, the kernel removes its block device from sysfs, but the mount
//! stays: writes fail, reads answer from the page cache, and nobody notices.
//! Every device that backs the mount (each btrfs member) is remembered by
//! kernel name and device number when rest-server starts; the device is gone
//! when `<sysfs>/class/block/<name>/dev` no longer reads that number (the
//! entry left, or another device took the name).
#![forbid(unsafe_code)]

use std::fs;
use std::path::{Path, PathBuf};

/// Where sysfs is mounted on a running system.
pub const SYSFS: &str = "/sys";

#[derive(Clone, Debug, PartialEq, Eq)]
struct Member {
    /// Kernel name, `sda1`.
    name: String,
    /// `major:minor` as sysfs writes it.
    dev: String,
}

/// The devices under a mount, looked at through one sysfs tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Watch {
    sys: PathBuf,
    members: Vec<Member>,
}

impl Watch {
    /// Watches the block devices numbered `devices` (major, minor), named as
    /// `<sys>/dev/block/M:m` names them now. A number sysfs does not know is
    /// left out (it cannot leave what it never was in).
    pub fn new(sys: &Path, devices: &[(u64, u64)]) -> Watch {
        let mut members: Vec<Member> = Vec::new();
        for &(major, minor) in devices {
            let dev = format!("{major}:{minor}");
            let link = sys.join("dev/block").join(&dev);
            let Some(name) =
                fs::read_link(&link).ok().and_then(|t| t.file_name().map(|n| n.to_string_lossy().into_owned()))
            else {
                log::warn!("{} does not exist: not watching device {dev}", link.display());
                continue;
            };
            if !members.iter().any(|m| m.dev == dev) {
                members.push(Member { name, dev });
            }
        }
        Watch { sys: sys.to_path_buf(), members }
    }

    /// The kernel names watched, `sda1`.
    pub fn names(&self) -> Vec<&str> {
        self.members.iter().map(|m| m.name.as_str()).collect()
    }

    /// The first watched device that is gone, as one phrase naming it.
    /// Costs one small sysfs read per device.
    pub fn gone(&self) -> Option<String> {
        self.members.iter().find_map(|m| {
            let class = self.sys.join("class/block").join(&m.name);
            match fs::read_to_string(class.join("dev")) {
                Ok(now) if now.trim() == m.dev => None,
                Ok(now) => Some(format!("/dev/{} ({}) is now another device ({})", m.name, m.dev, now.trim())),
                Err(_) => {
                    Some(format!("/dev/{} ({}) left {}", m.name, m.dev, class.parent().unwrap_or(&class).display()))
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sysfs tree with the parts the watch reads.
    struct FakeSys(PathBuf);

    impl FakeSys {
        fn new(name: &str) -> FakeSys {
            let root = std::env::temp_dir().join(format!("krazybox-fakesys-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&root);
            fs::create_dir_all(root.join("dev/block")).unwrap();
            fs::create_dir_all(root.join("class/block")).unwrap();
            FakeSys(root)
        }

        fn add(&self, name: &str, dev: &str) {
            let dir = self.0.join("devices/virtual/block").join(name);
            fs::create_dir_all(&dir).unwrap();
            fs::write(dir.join("dev"), format!("{dev}\n")).unwrap();
            let _ = fs::remove_file(self.0.join("class/block").join(name));
            std::os::unix::fs::symlink(&dir, self.0.join("class/block").join(name)).unwrap();
            let _ = fs::remove_file(self.0.join("dev/block").join(dev));
            std::os::unix::fs::symlink(&dir, self.0.join("dev/block").join(dev)).unwrap();
        }

        fn remove(&self, name: &str, dev: &str) {
            fs::remove_dir_all(self.0.join("devices/virtual/block").join(name)).unwrap();
            fs::remove_file(self.0.join("class/block").join(name)).unwrap();
            fs::remove_file(self.0.join("dev/block").join(dev)).unwrap();
        }
    }

    impl Drop for FakeSys {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_device_leaving_sysfs_is_gone() {
        let sys = FakeSys::new("leave");
        sys.add("sda1", "8:1");
        sys.add("sdb", "8:16");
        let w = Watch::new(&sys.0, &[(8, 1), (8, 16), (8, 1)]);
        assert_eq!(w.names(), ["sda1", "sdb"]);
        assert_eq!(w.gone(), None);
        sys.remove("sdb", "8:16");
        let gone = w.gone().unwrap();
        assert!(gone.starts_with("/dev/sdb (8:16) left "), "{gone}");
        assert!(gone.ends_with("class/block"), "{gone}");
    }

    #[test]
    fn a_name_taken_by_another_device_is_gone() {
        let sys = FakeSys::new("reuse");
        sys.add("sda1", "8:1");
        let w = Watch::new(&sys.0, &[(8, 1)]);
        sys.remove("sda1", "8:1");
        sys.add("sda1", "8:33");
        assert_eq!(w.gone().as_deref(), Some("/dev/sda1 (8:1) is now another device (8:33)"));
    }

    #[test]
    fn unknown_numbers_are_not_watched() {
        let sys = FakeSys::new("unknown");
        sys.add("loop3", "7:3");
        let w = Watch::new(&sys.0, &[(7, 9), (7, 3)]);
        assert_eq!(w.names(), ["loop3"]);
        assert_eq!(w.gone(), None);
        assert_eq!(Watch::new(&sys.0, &[]).gone(), None);
    }

    #[test]
    fn the_running_system_has_its_own_devices() {
        // Whatever disk this machine runs on is not gone.
        let Some(dev) = fs::read_dir("/sys/class/block").ok().and_then(|mut d| d.next()).and_then(|e| e.ok()) else {
            return;
        };
        let number = fs::read_to_string(dev.path().join("dev")).unwrap();
        let (major, minor) = number.trim().split_once(':').unwrap();
        let w = Watch::new(Path::new(SYSFS), &[(major.parse().unwrap(), minor.parse().unwrap())]);
        assert_eq!(w.names(), [dev.file_name().to_str().unwrap()]);
        assert_eq!(w.gone(), None);
    }
}
