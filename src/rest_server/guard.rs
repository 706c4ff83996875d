//! Password checks that no client can turn against the others.
//!
//! - A remembered success is answered at once, on the event loop: a valid user
//!   never waits for anyone's bcrypt.
//! - bcrypt runs on at most as many threads as there are cores, and a check
//!   waits for its turn as a future: when its client hangs up, the future is
//!   dropped with the connection and the check never starts. Addresses that
//!   failed lately get one core less, so a user who logs in from elsewhere
//!   waits for at most one of their checks.
//! - Failed attempts are counted per client address (an IPv6 /64 counts as one):
//!   after [`BURST`] of them, one more is allowed every [`REFILL`]; beyond that
//!   the answer is 429 with `Retry-After`, without hashing. A success gives its
//!   try back, so a user who types the right password is never limited.
//! - A failure answers no sooner than the slowest check the user file could
//!   need ([`super::pace`]), whatever the name's hash: the rest of the time is
//!   waited out asleep, as a timer, so it costs no CPU. Checks that need no
//!   bcrypt still wait their turn for it as one that does, so a queue tells
//!   nothing either.

use super::auth::{Lookup, Pending, Users};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Failed attempts an address may make at once before it is slowed.
pub const BURST: u32 = 10;
/// After the burst, one more failed attempt per this long.
pub const REFILL: Duration = Duration::from_secs(6);
/// Addresses remembered at most; beyond, those with every try left are
/// forgotten first, then the one that failed longest ago.
const MAX_ADDRS: usize = 4096;

/// The result of a password check.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Valid,
    Invalid,
    /// Too many failures from this address: try again after this long.
    Limited(Duration),
}

/// The hashing threads and the failure counts.
pub struct Guard {
    hashing: Semaphore,
    /// Taken first by addresses with failures: they never hold every core.
    suspects: Semaphore,
    tries: Mutex<HashMap<IpAddr, Bucket>>,
}

/// Tries left for an address, refilled one per [`REFILL`] up to [`BURST`].
struct Bucket {
    left: u32,
    since: Instant,
}

impl Bucket {
    fn refill(&mut self, now: Instant) {
        while self.left < BURST && now.duration_since(self.since) >= REFILL {
            self.left += 1;
            self.since += REFILL;
        }
        if self.left == BURST {
            self.since = now;
        }
    }
}

/// The key failures are counted under: an IPv4 address, or an IPv6 /64 (one
/// host has a whole /64 to pick from).
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        IpAddr::V6(v6) => IpAddr::V4(v6.to_ipv4_mapped().unwrap()),
        v4 => v4,
    }
}

impl Guard {
    /// `threads`: how many bcrypt checks may run at once (the cores).
    pub fn new(threads: usize) -> Guard {
        let threads = threads.max(1);
        Guard {
            hashing: Semaphore::new(threads),
            suspects: Semaphore::new((threads - 1).max(1)),
            tries: Mutex::new(HashMap::new()),
        }
    }

    /// Take one try for `ip` (and whether it failed lately), or say how long
    /// until it has one.
    fn take(&self, ip: IpAddr) -> Result<bool, Duration> {
        let now = Instant::now();
        let mut tries = self.tries.lock().unwrap();
        if tries.len() >= MAX_ADDRS && !tries.contains_key(&key(ip)) {
            tries.retain(|_, b| {
                b.refill(now);
                b.left < BURST
            });
            // Still full of guessers: forget the one whose last failure is oldest.
            if tries.len() >= MAX_ADDRS {
                if let Some(k) = tries.iter().min_by_key(|(_, b)| b.since).map(|(k, _)| *k) {
                    tries.remove(&k);
                }
            }
        }
        let b = tries.entry(key(ip)).or_insert(Bucket { left: BURST, since: now });
        b.refill(now);
        if b.left == 0 {
            return Err(REFILL.saturating_sub(now.duration_since(b.since)).max(Duration::from_secs(1)));
        }
        b.left -= 1;
        Ok(b.left + 1 < BURST)
    }

