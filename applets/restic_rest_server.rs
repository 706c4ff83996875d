//! restic-rest-server: mount the backup disk, run rest-server on it, unmount.
//!
//! ```text
//! restic-rest-server [REST-SERVER-ARGS...]
//! ```
//!
//! No options of its own: every argument goes to rest-server untouched.
//! The environment says what to mount (gokrazy's `Environment`, `env.txt`):
//!
//! ```text
//! MNT_SOURCE   /dev/sda1, UUID=..., LABEL=..., PARTUUID=..., PARTLABEL=... or a bare UUID
//! MNT_TARGET   the mount point, e.g. /perm/rest-server
//! MNT_FSTYPE   filesystem type (probed when unset)
//! MNT_DATA     mount options as for mount -o (noatime,compress=zstd,...)
//! MNT_WAIT     seconds to wait for the disk to appear (default 30)
//! REST_SERVER  program to run (default /user/rest-server, else this
//!              executable's rest-server applet, else rest-server on PATH)
//! ```
//!
//! Without any `MNT_*` variable rest-server runs without mounting; with
//! them, rest-server's `--path` must lie on the disk. A disk that leaves
//! while rest-server runs stops it, and the wrapper exits 1 to wait for it.
//! Exit status: rest-server's (128+N if killed by signal N; 0 after a stop
//! by SIGTERM/SIGINT), 1 for trouble worth retrying (no disk yet, busy, a
//! pulled disk), 125 for a configuration to fix (gokrazy then stops
//! restarting it).
//!
//! rest-server's own command line is read by its grammar (below) only to
//! find the `--path` it will serve.
#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use krazybox::mount::{self, source, source::Source};
use krazybox::restic_rest_server::{
    self as engine, Config, Error, MountConfig, Program, DEFAULT_WAIT, GOKRAZY_REST_SERVER,
};
use krazybox::text;

use crate::exit;

pub fn main(_name: &str, args: &[OsString]) -> anyhow::Result<ExitCode> {
    let args = crate::args::utf8(args).map_err(|e| exit::fail(exit::USAGE, e))?;
    let native = native_rest_server();
    // Its errors are typed: exit.rs gives them 1 or 125.
    let config = config_from_env(|k| std::env::var(k).ok(), native.as_deref())?;
    // Without a disk to mount, rest-server's words are its own business.
    let path = match config.mount {
        Some(_) => path_argument(&args).map_err(Error::config)?,
        None => None,
    };
    Ok(ExitCode::from(engine::run(&config, &args, path.as_deref())?))
}

/// This executable, when it has a `rest-server` applet to run.
fn native_rest_server() -> Option<PathBuf> {
    crate::has_applet("rest-server").then(|| std::fs::read_link("/proc/self/exe").ok()).flatten()
}

