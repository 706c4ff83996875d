//! rest-server — serve restic repositories over HTTP, compatible with restic's rest-server 0.14.
//!
//! ```text
//! rest-server [--path DIR] [--listen ADDR|unix:PATH] [--no-auth | --htpasswd-file FILE]
//!             [--append-only] [--private-repos] [--prometheus [--prometheus-no-auth]]
//!             [--max-size BYTES] [--log FILE|-] [--no-verify-upload] [--group-accessible-repos]
//!             [--tls [--tls-cert FILE] [--tls-key FILE] [--tls-min-ver 1.2|1.3]] [--debug]
//!             [--max-repo-size BYTES] [--repo-rules FILE]
//!             [--proxy-auth-username HEADER [--trusted-proxy ADDR[/BITS]]...]
//!             [--status-user NAME]... [--alert-stale DURATION]
//! rest-server -v|--version
//! ```
//!
//! Flags and defaults are rest-server's: data in /tmp/restic, listening on :8000,
//! users in `<path>/.htpasswd`, TLS files `<path>/public_key` and `<path>/private_key`.
//! `--cpu-profile` is refused. `--repo-rules` (also spelled `--repo-quota-file`)
//! gives per-repository limits and rights; `--proxy-auth-username` is believed
//! only from the Unix socket and `--trusted-proxy` addresses. SIGHUP reloads the
//! users, the rules and the TLS certificate; SIGTERM and SIGINT stop the server
//! (exit 0). Errors exit 1, as rest-server does. For tests,
//! `KRAZYBOX_TLS_NO_AES=1` makes TLS prefer ChaCha20 as on a CPU without AES
//! instructions.
//! stderr gets rest-server's start-up lines (`start server on ADDR` ...); a missing
//! `--path` is created; a second server on the same `--path` refuses to start.
//! `/health` answers without a login; `/status` and `/status.json` show the
//! repositories (a `--status-user`, or `metrics`, sees all of them under
//! `--private-repos`); a DURATION is a whole number with s, m, h or d.
//! restic-rest-server says when it mounted the disk in `KRAZYBOX_MOUNTED_AT`.

use crate::args::{self, ArgError, Parsed, Style};
use crate::exit::fail;
use argh::{ArgsInfo, FromArgs};
use krazybox::rest_server::{self as engine, Config, Listen, Tls};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

/// Go's flag package: long names only, no abbreviations; options may follow words.
const STYLE: Style =
    Style { permute: true, long: true, abbreviations: false, aliases: &[("--repo-quota-file", "--repo-rules")] };

/// Set to 1 by tests: TLS prefers ChaCha20 as it does on a CPU without AES.
const NO_AES_VAR: &str = "KRAZYBOX_TLS_NO_AES";

/// rest-server exits 1 for every error, the command line included.
const ERR: u8 = 1;

#[derive(FromArgs, ArgsInfo)]
/// Run a REST server for use with restic.
#[argh(help_triggers("--argh-help"))]
struct Args {
    /// data directory (default /tmp/restic)
    #[argh(option, default = "String::from(\"/tmp/restic\")")]
    path: String,
    /// listen address, host:port or unix:/path (default :8000)
    #[argh(option, default = "String::from(\":8000\")")]
    listen: String,
    /// disable .htpasswd authentication
    #[argh(switch)]
    no_auth: bool,
    /// location of .htpasswd file (default <path>/.htpasswd)
    #[argh(option)]
    htpasswd_file: Option<String>,
    /// enable append only mode
    #[argh(switch)]
    append_only: bool,
    /// users can only access their private repo
    #[argh(switch)]
    private_repos: bool,
    /// enable Prometheus metrics
    #[argh(switch)]
    prometheus: bool,
    /// disable auth for Prometheus /metrics endpoint
    #[argh(switch)]
    prometheus_no_auth: bool,
    /// the maximum size of the repository in bytes
    #[argh(option)]
    max_size: Option<String>,
    /// the maximum size of each repository in bytes
    #[argh(option)]
    max_repo_size: Option<String>,
    /// per-repository limits and rights: lines of "/repo/path" or "name" (all below /name/), then BYTES and USER=read|append|modify (also --repo-quota-file)
    #[argh(option)]
    repo_rules: Option<String>,
    /// a user who sees every repository on /status (may repeat; "metrics" always does)
    #[argh(option)]
    status_user: Vec<String>,
    /// a repository without a snapshot for this long is stale on /status, e.g. 36h (default 2d)
    #[argh(option)]
    alert_stale: Option<String>,
    /// write HTTP requests in the combined log format to the specified filename (use "-" for stdout)
    #[argh(option)]
    log: Option<String>,
    /// do not verify the integrity of uploaded data
    #[argh(switch)]
    no_verify_upload: bool,
    /// let filesystem group be able to access repo files
    #[argh(switch)]
    group_accessible_repos: bool,
    /// turn on TLS support
    #[argh(switch)]
    tls: bool,
    /// TLS certificate path (default <path>/public_key)
    #[argh(option)]
    tls_cert: Option<String>,
    /// TLS key path (default <path>/private_key)
    #[argh(option)]
    tls_key: Option<String>,
    /// TLS min version, one of (1.2|1.3) (default 1.2)
    #[argh(option, default = "String::from(\"1.2\")")]
    tls_min_ver: String,
    /// output debug messages
    #[argh(switch)]
    debug: bool,
    /// output version and exit
    #[argh(switch, short = 'v')]
    version: bool,
    /// not supported: profiling is Go's
    #[argh(option)]
    cpu_profile: Option<String>,
    /// the HTTP header a proxy in front names the logged-in user in
    #[argh(option)]
    proxy_auth_username: Option<String>,
    /// an address or network (ADDR/BITS) whose proxy header is believed; may repeat
    #[argh(option)]
    trusted_proxy: Vec<String>,
}

