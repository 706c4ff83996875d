//! The `Range` header of a GET, for one object of known size, per RFC 9110
//! section 14: a header the server cannot use is ignored (the whole object, 200)
//! rather than refused, except a range that is well formed but names no byte of
//! the object (or ends before it starts), which gets 416 as in Go's net/http.
//! Every form restic sends (`bytes=A-`, `bytes=A-B`) is answered exactly.

/// What part of the object to send.
#[derive(Debug, PartialEq, Eq)]
pub enum Range {
    Whole,
    /// Start and length.
    Part(u64, u64),
    Unsatisfiable,
}

/// Parse `Range` for a file of `size` bytes. `if_range` is whether the request
/// has an `If-Range` precondition: the server sends no validators (ETag or
/// Last-Modified, as rest-server), so it can never hold, and the whole object is
/// sent (section 13.1.5). Several ranges are answered with the whole object,
/// which HTTP allows; restic asks for one.
pub fn parse(value: Option<&[u8]>, size: u64, if_range: bool) -> Range {
    let Some(v) = value else { return Range::Whole };
    if if_range {
        return Range::Whole;
    }
    let Ok(v) = std::str::from_utf8(v) else { return Range::Whole };
    let Some((unit, set)) = v.trim().split_once('=') else { return Range::Whole };
    // An unknown unit must be ignored (section 14.2); unit names are case-insensitive.
    if !unit.eq_ignore_ascii_case("bytes") {
        return Range::Whole;
    }
    if set.contains(',') {
        return Range::Whole;
    }
    let Some(spec) = Spec::parse(set.trim()) else { return Range::Whole };
    let last = size.saturating_sub(1);
    let (start, end) = match spec {
        Spec::From(first) => (first, last),
        Spec::Between(first, end) if end < first => return Range::Unsatisfiable,
        Spec::Between(first, end) => (first, end.min(last)),
        Spec::Suffix(0) => return Range::Unsatisfiable,
        Spec::Suffix(n) => (size.saturating_sub(n), last),
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

/// One `range-spec` of the `bytes` unit.
enum Spec {
    /// `first-`
    From(u64),
    /// `first-last`
    Between(u64, u64),
    /// `-n`: the last n bytes.
    Suffix(u64),
}

impl Spec {
    fn parse(s: &str) -> Option<Spec> {
        let (a, b) = s.split_once('-')?;
        match (a.is_empty(), b.is_empty()) {
            (true, true) => None,
            (true, false) => Some(Spec::Suffix(number(b)?)),
            (false, true) => Some(Spec::From(number(a)?)),
            (false, false) => Some(Spec::Between(number(a)?, number(b)?)),
        }
    }
}

/// A decimal number; one too large for 64 bits is still a position past any
/// object, so it saturates (the range is then clamped to the object).
fn number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |n, c| n.saturating_mul(10).saturating_add(u64::from(c - b'0'))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &str, size: u64) -> Range {
        parse(Some(v.as_bytes()), size, false)
    }

    #[test]
    fn what_restic_sends() {
        assert_eq!(parse(None, 10, false), Range::Whole);
        assert_eq!(p("bytes=0-", 10), Range::Part(0, 10));
        assert_eq!(p("bytes=2-4", 10), Range::Part(2, 3));
        assert_eq!(p("bytes=0-9", 10), Range::Part(0, 10));
        assert_eq!(p("bytes=9-9", 10), Range::Part(9, 1));
    }

    #[test]
    fn satisfiable_or_not() {
        assert_eq!(p("bytes=8-100", 10), Range::Part(8, 2));
        assert_eq!(p("bytes=-3", 10), Range::Part(7, 3));
        assert_eq!(p("bytes=-30", 10), Range::Part(0, 10));
        assert_eq!(p("bytes=10-", 10), Range::Unsatisfiable);
        assert_eq!(p("bytes=5-2", 10), Range::Unsatisfiable);
        assert_eq!(p("bytes=-0", 10), Range::Unsatisfiable);
        assert_eq!(p("bytes=0-", 0), Range::Whole);
    }

    #[test]
    fn numbers_beyond_the_size_clamp() {
        assert_eq!(p("bytes=0-99999999999999999999999", 10), Range::Part(0, 10));
        assert_eq!(p("bytes=-99999999999999999999999", 10), Range::Part(0, 10));
        assert_eq!(p("bytes=99999999999999999999999-", 10), Range::Unsatisfiable);
        assert_eq!(p(&format!("bytes=0-{}", u64::MAX), 10), Range::Part(0, 10));
    }

    #[test]
    fn units_are_case_insensitive_and_unknown_ones_ignored() {
        assert_eq!(p("Bytes=2-4", 10), Range::Part(2, 3));
        assert_eq!(p("BYTES=-1", 10), Range::Part(9, 1));
        assert_eq!(p(" bytes=2-4 ", 10), Range::Part(2, 3));
        assert_eq!(p("items=0-1", 10), Range::Whole);
        assert_eq!(p("bytesx=0-1", 10), Range::Whole);
    }

    #[test]
    fn malformed_headers_are_ignored() {
        for v in ["bytes=", "bytes=-", "bytes=a-b", "bytes=1", "bytes=+1-2", "bytes=1-2-3", "bytes 0-1", "", "="] {
            assert_eq!(p(v, 10), Range::Whole, "{v:?}");
        }
        assert_eq!(parse(Some(b"bytes=\xff-1"), 10, false), Range::Whole);
        assert_eq!(p("bytes=0-1,3-4", 10), Range::Whole);
    }

    #[test]
    fn if_range_never_holds() {
        assert_eq!(parse(Some(b"bytes=0-1"), 10, true), Range::Whole);
        assert_eq!(parse(None, 10, true), Range::Whole);
    }
}
