//! How long the slowest password check of the user file takes, so that a
//! failed login can answer no sooner: with users at bcrypt cost 10 and 13 and
//! a `{SHA}` user, a wrong password would otherwise answer in 60 ms, 470 ms or
//! at once, and tell which names exist. [`super::guard`] waits out the
//! difference asleep; successes are not held.
//!
//! bcrypt's time doubles with each cost step, so a check at any cost tells
//! the time of one step on this machine. Checks are remembered per cost, and
//! the estimate comes from the highest cost checked lately: on a busy machine a
//! long check gets a smaller share of the CPU than a short one, so scaling a
//! cheap check up underestimates a dear one. The third quarter of the recent
//! checks at that cost (above most of them, yet one descheduled thread does not
//! move it), scaled to the file's highest cost, with a margin above it.

use std::time::Duration;

/// Checks remembered per cost.
const SAMPLES: usize = 9;
/// How far above the third quarter a failure answers: the slowest user's own
/// checks vary, and should end before the floor, not after.
const MARGIN: f64 = 1.15;
/// No failure waits longer (a cost no one would wait for is not hidden).
pub const MAX_FLOOR: Duration = Duration::from_secs(30);

/// The bcrypt cost of a hash (`$2y$10$...`), `None` for other kinds.
pub fn bcrypt_cost(hash: &str) -> Option<u32> {
    let b = hash.as_bytes();
    if b.len() < 7 || b[0] != b'$' || b[1] != b'2' || b[3] != b'$' || b[6] != b'$' {
        return None;
    }
    hash.get(4..6)?.parse().ok().filter(|c| (4..=31).contains(c))
}

/// Seconds per unit of bcrypt work (2^cost units per check) of recent checks, by cost.
#[derive(Debug, Default)]
pub struct Pace {
    by_cost: std::collections::BTreeMap<u32, Ring>,
}

#[derive(Debug, Default)]
struct Ring {
    units: Vec<f64>,
    next: usize,
}

impl Pace {
    /// A bcrypt check at `cost` took `took`.
    pub fn record(&mut self, cost: u32, took: Duration) {
        let unit = took.as_secs_f64() / f64::from(1u32 << cost.min(31));
        let r = self.by_cost.entry(cost).or_default();
        if r.units.len() < SAMPLES {
            r.units.push(unit);
        } else {
            r.units[r.next] = unit;
        }
        r.next = (r.next + 1) % SAMPLES;
    }

    /// How long a failed login takes at least, when the file's highest bcrypt
    /// cost is `slowest` (`None`: no bcrypt user, every check is fast).
    pub fn floor(&self, slowest: Option<u32>) -> Duration {
        let Some(cost) = slowest else { return Duration::ZERO };
        let Some((_, ring)) = self.by_cost.last_key_value() else { return Duration::ZERO };
        let mut s = ring.units.clone();
        s.sort_by(f64::total_cmp);
        let high = s[s.len() * 3 / 4];
        let secs = high * f64::from(1u32 << cost.min(31)) * MARGIN;
        Duration::try_from_secs_f64(secs).unwrap_or(MAX_FLOOR).min(MAX_FLOOR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs() {
        assert_eq!(bcrypt_cost("$2y$10$abcdefghijklmnopqrstuv"), Some(10));
        assert_eq!(bcrypt_cost("$2a$04$x"), Some(4));
        assert_eq!(bcrypt_cost("{SHA}abc="), None);
        assert_eq!(bcrypt_cost("$2y$1x$abc"), None);
        assert_eq!(bcrypt_cost("$2y$"), None);
    }

    #[test]
    fn the_floor_is_the_slowest_cost_checked_scaled_from_its_third_quarter() {
        let ms = Duration::from_millis;
        let mut p = Pace::default();
        assert_eq!(p.floor(Some(13)), Duration::ZERO, "nothing measured yet");
        // Cost 10 takes 60 ms here: cost 13, eight times the work, 480 ms.
        for _ in 0..5 {
            p.record(10, ms(60));
        }
        let f = p.floor(Some(13));
        assert!(f >= ms(480) && f <= ms(600), "{f:?}");
        assert_eq!(p.floor(None), Duration::ZERO);
        // Cheap checks do not move it; one check that waited for the CPU does not either.
        for _ in 0..20 {
            p.record(4, ms(1));
        }
        p.record(10, ms(500));
        assert!(p.floor(Some(13)) <= ms(600));
        // Checks at the highest cost itself decide once there are some.
        for _ in 0..SAMPLES {
            p.record(13, ms(900));
        }
        let f = p.floor(Some(13));
        assert!(f >= ms(900) && f <= ms(1100), "{f:?}");
        assert_eq!(p.floor(Some(31)), MAX_FLOOR);
        assert_eq!(p.by_cost[&13].units.len(), SAMPLES);
    }
}
