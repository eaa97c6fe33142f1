//! The swarm store: torrents and their peers in fixed-capacity tables.
//!
//! Pure logic, no I/O. Everything is sized once, at start-up, from a memory
//! cap, and nothing is allocated afterwards:
//!
//! - a dense table of [`Torrent`] records (info hash, completed count and two
//!   block offsets) with an open-addressing index over it, keyed by an fnv
//!   hash of the info hash;
//! - one arena of 32-bit words holding, per torrent and address family, a
//!   block of peers: a 3-word header then compact records (IPv4: 2 words,
//!   IPv6: 5 words; address, port and a coarse 16-second timestamp). Seeders
//!   sit before leechers in each block, so counts need no per-peer flag.
//!
//! Blocks grow by 1.5× into fresh arena space; the old block becomes garbage
//! that a mark-compact pass reclaims (shrinking blocks to fit) when the arena
//! runs out. Under pressure, expired peers are reclaimed first; then a new
//! torrent is refused and a torrent that cannot grow replaces its oldest peer.
//!
//! One concern per file: `index.rs` (torrent table and its hash index),
//! `arena.rs` (peer blocks, size classes, free lists, compaction), `peers.rs`
//! (sorted peers inside a block), `admission.rs` (who gets a slot, who is
//! evicted), `expiry.rs` (timeouts and sweeps), `order.rs` (walks in hash
//! order), `select.rs` (peers for a reply); this file holds the types and the
//! announce/scrape entry points.

use crate::info_hash::InfoHash;
use crate::region::Words;
use crate::wire::query::Event;
use std::cmp::Ordering;
use std::hash::Hasher;
use std::net::IpAddr;

mod admission;
mod arena;
mod expiry;
mod index;
mod order;
mod peers;
mod release;
mod select;
pub mod sources;
#[cfg(test)]
mod tests;

/// Hashes `Swarm::next_hash_after` takes per pass over the torrent table.
pub const ORDER_BATCH: usize = 1024;

/// The next `ORDER_BATCH` stored hashes after `from`, sorted (5 words each,
/// in their own mapping: no memory until the first ordered walk).
struct OrderBatch {
    words: Words,
    len: usize,
    from: Option<InfoHash>,
    generation: u64,
    valid: bool,
}

/// Most peers one announce returns.
pub const MAX_NUMWANT: usize = 200;

/// Seconds per timestamp tick; peers are timed with this resolution.
const TICK_SECS: u32 = 16;
/// Longest peer timeout the 16-bit wrapping timestamps can express safely.
pub const MAX_PEER_TIMEOUT: u32 = 3 * 24 * 3600;
/// Longest `max_peers_per_torrent` (a block header keeps counts in 16 bits).
pub const MAX_PEERS_LIMIT: u32 = 65_535;

const NONE: u32 = u32::MAX;
const FREE: u32 = u32::MAX;
const HEADER: usize = 3;
const FAMILY_BIT: u32 = 1 << 31;
/// Header word 0: the owner torrent, plus this bit when some address may
/// hold two or more of the block's peers (set when such a peer is stored,
/// cleared when a full pass finds none); without it a full torrent's fair
/// victim is simply its oldest eligible peer.
const MULTI: u32 = 1 << 31;
/// Header word 1: capacity in the low 16 bits, then a 15-bit lower bound of
/// the block's oldest timestamp, then the family bit.
const CAP_MASK: u32 = 0xFFFF;
const OLDEST_SHIFT: u32 = 16;
const OLDEST_MASK: u16 = 0x7FFF;
const INITIAL_CAP: u32 = 2;
/// Minimum seconds between sweeps forced by a full table.
const PRESSURE_SWEEP_GAP: u32 = 10;

/// Sizing and timing of a [`Swarm`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes the tables may use in all.
    pub max_memory: usize,
    /// Torrent table size; derived from `max_memory` when `None`.
    pub max_torrents: Option<usize>,
    /// Peers kept per torrent and address family.
    pub max_peers_per_torrent: u32,
    /// Seconds after its last announce that a peer is forgotten.
    pub peer_timeout: u32,
}

