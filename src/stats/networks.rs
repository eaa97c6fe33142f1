//! The network pages (`mode=busy`, `mode=s24s`, `mode=woodpeckers`) in
//! opentracker's layout (`stats_return_busy_networks`): a `Networks, limit
//! /N:` line, one `%08d: ADDRESS` line per network, busiest first, then an
//! empty line.

use crate::swarm::Swarm;
use crate::wire::{Overflow, Writer};

/// opentracker's finest network size in these lists (IPv4 /28).
const FINE: u8 = 28;
/// Its coarser one (IPv4 /24).
const COARSE: u8 = 24;

fn header(w: &mut Writer<'_>, bits: u8) -> Result<(), Overflow> {
    w.put(b"Networks, limit /")?;
    w.put_dec(bits.into())?;
    w.put(b":\n")
}

/// `busy` and `woodpeckers`: smoltracker keeps no per-network request
/// counters (opentracker's WANT_LOG_NETWORKS / WANT_SPOT_WOODPECKER trees),
/// so the list is empty.
pub fn put_empty(w: &mut Writer<'_>) -> Result<(), Overflow> {
    header(w, FINE)?;
    w.put(b"\n")
}

/// `s24s`: the /28 and /24 lists, opentracker's two sections. The store has
/// no walk over peer addresses yet, so both lists are empty.
pub fn put_slash24s(w: &mut Writer<'_>, _swarm: &Swarm) -> Result<(), Overflow> {
    header(w, FINE)?;
    w.put(b"\n")?;
    header(w, COARSE)?;
    w.put(b"\n")
}
