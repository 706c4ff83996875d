//! The scrub's state file (`.rest-server.scrub` at the top of `--path`): where a
//! pass is and what it found, one fact a line, read back after a restart.

use super::statefile::{escape, unescape};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// What is wrong with an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// Its SHA-256 is not its name.
    Corrupt,
    /// Reading it failed (an I/O error).
    Unreadable,
}

impl Fault {
    pub fn word(self) -> &'static str {
        match self {
            Fault::Corrupt => "corrupt",
            Fault::Unreadable => "unreadable",
        }
    }
}

/// Bad objects of a repository.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub corrupt: u64,
    pub unreadable: u64,
}

impl Counts {
    pub(super) fn add(&mut self, f: Fault) {
        match f {
            Fault::Corrupt => self.corrupt += 1,
            Fault::Unreadable => self.unreadable += 1,
        }
    }

    pub(super) fn max(self, o: Counts) -> Counts {
        Counts { corrupt: self.corrupt.max(o.corrupt), unreadable: self.unreadable.max(o.unreadable) }
    }
}

/// What the scrub knows of one repository.
#[derive(Clone, Debug, Default)]
pub(super) struct Repo {
    /// Found by the last complete reading of the repository.
    pub(super) done: Counts,
    /// Found so far by the reading in progress; `None` when it is not being read.
    pub(super) now: Option<Counts>,
    /// Paths in the repository of bad objects: of the last complete reading, and of the one in progress.
    pub(super) examples: BTreeSet<(Fault, String)>,
    pub(super) examples_now: BTreeSet<(Fault, String)>,
}

/// A pass: when it started and ended, what it read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    /// Seconds since the epoch.
    pub start: u64,
    pub end: u64,
    pub bytes: u64,
    pub objects: u64,
}

/// Where a pass is: the last object read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Position {
    pub(super) repo: String,
    pub(super) folder: String,
    pub(super) name: String,
}

#[derive(Debug, Default)]
pub(super) struct Progress {
    /// Number of the pass in progress, or of the last one.
    pub(super) pass: u64,
    /// The pass in progress (its `end` unused).
    pub(super) current: Option<Pass>,
    pub(super) position: Option<Position>,
    pub(super) last: Option<Pass>,
    pub(super) repos: BTreeMap<String, Repo>,
}

fn repo_field(repo: &str) -> String {
    format!("/{}", escape(repo))
}

fn parse_repo(field: &str) -> Option<String> {
    unescape(field.strip_prefix('/')?)
}

const HEADER: &str = "krazybox-scrub 1";

/// The state as text: one fact a line.
pub(super) fn format_state(p: &Progress) -> String {
    let mut out =
        format!("{HEADER}\n# written by rest-server: where the scrub is and what it found\npass {}\n", p.pass);
    let pass = |out: &mut String, key: &str, x: &Pass| {
        let _ = writeln!(out, "{key} {} {} {} {}", x.start, x.end, x.bytes, x.objects);
    };
    if let Some(c) = &p.current {
        pass(&mut out, "current", c);
    }
    if let Some(l) = &p.last {
        pass(&mut out, "last", l);
    }
    if let Some(q) = &p.position {
        let _ = writeln!(out, "position {} {} {}", repo_field(&q.repo), escape(&q.folder), escape(&q.name));
    }
    for (name, r) in &p.repos {
        let _ = write!(out, "repo {} {} {}", repo_field(name), r.done.corrupt, r.done.unreadable);
        if let Some(n) = r.now {
            let _ = write!(out, " {} {}", n.corrupt, n.unreadable);
        }
        out.push('\n');
        for (set, when) in [(&r.examples, "done"), (&r.examples_now, "now")] {
            for (f, path) in set {
                let _ = writeln!(out, "bad {} {when} {} {}", repo_field(name), f.word(), escape(path));
            }
        }
    }
    out
}

/// Read what [`format_state`] wrote; `None` when it is not that.
pub(super) fn parse_state(text: &str) -> Option<Progress> {
    let mut lines = text.lines();
    if lines.next()? != HEADER {
        return None;
    }
    let mut p = Progress::default();
    let num = |s: Option<&str>| s.and_then(|v| v.parse::<u64>().ok());
    for line in lines {
        let w: Vec<&str> = line.split(' ').collect();
        let pass = || {
            Some(Pass {
                start: num(w.get(1).copied())?,
                end: num(w.get(2).copied())?,
                bytes: num(w.get(3).copied())?,
                objects: num(w.get(4).copied())?,
            })
        };
        match w[0] {
            "pass" => p.pass = num(w.get(1).copied())?,
            "current" => p.current = Some(pass()?),
            "last" => p.last = Some(pass()?),
            "position" => {
                p.position = Some(Position {
                    repo: parse_repo(w.get(1)?)?,
                    folder: unescape(w.get(2)?)?,
                    name: unescape(w.get(3)?)?,
                })
            }
            "repo" => {
                let r = p.repos.entry(parse_repo(w.get(1)?)?).or_default();
                r.done = Counts { corrupt: num(w.get(2).copied())?, unreadable: num(w.get(3).copied())? };
                if w.len() >= 6 {
                    r.now = Some(Counts { corrupt: num(w.get(4).copied())?, unreadable: num(w.get(5).copied())? });
                }
            }
            "bad" => {
                let r = p.repos.entry(parse_repo(w.get(1)?)?).or_default();
                let fault = match *w.get(3)? {
                    "corrupt" => Fault::Corrupt,
                    "unreadable" => Fault::Unreadable,
                    _ => return None,
                };
                let set = if *w.get(2)? == "now" { &mut r.examples_now } else { &mut r.examples };
                set.insert((fault, unescape(w.get(4)?)?));
            }
            _ => {}
        }
    }
    if p.current.is_none() {
        p.position = None;
    }
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_reads_back() {
        let mut p = Progress { pass: 7, ..Progress::default() };
        p.current = Some(Pass { start: 100, end: 0, bytes: 5, objects: 1 });
        p.last = Some(Pass { start: 10, end: 20, bytes: 30, objects: 40 });
        p.position = Some(Position { repo: "a b/%x".into(), folder: "data/3f".into(), name: "3f".repeat(32) });
        let mut r = Repo { done: Counts { corrupt: 2, unreadable: 1 }, ..Repo::default() };
        r.now = Some(Counts { corrupt: 1, unreadable: 0 });
        r.examples.insert((Fault::Unreadable, "keys/ab".into()));
        r.examples_now.insert((Fault::Corrupt, "data/3f/3f".into()));
        p.repos.insert(String::new(), r);
        p.repos.insert("alice\nlaptop".into(), Repo::default());
        let text = format_state(&p);
        assert!(text.contains("\nposition /a%20b/%25x data/3f 3f3f"), "{text}");
        assert!(text.contains("\nrepo / 2 1 1 0\n"), "{text}");
        let q = parse_state(&text).unwrap();
        assert_eq!(format_state(&q), text);
        assert_eq!((q.pass, q.current, q.last, q.position), (p.pass, p.current, p.last, p.position));
        assert!(parse_state("something else\npass 1\n").is_none());
        assert!(parse_state(&format!("{HEADER}\npass x\n")).is_none());
    }
}
