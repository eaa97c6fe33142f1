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
    super::put_metric(w, name, "counter", help, rows)
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