/// Fairness settings of a [`Swarm`]: how many peers one address may hold in
/// a torrent, and how fast one source network may create torrents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Peers one IPv4 address or IPv6 /64 may hold in one torrent; past
    /// that a newcomer from it replaces its own oldest peer.
    pub max_peers_per_address: u32,
    /// New torrents a source network (/24, /56) may create per minute; 0 = no limit.
    pub new_torrents_per_minute: u32,
    /// New torrents a source network may create at once (its bucket size).
    pub new_torrents_burst: u32,
}

impl Default for Policy {
    /// Generous enough for a CGNAT range or a seedbox adding a few hundred
    /// releases at once.
    fn default() -> Self {
        Policy {
            max_peers_per_address: 16,
            new_torrents_per_minute: 300,
            new_torrents_burst: 300,
        }
    }
}

/// Source buckets of the new-torrent budget (8 bytes each; 32 KiB).
pub const SOURCE_BUCKETS: usize = 4096;

/// What admission and fairness did, for the stats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Admission {
    /// Torrents evicted from a full table for a newcomer worth more.
    pub torrents_evicted: u64,
    /// Peers that replaced their own address's oldest peer (address cap).
    pub replaced_own: u64,
    /// Peers evicted from a full torrent for a newcomer.
    pub peers_evicted: u64,
    /// Leechers answered but not stored: their full torrent holds only seeders.
    pub not_stored: u64,
    /// Sweeps forced by a full table (they may drop torrents whose peers all
    /// expired, completed count and all, when the table is nearly full and
    /// holds almost nothing but such counts).
    pub pressure_sweeps: u64,
}

/// Why the store could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizingError(pub String);

/// Per-torrent counters, as announce and scrape report them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Peers with nothing left to download.
    pub seeders: u32,
    /// Peers still downloading.
    pub leechers: u32,
    /// `event=completed` announces seen.
    pub downloaded: u32,
}

/// What the store made of an accepted announce.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Announced {
    /// The torrent's counts after it.
    pub counts: Counts,
    /// It was a completion the store counted (not a repeated event, nor a
    /// seeder's).
    pub completed: bool,
    /// Seconds since the peer's previous announce (`None`: a new peer), for
    /// opentracker's `mode=renew`.
    pub renewed_after: Option<u32>,
}

/// An announce refused by the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No room for another torrent even after reclaiming expired peers and
    /// looking for a less valuable torrent to evict.
    Full,
    /// The source network created too many torrents lately.
    Rate,
}

impl Refusal {
    /// Text for `failure reason` / UDP error packets.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::Full => "tracker is full",
            Refusal::Rate => "too many new torrents from your network; try again in a minute",
        }
    }
}

/// One announce, already decoded and validated by a protocol front end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Announce {
    /// Which torrent.
    pub info_hash: InfoHash,
    /// The peer's address (IPv4-mapped addresses already unmapped).
    pub ip: IpAddr,
    /// The peer's listening port.
    pub port: u16,
    /// `left == 0`.
    pub seeder: bool,
    /// The announce's event.
    pub event: Event,
    /// Peers wanted (already clamped to the tracker's maximum).
    pub numwant: usize,
    /// Also return peers of the other address family (HTTP `peers6`/`peers`).
    pub other_family: bool,
    /// The operator listed this hash (a whitelist, a FIFO add): creating its
    /// torrent is never charged to the source network's new-torrent budget.
    pub listed: bool,
}

/// Peers chosen for one announce reply, as compact records (BEP 23 / BEP 7).
#[derive(Debug, Default)]
pub struct Selection {
    /// 4-byte address + 2-byte big-endian port.
    pub v4: heapless::Vec<[u8; 6], MAX_NUMWANT>,
    /// 16-byte address + 2-byte big-endian port.
    pub v6: heapless::Vec<[u8; 18], MAX_NUMWANT>,
}

impl Selection {
    /// Empties both lists.
    pub fn clear(&mut self) {
        self.v4.clear();
        self.v6.clear();
    }
}

/// What a sweep reclaimed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Peers that had timed out.
    pub peers: usize,
    /// Torrents left empty and freed.
    pub torrents: usize,
}

