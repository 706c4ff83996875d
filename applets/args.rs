//! The one place where command lines are read the way getopt(3) reads them.
//!
//! Each applet declares its options once, as an argh struct. argh itself cannot
//! read what people type — `htpasswd -cbB file user pw`, `htpasswd -C12`,
//! `blkid -ovalue -sUUID`, `mount --options=ro`, `blkid --lab X` — so
//! [`parse`] takes the struct's own description (argh's `ArgsInfo`: every flag's
//! long name, short letter and whether it takes a value) and reads the words as
//! getopt does: clusters, attached values, `--opt=value`, unique prefixes of long
//! options where getopt_long allows them, `--`, and `-` as an ordinary word. It
//! hands argh the options spelled out in their long form and keeps the positional
//! words apart, as `OsString`s: argh sees only UTF-8, and a device path need not
//! be. The options also come back in command-line order ([`Line::given`]) for the
//! few whose order matters (blkid's `-L`/`-U`/`-t`, htpasswd's hash switches).

use argh::{ArgsInfo, FlagInfoKind, FromArgs};
use std::ffi::OsString;

/// How an applet's command line behaves beyond what its argh struct declares.
pub struct Style {
    /// GNU behaviour: options may follow positional words. Without it (POSIX,
    /// Apache's htpasswd) the first positional word ends the options.
    pub permute: bool,
    /// Whether long options exist at all; Apache's htpasswd has none.
    pub long: bool,
    /// getopt_long: a unique prefix of a long option stands for it.
    pub abbreviations: bool,
    /// More long names for declared options (`--rw` for `--read-write`).
    pub aliases: &'static [(&'static str, &'static str)],
}

/// A command line that getopt would refuse.
#[derive(Debug, PartialEq, Eq)]
pub enum ArgError {
    /// An option the applet does not have (`x` for `-x`, `--foo` for `--foo`).
    Unknown(String),
    /// A long option that is the prefix of several, and those it could be.
    Ambiguous(String, Vec<&'static str>),
    /// An option whose value is missing at the end of the line.
    MissingValue(String),
    /// A value given to a switch (`--probe=yes`).
    NoValueAllowed(&'static str),
    /// An option's value that is not UTF-8.
    NotUtf8(String),
    /// argh refused the options; its message.
    Invalid(String),
}

impl std::fmt::Display for ArgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArgError::Unknown(o) if o.starts_with("--") => write!(f, "unrecognized option '{o}'"),
            ArgError::Unknown(o) => write!(f, "invalid option -- '{o}'"),
            ArgError::Ambiguous(o, hits) => {
                let list: Vec<String> = hits.iter().map(|h| format!("'{h}'")).collect();
                write!(f, "option '{o}' is ambiguous; possibilities: {}", list.join(" "))
            }
            ArgError::MissingValue(o) if o.starts_with("--") => write!(f, "option '{o}' requires an argument"),
            ArgError::MissingValue(o) => write!(f, "option requires an argument -- '{o}'"),
            ArgError::NoValueAllowed(o) => write!(f, "option '{o}' doesn't allow an argument"),
            ArgError::NotUtf8(o) => write!(f, "the value of {o} is not valid UTF-8"),
            ArgError::Invalid(m) => f.write_str(m.trim_end()),
        }
    }
}

/// One declared option: what argh's `ArgsInfo` says of it.
struct Opt {
    short: Option<char>,
    long: &'static str,
    takes_value: bool,
    /// Declared with `hidden_help`: reachable by its short letter only (old
    /// letters getopt still accepts, such as blkid's `-v` beside `-V`).
    short_only: bool,
}

/// One option as given, under its declared long name, with its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Given {
    pub long: &'static str,
    pub short: Option<char>,
    pub value: Option<String>,
}

/// A command line read by getopt's rules.
#[derive(Debug, Default)]
pub struct Line {
    /// The options in command-line order.
    pub given: Vec<Given>,
    /// The positional words in their order.
    pub positionals: Vec<OsString>,
}

