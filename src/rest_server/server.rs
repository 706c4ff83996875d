//! Listeners (TCP, Unix socket, TLS from [`super::tls`]), connections with an
//! idle watchdog, signals and graceful shutdown, on one tokio thread;
//! [`super::http`] answers the requests.

use super::accesslog;
use super::alert::{self, Alerts, Kind};
use super::auth::Users;
use super::conns;
use super::datadir;
use super::guard::Guard;
use super::health::Health;
use super::http::handle;
use super::metrics::Metrics;
use super::pool::Pool;
use super::proxy::Trust;
use super::quota::Quota;
use super::repo::{self, Modes, Store};
use super::repostats::{self, RepoStats};
use super::rules::Rules;
use super::scrub::{self, Scrub};
use super::state::State;
use super::tls::{self, Certs};
use super::{Config, Listen};
use anyhow::{anyhow, Context, Result};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::io::{self, Write};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

/// The most hyper buffers of a connection's input.
const READ_BUF: usize = 128 * 1024;

/// How often the watched files are asked whether a look is due.
const WATCH_TICK: Duration = Duration::from_secs(5);

/// Threads for file work and bcrypt (which takes at most one per core).
const BLOCKING_THREADS: usize = 16;

/// Run the server until SIGTERM or SIGINT; then stop accepting, let requests in
/// flight finish for `cfg.grace`, drop what is left, and return.
pub fn serve(cfg: Config) -> Result<()> {
    let modes = Modes::new(cfg.group_accessible);
    if datadir::create_missing(&cfg.path, modes)
        .with_context(|| format!("cannot create data directory {}", cfg.path.display()))?
    {
        log::info!("created data directory {}", cfg.path.display());
    }
    let store =
        Store::open(&cfg.path, modes).with_context(|| format!("cannot open data directory {}", cfg.path.display()))?;
    let lock = store.lock().map_err(|e| match e.kind() {
        io::ErrorKind::WouldBlock => anyhow!("{}: {e}; stop it or give this one another --path", cfg.path.display()),
        _ => anyhow!("cannot lock {}: {e}", cfg.path.join(repo::LOCK_FILE).display()),
    })?;
    let users = match &cfg.htpasswd {
        // Behind a proxy that names the users, a password file is optional.
        Some(p) if cfg.proxy_auth_username.is_some() && !p.exists() => {
            log::info!("no {}: password logins are off until it exists", p.display());
            Some(Users::absent(p))
        }
        Some(p) => {
            Some(Users::load(p).map_err(|e| anyhow!("cannot load {} (use --no-auth to disable): {e:#}", p.display()))?)
        }
        None => None,
    };
    let tls = cfg.tls.as_ref().map(tls::acceptor).transpose()?;
    let log: Option<Box<dyn Write + Send>> = match &cfg.log {
        None => None,
        Some(p) if p.as_os_str() == "-" => Some(Box::new(io::stdout())),
        Some(p) => Some(Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("opening log file {}", p.display()))?,
        )),
    };
    let (log_writer, log_thread) =
        match log.map(accesslog::Writer::spawn).transpose().context("starting the log thread")? {
            Some((w, t)) => (Some(w), Some(t)),
            None => (None, None),
        };
    let alerts = Arc::new(Alerts::new(&cfg.alert_urls, &cfg.path));
    // Temporary files left by an earlier server are swept before --max-size
    // counts the tree (but the server's own files); without a limit, walking a
    // large tree runs beside the serving.
    let quota = cfg.max_size.map(|max| {
        let lock = cfg.path.join(repo::LOCK_FILE);
        let states: Vec<std::path::PathBuf> = [scrub::STATE_FILE, alert::STATE_FILE]
            .iter()
            .flat_map(|f| [cfg.path.join(f), cfg.path.join(format!("{f}.new"))])
            .collect();
        let mut own = vec![lock.as_path()];
        own.extend(states.iter().map(|p| p.as_path()));
        own.extend(cfg.htpasswd.as_deref());
        own.extend(cfg.repo_rules.as_deref());
        own.extend(cfg.log.as_deref().filter(|p| p.as_os_str() != "-"));
        own.extend(cfg.tls.iter().flat_map(|t| [t.cert.as_path(), t.key.as_path()]));
        Quota::new(max, swept(datadir::sweep(&cfg.path, true, &own), &alerts, &cfg.path).bytes)
    });
    if quota.is_none() {
        let (path, alerts) = (cfg.path.clone(), alerts.clone());
        std::thread::spawn(move || swept(datadir::sweep(&path, false, &[]), &alerts, &path));
    }
    // rest-server's start-up lines, as tools that start it read them: no
    // timestamp, same words, same order.
    let enabled = |on: bool| if on { "enabled" } else { "disabled" };
    eprintln!("Data directory: {}", cfg.path.display());
    match (&users, &cfg.proxy_auth_username) {
        (Some(_), Some(_)) => eprintln!("Proxy Authentication enabled."),
        (u, _) => eprintln!("Authentication {}", enabled(u.is_some())),
    }
    eprintln!("Append only mode {}", enabled(cfg.append_only));
    eprintln!("Private repositories {}", enabled(cfg.private_repos));
    eprintln!("Group accessible repos {}", enabled(cfg.group_accessible));
    if let Some(q) = &quota {
        log::info!("Repo quota: {} of {} bytes used", q.used(), q.max());
    }
    let rules = Arc::new(
        Rules::new(cfg.max_repo_size, cfg.repo_rules.as_deref(), users.is_some())
            .map_err(|e| anyhow!("cannot load the repository rules: {e:#}"))?,
    );
    let proxy = Trust { header: cfg.proxy_auth_username.clone(), nets: cfg.trusted_proxies.clone() };
    log_proxy(&cfg, &proxy, users.is_some());
    // The status page needs the figures whether or not /metrics is served.
    let repostats = Arc::new(RepoStats::new(&cfg.path, cfg.private_repos, true, rules.clone()));
    let health = Arc::new(Health::new(&cfg.path));
    let scrub = Arc::new(Scrub::new(&cfg.path, cfg.scrub_interval, cfg.scrub_rate, cfg.private_repos));
    let state = Arc::new(State {
        cfg,
        store,
        users,
        metrics: Metrics::default(),
        quota,
        log: log_writer,
        pool: Pool::default(),
        guard: Guard::new(std::thread::available_parallelism().map_or(1, |n| n.get())),
        repostats,
        rules,
        alerts,
        scrub,
        proxy,
        health,
        recent: Default::default(),
        disk: Default::default(),
        started: std::time::Instant::now(),
    });
    // Blocking work comes one buffer or one file operation at a time and never
    // waits for a client, so a few threads serve any number of connections; a
    // burst of requests queues for them instead of starting hundreds of threads.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .thread_keep_alive(Duration::from_secs(5))
        .on_thread_start(behind_the_event_loop)
        .build()
        .context("starting the runtime")?;
    let nofile = conns::raise_nofile();
    let registry = conns::Registry::new(conns::limit_for(nofile));
    log::info!("up to {} connections ({nofile} descriptors)", registry.max());
    let result = rt.block_on(run(state.clone(), tls, registry));
    // Uploads still running are dropped with the runtime; their temporary files go with them.
    rt.shutdown_timeout(Duration::from_secs(2));
    state.scrub.save();
    state.alerts.flush(Duration::from_secs(2));
    // The last requests' lines: the thread writes them once the writer is gone.
    if let Some(t) = log_thread {
        if Arc::strong_count(&state) == 1 {
            drop(state);
            let _ = t.join();
        }
    }
    drop(lock);
    result
}