/// How the memory cap was divided; printed at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    /// Torrents the table holds.
    pub torrents: usize,
    /// IPv4 peers the arena holds if every block were full.
    pub ipv4_peers: usize,
    /// Bytes allocated in all (never more than `max_memory`).
    pub bytes: usize,
}

#[derive(Debug, Clone, Copy)]
struct Torrent {
    hash: InfoHash,
    downloaded: u32,
    /// Arena offsets of the IPv4 and IPv6 peer blocks, or `NONE`.
    lists: [u32; 2],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    V4 = 0,
    V6 = 1,
}

impl Family {
    fn words(self) -> usize {
        match self {
            Family::V4 => 2,
            Family::V6 => 5,
        }
    }

    /// Words of the address that identify one host: the IPv4 address, or
    /// the /64 of an IPv6 one.
    fn prefix_words(self) -> usize {
        match self {
            Family::V4 => 1,
            Family::V6 => 2,
        }
    }

    fn of_block(cap_word: u32) -> Family {
        if cap_word & FAMILY_BIT != 0 {
            Family::V6
        } else {
            Family::V4
        }
    }
}

/// Block capacities, about 25% apart (slack stays small). Outgrown
/// blocks go on a free list per capacity and family, so the next block of
/// that size reuses them instead of fresh arena space.
const CLASSES: [u32; 60] = [
    1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160,
    192, 224, 256, 320, 384, 448, 512, 640, 768, 896, 1024, 1280, 1536, 1792, 2048, 2560, 3072,
    3584, 4096, 5120, 6144, 7168, 8192, 10240, 12288, 14336, 16384, 20480, 24576, 28672, 32768,
    40960, 49152, 57344, 65536,
];

/// A peer's identity as arena words: address words then the port.
#[derive(Debug, Clone, Copy)]
struct PeerKey {
    family: Family,
    addr: [u32; 4],
    port: u16,
}

impl PeerKey {
    fn new(ip: IpAddr, port: u16) -> Self {
        let mut addr = [0u32; 4];
        let family = match ip {
            IpAddr::V4(v4) => {
                addr[0] = u32::from_ne_bytes(v4.octets());
                Family::V4
            }
            IpAddr::V6(v6) => {
                for (w, c) in addr.iter_mut().zip(v6.octets().chunks_exact(4)) {
                    *w = u32::from_ne_bytes([c[0], c[1], c[2], c[3]]);
                }
                Family::V6
            }
        };
        PeerKey { family, addr, port }
    }

    fn addr_words(&self) -> &[u32] {
        &self.addr[..self.family.words() - 1]
    }
}

/// The torrent and peer tables.
pub struct Swarm {
    torrents: Vec<Torrent>,
    max_torrents: usize,
    /// Open-addressing index: an 8-bit hash tag over torrent position + 1, or
    /// 0 for empty. Only the first `mask + 1` slots are in use; it doubles in
    /// place as torrents come, keeping at most three quarters of them full.
    index: Words,
    mask: usize,
    arena: Words,
    bump: usize,
    /// Words in freed blocks (on free lists or not yet compacted away).
    garbage: usize,
    free: [[u32; CLASSES.len()]; 2],
    max_peers: u32,
    timeout_ticks: u16,
    hash_seed: u64,
    rng: u64,
    last_pressure_sweep: Option<u32>,
    compactions: u64,
    /// Torrents ever added (a generation number for `order`).
    added: u64,
    order: OrderBatch,
    max_per_address: u32,
    sources: sources::SourceBuckets,
    admission: Admission,
    /// Seconds since the previous announce of the peer the announce being
    /// recorded renewed (`None`: it was new).
    renewed_after: Option<u32>,
    /// The announce being recorded counted a completion.
    completed: bool,
}

fn tick(now: u32) -> u16 {
    (now / TICK_SECS) as u16
}

/// Garbage (in words) below which the arena is never compacted early.
const COMPACT_MIN_WORDS: usize = 4096;

/// Slots the index starts with; it doubles as torrents are added.
const INITIAL_SLOTS: usize = 256;
/// An index slot: an 8-bit tag from the hash over torrent position + 1.
const SLOT_BITS: u32 = 24;
const SLOT_MASK: u32 = (1 << SLOT_BITS) - 1;
/// Most torrents the index can number.
pub const MAX_TORRENTS_LIMIT: usize = SLOT_MASK as usize - 1;

