//! Counts over the two swarms of one release (a hybrid torrent announced
//! under its v1 hash and its truncated v2 hash): each peer (address and
//! port) counted once.

use super::*;

impl Swarm {
    /// Whether the peer at `ip`:`port` is stored in `hash`'s swarm, and if so
    /// whether as a seeder.
    pub fn peer_state(&self, hash: &InfoHash, ip: IpAddr, port: u16) -> Option<bool> {
        let t = self.find(hash).1?;
        let key = PeerKey::new(ip, port);
        let i = self.find_peer(t, &key)?;
        Some(i < self.seeds(t, key.family))
    }

    /// Seeders and leechers of `a` and `b` together, each distinct peer once:
    /// a seeder when it seeds in either swarm, else a leecher. `downloaded`
    /// is the sum of both (a release subtracts the downloads it saw twice).
    pub fn release_counts(&self, a: &InfoHash, b: &InfoHash) -> Counts {
        let (ta, tb) = (self.find(a).1, self.find(b).1);
        let mut c = ta.map_or_else(Counts::default, |t| self.counts(t));
        let Some(tb) = tb.filter(|_| a != b) else {
            return c;
        };
        let cb = self.counts(tb);
        c.downloaded = c.downloaded.saturating_add(cb.downloaded);
        for family in [Family::V4, Family::V6] {
            let off = self.torrents[tb].lists[family as usize];
            if off == NONE {
                continue;
            }
            let off = off as usize;
            let (len, seeds) = self.len_seeds(off);
            let wpp = family.words();
            for i in 0..len as usize {
                let at = self.entry(off, family, i);
                let mut key = PeerKey {
                    family,
                    addr: [0; 4],
                    port: (self.arena[at + wpp - 1] >> 16) as u16,
                };
                key.addr[..wpp - 1].copy_from_slice(&self.arena[at..at + wpp - 1]);
                let seeder_b = i < seeds as usize;
                let in_a = ta.and_then(|t| {
                    let j = self.find_peer(t, &key)?;
                    Some(j < self.seeds(t, family))
                });
                match in_a {
                    None if seeder_b => c.seeders += 1,
                    None => c.leechers += 1,
                    // A leecher in `a`, seeding in `b`: a seeder.
                    Some(false) if seeder_b => {
                        c.leechers -= 1;
                        c.seeders += 1;
                    }
                    Some(_) => {}
                }
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    fn swarm() -> Swarm {
        let limits = Limits {
            max_memory: 1 << 20,
            max_torrents: Some(16),
            max_peers_per_torrent: 64,
            peer_timeout: 600,
        };
        Swarm::new(limits, 7).unwrap()
    }

    fn put(s: &mut Swarm, hash: u8, ip: IpAddr, port: u16, seeder: bool, event: Event) {
        let a = Announce {
            info_hash: [hash; 20],
            ip,
            port,
            seeder,
            event,
            numwant: 10,
            other_family: false,
            listed: true,
        };
        s.announce(&a, 100, &mut Selection::default()).unwrap();
    }

    #[test]
    fn distinct_peers_across_the_two_swarms() {
        let mut s = swarm();
        let ip = |n: u8| IpAddr::from([10, 0, 0, n]);
        let v6: IpAddr = "2001:db8::1".parse::<Ipv6Addr>().unwrap().into();
        // A hybrid client on both hashes, leeching on both.
        put(&mut s, 1, ip(1), 6881, false, Event::Started);
        put(&mut s, 2, ip(1), 6881, false, Event::Started);
        // The seeder on both.
        put(&mut s, 1, ip(2), 6881, true, Event::Started);
        put(&mut s, 2, ip(2), 6881, true, Event::Started);
        // A v1-only client; the same address on another port is another peer.
        put(&mut s, 1, ip(3), 51413, false, Event::Started);
        put(&mut s, 2, ip(3), 51414, false, Event::Started);
        // IPv6, on the v2 side only, seeding.
        put(&mut s, 2, v6, 6881, true, Event::Started);
        let c = s.release_counts(&[1; 20], &[2; 20]);
        assert_eq!((c.seeders, c.leechers), (2, 3));
        // Per hash, nothing changes.
        let (a, b) = (s.scrape(&[1; 20]), s.scrape(&[2; 20]));
        assert_eq!((a.seeders, a.leechers, b.seeders, b.leechers), (1, 2, 2, 2));
        // The hybrid client completes on v2 first: a seeder of the release.
        put(&mut s, 2, ip(1), 6881, true, Event::Completed);
        assert_eq!(s.peer_state(&[2; 20], ip(1), 6881), Some(true));
        assert_eq!(s.peer_state(&[1; 20], ip(1), 6881), Some(false));
        assert_eq!(s.peer_state(&[1; 20], ip(1), 1), None);
        assert_eq!(s.peer_state(&[9; 20], ip(1), 6881), None);
        let c = s.release_counts(&[1; 20], &[2; 20]);
        assert_eq!((c.seeders, c.leechers, c.downloaded), (3, 2, 1));
        // Either order gives the same peers.
        let d = s.release_counts(&[2; 20], &[1; 20]);
        assert_eq!((d.seeders, d.leechers), (3, 2));
        // One swarm unknown, or the same hash twice: that swarm's counts.
        assert_eq!(s.release_counts(&[1; 20], &[9; 20]), s.scrape(&[1; 20]));
        assert_eq!(s.release_counts(&[9; 20], &[1; 20]), s.scrape(&[1; 20]));
        assert_eq!(s.release_counts(&[2; 20], &[2; 20]), s.scrape(&[2; 20]));
    }
}
