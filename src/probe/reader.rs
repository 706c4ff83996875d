//! Cached, bounded, read-only access to a device or image for the probers.
#![forbid(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Reads are served from whole blocks of this size, read once and kept.
pub const BLOCK: u64 = 4096;
/// At most this many blocks are kept; older ones are dropped first.
const CACHE_BLOCKS: usize = 64;
/// No single read may ask for more than this: corrupt sizes must not allocate gigabytes.
pub const MAX_READ: usize = 8 << 20;

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
    cache: Vec<(u64, Vec<u8>)>,
    bytes_read: u64,
}

impl Reader {
    /// A reader over `file` from `offset`, `size` bytes long (to the end when `None`).
    /// The size of a block device comes from seeking to its end.
    pub fn from_file(mut file: File, offset: u64, size: Option<u64>) -> io::Result<Reader> {
        use std::io::Seek;
        let end = file.seek(io::SeekFrom::End(0))?;
        let avail = end.saturating_sub(offset);
        let size = size.map_or(avail, |s| s.min(avail));
        Ok(Reader { source: Source::File(file), offset, size, cache: Vec::new(), bytes_read: 0 })
    }

    /// A reader over bytes in memory (tests, fuzzing).
    pub fn from_bytes(bytes: Vec<u8>) -> Reader {
        let size = bytes.len() as u64;
        Reader { source: Source::Bytes(bytes), offset: 0, size, cache: Vec::new(), bytes_read: 0 }
    }

    /// Size of the window in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes fetched from the device so far (cache hits are free).
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// `len` bytes at `off` within the window.
    pub fn read(&mut self, off: u64, len: usize) -> io::Result<Vec<u8>> {
        let end = off.checked_add(len as u64).filter(|&e| e <= self.size);
        if len > MAX_READ || end.is_none() {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let mut out = Vec::with_capacity(len);
        let mut pos = off;
        let end = off + len as u64;
        while pos < end {
            let block_start = pos - pos % BLOCK;
            let block = self.block(block_start)?;
            let from = (pos - block_start) as usize;
            let to = ((end - block_start) as usize).min(block.len());
            if from >= to {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            out.extend_from_slice(&block[from..to]);
            pos = block_start + to as u64;
        }
        Ok(out)
    }

    /// The block starting at `start` (a multiple of [`BLOCK`]), shorter at the end of the window.
    fn block(&mut self, start: u64) -> io::Result<&[u8]> {
        if let Some(i) = self.cache.iter().position(|(s, _)| *s == start) {
            return Ok(&self.cache[i].1);
        }
        let len = BLOCK.min(self.size - start) as usize;
        let mut buf = vec![0u8; len];
        match &self.source {
            Source::File(f) => f.read_exact_at(&mut buf, self.offset + start)?,
            Source::Bytes(b) => buf.copy_from_slice(&b[start as usize..start as usize + len]),
        }
        self.bytes_read += len as u64;
        if self.cache.len() >= CACHE_BLOCKS {
            self.cache.remove(0);
        }
        self.cache.push((start, buf));
        Ok(&self.cache.last().expect("just pushed").1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_across_blocks_and_counts_once() {
        let data: Vec<u8> = (0..3 * BLOCK as usize).map(|i| i as u8).collect();
        let mut r = Reader::from_bytes(data.clone());
        assert_eq!(r.read(4090, 12).unwrap(), &data[4090..4102]);
        assert_eq!(r.read(4095, 2).unwrap(), &data[4095..4097]);
        assert_eq!(r.bytes_read(), 2 * BLOCK);
    }

    #[test]
    fn refuses_reads_past_the_end_or_too_large() {
        let mut r = Reader::from_bytes(vec![0; 100]);
        assert!(r.read(90, 10).is_ok());
        assert_eq!(r.read(91, 10).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        assert!(r.read(u64::MAX - 2, 8).is_err());
        assert!(r.read(0, MAX_READ + 1).is_err());
    }
}
