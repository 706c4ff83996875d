//! `--log`: one line per request in the combined log format, time in UTC.

use std::io::Write as _;
use std::time::SystemTime;

/// What the log says about one request.
pub struct Entry<'a> {
    pub peer: &'a str,
    /// "" when nobody logged in.
    pub user: &'a str,
    pub time: SystemTime,
    /// `METHOD URI VERSION`.
    pub request: &'a str,
    pub status: u16,
    pub size: u64,
    /// The raw header values, which may hold any byte but CR, LF and NUL.
    pub referer: &'a [u8],
    pub agent: &'a [u8],
}

impl Entry<'_> {
    /// The line, newline included. What a client chose (the request line, the
    /// user name, Referer, User-Agent) is escaped, so it cannot forge fields or lines.
    pub fn line(&self) -> String {
        let user = if self.user.is_empty() { "-".to_string() } else { escape(self.user.as_bytes()) };
        format!(
            "{} - {user} [{}] \"{}\" {} {} \"{}\" \"{}\"\n",
            self.peer,
            clf_time(self.time),
            escape(self.request.as_bytes()),
            self.status,
            self.size,
            escape(self.referer),
            escape(self.agent)
        )
    }
}

/// Where the lines go: a thread of their own, so a slow disk or a stdout
/// nobody reads never stalls the event loop. Lines that find the queue full
/// are dropped and counted.
pub struct Writer {
    tx: std::sync::mpsc::SyncSender<String>,
    dropped: std::sync::atomic::AtomicU64,
}

/// Lines that may wait for the log thread.
const QUEUE: usize = 4096;

impl Writer {
    /// Start the thread writing to `out`; it ends, after writing what is queued,
    /// when the writer is dropped.
    pub fn spawn(out: Box<dyn std::io::Write + Send>) -> std::io::Result<(Writer, std::thread::JoinHandle<()>)> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<String>(QUEUE);
        let thread = std::thread::Builder::new().name("access-log".into()).spawn(move || {
            let mut out = std::io::BufWriter::new(out);
            while let Ok(line) = rx.recv() {
                let _ = out.write_all(line.as_bytes());
                // Write what came meanwhile in one go, then flush before waiting.
                while let Ok(line) = rx.try_recv() {
                    let _ = out.write_all(line.as_bytes());
                }
                let _ = out.flush();
            }
        })?;
        Ok((Writer { tx, dropped: Default::default() }, thread))
    }

    /// Queue one line; never blocks.
    pub fn write(&self, line: String) {
        if self.tx.try_send(line).is_err() {
            let n = self.dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                log::warn!("the request log is behind: {n} lines dropped so far");
            }
        }
    }
}

/// Apache's escaping of logged items (`ap_escape_logitem`): `"` and `\` get a
/// backslash, every byte outside printable ASCII is written `\xHH`.
fn escape(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for &c in b {
        match c {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(c as char);
            }
            0x20..=0x7e => out.push(c as char),
            _ => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out
}

/// `10/Oct/2000:13:55:36 +0000`-style time of the combined log format, in UTC.
fn clf_time(t: SystemTime) -> String {
    let c = civil(t);
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!(
        "{:02}/{}/{}:{:02}:{:02}:{:02} +0000",
        c.day,
        MONTHS[(c.month - 1) as usize],
        c.year,
        c.hour,
        c.minute,
        c.second
    )
}

/// A time in UTC, taken apart.
#[derive(Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    /// 1 to 12.
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

/// The UTC calendar date and time of `t` (times before 1970 give 1970-01-01).
pub fn civil(t: SystemTime) -> Civil {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = (secs / 86400, secs % 86400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month: month as u32,
        day: day as u32,
        hour: (rem / 3600) as u32,
        minute: (rem % 3600 / 60) as u32,
        second: (rem % 60) as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn time() {
        assert_eq!(clf_time(SystemTime::UNIX_EPOCH + Duration::from_secs(971_186_136)), "10/Oct/2000:13:55:36 +0000");
        let leap = civil(SystemTime::UNIX_EPOCH + Duration::from_secs(1_709_251_199));
        assert_eq!(leap, Civil { year: 2024, month: 2, day: 29, hour: 23, minute: 59, second: 59 });
    }

    #[test]
    fn combined_format() {
        let e = Entry {
            peer: "10.0.0.2",
            user: "",
            time: SystemTime::UNIX_EPOCH + Duration::from_secs(971_186_136),
            request: "GET /config HTTP/1.1",
            status: 200,
            size: 5,
            referer: b"",
            agent: b"restic/0.14.0",
        };
        assert_eq!(
            e.line(),
            "10.0.0.2 - - [10/Oct/2000:13:55:36 +0000] \"GET /config HTTP/1.1\" 200 5 \"\" \"restic/0.14.0\"\n"
        );
    }

    #[test]
    fn client_text_is_escaped() {
        assert_eq!(escape(b"a\" 200 1 \"x"), "a\\\" 200 1 \\\"x");
        assert_eq!(escape(b"back\\slash"), "back\\\\slash");
        assert_eq!(escape(b"tab\tdel\x7f\xc3\xa9"), "tab\\x09del\\x7f\\xc3\\xa9");
        let e = Entry {
            peer: "::1",
            user: "",
            time: SystemTime::UNIX_EPOCH,
            request: "GET /\"x HTTP/1.1",
            status: 404,
            size: 0,
            referer: b"r\"",
            agent: b"\x1b[31m",
        };
        assert_eq!(
            e.line(),
            "::1 - - [01/Jan/1970:00:00:00 +0000] \"GET /\\\"x HTTP/1.1\" 404 0 \"r\\\"\" \"\\x1b[31m\"\n"
        );
    }
}
