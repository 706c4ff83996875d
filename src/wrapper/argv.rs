//! rest-server's command line read by rest-server's own grammar, so that the
//! wrapper checks the `--path` that rest-server will serve and no other.
//!
//! The Go rest-server parses its flags with spf13/pflag (under cobra) and the
//! native applet with the same rules: `--name=value` or `--name value` for a
//! flag that takes a value (the next word is the value whatever it looks like,
//! `--htpasswd-file --path=/x` names an htpasswd file), switches never take
//! the next word, flags may follow other words, `--` ends the flags, the last
//! `--path` wins. Go's standard `flag` package also reads `-name`; pflag and
//! the native server refuse that spelling (unknown shorthand), so reading it
//! as `--name` only makes the check cover a reading nobody serves.
#![forbid(unsafe_code)]

/// rest-server's flags that take a value (0.14; older versions have a subset).
/// Everything else is a switch, a `-v`/`-h` shorthand, or unknown to
/// rest-server, which then refuses to start: nothing is served either way.
pub const VALUE_FLAGS: &[&str] = &[
    "path",
    "listen",
    "tls-cert",
    "tls-key",
    "tls-min-ver",
    "htpasswd-file",
    "max-size",
    "log",
    "proxy-auth-username",
    "cpu-profile",
];

/// The value of `--path` in `args` as rest-server reads them: `Ok(None)`
/// when there is none (rest-server serves its default `/tmp/restic`), an
/// error naming the flag when a flag that takes a value ends the line.
pub fn path_argument(args: &[String]) -> Result<Option<String>, String> {
    let mut found = None;
    let mut words = args.iter();
    while let Some(word) = words.next() {
        if word == "--" {
            break;
        }
        let Some(body) = word.strip_prefix("--").or_else(|| word.strip_prefix('-')) else {
            continue; // a positional word: pflag reads on
        };
        let (name, attached) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        if !VALUE_FLAGS.contains(&name) {
            continue;
        }
        let value = match attached {
            Some(v) => v.to_string(),
            None => match words.next() {
                Some(v) => v.clone(),
                None => return Err(format!("rest-server's flag {word} has no value: give it one")),
            },
        };
        if name == "path" {
            found = Some(value);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(v: &[&str]) -> Result<Option<String>, String> {
        path_argument(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn flags_that_take_a_value_swallow_the_next_word() {
        assert_eq!(path(&["--path=/sd", "--htpasswd-file", "--path=/disk/restic"]), Ok(Some("/sd".into())));
        assert_eq!(path(&["--log", "--path", "--path", "/a"]), Ok(Some("/a".into())));
        assert_eq!(path(&["--listen", "--path=/x"]), Ok(None));
        assert_eq!(path(&["--tls-cert", "-", "--path", "/b"]), Ok(Some("/b".into())));
    }

    #[test]
    fn switches_and_positionals_do_not() {
        assert_eq!(path(&["--no-auth", "--path", "/a"]), Ok(Some("/a".into())));
        assert_eq!(path(&["--append-only", "/x", "--path=/b", "-v"]), Ok(Some("/b".into())));
        assert_eq!(path(&["--path", "/a", "--path=/b"]), Ok(Some("/b".into())));
        assert_eq!(path(&["--path=/a", "--", "--path", "/b"]), Ok(Some("/a".into())));
        assert_eq!(path(&["--", "--path", "/a"]), Ok(None));
        assert_eq!(path(&["--listen", ":8000"]), Ok(None));
        assert_eq!(path(&["--path="]), Ok(Some(String::new())));
    }

    #[test]
    fn single_dash_is_read_as_go_flag_reads_it() {
        assert_eq!(path(&["-path", "/a"]), Ok(Some("/a".into())));
        assert_eq!(path(&["-path=/a", "-listen", "--path=/b"]), Ok(Some("/a".into())));
    }

    #[test]
    fn a_value_missing_at_the_end_is_an_error() {
        assert!(path(&["--path"]).unwrap_err().contains("--path has no value"));
        assert!(path(&["--path=/a", "--htpasswd-file"]).is_err());
    }
}