impl Swarm {
    /// Builds the tables, dividing `limits.max_memory` between them, with
    /// the default [`Policy`]. `seed` keys the table hash and the peer selection.
    pub fn new(limits: Limits, seed: u64) -> Result<Swarm, SizingError> {
        Self::with_policy(limits, Policy::default(), seed)
    }

    /// Bytes a swarm maps besides the `limits.max_memory` its tables get: the
    /// ordered-walk batch and the source buckets (when the budget is on). A
    /// caller dividing one memory cap subtracts these first.
    pub fn fixed_bytes(policy: &Policy) -> usize {
        ORDER_BATCH * 5 * 4
            + if policy.new_torrents_per_minute > 0 {
                sources::SourceBuckets::bytes(SOURCE_BUCKETS)
            } else {
                0
            }
    }

    /// [`Swarm::new`] with an explicit fairness policy.
    pub fn with_policy(limits: Limits, policy: Policy, seed: u64) -> Result<Swarm, SizingError> {
        if policy.max_peers_per_address == 0 || policy.max_peers_per_address > MAX_PEERS_LIMIT {
            return Err(SizingError(format!(
                "max_peers_per_address must be 1..={MAX_PEERS_LIMIT}"
            )));
        }
        if limits.max_peers_per_torrent == 0 || limits.max_peers_per_torrent > MAX_PEERS_LIMIT {
            return Err(SizingError(format!(
                "max_peers_per_torrent must be 1..={MAX_PEERS_LIMIT}"
            )));
        }
        if limits.peer_timeout == 0 || limits.peer_timeout > MAX_PEER_TIMEOUT {
            return Err(SizingError(format!(
                "peer_timeout must be 1..={MAX_PEER_TIMEOUT} seconds"
            )));
        }
        let max_torrents = limits
            .max_torrents
            .unwrap_or((limits.max_memory / 256).min(MAX_TORRENTS_LIMIT))
            .max(1);
        if max_torrents > MAX_TORRENTS_LIMIT {
            return Err(SizingError(format!(
                "max_torrents must be at most {MAX_TORRENTS_LIMIT}"
            )));
        }
        let (slots, table_bytes) = Self::table_size(max_torrents)
            .ok_or_else(|| SizingError("max_torrents is too large".into()))?;
        let arena_words = limits.max_memory.saturating_sub(table_bytes) / 4;
        if arena_words < 1024 {
            return Err(SizingError(format!(
                "max_memory {} leaves no room for peers after a table of {} torrents ({} bytes)",
                limits.max_memory, max_torrents, table_bytes
            )));
        }
        let mut torrents = Vec::new();
        torrents
            .try_reserve_exact(max_torrents)
            .map_err(|e| SizingError(format!("cannot allocate the torrent table: {e}")))?;
        Ok(Swarm {
            torrents,
            max_torrents,
            index: Words::new(slots).map_err(SizingError)?,
            mask: slots.min(INITIAL_SLOTS) - 1,
            arena: Words::new(arena_words).map_err(SizingError)?,
            bump: 0,
            garbage: 0,
            free: [[NONE; CLASSES.len()]; 2],
            max_peers: limits.max_peers_per_torrent,
            timeout_ticks: limits
                .peer_timeout
                .div_ceil(TICK_SECS)
                .min(u32::from(u16::MAX / 2)) as u16,
            hash_seed: seed,
            rng: seed ^ 0x9E37_79B9_7F4A_7C15 | 1,
            last_pressure_sweep: None,
            compactions: 0,
            added: 0,
            order: OrderBatch {
                words: Words::new(ORDER_BATCH * 5).map_err(SizingError)?,
                len: 0,
                from: None,
                generation: 0,
                valid: false,
            },
            max_per_address: policy.max_peers_per_address,
            sources: sources::SourceBuckets::new(
                SOURCE_BUCKETS,
                policy.new_torrents_per_minute,
                policy.new_torrents_burst,
                seed,
            )
            .map_err(SizingError)?,
            admission: Admission::default(),
            renewed_after: None,
            completed: false,
        })
    }

    /// What admission and fairness have done so far.
    pub fn admission(&self) -> Admission {
        self.admission
    }

