//! rest-server's Prometheus counters (same names, help texts and labels), plus
//! the free and total bytes of the filesystem under `--path`, in the Prometheus
//! text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Mutex;

/// What happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Read,
    Write,
    Delete,
}

/// (name, help) in the order the counters are printed; each operation owns a
/// count and a bytes counter.
const COUNTERS: [(&str, &str); 6] = [
    ("rest_server_blob_delete_bytes_total", "Total number of bytes of blobs deleted"),
    ("rest_server_blob_delete_total", "Total number of blobs deleted"),
    ("rest_server_blob_read_bytes_total", "Total number of bytes read from blobs"),
    ("rest_server_blob_read_total", "Total number of blobs read"),
    ("rest_server_blob_write_bytes_total", "Total number of bytes written to blobs"),
    ("rest_server_blob_write_total", "Total number of blobs written"),
];

/// Counters labelled by user, repository and object type.
#[derive(Default)]
pub struct Metrics {
    // Key (user, repo, type); values indexed like COUNTERS.
    counters: Mutex<BTreeMap<(String, String, String), [u64; 6]>>,
}

impl Metrics {
    /// Count one operation. `repo` is the folder path joined without separator,
    /// as rest-server labels it.
    pub fn add(&self, user: &str, repo: &str, kind: &str, op: Op, bytes: u64) {
        let (count, sum) = match op {
            Op::Delete => (1, 0),
            Op::Read => (3, 2),
            Op::Write => (5, 4),
        };
        let mut map = self.counters.lock().unwrap();
        let v = map.entry((user.to_string(), repo.to_string(), kind.to_string())).or_default();
        v[count] += 1;
        v[sum] += bytes;
    }

    /// The exposition text, with the filesystem gauges when `fs` has them.
    pub fn render(&self, fs: Option<FsStats>) -> String {
        let map = self.counters.lock().unwrap();
        let mut out = String::new();
        for (i, (name, help)) in COUNTERS.iter().enumerate() {
            if map.is_empty() {
                continue;
            }
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for ((user, repo, kind), v) in map.iter() {
                let _ = writeln!(
                    out,
                    "{name}{{repo=\"{}\",type=\"{}\",user=\"{}\"}} {}",
                    escape(repo),
                    escape(kind),
                    escape(user),
                    v[i]
                );
            }
        }
        if let Some(fs) = fs {
            let gauges = [
                (
                    "rest_server_fs_avail_bytes",
                    "Bytes available to the server on the filesystem of the data directory",
                    fs.avail,
                ),
                ("rest_server_fs_free_bytes", "Free bytes on the filesystem of the data directory", fs.free),
                ("rest_server_fs_size_bytes", "Size in bytes of the filesystem of the data directory", fs.size),
            ];
            for (name, help, value) in gauges {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
            }
        }
        out
    }
}

/// Bytes of a filesystem: available to the server, free, in all.
#[derive(Clone, Copy, Debug)]
pub struct FsStats {
    pub avail: u64,
    pub free: u64,
    pub size: u64,
}

/// statvfs(3) of the filesystem holding `path` (it may block on the disk).
pub fn fs_stats(path: &Path) -> Option<FsStats> {
    let st = nix::sys::statvfs::statvfs(path).ok()?;
    let unit = st.fragment_size();
    Some(FsStats { avail: st.blocks_available() * unit, free: st.blocks_free() * unit, size: st.blocks() * unit })
}

/// Label values escape `\`, `"` and newlines.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_in_text_format() {
        let m = Metrics::default();
        m.add("alice", "ab", "data", Op::Write, 10);
        m.add("alice", "ab", "data", Op::Write, 5);
        m.add("alice", "ab", "keys", Op::Read, 3);
        let text = m.render(fs_stats(Path::new("/")));
        assert!(text.contains("# TYPE rest_server_blob_write_total counter\n"));
        assert!(text.contains("rest_server_blob_write_total{repo=\"ab\",type=\"data\",user=\"alice\"} 2\n"));
        assert!(text.contains("rest_server_blob_write_bytes_total{repo=\"ab\",type=\"data\",user=\"alice\"} 15\n"));
        assert!(text.contains("rest_server_blob_read_bytes_total{repo=\"ab\",type=\"keys\",user=\"alice\"} 3\n"));
        assert!(text.contains("\nrest_server_fs_size_bytes "));
    }
}