    /// Give a try back after a success.
    fn give_back(&self, ip: IpAddr) {
        if let Some(b) = self.tries.lock().unwrap().get_mut(&key(ip)) {
            b.left = (b.left + 1).min(BURST);
        }
    }

    /// Wait for a turn at hashing as a bcrypt check would, and give it back at
    /// once; when it came.
    async fn turn(&self, suspect: bool) -> tokio::time::Instant {
        let _lane = match suspect {
            true => Some(self.suspects.acquire().await),
            false => None,
        };
        let _permit = self.hashing.acquire().await;
        tokio::time::Instant::now()
    }

    /// Check `user`'s `password` for a client at `ip` (`None`: a Unix socket,
    /// whose clients a proxy in front limits, not this server).
    pub async fn check(&self, users: &Users, ip: Option<IpAddr>, user: &str, password: &str) -> Verdict {
        if users.due() {
            let u = users.clone();
            let _ = tokio::task::spawn_blocking(move || u.reload_if_changed()).await;
        }
        let pending = match users.lookup(user, password) {
            Lookup::Done(true) => return Verdict::Valid,
            Lookup::Closed => return Verdict::Invalid,
            Lookup::Done(false) => None,
            Lookup::Verify(p) => Some(p),
        };
        let suspect = match ip.map(|ip| self.take(ip)) {
            Some(Err(wait)) => return Verdict::Limited(wait),
            Some(Ok(failed)) => failed,
            None => false,
        };
        let (ok, begun) = match pending {
            Some(p) if !p.is_cheap() => {
                // Waiting here is a future: a client that hangs up drops it before it hashes.
                let _lane = match suspect {
                    true => Some(self.suspects.acquire().await),
                    false => None,
                };
                let Ok(_permit) = self.hashing.acquire().await else { return Verdict::Invalid };
                let begun = tokio::time::Instant::now();
                match tokio::task::spawn_blocking(move || p.run()).await {
                    Ok(ok) => (ok, begun),
                    Err(e) => std::panic::resume_unwind(e.into_panic()),
                }
            }
            cheap => match cheap.is_some_and(Pending::run) {
                true => (true, tokio::time::Instant::now()),
                false => (false, self.turn(suspect).await),
            },
        };
        if !ok {
            tokio::time::sleep_until(begun + users.failure_floor()).await;
            return Verdict::Invalid;
        }
        if let Some(ip) = ip {
            self.give_back(ip);
        }
        Verdict::Valid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_limited_per_address() {
        let g = Guard::new(1);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert_eq!(g.take(a), Ok(false), "no failure yet");
        for _ in 1..BURST {
            assert_eq!(g.take(a), Ok(true));
        }
        let wait = g.take(a).unwrap_err();
        assert!(wait >= Duration::from_secs(1) && wait <= REFILL, "{wait:?}");
        assert!(g.take(b).is_ok(), "another address has its own tries");
        g.give_back(a);
        assert!(g.take(a).is_ok(), "a success gives its try back");
        // Refilled with time, one per REFILL.
        g.tries.lock().unwrap().get_mut(&a).unwrap().since -= REFILL * 2;
        assert!(g.take(a).is_ok());
        assert!(g.take(a).is_ok());
        assert!(g.take(a).is_err());
        // One /64 is one address; a mapped IPv4 address is the IPv4 one.
        assert_eq!(key("2001:db8::1".parse().unwrap()), key("2001:db8::ffff:2".parse().unwrap()));
        assert_ne!(key("2001:db8::1".parse().unwrap()), key("2001:db8:0:1::1".parse().unwrap()));
        assert_eq!(key("::ffff:192.0.2.1".parse().unwrap()), a);
    }

    #[test]
    fn addresses_remembered_are_bounded() {
        let g = Guard::new(1);
        for i in 0..MAX_ADDRS as u32 + 10 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            assert!(g.take(ip).is_ok());
        }
        assert!(g.tries.lock().unwrap().len() <= MAX_ADDRS);
    }
}
