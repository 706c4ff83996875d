//! The one place where command lines are brought into the shape argh parses.
//!
//! People type `htpasswd -cbB file user pw`, `htpasswd -C12`, `blkid -ovalue -sUUID` and
//! `mount --options=ro`; argh wants every option alone and every value as its own
//! word. [`normalize`] rewrites the words the way getopt(3) reads them (clusters,
//! attached values, `--opt=value`, `--`, `-` as an ordinary word) and ends the
//! options with an explicit `--`, so that argh never takes a positional word such
//! as a user named `help` for anything but a positional.

use argh::FromArgs;
use std::process::ExitCode;

/// What an applet's command line looks like, in getopt's terms.
pub struct Spec {
    /// Short switches without a value, `-h` included where the applet has it.
    pub flags: &'static str,
    /// Short options that take a value (`-C 12`, `-C12`).
    pub short_values: &'static str,
    /// Long options that take a value, with their dashes (`--options`).
    pub long_values: &'static [&'static str],
    /// GNU behaviour: options may follow positional words. Without it (POSIX,
    /// Apache's htpasswd) the first positional word ends the options.
    pub permute: bool,
}

/// A command line that getopt would refuse.
#[derive(Debug, PartialEq, Eq)]
pub enum ArgError {
    /// An option the applet does not have (`x` for `-x`, `--foo` for `--foo`).
    Unknown(String),
    /// An option whose value is missing at the end of the line.
    MissingValue(String),
    /// argh refused the normalized words; its message.
    Invalid(String),
}

impl std::fmt::Display for ArgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArgError::Unknown(o) if o.starts_with("--") => write!(f, "unrecognized option '{o}'"),
            ArgError::Unknown(o) => write!(f, "invalid option -- '{o}'"),
            ArgError::MissingValue(o) if o.starts_with("--") => write!(f, "option '{o}' requires an argument"),
            ArgError::MissingValue(o) => write!(f, "option requires an argument -- '{o}'"),
            ArgError::Invalid(m) => f.write_str(m.trim_end()),
        }
    }
}

/// Rewrite `args` into options (each alone, values as separate words), then
/// `--`, then the positional words in their order.
pub fn normalize(spec: &Spec, args: &[String]) -> Result<Vec<String>, ArgError> {
    let mut options = Vec::new();
    let mut positionals = Vec::new();
    let mut words = args.iter();
    while let Some(word) = words.next() {
        if word == "--" {
            positionals.extend(words.by_ref().cloned());
            break;
        }
        if let Some(long) = word.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (format!("--{n}"), Some(v.to_string())),
                None => (word.clone(), None),
            };
            let takes_value = spec.long_values.contains(&name.as_str());
            options.push(name.clone());
            match (takes_value, value) {
                (true, Some(v)) => options.push(v),
                (true, None) => options.push(words.next().ok_or(ArgError::MissingValue(name))?.clone()),
                // argh reports a value given to a switch as an unknown word.
                (false, Some(v)) => options.push(v),
                (false, None) => {}
            }
            continue;
        }
        if word.len() > 1 && word.starts_with('-') {
            let cluster = &word[1..];
            for (at, c) in cluster.char_indices() {
                if spec.short_values.contains(c) {
                    options.push(format!("-{c}"));
                    let rest = &cluster[at + c.len_utf8()..];
                    if rest.is_empty() {
                        let value = words.next().ok_or_else(|| ArgError::MissingValue(c.to_string()))?;
                        options.push(value.clone());
                    } else {
                        options.push(rest.to_string());
                    }
                    break;
                } else if spec.flags.contains(c) {
                    options.push(format!("-{c}"));
                } else {
                    return Err(ArgError::Unknown(c.to_string()));
                }
            }
            continue;
        }
        positionals.push(word.clone());
        if !spec.permute {
            positionals.extend(words.by_ref().cloned());
            break;
        }
    }
    options.push("--".to_string());
    options.extend(positionals);
    Ok(options)
}

/// What parsing decided: run the applet, or stop now (after `--help`).
pub enum Parsed<T> {
    Run(T),
    Exit(ExitCode),
}

