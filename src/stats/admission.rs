//! Admission and fairness counters in the Prometheus page: torrents evicted
//! for newcomers, refusals by the per-network budget, peers replaced under
//! the per-address cap or evicted from full torrents, UDP requests left
//! unanswered because their source was not proven.

use super::Stats;
use crate::swarm::Swarm;
use crate::wire::{Overflow, Writer};

fn counter(
    w: &mut Writer<'_>,
    name: &str,
    help: &str,
    rows: &[(&str, u64)],
) -> Result<(), Overflow> {
    w.put(b"# HELP smoltracker_")?;
    w.put(name.as_bytes())?;
    w.put(b" ")?;
    w.put(help.as_bytes())?;
    w.put(b"\n# TYPE smoltracker_")?;
    w.put(name.as_bytes())?;
    w.put(b" counter\n")?;
    for (labels, n) in rows {
        w.put(b"smoltracker_")?;
        w.put(name.as_bytes())?;
        w.put(labels.as_bytes())?;
        w.put(b" ")?;
        w.put_dec(*n)?;
        w.put(b"\n")?;
    }
    Ok(())
}

impl Stats {
    /// The admission counters, Prometheus text format.
    pub(super) fn render_admission(
        &self,
        swarm: &Swarm,
        w: &mut Writer<'_>,
    ) -> Result<(), Overflow> {
        let a = swarm.admission();
        counter(
            w,
            "torrents_evicted_total",
            "Torrents evicted from a full table for a more valuable newcomer.",
            &[("", a.torrents_evicted)],
        )?;
        counter(
            w,
            "peers_replaced_total",
            "Peers replaced: by a newcomer of the same address past the per-address cap, or evicted from a full torrent.",
            &[
                ("{why=\"address_cap\"}", a.replaced_own),
                ("{why=\"torrent_full\"}", a.peers_evicted),
            ],
        )?;
        counter(
            w,
            "peers_not_stored_total",
            "Leechers answered but not stored: their full torrent holds only seeders.",
            &[("", a.not_stored)],
        )?;
        counter(
            w,
            "udp_unproven_total",
            "UDP requests left unanswered: no valid connection id proved their source.",
            &[("", self.udp_unproven)],
        )
    }
}
