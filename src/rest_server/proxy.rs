//! Logins named by a reverse proxy in front (rest-server 0.14's
//! `--proxy-auth-username HEADER`): the proxy authenticates, and puts the
//! user's name in a header. Go's server believes that header from anyone who
//! can reach it; this one only from clients on the Unix socket and from the
//! addresses given by `--trusted-proxy`. From anyone else the header is
//! ignored and the password login applies.

use std::net::IpAddr;

/// An address or a network (`192.168.1.10`, `10.0.0.0/8`, `fd00::/8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    bits: u8,
}

impl Net {
    /// Read `ADDR` or `ADDR/BITS`; the error says what is wrong.
    pub fn parse(s: &str) -> Result<Net, String> {
        let (a, bits) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| format!("{s:?} is not an IP address or a network like 10.0.0.0/8"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => max,
            Some(b) => match b.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => return Err(format!("{s:?}: the prefix length must be 0 to {max}")),
            },
        };
        Ok(Net { addr: addr.to_canonical(), bits })
    }

    /// Whether `ip` lies in the network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 address mapped into IPv6 is the IPv4 one.
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), self.bits),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), self.bits),
            _ => false,
        }
    }
}

impl std::fmt::Display for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let max = if self.addr.is_ipv4() { 32 } else { 128 };
        match self.bits == max {
            true => write!(f, "{}", self.addr),
            false => write!(f, "{}/{}", self.addr, self.bits),
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let (whole, rest) = (bits as usize / 8, bits % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    rest == 0 || (a[whole] ^ b[whole]) >> (8 - rest) == 0
}

/// Whether `name` can be an HTTP header's name.
pub fn valid_header(name: &str) -> bool {
    hyper::header::HeaderName::from_bytes(name.as_bytes()).is_ok()
}

/// Where the header is believed from.
#[derive(Clone, Debug, Default)]
pub struct Trust {
    /// The header's name; `None` without `--proxy-auth-username`.
    pub header: Option<String>,
    pub nets: Vec<Net>,
}

impl Trust {
    /// Whether a client at `peer` (an IP address, or `@` on the Unix socket) may name the user.
    pub fn trusts(&self, peer: &str) -> bool {
        self.header.is_some() && (peer == "@" || peer.parse().is_ok_and(|ip| self.nets.iter().any(|n| n.contains(ip))))
    }

    /// The user a trusted proxy names: the header's value, when `peer` is
    /// trusted and the value is a non-empty string (rest-server accepts any).
    pub fn user<'a>(&self, peer: &str, headers: &'a hyper::HeaderMap) -> Option<&'a str> {
        if !self.trusts(peer) {
            return None;
        }
        let value = headers.get(self.header.as_deref()?)?.to_str().ok()?.trim();
        (!value.is_empty()).then_some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let n = Net::parse("10.1.0.0/16").unwrap();
        assert!(n.contains(ip("10.1.200.3")) && !n.contains(ip("10.2.0.1")));
        assert!(n.contains(ip("::ffff:10.1.0.9")), "an IPv4-mapped peer is its IPv4 address");
        let one = Net::parse("192.0.2.7").unwrap();
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        assert_eq!(one.to_string(), "192.0.2.7");
        let odd = Net::parse("192.0.2.0/25").unwrap();
        assert!(odd.contains(ip("192.0.2.127")) && !odd.contains(ip("192.0.2.128")));
        let v6 = Net::parse("fd00::/8").unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")) && !v6.contains(ip("10.0.0.1")));
        assert!(Net::parse("0.0.0.0/0").unwrap().contains(ip("203.0.113.1")));
        for bad in ["", "proxy.lan", "10.0.0.0/33", "::/129", "10.0.0.1/x", "10.0.0/8"] {
            assert!(Net::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_header_counts_only_from_trusted_peers() {
        let mut h = hyper::HeaderMap::new();
        h.insert("x-forwarded-user", "alice".parse().unwrap());
        let t = Trust { header: Some("X-Forwarded-User".into()), nets: vec![Net::parse("192.0.2.1").unwrap()] };
        assert_eq!(t.user("@", &h), Some("alice"));
        assert_eq!(t.user("192.0.2.1", &h), Some("alice"));
        assert_eq!(t.user("192.0.2.2", &h), None);
        assert_eq!(Trust { header: None, nets: t.nets.clone() }.user("@", &h), None);
        h.insert("x-forwarded-user", "".parse().unwrap());
        assert_eq!(t.user("@", &h), None, "an empty name is no name");
    }
}
