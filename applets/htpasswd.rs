//! htpasswd — manage the user file of restic's rest-server, compatible with Apache's htpasswd 2.4.
//!
//! ```text
//! htpasswd [-cDv] [-B|-s] [-C cost] [-i] passwordfile username
//! htpasswd -b[cDv] [-B|-s] [-C cost] passwordfile username password
//! htpasswd -n[i] [-B|-s] [-C cost] username
//! htpasswd -nb [-B|-s] [-C cost] username password
//! ```
//!
//! Differences from Apache, all for the sake of rest-server and of the file:
//! bcrypt (cost 10) is the default, because rest-server rejects Apache's default
//! apr1-MD5; `-m -d -p -2 -5` are refused (exit 10); the file is replaced
//! atomically under a lock instead of being rewritten in place; user names with
//! control characters are refused; lines rest-server would reject are warned about.
//!
//! Exit status as Apache: 0 ok, 1 file access, 2 usage, 3 password mismatch or
//! bad cost, 5 too long, 6 bad or unknown user, 7 invalid file, 10 unsupported algorithm.

use crate::args::{self, ArgError, Parsed, Style};
use crate::exit::fail;
use argh::{ArgsInfo, FromArgs};
use krazybox::htpasswd::{self as engine, Algorithm, BadUser, PwFile, VerifyError};
use std::ffi::OsString;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

/// Apache's getopt: short options only, and the first word that is not one ends them.
const STYLE: Style = Style { permute: false, long: false, abbreviations: false, aliases: &[] };

const ERR_FILE: u8 = 1;
const ERR_SYNTAX: u8 = 2;
const ERR_MISMATCH: u8 = 3;
const ERR_OVERFLOW: u8 = 5;
const ERR_BADUSER: u8 = 6;
const ERR_INVALID: u8 = 7;
const ERR_ALGORITHM: u8 = 10;

// The options; passwordfile (not with -n), username and password (with -b)
// are the positional words.
#[derive(FromArgs, ArgsInfo)]
/// Create and update the user file of restic's rest-server (Apache htpasswd compatible).
#[argh(
    help_triggers("--argh-help"),
    note = "Words after the options: passwordfile (not with -n), username, and password (with -b).\n\
            bcrypt is the default here (Apache defaults to apr1-MD5, which rest-server rejects).\n\
            rest-server accepts only bcrypt (-B) and SHA-1 (-s) hashes, so -m, -d, -p, -2 and -5 are refused.",
    example = "htpasswd -B -c restic/.htpasswd alice\n  htpasswd -nbB bob 'secret'"
)]
struct Args {
    /// create a new file, replacing an existing one
    #[argh(switch, short = 'c')]
    create: bool,
    /// do not update a file: print the record on stdout
    #[argh(switch, short = 'n')]
    display: bool,
    /// take the password from the command line (visible to other users in ps)
    #[argh(switch, short = 'b')]
    batch: bool,
    /// read the password from stdin, one line, without asking twice
    #[argh(switch, short = 'i')]
    stdin: bool,
    /// delete the user
    #[argh(switch, short = 'D')]
    delete: bool,
    /// verify the password of the user
    #[argh(switch, short = 'v')]
    verify: bool,
    /// bcrypt hash (the default)
    #[argh(switch, short = 'B')]
    bcrypt: bool,
    /// sha-1 hash ({SHA}, unsalted, weak)
    #[argh(switch, short = 's')]
    sha: bool,
    /// apr1-MD5 hash (refused: rest-server rejects it)
    #[argh(switch, short = 'm')]
    md5: bool,
    /// crypt(3) hash (refused)
    #[argh(switch, short = 'd')]
    crypt: bool,
    /// plain text (refused)
    #[argh(switch, short = 'p')]
    plain: bool,
    /// SHA-256-crypt hash (refused)
    #[argh(switch, short = '2')]
    sha256: bool,
    /// SHA-512-crypt hash (refused)
    #[argh(switch, short = '5')]
    sha512: bool,
    /// bcrypt cost, 4 to 17 (default 10)
    #[argh(option, short = 'C')]
    cost: Option<String>,
    /// rounds for SHA-crypt (accepted for compatibility; those hashes are refused)
    #[argh(option, short = 'r')]
    rounds: Option<String>,
}

impl Args {
    /// The hash switch given last (Apache lets the last one win), if any.
    fn algorithm(&self, line: &args::Line) -> Option<char> {
        let on = [
            ('B', self.bcrypt),
            ('s', self.sha),
            ('m', self.md5),
            ('d', self.crypt),
            ('p', self.plain),
            ('2', self.sha256),
            ('5', self.sha512),
        ];
        line.given.iter().rev().filter_map(|g| g.short).find(|c| on.iter().any(|(f, set)| f == c && *set))
    }
}

