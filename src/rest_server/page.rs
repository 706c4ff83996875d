//! `/status` as a person reads it on a phone: one self-contained HTML page
//! (its style inline, no script, no image, nothing fetched from elsewhere), the
//! repositories worst first. The facts are [`super::status::Facts`].

use super::accesslog::civil;
use super::duration;
use super::health::Word;
use super::status::{Facts, Problem, Repo};
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

/// The answer's `Content-Security-Policy`: the inline style and nothing else.
pub const POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

const STYLE: &str = "\
:root{color-scheme:light dark;--bg:#f4f4f1;--card:#fff;--ink:#1d1d1b;--dim:#62625d;--ok:#2e7d32;--warn:#b26a00;--bad:#c62828;--bar:#deded8}\
@media(prefers-color-scheme:dark){:root{--bg:#161615;--card:#24231f;--ink:#ecece6;--dim:#a6a69f;--bar:#3a3a35}}\
*{box-sizing:border-box}\
body{margin:0 auto;max-width:42em;padding:.6em .8em 2em;font:16px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;background:var(--bg);color:var(--ink)}\
h1{font-size:1.35em;margin:.3em 0 .4em}\
h2{font-size:1.1em;margin:1.2em 0 .2em}\
.sum{margin:0;padding:.55em .8em;border-radius:.5em;color:#fff;background:var(--ok);font-weight:600}\
.sum.bad{background:var(--bad)}.sum.warn{background:var(--warn)}\
.note{color:var(--dim);margin:.2em 0 .6em;font-size:.9em}\
.card{background:var(--card);border-radius:.5em;padding:.6em .8em;margin:.6em 0;border-left:.35em solid var(--ok);box-shadow:0 1px 2px #0002}\
.card.bad{border-left-color:var(--bad)}.card.warn{border-left-color:var(--warn)}.card.wait{border-left-color:var(--dim)}\
h3{font-size:1.05em;margin:0;display:flex;gap:.5em;align-items:baseline;justify-content:space-between}\
h3 span{overflow-wrap:anywhere}\
.tag{font-size:.75em;font-weight:700;text-transform:uppercase;letter-spacing:.03em;padding:.1em .5em;border-radius:1em;color:#fff;background:var(--ok);white-space:nowrap}\
.bad .tag{background:var(--bad)}.warn .tag{background:var(--warn)}.wait .tag{background:var(--dim)}\
.big{font-size:1.15em;margin:.3em 0}\
.bar{height:.55em;border-radius:.3em;background:var(--bar);overflow:hidden;margin:.3em 0}\
.bar i{display:block;height:100%;background:var(--ok)}.bar.warn i{background:var(--warn)}.bar.bad i{background:var(--bad)}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:.1em .8em;margin:.3em 0 0}\
dt{color:var(--dim)}dd{margin:0;overflow-wrap:anywhere}\
small{color:var(--dim)}\
footer{color:var(--dim);font-size:.85em;margin-top:1.5em}";

/// `<`, `>`, `&`, `"` and `'` escaped, for text and attribute values alike.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `12.3 GiB`: three figures, binary units as `df -h` counts them.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} bytes");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    let digits = if v < 10.0 {
        2
    } else if v < 100.0 {
        1
    } else {
        0
    };
    format!("{v:.digits$} {}", UNITS[unit])
}

fn plural(n: u64, word: &str) -> String {
    match (n, word.strip_suffix('y')) {
        (1, _) => format!("1 {word}"),
        (_, Some(stem)) if !stem.ends_with(['a', 'e', 'o', 'u']) => format!("{n} {stem}ies"),
        _ => format!("{n} {word}s"),
    }
}

/// `3 days 4 hours`: the two largest units of a span of time.
pub fn span(d: Duration) -> String {
    let s = d.as_secs();
    let (days, hours, minutes) = (s / 86400, s % 86400 / 3600, s % 3600 / 60);
    let two = |a: String, b: u64, word: &str| if b == 0 { a } else { format!("{a} {}", plural(b, word)) };
    if days > 0 {
        two(plural(days, "day"), hours, "hour")
    } else if hours > 0 {
        two(plural(hours, "hour"), minutes, "minute")
    } else if minutes > 0 {
        plural(minutes, "minute")
    } else {
        plural(s, "second")
    }
}

