//! The block devices `blkid` looks at when given none.
#![forbid(unsafe_code)]

use std::io;
use std::path::PathBuf;

/// `blkid` with no device arguments: the devices util-linux scans, in its order.
pub fn block_devices() -> io::Result<Vec<PathBuf>> {
    Ok(Vec::new())
}
