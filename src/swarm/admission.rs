//! Admission and eviction: which torrent gets a table slot, which peer gives
//! up its place when a torrent or the arena is full, and how many places one
//! address may hold.
//!
//! - A full torrent table evicts the least valuable of a few sampled
//!   torrents for a newcomer: fewest distinct peer addresses, then no
//!   completed downloads, then least recently announced. A torrent announced
//!   from two or more addresses, or with completed downloads, is never
//!   evicted for a (single-peer) newcomer; the newcomer is refused only when
//!   every candidate is worth more.
//! - One IPv4 address or IPv6 /64 holds at most `max_peers_per_address`
//!   peers in a torrent; past that its newcomer replaces its own oldest peer.
//! - A full torrent evicts from its most-represented address first (its
//!   oldest peer), and never evicts a seeder to admit a leecher.

use super::*;

/// Torrents sampled as eviction candidates per new torrent in a full table.
pub const EVICTION_SAMPLES: usize = 8;

/// Why a torrent's block has no room for one more peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NoRoom {
    /// Not even one more block fits in the arena.
    Arena,
    /// A leecher in a full torrent holding only seeders: it is answered but
    /// not stored (a seeder is never evicted for a leecher).
    SeedersOnly,
}

impl Swarm {
    /// A table slot for a new torrent: free, freed by expiry, or taken from a
    /// less valuable torrent.
    pub(super) fn insert_torrent(&mut self, hash: &InfoHash, now: u32) -> Result<usize, Refusal> {
        if self.torrents.len() >= self.max_torrents {
            self.pressure_sweep(now);
            if self.torrents.len() >= self.max_torrents && !self.evict_torrent(None, tick(now)) {
                return Err(Refusal::Full);
            }
        }
        Ok(self.push_torrent(hash))
    }

    /// Evicts the least valuable of `EVICTION_SAMPLES` random torrents if it
    /// is worth less than a single-peer newcomer (one address at most and no
    /// completed downloads); never the torrent `keep`. Returns whether one went.
    pub(super) fn evict_torrent(&mut self, keep: Option<&InfoHash>, tk: u16) -> bool {
        let n = self.torrents.len();
        if n == 0 {
            return false;
        }
        // (distinct addresses, ticks since its last announce, position)
        let mut best: Option<(u8, u16, usize)> = None;
        for _ in 0..EVICTION_SAMPLES {
            let t = (self.next_random() % n as u64) as usize;
            let torrent = &self.torrents[t];
            if torrent.downloaded > 0 || keep == Some(&torrent.hash) {
                continue;
            }
            let (addresses, idle) = self.torrent_value(t, tk);
            if addresses >= 2 {
                continue;
            }
            let better = match best {
                None => true,
                Some((a, i, _)) => addresses < a || (addresses == a && idle > i),
            };
            if better {
                best = Some((addresses, idle, t));
            }
        }
        let Some((_, _, t)) = best else {
            return false;
        };
        self.remove_torrent(t);
        self.admission.torrents_evicted += 1;
        true
    }

    /// Distinct peer addresses of torrent `t` (IPv6 by /64), counted up to 2,
    /// and the ticks since its most recent announce. Stops at the second
    /// address, so a candidate costs at most `max_peers_per_address` + 1 reads.
    fn torrent_value(&self, t: usize, tk: u16) -> (u8, u16) {
        let mut first: Option<(Family, [u32; 2])> = None;
        let mut idle = u16::MAX;
        for family in [Family::V4, Family::V6] {
            let off = self.torrents[t].lists[family as usize];
            if off == NONE {
                continue;
            }
            let off = off as usize;
            let (len, _) = self.len_seeds(off);
            let (plen, wpp) = (family.prefix_words(), family.words());
            for i in 0..len as usize {
                let at = self.entry(off, family, i);
                let mut p = [0u32; 2];
                p[..plen].copy_from_slice(&self.arena[at..at + plen]);
                match first {
                    None => first = Some((family, p)),
                    Some(f) if f == (family, p) => {}
                    Some(_) => return (2, 0),
                }
                idle = idle.min(tk.wrapping_sub(self.arena[at + wpp - 1] as u16));
            }
        }
        (u8::from(first.is_some()), idle)
    }

    /// Entries `lo..hi` of a block (one sorted group) whose address starts
    /// with `prefix` (IPv4: the address; IPv6: its /64): a contiguous range.
    fn prefix_range(
        &self,
        off: usize,
        family: Family,
        prefix: &[u32],
        lo: usize,
        hi: usize,
    ) -> (usize, usize) {
        let plen = prefix.len();
        let bound = |upper: bool| {
            let (mut l, mut h) = (lo, hi);
            while l < h {
                let mid = l + (h - l) / 2;
                let at = self.entry(off, family, mid);
                let ord = self.arena[at..at + plen].cmp(prefix);
                if ord == Ordering::Less || (upper && ord == Ordering::Equal) {
                    l = mid + 1;
                } else {
                    h = mid;
                }
            }
            l
        };
        (bound(false), bound(true))
    }

