//! Whether to offer keep-alive to a client, from what its address did with
//! the last connections it was offered. Many HTTP/1.1 clients never send
//! `Connection: close` yet hang up right after one answer (rtorrent;
//! aquatic's `keep_alive = false`). For them a kept-alive answer is the
//! dearer one: the server must wait for their FIN, and a connection closed by
//! its client first costs both ends more than one the server closes after
//! its answer (bench/compare: the floor that waits for the FIN spends ~45 %
//! more CPU per response than the one closing first, and the client's port
//! stays in TIME-WAIT). So an address whose last [`MISSES`] kept-alive
//! connections all ended without a second request is answered `Connection:
//! close` (HTTP/1.1 allows it) and closed at once — except one connection
//! in [`PROBE`], still offered keep-alive, so a client that does reuse is
//! noticed again: its first reuse resets the count.
//!
//! Addresses are IPv4 addresses and IPv6 /64 prefixes, kept in a table of
//! [`SLOTS`] entries indexed by a hash: an address evicted by another is
//! simply offered keep-alive again. An address can only change how its own
//! connections are answered, and every request is answered either way.

use std::cell::RefCell;
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;

/// Kept-alive connections ending without reuse before an address is
/// answered `Connection: close`.
pub const MISSES: u8 = 4;
/// One connection in this many is still offered keep-alive.
pub const PROBE: u8 = 16;
/// Addresses remembered.
pub const SLOTS: usize = 256;

#[derive(Clone, Copy, Default)]
struct Entry {
    key: u64,
    misses: u8,
    offers: u8,
}

/// What recent clients did with kept-alive connections.
pub struct Reuse {
    table: RefCell<[Entry; SLOTS]>,
    hasher: fnv::FnvBuildHasher,
}

/// IPv4 address, or IPv6 /64 (IPv4-mapped ones as IPv4), as one number.
fn key(client: IpAddr) -> u64 {
    match client {
        IpAddr::V4(a) => u64::from(u32::from(a)) | 1 << 63,
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => key(IpAddr::V4(v4)),
            None => (u128::from(a) >> 64) as u64 & !(1 << 63),
        },
    }
}

impl Default for Reuse {
    fn default() -> Self {
        Reuse {
            table: RefCell::new([Entry::default(); SLOTS]),
            hasher: fnv::FnvBuildHasher::default(),
        }
    }
}

impl Reuse {
    fn slot(&self, key: u64) -> usize {
        let mut h = self.hasher.build_hasher();
        h.write_u64(key);
        h.finish() as usize % SLOTS
    }

    /// Whether to keep this client's connection alive after its answer, if
    /// it asks for that.
    pub fn offer(&self, client: IpAddr) -> bool {
        let k = key(client);
        let mut table = self.table.borrow_mut();
        let e = &mut table[self.slot(k)];
        if e.key != k || e.misses < MISSES {
            return true;
        }
        e.offers = e.offers.wrapping_add(1);
        e.offers % PROBE == 0
    }

    /// A kept-alive connection of this client ended (`reused`: it carried a
    /// second request) or carried its second request.
    pub fn record(&self, client: IpAddr, reused: bool) {
        let k = key(client);
        let mut table = self.table.borrow_mut();
        let e = &mut table[self.slot(k)];
        if e.key != k {
            if reused {
                return; // the default already
            }
            *e = Entry {
                key: k,
                ..Entry::default()
            };
        }
        e.misses = if reused {
            0
        } else {
            e.misses.saturating_add(1)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_address_that_never_reuses_is_told_to_close_but_for_probes() {
        let r = Reuse::default();
        let a = ip("192.0.2.7");
        for _ in 0..MISSES {
            assert!(r.offer(a));
            r.record(a, false);
        }
        let offers = (0..u32::from(PROBE) * 4).filter(|_| r.offer(a)).count();
        assert_eq!(offers, 4, "one probe in {PROBE}");
        assert!(r.offer(ip("192.0.2.8")), "another address is not affected");
        // A probe that is reused brings keep-alive back at once.
        r.record(a, true);
        assert!((0..10).all(|_| r.offer(a)));
    }

    #[test]
    fn one_reuse_among_the_misses_starts_the_count_again() {
        let r = Reuse::default();
        let a = ip("2001:db8::1");
        for _ in 0..MISSES - 1 {
            r.record(a, false);
        }
        r.record(a, true);
        r.record(a, false);
        assert!(r.offer(a));
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let r = Reuse::default();
        for i in 0..MISSES {
            r.record(ip(&format!("2001:db8:0:1::{}", i + 1)), false);
        }
        assert!(!r.offer(ip("2001:db8:0:1::99")));
        assert!(r.offer(ip("2001:db8:0:2::1")));
        for _ in 0..MISSES {
            r.record(ip("::ffff:198.51.100.1"), false);
        }
        assert!(!r.offer(ip("198.51.100.1")));
    }
}