const USAGE: &str = "Usage:
\thtpasswd [-ciBsDv] [-C cost] passwordfile username
\thtpasswd -b[cBsDv] [-C cost] passwordfile username password

\thtpasswd -n[iBs] [-C cost] username
\thtpasswd -nb[Bs] [-C cost] username password
 -c  Create a new file.
 -n  Don't update file; display results on stdout.
 -b  Use the password from the command line rather than prompting for it.
 -i  Read password from stdin without verification (for script usage).
 -B  Force bcrypt hashing of the password (the default here).
 -C  Set the computing time used for the bcrypt algorithm
     (higher is more secure but slower, default: 10, valid: 4 to 17).
 -s  Force SHA-1 hashing of the password (insecure).
 -D  Delete the specified user.
 -v  Verify password for the specified user.
rest-server accepts only bcrypt and SHA-1: -m, -d, -p, -2 and -5 are refused.
";

fn usage() -> anyhow::Result<ExitCode> {
    eprint!("{USAGE}");
    Ok(ExitCode::from(ERR_SYNTAX))
}

fn positive(value: &str) -> anyhow::Result<u32> {
    match value.parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(fail(ERR_SYNTAX, "argument to -C/-r must be a positive integer")),
    }
}

pub fn main(name: &str, argv: &[OsString]) -> anyhow::Result<ExitCode> {
    let (args, line): (Args, args::Line) = match args::parse(name, &STYLE, argv) {
        Ok(Parsed::Run(a, line)) => (a, line),
        Ok(Parsed::Help) => {
            print!("{}", args::argh_help::<Args>(name));
            return Ok(ExitCode::SUCCESS);
        }
        Err(ArgError::Unknown(o)) => {
            eprintln!("htpasswd: illegal option -- {}", o.trim_start_matches('-'));
            return usage();
        }
        Err(_) => return usage(),
    };
    let words = line.utf8_positionals().map_err(|e| fail(ERR_SYNTAX, e))?;
    if [args.create, args.display, args.verify, args.delete].iter().filter(|&&m| m).count() > 1 {
        return Err(fail(ERR_SYNTAX, "only one of -c -n -v -D may be specified"));
    }
    let expected = if args.display { 1 } else { 2 } + usize::from(args.batch);
    if args.batch && args.stdin || words.len() != expected {
        return usage();
    }
    let algorithm = algorithm(&args, &line)?;
    let (file, rest) = if args.display { (None, &words[..]) } else { (Some(&words[0]), &words[1..]) };
    let name = &rest[0];
    check_user_name(name)?;
    let batch_password = rest.get(1).map(|p| p.as_bytes());
    if batch_password.is_some_and(|p| p.len() > engine::MAX_FIELD) {
        return Err(fail(ERR_OVERFLOW, "password too long (> 256)"));
    }
    let input = if args.batch {
        Input::Given(batch_password.unwrap_or_default())
    } else if args.stdin {
        Input::Stdin
    } else {
        Input::Prompt
    };
    let Some(file) = file else {
        let password = read_password(&input, true)?;
        let record = record(name.as_bytes(), &password, algorithm)?;
        let mut out = std::io::stdout().lock();
        out.write_all(&record)?;
        out.write_all(b"\n\n")?;
        return Ok(ExitCode::SUCCESS);
    };
    check_access(Path::new(file), args.create, !args.verify)?;
    if args.verify {
        verify(file, name, &input)
    } else if args.delete {
        delete(file, name)
    } else {
        set(file, name, &input, algorithm, args.create)
    }
}

/// The hash to write: bcrypt at the given cost unless the last hash switch
/// says otherwise; the ones rest-server rejects are refused.
fn algorithm(args: &Args, line: &args::Line) -> anyhow::Result<Algorithm> {
    let cost = args.cost.as_deref().map(positive).transpose()?;
    if let Some(r) = &args.rounds {
        positive(r)?;
    }
    let algorithm = match args.algorithm(line) {
        None | Some('B') => Algorithm::Bcrypt { cost: cost.unwrap_or(engine::DEFAULT_BCRYPT_COST) },
        Some('s') => Algorithm::Sha1,
        Some(flag) => {
            let what = match flag {
                'm' => "apr1-MD5",
                'd' => "crypt",
                'p' => "plain text",
                '2' => "SHA-256-crypt",
                _ => "SHA-512-crypt",
            };
            return Err(fail(
                ERR_ALGORITHM,
                format!("-{flag} ({what}) is not supported: rest-server accepts only bcrypt (-B, the default) and SHA-1 (-s)"),
            ));
        }
    };
    match algorithm {
        Algorithm::Sha1 => {
            if cost.is_some() {
                log::warn!(target: "htpasswd", "ignoring -C: it only applies to bcrypt");
            }
            log::warn!(target: "htpasswd", "{{SHA}} is unsalted SHA-1 and weak; prefer bcrypt (-B)");
        }
        Algorithm::Bcrypt { cost } if !engine::BCRYPT_COSTS.contains(&cost) => {
            return Err(fail(ERR_MISMATCH, format!("bcrypt cost {cost} is out of range: use -C 4 to -C 17")));
        }
        _ => {}
    }
    Ok(algorithm)
}