    /// Index slots and bytes of torrent table plus index for `max_torrents`
    /// (the arena gets the rest of the memory cap).
    pub fn table_size(max_torrents: usize) -> Option<(usize, usize)> {
        // At most three quarters full when every torrent is in.
        let slots = (max_torrents / 3 * 4 + 4).checked_next_power_of_two()?;
        let bytes = max_torrents
            .checked_mul(std::mem::size_of::<Torrent>())?
            .checked_add(slots.checked_mul(4)?)?;
        Some((slots, bytes))
    }

    /// How the memory cap was divided.
    pub fn capacity(&self) -> Capacity {
        Capacity {
            torrents: self.max_torrents,
            ipv4_peers: self.arena.len() / 2,
            bytes: self.max_torrents * std::mem::size_of::<Torrent>()
                + self.index.len() * 4
                + self.arena.len() * 4,
        }
    }

    /// Bytes of the tables in use: torrent records, the index slots in use
    /// and the arena up to its high-water mark (live blocks and garbage not
    /// yet compacted away).
    pub fn memory_used(&self) -> usize {
        self.torrents.len() * std::mem::size_of::<Torrent>() + (self.mask + 1) * 4 + self.bump * 4
    }

    /// Peers evicted from a full torrent for a newcomer.
    pub fn evictions(&self) -> u64 {
        self.admission.peers_evicted
    }

    /// Calls `f` with the address of every stored IPv4 peer (in no order).
    pub fn for_each_ipv4_peer(&self, mut f: impl FnMut(std::net::Ipv4Addr)) {
        for t in &self.torrents {
            let off = t.lists[Family::V4 as usize];
            if off == NONE {
                continue;
            }
            let (len, _) = self.len_seeds(off as usize);
            for i in 0..len as usize {
                let word = self.arena[self.entry(off as usize, Family::V4, i)];
                f(std::net::Ipv4Addr::from(word.to_ne_bytes()));
            }
        }
    }

    /// Times the arena has been compacted.
    pub fn compactions(&self) -> u64 {
        self.compactions
    }

    /// Torrents currently stored.
    pub fn torrent_count(&self) -> usize {
        self.torrents.len()
    }

    /// The info hash and counts of the `i`-th stored torrent (order is arbitrary
    /// and changes as torrents come and go).
    pub fn torrent_at(&self, i: usize) -> Option<(InfoHash, Counts)> {
        let t = self.torrents.get(i)?;
        Some((t.hash, self.counts(i)))
    }

    /// Counts for one torrent, if it is stored.
    pub fn get(&self, hash: &InfoHash) -> Option<Counts> {
        self.find(hash).1.map(|t| self.counts(t))
    }

    /// Peers one address (IPv6: its /64) holds in a torrent, expired ones
    /// not yet swept included; at most `max_peers_per_address`.
    pub fn peers_from(&self, hash: &InfoHash, ip: IpAddr) -> u32 {
        match self.find(hash).1 {
            Some(t) => self.address_load(t, &PeerKey::new(ip, 0), 0, u32::MAX).0,
            None => 0,
        }
    }

    /// Counts for one torrent; zeros when it is unknown.
    pub fn scrape(&self, hash: &InfoHash) -> Counts {
        match self.find(hash).1 {
            Some(t) => self.counts(t),
            None => Counts::default(),
        }
    }

    /// Totals over all torrents: (seeders, leechers, downloaded).
    pub fn totals(&self) -> (u64, u64, u64) {
        (0..self.torrents.len()).fold((0, 0, 0), |acc, t| {
            let c = self.counts(t);
            (
                acc.0 + u64::from(c.seeders),
                acc.1 + u64::from(c.leechers),
                acc.2 + u64::from(c.downloaded),
            )
        })
    }

    /// Sets a torrent's completed count (used when restoring saved state).
    /// Creates the torrent if there is room; returns false otherwise.
    pub fn set_downloaded(&mut self, hash: &InfoHash, downloaded: u32) -> bool {
        let t = match self.find(hash).1 {
            Some(t) => t,
            None if self.torrents.len() < self.max_torrents => self.push_torrent(hash),
            None => return false,
        };
        self.torrents[t].downloaded = downloaded;
        true
    }