    fn age_at(&self, off: usize, family: Family, i: usize, tk: u16) -> u16 {
        tk.wrapping_sub(self.arena[self.entry(off, family, i) + family.words() - 1] as u16)
    }

    /// How many peers `key`'s address (IPv6: /64) holds in torrent `t`, and
    /// (only when that is at least `oldest_from`) the position of its oldest.
    pub(super) fn address_load(
        &self,
        t: usize,
        key: &PeerKey,
        tk: u16,
        oldest_from: u32,
    ) -> (u32, usize) {
        let family = key.family;
        let off = self.torrents[t].lists[family as usize];
        if off == NONE {
            return (0, 0);
        }
        let off = off as usize;
        let (len, seeds) = self.len_seeds(off);
        let prefix = &key.addr[..family.prefix_words()];
        let ranges = [(0, seeds as usize), (seeds as usize, len as usize)]
            .map(|(lo, hi)| self.prefix_range(off, family, prefix, lo, hi));
        let count = ranges.iter().map(|(a, b)| (b - a) as u32).sum();
        let (mut oldest, mut oldest_age) = (None, 0);
        if count >= oldest_from {
            for i in ranges.into_iter().flat_map(|(a, b)| a..b) {
                let age = self.age_at(off, family, i, tk);
                if oldest.is_none() || age > oldest_age {
                    (oldest, oldest_age) = (Some(i), age);
                }
            }
        }
        (count, oldest.unwrap_or(0))
    }

    /// The peer a full torrent gives up for a newcomer: the oldest peer of
    /// its most-represented address (IPv6: /64), among leechers only when the
    /// newcomer is a leecher. `None` when there is no such peer. When every
    /// address holds one peer (no `MULTI` mark) or one address holds them all,
    /// that is the oldest eligible peer (O(1) amortized for a seeder newcomer,
    /// one pass over the leechers for a leecher); otherwise one merged pass
    /// over the two sorted groups.
    ///
    /// `near`: where the newcomer goes; among peers equally old, the first
    /// from there on is taken, so that few entries move to let it in.
    fn fair_victim(
        &mut self,
        off: usize,
        family: Family,
        seeder: bool,
        near: usize,
        tk: u16,
    ) -> Option<usize> {
        let (len, seeds) = self.len_seeds(off);
        let (len, seeds) = (len as usize, seeds as usize);
        let lo = if seeder { 0 } else { seeds };
        if lo >= len {
            return None;
        }
        let plen = family.prefix_words();
        let prefix = |s: &Self, i: usize| {
            let at = s.entry(off, family, i);
            let mut p = [0u32; 2];
            p[..plen].copy_from_slice(&s.arena[at..at + plen]);
            p
        };
        let first = prefix(self, 0);
        let one_address = prefix(self, len - 1) == first
            && (seeds == 0 || seeds == len || prefix(self, seeds - 1) == first)
            && (seeds == 0 || seeds == len || prefix(self, seeds) == first);
        if self.arena[off] & MULTI == 0 || one_address {
            return Some(self.oldest_in(off, family, (lo, len), near, tk));
        }
        // One pass over the two groups merged by address (both are sorted;
        // the same address may sit among the seeders and the leechers).
        let wpp = family.words();
        let key = |i: usize| {
            let at = off + HEADER + i * wpp;
            if plen == 1 {
                u64::from(self.arena[at])
            } else {
                u64::from(self.arena[at]) << 32 | u64::from(self.arena[at + 1])
            }
        };
        // (peers of the address, age of the victim, victim)
        let mut best: Option<(usize, u16, usize)> = None;
        let (mut i, mut j) = (0, seeds);
        while i < seeds || j < len {
            let k = match (i < seeds, j < len) {
                (true, true) => key(i).min(key(j)),
                (true, false) => key(i),
                _ => key(j),
            };
            let (i0, j0) = (i, j);
            while i < seeds && key(i) == k {
                i += 1;
            }
            while j < len && key(j) == k {
                j += 1;
            }
            let count = i - i0 + j - j0;
            if best.is_some_and(|(c, _, _)| count < c) {
                continue;
            }
            let eligible = if seeder { i0..i } else { 0..0 };
            for v in eligible.chain(j0..j) {
                let age = tk.wrapping_sub(self.arena[off + HEADER + v * wpp + wpp - 1] as u16);
                let better = match best {
                    None => true,
                    Some((c, a, _)) => count > c || age > a,
                };
                if better {
                    best = Some((count, age, v));
                }
            }
        }
        if best.is_some_and(|(count, _, _)| count == 1) {
            // Every address holds one peer again: the cheap path until one
            // holds two.
            self.arena[off] &= !MULTI;
        }
        best.map(|(_, _, v)| v)
    }