/// The configuration, read through `var` (the process environment in
/// production). `native` is this executable when it has a `rest-server`
/// applet: the fallback when `/user/rest-server` does not exist.
fn config_from_env(var: impl Fn(&str) -> Option<String>, native: Option<&Path>) -> Result<Config, Error> {
    // gokrazy hands env.txt values over verbatim; an empty value counts as unset.
    let get = |k: &str| var(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let wait = match get("MNT_WAIT") {
        None => DEFAULT_WAIT,
        Some(v) => match unquote(&v).parse::<f64>() {
            Ok(s) if s.is_finite() && s >= 0.0 => Duration::from_secs_f64(s),
            _ => return Err(Error::config(format!("MNT_WAIT={v} is not a number of seconds"))),
        },
    };
    let program = match get("REST_SERVER") {
        Some(p) => Program { path: PathBuf::from(unquote(&p)), arg0: None },
        None if Path::new(GOKRAZY_REST_SERVER).exists() => {
            Program { path: PathBuf::from(GOKRAZY_REST_SERVER), arg0: None }
        }
        None => match native {
            Some(exe) => Program { path: exe.to_path_buf(), arg0: Some("rest-server".to_string()) },
            None => Program { path: PathBuf::from("rest-server"), arg0: None },
        },
    };
    let home = var("HOME").map(PathBuf::from);
    let (source, target, fstype, data) = (get("MNT_SOURCE"), get("MNT_TARGET"), get("MNT_FSTYPE"), get("MNT_DATA"));
    if source.is_none() && target.is_none() && fstype.is_none() && data.is_none() {
        return Ok(Config { mount: None, wait, program, home });
    }
    let Some(source_text) = source else {
        return Err(Error::config("MNT_TARGET, MNT_FSTYPE or MNT_DATA is set but MNT_SOURCE is not: set MNT_SOURCE to the disk (UUID=..., LABEL=... or /dev/...)"));
    };
    let Some(target) = target else {
        return Err(Error::config(format!(
            "MNT_SOURCE={source_text} is set but MNT_TARGET is not: set MNT_TARGET to the mount point (e.g. /perm/rest-server)"
        )));
    };
    let target = PathBuf::from(unquote(&target));
    if !target.is_absolute() {
        return Err(Error::config(format!("MNT_TARGET={} must be an absolute path", target.display())));
    }
    let source = Source::parse_or_bare_uuid(&source_text);
    if let Source::Tag { name, value } = &source {
        check_tag(name, value)?;
    }
    let fstype = fstype.map(|t| unquote(&t).to_string()).filter(|t| t != "auto");
    let data = data.map(|d| unquote(&d).to_string()).unwrap_or_default();
    if let Err(e) = mount::options::MountOptions::parse(&data) {
        return Err(Error::config(format!("MNT_DATA={data}: {e}")));
    }
    Ok(Config { mount: Some(MountConfig { source_text, source, target, fstype, data }), wait, program, home })
}

/// Removes one level of matching quotes, as env.txt files keep them.
fn unquote(v: &str) -> &str {
    text::unquote(v, source::QUOTES)
}

/// A UUID as filesystems write them is hex digits and dashes (ISO 9660 uses
/// decimal digits and dashes); anything else can never match a device.
fn check_tag(name: &str, value: &str) -> Result<(), Error> {
    let uuid_like = |v: &str| !v.is_empty() && v.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    let ok = match name {
        "UUID" | "PARTUUID" => uuid_like(value),
        _ => !value.is_empty(),
    };
    if ok {
        Ok(())
    } else {
        Err(Error::config(format!("MNT_SOURCE: {name}={value:?} is not a valid {name}: copy it from blkid's output")))
    }
}

// rest-server's command line read by rest-server's own grammar, so that the
// wrapper checks the `--path` that rest-server will serve and no other.
//
// The Go rest-server parses its flags with spf13/pflag (under cobra) and the
// native applet with the same rules: `--name=value` or `--name value` for a
// flag that takes a value (the next word is the value whatever it looks like,
// `--htpasswd-file --path=/x` names an htpasswd file), switches never take
// the next word, flags may follow other words, `--` ends the flags, the last
// `--path` wins. Go's standard `flag` package also reads `-name`; pflag and
// the native server refuse that spelling (unknown shorthand), so reading it
// as `--name` only makes the check cover a reading nobody serves.
/// rest-server's flags that take a value (0.14; older versions have a subset),
/// and the native server's own (the Go server refuses them): the quota flags,
/// the rules file under both its names, the trusted proxies.
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
    "max-repo-size",
    "repo-quota-file",
    "repo-rules",
    "trusted-proxy",
    "status-user",
    "alert-stale",
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
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, Error> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        config_from_env(|k| map.get(k).cloned(), None)
    }

    #[test]
    fn no_mount_variables() {
        let c = config(&[]).unwrap();
        assert!(c.mount.is_none());
        assert_eq!(c.wait, DEFAULT_WAIT);
        let c = config(&[("MNT_SOURCE", ""), ("REST_SERVER", "/bin/true")]).unwrap();
        assert!(c.mount.is_none());
        assert_eq!(c.program, Program { path: "/bin/true".into(), arg0: None });
    }

    #[test]
    fn native_applet_is_the_fallback() {
        if Path::new(GOKRAZY_REST_SERVER).exists() {
            return;
        }
        let c = config_from_env(|_| None, Some(Path::new("/usr/local/bin/krazybox"))).unwrap();
        assert_eq!(c.program.arg0.as_deref(), Some("rest-server"));
        assert_eq!(config(&[]).unwrap().program.path, Path::new("rest-server"));
    }

    #[test]
    fn sources() {
        let u = "0b3c1f0e-6a4e-4c1a-9d1e-2f3a4b5c6d7e";
        for s in [format!("UUID={u}"), format!("UUID=\"{u}\""), u.to_string(), format!("'{u}'")] {
            let c = config(&[("MNT_SOURCE", &s), ("MNT_TARGET", "/perm/disk")]).unwrap();
            let m = c.mount.unwrap();
            assert_eq!(m.source, Source::Tag { name: "UUID", value: u.to_string() }, "{s}");
            assert_eq!(m.target, Path::new("/perm/disk"));
        }
        let c = config(&[("MNT_SOURCE", "LABEL=\"backup disk\""), ("MNT_TARGET", "\"/perm/d\"")]).unwrap();
        let m = c.mount.unwrap();
        assert_eq!(m.source, Source::Tag { name: "LABEL", value: "backup disk".into() });
        assert_eq!(m.target, Path::new("/perm/d"));
        let m = config(&[("MNT_SOURCE", "/dev/sda1"), ("MNT_TARGET", "/x"), ("MNT_FSTYPE", "exfat")])
            .unwrap()
            .mount
            .unwrap();
        assert_eq!(m.source, Source::Path("/dev/sda1".into()));
        assert_eq!(m.fstype.as_deref(), Some("exfat"));
    }

    #[test]
    fn configuration_errors_exit_125() {
        let cases: &[&[(&str, &str)]] = &[
            &[("MNT_SOURCE", "/dev/sda1")],
            &[("MNT_TARGET", "/perm/x")],
            &[("MNT_SOURCE", "UUID=not-a-uuid!"), ("MNT_TARGET", "/x")],
            &[("MNT_SOURCE", "UUID=\"\""), ("MNT_TARGET", "/x")],
            &[("MNT_SOURCE", "/dev/sda1"), ("MNT_TARGET", "relative")],
            &[("MNT_SOURCE", "/dev/sda1"), ("MNT_TARGET", "/x"), ("MNT_DATA", "offset=abc")],
            &[("MNT_WAIT", "soon")],
        ];
        for vars in cases {
            let e = config(vars).unwrap_err();
            assert_eq!(exit::wrapper_status(&e), 125, "{vars:?}: {e}");
            assert!(!e.message.contains('\n'));
        }
        assert_eq!(config(&[("MNT_WAIT", "2.5")]).unwrap().wait, Duration::from_millis(2500));
    }

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

    /// The wrapper reads the native server's command line by the same list.
    #[cfg(feature = "rest-server")]
    #[test]
    fn every_native_flag_that_takes_a_value_is_known() {
        let flags = crate::rest_server::value_flags();
        assert!(flags.contains(&"--path"));
        for long in flags {
            assert!(VALUE_FLAGS.contains(&long.trim_start_matches("--")), "{long} is missing from VALUE_FLAGS");
        }
    }
}
