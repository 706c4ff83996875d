//! The `Range` header of a GET, for one object of known size.

/// What part of the object to send.
#[derive(Debug, PartialEq, Eq)]
pub enum Range {
    Whole,
    /// Start and length.
    Part(u64, u64),
    Unsatisfiable,
}

/// Parse `Range` for a file of `size` bytes. Several ranges are answered with
/// the whole file, which HTTP allows; restic asks for one.
pub fn parse(value: Option<&str>, size: u64) -> Range {
    let Some(v) = value else { return Range::Whole };
    let Some(spec) = v.trim().strip_prefix("bytes=") else { return Range::Unsatisfiable };
    if spec.contains(',') {
        return Range::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else { return Range::Unsatisfiable };
    let num =
        |s: &str| if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) { None } else { s.parse::<u64>().ok() };
    let (start, end) = if a.is_empty() {
        // The last n bytes.
        let Some(n) = num(b) else { return Range::Unsatisfiable };
        if n == 0 {
            return Range::Unsatisfiable;
        }
        (size.saturating_sub(n), size.saturating_sub(1))
    } else {
        let Some(start) = num(a) else { return Range::Unsatisfiable };
        let end = if b.is_empty() {
            size.saturating_sub(1)
        } else {
            match num(b) {
                Some(e) if e >= start => e.min(size.saturating_sub(1)),
                _ => return Range::Unsatisfiable,
            }
        };
        (start, end)
    };
    if size == 0 {
        // An empty file overlaps no range; Go serves it whole.
        return Range::Whole;
    }
    if start >= size {
        return Range::Unsatisfiable;
    }
    Range::Part(start, end - start + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse(None, 10), Range::Whole);
        assert_eq!(parse(Some("bytes=0-"), 10), Range::Part(0, 10));
        assert_eq!(parse(Some("bytes=2-4"), 10), Range::Part(2, 3));
        assert_eq!(parse(Some("bytes=8-100"), 10), Range::Part(8, 2));
        assert_eq!(parse(Some("bytes=-3"), 10), Range::Part(7, 3));
        assert_eq!(parse(Some("bytes=-30"), 10), Range::Part(0, 10));
        assert_eq!(parse(Some("bytes=10-"), 10), Range::Unsatisfiable);
        assert_eq!(parse(Some("bytes=5-2"), 10), Range::Unsatisfiable);
        assert_eq!(parse(Some("items=0-1"), 10), Range::Unsatisfiable);
        assert_eq!(parse(Some("bytes=0-1,3-4"), 10), Range::Whole);
    }
}
