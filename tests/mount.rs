//! Mounting against the real kernel, with util-linux's mount(8) and umount(8)
//! as the oracle, in one test binary: [`engine`] tests the library, [`applet`]
//! the `mount` and `umount` applets.

mod support;

use krazybox::mount;
use std::path::PathBuf;
use support::{image, s, TempDir};

#[path = "mount/applet.rs"]
mod applet;
#[path = "mount/engine.rs"]
mod engine;

/// What the error-message tests of the engine and of the applet mount:
/// an ext4 image on a loop device, an empty mount point, and a folder and a
/// device that do not exist. Fields drop in the order declared: the device
/// is detached before the folder goes.
pub(crate) struct ErrorScene {
    _lo: mount::LoopGuard,
    pub dev: String,
    pub img: PathBuf,
    pub target: PathBuf,
    pub missing_dir: PathBuf,
    pub missing_dev: PathBuf,
    pub dir: TempDir,
}

impl ErrorScene {
    pub fn new() -> ErrorScene {
        let dir = TempDir::new("errors");
        let img = image(&dir, "ext4.img", 32, &["mkfs.ext4", "-q", "-F"]);
        let target = dir.subdir("mnt");
        let lo = mount::LoopGuard::attach(&img, false).unwrap();
        let dev = s(lo.path()).to_string();
        let (missing_dir, missing_dev) = (dir.join("nowhere"), dir.join("nodevice"));
        ErrorScene { _lo: lo, dev, img, target, missing_dir, missing_dev, dir }
    }
}
