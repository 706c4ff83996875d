//! Durations on the command line and in the rules file: a whole number with
//! `s`, `m`, `h` or `d` (`90s`, `30m`, `12h`, `2d`).

use std::time::Duration;

/// Read a DURATION, or say what is wrong with it in words a user can act on.
pub fn parse(s: &str) -> Result<Duration, String> {
    let unit = s.chars().last().ok_or_else(|| "an empty duration: give a number with s, m, h or d".to_string())?;
    let secs = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86400,
        _ => return Err(format!("{s:?} has no unit: give a number with s, m, h or d, like 90m or 2d")),
    };
    let n: u64 = s[..s.len() - 1]
        .parse()
        .map_err(|_| format!("{s:?} is not a duration: give a whole number with s, m, h or d, like 90m or 2d"))?;
    n.checked_mul(secs).map(Duration::from_secs).ok_or_else(|| format!("{s:?} is too long"))
}

/// The shortest way to write `d` in the same units, for logs and pages.
pub fn format(d: Duration) -> String {
    let s = d.as_secs();
    for (unit, n) in [('d', 86400), ('h', 3600), ('m', 60)] {
        if s >= n && s % n == 0 {
            return format!("{}{unit}", s / n);
        }
    }
    format!("{s}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("90m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("12h"), Ok(Duration::from_secs(43200)));
        assert_eq!(parse("2d"), Ok(Duration::from_secs(172800)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
        for bad in ["", "d", "2", "2w", "-1d", "1.5h", " 2d", "2 d", "99999999999999999999d"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(parse("2").unwrap_err().contains("no unit"));
        for s in ["2d", "36h", "90m", "61s", "0s"] {
            assert_eq!(format(parse(s).unwrap()), s);
        }
    }
}
