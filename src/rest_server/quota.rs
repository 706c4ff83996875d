//! `--max-size`: the bytes the whole tree may hold, as rest-server counts them
//! (every regular file below `--path`, counted at start, then kept up to date
//! by uploads and deletions).

use std::sync::atomic::{AtomicU64, Ordering};

pub struct Quota {
    max: u64,
    used: AtomicU64,
}

impl Quota {
    pub fn new(max: u64, used: u64) -> Quota {
        Quota { max, used: AtomicU64::new(used) }
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    pub fn used(&self) -> u64 {
        self.used.load(Ordering::SeqCst)
    }

    /// Whether `n` more bytes would go over the limit (an upload's announced length).
    pub fn would_exceed(&self, n: u64) -> bool {
        self.used().saturating_add(n) > self.max
    }

    /// Take `n` bytes, or refuse (taking nothing) when they do not fit.
    pub fn reserve(&self, n: u64) -> bool {
        let before = self.used.fetch_add(n, Ordering::SeqCst);
        if before + n > self.max {
            self.used.fetch_sub(n, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// Give `n` bytes back: a failed upload's, or a deleted object's.
    pub fn release(&self, n: u64) {
        let _ = self.used.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |u| Some(u.saturating_sub(n)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_and_release() {
        let q = Quota::new(100, 40);
        assert!(!q.would_exceed(60));
        assert!(q.would_exceed(61));
        assert!(q.reserve(50));
        assert!(!q.reserve(11), "a refused reservation takes nothing");
        assert_eq!(q.used(), 90);
        q.release(200);
        assert_eq!(q.used(), 0, "never below zero");
    }
}
