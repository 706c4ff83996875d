//! Cached, bounded, read-only access to a device or image for the probers.
//!
//! Probers ask for small pieces at scattered offsets (a 2-byte magic here, a
//! 1 KiB superblock there, 128 eight-byte uberblock magics in a ZFS label), so
//! the reader fetches exactly the bytes asked for, one pread(2) per miss, and
//! keeps what it read: a later request inside an earlier one costs nothing.
//! Reading whole blocks instead would multiply the I/O of a probe several times
//! over (libblkid itself reads 1 MiB of a plain 64 MiB disk; krazybox reads a
//! few KiB).
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

/// No single read may ask for more than this: corrupt sizes must not allocate gigabytes.
pub const MAX_READ: usize = 8 << 20;
/// At most this many bytes stay cached; the oldest pieces are dropped first.
const CACHE_BYTES: usize = 16 << 20;
/// A request is looked for in this many cached pieces that start at or before it.
/// Missing a piece further back only costs a second read.
const LOOK_BACK: usize = 8;

enum Source {
    File(File),
    Bytes(Vec<u8>),
}

/// A window `[offset, offset + size)` of a file, device or byte buffer.
///
/// Every read is bounds-checked against the window: a read that does not fit
/// fails with [`io::ErrorKind::UnexpectedEof`], which probers treat as "not
/// this type". The device is only ever read.
pub struct Reader {
    source: Source,
    offset: u64,
    size: u64,
    /// Pieces read so far by start offset, and their starts oldest first.
    cache: BTreeMap<u64, Vec<u8>>,
    order: VecDeque<u64>,
    cached: usize,
    bytes_read: u64,
}

/// O_NOATIME where the system has it (Linux).
#[cfg(target_os = "linux")]
const NOATIME: i32 = nix::fcntl::OFlag::O_NOATIME.bits();
#[cfg(not(target_os = "linux"))]
const NOATIME: i32 = 0;

/// Opens a device or image for probing: read-only, and without updating its
/// access time (O_NOATIME, which also makes each read cheaper) where the
/// system has that and the caller may ask for it (the owner, or root);
/// otherwise plainly read-only.
pub fn open(path: &Path) -> io::Result<File> {
    match OpenOptions::new().read(true).custom_flags(NOATIME).open(path) {
        Err(e) if e.raw_os_error() == Some(nix::errno::Errno::EPERM as i32) => File::open(path),
        other => other,
    }
}

impl Reader {
    /// A reader over `file` from `offset`, `size` bytes long (to the end when `None`).
    /// The size of a block device is the system's answer ([`super::device::size`]).
    pub fn from_file(mut file: File, offset: u64, size: Option<u64>) -> io::Result<Reader> {
        let end = super::device::size(&mut file)?;
        let avail = end.saturating_sub(offset);
        let size = size.map_or(avail, |s| s.min(avail));
        Ok(Reader::new(Source::File(file), offset, size))
    }

    /// A reader over bytes in memory (tests, fuzzing).
    pub fn from_bytes(bytes: Vec<u8>) -> Reader {
        let size = bytes.len() as u64;
        Reader::new(Source::Bytes(bytes), 0, size)
    }

    fn new(source: Source, offset: u64, size: u64) -> Reader {
        Reader { source, offset, size, cache: BTreeMap::new(), order: VecDeque::new(), cached: 0, bytes_read: 0 }
    }

    /// Size of the window in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes fetched from the device so far (cache hits are free).
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// Whether `len` bytes at `off` lie inside the window.
    pub fn fits(&self, off: u64, len: u64) -> bool {
        off.checked_add(len).is_some_and(|end| end <= self.size)
    }