pub fn main(name: &str, argv: &[OsString]) -> anyhow::Result<ExitCode> {
    let args: Args = match args::parse(name, &STYLE, argv) {
        Ok(Parsed::Run(_, line)) if !line.positionals.is_empty() => {
            return Err(fail(ERR, format!("Unrecognized argument: {}", line.positionals[0].to_string_lossy())))
        }
        Ok(Parsed::Run(a, _)) => a,
        Ok(Parsed::Help) => {
            print!("{}", args::argh_help::<Args>(name));
            return Ok(ExitCode::SUCCESS);
        }
        Err(ArgError::Unknown(o)) => return Err(fail(ERR, format!("unknown flag: {o}"))),
        Err(e) => return Err(fail(ERR, e.to_string())),
    };
    if args.version {
        println!("rest-server (krazybox {}) compatible with rest-server 0.14", env!("CARGO_PKG_VERSION"));
        return Ok(ExitCode::SUCCESS);
    }
    if args.cpu_profile.is_some() {
        return Err(fail(ERR, "--cpu-profile is not supported: it profiles Go programs"));
    }
    if !args.trusted_proxy.is_empty() && args.proxy_auth_username.is_none() {
        return Err(fail(ERR, "--trusted-proxy needs --proxy-auth-username HEADER"));
    }
    if let Some(h) = &args.proxy_auth_username {
        if !engine::proxy::valid_header(h) {
            return Err(fail(ERR, format!("--proxy-auth-username {h:?} is not an HTTP header name")));
        }
    }
    if args.debug {
        log::set_max_level(log::LevelFilter::Debug);
    }
    let path = PathBuf::from(&args.path);
    let mut cfg = Config::new(path.clone());
    cfg.listen = Listen::parse(&args.listen);
    cfg.htpasswd = if args.no_auth {
        None
    } else {
        Some(args.htpasswd_file.map(PathBuf::from).unwrap_or_else(|| path.join(".htpasswd")))
    };
    cfg.append_only = args.append_only;
    cfg.private_repos = args.private_repos;
    cfg.prometheus = args.prometheus;
    cfg.prometheus_no_auth = args.prometheus_no_auth;
    cfg.max_size = size_flag(args.max_size.as_deref(), "--max-size")?;
    cfg.max_repo_size = size_flag(args.max_repo_size.as_deref(), "--max-repo-size")?;
    cfg.repo_rules = args.repo_rules.map(PathBuf::from);
    cfg.proxy_auth_username = args.proxy_auth_username;
    for a in &args.trusted_proxy {
        cfg.trusted_proxies.push(engine::proxy::Net::parse(a).map_err(|e| fail(ERR, format!("--trusted-proxy {e}")))?);
    }
    cfg.log = args.log.map(PathBuf::from);
    cfg.status_users = args.status_user;
    if let Some(s) = &args.alert_stale {
        cfg.alert_stale = engine::duration::parse(s)
            .map_err(|e| fail(ERR, format!("invalid argument {s:?} for \"--alert-stale\" flag: {e}")))?;
    }
    cfg.mounted_at = mounted_at(std::env::var(engine::MOUNTED_AT_VAR).ok().as_deref());
    cfg.verify_upload = !args.no_verify_upload;
    cfg.group_accessible = args.group_accessible_repos;
    cfg.debug = args.debug;
    let min_13 = match args.tls_min_ver.as_str() {
        "1.2" => false,
        "1.3" => true,
        v => return Err(fail(ERR, format!("unsupported TLS min version {v:?}: use 1.2 or 1.3"))),
    };
    if args.tls {
        cfg.tls = Some(Tls {
            cert: args.tls_cert.map(PathBuf::from).unwrap_or_else(|| path.join("public_key")),
            key: args.tls_key.map(PathBuf::from).unwrap_or_else(|| path.join("private_key")),
            min_13,
            aes: (std::env::var_os(NO_AES_VAR).is_some_and(|v| v == "1")).then_some(false),
        });
    } else if args.tls_cert.is_some() || args.tls_key.is_some() {
        return Err(fail(ERR, "requires enabled TLS"));
    }
    engine::serve(cfg)?;
    Ok(ExitCode::SUCCESS)
}

/// A size in bytes; rest-server treats 0 and negative sizes as no limit.
fn size_flag(value: Option<&str>, flag: &str) -> anyhow::Result<Option<u64>> {
    match value {
        None => Ok(None),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n > 0 => Ok(Some(n as u64)),
            Ok(_) => Ok(None),
            Err(_) => Err(fail(ERR, format!("invalid argument {s:?} for \"{flag}\" flag"))),
        },
    }
}

/// restic-rest-server's word on when it mounted the disk: seconds since the epoch.
fn mounted_at(value: Option<&str>) -> Option<SystemTime> {
    let v = value?;
    match v.trim().parse::<u64>() {
        Ok(secs) => Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs)),
        Err(_) => {
            log::warn!(
                "{}={v:?} is not a number of seconds: the disk's mount time is not shown",
                engine::MOUNTED_AT_VAR
            );
            None
        }
    }
}

/// The long names of the flags that take a value, as the struct declares them.
#[cfg(test)]
pub(crate) fn value_flags() -> Vec<&'static str> {
    Args::get_args_info()
        .flags
        .iter()
        .filter(|f| matches!(f.kind, argh::FlagInfoKind::Option { .. }))
        .map(|f| f.long)
        .collect()
}