    /// [`announce`](Self::announce), for the counts alone.
    pub fn announce_counts(
        &mut self,
        a: &Announce,
        now: u32,
        sel: &mut Selection,
    ) -> Result<Counts, Refusal> {
        self.announce(a, now, sel).map(|r| r.counts)
    }

    /// Records an announce at `now` (seconds on any monotonic clock) and fills
    /// `sel` with peers for the reply (never the announcing peer itself).
    pub fn announce(
        &mut self,
        a: &Announce,
        now: u32,
        sel: &mut Selection,
    ) -> Result<Announced, Refusal> {
        let counts = self.record(a, now, sel)?;
        Ok(Announced {
            counts,
            completed: std::mem::take(&mut self.completed),
            renewed_after: self.renewed_after.take(),
        })
    }

    fn record(&mut self, a: &Announce, now: u32, sel: &mut Selection) -> Result<Counts, Refusal> {
        sel.clear();
        self.renewed_after = None;
        self.completed = false;
        let key = PeerKey::new(a.ip, a.port);
        let tk = tick(now);
        let mut swept = false;
        let mut evicted = false;
        let mut charged = false;
        loop {
            let t = match self.find(&a.info_hash).1 {
                Some(t) => t,
                None if a.event == Event::Stopped => return Ok(Counts::default()),
                None => {
                    // Creating a torrent costs the source network a token,
                    // unless the operator listed it.
                    if !charged && !a.listed && !self.sources.take(a.ip, now) {
                        return Err(Refusal::Rate);
                    }
                    charged = true;
                    self.insert_torrent(&a.info_hash, now)?
                }
            };
            let mut found = self.find_peer(t, &key);
            if let Some(i) = found.filter(|&i| self.is_expired(t, key.family, i, tk)) {
                // Back after timing out: a new peer, not a returning one.
                self.remove_peer(t, key.family, i);
                found = None;
            }
            if a.event == Event::Stopped {
                if let Some(i) = found {
                    self.remove_peer(t, key.family, i);
                }
                let counts = self.counts(t);
                self.drop_if_unused(t);
                return Ok(counts);
            }
            let (pos, was_seeder) = match found {
                Some(i) => {
                    self.renewed_after = Some(self.peer_age(t, key.family, i, tk));
                    let was_seeder = i < self.seeds(t, key.family);
                    let i = self.set_seeder(t, key.family, i, a.seeder);
                    self.write_peer(t, key.family, i, &key, tk);
                    (i, was_seeder)
                }
                None => match self.insert_peer(t, &key, a.seeder, tk) {
                    Ok(i) => (i, false),
                    Err(admission::NoRoom::SeedersOnly) => {
                        // Answered, not stored: no seeder is evicted for a leecher.
                        self.admission.not_stored += 1;
                        self.select(t, key.family, None, a, sel);
                        return Ok(self.counts(t));
                    }
                    Err(admission::NoRoom::Arena) => {
                        self.drop_if_unused(t);
                        // Reclaim expired peers everywhere, then try once more.
                        if !swept && self.pressure_sweep(now) {
                            swept = true;
                            continue;
                        }
                        // Then take the room of a less valuable torrent.
                        if !evicted {
                            evicted = true;
                            if self.evict_torrent(Some(&a.info_hash), tk) {
                                continue;
                            }
                        }
                        return Err(Refusal::Full);
                    }
                },
            };
            if a.event == Event::Completed && !was_seeder {
                self.bump_downloaded(t);
                self.completed = true;
            }
            self.select(t, key.family, Some(pos), a, sel);
            return Ok(self.counts(t));
        }
    }

    pub(super) fn bump_downloaded(&mut self, t: usize) {
        let d = &mut self.torrents[t].downloaded;
        *d = d.saturating_add(1);
    }

    pub(super) fn counts(&self, t: usize) -> Counts {
        let mut c = Counts {
            downloaded: self.torrents[t].downloaded,
            ..Counts::default()
        };
        for off in self.torrents[t].lists {
            if off != NONE {
                let (len, seeds) = self.len_seeds(off as usize);
                c.seeders += seeds;
                c.leechers += len - seeds;
            }
        }
        c
    }
}
