//! Links named after each applet that point at the multi-call executable.
#![forbid(unsafe_code)]

use anyhow::{bail, Context, Result};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Create `dir/NAME` for every name, as a symlink to `exe` or a hard link to it.
///
/// A name that exists already is left alone when it is the same kind of link to
/// `exe`, replaced when it is the other kind of link to `exe`, and refused
/// otherwise: installing must never overwrite somebody else's program.
pub fn links(exe: &Path, dir: &Path, names: &[&str], symbolic: bool) -> Result<()> {
    let exe_meta = fs::metadata(exe).with_context(|| format!("reading {}", exe.display()))?;
    if !dir.is_dir() {
        bail!("{} is not a directory; create it first", dir.display());
    }
    for name in names {
        let link = dir.join(name);
        if let Ok(meta) = fs::symlink_metadata(&link) {
            let points_here = if meta.file_type().is_symlink() {
                fs::canonicalize(&link).ok() == fs::canonicalize(exe).ok()
            } else {
                meta.dev() == exe_meta.dev() && meta.ino() == exe_meta.ino()
            };
            if !points_here {
                bail!("{} exists and is not a link to {}; remove it first", link.display(), exe.display());
            }
            if meta.file_type().is_symlink() == symbolic {
                continue;
            }
            fs::remove_file(&link).with_context(|| format!("replacing {}", link.display()))?;
        }
        let made = if symbolic { std::os::unix::fs::symlink(exe, &link) } else { fs::hard_link(exe, &link) };
        made.with_context(|| format!("linking {} to {}", link.display(), exe.display()))?;
    }
    Ok(())
}
