//! rest-server as our child: started with the signal mask it expects and
//! bound to die with us, handed SIGTERM, SIGINT and SIGHUP, stopped when its
//! disk goes away, and reaped.
//!
//! Signals are never caught by handlers: they stay blocked from the start
//! and are read one at a time from a signalfd(2), together with SIGCHLD, so
//! a stop that arrives while the disk is being mounted waits its turn.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::AsFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::{getpid, getppid, Pid};

use super::{Error, Program, GONE_GRACE, STOP_GRACE};

/// How often the disk under rest-server is looked at.
pub const WATCH_EVERY: Duration = Duration::from_secs(1);

/// How rest-server's run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ended {
    /// The service's exit status (see [`Running::wait`]).
    Status(u8),
    /// The disk went away; rest-server was stopped. The phrase names the device.
    DiskGone(String),
}

/// The signals passed on to rest-server.
const FORWARDED: [Signal; 3] = [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP];

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
    /// Starts `program` with `args` untouched, our stdin, stdout, stderr
    /// and environment, in the working directory `cwd` (ours when `None`).
    /// It is killed when we die, however we die. The log shows `shown`, the
    /// words without their secrets.
    pub fn spawn(program: &Program, args: &[String], shown: &[String], cwd: Option<&Path>) -> Result<Running, Error> {
        let mut cmd = Command::new(&program.path);
        cmd.args(args);
        if let Some(arg0) = &program.arg0 {
            cmd.arg0(arg0);
        }
        if let Some(dir) = cwd {
            cmd.current_dir(dir);
        }
        let parent = getpid();
        // A child inherits the blocked mask (Rust's Command keeps it since
        // 1.66), and a rest-server that never sees SIGTERM never stops. It
        // also inherits an ignored disposition (we were started by nohup, or
        // by a shell that ignored SIGINT): the signals we forward must reach
        // it, and a shell script cannot even trap a signal ignored at its start.
        // A rest-server that outlives us (we were SIGKILLed) keeps the disk
        // busy and its port taken under the next run: PR_SET_PDEATHSIG kills
        // it with us, and the parent check covers our death before prctl.
        // SAFETY: between fork and exec the closure makes only async-signal-safe
        // calls (pthread_sigmask, sigaction to SIG_DFL, prctl, getppid); nothing allocates.
        unsafe {
            cmd.pre_exec(move || {
                SigSet::empty().thread_set_mask()?;
                let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
                for sig in FORWARDED {
                    sigaction(sig, &default)?;
                }
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
                if getppid() != parent {
                    return Err(io::Error::from(nix::errno::Errno::ESRCH));
                }
                Ok(())
            });
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
        log::info!("started {name} (pid {}) {}", child.id(), shown.join(" "));
        Ok(Running { child, name })
    }

    /// Forwards stop and reload signals until the child exits; kills it if
    /// a stop takes longer than [`STOP_GRACE`]. Every [`WATCH_EVERY`] asks
    /// `disk_gone` whether the disk is still there; when it is not, stops the
    /// child (SIGTERM, SIGKILL after [`GONE_GRACE`], and after as long again
    /// gives up waiting for it) and says so. Otherwise
    /// returns the service's exit status: the child's, 128+N when signal N
    /// killed it, and 0 when it ended because of our SIGTERM or SIGINT.
    pub fn wait(
        mut self,
        signals: &mut Signals,
        disk_gone: &mut dyn FnMut() -> Option<String>,
    ) -> Result<Ended, Error> {
        let pid = Pid::from_raw(self.child.id() as i32);
        let mut stop: Option<Signal> = None;
        let mut deadline: Option<(Instant, Duration)> = None;
        let mut gone: Option<String> = None;
        let mut next_look = Instant::now() + WATCH_EVERY;
        let mut killed = false;
        let status = loop {
            if let Some(status) = self.child.try_wait().map_err(|e| Error::transient(format!("waiting: {e}")))? {
                break status;
            }
            let now = Instant::now();
            if let Some((_, grace)) = deadline.filter(|(at, _)| now >= *at) {
                if let (true, Some(what)) = (killed, &gone) {
                    // Only a process stuck in I/O on the dead device outlives
                    // SIGKILL; it dies when that I/O fails, the disk is ours again.
                    log::warn!(
                        "{} (pid {pid}) is still there {}s after SIGKILL: leaving it",
                        self.name,
                        grace.as_secs()
                    );
                    return Ok(Ended::DiskGone(what.clone()));
                }
                log::warn!("{} did not stop within {}s: killing it", self.name, grace.as_secs());
                let _ = kill(pid, Signal::SIGKILL);
                killed = true;
                deadline = gone.is_some().then(|| (now + GONE_GRACE, GONE_GRACE));
            }
            if gone.is_none() && now >= next_look {
                next_look = now + WATCH_EVERY;
                if let Some(what) = disk_gone() {
                    log::error!("{what}: the disk is gone, stopping {}", self.name);
                    let _ = kill(pid, Signal::SIGTERM);
                    if !deadline.is_some_and(|(at, _)| at <= now + GONE_GRACE) {
                        deadline = Some((now + GONE_GRACE, GONE_GRACE));
                    }
                    stop.get_or_insert(Signal::SIGTERM);
                    gone = Some(what);
                }
            }
            let mut wake = deadline.map(|(at, _)| at);
            if gone.is_none() {
                wake = Some(wake.map_or(next_look, |w| w.min(next_look)));
            }
            let timeout = wake.map(|w| w.saturating_duration_since(Instant::now()));
            let signal = signals.next(timeout).map_err(|e| Error::transient(format!("waiting for signals: {e}")))?;
            if let Some(sig) = signal.filter(|s| FORWARDED.contains(s)) {
                log::info!("forwarding {sig} to {}", self.name);
                let _ = kill(pid, sig);
                if sig != Signal::SIGHUP && stop.is_none() {
                    stop = Some(sig);
                    deadline = Some((Instant::now() + STOP_GRACE, STOP_GRACE));
                }
            }
        };
        let code = if let Some(code) = status.code() {
            log::info!("{} exited with status {code}", self.name);
            code as u8
        } else {
            let sig = status.signal().unwrap_or(0);
            let name = Signal::try_from(sig).map(|s| s.to_string()).unwrap_or_else(|_| sig.to_string());
            log::info!("{} was killed by {name}", self.name);
            match stop {
                Some(s) if s as i32 == sig => 0,
                _ => 128u8.wrapping_add(sig as u8),
            }
        };
        Ok(match gone {
            Some(what) => Ended::DiskGone(what),
            None => Ended::Status(code),
        })
    }
}
