//! Admission and eviction: which torrent gets a table slot and which peer
//! gives up its place when a torrent or the arena is full.

use super::*;

impl Swarm {
    pub(super) fn insert_torrent(&mut self, hash: &InfoHash, now: u32) -> Result<usize, Refusal> {
        if self.torrents.len() >= self.max_torrents {
            self.pressure_sweep(now);
            if self.torrents.len() >= self.max_torrents {
                return Err(Refusal::Full);
            }
        }
        Ok(self.push_torrent(hash))
    }

    /// A peer with the oldest timestamp in the block (ties: a random one).
    /// Scans from a random entry for one as old as the block's bound; when
    /// the bound is stale (no such peer) one full pass finds the oldest and
    /// tightens the bound, so a hot full torrent pays O(1) per replacement.
    pub(super) fn oldest_peer(&mut self, off: usize, family: Family, tk: u16) -> usize {
        let len = self.len_seeds(off).0 as usize;
        if len == 0 {
            return 0;
        }
        let bound_age = self.bound_age(off, tk);
        let wpp = family.words();
        let start = (self.next_random() % len as u64) as usize;
        let (mut best, mut best_age) = (start, 0u16);
        for j in 0..len {
            let i = if start + j < len {
                start + j
            } else {
                start + j - len
            };
            let age = tk.wrapping_sub(self.arena[self.entry(off, family, i) + wpp - 1] as u16);
            if age >= bound_age {
                return i;
            }
            if age > best_age {
                (best, best_age) = (i, age);
            }
        }
        self.set_oldest_bound(off, tk.wrapping_sub(best_age));
        best
    }

    /// Adds a peer in sorted position and returns it; `None` when not even one
    /// more peer fits in the arena.
    pub(super) fn insert_peer(
        &mut self,
        t: usize,
        key: &PeerKey,
        seeder: bool,
        tk: u16,
    ) -> Option<usize> {
        let family = key.family;
        let off = self.room_for_one(t, family, tk)?;
        let (len, seeds) = self.len_seeds(off);
        let (lo, hi) = if seeder { (0, seeds) } else { (seeds, len) };
        let pos = self
            .search(off, key, lo as usize, hi as usize)
            .unwrap_or_else(|p| p);
        self.open_gap(off, family, pos, seeder);
        self.write_peer(t, family, pos, key, tk);
        Some(pos)
    }

    /// Makes room for one more peer in a torrent's block: a new block, a
    /// larger block, or (full torrent or full arena) its own expired peers
    /// dropped, else its oldest peer replaced. Returns the block's offset.
    pub(super) fn room_for_one(&mut self, t: usize, family: Family, tk: u16) -> Option<usize> {
        let f = family as usize;
        if self.torrents[t].lists[f] != NONE {
            let off = self.torrents[t].lists[f] as usize;
            let (len, _) = self.len_seeds(off);
            if len < self.cap(off) {
                return Some(off);
            }
            if self.bound_age(off, tk) > self.timeout_ticks {
                self.expire_block(t, family, tk);
            }
        }
        let off = self.torrents[t].lists[f];
        if off == NONE {
            let block = self.new_block(t, family, self.class_for(INITIAL_CAP), tk)?;
            self.torrents[t].lists[f] = block as u32;
            return Some(block);
        }
        let off = off as usize;
        let (len, _) = self.len_seeds(off);
        let cap = self.cap(off);
        if len < cap {
            return Some(off);
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
                self.free_block(old);
                self.torrents[t].lists[f] = new as u32;
                return Some(new);
            }
        }
        let off = self.torrents[t].lists[f] as usize;
        let oldest = self.oldest_peer(off, family, tk);
        self.remove_peer(t, family, oldest);
        match self.torrents[t].lists[f] {
            // It held a single peer and its block went with it.
            NONE => {
                let block = self.new_block(t, family, 0, tk)?;
                self.torrents[t].lists[f] = block as u32;
                Some(block)
            }
            off => Some(off as usize),
        }
    }
}
