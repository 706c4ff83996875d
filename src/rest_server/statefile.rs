//! Names in the server's state files (the scrub's position, the alerts' queue):
//! one word each, whatever bytes the name holds.

use std::fmt::Write as _;

/// Names in the server's state files: `%XX` for spaces, control bytes and `%`
/// (repositories get a leading `/`, so that the root one is `/`).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c <= ' ' || c == '%' || c == '\u{7f}' {
            let _ = write!(out, "%{:02X}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// The name [`escape`] wrote.
pub fn unescape(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(s.get(i + 1..i + 3)?, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back() {
        for name in ["", "alice", "a b/%x", "tab\tnew\nline", "caf\u{e9} \u{7f}"] {
            let e = escape(name);
            assert!(!e.contains([' ', '\n', '\t', '\u{7f}']), "{e:?}");
            assert_eq!(unescape(&e).as_deref(), Some(name));
        }
        assert_eq!(escape("a b%"), "a%20b%25");
        assert_eq!(unescape("%zz"), None);
        assert_eq!(unescape("%2"), None);
    }
}