/// Parse words that [`normalize`] produced. Help goes to stdout with status 0.
pub fn from_words<T: FromArgs>(applet: &str, words: &[String]) -> Result<Parsed<T>, ArgError> {
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    match T::from_args(&[applet], &words) {
        Ok(parsed) => Ok(Parsed::Run(parsed)),
        Err(early) if early.status.is_ok() => {
            print!("{}", early.output);
            Ok(Parsed::Exit(ExitCode::SUCCESS))
        }
        Err(early) => Err(ArgError::Invalid(early.output)),
    }
}

/// [`normalize`], then [`from_words`]: what most applets need.
pub fn parse<T: FromArgs>(applet: &str, spec: &Spec, args: &[String]) -> Result<Parsed<T>, ArgError> {
    from_words(applet, &normalize(spec, args)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HT: Spec = Spec { flags: "cnbiDvBsh", short_values: "C", long_values: &[], permute: false };
    const GNU: Spec = Spec { flags: "pdh", short_values: "os", long_values: &["--output"], permute: true };

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn norm(spec: &Spec, s: &str) -> Result<String, ArgError> {
        normalize(spec, &words(s)).map(|w| w.join(" "))
    }

    #[test]
    fn clusters_split_into_single_switches() {
        assert_eq!(norm(&HT, "-cbB f u p").unwrap(), "-c -b -B -- f u p");
    }

    #[test]
    fn attached_and_separate_values() {
        assert_eq!(norm(&HT, "-C12 -nbB u p").unwrap(), "-C 12 -n -b -B -- u p");
        assert_eq!(norm(&HT, "-bC 7 f u p").unwrap(), "-b -C 7 -- f u p");
        assert_eq!(norm(&GNU, "-ovalue -sUUID x").unwrap(), "-o value -s UUID -- x");
    }

    #[test]
    fn value_may_start_with_a_dash() {
        assert_eq!(norm(&HT, "-C -5 f").unwrap(), "-C -5 -- f");
        assert_eq!(norm(&GNU, "--output -x").unwrap(), "--output -x --");
    }

    #[test]
    fn long_with_equals() {
        assert_eq!(norm(&GNU, "--output=udev dev").unwrap(), "--output udev -- dev");
        assert_eq!(norm(&GNU, "--output= dev").unwrap(), "--output  -- dev");
    }

    #[test]
    fn double_dash_ends_options_and_dash_is_positional() {
        assert_eq!(norm(&HT, "-b -- -c u -").unwrap(), "-b -- -c u -");
        assert_eq!(norm(&GNU, "- -p").unwrap(), "-p -- -");
    }

    #[test]
    fn posix_stops_at_first_positional_gnu_permutes() {
        assert_eq!(norm(&HT, "-b f -c u p").unwrap(), "-b -- f -c u p");
        assert_eq!(norm(&GNU, "dev1 -p dev2 -o value").unwrap(), "-p -o value -- dev1 dev2");
    }

    #[test]
    fn help_is_only_an_option_before_the_positionals() {
        assert_eq!(norm(&HT, "-b f help pw").unwrap(), "-b -- f help pw");
        assert_eq!(norm(&HT, "-h").unwrap(), "-h --");
    }

    #[test]
    fn unknown_and_missing() {
        assert_eq!(norm(&HT, "-cx f"), Err(ArgError::Unknown("x".into())));
        assert_eq!(norm(&HT, "-b -C"), Err(ArgError::MissingValue("C".into())));
        assert_eq!(norm(&GNU, "--output"), Err(ArgError::MissingValue("--output".into())));
        assert_eq!(ArgError::Unknown("x".into()).to_string(), "invalid option -- 'x'");
    }

    #[derive(FromArgs, Debug)]
    /// test applet
    #[argh(help_triggers("-h", "--help"))]
    struct Demo {
        /// a switch
        #[argh(switch, short = 'b')]
        batch: bool,
        /// a value
        #[argh(option, short = 'C')]
        cost: Option<u32>,
        /// words
        #[argh(positional)]
        rest: Vec<String>,
    }

    #[test]
    fn argh_receives_positional_help_and_dashes_as_words() {
        let Parsed::Run(d) = parse::<Demo>("demo", &HT, &words("-bC9 file help -")).unwrap() else {
            panic!("help was triggered by a positional word");
        };
        assert!(d.batch);
        assert_eq!(d.cost, Some(9));
        assert_eq!(d.rest, ["file", "help", "-"]);
    }

    #[test]
    fn argh_errors_are_reported() {
        assert!(matches!(parse::<Demo>("demo", &HT, &words("-C x f")), Err(ArgError::Invalid(_))));
    }
}
