//! The htpasswd applet against Apache's htpasswd (apache2-utils): same commands,
//! same files, same stdout, stderr and exit status; plus the safety properties
//! Apache lacks (atomic, locked updates).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::support::TempDir;

const APACHE: &str = "/usr/bin/htpasswd";

fn krazybox() -> &'static str {
    env!("CARGO_BIN_EXE_krazybox")
}

#[derive(Debug, PartialEq, Eq)]
struct Run {
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run_in(dir: &Path, program: &str, args: &[&str], stdin: &[u8]) -> Run {
    let mut cmd = Command::new(program);
    // Apache names itself by argv[0] in its messages; krazybox picks its applet by it.
    std::os::unix::process::CommandExt::arg0(&mut cmd, "htpasswd");
    let mut child = cmd
        .args(args)
        .current_dir(dir)
        .env_remove("KRAZYBOX_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program} (is apache2-utils installed?): {e}"));
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out: Output = child.wait_with_output().unwrap();
    Run {
        status: out.status.code(),
        stdout: mask_hashes(&String::from_utf8_lossy(&out.stdout)),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// bcrypt hashes differ in their salt: keep the prefix and cost only.
fn mask_hashes(s: &str) -> String {
    let mut out = String::new();
    for line in s.split_inclusive('\n') {
        match line.find("$2y$") {
            Some(i) => {
                out.push_str(&line[..i + 7]);
                out.push_str("<salt+hash>");
                if line.ends_with('\n') {
                    out.push('\n');
                }
            }
            None => out.push_str(line),
        }
    }
    out
}

/// Our warnings are log lines of our own: compared separately.
fn without_warnings(s: &str) -> String {
    s.split_inclusive('\n').filter(|l| !l.starts_with("WARN ")).collect()
}

/// Run the same command with Apache and with us, each in its own folder holding
/// the same starting files, and return both runs.
struct Pair {
    apache: TempDir,
    ours: TempDir,
}

impl Pair {
    fn new(tag: &str) -> Pair {
        Pair { apache: TempDir::new(&format!("{tag}-apache")), ours: TempDir::new(&format!("{tag}-ours")) }
    }
    fn write(&self, name: &str, content: &[u8]) {
        fs::write(self.apache.join(name), content).unwrap();
        fs::write(self.ours.join(name), content).unwrap();
    }
    fn run(&self, args: &[&str], stdin: &[u8]) -> (Run, Run) {
        let theirs = run_in(&self.apache.0, APACHE, args, stdin);
        let ours = run_in(&self.ours.0, krazybox(), args, stdin);
        (theirs, ours)
    }
    /// Same stdout, stderr (our warnings aside) and status.
    fn same(&self, args: &[&str], stdin: &[u8]) -> Run {
        let (theirs, ours) = self.run(args, stdin);
        let ours_cmp = Run { stderr: without_warnings(&ours.stderr), ..ours };
        let ours_cmp_stdout = ours_cmp.stdout.clone();
        assert_eq!(theirs, ours_cmp, "htpasswd {args:?}: Apache (left) and krazybox (right) differ");
        Run { stdout: ours_cmp_stdout, ..ours_cmp }
    }
    /// Same status and first stderr line only (usage texts differ on purpose).
    fn same_status(&self, args: &[&str], stdin: &[u8], first_line_too: bool) {
        let (theirs, ours) = self.run(args, stdin);
        assert_eq!(theirs.status, ours.status, "htpasswd {args:?}: status differs\n{theirs:?}\n{ours:?}");
        if first_line_too {
            assert_eq!(theirs.stderr.lines().next(), ours.stderr.lines().next(), "htpasswd {args:?}");
        }
    }
    /// The user names of each file, in order.
    fn users(&self, name: &str) -> (Vec<String>, Vec<String>) {
        let users = |p: PathBuf| -> Vec<String> {
            fs::read_to_string(p)
                .unwrap()
                .lines()
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|l| l.split(':').next().unwrap().to_string())
                .collect()
        };
        (users(self.apache.join(name)), users(self.ours.join(name)))
    }
}

#[test]
fn add_update_delete_verify_transcripts_match_apache() {
    let p = Pair::new("transcript");
    p.same(&["-cbB", "-C4", "f", "alice", "pw"], b"");
    p.same(&["-bB", "-C4", "f", "alice", "pw2"], b"");
    p.same(&["-bBC4", "f", "bob", "pw"], b"");
    p.same(&["-Bb", "-C", "4", "f", "carol", "pw"], b"");
    p.same(&["-vb", "f", "alice", "pw2"], b"");
    p.same(&["-vb", "f", "alice", "pw"], b"");
    p.same(&["-vb", "f", "nobody", "x"], b"");
    p.same(&["-D", "f", "bob"], b"");
    p.same(&["-D", "f", "bob"], b"");
    p.same(&["-bD", "f", "carol", "ignored"], b"");
    p.same(&["-iB", "-C4", "f", "dave"], b"secret\n");
    p.same(&["-vi", "f", "dave"], b"secret\n");
    p.same(&["-B", "-C4", "f", "eve"], b"pw\npw\n");
    p.same(&["-B", "-C4", "f", "eve2"], b"pw\npx\n");
    p.same(&["-v", "f", "eve"], b"pw\n");
    p.same(&["-v", "f", "eve"], b"px\n");
    p.same(&["-b", "missing", "a", "b"], b"");
    p.same(&["-b", "f", "a:b", "c"], b"");
    p.same(&["-cn", "f", "a"], b"");
    p.same(&["-vD", "f", "a"], b"");
    p.same(&["-bBC", "x", "f", "a", "b"], b"");
    p.same(&["-bBC", "0", "f", "a", "b"], b"");
    let long_pw = "x".repeat(256);
    p.same(&["-nbB", "u", &long_pw], b"");
    let long_user = "u".repeat(256);
    p.same(&["-nbB", &long_user, "p"], b"");
    p.same(&["-nbB", &"u".repeat(250), "p"], b"");
    let (a, o) = p.users("f");
    assert_eq!(a, o);
    assert_eq!(o, ["alice", "dave", "eve"]);
}

#[test]
fn display_mode_prints_record_and_blank_line() {
    let p = Pair::new("display");
    let run = p.same(&["-nbB", "-C4", "bob", "pw"], b"");
    assert_eq!(run.stdout, "bob:$2y$04$<salt+hash>\n\n");
    p.same(&["-nbs", "bob", "pw"], b"");
    p.same(&["-nB", "-C4", "bob"], b"pw\npw\n");
}

#[test]
fn usage_errors_match_apache_status() {
    let p = Pair::new("usage");
    p.write("f", b"alice:{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM=\n");
    p.same_status(&["f"], b"", false);
    p.same_status(&["-b", "f", "alice"], b"", false);
    p.same_status(&["-n", "a", "b"], b"", false);
    p.same_status(&["-bi", "f", "a", "b"], b"", false);
    p.same_status(&["-x", "f", "a"], b"", true);
    p.same_status(&["-bBC", "3", "f", "a", "b"], b"", false);
    p.same_status(&["-bBC", "18", "f", "a", "b"], b"", false);
}

#[test]
fn files_written_by_one_verify_with_the_other() {
    let dir = TempDir::new("cross");
    let apache_file = dir.join("apache");
    let ours_file = dir.join("ours");
    let a = run_in(&dir.0, APACHE, &["-cbB", "apache", "alice", "s3cret"], b"");
    assert_eq!(a.status, Some(0));
    let o = run_in(&dir.0, krazybox(), &["-cbB", "ours", "alice", "s3cret"], b"");
    assert_eq!(o.status, Some(0), "{o:?}");
    assert!(fs::read_to_string(&ours_file).unwrap().starts_with("alice:$2y$10$"));
    for program in [APACHE, krazybox()] {
        for file in [&apache_file, &ours_file] {
            let f = file.to_str().unwrap();
            let ok = run_in(&dir.0, program, &["-vb", f, "alice", "s3cret"], b"");
            assert_eq!(ok.status, Some(0), "{program} verifying {f}: {ok:?}");
            let bad = run_in(&dir.0, program, &["-vb", f, "alice", "s3creT"], b"");
            assert_eq!(bad.status, Some(3), "{program} verifying {f}: {bad:?}");
        }
    }
    // A record printed by -n goes into Apache's file and verifies there.
    let n = Command::new(krazybox()).args(["htpasswd", "-nbB", "bob", "pw"]).output().unwrap();
    let record = String::from_utf8(n.stdout).unwrap();
    assert!(record.ends_with("\n\n"));
    fs::write(&apache_file, record.trim_end().to_string() + "\n").unwrap();
    let ok = run_in(&dir.0, APACHE, &["-vb", "apache", "bob", "pw"], b"");
    assert_eq!(ok.status, Some(0), "{ok:?}");
}

#[test]
fn other_lines_are_kept_byte_for_byte() {
    let p = Pair::new("keep");
    let start = b"# rest-server users\r\nbob:{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM=\r\n\nalice:$2y$05$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\ncarol:{SHA}x\n";
    p.write("f", start);
    p.same(&["-bs", "f", "alice", "pw"], b"");
    let apache = fs::read(p.apache.join("f")).unwrap();
    let ours = fs::read(p.ours.join("f")).unwrap();
    assert_eq!(apache, ours, "same bytes after updating alice");
    p.same(&["-D", "f", "carol"], b"");
    assert_eq!(fs::read(p.apache.join("f")).unwrap(), fs::read(p.ours.join("f")).unwrap());
}

#[test]
fn missing_final_newline_is_added_before_appending() {
    let dir = TempDir::new("newline");
    fs::write(dir.join("f"), b"alice:{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM=").unwrap();
    let r = run_in(&dir.0, krazybox(), &["-bs", "f", "bob", "pw"], b"");
    assert_eq!(r.status, Some(0), "{r:?}");
    assert_eq!(
        fs::read_to_string(dir.join("f")).unwrap(),
        "alice:{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM=\nbob:{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM=\n"
    );
}

#[test]
fn invalid_and_empty_hash_files() {
    let p = Pair::new("invalid");
    p.write("g", b"alice:{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM=\nnot a record\n");
    p.same(&["-b", "g", "a", "b"], b"");
    // Apache prints "Deleting " before it notices the bad line; the status is what counts.
    p.same_status(&["-D", "g", "alice"], b"", false);
    p.same(&["-vb", "g", "alice", "b"], b"");
    p.same(&["-vb", "g", "alice", "pw"], b"");
    p.same(&["-vb", "g", "bob", "pw"], b"");
    p.write("h", b"a:\n");
    p.same(&["-vb", "h", "a", "b"], b"");
    assert_eq!(
        fs::read(p.ours.join("g")).unwrap(),
        b"alice:{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM=\nnot a record\n",
        "an invalid file is not touched"
    );
}

#[test]
fn refused_algorithms_and_unverifiable_hashes() {
    let dir = TempDir::new("refuse");
    for flag in ["-m", "-d", "-p", "-2", "-5"] {
        let r = run_in(&dir.0, krazybox(), &["-nb", flag, "u", "p"], b"");
        assert_eq!(r.status, Some(10), "{flag}: {r:?}");
        assert!(r.stderr.starts_with("htpasswd: ") && r.stderr.contains("rest-server accepts only bcrypt"), "{r:?}");
        assert_eq!(r.stdout, "");
    }
    // The last hash option wins, as in Apache.
    let r = run_in(&dir.0, krazybox(), &["-nb", "-m", "-B", "-C4", "u", "p"], b"");
    assert_eq!(r.status, Some(0), "{r:?}");
    fs::write(dir.join("f"), b"a:$apr1$abc$def\n").unwrap();
    let r = run_in(&dir.0, krazybox(), &["-vb", "f", "a", "p"], b"");
    assert_eq!(r.status, Some(10), "{r:?}");
    assert!(r.stderr.contains("cannot verify this hash kind (apr1-MD5)"), "{r:?}");
}

#[test]
fn warnings_for_rest_server() {
    let dir = TempDir::new("warn");
    fs::write(dir.join("f"), b"old:$apr1$abc$def\n").unwrap();
    let r = run_in(&dir.0, krazybox(), &["-bB", "-C4", "f", "john doe", "p"], b"");
    assert_eq!(r.status, Some(0), "{r:?}");
    assert!(r.stderr.contains("rest-server will ignore user john doe"), "{r:?}");
    assert!(r.stderr.contains("user old (line 1) has a apr1-MD5 hash"), "{r:?}");
    let long = "p".repeat(80);
    let r = run_in(&dir.0, krazybox(), &["-nbB", "-C4", "u", &long], b"");
    assert!(r.stderr.contains("bcrypt uses only the first 72"), "{r:?}");
    let r = run_in(&dir.0, krazybox(), &["-nbB", "-C4", "u", ""], b"");
    assert!(r.stderr.contains("the password is empty"), "{r:?}");
    let r = run_in(&dir.0, krazybox(), &["-nbs", "u", "p"], b"");
    assert!(r.stderr.contains("weak"), "{r:?}");
    let r = run_in(&dir.0, krazybox(), &["-nb", "a\nb", "p"], b"");
    assert_eq!(r.status, Some(6), "a newline cannot inject a line: {r:?}");
}

#[test]
fn new_files_are_private_and_links_are_followed() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = TempDir::new("mode");
    let r = run_in(&dir.0, krazybox(), &["-cbB", "-C4", "f", "a", "p"], b"");
    assert_eq!(r.status, Some(0), "{r:?}");
    assert_eq!(fs::metadata(dir.join("f")).unwrap().mode() & 0o777, 0o600);
    fs::set_permissions(dir.join("f"), fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::symlink("f", dir.join("link")).unwrap();
    let r = run_in(&dir.0, krazybox(), &["-bB", "-C4", "link", "b", "p"], b"");
    assert_eq!(r.status, Some(0), "{r:?}");
    assert!(fs::symlink_metadata(dir.join("link")).unwrap().file_type().is_symlink());
    assert_eq!(fs::metadata(dir.join("f")).unwrap().mode() & 0o777, 0o644);
    assert_eq!(fs::read_to_string(dir.join("f")).unwrap().lines().count(), 2);
}

#[test]
fn twenty_concurrent_adds_keep_every_user() {
    let dir = TempDir::new("concurrent");
    fs::write(dir.join("f"), b"").unwrap();
    let children: Vec<_> = (0..20)
        .map(|i| {
            Command::new(krazybox())
                .args(["htpasswd", "-bB", "-C4", "f", &format!("user{i}"), "pw"])
                .current_dir(&dir.0)
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let content = fs::read_to_string(dir.join("f")).unwrap();
    let mut users: Vec<&str> = content.lines().map(|l| l.split(':').next().unwrap()).collect();
    users.sort();
    let mut expected: Vec<String> = (0..20).map(|i| format!("user{i}")).collect();
    expected.sort();
    assert_eq!(users, expected);
    assert_eq!(fs::read_dir(&dir.0).unwrap().count(), 1, "no temporary file left");
}

#[test]
fn a_killed_writer_leaves_the_old_or_the_new_file() {
    let dir = TempDir::new("kill");
    let old: String = (0..20000).map(|i| format!("user{i}:{{SHA}}GpHWL3ymc5liWkNopqtdSjuqYHM=\n")).collect();
    let new = format!("{old}added:{{SHA}}GpHWL3ymc5liWkNopqtdSjuqYHM=\n");
    // How long one uninterrupted run takes: the kills are spread over 1.5 times that.
    fs::write(dir.join("f"), &old).unwrap();
    let start = std::time::Instant::now();
    let r = run_in(&dir.0, krazybox(), &["-bs", "f", "added", "pw"], b"");
    assert_eq!(r.status, Some(0), "{r:?}");
    let span = start.elapsed().as_micros() as u64 * 3 / 2;
    let mut outcomes = [0usize; 2];
    for round in 0..40u64 {
        fs::write(dir.join("f"), &old).unwrap();
        let mut child = Command::new(krazybox())
            .args(["htpasswd", "-bs", "f", "added", "pw"])
            .current_dir(&dir.0)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_micros(span * round / 40));
        let _ = child.kill();
        let _ = child.wait();
        let now = fs::read_to_string(dir.join("f")).unwrap();
        assert!(now == old || now == new, "round {round}: the file is neither the old nor the new one");
        outcomes[usize::from(now == new)] += 1;
    }
    // The next run cleans up whatever a killed one left behind.
    let r = run_in(&dir.0, krazybox(), &["-bs", "f", "last", "pw"], b"");
    assert_eq!(r.status, Some(0), "{r:?}");
    assert_eq!(fs::read_dir(&dir.0).unwrap().count(), 1, "stale temporary files are removed");
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "the kills must hit before and after the rename: {outcomes:?}");
}
