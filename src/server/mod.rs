//! The smol event loop: sockets, tasks, signals and the periodic jobs.
//! Everything runs on one thread; the tracker state is shared by
//! `Rc<RefCell<_>>` and never borrowed across an await.

pub mod alive;
pub mod bind;
pub mod deadlines;
pub mod defer;
pub mod fifo;
pub mod http;
pub mod log_prefix;
pub mod privileges;
pub mod reuse;
pub mod run_queue;
pub mod signals;
#[cfg(all(target_os = "linux", target_env = "musl"))]
pub mod thread_name;
pub mod ticker;
pub mod udp;

use crate::access::changes::{Change, ENTRY_BYTES};
use crate::access::{file_stamp, AccessList, Mode};
use crate::config::Config;
use crate::labels::Labels;
use crate::state;
use crate::swarm::{Limits, Swarm};
use crate::tracker::{Settings, Tracker};
use async_task::Task;
use smol::{Async, Timer};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

/// Seconds between expiry sweeps (peers are timed in 16-second ticks).
const SWEEP_SECS: u64 = 30;
/// Seconds between summaries of refused announces in the log.
const REFUSAL_REPORT_SECS: u32 = 600;

/// Writes an informational line (start-up, reloads, stop) to stdout: procd
/// logs it as daemon.info, systemd's journal at its default level.
pub fn info(msg: impl std::fmt::Display) {
    info_dyn(&msg)
}

fn info_dyn(msg: &dyn std::fmt::Display) {
    println!("smoltracker: {msg}");
}

/// Writes a warning or an error to stderr: procd logs it as daemon.err; under
/// systemd it carries a `<4>` priority prefix, which the journal reads as
/// "warning" (see `log_prefix`).
pub fn warn(msg: impl std::fmt::Display) {
    warn_dyn(&msg)
}

// One copy of the formatting, whatever the message's type.
fn warn_dyn(msg: &dyn std::fmt::Display) {
    eprintln!("{}smoltracker: {msg}", log_prefix::stderr());
}

/// State every task holds a handle to.
pub struct SharedState {
    /// The tracker.
    pub tracker: RefCell<Tracker>,
    /// Open HTTP connections.
    pub connections: Cell<usize>,
    /// Most HTTP connections at once.
    pub max_connections: usize,
    started: Instant,
    access_file: Option<(Mode, PathBuf)>,
    access_stamp: Cell<Option<(SystemTime, u64)>>,
    state_file: Option<PathBuf>,
    state_saved: Cell<(usize, u64)>,
}

/// A handle to the shared state.
pub type Shared = Rc<SharedState>;

impl SharedState {
    /// Seconds since start-up.
    pub fn now(&self) -> u32 {
        self.started.elapsed().as_secs() as u32
    }

    /// Spawns a task on the tracker's run queue. Every task is boxed into one
    /// type, so the task machinery exists once, not once per kind of task
    /// (-6,592 B on mipsel).
    pub fn spawn(&self, f: impl Future<Output = ()> + 'static) -> Task<()> {
        run_queue::spawn(Box::pin(f))
    }