/// How much nicer than the event loop the blocking threads run.
const BLOCKING_NICE: i32 = 5;

/// Let the event loop go first. On a Raspberry Pi's few cores, uploads keep
/// every blocking thread busy hashing and writing; at the same priority the
/// event loop waits behind them for a core, and every request (a `/health`
/// check, a login, the next body frame of the uploads themselves) waits with
/// it. A nicer blocking thread still gets every cycle the event loop leaves.
#[allow(unsafe_code)]
fn behind_the_event_loop() {
    // On Linux a nice value belongs to a thread, and `who` = 0 names the calling one.
    // SAFETY: setpriority(2) reads its three integer arguments and touches no memory of ours.
    let r = unsafe { nix::libc::setpriority(nix::libc::PRIO_PROCESS, 0, BLOCKING_NICE) };
    if r != 0 {
        log::debug!("setpriority: {}", io::Error::last_os_error());
    }
}

fn swept(s: datadir::Swept, alerts: &Alerts, path: &std::path::Path) -> datadir::Swept {
    if s.removed > 0 {
        log::info!("removed {} temporary files of interrupted uploads", s.removed);
        let n = s.removed;
        alerts.event(
            Kind::UncleanStop,
            &path.display().to_string(),
            &format!("{n} interrupted upload{} removed at start", if n == 1 { "" } else { "s" }),
            "The server found temporary files of uploads that an earlier run left unfinished (a power cut, a \
             crash or a kill) and removed them. restic uploads them again; if a backup was running then, \
             restic check tells whether the repository is whole.",
        );
    }
    s
}