impl Line {
    /// Whether the option with this long name was given.
    pub fn has(&self, long: &str) -> bool {
        self.given.iter().any(|g| g.long == long)
    }

    /// The positional words as UTF-8 strings, for applets whose engine takes
    /// text (mount sources and tags); a word that is not UTF-8 is named.
    pub fn utf8_positionals(&self) -> Result<Vec<String>, String> {
        self.positionals
            .iter()
            .map(|w| {
                w.clone().into_string().map_err(|w| format!("argument is not valid UTF-8: {}", w.to_string_lossy()))
            })
            .collect()
    }

    /// The options in the long form argh reads, each value its own word.
    fn argh_words(&self) -> Vec<&str> {
        let mut words = Vec::with_capacity(self.given.len() * 2);
        for g in &self.given {
            words.push(g.long);
            words.extend(g.value.as_deref());
        }
        words
    }
}

/// What parsing decided: run the applet, or print its help (`-h`, `--help`).
pub enum Parsed<T> {
    Run(T, Line),
    Help,
}

fn grammar<T: ArgsInfo>() -> Vec<Opt> {
    let mut opts: Vec<Opt> = Vec::new();
    for f in T::get_args_info().flags {
        opts.push(Opt {
            short: f.short,
            long: f.long,
            takes_value: matches!(f.kind, FlagInfoKind::Option { .. }),
            short_only: f.hidden,
        });
    }
    // argh lists its implicit `--help` without a letter: `-h` is help too,
    // unless the applet gives the letter to something else.
    if !opts.iter().any(|o| o.short == Some('h')) {
        if let Some(help) = opts.iter_mut().find(|o| o.long == "--help") {
            help.short = Some('h');
        }
    }
    opts
}

/// Read `args` by getopt's rules against the options `T` declares.
pub fn read<T: ArgsInfo>(style: &Style, args: &[OsString]) -> Result<Line, ArgError> {
    let opts = grammar::<T>();
    let mut line = Line::default();
    let mut words = args.iter();
    let value_of = |w: &OsString, name: &str| w.clone().into_string().map_err(|_| ArgError::NotUtf8(name.to_string()));
    while let Some(word) = words.next() {
        let Some(text) = word.to_str() else {
            // Not UTF-8: never an option.
            line.positionals.push(word.clone());
            if !style.permute {
                line.positionals.extend(words.by_ref().cloned());
                break;
            }
            continue;
        };
        if text == "--" {
            line.positionals.extend(words.by_ref().cloned());
            break;
        }
        // Help keeps its long spelling even where there are no long options.
        if text == "--help" && !style.long {
            line.given.push(Given { long: "--help", short: Some('h'), value: None });
            continue;
        }
        if let Some(long) = text.strip_prefix("--").filter(|_| style.long) {
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (format!("--{n}"), Some(v.to_string())),
                None => (text.to_string(), None),
            };
            let opt = find_long(&opts, style, &name, text)?;
            let value = match (opt.takes_value, value) {
                (true, Some(v)) => Some(v),
                (true, None) => Some(value_of(words.next().ok_or(ArgError::MissingValue(opt.long.into()))?, opt.long)?),
                (false, Some(_)) => return Err(ArgError::NoValueAllowed(opt.long)),
                (false, None) => None,
            };
            line.given.push(Given { long: opt.long, short: opt.short, value });
            continue;
        }
        if text.len() > 1 && text.starts_with('-') {
            let cluster = &text[1..];
            for (at, c) in cluster.char_indices() {
                let opt = opts.iter().find(|o| o.short == Some(c)).ok_or_else(|| ArgError::Unknown(c.to_string()))?;
                if !opt.takes_value {
                    line.given.push(Given { long: opt.long, short: opt.short, value: None });
                    continue;
                }
                let rest = &cluster[at + c.len_utf8()..];
                let value = if rest.is_empty() {
                    value_of(words.next().ok_or_else(|| ArgError::MissingValue(c.to_string()))?, &format!("-{c}"))?
                } else {
                    rest.to_string()
                };
                line.given.push(Given { long: opt.long, short: opt.short, value: Some(value) });
                break;
            }
            continue;
        }
        line.positionals.push(word.clone());
        if !style.permute {
            line.positionals.extend(words.by_ref().cloned());
            break;
        }
    }
    Ok(line)
}

