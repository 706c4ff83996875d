//! Small readers of words from command lines and configuration files that
//! several applets share, as util-linux keeps them in `lib/strutils.c`.
#![forbid(unsafe_code)]

use std::fmt;

/// Removes one level of matching quotes, any of `quotes`: `"a b"` is `a b`
/// (mount sources and gokrazy's env.txt take `"` and `'`, libmount's option
/// values only `"`). Unbalanced quotes stay.
pub fn unquote<'a>(v: &'a str, quotes: &[char]) -> &'a str {
    for &q in quotes {
        if let Some(inner) = v.strip_prefix(q).and_then(|v| v.strip_suffix(q)) {
            return inner;
        }
    }
    v
}

/// Why a size was refused, as `strerror` words the errno util-linux sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SizeError {
    /// EINVAL: not a size.
    Invalid,
    /// ERANGE: more than 64 bits.
    Range,
}

impl fmt::Display for SizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SizeError::Invalid => "Invalid argument",
            SizeError::Range => "Numerical result out of range",
        })
    }
}

impl std::error::Error for SizeError {}

/// C's `strtoumax(s, &end, 0)` on the start of `s`: leading white space, a
/// `+`, then decimal, `0x` hex or `0` octal digits. The value (`None`: too
/// large) and the rest; None when no digit was read.
fn strtoumax(s: &str) -> Option<(Option<u64>, &str)> {
    let t = s.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let t = t.strip_prefix('+').unwrap_or(t);
    let (radix, digits) = match t.as_bytes() {
        [b'0', b'x' | b'X', h, ..] if h.is_ascii_hexdigit() => (16, &t[2..]),
        [b'0', ..] => (8, t),
        _ => (10, t),
    };
    let len = digits.find(|c: char| !c.is_digit(radix)).unwrap_or(digits.len());
    (len > 0).then(|| (u64::from_str_radix(&digits[..len], radix).ok(), &digits[len..]))
}