    /// Re-reads the access list and swaps it in whole. Bad lines are reported
    /// and skipped; a file that cannot be read keeps the list in force.
    pub fn reload_access(&self, why: &str) {
        let Some((mode, path)) = &self.access_file else {
            let mut tracker = self.tracker.borrow_mut();
            let (added, deleted, capacity) = tracker.changes();
            if capacity > 0 {
                // FIFO changes over no list file: a reload empties them.
                tracker.set_access(None);
                info(format_args!(
                    "{why}: no list file; FIFO changes flushed (+{added} -{deleted})"
                ));
            } else if why == "SIGHUP" {
                warn("SIGHUP: no whitelist or blacklist configured, nothing to reload");
            }
            return;
        };
        let kind = match mode {
            Mode::Whitelist => "whitelist",
            Mode::Blacklist => "blacklist",
        };
        self.access_stamp.set(file_stamp(path));
        match std::fs::read(path).map(|text| (AccessList::parse(*mode, &text), text)) {
            Ok(((list, bad), text)) => {
                for b in bad.iter().take(20) {
                    warn(format_args!(
                        "{}:{}: {}, skipped",
                        path.display(),
                        b.line,
                        b.reason
                    ));
                }
                if bad.len() > 20 {
                    warn(format_args!(
                        "{}: {} more bad lines skipped",
                        path.display(),
                        bad.len() - 20
                    ));
                }
                let mut tracker = self.tracker.borrow_mut();
                let (added, deleted, capacity) = tracker.changes();
                info(format_args!(
                    "{why}: {kind} {}: {} info hashes{}{}",
                    path.display(),
                    list.len(),
                    if bad.is_empty() {
                        String::new()
                    } else {
                        format!(", {} bad lines skipped", bad.len())
                    },
                    if capacity > 0 && why != "start-up" {
                        format!("; FIFO changes flushed (+{added} -{deleted})")
                    } else {
                        String::new()
                    }
                ));
                tracker.set_access(Some(list));
                if *mode == Mode::Whitelist {
                    report_labels(path, tracker.labels_mut().rebuild(&text));
                }
            }
            Err(e) => {
                let mut tracker = self.tracker.borrow_mut();
                match tracker.access() {
                    Some(old) => warn(format_args!(
                        "{why}: cannot read {kind} {}: {e}; keeping the previous list ({} info hashes)",
                        path.display(),
                        old.len()
                    )),
                    None => {
                        warn(format_args!(
                            "{why}: cannot read {kind} {}: {e}; starting with an empty {kind}",
                            path.display()
                        ));
                        tracker.set_access(Some(AccessList::empty(*mode)));
                    }
                }
            }
        }
    }

    /// Writes the state file if counts changed since the last write (or `force`).
    pub fn save_state(&self, force: bool) {
        let Some(path) = &self.state_file else { return };
        let tracker = self.tracker.borrow();
        let fp = state::fingerprint(&tracker.swarm);
        if !force && fp == self.state_saved.get() {
            return;
        }
        match state::save(path, &tracker.swarm, tracker.stats.tracker_id) {
            Ok(_) => self.state_saved.set(fp),
            Err(e) => warn(format_args!(
                "cannot write state file {}: {e}",
                path.display()
            )),
        }
    }
}

/// Logs what a label rebuild changed or left out (at most 20 lines of it).
fn report_labels(path: &std::path::Path, r: crate::labels::Rebuilt) {
    for n in r.notes.iter().take(20) {
        warn(format_args!("{}:{}: {}", path.display(), n.line, n.what));
    }
    if r.notes.len() > 20 {
        warn(format_args!(
            "{}: {} more labels cleaned",
            path.display(),
            r.notes.len() - 20
        ));
    }
    if r.dropped > 0 {
        warn(format_args!(
            "{}: {} labels left out: the label store is full ({} kept; raise tracker.label_memory)",
            path.display(),
            r.dropped,
            r.stored
        ));
    }
}

/// Sockets bound at start-up, before any privilege drop.
pub struct Sockets {
    tcp: Vec<TcpListener>,
    udp: Vec<UdpSocket>,
}

impl Sockets {
    /// Where the sockets really listen (ports resolved when 0 was asked for).
    pub fn describe(&self) -> String {
        use std::fmt::Write as _;
        let tcp = self.tcp.iter().map(|s| ("tcp", s.local_addr()));
        let udp = self.udp.iter().map(|s| ("udp", s.local_addr()));
        let mut out = String::new();
        for (proto, a) in tcp.chain(udp) {
            if let Ok(a) = a {
                let space = if out.is_empty() { "" } else { " " };
                let _ = write!(out, "{space}{proto}://{a}");
            }
        }
        out
    }
}

