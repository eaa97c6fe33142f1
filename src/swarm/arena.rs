//! Peer blocks and the arena: block headers, size classes, free lists and
//! mark-compact.

use super::*;

impl Swarm {
    // A block: [owner torrent, capacity | family bit, len | seeders << 16],
    // then `capacity` entries. Seeders come first; within the seeders and
    // within the leechers, entries are sorted by (address, port).
    // A free block: [FREE, size in words, next free block of its class].

    pub(super) fn len_seeds(&self, off: usize) -> (u32, u32) {
        let w = self.arena[off + 2];
        (w & 0xFFFF, w >> 16)
    }

    pub(super) fn set_len_seeds(&mut self, off: usize, len: u32, seeds: u32) {
        self.arena[off + 2] = len | (seeds << 16);
    }

    pub(super) fn cap(&self, off: usize) -> u32 {
        self.arena[off + 1] & CAP_MASK
    }

    /// No peer in the block is older than this tick (15 bits, wrapping).
    pub(super) fn oldest_bound(&self, off: usize) -> u16 {
        (self.arena[off + 1] >> OLDEST_SHIFT) as u16 & OLDEST_MASK
    }

    pub(super) fn set_oldest_bound(&mut self, off: usize, tk: u16) {
        let w = self.arena[off + 1] & (FAMILY_BIT | CAP_MASK);
        self.arena[off + 1] = w | u32::from(tk & OLDEST_MASK) << OLDEST_SHIFT;
    }

    /// Age in ticks of the block's oldest-timestamp bound at `tk`.
    pub(super) fn bound_age(&self, off: usize, tk: u16) -> u16 {
        tk.wrapping_sub(self.oldest_bound(off)) & OLDEST_MASK
    }

    pub(super) fn seeds(&self, t: usize, family: Family) -> usize {
        match self.torrents[t].lists[family as usize] {
            NONE => 0,
            off => self.len_seeds(off as usize).1 as usize,
        }
    }

    pub(super) fn block_words(cap: u32, family: Family) -> usize {
        HEADER + cap as usize * family.words()
    }

    pub(super) fn entry(&self, off: usize, family: Family, i: usize) -> usize {
        off + HEADER + i * family.words()
    }

    /// Capacity of size class `k` (never above `max_peers_per_torrent`).
    pub(super) fn class_cap(&self, k: usize) -> u32 {
        CLASSES[k].min(self.max_peers)
    }

    /// The smallest class holding at least `n` peers.
    pub(super) fn class_for(&self, n: u32) -> usize {
        CLASSES
            .iter()
            .position(|&c| c.min(self.max_peers) >= n)
            .unwrap_or(CLASSES.len() - 1)
    }

    pub(super) fn alloc(&mut self, family: Family, k: usize) -> Option<usize> {
        let words = Self::block_words(self.class_cap(k), family);
        let head = self.free[family as usize][k];
        if head != NONE {
            let off = head as usize;
            self.free[family as usize][k] = self.arena[off + 2];
            self.garbage -= words;
            return Some(off);
        }
        // Keep garbage under a quarter of the touched arena: compacting then
        // costs O(arena) once per that much freed, and RSS stays near live data.
        if self.garbage > COMPACT_MIN_WORDS && self.garbage * 4 > self.bump {
            self.compact();
        }
        if self.arena.len() - self.bump < words {
            // Compact only when it frees a worthwhile amount, so that a nearly
            // full arena does not compact on every announce.
            let worthwhile = words.max(self.arena.len() / 16);
            if self.garbage < worthwhile {
                return None;
            }
            self.compact();
            if self.arena.len() - self.bump < words {
                return None;
            }
        }
        let off = self.bump;
        self.bump += words;
        Some(off)
    }

    /// A block for torrent `t` whose peers all have timestamps from `tk` on.
    pub(super) fn new_block(
        &mut self,
        t: usize,
        family: Family,
        k: usize,
        tk: u16,
    ) -> Option<usize> {
        let off = self.alloc(family, k)?;
        self.arena[off] = t as u32;
        self.arena[off + 1] = self.class_cap(k) | if family == Family::V6 { FAMILY_BIT } else { 0 };
        self.arena[off + 2] = 0;
        self.set_oldest_bound(off, tk);
        Some(off)
    }

    pub(super) fn free_block(&mut self, off: usize) {
        let family = Family::of_block(self.arena[off + 1]);
        let cap = self.cap(off);
        let k = self.class_for(cap);
        let words = Self::block_words(cap, family);
        self.arena[off] = FREE;
        self.arena[off + 1] = words as u32;
        self.arena[off + 2] = self.free[family as usize][k];
        self.free[family as usize][k] = off as u32;
        self.garbage += words;
    }

    /// Slides live blocks to the front of the arena, trimming each to the
    /// smallest class with room for one more peer, repoints their torrents,
    /// empties the free lists and hands the pages past the end back.
    pub(super) fn compact(&mut self) {
        let mut read = 0;
        let mut write = 0;
        while read < self.bump {
            let owner = self.arena[read];
            if owner == FREE {
                read += self.arena[read + 1] as usize;
                continue;
            }
            let owner = owner & !MULTI;
            let family = Family::of_block(self.arena[read + 1]);
            let cap = self.cap(read);
            let (len, _) = self.len_seeds(read);
            let new_cap = self.class_cap(self.class_for(len + 1)).min(cap);
            let keep = Self::block_words(len, family);
            self.arena.copy_within(read..read + keep, write);
            self.arena[write + 1] = new_cap | (self.arena[write + 1] & !CAP_MASK);
            self.torrents[owner as usize].lists[family as usize] = write as u32;
            read += Self::block_words(cap, family);
            write += Self::block_words(new_cap, family);
        }
        self.bump = write;
        self.garbage = 0;
        self.free = [[NONE; CLASSES.len()]; 2];
        self.arena.release_from(write);
        self.compactions += 1;
    }
}
