//! Bytes uploaded to each repository in the last 24 hours, for the status
//! page: per repository one counter per hour of the server's own clock
//! (monotonic, so a Pi's clock jumping at its first NTP answer moves nothing),
//! 24 of them in a ring. The figure is the current hour and the 23 before it,
//! so it covers between 23 and 24 hours; memory is 200 bytes or so per
//! repository, whatever the number of objects.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The width of one counter.
const HOUR: Duration = Duration::from_secs(3600);
/// Counters kept per repository.
const HOURS: usize = 24;

/// One repository's counters.
#[derive(Default)]
struct Ring {
    /// The hour (since the clock's start) that `bytes[newest % HOURS]` counts.
    newest: u64,
    bytes: [u64; HOURS],
}

impl Ring {
    /// Move the ring on to `hour`, clearing the counters of the hours that passed.
    fn advance(&mut self, hour: u64) {
        if hour <= self.newest {
            return;
        }
        let passed = (hour - self.newest).min(HOURS as u64);
        for h in 1..=passed {
            self.bytes[((self.newest + h) % HOURS as u64) as usize] = 0;
        }
        self.newest = hour;
    }

    fn sum(&self) -> u64 {
        self.bytes.iter().sum()
    }
}

/// The counters of every repository that had an upload since the server started.
pub struct Recent {
    start: Instant,
    repos: Mutex<HashMap<String, Ring>>,
}

impl Default for Recent {
    fn default() -> Recent {
        Recent { start: Instant::now(), repos: Mutex::default() }
    }
}

impl Recent {
    fn hour(&self, now: Instant) -> u64 {
        (now.saturating_duration_since(self.start).as_secs()) / HOUR.as_secs()
    }

    /// `bytes` were stored in `repo` (its path below `--path`, `""` for the root one).
    pub fn add(&self, repo: &str, bytes: u64) {
        self.add_at(repo, bytes, Instant::now());
    }

    fn add_at(&self, repo: &str, bytes: u64, now: Instant) {
        let hour = self.hour(now);
        let mut repos = self.repos.lock().unwrap();
        let ring = match repos.get_mut(repo) {
            Some(r) => r,
            None => repos.entry(repo.to_string()).or_insert_with(|| Ring { newest: hour, ..Ring::default() }),
        };
        ring.advance(hour);
        let slot = (ring.newest % HOURS as u64) as usize;
        ring.bytes[slot] = ring.bytes[slot].saturating_add(bytes);
    }

    /// Bytes stored in each repository in the last 24 hours; repositories
    /// without any are dropped from memory as they are met.
    pub fn last_day(&self) -> HashMap<String, u64> {
        self.last_day_at(Instant::now())
    }

    fn last_day_at(&self, now: Instant) -> HashMap<String, u64> {
        let hour = self.hour(now);
        let mut repos = self.repos.lock().unwrap();
        repos.retain(|_, ring| {
            ring.advance(hour);
            ring.sum() > 0
        });
        repos.iter().map(|(k, ring)| (k.clone(), ring.sum())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_of_hours() {
        let r = Recent::default();
        let t0 = r.start;
        let at = |h: u64, m: u64| t0 + Duration::from_secs(h * 3600 + m * 60);
        r.add_at("alice/laptop", 100, at(0, 10));
        r.add_at("alice/laptop", 50, at(5, 0));
        r.add_at("bob", 7, at(5, 30));
        let day = r.last_day_at(at(23, 59));
        assert_eq!(day["alice/laptop"], 150);
        assert_eq!(day["bob"], 7);
        // Hour 0 leaves the window at hour 24; hour 5 at hour 29.
        assert_eq!(r.last_day_at(at(24, 0))["alice/laptop"], 50);
        r.add_at("alice/laptop", 1, at(28, 0));
        assert_eq!(r.last_day_at(at(28, 1))["alice/laptop"], 51);
        let later = r.last_day_at(at(29, 0));
        assert_eq!(later["alice/laptop"], 1);
        assert!(!later.contains_key("bob"), "a repository with nothing in the window is forgotten");
        assert!(r.last_day_at(at(500, 0)).is_empty(), "a long pause clears every counter");
        assert!(r.repos.lock().unwrap().is_empty());
    }

    #[test]
    fn an_instant_before_the_newest_counts_in_the_newest_hour() {
        let r = Recent::default();
        let t0 = r.start;
        r.add_at("x", 1, t0 + Duration::from_secs(7200));
        r.add_at("x", 2, t0);
        assert_eq!(r.last_day_at(t0 + Duration::from_secs(7200))["x"], 3);
    }
}
