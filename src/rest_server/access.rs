//! Who may do what, decided in one place: the rules file's rights where a
//! line gives them, else `--private-repos` and `--append-only` as rest-server
//! 0.14 applies them. Pure: the request path asks [`decide`] and answers its
//! refusal.

use super::rules::{Right, Rules};
use hyper::StatusCode;

/// What a request does to a repository.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// HEAD, GET, listings (and methods nobody may use, answered 405 later).
    Read,
    /// Create the repository, its config or an object.
    Write,
    /// Delete a lock: what append-only clients do at the end of every run.
    DeleteLock,
    /// Delete the config or any other object: forget, prune.
    Delete,
}

impl Op {
    /// The weakest right that allows it.
    fn needs(self) -> Right {
        match self {
            Op::Read => Right::Read,
            Op::Write | Op::DeleteLock => Right::Append,
            Op::Delete => Right::Modify,
        }
    }
}

/// The server-wide settings the decision reads.
pub struct Policy<'a> {
    /// Whether users log in (not `--no-auth`).
    pub auth: bool,
    pub private_repos: bool,
    pub append_only: bool,
    pub rules: &'a Rules,
}

/// A refusal: the status rest-server gives, and the rule that refused.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub rule: String,
}

/// May `user` ("" without logins) do `op` in `repo` (its folder path, "" for the root)?
/// Nothing allowed there at all: 401, as `--private-repos` answers another
/// user's repository; some right, but not this one: 403, as `--append-only`
/// answers a deletion.
pub fn decide(p: &Policy, user: &str, repo: &str, op: Op) -> Result<(), Refusal> {
    let refuse = |status, rule: String| Err(Refusal { status, rule });
    if p.auth {
        if let Some(applied) = p.rules.rights(repo, user) {
            return match applied.right {
                None => refuse(StatusCode::UNAUTHORIZED, applied.rule),
                Some(r) if r < op.needs() => {
                    refuse(StatusCode::FORBIDDEN, format!("{} right only, by {}", r.name(), applied.rule))
                }
                Some(_) => Ok(()),
            };
        }
        if p.private_repos && repo.split('/').next() != Some(user) {
            return refuse(StatusCode::UNAUTHORIZED, "--private-repos".into());
        }
    }
    if p.append_only && op == Op::Delete {
        return refuse(StatusCode::FORBIDDEN, "--append-only".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Rules {
        let dir = std::env::temp_dir().join(format!("krazybox-access-{}-{}", std::process::id(), text.len()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("rules");
        std::fs::write(&file, text).unwrap();
        let r = Rules::new(None, Some(&file), true).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        r
    }

    #[test]
    fn the_server_wide_decision_as_rest_server_makes_it() {
        let none = rules("/x 5\n");
        let p = |private_repos, append_only| Policy { auth: true, private_repos, append_only, rules: &none };
        assert_eq!(decide(&p(false, false), "bob", "alice", Op::Delete), Ok(()));
        let r = decide(&p(true, false), "bob", "alice/laptop", Op::Read).unwrap_err();
        assert_eq!((r.status, r.rule.as_str()), (StatusCode::UNAUTHORIZED, "--private-repos"));
        assert_eq!(decide(&p(true, false), "alice", "alice/laptop", Op::Delete), Ok(()));
        assert_eq!(decide(&p(true, false), "alice", "", Op::Read).unwrap_err().status, StatusCode::UNAUTHORIZED);
        let r = decide(&p(true, true), "alice", "alice", Op::Delete).unwrap_err();
        assert_eq!((r.status, r.rule.as_str()), (StatusCode::FORBIDDEN, "--append-only"));
        assert_eq!(decide(&p(false, true), "alice", "alice", Op::DeleteLock), Ok(()));
        assert_eq!(decide(&p(false, true), "alice", "alice", Op::Write), Ok(()));
        // Without logins, --private-repos means nothing (there is no user).
        let open = Policy { auth: false, private_repos: true, append_only: true, rules: &none };
        assert_eq!(decide(&open, "", "alice", Op::Write), Ok(()));
        assert_eq!(decide(&open, "", "alice", Op::Delete).unwrap_err().status, StatusCode::FORBIDDEN);
    }

    #[test]
    fn rights_replace_the_server_wide_decision_where_a_line_gives_them() {
        let r = rules("/alice/laptop 100 alice=append owner=modify\n/family *=read owner=modify\nbob 5\n");
        // --private-repos and --append-only, which the rules override where they give rights.
        let p = Policy { auth: true, private_repos: true, append_only: true, rules: &r };
        let ok = |user, repo, op| decide(&p, user, repo, op).is_ok();
        let status = |user, repo, op| decide(&p, user, repo, op).unwrap_err().status;
        assert!(ok("alice", "alice/laptop", Op::Write));
        assert!(ok("alice", "alice/laptop", Op::DeleteLock));
        assert_eq!(status("alice", "alice/laptop", Op::Delete), StatusCode::FORBIDDEN);
        assert!(ok("owner", "alice/laptop", Op::Delete), "owner prunes despite --append-only and --private-repos");
        assert_eq!(status("bob", "alice/laptop", Op::Read), StatusCode::UNAUTHORIZED);
        assert!(ok("eve", "family", Op::Read));
        assert_eq!(status("eve", "family", Op::Write), StatusCode::FORBIDDEN);
        assert_eq!(status("eve", "family", Op::DeleteLock), StatusCode::FORBIDDEN, "read creates no lock either");
        assert!(ok("owner", "family", Op::Delete));
        // A line without rights changes nothing: bob's own folder, append-only.
        assert!(ok("bob", "bob", Op::Write));
        assert_eq!(status("bob", "bob", Op::Delete), StatusCode::FORBIDDEN);
        assert_eq!(status("alice", "bob", Op::Read), StatusCode::UNAUTHORIZED);
        let refusal = decide(&p, "alice", "alice/laptop", Op::Delete).unwrap_err();
        assert!(refusal.rule.starts_with("append right only, by line 1 of "), "{}", refusal.rule);
        assert!(refusal.rule.ends_with("(/alice/laptop: alice=append owner=modify)"), "{}", refusal.rule);
    }
}
