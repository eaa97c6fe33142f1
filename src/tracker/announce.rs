//! The announce, whichever protocol it came by: is the torrent served, what
//! does the store make of it (one call: the counts, whether a completion
//! counted, how long since the peer's previous announce), and the counters.
//! The protocol files decode the request before and write the answer after.

use super::Tracker;
use crate::access::NOT_AUTHORIZED;
use crate::swarm::{Announce, Counts};

/// Which protocol an announce came by, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Proto {
    /// HTTP, with the numwant it was served with (`mode=numwants`).
    Http(usize),
    /// UDP (BEP 15).
    Udp,
}

impl Tracker {
    /// Records `a` in the store, peers for the answer in `self.selection`.
    /// `Err`: the failure reason to send (the torrent is not served, or the
    /// store refused it), already counted.
    pub(super) fn announce(
        &mut self,
        mut a: Announce,
        now: u32,
        proto: Proto,
    ) -> Result<Counts, &'static str> {
        if !self.allowed(&a.info_hash) {
            self.stats.refused_access += 1;
            return Err(NOT_AUTHORIZED);
        }
        // Served under a whitelist means listed: never charged to the
        // new-torrent budget (one access lookup per announce, not two).
        a.listed = self.whitelisting();
        let done = match self.swarm.announce(&a, now, &mut self.selection) {
            Ok(done) => done,
            Err(refusal) => {
                self.stats.refused(refusal);
                return Err(refusal.message());
            }
        };
        if done.completed {
            // Per release (a hybrid's two hashes once) and per day.
            self.count_release_download(&a, now);
        }
        // Announces answered (opentracker's successful announces); refused
        // ones are counted apart, above.
        let http_numwant = match proto {
            Proto::Http(numwant) => {
                self.stats.tcp_announces += 1;
                Some(numwant)
            }
            Proto::Udp => {
                self.stats.udp_announces += 1;
                None
            }
        };
        self.stats
            .count_announce(done.completed, done.renewed_after, http_numwant);
        Ok(done.counts)
    }
}