/// The option a long word names: exactly, through an alias, or (getopt_long)
/// as the unique prefix of one. Errors quote the word as typed, `=value` and
/// all, as getopt does.
fn find_long<'o>(opts: &'o [Opt], style: &Style, name: &str, typed: &str) -> Result<&'o Opt, ArgError> {
    let name = style.aliases.iter().find(|(alias, _)| *alias == name).map_or(name, |(_, long)| *long);
    let mut longs = opts.iter().filter(|o| !o.short_only);
    if let Some(o) = longs.clone().find(|o| o.long == name) {
        return Ok(o);
    }
    if style.abbreviations {
        let hits: Vec<&Opt> = longs.by_ref().filter(|o| o.long.starts_with(name)).collect();
        match hits[..] {
            [one] => return Ok(one),
            [] => {}
            _ => return Err(ArgError::Ambiguous(typed.to_string(), hits.iter().map(|o| o.long).collect())),
        }
    }
    Err(ArgError::Unknown(typed.to_string()))
}

/// [`read`], then argh over the options, unless help was asked for. The
/// structs say `help_triggers("--argh-help")`, which no reader types: help is
/// the applet's to print (util-linux's and Apache's texts), or [`argh_help`].
pub fn parse<T: FromArgs + ArgsInfo>(applet: &str, style: &Style, args: &[OsString]) -> Result<Parsed<T>, ArgError> {
    let line = read::<T>(style, args)?;
    if line.has("--help") {
        return Ok(Parsed::Help);
    }
    match T::from_args(&[applet], &line.argh_words()) {
        Ok(parsed) => Ok(Parsed::Run(parsed, line)),
        Err(early) if early.status.is_ok() => Ok(Parsed::Help),
        Err(early) => Err(ArgError::Invalid(early.output)),
    }
}

/// The help text argh writes from the struct's doc comments.
pub fn argh_help<T: FromArgs>(applet: &str) -> String {
    T::from_args(&[applet], &["--argh-help"]).err().map(|e| e.output).unwrap_or_default()
}

/// [`parse`] as util-linux's tools answer: an error as getopt words it with a
/// "Try --help" line, exit status 1; `-h` prints the tool's own text. None when
/// help was printed.
pub fn parse_util_linux<T: FromArgs + ArgsInfo>(
    applet: &str,
    style: &Style,
    args: &[OsString],
    usage: fn(&str) -> String,
) -> anyhow::Result<Option<(T, Line)>> {
    match parse(applet, style, args) {
        Ok(Parsed::Run(a, line)) => Ok(Some((a, line))),
        Ok(Parsed::Help) => {
            print!("{}", usage(applet));
            Ok(None)
        }
        Err(e) => Err(crate::exit::fail(1, format!("{e}\n{}", try_help(applet)))),
    }
}

/// util-linux's pointer to the help text, under a usage error.
pub fn try_help(applet: &str) -> String {
    format!("Try '{applet} --help' for more information.")
}