/// Binds every configured address. An IPv6 wildcard that cannot be bound
/// (IPv6 disabled) is skipped with a warning when IPv4 was bound too.
pub fn bind_all(cfg: &Config) -> Result<Sockets, String> {
    // One copy of the loop for both protocols: `bind` keeps what it binds.
    fn each(
        addrs: &[SocketAddr],
        proto: &str,
        bind: &mut dyn FnMut(SocketAddr) -> io::Result<()>,
    ) -> Result<(), String> {
        for &a in addrs {
            match bind(a) {
                Ok(()) => {}
                Err(e)
                    if a.is_ipv6()
                        && a.ip().is_unspecified()
                        && addrs.iter().any(|o| o.is_ipv4()) =>
                {
                    warn(format_args!(
                        "warning: cannot listen on {proto} {a}: {e}; serving IPv4 only"
                    ))
                }
                Err(e) => return Err(format!("cannot listen on {proto} {a}: {e}")),
            }
        }
        Ok(())
    }
    let (mut tcp, mut udp) = (Vec::new(), Vec::new());
    each(&cfg.tcp, "tcp", &mut |a| bind::tcp(a).map(|s| tcp.push(s)))?;
    each(&cfg.udp, "udp", &mut |a| bind::udp(a).map(|s| udp.push(s)))?;
    Ok(Sockets { tcp, udp })
}

/// Builds the swarm tables from the configuration.
pub fn build_tracker(cfg: &Config) -> Result<Tracker, String> {
    let budget = crate::budget::divide(cfg)?;
    let limits = Limits {
        max_memory: budget.tables,
        max_torrents: cfg.max_torrents,
        max_peers_per_torrent: cfg.max_peers_per_torrent,
        peer_timeout: cfg.peer_timeout,
    };
    let swarm = Swarm::with_policy(limits, cfg.policy, random_seed()).map_err(|e| e.0)?;
    let mut tracker = Tracker::new(swarm, Settings::from(cfg));
    tracker.set_labels(Labels::new(budget.labels)?);
    tracker.set_changes_capacity(budget.changes / ENTRY_BYTES);
    // opentracker's g_tracker_id is random too; the state file keeps it.
    tracker.stats.tracker_id = random_seed() as u32;
    Ok(tracker)
}

fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // RandomState's SipHash keys are drawn from the OS at start-up, so the
    // hash of nothing under them is a random number.
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// Serves until SIGTERM/SIGINT, then saves state. Call after binding and
/// dropping privileges: access lists and the state file are read from here on.
pub fn run(
    cfg: &Config,
    sockets: Sockets,
    tracker: Tracker,
    signals: signals::Signals,
) -> Result<(), String> {
    let budget = crate::budget::divide(cfg)?;
    let access_file = match (&cfg.access.whitelist, &cfg.access.blacklist) {
        (Some(w), _) => Some((Mode::Whitelist, w.clone())),
        (None, Some(b)) => Some((Mode::Blacklist, b.clone())),
        (None, None) => None,
    };
    let shared: Shared = Rc::new(SharedState {
        tracker: RefCell::new(tracker),
        connections: Cell::new(0),
        max_connections: budget.connections,
        started: Instant::now(),
        access_file,
        access_stamp: Cell::new(None),
        state_file: cfg.state_file.clone(),
        state_saved: Cell::new((0, 0)),
    });
    shared.reload_access("start-up");
    if let Some(path) = &cfg.state_file {
        let mut tracker = shared.tracker.borrow_mut();
        let first_run = !path.exists();
        let kept_id = match state::load(path, &mut tracker.swarm) {
            Ok(l) => {
                info(format_args!(
                    "state {}: restored {} completed counts",
                    path.display(),
                    l.restored
                ));
                l.tracker_id
            }
            Err(e) => {
                warn(format_args!(
                    "state {}: {e}; ignored, starting from zero",
                    path.display()
                ));
                None
            }
        };
        shared.state_saved.set(state::fingerprint(&tracker.swarm));
        match kept_id {
            Some(id) => tracker.stats.tracker_id = id,
            // No file yet: write one now, so the new id stays the same after
            // any restart. (A corrupt file is left for the operator to look
            // at until the next regular write.)
            None if first_run => {
                drop(tracker);
                shared.save_state(true);
            }
            None => {}
        }
    }
    for (path, change) in [
        (&cfg.access.fifo_add, Change::Add),
        (&cfg.access.fifo_delete, Change::Delete),
    ] {
        if let Some(path) = path {
            let kind = match shared.access_file {
                Some((Mode::Whitelist, _)) => "whitelist",
                _ => "blacklist",
            };
            let capacity = shared.tracker.borrow().changes().2;
            info(format_args!(
                "FIFO {}: info hashes written here are {} the {kind} at once (room for {capacity} changes until the next reload)",
                path.display(),
                match change {
                    Change::Add => "added to",
                    Change::Delete => "deleted from",
                }
            ));
            let task = fifo::serve(path.clone(), change, shared.clone());
            shared.spawn(task).detach();
        }
    }
    let cap = shared.tracker.borrow().swarm.capacity();
    info(budget.describe(cfg.max_memory));
    // Printed once the access list and state are loaded: "listening" means ready.
    println!(
        "smoltracker {}: listening on {}; memory cap {} KiB ({} torrents, {} IPv4 peers)",
        env!("CARGO_PKG_VERSION"),
        sockets.describe(),
        cfg.max_memory >> 10,
        cap.torrents,
        cap.ipv4_peers
    );
    for s in sockets.udp {
        let s = Async::new(s).map_err(|e| format!("udp socket: {e}"))?;
        shared.spawn(udp::serve(s, shared.clone())).detach();
    }
    for l in sockets.tcp {
        let l = Async::new(l).map_err(|e| format!("tcp listener: {e}"))?;
        shared.spawn(http::serve(l, shared.clone())).detach();
    }
    shared.spawn(sweeper(shared.clone())).detach();
    if cfg.access.reload_interval > 0 && shared.access_file.is_some() {
        let every = Duration::from_secs(cfg.access.reload_interval.into());
        shared
            .spawn(watch_access_file(shared.clone(), every))
            .detach();
    }
    if cfg.state_file.is_some() {
        let every = Duration::from_secs(cfg.state_interval.into());
        let saver = shared.clone();
        shared
            .spawn(async move {
                loop {
                    Timer::after(every).await;
                    saver.save_state(false);
                }
            })
            .detach();
    }
    // The signal loop is a task too: the future `run` is given is polled on
    // every wake of the event loop, and each poll of a pending `read_with`
    // retries its read (a read and an epoll_ctl per wake, bench/callgrind.sh);
    // a task is polled only when its own descriptor is ready. It has the
    // common task type (no second copy of the task machinery): the reason it
    // ends is left in a cell.
    let why = Rc::new(Cell::new(""));
    let stopped = {
        let why = why.clone();
        let shared2 = shared.clone();
        shared.spawn(async move { why.set(signals::until_stopped(signals, shared2).await) })
    };
    smol::block_on(run_queue::run(stopped));
    let why = why.get();
    info(format_args!("{why}: stopping"));
    shared.save_state(true);
    Ok(())
}

/// Expires peers, and now and then logs how many announces were refused.
async fn sweeper(shared: Shared) {
    let mut reported = (0u64, 0u64, 0u64);
    let mut last_report = 0u32;
    loop {
        Timer::after(Duration::from_secs(SWEEP_SECS)).await;
        let now = shared.now();
        let mut tracker = shared.tracker.borrow_mut();
        tracker.swarm.sweep(now);
        if now.wrapping_sub(last_report) >= REFUSAL_REPORT_SECS {
            let refused = (
                tracker.stats.refused_access,
                tracker.stats.refused_full,
                tracker.stats.refused_rate,
            );
            if refused != reported {
                info(format_args!(
                    "refused {} announces not on the access list, {} because the tracker was full and {} new torrents over their network's budget in the last {} minutes",
                    refused.0 - reported.0,
                    refused.1 - reported.1,
                    refused.2 - reported.2,
                    (now - last_report) / 60
                ));
            }
            reported = refused;
            last_report = now;
        }
    }
}

/// Reloads the access list when its mtime or size changes.
async fn watch_access_file(shared: Shared, every: Duration) {
    let Some((_, path)) = shared.access_file.clone() else {
        return;
    };
    loop {
        Timer::after(every).await;
        if file_stamp(&path) != shared.access_stamp.get() {
            shared.reload_access("file changed");
        }
    }
}