/// `2026-12-07 03:32 UTC`.
pub fn utc(t: SystemTime) -> String {
    let c = civil(t);
    format!("{}-{:02}-{:02} {:02}:{:02} UTC", c.year, c.month, c.day, c.hour, c.minute)
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 / whole as f64 * 100.0).clamp(0.0, 100.0)
    }
}

/// A bar filled to `pct`, coloured by `class` (`""`, `warn`, `bad`).
fn bar(out: &mut String, pct: f64, class: &str) {
    let _ = write!(out, "<div class=\"bar {class}\"><i style=\"width:{pct:.1}%\"></i></div>");
}

/// The card's colour and tag for a repository.
fn look(r: &Repo) -> (&'static str, String) {
    match r.worst() {
        Some(Problem::NoSnapshot) => ("bad", "no snapshot".into()),
        Some(Problem::Stale) => ("bad", "stale".into()),
        Some(Problem::Quota) => ("warn", "quota".into()),
        None if !r.counted => ("wait", "counting".into()),
        None => ("", "ok".into()),
    }
}

fn repo_card(out: &mut String, r: &Repo, now: SystemTime) {
    let (class, tag) = look(r);
    let _ = write!(
        out,
        "<section class=\"card {class}\"><h3><span>{}</span><span class=\"tag\">{tag}</span></h3>",
        escape(&r.path)
    );
    if !r.counted {
        out.push_str("<p class=\"big\">Not counted yet</p></section>");
        return;
    }
    match (r.last_snapshot, r.age(now)) {
        (Some(t), Some(age)) => {
            let _ =
                write!(out, "<p class=\"big\">Last snapshot <b>{} ago</b><br><small>{}</small></p>", span(age), utc(t));
        }
        _ => out.push_str("<p class=\"big\"><b>No snapshot yet</b></p>"),
    }
    let _ = write!(out, "<dl><dt>Snapshots</dt><dd>{}</dd><dt>Size</dt><dd>{}</dd>", r.snapshots, bytes(r.size));
    if let Some(q) = r.quota {
        let pct = percent(r.size, q);
        let _ = write!(out, "<dt>Quota</dt><dd>{:.0} % of {}", pct, bytes(q));
        bar(out, pct, if r.problems.contains(&Problem::Quota) { "warn" } else { "" });
        out.push_str("</dd>");
    }
    let _ = write!(out, "<dt>Last 24 h</dt><dd>{} uploaded</dd></dl></section>", bytes(r.uploaded_24h));
}

/// The one line on top.
fn summary(f: &Facts) -> (&'static str, String) {
    let n = f.repos.len();
    let bad = f.repos.iter().filter(|r| matches!(r.worst(), Some(Problem::Stale | Problem::NoSnapshot))).count();
    let warn = f.repos.iter().filter(|r| r.worst() == Some(Problem::Quota)).count();
    let stale = duration::format(f.stale_after);
    if f.server.health != Word::Ok && f.server.health != Word::Starting {
        return ("bad", format!("The disk needs attention: {}", f.server.health.as_str()));
    }
    if bad > 0 {
        let verb = if bad == 1 { "has" } else { "have" };
        return (
            "bad",
            format!("{bad} of {} {verb} no snapshot from the last {stale}", plural(n as u64, "repository")),
        );
    }
    if warn > 0 {
        let near = if warn == 1 { "is near its quota" } else { "are near their quota" };
        return ("warn", format!("{warn} of {} {near}", plural(n as u64, "repository")));
    }
    if f.counting {
        return ("warn", "Counting the repositories after the start…".into());
    }
    match n {
        0 => ("", "No repository yet".into()),
        1 => ("", format!("The repository has a snapshot from the last {stale}")),
        _ => ("", format!("All {n} repositories have a snapshot from the last {stale}")),
    }
}