    /// Fill `buf` from `off` without keeping the bytes: for scans that look at a
    /// few bytes in many places once (an XFS log's sector headers, ZFS
    /// uberblock magics), where caching would cost more than it saves.
    pub fn peek(&mut self, off: u64, buf: &mut [u8]) -> io::Result<()> {
        if buf.len() > MAX_READ || !self.fits(off, buf.len() as u64) {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        match &self.source {
            Source::File(f) => f.read_exact_at(buf, self.offset + off)?,
            Source::Bytes(b) => buf.copy_from_slice(&b[off as usize..off as usize + buf.len()]),
        }
        self.bytes_read += buf.len() as u64;
        Ok(())
    }

    /// `len` bytes at `off` within the window.
    pub fn read(&mut self, off: u64, len: usize) -> io::Result<Vec<u8>> {
        if len > MAX_READ || !self.fits(off, len as u64) {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let end = off + len as u64;
        let hit = self.cache.range(..=off).rev().take(LOOK_BACK).find(|(s, p)| end <= *s + p.len() as u64);
        if let Some((start, piece)) = hit {
            let from = (off - start) as usize;
            return Ok(piece[from..from + len].to_vec());
        }
        // A piece that holds the start of the range but ends too early (probers
        // often read a longer header at the same place) grows by the missing
        // tail alone, so the overlap is not read twice.
        let grow = self
            .cache
            .range(..=off)
            .next_back()
            .map(|(&s, p)| (s, s + p.len() as u64))
            .filter(|&(s, piece_end)| piece_end >= off && end - s <= MAX_READ as u64);
        let (start, from) = grow.unwrap_or((off, off));
        let mut tail = vec![0u8; (end - from) as usize];
        match &self.source {
            Source::File(f) => f.read_exact_at(&mut tail, self.offset + from)?,
            Source::Bytes(b) => tail.copy_from_slice(&b[from as usize..end as usize]),
        }
        self.bytes_read += tail.len() as u64;
        // The piece at `start`, if any, is grown or replaced.
        let old = self.cache.remove(&start);
        if let Some(old) = &old {
            self.cached -= old.len();
            self.order.retain(|&s| s != start);
        }
        let piece = match old {
            Some(mut head) if grow.is_some() => {
                head.extend_from_slice(&tail);
                head
            }
            _ => tail,
        };
        let buf = piece[(off - start) as usize..].to_vec();
        while self.cached + piece.len() > CACHE_BYTES {
            let Some(oldest) = self.order.pop_front() else { break };
            self.cached -= self.cache.remove(&oldest).map_or(0, |p| p.len());
        }
        self.cached += piece.len();
        self.cache.insert(start, piece);
        self.order.push_back(start);
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_exactly_and_serves_repeats_from_the_cache() {
        let data: Vec<u8> = (0..3 * 4096).map(|i| i as u8).collect();
        let mut r = Reader::from_bytes(data.clone());
        assert_eq!(r.read(4090, 12).unwrap(), &data[4090..4102]);
        assert_eq!(r.read(4095, 2).unwrap(), &data[4095..4097]);
        assert_eq!(r.bytes_read(), 12, "the second read lies inside the first");
        assert_eq!(r.read(0, 1024).unwrap(), &data[..1024]);
        assert_eq!(r.bytes_read(), 12 + 1024);
        let mut word = [0u8; 4];
        r.peek(8, &mut word).unwrap();
        assert_eq!(word, data[8..12]);
        assert_eq!(r.bytes_read(), 12 + 1024 + 4, "peeks are counted but not cached");
        assert!(r.peek(3 * 4096 - 2, &mut word).is_err());
    }

    #[test]
    fn open_reads_without_touching_the_access_time() {
        use std::os::unix::fs::MetadataExt;
        let dir = std::env::temp_dir().join(format!("krazybox-reader-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("image");
        std::fs::write(&path, [1u8, 2, 3, 4]).unwrap();
        // An access time well in the past, which a read on a relatime mount would move.
        let old = nix::sys::time::TimeSpec::new(1_000_000, 0);
        nix::sys::stat::utimensat(None, &path, &old, &old, nix::sys::stat::UtimensatFlags::FollowSymlink).unwrap();
        let mut r = Reader::from_file(open(&path).unwrap(), 0, None).unwrap();
        assert_eq!(r.read(1, 2).unwrap(), [2, 3]);
        drop(r);
        assert_eq!(std::fs::metadata(&path).unwrap().atime(), 1_000_000);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_longer_read_at_a_cached_place_reads_only_the_missing_tail() {
        let data: Vec<u8> = (0..8192).map(|i| (i * 7) as u8).collect();
        let mut r = Reader::from_bytes(data.clone());
        assert_eq!(r.read(0, 256).unwrap(), &data[..256]);
        assert_eq!(r.read(0, 1024).unwrap(), &data[..1024]);
        assert_eq!(r.bytes_read(), 1024, "only bytes 256..1024 were added");
        assert_eq!(r.read(1024, 512).unwrap(), &data[1024..1536], "a read right after the piece extends it");
        assert_eq!(r.read(100, 2000).unwrap(), &data[100..2100]);
        assert_eq!(r.bytes_read(), 2100);
        assert_eq!(r.cache.len(), 1, "one piece, grown in place");
        assert_eq!(r.cached, 2100);
        assert_eq!(r.order.len(), 1);
        // A read beyond a gap starts a piece of its own.
        assert_eq!(r.read(4000, 10).unwrap(), &data[4000..4010]);
        assert_eq!(r.bytes_read(), 2110);
        assert_eq!(r.cache.len(), 2);
    }

    #[test]
    fn scattered_words_are_read_once_and_served_from_earlier_pieces() {
        let data: Vec<u8> = (0..4096).map(|i| i as u8).collect();
        let mut r = Reader::from_bytes(data.clone());
        assert_eq!(r.read(512, 8).unwrap(), &data[512..520]);
        assert_eq!(r.read(512, 8).unwrap(), &data[512..520]);
        assert_eq!(r.bytes_read(), 8);
        r.read(1024, 1024).unwrap();
        assert_eq!(r.read(1536, 8).unwrap(), &data[1536..1544], "inside an earlier piece");
        assert_eq!(r.bytes_read(), 8 + 1024);
        assert!(r.read(4090, 8).is_err(), "past the end");
    }

    #[test]
    fn refuses_reads_past_the_end_or_too_large() {
        let mut r = Reader::from_bytes(vec![0; 100]);
        assert!(r.read(90, 10).is_ok());
        assert_eq!(r.read(91, 10).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        assert!(r.read(u64::MAX - 2, 8).is_err());
        assert!(r.read(0, MAX_READ + 1).is_err());
        assert!(r.fits(0, 100) && !r.fits(1, 100) && !r.fits(u64::MAX, 2));
    }

    #[test]
    fn the_cache_stays_bounded() {
        let mut r = Reader::from_bytes(vec![7; 3 * MAX_READ]);
        for i in 0..3 {
            r.read((i * MAX_READ) as u64, MAX_READ).unwrap();
        }
        const { assert!(3 * MAX_READ > CACHE_BYTES) };
        assert!(r.cached <= CACHE_BYTES);
        assert_eq!(r.cache.values().map(Vec::len).sum::<usize>(), r.cached);
        assert_eq!(r.order.len(), r.cache.len());
    }
}