/// Say at start whose proxy header is believed.
fn log_proxy(cfg: &Config, proxy: &Trust, auth: bool) {
    let Some(header) = &proxy.header else { return };
    if !auth {
        log::warn!("--proxy-auth-username {header} has no effect with --no-auth: nobody logs in");
        return;
    }
    let mut from: Vec<String> = proxy.nets.iter().map(|n| n.to_string()).collect();
    if matches!(cfg.listen, Listen::Unix(_)) {
        from.insert(0, "the Unix socket".into());
    }
    if from.is_empty() {
        log::warn!("proxy login: header {header} is believed from nobody (listening on TCP without --trusted-proxy); password logins only");
    } else {
        log::info!(
            "proxy login: header {header} names the user for clients from {}; anyone else logs in by password",
            from.join(", ")
        );
    }
}

enum Listener {
    Tcp(tokio::net::TcpListener),
    Unix(tokio::net::UnixListener, std::path::PathBuf),
}

async fn bind(listen: &Listen) -> Result<Listener> {
    match listen {
        Listen::Tcp(addr) => {
            // Go's ":8000" means every interface, IPv6 and IPv4.
            let l = match addr.strip_prefix(':') {
                Some(port) => match tokio::net::TcpListener::bind(format!("[::]:{port}")).await {
                    Ok(l) => l,
                    Err(_) => tokio::net::TcpListener::bind(format!("0.0.0.0:{port}")).await?,
                },
                None => tokio::net::TcpListener::bind(addr.as_str()).await?,
            };
            let at = l.local_addr()?;
            eprintln!("start server on {at}");
            log::info!("Starting server on {at}");
            Ok(Listener::Tcp(l))
        }
        Listen::Unix(path) => {
            remove_dead_socket(path)?;
            let l = tokio::net::UnixListener::bind(path)?;
            eprintln!("start server on {}", path.display());
            log::info!("Starting server on unix:{}", path.display());
            Ok(Listener::Unix(l, path.clone()))
        }
    }
}

/// A socket file that a killed server left behind would make every restart
/// fail with "Address already in use": remove it when nobody answers on it
/// (connect gives ECONNREFUSED). A live socket, or a file that is not a socket, stays.
fn remove_dead_socket(path: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else { return Ok(()) };
    if !meta.file_type().is_socket() {
        return Err(anyhow!("{} exists and is not a socket; remove it or listen elsewhere", path.display()));
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(anyhow!("another server answers on {}; stop it or listen elsewhere", path.display())),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            log::info!("removing {}, a socket nobody answers on", path.display());
            std::fs::remove_file(path).with_context(|| format!("removing the dead socket {}", path.display()))
        }
        // Not ours to judge (no permission, say): binding will say what is wrong.
        Err(_) => Ok(()),
    }
}

