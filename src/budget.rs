//! One memory budget: `tracker.max_memory` divided, at start-up, between
//! everything the tracker allocates afterwards — connection buffers, UDP
//! batch buffers, the accept loops' buffers, the ordered-walk batch, the
//! source buckets, the whitelist labels, the access FIFOs' changesets and
//! the download history —
//! and the torrent and peer tables, which get the rest.
//!
//! The number of HTTP connections (each may hold a request and a response
//! buffer) is derived from the cap unless `tracker.max_connections` is given;
//! an explicit number that does not fit is a configuration error naming the
//! line that set it.

use crate::config::Config;
use crate::swarm::Swarm;
use crate::wire::http;

/// What one HTTP connection may hold at once: its request and response
/// buffers, plus its task, reactor entry and allocator overhead.
pub const CONNECTION_BYTES: usize = http::REQUEST_MAX + http::RESPONSE_MAX + 4096;
/// Most connections derived from a cap (opentracker-sized routers rarely need more).
pub const DERIVED_MAX_CONNECTIONS: usize = 256;
/// Share of the cap connections get when their number is derived.
const DERIVED_SHARE: usize = 4;
/// Share of the cap an explicit `max_connections` may take.
const EXPLICIT_SHARE: usize = 2;
/// The torrent and peer tables need at least this much.
const MIN_TABLES: usize = 64 << 10;

/// How `max_memory` is divided.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Budget {
    /// `tracker.max_memory`, which the parts add up to at most.
    pub cap: usize,
    /// Bytes for the torrent and peer tables (`Limits::max_memory`).
    pub tables: usize,
    /// Simultaneous HTTP connections.
    pub connections: usize,
    /// Bytes those connections may hold.
    pub connection_bytes: usize,
    /// UDP batch buffers and the accept loops' buffers, one per socket.
    pub socket_bytes: usize,
    /// The ordered-walk batch and the source buckets.
    pub fixed_bytes: usize,
    /// The whitelist's label store.
    pub labels: usize,
    /// The access FIFOs' changesets.
    pub changes: usize,
    /// The download history (`history`): the total series always, rows
    /// per release when a whitelist is configured.
    pub history: usize,
}

/// Bytes the label store takes: `tracker.label_memory`, or a sixteenth of
/// the cap when a whitelist is configured, nothing otherwise.
pub fn label_budget(cfg: &Config) -> usize {
    match (&cfg.access.whitelist, cfg.label_memory) {
        (None, _) => 0,
        (Some(_), Some(n)) => n.min(cfg.max_memory / 2),
        (Some(_), None) => cfg.max_memory / 16,
    }
}

/// Bytes the access FIFOs' changesets take (a thirty-second of the cap,
/// when a FIFO is configured).
pub fn changes_budget(cfg: &Config) -> usize {
    if cfg.access.fifo_add.is_none() && cfg.access.fifo_delete.is_none() {
        return 0;
    }
    cfg.max_memory / 32
}

/// Bytes the download history takes: its fixed part, plus a thirty-second
/// of the cap for per-release rows when a whitelist is configured (on a
/// 4 MiB cap, 128 KiB: 340 releases of 384 bytes).
pub fn history_budget(cfg: &Config) -> usize {
    crate::history::FIXED_BYTES
        + match cfg.access.whitelist {
            Some(_) => cfg.max_memory / 32,
            None => 0,
        }
}

/// Divides `cfg.max_memory`; errors say what does not fit and, for an
/// explicit `tracker.max_connections`, where it was set.
///
/// `udp_batch_bytes`: what one UDP socket's batch buffers take (the server
/// knows how it batches).
pub fn divide(cfg: &Config, udp_batch_bytes: usize) -> Result<Budget, String> {
    let cap = cfg.max_memory;
    let socket_bytes = cfg.udp.len().max(1) * udp_batch_bytes
        + cfg.tcp.len().max(1) * (http::REQUEST_MAX + http::RESPONSE_MAX);
    let fixed_bytes = Swarm::fixed_bytes(&cfg.policy);
    let labels = label_budget(cfg);
    let changes = changes_budget(cfg);
    let history = history_budget(cfg);
    let connections = match &cfg.max_connections_at {
        Some(at) => {
            let most = cap / EXPLICIT_SHARE / CONNECTION_BYTES;
            if cfg.max_connections > most {
                return Err(format!(
                    "{at}: tracker.max_connections {}: each connection may hold {} KiB of buffers, and tracker.max_memory {} KiB allows at most {most} (half of it); lower it or raise tracker.max_memory",
                    cfg.max_connections,
                    CONNECTION_BYTES >> 10,
                    cap >> 10
                ));
            }
            cfg.max_connections
        }
        None => (cap / DERIVED_SHARE / CONNECTION_BYTES).clamp(1, DERIVED_MAX_CONNECTIONS),
    };
    let connection_bytes = connections * CONNECTION_BYTES;
    let tables = cap
        .checked_sub(socket_bytes + fixed_bytes + labels + changes + history + connection_bytes)
        .filter(|&t| t >= MIN_TABLES)
        .ok_or_else(|| {
            format!(
                "tracker.max_memory {} KiB is too small: sockets ({} KiB), {connections} connections ({} KiB), fixed tables ({} KiB), labels, FIFO changes and history ({} KiB) leave less than {} KiB for torrents and peers",
                cap >> 10,
                socket_bytes >> 10,
                connection_bytes >> 10,
                fixed_bytes >> 10,
                (labels + changes + history) >> 10,
                MIN_TABLES >> 10
            )
        })?;
    Ok(Budget {
        cap,
        tables,
        connections,
        connection_bytes,
        socket_bytes,
        fixed_bytes,
        labels,
        changes,
        history,
    })
}

