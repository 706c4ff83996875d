//! rest-server as our child: started with the signal mask it expects,
//! handed SIGTERM, SIGINT and SIGHUP, and reaped.
//!
//! Signals are never caught by handlers: they stay blocked from the start
//! and are read one at a time from a signalfd(2), together with SIGCHLD, so
//! a stop that arrives while the disk is being mounted waits its turn.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::AsFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::Pid;

use super::{Error, Program, STOP_GRACE};

/// The blocked signals, readable through a signalfd.
pub struct Signals {
    fd: SignalFd,
    mask: SigSet,
}

impl Signals {
    /// Blocks SIGTERM, SIGINT, SIGHUP and SIGCHLD in this thread (call it
    /// before any other thread exists, so that all inherit the mask).
    pub fn block() -> nix::Result<Signals> {
        let mut mask = SigSet::empty();
        for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP, Signal::SIGCHLD] {
            mask.add(s);
        }
        mask.thread_block()?;
        let fd = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)?;
        Ok(Signals { fd, mask })
    }

    /// The next signal, waiting up to `timeout` (`None`: forever).
    pub fn next(&mut self, timeout: Option<Duration>) -> nix::Result<Option<Signal>> {
        if let Some(s) = self.read()? {
            return Ok(Some(s));
        }
        let timeout = match timeout {
            None => PollTimeout::NONE,
            Some(t) => PollTimeout::try_from(t).unwrap_or(PollTimeout::MAX),
        };
        let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => self.read(),
            Err(e) => Err(e),
        }
    }

    fn read(&mut self) -> nix::Result<Option<Signal>> {
        Ok(match self.fd.read_signal()? {
            Some(info) => Signal::try_from(info.ssi_signo as i32).ok(),
            None => None,
        })
    }

    /// Waits up to `timeout`; true when SIGTERM or SIGINT asked us to stop.
    /// (SIGHUP has nobody to reload yet, SIGCHLD no child.)
    pub fn wait_stop(&mut self, timeout: Duration) -> nix::Result<bool> {
        let end = Instant::now() + timeout;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.next(Some(left))? {
                Some(Signal::SIGTERM | Signal::SIGINT) => return Ok(true),
                Some(_) => {}
                None if left.is_zero() => return Ok(false),
                None => {}
            }
        }
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        let _ = self.mask.thread_unblock();
    }
}

/// rest-server, started.
pub struct Running {
    child: Child,
    name: String,
}

impl Running {
    /// Starts `program` with `args` untouched and our stdin, stdout, stderr
    /// and environment.
    pub fn spawn(program: &Program, args: &[String]) -> Result<Running, Error> {
        let mut cmd = Command::new(&program.path);
        cmd.args(args);
        if let Some(arg0) = &program.arg0 {
            cmd.arg0(arg0);
        }
        // A child inherits the blocked mask (Rust's Command keeps it since
        // 1.66), and a rest-server that never sees SIGTERM never stops.
        // SAFETY: the closure runs between fork and exec and only calls
        // pthread_sigmask(3), which is async-signal-safe and allocates nothing.
        unsafe {
            cmd.pre_exec(|| SigSet::empty().thread_set_mask().map_err(io::Error::from));
        }
        let name = program.arg0.clone().unwrap_or_else(|| program.path.display().to_string());
        let child = cmd.spawn().map_err(|e| {
            let line = format!("starting {}: {e}", program.path.display());
            match e.kind() {
                io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied => Error::config(format!(
                    "{line}: install github.com/restic/rest-server/cmd/rest-server or set REST_SERVER"
                )),
                _ => Error::transient(line),
            }
        })?;
        let shown: Vec<&str> = args.iter().map(String::as_str).collect();
        log::info!("started {name} (pid {}) {}", child.id(), shown.join(" "));
        Ok(Running { child, name })
    }

    /// Forwards stop and reload signals until the child exits; kills it if
    /// a stop takes longer than [`STOP_GRACE`]. Returns the service's exit
    /// status: the child's, 128+N when signal N killed it, and 0 when it
    /// ended because of our SIGTERM or SIGINT.
    pub fn wait(mut self, signals: &mut Signals) -> Result<u8, Error> {
        let pid = Pid::from_raw(self.child.id() as i32);
        let mut stop: Option<Signal> = None;
        let mut deadline: Option<Instant> = None;
        let status = loop {
            if let Some(status) = self.child.try_wait().map_err(|e| Error::transient(format!("waiting: {e}")))? {
                break status;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                log::warn!("{} did not stop within {}s: killing it", self.name, STOP_GRACE.as_secs());
                let _ = kill(pid, Signal::SIGKILL);
                deadline = None;
            }
            let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let signal = signals.next(timeout).map_err(|e| Error::transient(format!("waiting for signals: {e}")))?;
            if let Some(sig @ (Signal::SIGTERM | Signal::SIGINT | Signal::SIGHUP)) = signal {
                log::info!("forwarding {sig} to {}", self.name);
                let _ = kill(pid, sig);
                if sig != Signal::SIGHUP && stop.is_none() {
                    stop = Some(sig);
                    deadline = Some(Instant::now() + STOP_GRACE);
                }
            }
        };
        if let Some(code) = status.code() {
            log::info!("{} exited with status {code}", self.name);
            return Ok(code as u8);
        }
        let sig = status.signal().unwrap_or(0);
        let name = Signal::try_from(sig).map(|s| s.to_string()).unwrap_or_else(|_| sig.to_string());
        log::info!("{} was killed by {name}", self.name);
        Ok(match stop {
            Some(s) if s as i32 == sig => 0,
            _ => 128u8.wrapping_add(sig as u8),
        })
    }
}