/// Apache's checks of the user name, and a warning where rest-server would
/// ignore the user.
fn check_user_name(name: &str) -> anyhow::Result<()> {
    match engine::check_user(name.as_bytes()) {
        Ok(()) => {}
        Err(BadUser::TooLong) => return Err(fail(ERR_OVERFLOW, "username too long (> 255)")),
        Err(BadUser::Colon) => return Err(fail(ERR_BADUSER, "username contains illegal character ':'")),
        Err(BadUser::Control) => {
            return Err(fail(ERR_BADUSER, "username contains a control character or newline; choose another name"))
        }
        Err(BadUser::Empty) => return Err(fail(ERR_BADUSER, "username is empty")),
    }
    if !engine::rest_server_accepts_user(name.as_bytes()) {
        log::warn!(
            target: "htpasswd",
            "rest-server will ignore user {name}: use only letters, digits, '@', '.', '_' and '-'"
        );
    }
    Ok(())
}

/// `-v`: the user's password checked against the file.
fn verify(file: &str, name: &str, input: &Input) -> anyhow::Result<ExitCode> {
    let pw = engine::read(Path::new(file))?;
    let Some(hash) = pw.find(name.as_bytes()).map_err(|_| invalid_file(file))? else {
        eprintln!("User {name} not found");
        return Ok(ExitCode::from(ERR_BADUSER));
    };
    let hash = hash.to_vec();
    let password = read_password(input, false)?;
    match engine::verify(&password, &hash) {
        // Apache reads on after a match, and a bad line further down still fails.
        Ok(true) if pw.first_invalid_line().is_some() => Err(invalid_file(file)),
        Ok(true) => {
            eprintln!("Password for user {name} correct.");
            Ok(ExitCode::SUCCESS)
        }
        Ok(false) => {
            eprintln!("password verification failed");
            Ok(ExitCode::from(ERR_MISMATCH))
        }
        Err(VerifyError::Empty) => {
            eprintln!("Empty hash for user {name}");
            Ok(ExitCode::from(ERR_INVALID))
        }
        Err(VerifyError::Unsupported(kind)) => Err(fail(
            ERR_ALGORITHM,
            format!("cannot verify this hash kind ({}) for user {name}; rest-server cannot either: set a new bcrypt password", kind.describe()),
        )),
        Err(VerifyError::Malformed) => {
            Err(fail(ERR_INVALID, format!("the bcrypt hash of user {name} is malformed; set a new password")))
        }
    }
}

/// `-D`: the user removed, atomically.
fn delete(file: &str, name: &str) -> anyhow::Result<ExitCode> {
    let path = Path::new(file);
    let deleted = engine::update(path, false, |pw| {
        if pw.first_invalid_line().is_some() {
            return Err(invalid_file(file));
        }
        Ok(pw.remove(name.as_bytes()))
    })?;
    if deleted {
        eprintln!("Deleting password for user {name}");
    } else {
        eprintln!("User {name} not found");
    }
    warn_rest_server(path);
    Ok(ExitCode::SUCCESS)
}

/// The user added or their password replaced, atomically.
fn set(file: &str, name: &str, input: &Input, algorithm: Algorithm, create: bool) -> anyhow::Result<ExitCode> {
    let path = Path::new(file);
    let user = name.as_bytes();
    let password = read_password(input, true)?;
    let record = record(user, &password, algorithm)?;
    let hash = &record[user.len() + 1..];
    let updated = engine::update(path, create, |pw| {
        if pw.first_invalid_line().is_some() {
            return Err(invalid_file(file));
        }
        Ok(pw.set(user, hash))
    })?;
    eprintln!("{} password for user {name}", if updated { "Updating" } else { "Adding" });
    warn_rest_server(path);
    Ok(ExitCode::SUCCESS)
}

fn invalid_file(file: &str) -> anyhow::Error {
    fail(ERR_INVALID, format!("The file {file} does not appear to be a valid htpasswd file."))
}

