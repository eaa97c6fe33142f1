//! Request handling: decoded HTTP and UDP requests in, response bytes out.
//!
//! No sockets here: the I/O loops in `server` hand over a request and a
//! fixed output buffer, and send whatever this writes. Responses are built in
//! place, so answering never allocates.
//!
//! One concern per file, as opentracker's `ot_http.c` / `ot_udp.c`:
//! `http.rs` (routing, framing, the HTTP announce and scrape), `udp.rs`
//! (BEP 15 dispatch, the UDP announce and scrape), `announce.rs` (the one
//! announce both protocols share: access, the store, the counters),
//! `stream.rs` (bodies written a buffer at a time), `stats_page.rs` (the
//! stats pages), `releases.rs` (downloads per release and day); this file holds the state and the access list in force.

use crate::access::changes::{Applied, Change, Changes};
use crate::access::{AccessList, Mode};
use crate::config::Config;
use crate::connection_id::ConnectionIdKey;
use crate::info_hash::InfoHash;
use crate::labels::Labels;
use crate::network::Network;
use crate::stats::pages::PageStream;
use crate::stats::{top, Stats, TorrentFormat};
use crate::swarm::{Selection, Swarm};

mod announce;
mod http;
mod releases;
mod stats_page;
mod stream;
mod udp;
use std::net::IpAddr;
use std::ops::Range;

/// Settings the handlers need, taken from [`Config`].
#[derive(Debug, Clone)]
pub struct Settings {
    /// Announce interval in seconds.
    pub interval: u32,
    /// Peers when the client does not say.
    pub numwant_default: u32,
    /// Most peers returned.
    pub numwant_max: u32,
    /// Where `GET /` redirects.
    pub redirect_url: Option<String>,
    /// Path of the stats page.
    pub stats_path: String,
    /// Networks allowed to read stats (everyone when empty).
    pub stats_allowed: Vec<Network>,
    /// Networks of proxies whose forwarding headers are believed.
    pub proxies: Vec<Network>,
    /// Whether `/scrape` without info_hash lists every torrent.
    pub fullscrape: bool,
    /// Stats modes anyone may read, whatever `stats_allowed` says.
    pub stats_public: Vec<String>,
}

impl From<&Config> for Settings {
    fn from(c: &Config) -> Self {
        Settings {
            interval: c.announce_interval,
            numwant_default: c.numwant_default,
            numwant_max: c.numwant_max,
            redirect_url: c.redirect_url.clone(),
            stats_path: c.access.stats_path.clone(),
            stats_allowed: c.access.stats.clone(),
            proxies: c.access.proxies.clone(),
            fullscrape: c.access.fullscrape,
            stats_public: c.access.stats_public.clone(),
        }
    }
}

/// An HTTP response written into the caller's buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpReply {
    /// Status code.
    pub code: u16,
    /// Bytes of the buffer to send.
    pub range: Range<usize>,
    /// Whether the connection stays open afterwards.
    pub keep_alive: bool,
    /// More body to come from [`Tracker::stream_chunk`] (then the connection closes).
    pub stream: Option<Stream>,
}

/// A body too large to build at once — one record per torrent — produced a
/// buffer at a time, in info-hash order (bencoded dictionary keys must be
/// sorted). Its position is the last hash written, so torrents that move in
/// the table meanwhile are neither missed nor repeated; one added meanwhile
/// below that point is left out, one removed before its turn is skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    body: StreamBody,
    /// The last info hash written.
    after: Option<InfoHash>,
    started: bool,
    done: bool,
}

/// What a [`Stream`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StreamBody {
    /// One record per torrent.
    Torrents(TorrentFormat),
    /// `mode=top10`/`top100`: the list by peers, then (`seeds`) the one by seeds.
    Top { amount: top::Amount, seeds: bool },
    /// A release page: JSON, HTML, or Prometheus with per-release series.
    Releases(PageStream),
}

/// The tracker's state: the swarm, counters and connection-id key.
pub struct Tracker {
    /// Torrents and peers.
    pub swarm: Swarm,
    /// Counters.
    pub stats: Stats,
    settings: Settings,
    conn_ids: ConnectionIdKey,
    selection: Selection,
    access: Option<AccessList>,
    changes: Changes,
    labels: Labels,
    /// Completed downloads per day (see `releases.rs`).
    history: crate::history::History,
}

/// Whether `hash` is served under `access` with the FIFO `changes` applied.
fn allowed_by(access: &Option<AccessList>, changes: &Changes, hash: &InfoHash) -> bool {
    access.as_ref().is_none_or(|a| {
        let listed = changes.listed(hash, a.lists(hash));
        listed == (a.mode == Mode::Whitelist)
    })
}

/// IPv4-mapped IPv6 addresses (from a dual-stack socket) are the IPv4 peer they carry.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        v4 => v4,
    }
}

impl Tracker {
    /// A tracker over `swarm`.
    pub fn new(swarm: Swarm, settings: Settings) -> Self {
        Tracker {
            swarm,
            stats: Stats::default(),
            settings,
            conn_ids: ConnectionIdKey::new(),
            selection: Selection::default(),
            access: None,
            changes: Changes::default(),
            labels: Labels::none(),
            history: crate::history::History::default(),
        }
    }

    /// Replaces the label store (sized at start-up from the memory cap).
    pub fn set_labels(&mut self, labels: Labels) {
        self.labels = labels;
    }

    /// The release labels, rebuilt with the whitelist.
    pub fn labels_mut(&mut self) -> &mut Labels {
        &mut self.labels
    }

    /// Swaps in a new access list (or none: serve every torrent). The FIFO
    /// changesets are flushed: the file is the truth again.
    pub fn set_access(&mut self, list: Option<AccessList>) {
        self.access = list;
        self.changes.flush();
    }

    /// Room for changes from the access FIFOs (none unless given; allocated now).
    pub fn set_changes_capacity(&mut self, hashes: usize) {
        self.changes = Changes::with_capacity(hashes);
    }

    /// The FIFO changes in force: (added, deleted, capacity).
    pub fn changes(&self) -> (usize, usize, usize) {
        let (added, deleted) = self.changes.counts();
        (added, deleted, self.changes.capacity())
    }

    /// Applies one hash from an access FIFO to the list in force (a
    /// blacklist when none was configured).
    pub fn change_access(&mut self, hash: InfoHash, change: Change) -> Applied {
        let list = self
            .access
            .get_or_insert_with(|| AccessList::empty(Mode::Blacklist));
        let in_file = list.lists(&hash);
        self.changes.apply(hash, change, in_file)
    }

    /// The access list in force.
    pub fn access(&self) -> Option<&AccessList> {
        self.access.as_ref()
    }

    fn allowed(&self, hash: &InfoHash) -> bool {
        allowed_by(&self.access, &self.changes, hash)
    }

    /// Whether a whitelist is in force: then a hash `allowed` passed is one
    /// the operator listed (in the file or by a FIFO add).
    fn whitelisting(&self) -> bool {
        self.access
            .as_ref()
            .is_some_and(|a| a.mode == Mode::Whitelist)
    }
}

#[cfg(test)]
mod tests;