/// The words of an applet that still reads its command line as UTF-8 text.
pub fn utf8(args: &[OsString]) -> Result<Vec<String>, String> {
    Line { given: Vec::new(), positionals: args.to_vec() }.utf8_positionals()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(FromArgs, ArgsInfo, Debug)]
    /// a POSIX applet like htpasswd
    #[argh(help_triggers("--argh-help"))]
    struct Ht {
        /// c
        #[argh(switch, short = 'c')]
        create: bool,
        /// n
        #[argh(switch, short = 'n')]
        display: bool,
        /// b
        #[argh(switch, short = 'b')]
        batch: bool,
        /// option B
        #[argh(switch, short = 'B')]
        bcrypt: bool,
        /// option C
        #[argh(option, short = 'C')]
        cost: Option<u32>,
    }
    const HT: Style = Style { permute: false, long: false, abbreviations: false, aliases: &[] };

    #[derive(FromArgs, ArgsInfo, Debug)]
    /// a GNU applet like blkid
    #[argh(help_triggers("--argh-help"))]
    struct Gnu {
        /// p
        #[argh(switch, short = 'p', long = "probe")]
        probe: bool,
        /// o
        #[argh(option, short = 'o', long = "output")]
        output: Vec<String>,
        /// s
        #[argh(option, short = 's', long = "match-tag")]
        tag: Vec<String>,
        /// option L
        #[argh(option, short = 'L', long = "label")]
        label: Vec<String>,
        /// l
        #[argh(switch, short = 'l', long = "list-one")]
        list_one: bool,
        /// w
        #[argh(switch, short = 'w', long = "read-write")]
        rw: bool,
    }
    const GNU: Style = Style { permute: true, long: true, abbreviations: true, aliases: &[("--rw", "--read-write")] };

    fn words(s: &str) -> Vec<OsString> {
        s.split_whitespace().map(OsString::from).collect()
    }

    /// The options as `-x` (or `--long`) words with values, then `--`, then the positionals.
    fn show(line: &Line) -> String {
        let mut out: Vec<String> = Vec::new();
        for g in &line.given {
            out.push(g.short.map_or(g.long.to_string(), |c| format!("-{c}")));
            out.extend(g.value.clone());
        }
        out.push("--".into());
        out.extend(line.positionals.iter().map(|p| p.to_string_lossy().into_owned()));
        out.join(" ")
    }

    fn ht(s: &str) -> Result<String, ArgError> {
        read::<Ht>(&HT, &words(s)).map(|l| show(&l))
    }

    fn gnu(s: &str) -> Result<String, ArgError> {
        read::<Gnu>(&GNU, &words(s)).map(|l| show(&l))
    }

    #[test]
    fn clusters_split_into_single_switches() {
        assert_eq!(ht("-cbB f u p").unwrap(), "-c -b -B -- f u p");
    }

    #[test]
    fn attached_and_separate_values() {
        assert_eq!(ht("-C12 -nbB u p").unwrap(), "-C 12 -n -b -B -- u p");
        assert_eq!(ht("-bC 7 f u p").unwrap(), "-b -C 7 -- f u p");
        assert_eq!(gnu("-ovalue -sUUID x").unwrap(), "-o value -s UUID -- x");
    }

    #[test]
    fn value_may_start_with_a_dash() {
        assert_eq!(ht("-C -5 f").unwrap(), "-C -5 -- f");
        assert_eq!(gnu("--output -x").unwrap(), "-o -x --");
    }

    #[test]
    fn long_with_equals() {
        assert_eq!(gnu("--output=udev dev").unwrap(), "-o udev -- dev");
        assert_eq!(gnu("--output= dev").unwrap(), "-o  -- dev");
        assert_eq!(gnu("--probe=yes"), Err(ArgError::NoValueAllowed("--probe")));
    }

    #[test]
    fn long_prefixes_and_aliases() {
        assert_eq!(gnu("--lab X --pro").unwrap(), "-L X -p --");
        assert_eq!(gnu("--rw").unwrap(), "-w --");
        assert_eq!(gnu("--l x"), Err(ArgError::Ambiguous("--l".into(), vec!["--label", "--list-one"])));
        assert_eq!(
            ArgError::Ambiguous("--l".into(), vec!["--label", "--list-one"]).to_string(),
            "option '--l' is ambiguous; possibilities: '--label' '--list-one'"
        );
        assert_eq!(gnu("--nope"), Err(ArgError::Unknown("--nope".into())));
        assert_eq!(gnu("--nope=1"), Err(ArgError::Unknown("--nope=1".into())));
        assert_eq!(gnu("--l=x"), Err(ArgError::Ambiguous("--l=x".into(), vec!["--label", "--list-one"])));
    }

    #[test]
    fn double_dash_ends_options_and_dash_is_positional() {
        assert_eq!(ht("-b -- -c u -").unwrap(), "-b -- -c u -");
        assert_eq!(gnu("- -p").unwrap(), "-p -- -");
    }

    #[test]
    fn posix_stops_at_first_positional_gnu_permutes() {
        assert_eq!(ht("-b f -c u p").unwrap(), "-b -- f -c u p");
        assert_eq!(gnu("dev1 -p dev2 -o value").unwrap(), "-p -o value -- dev1 dev2");
    }

    #[test]
    fn help_is_only_an_option_before_the_positionals() {
        assert_eq!(ht("-b f help pw").unwrap(), "-b -- f help pw");
        assert_eq!(ht("-h").unwrap(), "-h --");
    }

    #[test]
    fn unknown_and_missing() {
        assert_eq!(ht("-cx f"), Err(ArgError::Unknown("x".into())));
        assert_eq!(ht("-b -C"), Err(ArgError::MissingValue("C".into())));
        assert_eq!(gnu("--output"), Err(ArgError::MissingValue("--output".into())));
        assert_eq!(ArgError::Unknown("x".into()).to_string(), "invalid option -- 'x'");
        // Apache's htpasswd has no long options: `--` followed by a name is `-` `-` ...
        assert_eq!(ht("--create f"), Err(ArgError::Unknown("-".into())));
        // ... but help keeps its long spelling.
        assert_eq!(ht("--help").unwrap(), "-h --");
    }

    #[test]
    fn order_of_options_is_kept() {
        let line = read::<Gnu>(&GNU, &words("-L a -o value --label b")).unwrap();
        let labels: Vec<_> = line.given.iter().filter(|g| g.long == "--label").map(|g| g.value.clone()).collect();
        assert_eq!(labels, [Some("a".to_string()), Some("b".to_string())]);
        assert!(line.has("--output") && !line.has("--probe"));
    }

    #[test]
    fn positionals_need_not_be_utf8() {
        use std::os::unix::ffi::OsStringExt;
        let odd = OsString::from_vec(b"/dev/disk\xff".to_vec());
        let line = read::<Gnu>(&GNU, &[OsString::from("-p"), odd.clone()]).unwrap();
        assert_eq!(line.positionals, [odd]);
        assert!(line.utf8_positionals().unwrap_err().contains("not valid UTF-8"));
    }

    #[test]
    fn argh_receives_the_options_and_never_a_positional() {
        let Parsed::Run(d, line) = parse::<Ht>("demo", &HT, &words("-bC9 file help -")).unwrap() else {
            panic!("help was triggered by a positional word");
        };
        assert!(d.batch && !d.create && !d.display && !d.bcrypt);
        assert_eq!(d.cost, Some(9));
        assert_eq!(line.positionals, words("file help -"));
    }

    #[test]
    fn argh_gets_long_forms_of_what_was_typed() {
        let Parsed::Run(g, _) = parse::<Gnu>("demo", &GNU, &words("--lab X -pl -o a --output=b --rw -sUUID")).unwrap()
        else {
            panic!("no run");
        };
        assert!(g.probe && g.list_one && g.rw);
        assert_eq!(
            (g.label, g.output, g.tag),
            (vec!["X".to_string()], vec!["a".into(), "b".into()], vec!["UUID".into()])
        );
    }

    #[test]
    fn help_is_asked_by_either_spelling() {
        assert!(matches!(parse::<Gnu>("demo", &GNU, &words("-p -h")), Ok(Parsed::Help)));
        assert!(matches!(parse::<Gnu>("demo", &GNU, &words("dev --help")), Ok(Parsed::Help)));
        assert!(matches!(parse::<Gnu>("demo", &GNU, &words("-- --help")), Ok(Parsed::Run(..))));
        assert!(argh_help::<Gnu>("demo").contains("--match-tag"));
    }

    #[test]
    fn argh_errors_are_reported() {
        assert!(matches!(parse::<Ht>("demo", &HT, &words("-C x f")), Err(ArgError::Invalid(_))));
    }
}
