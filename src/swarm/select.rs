//! Peer selection for announce replies.

use super::*;

impl Swarm {
    pub(super) fn next_random(&mut self) -> u64 {
        // xorshift64*: cheap, and good enough to spread peer selections.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub(super) fn select(
        &mut self,
        t: usize,
        family: Family,
        me: Option<usize>,
        a: &Announce,
        sel: &mut Selection,
    ) {
        let mut want = a.numwant.min(MAX_NUMWANT);
        let other = match family {
            Family::V4 => Family::V6,
            Family::V6 => Family::V4,
        };
        want -= self.select_from(t, family, me, a.seeder, want, sel);
        if a.other_family && want > 0 {
            self.select_from(t, other, None, a.seeder, want, sel);
        }
    }

    /// Copies up to `want` peers of one family into `sel`, starting at a random
    /// point; a seeder gets only leechers. Returns how many were copied.
    pub(super) fn select_from(
        &mut self,
        t: usize,
        family: Family,
        me: Option<usize>,
        seeder: bool,
        want: usize,
        sel: &mut Selection,
    ) -> usize {
        let off = self.torrents[t].lists[family as usize];
        if off == NONE || want == 0 {
            return 0;
        }
        let off = off as usize;
        let (len, seeds) = self.len_seeds(off);
        let lo = if seeder { seeds as usize } else { 0 };
        let n = len as usize - lo;
        let me = me.filter(|&m| m >= lo);
        let avail = n - usize::from(me.is_some());
        let take = want.min(avail);
        let start = if avail <= want {
            0
        } else {
            (self.next_random() % n as u64) as usize
        };
        let mut taken = 0;
        let mut i = start;
        while taken < take {
            let idx = lo + i;
            i = if i + 1 == n { 0 } else { i + 1 };
            if Some(idx) == me {
                continue;
            }
            let at = self.entry(off, family, idx);
            let wpp = family.words();
            let port = ((self.arena[at + wpp - 1] >> 16) as u16).to_be_bytes();
            match family {
                Family::V4 => {
                    let ip = self.arena[at].to_ne_bytes();
                    let rec = [ip[0], ip[1], ip[2], ip[3], port[0], port[1]];
                    if sel.v4.push(rec).is_err() {
                        break;
                    }
                }
                Family::V6 => {
                    let mut rec = [0u8; 18];
                    for k in 0..4 {
                        rec[k * 4..k * 4 + 4].copy_from_slice(&self.arena[at + k].to_ne_bytes());
                    }
                    rec[16..].copy_from_slice(&port);
                    if sel.v6.push(rec).is_err() {
                        break;
                    }
                }
            }
            taken += 1;
        }
        taken
    }
}