    /// A peer with the oldest timestamp among entries `lo..hi` (ties: the
    /// first from `near` on, wrapping). Scans from `near` for one as old as
    /// the block's bound; when none is (the bound is stale), one pass finds
    /// the oldest, and tightens the bound when the range is the whole block
    /// — so a hot full torrent pays O(1) per replacement, and the victim
    /// lies close to where its replacement goes.
    fn oldest_in(
        &mut self,
        off: usize,
        family: Family,
        (lo, hi): (usize, usize),
        near: usize,
        tk: u16,
    ) -> usize {
        let n = hi - lo;
        let bound_age = self.bound_age(off, tk);
        let start = near.clamp(lo, hi - 1) - lo;
        let (mut best, mut best_age) = (lo + start, 0u16);
        for k in 0..n {
            let i = lo
                + if start + k < n {
                    start + k
                } else {
                    start + k - n
                };
            let age = self.age_at(off, family, i, tk);
            if age >= bound_age {
                return i;
            }
            if age > best_age {
                (best, best_age) = (i, age);
            }
        }
        if lo == 0 && hi == self.len_seeds(off).0 as usize {
            self.set_oldest_bound(off, tk.wrapping_sub(best_age));
        }
        best
    }

    /// Adds a peer in sorted position and returns it. A newcomer whose
    /// address already holds `max_peers_per_address` peers replaces that
    /// address's oldest one. A peer that gives up its place for the newcomer
    /// is replaced in place: only the entries between the two positions move
    /// (a full hot torrent takes a newcomer in every announce).
    pub(super) fn insert_peer(
        &mut self,
        t: usize,
        key: &PeerKey,
        seeder: bool,
        tk: u16,
    ) -> Result<usize, NoRoom> {
        let family = key.family;
        let (load, own_oldest) = self.address_load(t, key, tk, self.max_per_address);
        let list = self.torrents[t].lists[family as usize];
        let (off, replace) = if load >= self.max_per_address && list != NONE {
            self.admission.replaced_own += 1;
            let off = list as usize;
            (
                off,
                Some((own_oldest, self.insertion_point(off, key, seeder))),
            )
        } else {
            self.room_for_one(t, key, seeder, tk)?
        };
        if load >= 1 {
            // Its address now holds two or more of the block's peers.
            self.arena[off] |= MULTI;
        }
        let pos = match replace {
            Some((victim, at)) => self.move_gap(off, family, victim, at, seeder),
            None => {
                let at = self.insertion_point(off, key, seeder);
                self.open_gap(off, family, at, seeder);
                at
            }
        };
        self.write_peer(t, family, pos, key, tk);
        Ok(pos)
    }

    /// Makes room for one more peer in a torrent's block: a new block, a
    /// larger block, or (full torrent or full arena) its own expired peers
    /// dropped, else a fair victim chosen. Returns the block's offset and, with
    /// a victim, its position and the newcomer's insertion point (the caller
    /// replaces it; it is counted evicted).
    pub(super) fn room_for_one(
        &mut self,
        t: usize,
        key: &PeerKey,
        seeder: bool,
        tk: u16,
    ) -> Result<(usize, Option<(usize, usize)>), NoRoom> {
        let family = key.family;
        let f = family as usize;
        if self.torrents[t].lists[f] != NONE {
            let off = self.torrents[t].lists[f] as usize;
            let (len, _) = self.len_seeds(off);
            if len < self.cap(off) {
                return Ok((off, None));
            }
            if self.bound_age(off, tk) > self.timeout_ticks {
                self.expire_block(t, family, tk);
            }
        }
        let off = self.torrents[t].lists[f];
        if off == NONE {
            let block = self
                .new_block(t, family, self.class_for(INITIAL_CAP), tk)
                .ok_or(NoRoom::Arena)?;
            self.torrents[t].lists[f] = block as u32;
            return Ok((block, None));
        }
        let off = off as usize;
        let (len, _) = self.len_seeds(off);
        let cap = self.cap(off);
        if len < cap {
            return Ok((off, None));
        }
        if len < self.max_peers {
            if let Some(new) = self.new_block(t, family, self.class_for(cap + 1), tk) {
                // Allocation may have compacted the arena and moved the old block.
                let old = self.torrents[t].lists[f] as usize;
                let words = len as usize * family.words();
                self.arena
                    .copy_within(old + 2..old + HEADER + words, new + 2);
                let bound = self.oldest_bound(old);
                self.set_oldest_bound(new, bound);
                self.arena[new] |= self.arena[old] & MULTI;
                self.free_block(old);
                self.torrents[t].lists[f] = new as u32;
                return Ok((new, None));
            }
        }
        let off = self.torrents[t].lists[f] as usize;
        let at = self.insertion_point(off, key, seeder);
        let victim = self
            .fair_victim(off, family, seeder, at, tk)
            .ok_or(NoRoom::SeedersOnly)?;
        self.admission.peers_evicted += 1;
        Ok((off, Some((victim, at))))
    }
}
