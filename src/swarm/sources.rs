//! Per-source budgets for creating torrents: a token bucket per source
//! network (/24 for IPv4, /56 for IPv6) in a fixed hashed table, allocated
//! once inside the memory cap. Two networks that hash to the same bucket
//! share it; nothing is ever allocated per source.

use crate::region::Words;
use std::hash::Hasher;
use std::net::IpAddr;

/// Tokens are kept in sixtieths, so a per-minute rate refills by whole
/// units every second.
const UNIT: u32 = 60;

/// Buckets of new-torrent tokens, one per hashed source network.
pub struct SourceBuckets {
    /// Two words a bucket: tokens (in sixtieths), then the second it was last
    /// updated plus one (0: never used, i.e. full).
    words: Option<Words>,
    mask: usize,
    per_minute: u32,
    burst: u32,
    seed: u64,
}

impl SourceBuckets {
    /// Bytes a table of `buckets` buckets takes.
    pub fn bytes(buckets: usize) -> usize {
        buckets * 8
    }

    /// A table of `buckets` (rounded up to a power of two) buckets refilling `per_minute`
    /// tokens a minute up to `burst`; `per_minute == 0` turns the budget off
    /// and allocates nothing.
    pub fn new(buckets: usize, per_minute: u32, burst: u32, seed: u64) -> Result<Self, String> {
        let n = buckets.max(1).next_power_of_two();
        let words = if per_minute == 0 {
            None
        } else {
            Some(Words::new(n * 2)?)
        };
        Ok(SourceBuckets {
            words,
            mask: n - 1,
            per_minute,
            burst: burst.max(1),
            seed,
        })
    }

    /// Whether the budget is on.
    pub fn enabled(&self) -> bool {
        self.words.is_some()
    }

    fn bucket(&self, ip: IpAddr) -> usize {
        let mut h = fnv::FnvHasher::with_key(self.seed ^ 0x5eed_b0c4_e75a_11ce);
        match ip {
            IpAddr::V4(v4) => {
                h.write_u8(4);
                h.write(&v4.octets()[..3]);
            }
            IpAddr::V6(v6) => {
                h.write_u8(6);
                h.write(&v6.octets()[..7]);
            }
        }
        h.finish() as usize & self.mask
    }

    /// Takes one token from `ip`'s network at `now` (seconds); false when
    /// that network has used up its budget for now.
    pub fn take(&mut self, ip: IpAddr, now: u32) -> bool {
        let b = self.bucket(ip);
        let (per_minute, cap) = (self.per_minute, self.burst.saturating_mul(UNIT));
        let Some(words) = self.words.as_mut() else {
            return true;
        };
        let (level, stamp) = (words[2 * b], words[2 * b + 1]);
        let mut level = if stamp == 0 {
            cap
        } else {
            let elapsed = now.wrapping_sub(stamp - 1);
            // A clock that stepped back refills nothing.
            let elapsed = if elapsed > u32::MAX / 2 { 0 } else { elapsed };
            level
                .saturating_add(elapsed.saturating_mul(per_minute))
                .min(cap)
        };
        let ok = level >= UNIT;
        if ok {
            level -= UNIT;
        }
        words[2 * b] = level;
        words[2 * b + 1] = now.wrapping_add(1).max(1);
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_network_gets_its_burst_then_its_rate() {
        let mut s = SourceBuckets::new(256, 60, 5, 1).unwrap();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let same_net: IpAddr = "192.0.2.200".parse().unwrap();
        let other: IpAddr = "198.51.100.1".parse().unwrap();
        let took = (0..10).filter(|_| s.take(a, 100)).count();
        assert_eq!(took, 5, "the burst");
        assert!(!s.take(same_net, 100), "the /24 shares the bucket");
        assert!(s.take(other, 100), "another network has its own");
        // 60 a minute: one a second.
        assert!(s.take(a, 101));
        assert!(!s.take(a, 101));
        let took = (0..10).filter(|_| s.take(a, 104)).count();
        assert_eq!(took, 3);
        // A long pause refills to the burst, never past it.
        let took = (0..20).filter(|_| s.take(a, 100_000)).count();
        assert_eq!(took, 5);
    }

    #[test]
    fn ipv6_networks_are_slash_56_and_off_means_unlimited() {
        let mut s = SourceBuckets::new(1024, 60, 2, 7).unwrap();
        let a: IpAddr = "2001:db8:0:ff00::1".parse().unwrap();
        let same: IpAddr = "2001:db8:0:ffab:1::9".parse().unwrap();
        assert!(s.take(a, 0) && s.take(same, 0));
        assert!(!s.take(a, 0), "2001:db8:0:ff00::/56 used its burst");
        let mut off = SourceBuckets::new(1024, 0, 2, 7).unwrap();
        assert!(!off.enabled());
        assert!((0..1000).all(|_| off.take(a, 0)));
    }
}
