//! The data folder (`--path`) as a whole: made where it is missing, and swept
//! at start of the temporary files of uploads an earlier server left.

use super::repo::{self, Modes, TEMP_MARK};
use std::io;
use std::path::Path;

/// What [`sweep`] found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// Temporary files of interrupted uploads removed.
    pub removed: usize,
    /// Bytes in the regular files left, when counted: what `--max-size` counts
    /// (rest-server counts the whole tree at start).
    pub bytes: u64,
}

/// Walk the tree below `path`: remove the temporary files of uploads that an
/// earlier server left (they are never listed, but take space), and with
/// `count` add up the bytes of every other regular file but the server's own
/// (`own`: the lock file, its configuration files), which are not the owner's
/// data. Without `count` no file is looked at, only folders read: on a big
/// repository on a slow disk that is a small part of the reads. Only this
/// process's uploads are spared, so it must run while holding the [`Lock`](repo::Lock).
pub fn sweep(path: &Path, count: bool, own: &[&Path]) -> Swept {
    use std::os::unix::fs::MetadataExt;
    let ours = format!("{TEMP_MARK}-{}-", repo::token());
    let own: Vec<(u64, u64)> =
        own.iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| (m.dev(), m.ino())).collect();
    let mut swept = Swept::default();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            // readdir's type: no stat of the file.
            let Ok(kind) = entry.file_type() else { continue };
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                let stale = name.starts_with('.') && name.contains(TEMP_MARK) && !name.contains(&ours);
                if stale && std::fs::remove_file(entry.path()).is_ok() {
                    swept.removed += 1;
                } else if count {
                    match entry.metadata() {
                        Ok(m) if !own.contains(&(m.dev(), m.ino())) => swept.bytes += m.len(),
                        _ => {}
                    }
                }
            }
        }
    }
    swept
}

/// Make `path` and its missing parents with the folder mode, whatever the umask
/// (the Go server makes repositories with MkdirAll). Returns whether it made any.
pub fn create_missing(path: &Path, modes: Modes) -> io::Result<bool> {
    use std::os::unix::fs::PermissionsExt;
    let mut missing = Vec::new();
    let mut at = path;
    while std::fs::symlink_metadata(at).is_err() {
        missing.push(at);
        match at.parent() {
            Some(p) if !p.as_os_str().is_empty() => at = p,
            _ => break,
        }
    }
    for dir in missing.iter().rev() {
        match std::fs::create_dir(dir) {
            Ok(()) => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(modes.dir))?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(!missing.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_uploads_are_swept_and_the_rest_counted() {
        let root = std::env::temp_dir().join(format!("krazybox-datadir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("repo/data/00")).unwrap();
        std::fs::write(root.join("inside"), b"yes").unwrap();
        std::fs::write(root.join(".x.rest-server-temp-1-2"), b"left").unwrap();
        std::fs::write(root.join("repo/data/00/.y.rest-server-temp-3-4"), b"left too").unwrap();
        std::fs::write(root.join("x.rest-server-temp"), b"not ours").unwrap();
        std::fs::write(root.join("lock"), b"12345\n").unwrap();
        assert_eq!(sweep(&root, true, &[&root.join("lock")]), Swept { removed: 2, bytes: 3 + 8 });
        assert_eq!(sweep(&root, true, &[]).bytes, 3 + 8 + 6);
        assert_eq!(sweep(&root, false, &[]).bytes, 0, "nothing counted, nothing looked at");
        assert!(root.join("x.rest-server-temp").exists());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn missing_folders_are_made_with_the_folder_mode() {
        use std::os::unix::fs::PermissionsExt;
        let base = std::env::temp_dir().join(format!("krazybox-datadir-mk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let path = base.join("a/b");
        assert!(create_missing(&path, Modes::new(true)).unwrap());
        assert!(!create_missing(&path, Modes::new(true)).unwrap(), "nothing more to make");
        for d in [&base, &base.join("a"), &path] {
            assert_eq!(std::fs::metadata(d).unwrap().permissions().mode() & 0o7777, Modes::new(true).dir, "{d:?}");
        }
        std::fs::remove_dir_all(&base).unwrap();
    }
}