/// util-linux's `parse_size` (`strtosize`), which blkid's `-O`/`-S` and
/// libmount's `offset=`/`sizelimit=` both use: a number (decimal, `0x` hex,
/// `0` octal) with an optional suffix K, M, G, T, P, E, Z or Y (also lower
/// case) meaning powers of 1024, also written `KiB`, or of 1000 as `KB`; a
/// decimal fraction before a suffix (`0.5M`) adds that part of the unit.
/// Negative numbers are refused.
pub fn parse_size(s: &str) -> Result<u64, SizeError> {
    if s.trim_start_matches(|c: char| c.is_ascii_whitespace()).starts_with('-') {
        return Err(SizeError::Invalid);
    }
    let (x, mut rest) = strtoumax(s).ok_or(SizeError::Invalid)?;
    let mut x = x.ok_or(SizeError::Range)?;
    if rest.is_empty() {
        return Ok(x);
    }
    // The fraction's digits without their leading zeros, and those zeros.
    let mut frac: u64 = 0;
    let mut frac_zeros = 0;
    let base: u64 = loop {
        let b = rest.as_bytes();
        match b.get(1..) {
            Some([b'i', b'B' | b'b']) => break 1024,
            Some([b'B' | b'b']) => break 1000,
            Some([]) => break 1024,
            _ => {}
        }
        // "1.5K": the decimal point, once, then digits and a suffix.
        let Some(after) = rest.strip_prefix('.').filter(|_| frac == 0) else {
            return Err(SizeError::Invalid);
        };
        let digits = after.trim_start_matches('0');
        frac_zeros += after.len() - digits.len();
        rest = digits;
        if digits.starts_with(|c: char| c.is_ascii_digit()) {
            let (value, tail) = strtoumax(digits).ok_or(SizeError::Invalid)?;
            frac = value.ok_or(SizeError::Range)?;
            if frac != 0 && tail.is_empty() {
                return Err(SizeError::Invalid);
            }
            rest = tail;
        }
        if rest.is_empty() {
            return Ok(x);
        }
    };
    let c = rest.as_bytes()[0];
    let power = match b"KMGTPEZY".iter().position(|&s| s == c) {
        Some(p) => p,
        None => b"kmgtpezy".iter().position(|&s| s == c).ok_or(SizeError::Invalid)?,
    } as u32
        + 1;
    x = (0..power).try_fold(x, |v, _| v.checked_mul(base)).ok_or(SizeError::Range)?;
    if frac != 0 {
        // Each digit of the fraction adds its part of one unit, from the
        // last digit back, in integers as util-linux computes it.
        let unit = (0..power).try_fold(1u64, |v, _| v.checked_mul(base)).unwrap_or(0);
        let mut frac_div: u64 = 10;
        while frac_div < frac {
            match frac_div.checked_mul(10) {
                Some(d) => frac_div = d,
                None => frac /= 10,
            }
        }
        for _ in 0..frac_zeros {
            match frac_div.checked_mul(10) {
                Some(d) => frac_div = d,
                None => frac /= 10,
            }
        }
        let mut place: u64 = 1;
        while frac != 0 {
            let digit = frac % 10;
            let div = frac_div / place;
            frac /= 10;
            place = place.saturating_mul(10);
            if digit != 0 && div / digit != 0 {
                x = x.wrapping_add(unit / (div / digit));
            }
        }
    }
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes() {
        assert_eq!(unquote("\"a b\"", &['"', '\'']), "a b");
        assert_eq!(unquote("'a'", &['"', '\'']), "a");
        assert_eq!(unquote("'a'", &['"']), "'a'");
        assert_eq!(unquote("\"a", &['"']), "\"a");
        assert_eq!(unquote("\"", &['"']), "\"");
    }

    /// The fractions are what fallocate(1) `-l`, which reads its size with
    /// the same function, makes of them.
    #[test]
    fn sizes_like_strtosize() {
        let ok = |s: &str| parse_size(s).unwrap();
        assert_eq!(ok("1024"), 1024);
        assert_eq!(ok("512"), 512);
        assert_eq!(ok(" +512"), 512);
        assert_eq!(ok("0x200"), 512);
        assert_eq!(ok("010"), 8);
        assert_eq!(ok("0"), 0);
        assert_eq!(ok("1K"), 1024);
        assert_eq!(ok("1KiB"), 1024);
        assert_eq!(ok("1KB"), 1000);
        assert_eq!(ok("0x10"), 16);
        assert_eq!(ok("2KiB"), 2048);
        assert_eq!(ok("2KB"), 2000);
        assert_eq!(ok("2m"), 2 << 20);
        assert_eq!(ok("1g"), 1 << 30);
        assert_eq!(ok("0Z"), 0);
        assert_eq!(ok("0.5MB"), 500_000);
        assert_eq!(ok("0.5MiB"), 512 << 10);
        assert_eq!(ok("1.25K"), 1279, "each digit rounded down on its own");
        assert_eq!(ok("1.K"), 1024);
        assert_eq!(ok("1.05K"), 1024 + 51);
        assert_eq!(parse_size(""), Err(SizeError::Invalid));
        assert_eq!(parse_size("-1"), Err(SizeError::Invalid));
        assert_eq!(parse_size(" -1"), Err(SizeError::Invalid));
        assert_eq!(parse_size("abc"), Err(SizeError::Invalid));
        assert_eq!(parse_size("1X"), Err(SizeError::Invalid));
        assert_eq!(parse_size("1Kx"), Err(SizeError::Invalid));
        assert_eq!(parse_size("1.5"), Err(SizeError::Invalid));
        assert_eq!(parse_size("1Y"), Err(SizeError::Range));
        assert_eq!(parse_size("99999999999999999999"), Err(SizeError::Range));
        assert_eq!(SizeError::Range.to_string(), "Numerical result out of range");
    }
}
