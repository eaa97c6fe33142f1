//! Peers inside a block: sorted search, insertion, removal, seeder moves.

use super::*;

impl Swarm {
    pub(super) fn entry_cmp(&self, at: usize, key: &PeerKey) -> Ordering {
        let wpp = key.family.words();
        let e = &self.arena[at..at + wpp];
        e[..wpp - 1]
            .cmp(key.addr_words())
            .then_with(|| ((e[wpp - 1] >> 16) as u16).cmp(&key.port))
    }

    /// Binary search for `key` among entries `lo..hi` of a block.
    pub(super) fn search(
        &self,
        off: usize,
        key: &PeerKey,
        lo: usize,
        hi: usize,
    ) -> Result<usize, usize> {
        let (mut l, mut h) = (lo, hi);
        while l < h {
            let mid = l + (h - l) / 2;
            match self.entry_cmp(self.entry(off, key.family, mid), key) {
                Ordering::Less => l = mid + 1,
                Ordering::Greater => h = mid,
                Ordering::Equal => return Ok(mid),
            }
        }
        Err(l)
    }

    /// Where `key` goes among the seeders (`seeder`) or the leechers of the
    /// block at `off`, as it stands now.
    pub(super) fn insertion_point(&self, off: usize, key: &PeerKey, seeder: bool) -> usize {
        let (len, seeds) = self.len_seeds(off);
        let (lo, hi) = if seeder { (0, seeds) } else { (seeds, len) };
        self.search(off, key, lo as usize, hi as usize)
            .unwrap_or_else(|p| p)
    }

    pub(super) fn find_peer(&self, t: usize, key: &PeerKey) -> Option<usize> {
        let off = self.torrents[t].lists[key.family as usize];
        if off == NONE {
            return None;
        }
        let off = off as usize;
        let (len, seeds) = self.len_seeds(off);
        let (len, seeds) = (len as usize, seeds as usize);
        self.search(off, key, 0, seeds)
            .or_else(|_| self.search(off, key, seeds, len))
            .ok()
    }

    /// Seconds since the peer's last announce (at the store's 16-second resolution).
    pub(super) fn peer_age(&self, t: usize, family: Family, i: usize, tk: u16) -> u32 {
        let off = self.torrents[t].lists[family as usize] as usize;
        let at = self.entry(off, family, i) + family.words() - 1;
        u32::from(tk.wrapping_sub(self.arena[at] as u16)) * TICK_SECS
    }

    pub(super) fn is_expired(&self, t: usize, family: Family, i: usize, tk: u16) -> bool {
        let off = self.torrents[t].lists[family as usize] as usize;
        let at = self.entry(off, family, i) + family.words() - 1;
        tk.wrapping_sub(self.arena[at] as u16) > self.timeout_ticks
    }

    pub(super) fn write_peer(
        &mut self,
        t: usize,
        family: Family,
        i: usize,
        key: &PeerKey,
        tk: u16,
    ) {
        let off = self.torrents[t].lists[family as usize] as usize;
        let at = self.entry(off, family, i);
        let wpp = family.words();
        self.arena[at..at + wpp - 1].copy_from_slice(key.addr_words());
        self.arena[at + wpp - 1] = (u32::from(key.port) << 16) | u32::from(tk);
        // Keep the bound below every timestamp even if the clock stepped back.
        if self.bound_age(off, tk) > OLDEST_MASK / 2 {
            self.set_oldest_bound(off, tk);
        }
    }

    pub(super) fn move_entry(&mut self, off: usize, family: Family, from: usize, to: usize) {
        if from != to {
            let src = self.entry(off, family, from);
            let dst = self.entry(off, family, to);
            self.arena.copy_within(src..src + family.words(), dst);
        }
    }

    /// Opens a gap at `pos` (shifting later entries up) and counts one more peer
    /// (a seeder if `seeder`). The block must have room.
    pub(super) fn open_gap(&mut self, off: usize, family: Family, pos: usize, seeder: bool) {
        let (len, seeds) = self.len_seeds(off);
        let from = self.entry(off, family, pos);
        let to = self.entry(off, family, len as usize);
        self.arena.copy_within(from..to, from + family.words());
        self.set_len_seeds(off, len + 1, seeds + u32::from(seeder));
    }

    /// Removes entry `i` (shifting later entries down).
    pub(super) fn close_gap(&mut self, off: usize, family: Family, i: usize) {
        let (len, seeds) = self.len_seeds(off);
        let from = self.entry(off, family, i + 1);
        let to = self.entry(off, family, len as usize);
        self.arena.copy_within(from..to, from - family.words());
        let was_seeder = (i as u32) < seeds;
        self.set_len_seeds(off, len - 1, seeds - u32::from(was_seeder));
    }

    /// Takes entry `from` out and opens a gap for a newcomer (a seeder if
    /// `seeder`) before entry `at`, both positions as the block stands now;
    /// only the entries between the two move, and the length stays.
    /// Returns the gap's position.
    pub(super) fn move_gap(
        &mut self,
        off: usize,
        family: Family,
        from: usize,
        at: usize,
        seeder: bool,
    ) -> usize {
        let (len, seeds) = self.len_seeds(off);
        let wpp = family.words();
        let gap = if at > from {
            let (lo, hi) = (
                self.entry(off, family, from + 1),
                self.entry(off, family, at),
            );
            self.arena.copy_within(lo..hi, lo - wpp);
            at - 1
        } else {
            let (lo, hi) = (self.entry(off, family, at), self.entry(off, family, from));
            self.arena.copy_within(lo..hi, lo + wpp);
            at
        };
        let was_seeder = (from as u32) < seeds;
        self.set_len_seeds(off, len, seeds - u32::from(was_seeder) + u32::from(seeder));
        gap
    }

    /// Moves peer `i` between the seeders and the leechers if its state changed;
    /// returns its new position.
    pub(super) fn set_seeder(&mut self, t: usize, family: Family, i: usize, seeder: bool) -> usize {
        let off = self.torrents[t].lists[family as usize] as usize;
        let (_, seeds) = self.len_seeds(off);
        if (i < seeds as usize) == seeder {
            return i;
        }
        let wpp = family.words();
        let at = self.entry(off, family, i);
        let mut saved = [0u32; 5];
        saved[..wpp].copy_from_slice(&self.arena[at..at + wpp]);
        let mut key = PeerKey {
            family,
            addr: [0; 4],
            port: (saved[wpp - 1] >> 16) as u16,
        };
        key.addr[..wpp - 1].copy_from_slice(&saved[..wpp - 1]);
        // In the other group, with entry `i` still in place (it is not in it).
        let to = self.insertion_point(off, &key, seeder);
        let pos = self.move_gap(off, family, i, to, seeder);
        let at = self.entry(off, family, pos);
        self.arena[at..at + wpp].copy_from_slice(&saved[..wpp]);
        pos
    }

    pub(super) fn remove_peer(&mut self, t: usize, family: Family, i: usize) {
        let off = self.torrents[t].lists[family as usize] as usize;
        self.close_gap(off, family, i);
        if self.len_seeds(off).0 == 0 {
            self.free_block(off);
            self.torrents[t].lists[family as usize] = NONE;
        }
    }
}