async fn run(
    st: Arc<State>,
    tls: Option<(tokio_rustls::TlsAcceptor, Arc<Certs>)>,
    registry: Arc<conns::Registry>,
) -> Result<()> {
    let (tls, certs) = tls.unzip();
    use tokio::signal::unix::{signal, SignalKind};
    let listener = bind(&st.cfg.listen).await.map_err(|e| anyhow!("listen {:?}: {e:#}", st.cfg.listen))?;
    // Counting the repositories competes for the disk and the cores: only once the server listens.
    repostats::start(&st, |s: &State| &s.repostats);
    st.health.start();
    {
        // The status page's first answer should not wait for the disk's probe.
        let st = st.clone();
        std::thread::spawn(move || st.disk.get(&st.cfg.path));
    }
    // The rules file and the certificates are looked at every 30 s (each says
    // when a look is due: a SIGHUP counts as one), on a blocking thread: the disk may be slow.
    {
        let (st, certs) = (st.clone(), certs.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(WATCH_TICK).await;
                let (st, certs) = (st.clone(), certs.clone());
                let _ = tokio::task::spawn_blocking(move || {
                    st.rules.reload_if_changed();
                    if let Some(c) = certs {
                        c.reload_if_changed();
                    }
                })
                .await;
            }
        });
    }
    // Their threads hold only what they use, so that the state goes at the end.
    match Store::open(&st.cfg.path, st.store.modes()) {
        Ok(store) => scrub::start(&st.scrub, store),
        Err(e) => log::error!("scrub: cannot open {}: {e}", st.cfg.path.display()),
    }
    alert::watch(alert::Checks {
        alerts: st.alerts.clone(),
        repostats: st.repostats.clone(),
        rules: st.rules.clone(),
        scrub: st.scrub.clone(),
        path: st.cfg.path.clone(),
        stale_after: st.cfg.alert_stale,
    });
    if let Some(t) = &st.cfg.tls {
        eprintln!("TLS enabled, private key {}, pubkey {}", t.key.display(), t.cert.display());
    }
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => {
                let (st, certs) = (st.clone(), certs.clone());
                tokio::task::spawn_blocking(move || {
                    if let Some(u) = &st.users {
                        u.reload()
                    }
                    st.rules.reload();
                    if let Some(c) = certs {
                        c.reload();
                    }
                });
                continue;
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
            a = accept(&listener) => a,
        };
        match accepted {
            Ok((Stream::Tcp(s), peer)) => {
                let _ = s.set_nodelay(true);
                conns.spawn(connection(st.clone(), s, peer, tls.clone(), stop_rx.clone(), registry.add()));
            }
            Ok((Stream::Unix(s), peer)) => {
                conns.spawn(connection(st.clone(), s, peer, tls.clone(), stop_rx.clone(), registry.add()));
            }
            Err(e) => {
                // Out of descriptors, usually: wait instead of spinning.
                log::error!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    log::info!("shutting down: {} connections open", conns.len());
    if let Listener::Unix(_, path) = &listener {
        let _ = std::fs::remove_file(path);
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(st.cfg.grace, async { while conns.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        log::warn!("aborting {} requests still running", conns.len());
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    } else {
        eprintln!("shutdown cleanly");
    }
    Ok(())
}

enum Stream {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

async fn accept(l: &Listener) -> io::Result<(Stream, Arc<str>)> {
    match l {
        Listener::Tcp(l) => {
            let (s, a) = l.accept().await?;
            Ok((Stream::Tcp(s), a.ip().to_canonical().to_string().into()))
        }
        Listener::Unix(l, _) => {
            let (s, _) = l.accept().await?;
            Ok((Stream::Unix(s), "@".into()))
        }
    }
}

async fn connection<I>(
    st: Arc<State>,
    io: I,
    peer: Arc<str>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    stop: watch::Receiver<bool>,
    handle: conns::Handle,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    match tls {
        None => serve_io(st, io, peer, stop, handle).await,
        // Boxed: a TLS connection's state is large, and plain connections need not carry its room.
        Some(acc) => {
            Box::pin(async move {
                let handshake = tokio::time::timeout(st.cfg.idle_timeout, acc.accept(io));
                let evicted = handle.conn.evicted.notified();
                tokio::select! {
                    r = handshake => match r {
                        Ok(Ok(s)) => serve_io(st, s, peer, stop, handle).await,
                        Ok(Err(e)) => log::debug!("TLS handshake with {peer}: {e}"),
                        Err(_) => log::debug!("TLS handshake with {peer} timed out"),
                    },
                    _ = evicted => {}
                }
            })
            .await
        }
    }
}

/// Serve one connection; drop it when it has waited for its client for
/// `idle_timeout` (a dead or very slow client: no byte moved, and the server
/// not working for it meanwhile), when the connection limit needs its place,
/// or after its last request once stopping.
async fn serve_io<I>(st: Arc<State>, io: I, peer: Arc<str>, mut stop: watch::Receiver<bool>, reg: conns::Handle)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let conn = reg.conn.clone();
    let io = conns::Watched { inner: io, conn: conn.clone() };
    let idle = st.cfg.idle_timeout;
    let service = {
        let (st, conn) = (st.clone(), conn.clone());
        hyper::service::service_fn(move |mut req| {
            let busy = conn.busy();
            req.extensions_mut().insert(conn.clone());
            let answer = handle(st.clone(), peer.clone(), req);
            async move {
                let r = answer.await;
                drop(busy);
                r
            }
        })
    };
    let http = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(idle)
        // hyper's read buffer grows to this (default ~400 KiB): enough for
        // uploads at full speed, a third of the memory with 8 of them.
        .max_buf_size(READ_BUF)
        .serve_connection(TokioIo::new(io), service);
    // Requests and response bodies are polled inside: the work they start on
    // blocking threads is this connection's (conns::working).
    let mut http = conns::Serving::new(conn.clone(), http);
    let evicted = conn.evicted.notified();
    tokio::pin!(evicted);
    let mut stopping = false;
    loop {
        // While the server works, look again an idle period later: the
        // work's end restarts the count.
        let since = conn.idle_since().unwrap_or_else(std::time::Instant::now);
        let deadline = tokio::time::Instant::from_std(since + idle);
        tokio::select! {
            r = &mut http => {
                if let Err(e) = r {
                    log::debug!("connection: {e}");
                }
                return;
            }
            _ = stop.changed(), if !stopping => {
                stopping = true;
                std::pin::Pin::new(&mut http.inner).graceful_shutdown();
            }
            _ = evicted.as_mut() => return,
            _ = tokio::time::sleep_until(deadline) => {
                if conn.idle_since().is_some_and(|t| t.elapsed() >= idle) {
                    log::debug!("dropping a connection that waited {idle:?} for its client");
                    return;
                }
            }
        }
    }
}
