//! UDP (BEP 15): connect, announce and scrape, with connection ids that
//! prove a request's source before anything longer than it goes back
//! (opentracker's `ot_udp.c`).

use super::announce::Proto;
use super::{canonical_ip, Tracker};
use crate::swarm::Announce;
use crate::wire::udp;
use crate::wire::{Overflow, Writer};
use std::net::IpAddr;

/// Most IPv6 peers in one UDP reply (keeps it near 1200 bytes).
const UDP_MAX_V6: usize = 66;

impl Tracker {
    /// Answers one datagram from `from`; returns the reply length, or `None`
    /// for silence. Only a connect, or a request whose connection id proves
    /// that `from` is really its source, is answered: a reply to a spoofed
    /// source would aim the tracker at a victim, so unproven requests (forged,
    /// zero, expired or someone else's connection id) get nothing back, and
    /// no reply is ever longer than its request unless the source is proven.
    pub fn udp(&mut self, packet: &[u8], from: IpAddr, now: u32, out: &mut [u8]) -> Option<usize> {
        let from = canonical_ip(from);
        self.stats.udp_requests += 1;
        let mut w = Writer::new(out);
        let request = udp::parse(packet);
        let proven = match &request {
            Err(udp::ParseError::TooShort) => false,
            // Its 16-byte reply is no longer than the 16-byte request.
            Ok(udp::Request::Connect { .. }) => true,
            Ok(udp::Request::Announce(r)) => self.conn_ids.check(from, r.connection_id, now),
            Ok(udp::Request::Scrape { connection_id, .. })
            | Err(udp::ParseError::Invalid { connection_id, .. }) => {
                self.conn_ids.check(from, *connection_id, now)
            }
        };
        if !proven {
            self.stats.udp_errors += 1;
            if packet.len() >= 16 {
                self.stats.udp_unproven += 1;
            }
            return None;
        }
        let result = match request {
            Err(udp::ParseError::TooShort) => return None,
            Err(udp::ParseError::Invalid {
                transaction_id,
                message,
                ..
            }) => self.udp_error(&mut w, transaction_id, message),
            Ok(udp::Request::Connect { transaction_id }) => {
                self.stats.udp_connects += 1;
                udp::put_connect(&mut w, transaction_id, self.conn_ids.issue(from, now))
            }
            Ok(udp::Request::Announce(r)) => self.udp_announce(&r, from, now, &mut w),
            Ok(udp::Request::Scrape {
                transaction_id,
                hashes,
                ..
            }) => {
                self.stats.udp_scrapes += 1;
                self.udp_scrape(transaction_id, hashes, &mut w)
            }
        };
        result.ok().map(|()| w.len())
    }

    fn udp_error(
        &mut self,
        w: &mut Writer<'_>,
        transaction_id: u32,
        message: &str,
    ) -> Result<(), Overflow> {
        self.stats.udp_errors += 1;
        udp::put_error(w, transaction_id, message)
    }

    fn udp_announce(
        &mut self,
        r: &udp::AnnounceRequest,
        from: IpAddr,
        now: u32,
        w: &mut Writer<'_>,
    ) -> Result<(), Overflow> {
        let wanted = u32::try_from(r.num_want).unwrap_or(self.settings.numwant_default);
        let mut numwant = wanted.min(self.settings.numwant_max) as usize;
        if from.is_ipv6() {
            numwant = numwant.min(UDP_MAX_V6);
        }
        let a = Announce {
            info_hash: r.info_hash,
            ip: from,
            port: r.port,
            seeder: r.left == 0,
            event: r.event,
            numwant,
            other_family: false,
            listed: false,
        };
        let counts = match self.announce(a, now, Proto::Udp) {
            Ok(c) => c,
            Err(reason) => return self.udp_error(w, r.transaction_id, reason),
        };
        udp::put_announce_head(
            w,
            r.transaction_id,
            self.settings.interval,
            counts.leechers,
            counts.seeders,
        )?;
        w.put(self.selection.v4.as_flattened())?;
        w.put(self.selection.v6.as_flattened())?;
        Ok(())
    }

    fn udp_scrape(
        &mut self,
        transaction_id: u32,
        hashes: &[u8],
        w: &mut Writer<'_>,
    ) -> Result<(), Overflow> {
        udp::put_scrape_head(w, transaction_id)?;
        for h in hashes.chunks_exact(20) {
            let mut hash = [0u8; 20];
            hash.copy_from_slice(h);
            let c = self.swarm.scrape(&hash);
            udp::put_scrape_entry(w, c.seeders, c.downloaded, c.leechers)?;
        }
        Ok(())
    }
}