/// Apache's checks before anything is asked or written, with its messages.
fn check_access(path: &Path, create: bool, write: bool) -> anyhow::Result<()> {
    let file = path.display();
    let exists = path.is_file();
    if !create && !exists {
        return Err(fail(ERR_FILE, format!("cannot modify file {file}; use '-c' to create it")));
    }
    if exists && std::fs::File::open(path).is_err() {
        return Err(fail(ERR_FILE, format!("cannot open file {file} for read access")));
    }
    if write {
        let writable = if exists {
            std::fs::OpenOptions::new().append(true).open(path).is_ok()
        } else {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK).is_ok()
        };
        if !writable {
            return Err(fail(ERR_FILE, format!("cannot open file {file} for read/write access")));
        }
    }
    Ok(())
}

/// `user:hash`, with Apache's limit on the record's length and our password warnings.
fn record(user: &[u8], password: &[u8], algorithm: Algorithm) -> anyhow::Result<Vec<u8>> {
    if password.is_empty() {
        log::warn!(target: "htpasswd", "the password is empty");
    }
    if matches!(algorithm, Algorithm::Bcrypt { .. }) && password.len() > engine::BCRYPT_MAX_PASSWORD {
        log::warn!(
            target: "htpasswd",
            "the password is {} bytes long; bcrypt uses only the first {}",
            password.len(),
            engine::BCRYPT_MAX_PASSWORD
        );
    }
    let hash = engine::hash(password, algorithm).map_err(|e| fail(ERR_MISMATCH, format!("{e:#}")))?;
    let record = [user, b":", hash.as_bytes()].concat();
    if record.len() > engine::MAX_FIELD {
        return Err(fail(ERR_OVERFLOW, "resultant record too long"));
    }
    Ok(record)
}

fn warn_rest_server(path: &Path) {
    if let Ok(pw) = engine::read(path) {
        for problem in PwFile::rest_server_problems(&pw) {
            log::warn!(target: "htpasswd", "{}: {problem}", path.display());
        }
    }
}

#[derive(Clone, Copy)]
enum Input<'a> {
    /// From the command line (`-b`).
    Given(&'a [u8]),
    /// One line from stdin (`-i`).
    Stdin,
    /// Asked for on the terminal, or read from stdin when there is none.
    Prompt,
}

fn read_password(input: &Input, twice: bool) -> anyhow::Result<Vec<u8>> {
    match input {
        Input::Given(given) => Ok(given.to_vec()),
        Input::Stdin => read_line(),
        Input::Prompt if !twice => prompt("Enter password: "),
        Input::Prompt => {
            let first = prompt("New password: ")?;
            let second = prompt("Re-type new password: ")?;
            if first != second {
                return Err(fail(ERR_MISMATCH, "password verification error"));
            }
            Ok(first)
        }
    }
}

/// One line from stdin without its line ending, at most 255 bytes.
fn read_line() -> anyhow::Result<Vec<u8>> {
    let mut line = Vec::new();
    std::io::stdin().lock().take(engine::MAX_FIELD as u64 + 2).read_until(b'\n', &mut line)?;
    if line.ends_with(b"\n") {
        line.pop();
    }
    if line.ends_with(b"\r") {
        line.pop();
    }
    if line.len() > engine::MAX_FIELD {
        return Err(fail(ERR_OVERFLOW, "password too long (>255)"));
    }
    Ok(line)
}

use std::io::Read as _;

/// Ask on stderr; with a terminal on stdin, its echo is off while the password is typed.
fn prompt(text: &str) -> anyhow::Result<Vec<u8>> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    let stdin = std::io::stdin();
    eprint!("{text}");
    if !stdin.is_terminal() {
        return read_line();
    }
    let saved = tcgetattr(&stdin)?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    tcsetattr(&stdin, SetArg::TCSAFLUSH, &quiet)?;
    let line = read_line();
    let restored = tcsetattr(&stdin, SetArg::TCSAFLUSH, &saved);
    eprintln!();
    restored?;
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last_algorithm(s: &str) -> Option<char> {
        let words: Vec<OsString> = s.split_whitespace().map(OsString::from).collect();
        match args::parse::<Args>("htpasswd", &STYLE, &words) {
            Ok(Parsed::Run(a, line)) => a.algorithm(&line),
            _ => panic!("{s} did not parse"),
        }
    }

    #[test]
    fn last_hash_option_wins() {
        assert_eq!(last_algorithm("-B -s -- f u"), Some('s'));
        assert_eq!(last_algorithm("-s -c -B -- f u"), Some('B'));
        assert_eq!(last_algorithm("-sB -Bs f u"), Some('s'));
        assert_eq!(last_algorithm("-C 5 -- -s u"), None);
        assert_eq!(last_algorithm("-m -- f u"), Some('m'));
    }

    #[test]
    fn positive_integers_only() {
        assert_eq!(positive("12").unwrap(), 12);
        assert!(positive("0").is_err());
        assert!(positive("-3").is_err());
        assert!(positive("4x").is_err());
        assert!(positive("").is_err());
    }
}