impl Budget {
    /// The parts as (name, bytes), in the order the stats list them.
    pub fn parts(&self) -> [(&'static str, usize); 7] {
        [
            ("tables", self.tables),
            ("connections", self.connection_bytes),
            ("sockets", self.socket_bytes),
            ("fixed", self.fixed_bytes),
            ("labels", self.labels),
            ("fifo_changes", self.changes),
            ("history", self.history),
        ]
    }

    /// One log line: where the cap goes.
    pub fn describe(&self) -> String {
        format!(
            "memory budget {} KiB: tables {} KiB, {} connections {} KiB, socket buffers {} KiB, fixed {} KiB, labels {} KiB, FIFO changes {} KiB, history {} KiB",
            self.cap >> 10,
            self.tables >> 10,
            self.connections,
            self.connection_bytes >> 10,
            self.socket_bytes >> 10,
            self.fixed_bytes >> 10,
            self.labels >> 10,
            self.changes >> 10,
            self.history.div_ceil(1024)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As the server divides, with its UDP batch size.
    fn divide_t(cfg: &Config) -> Result<Budget, String> {
        divide(cfg, crate::server::udp::batch_bytes())
    }

    fn cfg(mem: usize) -> Config {
        let mut c = Config {
            max_memory: mem,
            ..Config::default()
        };
        c.udp = vec![
            "0.0.0.0:6969".parse().unwrap(),
            "[::]:6969".parse().unwrap(),
        ];
        c.tcp = c.udp.clone();
        c
    }

    #[test]
    fn every_part_fits_in_the_cap() {
        for mem in [1 << 20, 4 << 20, 8 << 20, 64 << 20] {
            let b = divide_t(&cfg(mem)).unwrap();
            assert_eq!(
                b.tables
                    + b.connection_bytes
                    + b.socket_bytes
                    + b.fixed_bytes
                    + b.labels
                    + b.changes
                    + b.history,
                mem
            );
            assert!(b.connections >= 1 && b.connections <= DERIVED_MAX_CONNECTIONS);
        }
        assert_eq!(divide_t(&cfg(4 << 20)).unwrap().connections, 50);
        // With a whitelist, the history gets a thirty-second for rows.
        let mut w = cfg(4 << 20);
        w.access.whitelist = Some("wl".into());
        let b = divide_t(&w).unwrap();
        assert_eq!(b.history, crate::history::FIXED_BYTES + (128 << 10));
        let h = crate::history::History::new(b.history).unwrap();
        assert!(h.budget() <= b.history);
        assert_eq!(h.capacity(), (128 << 10) / crate::history::ROW_BYTES);
        assert_eq!(
            divide_t(&cfg(4 << 20)).unwrap().history,
            crate::history::FIXED_BYTES
        );
        assert_eq!(divide_t(&cfg(64 << 20)).unwrap().connections, 256);
    }

    #[test]
    fn an_explicit_max_connections_that_does_not_fit_names_its_line() {
        let mut c = cfg(4 << 20);
        c.max_connections = 256;
        c.max_connections_at = Some("x.conf:7".into());
        let e = divide_t(&c).unwrap_err();
        assert!(
            e.starts_with("x.conf:7: tracker.max_connections 256"),
            "{e}"
        );
        c.max_connections = 100;
        assert_eq!(divide_t(&c).unwrap().connections, 100);
        assert!(divide_t(&cfg(128 << 10)).unwrap_err().contains("too small"));
    }

    #[test]
    fn fairness_directives_and_the_max_connections_line_are_parsed() {
        let (c, warnings) = crate::config::parse_config(
            "tracker.max_peers_per_address 4\ntracker.max_connections 300\ntracker.new_torrents_per_minute 0\ntracker.new_torrents_burst 9\n",
            std::path::Path::new("f.conf"),
            cfg(4 << 20),
        )
        .unwrap();
        assert!(warnings.is_empty());
        assert_eq!(c.policy.max_peers_per_address, 4);
        assert_eq!(c.policy.new_torrents_per_minute, 0);
        assert_eq!(c.policy.new_torrents_burst, 9);
        let e = divide_t(&c).unwrap_err();
        assert!(
            e.starts_with("f.conf:2: tracker.max_connections 300"),
            "{e}"
        );
        for bad in [
            "tracker.max_peers_per_address 0",
            "tracker.new_torrents_burst 0",
        ] {
            let e = crate::config::parse_config(bad, std::path::Path::new("f.conf"), c.clone())
                .unwrap_err();
            assert!(e.0.starts_with("f.conf:1: "), "{}", e.0);
        }
    }
}
