//! `mode=top10` / `mode=top100`: the busiest torrents by peers and by seeds,
//! in opentracker's layout (`stats_top_txt`):
//!
//! ```text
//! Top 10 torrents by peers:
//! \t<count>\t<HEX40>
//! Top 10 torrents by seeds:
//! \t<count>\t<HEX40>
//! ```
//!
//! Busiest first, torrents with a count of 0 left out. Each list is found in
//! one pass over the torrent table with a fixed array on the stack (no
//! allocation), and written as one part of a streamed reply.

use crate::info_hash::InfoHash;
use crate::swarm::Swarm;
use crate::wire::{put_hex_upper, Overflow, Writer};

pub use crate::wire::stats_query::Amount;

/// What the torrents are ranked by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rank {
    /// Seeders plus leechers.
    Peers,
    /// Seeders.
    Seeds,
}

/// The most torrents any list holds.
const MAX: usize = Amount::Hundred as usize;

/// Longest list: header plus `MAX` lines of tab, 10 digits, tab, 40 hex, newline.
pub const LIST_MAX: usize = 32 + MAX * 53;

/// Writes one list: its header line and its torrents, busiest first (ties:
/// lower info hash first).
pub fn put_list(
    w: &mut Writer<'_>,
    swarm: &Swarm,
    amount: Amount,
    rank: Rank,
) -> Result<(), Overflow> {
    let n = amount as usize;
    let mut top = [(0u32, [0u8; 20]); MAX];
    let mut len = 0;
    for i in 0..swarm.torrent_count() {
        let Some((hash, c)) = swarm.torrent_at(i) else {
            continue;
        };
        let count = match rank {
            Rank::Peers => c.seeders.saturating_add(c.leechers),
            Rank::Seeds => c.seeders,
        };
        insert(&mut top[..n], &mut len, count, hash);
    }
    w.put(b"Top ")?;
    w.put_dec(n as u64)?;
    w.put(match rank {
        Rank::Peers => b" torrents by peers:\n".as_slice(),
        Rank::Seeds => b" torrents by seeds:\n",
    })?;
    for (count, hash) in &top[..len] {
        w.put(b"\t")?;
        w.put_dec((*count).into())?;
        w.put(b"\t")?;
        put_hex_upper(w, hash)?;
        w.put(b"\n")?;
    }
    Ok(())
}

/// Keeps `top[..len]` the busiest torrents seen, sorted busiest first.
fn insert(top: &mut [(u32, InfoHash)], len: &mut usize, count: u32, hash: InfoHash) {
    let ahead = |&(c, h): &(u32, InfoHash)| c > count || (c == count && h < hash);
    if count == 0 {
        return;
    }
    let at = top[..*len].partition_point(ahead);
    if at >= top.len() {
        // Full, and every one kept is busier.
        return;
    }
    let end = (*len + 1).min(top.len());
    top.copy_within(at..end - 1, at + 1);
    top[at] = (count, hash);
    *len = end;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_busiest_sorted_and_drops_zeros() {
        let mut top = [(0u32, [0u8; 20]); 3];
        let mut len = 0;
        for (count, h) in [(5, 1u8), (0, 2), (9, 3), (5, 0), (1, 4), (7, 5), (2, 6)] {
            insert(&mut top, &mut len, count, [h; 20]);
        }
        let got: Vec<(u32, u8)> = top[..len].iter().map(|(c, h)| (*c, h[0])).collect();
        assert_eq!(got, vec![(9, 3), (7, 5), (5, 0)]);
    }
}
