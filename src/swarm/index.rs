//! The torrent index: a dense table of torrents and an open-addressing
//! index over it (tagged slots, linear probing, backward-shift deletion).

use super::*;

impl Swarm {
    /// The keyed fnv hash of an info hash: its low bits pick the home slot,
    /// its top bits are the tag kept in the slot.
    pub(super) fn hash_of(&self, hash: &InfoHash) -> u64 {
        let mut h = fnv::FnvHasher::with_key(self.hash_seed);
        h.write(hash);
        h.finish()
    }

    pub(super) fn home(&self, hash: &InfoHash) -> usize {
        self.hash_of(hash) as usize & self.mask
    }

    /// An index slot's value for torrent `t`: tag bits over `t + 1`.
    pub(super) fn slot_value(h: u64, t: usize) -> u32 {
        ((h >> 56) as u32) << SLOT_BITS | (t as u32 + 1)
    }

    /// The index slot where `hash` is or would go, and its torrent if stored.
    /// Slots whose tag differs are skipped without reading their torrent.
    pub(super) fn find(&self, hash: &InfoHash) -> (usize, Option<usize>) {
        let h = self.hash_of(hash);
        let tag = (h >> 56) as u32;
        let mut s = h as usize & self.mask;
        loop {
            let v = self.index[s];
            if v == 0 {
                return (s, None);
            }
            let t = (v & SLOT_MASK) as usize - 1;
            if v >> SLOT_BITS == tag && self.torrents[t].hash == *hash {
                return (s, Some(t));
            }
            s = (s + 1) & self.mask;
        }
    }

    /// Adds a torrent (the caller checked there is room), doubling the index
    /// first when it would become more than three quarters full.
    pub(super) fn push_torrent(&mut self, hash: &InfoHash) -> usize {
        self.added += 1;
        let used = self.mask + 1;
        if (self.torrents.len() + 1) * 4 > used * 3 && used < self.index.len() {
            self.grow_index(used * 2);
        }
        let slot = self.find(hash).0;
        let t = self.torrents.len();
        self.torrents.push(Torrent {
            hash: *hash,
            downloaded: 0,
            lists: [NONE, NONE],
        });
        self.index[slot] = Self::slot_value(self.hash_of(hash), t);
        t
    }

    /// Rebuilds the index with `slots` slots from the dense torrent table.
    pub(super) fn grow_index(&mut self, slots: usize) {
        self.index[..self.mask + 1].fill(0);
        self.mask = slots - 1;
        for t in 0..self.torrents.len() {
            let hash = self.torrents[t].hash;
            let slot = self.find(&hash).0;
            self.index[slot] = Self::slot_value(self.hash_of(&hash), t);
        }
    }

    pub(super) fn remove_torrent(&mut self, t: usize) {
        for family in [Family::V4, Family::V6] {
            let off = self.torrents[t].lists[family as usize];
            if off != NONE {
                self.free_block(off as usize);
            }
        }
        let (slot, _) = self.find(&self.torrents[t].hash);
        self.unlink_slot(slot);
        let last = self.torrents.len() - 1;
        if t != last {
            // The last torrent moves into t: repoint its index slot and blocks.
            let (moved_slot, _) = self.find(&self.torrents[last].hash);
            self.index[moved_slot] = (self.index[moved_slot] & !SLOT_MASK) | (t as u32 + 1);
            for off in self.torrents[last].lists {
                if off != NONE {
                    let off = off as usize;
                    self.arena[off] = (self.arena[off] & MULTI) | t as u32;
                }
            }
        }
        self.torrents.swap_remove(t);
    }

    /// Backward-shift deletion for linear probing: no tombstones needed.
    pub(super) fn unlink_slot(&mut self, mut hole: usize) {
        self.index[hole] = 0;
        let mut j = hole;
        loop {
            j = (j + 1) & self.mask;
            let v = self.index[j];
            if v == 0 {
                return;
            }
            let home = self.home(&self.torrents[(v & SLOT_MASK) as usize - 1].hash);
            // Move the entry back if its home is not cyclically within (hole, j].
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                self.index[hole] = v;
                self.index[j] = 0;
                hole = j;
            }
        }
    }
}