fn disk_card(out: &mut String, f: &Facts) {
    let d = &f.disk;
    let word = f.server.health;
    let class = match word {
        Word::Ok => "",
        Word::Starting => "wait",
        _ => "bad",
    };
    let _ = write!(
        out,
        "<section class=\"card {class}\"><h3><span>Disk</span><span class=\"tag\">{}</span></h3>",
        word.as_str()
    );
    match d.space {
        Some(s) => {
            let used = percent(s.size.saturating_sub(s.avail), s.size);
            let _ = write!(
                out,
                "<p class=\"big\"><b>{} free</b> of {} <small>({used:.0} % used)</small></p>",
                bytes(s.avail),
                bytes(s.size)
            );
            bar(out, used, if used >= 90.0 { "bad" } else { "" });
        }
        None => out.push_str("<p class=\"big\"><b>Not readable</b></p>"),
    }
    out.push_str("<dl>");
    if let Some(m) = &d.mount {
        let on = if m.devices.is_empty() {
            String::new()
        } else {
            let names: Vec<String> = m.devices.iter().map(|p| escape(&p.to_string_lossy())).collect();
            format!(" on {}", names.join(", "))
        };
        let _ = write!(out, "<dt>File system</dt><dd>{}{on}</dd>", escape(&m.fstype));
        if let Some(u) = &m.uuid {
            let _ = write!(out, "<dt>UUID</dt><dd>{}</dd>", escape(u));
        }
        let _ = write!(out, "<dt>Mount point</dt><dd>{}</dd>", escape(&m.mount_point.to_string_lossy()));
    }
    let _ = write!(out, "<dt>Folder</dt><dd>{}</dd>", escape(&d.path.to_string_lossy()));
    match d.mounted_at {
        Some(t) => {
            let since = f.now.duration_since(t).unwrap_or_default();
            let _ = write!(out, "<dt>Mounted</dt><dd>{} ago<br><small>{}</small></dd>", span(since), utc(t));
        }
        None => out.push_str("<dt>Mounted</dt><dd>not by restic-rest-server</dd>"),
    }
    out.push_str("</dl></section>");
}

/// The page.
pub fn html(f: &Facts) -> String {
    let mut out = String::with_capacity(4096 + 700 * f.repos.len());
    let (class, line) = summary(f);
    let host = if f.server.host.is_empty() { "krazybox".to_string() } else { escape(&f.server.host) };
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Backups on {host}</title><style>{STYLE}</style></head><body>\
         <h1>Backups on {host}</h1><p class=\"sum {class}\">{}</p>",
        escape(&line)
    );
    disk_card(&mut out, f);
    let _ = write!(
        out,
        "<h2>Repositories</h2><p class=\"note\">Stale: no snapshot for more than {}{}.</p>",
        duration::format(f.stale_after),
        if f.all { "" } else { "; only your own repositories are shown" }
    );
    for r in &f.repos {
        repo_card(&mut out, r, f.now);
    }
    let s = &f.server;
    let on = |b: bool| if b { "on" } else { "off" };
    let _ = writeln!(
        out,
        "<footer>krazybox {} · up {} (since {}) · TLS {} · append-only {} · private repositories {} · \
         page made {}</footer></body></html>",
        escape(s.version),
        span(s.uptime),
        utc(s.started),
        on(s.tls),
        on(s.append_only),
        on(s.private_repos),
        utc(f.now)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_for_people() {
        assert_eq!(bytes(0), "0 bytes");
        assert_eq!(bytes(1023), "1023 bytes");
        assert_eq!(bytes(1536), "1.50 KiB");
        assert_eq!(bytes(50 * 1024 * 1024 * 1024), "50.0 GiB");
        assert_eq!(bytes(2_000_000_000_000), "1.82 TiB");
        assert_eq!(span(Duration::from_secs(3 * 86400 + 4 * 3600 + 59)), "3 days 4 hours");
        assert_eq!(span(Duration::from_secs(86400 + 60)), "1 day");
        assert_eq!(span(Duration::from_secs(3600 + 120)), "1 hour 2 minutes");
        assert_eq!(span(Duration::from_secs(59)), "59 seconds");
        assert_eq!(plural(2, "repository"), "2 repositories");
        assert_eq!(utc(SystemTime::UNIX_EPOCH + Duration::from_secs(971_186_136)), "2000-10-10 13:55 UTC");
        assert_eq!(escape("<a href='x'>&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
    }
}
