//! The network pages (`mode=busy`, `mode=s24s`, `mode=woodpeckers`) in
//! opentracker's layout (`stats_return_busy_networks`): a `Networks, limit
//! /N:` line, one `%08d: ADDRESS` line per network (its network address),
//! busiest first, then an empty line.
//!
//! `s24s` counts the stored IPv4 peers per /28 and per /24 network. opentracker
//! builds a tree of every network; here two passes over the peers with fixed
//! tables on the stack find the same busiest networks in bounded memory
//! (Misra-Gries: any network holding more than 1/1025 of the peers survives
//! the first pass as a candidate; the second counts the candidates exactly).

use crate::swarm::Swarm;
use crate::wire::{Overflow, Writer};
use std::net::Ipv4Addr;

/// opentracker's finest network size in these lists (IPv4 /28).
const FINE: u8 = 28;
/// Its coarser one (IPv4 /24).
const COARSE: u8 = 24;
/// Networks each list shows (opentracker's amount for s24s).
const SHOWN: usize = 128;
/// Candidate networks kept per size.
const CANDIDATES: usize = 1024;
/// Hash slots for the candidates (half empty at most).
const SLOTS: usize = 2 * CANDIDATES;
/// A free slot: no /24 or /28 network address has its low four bits set.
const EMPTY: u32 = u32::MAX;

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

/// Network addresses and their peer counts in a fixed open-addressing table.
struct Counts {
    nets: [u32; SLOTS],
    counts: [u32; SLOTS],
    used: usize,
    mask: u32,
}

impl Counts {
    fn new(bits: u8) -> Counts {
        Counts {
            nets: [EMPTY; SLOTS],
            counts: [0; SLOTS],
            used: 0,
            mask: u32::MAX << (32 - u32::from(bits)),
        }
    }

    fn slot(&self, net: u32) -> Result<usize, usize> {
        let mut i = (net.wrapping_mul(0x9E37_79B1) >> 21) as usize % SLOTS;
        loop {
            match self.nets[i] {
                EMPTY => return Err(i),
                n if n == net => return Ok(i),
                _ => i = (i + 1) % SLOTS,
            }
        }
    }

    /// First pass: Misra-Gries. A network not held when the table is full
    /// takes one from every counter instead (and those at zero leave).
    fn offer(&mut self, ip: Ipv4Addr) {
        let net = u32::from(ip) & self.mask;
        match self.slot(net) {
            Ok(i) => self.counts[i] += 1,
            Err(i) if self.used < CANDIDATES => {
                self.nets[i] = net;
                self.counts[i] = 1;
                self.used += 1;
            }
            Err(_) => self.decrement_all(),
        }
    }

    fn decrement_all(&mut self) {
        let mut kept = [(EMPTY, 0u32); CANDIDATES];
        let mut n = 0;
        for (net, count) in self.nets.iter().zip(&self.counts) {
            if *net != EMPTY && *count > 1 {
                kept[n] = (*net, count - 1);
                n += 1;
            }
        }
        self.nets = [EMPTY; SLOTS];
        self.used = 0;
        for &(net, count) in &kept[..n] {
            if let Err(i) = self.slot(net) {
                self.nets[i] = net;
                self.counts[i] = count;
                self.used += 1;
            }
        }
    }

    /// Second pass: exact counts of the candidates.
    fn recount_start(&mut self) {
        self.counts = [0; SLOTS];
    }

    fn recount(&mut self, ip: Ipv4Addr) {
        if let Ok(i) = self.slot(u32::from(ip) & self.mask) {
            self.counts[i] += 1;
        }
    }

    /// The list: busiest first (ties: lower address first).
    fn put(&self, w: &mut Writer<'_>, bits: u8) -> Result<(), Overflow> {
        let mut top = [(0u32, 0u32); SHOWN];
        let mut len = 0;
        for (net, count) in self.nets.iter().zip(&self.counts) {
            if *net == EMPTY || *count == 0 {
                continue;
            }
            let ahead = |&(c, n): &(u32, u32)| c > *count || (c == *count && n < *net);
            let at = top[..len].partition_point(ahead);
            if at < SHOWN {
                let end = (len + 1).min(SHOWN);
                top.copy_within(at..end - 1, at + 1);
                top[at] = (*count, *net);
                len = end;
            }
        }
        header(w, bits)?;
        for (count, net) in &top[..len] {
            let digits = count.checked_ilog10().unwrap_or(0) + 1;
            for _ in digits..8 {
                w.put(b"0")?;
            }
            w.put_dec((*count).into())?;
            w.put(b": ")?;
            for (i, octet) in net.to_be_bytes().iter().enumerate() {
                if i > 0 {
                    w.put(b".")?;
                }
                w.put_dec((*octet).into())?;
            }
            w.put(b"\n")?;
        }
        w.put(b"\n")
    }
}

/// `s24s`: the busiest /28 and /24 networks by stored IPv4 peers,
/// opentracker's two sections.
pub fn put_slash24s(w: &mut Writer<'_>, swarm: &Swarm) -> Result<(), Overflow> {
    let (mut fine, mut coarse) = (Counts::new(FINE), Counts::new(COARSE));
    swarm.for_each_ipv4_peer(|ip| {
        fine.offer(ip);
        coarse.offer(ip);
    });
    fine.recount_start();
    coarse.recount_start();
    swarm.for_each_ipv4_peer(|ip| {
        fine.recount(ip);
        coarse.recount(ip);
    });
    fine.put(w, FINE)?;
    coarse.put(w, COARSE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(c: &Counts, bits: u8) -> String {
        let mut buf = [0u8; 8192];
        let mut w = Writer::new(&mut buf);
        c.put(&mut w, bits).unwrap();
        String::from_utf8_lossy(w.written()).into_owned()
    }

    #[test]
    fn heavy_networks_survive_a_flood_of_small_ones_with_exact_counts() {
        let mut c = Counts::new(24);
        let mut peers: Vec<Ipv4Addr> = Vec::new();
        // 3000 networks with one peer each, and three busy ones.
        for i in 0..3000u32 {
            peers.push(Ipv4Addr::from((10 << 24) | (i << 8) | 1));
        }
        for (net, n) in [
            ([192, 0, 2, 0], 900),
            ([198, 51, 100, 0], 700),
            ([203, 0, 113, 0], 700),
        ] {
            for host in 0..n {
                let [a, b, c, _] = net;
                peers.push(Ipv4Addr::new(a, b, c, (host % 250) as u8));
            }
        }
        // Interleaved, so the busy ones are not all at the start.
        peers.sort_by_key(|ip| u32::from(*ip).wrapping_mul(2_654_435_761));
        peers.iter().for_each(|&ip| c.offer(ip));
        c.recount_start();
        peers.iter().for_each(|&ip| c.recount(ip));
        let text = list(&c, 24);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[..4],
            [
                "Networks, limit /24:",
                "00000900: 192.0.2.0",
                "00000700: 198.51.100.0",
                "00000700: 203.0.113.0"
            ]
        );
        assert!(lines.len() <= 2 + SHOWN && text.ends_with("\n\n"));
        assert!(lines[4..lines.len() - 1]
            .iter()
            .all(|l| l.starts_with("00000001: 10.")));
    }
}
