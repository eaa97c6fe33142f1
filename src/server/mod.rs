//! The smol event loop: sockets, tasks, signals and the periodic jobs.
//! Everything runs on one thread; the tracker state is shared by
//! `Rc<RefCell<_>>` and never borrowed across an await.

pub mod alive;
pub mod bind;
pub mod deadlines;
pub mod defer;
pub mod fifo;
pub mod http;
mod log;
pub mod log_prefix;
pub mod privileges;
mod reload;
pub mod reuse;
pub mod run_queue;
pub mod signals;
pub mod slots;
pub mod startup;
#[cfg(all(target_os = "linux", target_env = "musl"))]
pub mod thread_name;
pub mod ticker;
pub mod udp;

pub use bind::{bind_all, Sockets};
pub use log::{info, warn};
pub use startup::build_tracker;

use crate::access::changes::Change;
use crate::access::{file_stamp, Mode};
use crate::config::Config;
use crate::state;
use crate::tracker::Tracker;
use async_task::Task;
use smol::{Async, Timer};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

/// Seconds between expiry sweeps (peers are timed in 16-second ticks).
const SWEEP_SECS: u64 = 30;
/// Seconds between summaries of refused announces in the log.
const REFUSAL_REPORT_SECS: u32 = 600;

/// State every task holds a handle to.
pub struct SharedState {
    /// The tracker.
    pub tracker: RefCell<Tracker>,
    /// HTTP connection slots (`tracker.max_connections`).
    pub slots: slots::Slots,
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
    /// Writes the state file if counts changed since the last write (or `force`).
    pub fn save_state(&self, force: bool) {
        let Some(path) = &self.state_file else { return };
        let tracker = self.tracker.borrow();
        let fp = state::fingerprint(&tracker.swarm);
        if !force && fp == self.state_saved.get() {
            return;
        }
        match state::save(
            path,
            &tracker.swarm,
            tracker.stats.tracker_id,
            tracker.history(),
        ) {
            Ok(_) => self.state_saved.set(fp),
            Err(e) => warn(format_args!(
                "cannot write state file {}: {e}",
                path.display()
            )),
        }
    }
}

/// What main hands `run` besides the sockets: the files read after the
/// privilege drop, a `-l` dump read before it, and start-up notes (the
/// privilege drop, FIFOs made) to log after the mode line.
pub struct Start {
    /// The access list and state file.
    pub files: startup::Files,
    /// `-l`: completed counts from an opentracker state dump.
    pub dump: Option<Vec<(crate::info_hash::InfoHash, u32)>>,
    /// Lines for the log, after the mode line.
    pub notes: Vec<String>,
}

/// Serves until SIGTERM/SIGINT, then saves state. Call after binding,
/// dropping privileges and reading the files (`startup::read_files`).
pub fn run(
    cfg: &Config,
    sockets: Sockets,
    tracker: Tracker,
    signals: signals::Signals,
    start: Start,
) -> Result<(), String> {
    // Divided once, by build_tracker.
    let budget = tracker.stats.memory;
    let shared: Shared = Rc::new(SharedState {
        tracker: RefCell::new(tracker),
        slots: slots::Slots::new(budget.connections),
        started: Instant::now(),
        access_file: startup::access_file(cfg),
        access_stamp: Cell::new(None),
        state_file: cfg.state_file.clone(),
        state_saved: Cell::new((0, 0)),
    });
    // The first line names the mode.
    match &start.files.access {
        Some((mode, path, text)) => {
            shared.access_stamp.set(file_stamp(path));
            let (_, bad) = shared.install_access(*mode, path, text);
            let tracker = shared.tracker.borrow();
            let list = tracker.access().map(|l| (*mode, path.as_path(), l));
            info(startup::mode_line(list, bad));
        }
        None => info(startup::mode_line(None, 0)),
    }
    for note in &start.notes {
        info(note);
    }
    if let Some((path, text)) = &start.files.state {
        let mut tracker = shared.tracker.borrow_mut();
        let kept_id = match text
            .as_deref()
            .map(|t| state::restore(t, &mut tracker.swarm))
        {
            Some(Ok(l)) => {
                info(format_args!(
                    "state {}: restored {} completed counts",
                    path.display(),
                    l.restored
                ));
                // The download history after the counts.
                if let Some(Err(e)) = text.as_deref().map(|t| tracker.history_mut().restore(t)) {
                    warn(format_args!(
                        "state {}: {e}; download history left out",
                        path.display()
                    ));
                }
                l.tracker_id
            }
            Some(Err(e)) => {
                warn(format_args!(
                    "state {}: {e}; ignored, starting from zero",
                    path.display()
                ));
                None
            }
            None => None,
        };
        shared.state_saved.set(state::fingerprint(&tracker.swarm));
        match kept_id {
            Some(id) => tracker.stats.tracker_id = id,
            // No file yet: write one now, so the new id stays the same after
            // any restart. (A corrupt file is left for the operator to look
            // at until the next regular write.)
            None if text.is_none() => {
                drop(tracker);
                shared.save_state(true);
            }
            None => {}
        }
    }
    if let Some(entries) = &start.dump {
        let mut tracker = shared.tracker.borrow_mut();
        let restored = entries
            .iter()
            .filter(|(hash, n)| tracker.swarm.set_downloaded(hash, *n))
            .count();
        info(format_args!(
            "-l: loaded {restored} completed counts of {} in the state dump",
            entries.len()
        ));
    }
    for (path, change) in [
        (&cfg.access.fifo_add, Change::Add),
        (&cfg.access.fifo_delete, Change::Delete),
    ] {
        if let Some(path) = path {
            let kind = match shared.access_file {
                Some((mode, _)) => startup::kind(mode),
                None => "blacklist",
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
    info(budget.describe());
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
            .spawn(reload::watch_access_file(shared.clone(), every))
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
