//! Upload buffers used again and again, shared by every upload.

use std::sync::Mutex;

/// Upload buffers: their size, and how many the pool keeps between uploads
/// (an upload holds two, one filling and one being written, and a third for
/// a moment when a frame fills one). Each buffer is one trip to a blocking
/// thread: 256 KiB makes 4096 of them per GiB. Keeping 16 (4 MiB when idle)
/// instead of 8 takes a third of the page faults off 8 parallel uploads.
pub(super) const UPLOAD_BUF: usize = 256 * 1024;
const POOL_KEEP: usize = 16;

/// Upload buffers used again and again. musl's malloc maps and unmaps every
/// large block, and fresh pages fault in one by one: copying request bytes
/// into recycled buffers costs far less than that, and lets hyper reuse its own
/// read buffer at once.
#[derive(Default)]
pub(super) struct Pool {
    free: Mutex<Vec<Vec<u8>>>,
}

impl Pool {
    pub(super) fn get(&self) -> Vec<u8> {
        self.free.lock().unwrap().pop().unwrap_or_else(|| Vec::with_capacity(UPLOAD_BUF))
    }

    pub(super) fn put(&self, mut buf: Vec<u8>) {
        if buf.capacity() != UPLOAD_BUF {
            return;
        }
        buf.clear();
        let mut free = self.free.lock().unwrap();
        if free.len() < POOL_KEEP {
            free.push(buf);
        }
    }
}
