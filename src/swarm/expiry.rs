//! Expiry: timed-out peers dropped, empty torrents freed, sweeps forced by
//! a full table rate-limited.

use super::*;

impl Swarm {
    /// Forgets peers idle for longer than the timeout, frees torrents left
    /// empty, and compacts the arena when much of it is garbage.
    ///
    /// A torrent left with only its completed count is kept, except when the
    /// table is nearly full *and* fewer than an eighth of its torrents lack a
    /// count: then nothing else could make room for a new release (torrents
    /// with counts are never evicted for a newcomer), so the counts go.
    /// While junk (torrents without counts) fills the table, admission
    /// evicts junk instead, and every count survives the flood.
    pub fn sweep(&mut self, now: u32) -> Swept {
        let tk = tick(now);
        let mut swept = Swept::default();
        let len = self.torrents.len();
        let pressure = len >= self.max_torrents - self.max_torrents / 8 && {
            let without_count = self.torrents.iter().filter(|t| t.downloaded == 0).count();
            without_count * 8 < len
        };
        for t in (0..self.torrents.len()).rev() {
            for family in [Family::V4, Family::V6] {
                swept.peers += self.expire_block(t, family, tk);
            }
            let torrent = &self.torrents[t];
            if torrent.lists == [NONE, NONE] && (torrent.downloaded == 0 || pressure) {
                self.remove_torrent(t);
                swept.torrents += 1;
            }
        }
        // Hand memory back once a quarter of what the arena has touched is garbage.
        if self.garbage > COMPACT_MIN_WORDS && self.garbage * 4 > self.bump {
            self.compact();
        }
        swept
    }

    /// Sweeps because a table is full, at most once per `PRESSURE_SWEEP_GAP`
    /// seconds so a full tracker does not sweep on every announce. Returns
    /// whether it swept. Torrent positions change: callers re-find theirs.
    pub(super) fn pressure_sweep(&mut self, now: u32) -> bool {
        let due = match self.last_pressure_sweep {
            Some(last) => now.wrapping_sub(last) >= PRESSURE_SWEEP_GAP,
            None => true,
        };
        if due {
            self.admission.pressure_sweeps += 1;
            self.last_pressure_sweep = Some(now);
            self.sweep(now);
        }
        due
    }

    /// Frees a torrent that holds no peers and no completed count.
    pub(super) fn drop_if_unused(&mut self, t: usize) {
        let torrent = &self.torrents[t];
        if torrent.lists == [NONE, NONE] && torrent.downloaded == 0 {
            self.remove_torrent(t);
        }
    }

    /// Drops timed-out peers from one block, keeping the order.
    pub(super) fn expire_block(&mut self, t: usize, family: Family, tk: u16) -> usize {
        let off = self.torrents[t].lists[family as usize];
        if off == NONE {
            return 0;
        }
        let off = off as usize;
        let (len, seeds) = self.len_seeds(off);
        let wpp = family.words();
        let mut write = 0usize;
        let mut new_seeds = 0u32;
        let mut oldest = 0u16;
        for i in 0..len as usize {
            let at = self.entry(off, family, i);
            let age = tk.wrapping_sub(self.arena[at + wpp - 1] as u16);
            if age <= self.timeout_ticks {
                self.move_entry(off, family, i, write);
                write += 1;
                oldest = oldest.max(age);
                if i < seeds as usize {
                    new_seeds += 1;
                }
            }
        }
        let removed = len as usize - write;
        if write == 0 {
            self.free_block(off);
            self.torrents[t].lists[family as usize] = NONE;
        } else {
            self.set_len_seeds(off, write as u32, new_seeds);
            self.set_oldest_bound(off, tk.wrapping_sub(oldest));
        }
        removed
    }
}
