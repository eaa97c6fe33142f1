//! The smol event loop: sockets, tasks and the periodic sweep. Everything runs
//! on one thread; the tracker state is shared by `Rc<RefCell<_>>` and never
//! borrowed across an await.

pub mod bind;
pub mod http;
pub mod udp;

use crate::config::Config;
use crate::swarm::{Limits, Swarm};
use crate::tracker::{Settings, Tracker};
use smol::{Async, LocalExecutor, Task};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// State every task holds a handle to.
pub struct SharedState {
    /// The tracker.
    pub tracker: RefCell<Tracker>,
    /// Open HTTP connections.
    pub connections: Cell<usize>,
    /// Most HTTP connections at once.
    pub max_connections: usize,
    started: Instant,
    executor: LocalExecutor<'static>,
}

/// A handle to the shared state.
pub type Shared = Rc<SharedState>;

impl SharedState {
    /// Seconds since start-up.
    pub fn now(&self) -> u32 {
        self.started.elapsed().as_secs() as u32
    }

    /// Spawns a task on the tracker's executor.
    pub fn spawn<T: 'static>(&self, f: impl Future<Output = T> + 'static) -> Task<T> {
        self.executor.spawn(f)
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
        let tcp = self.tcp.iter().filter_map(|s| s.local_addr().ok());
        let udp = self.udp.iter().filter_map(|s| s.local_addr().ok());
        let mut parts: Vec<String> = tcp.map(|a| format!("tcp://{a}")).collect();
        parts.extend(udp.map(|a| format!("udp://{a}")));
        parts.join(" ")
    }
}

/// Binds every configured address. An IPv6 wildcard that cannot be bound
/// (IPv6 disabled) is skipped with a warning when IPv4 was bound too.
pub fn bind_all(cfg: &Config, warn: &mut dyn FnMut(String)) -> Result<Sockets, String> {
    fn each<S>(
        addrs: &[SocketAddr],
        proto: &str,
        f: fn(SocketAddr) -> io::Result<S>,
        warn: &mut dyn FnMut(String),
    ) -> Result<Vec<S>, String> {
        let mut out = Vec::new();
        for &a in addrs {
            match f(a) {
                Ok(s) => out.push(s),
                Err(e)
                    if a.is_ipv6()
                        && a.ip().is_unspecified()
                        && addrs.iter().any(|o| o.is_ipv4()) =>
                {
                    warn(format!(
                        "cannot listen on {proto} {a}: {e}; serving IPv4 only"
                    ))
                }
                Err(e) => return Err(format!("cannot listen on {proto} {a}: {e}")),
            }
        }
        Ok(out)
    }
    Ok(Sockets {
        tcp: each(&cfg.tcp, "tcp", bind::tcp, warn)?,
        udp: each(&cfg.udp, "udp", bind::udp, warn)?,
    })
}

/// Builds the swarm tables from the configuration.
pub fn build_tracker(cfg: &Config) -> Result<Tracker, String> {
    let limits = Limits {
        max_memory: cfg.max_memory,
        max_torrents: cfg.max_torrents,
        max_peers_per_torrent: cfg.max_peers_per_torrent,
        peer_timeout: cfg.peer_timeout,
    };
    let seed = random_seed();
    let swarm = Swarm::new(limits, seed).map_err(|e| e.0)?;
    Ok(Tracker::new(swarm, Settings::from(cfg)))
}

fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded from the OS; hashing the clock adds per-start variety.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish()
}

/// Runs the tracker until the process is stopped.
pub fn run(cfg: &Config, sockets: Sockets, tracker: Tracker) -> Result<(), String> {
    let shared: Shared = Rc::new(SharedState {
        tracker: RefCell::new(tracker),
        connections: Cell::new(0),
        max_connections: cfg.max_connections,
        started: Instant::now(),
        executor: LocalExecutor::new(),
    });
    for s in sockets.udp {
        let s = Async::new(s).map_err(|e| format!("udp socket: {e}"))?;
        shared.spawn(udp::serve(s, shared.clone())).detach();
    }
    for l in sockets.tcp {
        let l = Async::new(l).map_err(|e| format!("tcp listener: {e}"))?;
        shared.spawn(http::serve(l, shared.clone())).detach();
    }
    let sweeper = shared.clone();
    shared
        .spawn(async move {
            loop {
                smol::Timer::after(Duration::from_secs(30)).await;
                let now = sweeper.now();
                sweeper.tracker.borrow_mut().swarm.sweep(now);
            }
        })
        .detach();
    let ex_shared = shared.clone();
    smol::block_on(ex_shared.executor.run(std::future::pending::<()>()));
    Ok(())
}
