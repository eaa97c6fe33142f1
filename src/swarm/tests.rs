//! Unit and model tests of the store.

use super::*;
use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

fn limits(mem: usize, torrents: usize, peers: u32) -> Limits {
    Limits {
        max_memory: mem,
        max_torrents: Some(torrents),
        max_peers_per_torrent: peers,
        peer_timeout: 2700,
    }
}

fn ann(hash: u8, ip: [u8; 4], port: u16, seeder: bool, event: Event) -> Announce {
    Announce {
        info_hash: [hash; 20],
        ip: IpAddr::V4(Ipv4Addr::from(ip)),
        port,
        seeder,
        event,
        numwant: 50,
        other_family: false,
        listed: false,
    }
}

#[test]
fn first_announce_creates_torrent_and_excludes_requester() {
    let mut s = Swarm::new(limits(1 << 20, 64, 100), 1).unwrap();
    let mut sel = Selection::default();
    let c = s
        .announce_counts(
            &ann(1, [10, 0, 0, 1], 6881, false, Event::Started),
            0,
            &mut sel,
        )
        .unwrap();
    assert_eq!(
        c,
        Counts {
            seeders: 0,
            leechers: 1,
            downloaded: 0
        }
    );
    assert!(sel.v4.is_empty());
    let c = s
        .announce_counts(
            &ann(1, [10, 0, 0, 2], 6882, true, Event::Started),
            0,
            &mut sel,
        )
        .unwrap();
    assert_eq!(
        c,
        Counts {
            seeders: 1,
            leechers: 1,
            downloaded: 0
        }
    );
    assert_eq!(sel.v4.as_slice(), &[[10, 0, 0, 1, 0x1a, 0xe1]]);
    // A leecher re-announcing sees the seeder, never itself.
    s.announce_counts(
        &ann(1, [10, 0, 0, 1], 6881, false, Event::None),
        0,
        &mut sel,
    )
    .unwrap();
    assert_eq!(sel.v4.as_slice(), &[[10, 0, 0, 2, 0x1a, 0xe2]]);
    assert_eq!(s.torrent_count(), 1);
}

#[test]
fn peers_are_keyed_by_ip_and_port() {
    let mut s = Swarm::new(limits(1 << 20, 64, 100), 1).unwrap();
    let mut sel = Selection::default();
    for _ in 0..3 {
        s.announce_counts(&ann(1, [10, 0, 0, 1], 1, false, Event::None), 0, &mut sel)
            .unwrap();
    }
    let c = s
        .announce_counts(&ann(1, [10, 0, 0, 1], 2, false, Event::None), 0, &mut sel)
        .unwrap();
    assert_eq!(c.leechers, 2);
}

#[test]
fn completed_counts_once_and_moves_peer_to_seeders() {
    let mut s = Swarm::new(limits(1 << 20, 64, 100), 1).unwrap();
    let mut sel = Selection::default();
    s.announce_counts(
        &ann(1, [10, 0, 0, 1], 1, false, Event::Started),
        0,
        &mut sel,
    )
    .unwrap();
    let c = s
        .announce_counts(
            &ann(1, [10, 0, 0, 1], 1, true, Event::Completed),
            0,
            &mut sel,
        )
        .unwrap();
    assert_eq!(
        c,
        Counts {
            seeders: 1,
            leechers: 0,
            downloaded: 1
        }
    );
    let c = s
        .announce_counts(
            &ann(1, [10, 0, 0, 1], 1, true, Event::Completed),
            0,
            &mut sel,
        )
        .unwrap();
    assert_eq!(
        c.downloaded, 1,
        "a repeated completed from a seeder is not a new download"
    );
}

#[test]
fn stopped_event_removes_peer_and_frees_empty_torrent() {
    let mut s = Swarm::new(limits(1 << 20, 64, 100), 1).unwrap();
    let mut sel = Selection::default();
    s.announce_counts(&ann(1, [10, 0, 0, 1], 1, true, Event::Started), 0, &mut sel)
        .unwrap();
    let c = s
        .announce_counts(&ann(1, [10, 0, 0, 1], 1, true, Event::Stopped), 0, &mut sel)
        .unwrap();
    assert_eq!(c, Counts::default());
    assert_eq!(s.torrent_count(), 0);
    // Stopped for an unknown torrent creates nothing.
    s.announce_counts(&ann(2, [10, 0, 0, 1], 1, true, Event::Stopped), 0, &mut sel)
        .unwrap();
    assert_eq!(s.torrent_count(), 0);
}

#[test]
fn seeders_get_only_leechers() {
    let mut s = Swarm::new(limits(1 << 20, 64, 100), 1).unwrap();
    let mut sel = Selection::default();
    s.announce_counts(&ann(1, [10, 0, 0, 1], 1, true, Event::None), 0, &mut sel)
        .unwrap();
    s.announce_counts(&ann(1, [10, 0, 0, 2], 1, false, Event::None), 0, &mut sel)
        .unwrap();
    s.announce_counts(&ann(1, [10, 0, 0, 3], 1, true, Event::None), 0, &mut sel)
        .unwrap();
    assert_eq!(sel.v4.as_slice(), &[[10, 0, 0, 2, 0, 1]]);
}

#[test]
fn numwant_limits_and_selection_is_distinct() {
    let mut s = Swarm::new(limits(1 << 20, 64, 1000), 7).unwrap();
    let mut sel = Selection::default();
    for i in 0..300u16 {
        let ip = [10, 0, (i >> 8) as u8, i as u8];
        s.announce_counts(&ann(1, ip, 1000 + i, false, Event::None), 0, &mut sel)
            .unwrap();
    }
    let mut a = ann(1, [10, 0, 0, 5], 1005, false, Event::None);
    a.numwant = 200;
    s.announce_counts(&a, 0, &mut sel).unwrap();
    assert_eq!(sel.v4.len(), 200);
    let mut seen: Vec<_> = sel.v4.iter().collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 200);
    assert!(!sel.v4.contains(&[10, 0, 0, 5, 0x03, 0xed]));
    a.numwant = 0;
    s.announce_counts(&a, 0, &mut sel).unwrap();
    assert!(sel.v4.is_empty());
}

#[test]
fn ipv6_peers_are_separate_and_optionally_shared() {
    let mut s = Swarm::new(limits(1 << 20, 64, 100), 1).unwrap();
    let mut sel = Selection::default();
    s.announce_counts(&ann(1, [10, 0, 0, 1], 1, true, Event::None), 0, &mut sel)
        .unwrap();
    let mut six = ann(1, [0; 4], 2, false, Event::None);
    six.ip = IpAddr::V6(Ipv6Addr::LOCALHOST);
    let c = s.announce_counts(&six, 0, &mut sel).unwrap();
    assert_eq!(
        c,
        Counts {
            seeders: 1,
            leechers: 1,
            downloaded: 0
        }
    );
    assert!(sel.v4.is_empty() && sel.v6.is_empty());
    six.other_family = true;
    s.announce_counts(&six, 0, &mut sel).unwrap();
    assert_eq!(sel.v4.as_slice(), &[[10, 0, 0, 1, 0, 1]]);
    let mut four = ann(1, [10, 0, 0, 1], 1, false, Event::None);
    four.other_family = true;
    s.announce_counts(&four, 0, &mut sel).unwrap();
    let mut expect = [0u8; 18];
    expect[15] = 1;
    expect[17] = 2;
    assert_eq!(sel.v6.as_slice(), &[expect]);
}

#[test]
fn expiry_frees_peers_and_torrents() {
    let mut s = Swarm::new(limits(1 << 20, 64, 100), 1).unwrap();
    let mut sel = Selection::default();
    s.announce_counts(&ann(1, [10, 0, 0, 1], 1, false, Event::None), 0, &mut sel)
        .unwrap();
    s.announce_counts(
        &ann(2, [10, 0, 0, 1], 1, false, Event::None),
        2000,
        &mut sel,
    )
    .unwrap();
    assert_eq!(s.sweep(2700), Swept::default());
    assert_eq!(
        s.sweep(2800),
        Swept {
            peers: 1,
            torrents: 1
        }
    );
    assert_eq!(s.torrent_count(), 1);
    assert_eq!(s.scrape(&[2; 20]).leechers, 1);
    assert_eq!(
        s.sweep(5000),
        Swept {
            peers: 1,
            torrents: 1
        }
    );
    assert_eq!(s.torrent_count(), 0);
    assert_eq!(
        s.bump - s.garbage,
        0,
        "all arena space is garbage once empty"
    );
}

#[test]
fn full_torrent_replaces_its_oldest_peer() {
    let mut s = Swarm::new(limits(1 << 20, 64, 3), 1).unwrap();
    let mut sel = Selection::default();
    for (i, now) in [(1u8, 100u32), (2, 0), (3, 200)] {
        s.announce_counts(&ann(1, [10, 0, 0, i], 1, false, Event::None), now, &mut sel)
            .unwrap();
    }
    let c = s
        .announce_counts(&ann(1, [10, 0, 0, 4], 1, false, Event::None), 300, &mut sel)
        .unwrap();
    assert_eq!(c.leechers, 3);
    let mut got: Vec<u8> = sel.v4.iter().map(|r| r[3]).collect();
    got.sort();
    assert_eq!(got, vec![1, 3], "peer 2 (oldest) was replaced");
}

/// Thousands of torrents added and removed: the tagged index grows,
/// finds every torrent, and backward-shift deletion keeps it consistent.
#[test]
fn index_grows_and_deletes_under_many_torrents() {
    let mut s = Swarm::with_policy(limits(4 << 20, 5000, 8), no_budget(), 9).unwrap();
    let mut sel = Selection::default();
    let hash = |i: u32| {
        let mut h = [0u8; 20];
        h[..4].copy_from_slice(&i.wrapping_mul(2_654_435_761).to_le_bytes());
        h[4..8].copy_from_slice(&i.to_be_bytes());
        h
    };
    let mut a = ann(0, [10, 0, 0, 1], 1, false, Event::None);
    for i in 0..5000 {
        a.info_hash = hash(i);
        s.announce_counts(&a, 0, &mut sel).unwrap();
    }
    assert_eq!(s.torrent_count(), 5000);
    check_invariants(&s);
    // Drop every third torrent (a stopped event frees an empty torrent).
    a.event = Event::Stopped;
    for i in (0..5000).step_by(3) {
        a.info_hash = hash(i);
        s.announce_counts(&a, 1, &mut sel).unwrap();
    }
    check_invariants(&s);
    for i in 0..5000 {
        let c = s.scrape(&hash(i));
        assert_eq!(c.leechers, u32::from(i % 3 != 0), "torrent {i}");
    }
    assert_eq!(s.scrape(&hash(5000)), Counts::default());
}

/// A full torrent under churn (one peer per address): expired peers go
/// first, otherwise the replaced peer is always one of the oldest (at tick
/// resolution).
#[test]
fn full_torrent_churn_replaces_only_expired_or_oldest_peers() {
    let mut lim = limits(1 << 20, 4, 16);
    lim.peer_timeout = 160;
    let mut s = Swarm::new(lim, 5).unwrap();
    let mut sel = Selection::default();
    let timeout = s.timeout_ticks as u32;
    // Model: peer (host, port) -> tick of its last announce.
    let mut model: HashMap<(u8, u16), u32> = HashMap::new();
    let (mut replaced, mut expiries) = (0, 0);
    let mut x = 0x9E37_79B9u64;
    let mut now = 0u32;
    for step in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // Mostly a busy torrent; now and then a quiet spell lets peers expire.
        now += if x % 64 == 0 { 100 } else { (x % 7) as u32 };
        let tk = now / TICK_SECS;
        // One peer per host: the fair victim is then simply an oldest peer.
        let key = ((x >> 8) as u8 % 40, 1);
        let mut a = ann(7, [10, 0, 1, key.0], key.1, false, Event::None);
        a.numwant = 200;
        s.announce_counts(&a, now, &mut sel).unwrap();
        // An expired peer announcing again is dropped and re-added: same count.
        if !model.contains_key(&key) && model.len() == 16 {
            let expired: Vec<_> = model
                .iter()
                .filter(|(_, &at)| tk - at > timeout)
                .map(|(k, _)| *k)
                .collect();
            if expired.is_empty() {
                let oldest = model.values().copied().min().unwrap();
                let stored: Vec<(u8, u16)> = sel
                    .v4
                    .iter()
                    .map(|r| (r[3], u16::from_be_bytes([r[4], r[5]])))
                    .collect();
                let gone: Vec<_> = model
                    .keys()
                    .filter(|k| !stored.contains(k))
                    .copied()
                    .collect();
                assert_eq!(gone.len(), 1, "step {step}: one peer replaced");
                assert_eq!(model[&gone[0]], oldest, "step {step}: an oldest peer");
                model.remove(&gone[0]);
                replaced += 1;
            } else {
                expiries += 1;
                for k in expired {
                    model.remove(&k);
                }
            }
        }
        model.insert(key, tk);
        let c = s.scrape(&[7; 20]);
        assert_eq!(c.leechers as usize, model.len(), "step {step}");
        let mut stored: Vec<(u8, u16)> = sel
            .v4
            .iter()
            .map(|r| (r[3], u16::from_be_bytes([r[4], r[5]])))
            .collect();
        stored.push(key);
        stored.sort();
        let mut expected: Vec<_> = model.keys().copied().collect();
        expected.sort();
        assert_eq!(stored, expected, "step {step}");
        if step % 500 == 0 {
            check_invariants(&s);
        }
    }
    assert!(replaced > 1000 && expiries > 100, "{replaced} {expiries}");
}

fn no_budget() -> Policy {
    Policy {
        new_torrents_per_minute: 0,
        ..Policy::default()
    }
}

fn with(max_peers_per_address: u32) -> Policy {
    Policy {
        max_peers_per_address,
        ..no_budget()
    }
}

fn stored(sel: &Selection) -> Vec<([u8; 4], u16)> {
    let mut v: Vec<_> = sel
        .v4
        .iter()
        .map(|r| ([r[0], r[1], r[2], r[3]], u16::from_be_bytes([r[4], r[5]])))
        .collect();
    v.sort();
    v
}

#[test]
fn full_table_never_evicts_a_torrent_with_two_addresses_or_downloads() {
    let mut s = Swarm::new(limits(1 << 20, 2, 10), 1).unwrap();
    let mut sel = Selection::default();
    s.announce_counts(&ann(1, [10, 0, 0, 1], 1, false, Event::None), 0, &mut sel)
        .unwrap();
    s.announce_counts(&ann(1, [10, 0, 0, 2], 1, false, Event::None), 0, &mut sel)
        .unwrap();
    s.announce_counts(
        &ann(2, [10, 0, 0, 3], 1, true, Event::Completed),
        0,
        &mut sel,
    )
    .unwrap();
    for now in [10, 100, 1000] {
        let r = s.announce_counts(&ann(3, [10, 0, 9, 1], 1, false, Event::None), now, &mut sel);
        assert_eq!(r, Err(Refusal::Full));
    }
    assert_eq!(s.admission().torrents_evicted, 0);
    assert_eq!(s.scrape(&[1; 20]).leechers, 2);
    assert_eq!(s.scrape(&[2; 20]).downloaded, 1);
    // Existing torrents keep working while full.
    assert!(s
        .announce_counts(&ann(1, [10, 0, 0, 4], 1, false, Event::None), 10, &mut sel)
        .is_ok());
    // Torrent 2's peer expires.
    s.announce_counts(
        &ann(1, [10, 0, 0, 1], 1, false, Event::None),
        3000,
        &mut sel,
    )
    .unwrap();
    s.announce_counts(
        &ann(1, [10, 0, 0, 2], 1, false, Event::None),
        3000,
        &mut sel,
    )
    .unwrap();
    let r = s.announce_counts(
        &ann(3, [10, 0, 9, 1], 1, false, Event::None),
        3000,
        &mut sel,
    );
    // Torrent 2 keeps its count with no peers: half the table lacks a count,
    // so the count is not dropped, and it is never evicted for a newcomer.
    assert_eq!(r, Err(Refusal::Full));
    assert_eq!(s.scrape(&[2; 20]).downloaded, 1);
    assert_eq!(s.admission().torrents_evicted, 0);
}

#[test]
fn completed_counts_survive_a_junk_flood_that_fills_the_table() {
    let mut s = Swarm::with_policy(limits(1 << 20, 64, 10), no_budget(), 1).unwrap();
    let mut sel = Selection::default();
    // Two releases whose only peer completed, then left.
    for h in [1, 2] {
        s.announce_counts(&ann(h, [10, 0, 0, h], 1, false, Event::None), 0, &mut sel)
            .unwrap();
        s.announce_counts(
            &ann(h, [10, 0, 0, h], 1, true, Event::Completed),
            0,
            &mut sel,
        )
        .unwrap();
        s.announce_counts(&ann(h, [10, 0, 0, h], 1, true, Event::Stopped), 0, &mut sel)
            .unwrap();
    }
    // Junk from one address fills the table again and again, sweeping as it goes.
    let mut refused = 0;
    for i in 0..2000u32 {
        let mut a = ann(0, [10, 9, 9, 9], 1, false, Event::None);
        a.info_hash[..4].copy_from_slice(&(i + 100).to_be_bytes());
        let now = i * 5;
        refused += usize::from(s.announce_counts(&a, now, &mut sel).is_err());
        if i % 50 == 0 {
            s.sweep(now);
        }
    }
    assert_eq!(refused, 0, "junk evicts junk");
    assert!(s.admission().torrents_evicted > 1000);
    for h in [1, 2] {
        assert_eq!(
            s.scrape(&[h; 20]).downloaded,
            1,
            "release {h} kept its count"
        );
    }
    check_invariants(&s);
}

#[test]
fn a_table_of_counts_alone_still_makes_room_for_a_new_release() {
    let mut s = Swarm::with_policy(limits(1 << 20, 16, 10), no_budget(), 1).unwrap();
    let mut sel = Selection::default();
    for h in 1..=16u8 {
        s.announce_counts(
            &ann(h, [10, 0, 0, h], 1, true, Event::Completed),
            0,
            &mut sel,
        )
        .unwrap();
    }
    // Every peer times out; only the counts are left, and the table is full.
    let r = s.announce_counts(
        &ann(99, [10, 0, 1, 1], 1, true, Event::None),
        3000,
        &mut sel,
    );
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(s.scrape(&[99; 20]).seeders, 1);
    check_invariants(&s);
}

#[test]
fn full_table_evicts_the_least_recently_announced_junk_for_a_newcomer() {
    let mut s = Swarm::new(limits(1 << 20, 2, 10), 1).unwrap();
    let mut sel = Selection::default();
    s.announce_counts(&ann(1, [10, 9, 9, 9], 1, false, Event::None), 0, &mut sel)
        .unwrap();
    s.announce_counts(&ann(2, [10, 9, 9, 9], 2, false, Event::None), 100, &mut sel)
        .unwrap();
    let c = s
        .announce_counts(&ann(3, [10, 0, 0, 1], 1, true, Event::None), 200, &mut sel)
        .unwrap();
    assert_eq!(c.seeders, 1);
    assert_eq!(s.admission().torrents_evicted, 1);
    assert_eq!(s.scrape(&[1; 20]), Counts::default(), "the older junk went");
    assert_eq!(s.scrape(&[2; 20]).leechers, 1);
    // The newcomer's leecher finds its seeder.
    s.announce_counts(&ann(3, [10, 0, 0, 2], 1, false, Event::None), 201, &mut sel)
        .unwrap();
    assert_eq!(stored(&sel), vec![([10, 0, 0, 1], 1)]);
    check_invariants(&s);
}

#[test]
fn new_torrents_are_rate_limited_per_network() {
    let policy = Policy {
        new_torrents_per_minute: 60,
        new_torrents_burst: 3,
        ..Policy::default()
    };
    let mut s = Swarm::with_policy(limits(1 << 20, 64, 10), policy, 1).unwrap();
    let mut sel = Selection::default();
    let results: Vec<_> = (0..5u8)
        .map(|h| {
            s.announce_counts(
                &ann(h, [10, 0, 0, 1 + h], 1, false, Event::None),
                0,
                &mut sel,
            )
        })
        .collect();
    assert!(results[..3].iter().all(Result::is_ok));
    assert_eq!(results[3], Err(Refusal::Rate), "10.0.0.0/24 used its burst");
    // Existing torrents are not charged; another network has its own budget.
    assert!(s
        .announce_counts(&ann(0, [10, 0, 0, 9], 1, false, Event::None), 0, &mut sel)
        .is_ok());
    assert!(s
        .announce_counts(&ann(9, [10, 0, 1, 1], 1, false, Event::None), 0, &mut sel)
        .is_ok());
    // One a second refills.
    assert!(s
        .announce_counts(&ann(10, [10, 0, 0, 1], 1, false, Event::None), 1, &mut sel)
        .is_ok());
    assert_eq!(s.torrent_count(), 5);
}

#[test]
fn one_address_holds_at_most_its_share_and_replaces_its_own_oldest() {
    let mut s = Swarm::with_policy(limits(1 << 20, 8, 100), with(4), 1).unwrap();
    let mut sel = Selection::default();
    s.announce_counts(&ann(1, [10, 0, 0, 1], 6000, true, Event::None), 0, &mut sel)
        .unwrap();
    for port in 1..=50u16 {
        let now = u32::from(port) * 16;
        s.announce_counts(
            &ann(1, [10, 0, 0, 9], port, false, Event::None),
            now,
            &mut sel,
        )
        .unwrap();
    }
    assert_eq!(s.scrape(&[1; 20]).leechers, 4);
    assert_eq!(s.admission().replaced_own, 46);
    s.announce_counts(&ann(1, [10, 0, 0, 2], 1, false, Event::None), 900, &mut sel)
        .unwrap();
    let mut expect = vec![([10, 0, 0, 1], 6000)];
    expect.extend((47..=50).map(|p| ([10, 0, 0, 9], p)));
    assert_eq!(
        stored(&sel),
        expect,
        "the seeder and the address's newest four"
    );
    // IPv6: one /64 is one host.
    for i in 0..20u16 {
        let mut a = ann(2, [0; 4], 1, false, Event::None);
        a.ip = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0, 0, 0, i));
        s.announce_counts(&a, 1000, &mut sel).unwrap();
    }
    let mut a = ann(2, [0; 4], 1, false, Event::None);
    a.ip = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 3, 0, 0, 0, 1));
    s.announce_counts(&a, 1000, &mut sel).unwrap();
    assert_eq!(
        s.scrape(&[2; 20]).leechers,
        5,
        "4 from the /64, 1 from another"
    );
    check_invariants(&s);
}

#[test]
fn full_torrent_evicts_from_its_most_represented_address_never_a_seeder_for_a_leecher() {
    let mut s = Swarm::with_policy(limits(1 << 20, 8, 6), no_budget(), 1).unwrap();
    let mut sel = Selection::default();
    // The oldest peer, alone on its address.
    s.announce_counts(&ann(1, [10, 0, 0, 3], 1, false, Event::None), 0, &mut sel)
        .unwrap();
    s.announce_counts(&ann(1, [10, 0, 0, 1], 1, true, Event::None), 100, &mut sel)
        .unwrap();
    s.announce_counts(&ann(1, [10, 0, 0, 2], 1, true, Event::None), 100, &mut sel)
        .unwrap();
    for port in 1..=3 {
        s.announce_counts(
            &ann(1, [10, 0, 0, 5], port, false, Event::None),
            200 + u32::from(port) * 16,
            &mut sel,
        )
        .unwrap();
    }
    s.announce_counts(&ann(1, [10, 0, 0, 7], 1, false, Event::None), 400, &mut sel)
        .unwrap();
    s.announce_counts(&ann(1, [10, 0, 0, 8], 1, false, Event::None), 400, &mut sel)
        .unwrap();
    let got = stored(&sel);
    assert!(
        got.contains(&([10, 0, 0, 3], 1)),
        "the lone oldest peer stays: {got:?}"
    );
    assert!(
        !got.contains(&([10, 0, 0, 5], 1)) && !got.contains(&([10, 0, 0, 5], 2)),
        "{got:?}"
    );
    assert_eq!(s.admission().peers_evicted, 2);
    // Full of seeders: a leecher is answered but evicts no one.
    let mut s = Swarm::with_policy(limits(1 << 20, 8, 3), no_budget(), 1).unwrap();
    for h in 1..=3 {
        s.announce_counts(&ann(1, [10, 0, 0, h], 1, true, Event::None), 0, &mut sel)
            .unwrap();
    }
    let c = s
        .announce_counts(&ann(1, [10, 0, 0, 9], 1, false, Event::None), 10, &mut sel)
        .unwrap();
    assert_eq!((c.seeders, c.leechers), (3, 0));
    assert_eq!(stored(&sel).len(), 3, "the leecher still gets the seeders");
    assert_eq!(s.admission().not_stored, 1);
    // A seeder may take a seeder's place.
    let c = s
        .announce_counts(&ann(1, [10, 0, 0, 10], 1, true, Event::None), 20, &mut sel)
        .unwrap();
    assert_eq!((c.seeders, c.leechers), (3, 0));
    check_invariants(&s);
}

#[test]
fn arena_never_exceeds_cap_and_compaction_keeps_peers() {
    // Tiny arena: forces compaction and peer replacement.
    let mut s = Swarm::new(limits(64 * 1024, 256, 1000), 3).unwrap();
    let cap = s.capacity();
    assert!(cap.bytes <= 64 * 1024);
    let mut sel = Selection::default();
    let mut ok = 0;
    for i in 0..20_000u32 {
        let a = ann(
            (i % 200) as u8,
            (i / 7).to_be_bytes(),
            1 + (i % 5) as u16,
            i % 3 == 0,
            Event::None,
        );
        if s.announce_counts(&a, i / 100, &mut sel).is_ok() {
            ok += 1;
        }
        assert!(s.bump <= s.arena.len());
    }
    assert!(ok > 0);
    assert!(s.compactions() > 0);
    check_invariants(&s);
}

fn check_invariants(s: &Swarm) {
    let mut live = 0;
    for (t, torrent) in s.torrents.iter().enumerate() {
        assert_eq!(s.find(&torrent.hash).1, Some(t));
        for (f, &off) in torrent.lists.iter().enumerate() {
            if off != NONE {
                let off = off as usize;
                assert_eq!((s.arena[off] & !MULTI) as usize, t, "block owner");
                assert_eq!((s.arena[off + 1] & FAMILY_BIT != 0) as usize, f);
                let (len, seeds) = s.len_seeds(off);
                assert!(len >= 1 && seeds <= len && len <= s.cap(off));
                assert!(len <= s.max_peers);
                let family = if f == 0 { Family::V4 } else { Family::V6 };
                live += Swarm::block_words(s.cap(off), family);
            }
        }
    }
    assert_eq!(
        live + s.garbage,
        s.bump,
        "every arena word is live or garbage"
    );
    // Every freed block is on the free list of its class.
    let mut listed = 0;
    for (f, heads) in s.free.iter().enumerate() {
        let family = if f == 0 { Family::V4 } else { Family::V6 };
        for (k, &head) in heads.iter().enumerate() {
            let mut at = head;
            while at != NONE {
                let off = at as usize;
                assert_eq!(s.arena[off], FREE);
                let words = Swarm::block_words(s.class_cap(k), family);
                assert_eq!(s.arena[off + 1] as usize, words);
                listed += words;
                at = s.arena[off + 2];
            }
        }
    }
    assert_eq!(listed, s.garbage, "garbage is exactly the free lists");
    // Seeders and leechers are each sorted by (address, port), no duplicates.
    for torrent in &s.torrents {
        for (f, &off) in torrent.lists.iter().enumerate() {
            if off == NONE {
                continue;
            }
            let off = off as usize;
            let family = if f == 0 { Family::V4 } else { Family::V6 };
            let wpp = family.words();
            let (len, seeds) = s.len_seeds(off);
            let key = |i: usize| {
                let at = s.entry(off, family, i);
                let mut k = s.arena[at..at + wpp - 1].to_vec();
                k.push(s.arena[at + wpp - 1] >> 16);
                k
            };
            for i in 1..len as usize {
                if i != seeds as usize {
                    assert!(key(i - 1) < key(i), "block sorted at {i}");
                }
            }
            // No timestamp is older than the block's bound.
            let bound = s.oldest_bound(off);
            for i in 0..len as usize {
                let stamp = s.arena[s.entry(off, family, i) + wpp - 1] as u16;
                let since = stamp.wrapping_sub(bound) & OLDEST_MASK;
                assert!(since <= OLDEST_MASK / 2, "entry {i} older than the bound");
            }
        }
    }
    let occupied = s.index.iter().filter(|&&v| v != 0).count();
    assert_eq!(occupied, s.torrents.len());
    assert!(occupied * 4 <= (s.mask + 1) * 3, "index at most 3/4 full");
    for (t, torrent) in s.torrents.iter().enumerate() {
        let (slot, _) = s.find(&torrent.hash);
        let h = s.hash_of(&torrent.hash);
        assert_eq!(
            s.index[slot],
            Swarm::slot_value(h, t),
            "slot tag and position"
        );
    }
}

/// The peers of torrent `t`'s IPv4 block as (address, port, seeder), in
/// stored order.
fn v4_entries(s: &Swarm, t: usize) -> Vec<(u32, u16, bool)> {
    let off = s.torrents[t].lists[Family::V4 as usize];
    if off == NONE {
        return Vec::new();
    }
    let off = off as usize;
    let (len, seeds) = s.len_seeds(off);
    (0..len as usize)
        .map(|i| {
            let at = s.entry(off, Family::V4, i);
            (
                s.arena[at],
                (s.arena[at + 1] >> 16) as u16,
                i < seeds as usize,
            )
        })
        .collect()
}

/// A full torrent takes every newcomer in place of one peer (a fair victim,
/// or its address's oldest one past `max_peers_per_address`), and seeders
/// turning leechers and back move between the groups: after each announce
/// exactly that one peer is gone, the newcomer sits in its group, and both
/// groups stay sorted.
#[test]
fn replacing_in_a_full_torrent_moves_exactly_one_peer() {
    let mut s = Swarm::with_policy(limits(1 << 20, 4, 24), with(3), 9).unwrap();
    let mut sel = Selection::default();
    let mut x = 0x2545_F491u64;
    let mut replaced = 0;
    for step in 0..20_000u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let (host, port) = ((x >> 8) as u8 % 14, 1 + (x >> 16) as u16 % 5);
        let seeder = (x >> 24) % 3 == 0;
        let a = ann(3, [10, 0, 0, host], port, seeder, Event::None);
        let before = match s.find(&[3; 20]).1 {
            Some(t) => v4_entries(&s, t),
            None => Vec::new(),
        };
        s.announce_counts(&a, step / 4, &mut sel).unwrap();
        let t = s.find(&[3; 20]).1.unwrap();
        let after = v4_entries(&s, t);
        let word = u32::from_ne_bytes([10, 0, 0, host]);
        let me = |e: &&(u32, u16, bool)| e.0 == word && e.1 == port;
        assert_eq!(
            after.iter().filter(me).map(|e| e.2).collect::<Vec<_>>(),
            [seeder],
            "step {step}: the announcer is stored once, in its group"
        );
        let others = |v: &[(u32, u16, bool)]| {
            let mut o: Vec<_> = v.iter().filter(|e| !me(e)).copied().collect();
            o.sort();
            o
        };
        let (was, now) = (others(&before), others(&after));
        let gone: Vec<_> = was.iter().filter(|e| !now.contains(e)).collect();
        assert!(
            now.iter().all(|e| was.contains(e)),
            "step {step}: nobody new"
        );
        if before.iter().any(|e| me(&e)) {
            assert!(
                gone.is_empty(),
                "step {step}: a returning peer evicts nobody"
            );
        } else if before.len() == 24 || before.iter().filter(|e| e.0 == word).count() >= 3 {
            assert_eq!(gone.len(), 1, "step {step}: one peer gives up its place");
            replaced += 1;
        } else {
            assert!(gone.is_empty(), "step {step}: room for it");
        }
        let seeds = after.iter().take_while(|e| e.2).count();
        assert!(
            after[seeds..].iter().all(|e| !e.2),
            "step {step}: seeders first"
        );
        check_invariants(&s);
    }
    assert!(replaced > 5_000, "the torrent was full most of the time");
}

/// Random operations checked against a plain model: counts match contents,
/// capacity is never exceeded, expiry frees everything.
#[test]
fn store_matches_model_under_random_operations() {
    // 512 torrent slots (20 KiB of tables) and a 4096-word arena: small
    // enough that blocks are compacted many times over the run.
    // A short timeout keeps blocks emptying and refilling.
    let mut lim = limits(20480 + 16384, 512, 64);
    lim.peer_timeout = 300;
    let mut s = Swarm::new(lim, 11).unwrap();
    let mut model: HashMap<(u8, u8, u16), (bool, u32)> = HashMap::new();
    let mut downloaded: HashMap<u8, u32> = HashMap::new();
    let mut sel = Selection::default();
    let mut x = 0x1234_5678u64;
    let mut now = 0u32;
    for step in 0..80_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        now += (x % 3) as u32;
        let hash = (x >> 8) as u8 % 16;
        let host = (x >> 16) as u8 % 12;
        let port = 1 + (x >> 24) as u16 % 2;
        let seeder = (x >> 32) % 2 == 0;
        let event = match (x >> 40) % 10 {
            0 => Event::Stopped,
            1 => Event::Completed,
            _ => Event::None,
        };
        let six = (x >> 48) % 4 == 0;
        let mut a = ann(hash, [192, 0, 2, host], port, seeder, event);
        if six {
            a.ip = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(host)));
        }
        let key = (hash, host | if six { 0x80 } else { 0 }, port);
        let c = s.announce_counts(&a, now, &mut sel).unwrap();
        // Model: expire, then apply.
        model.retain(|_, (_, at)| now / TICK_SECS - *at / TICK_SECS <= s.timeout_ticks as u32);
        let prev = model.get(&key).copied();
        if event == Event::Completed && !matches!(prev, Some((true, _))) {
            *downloaded.entry(hash).or_default() += 1;
        }
        if event == Event::Stopped {
            model.remove(&key);
        } else {
            model.insert(key, (seeder, now));
        }
        let seeds = model.iter().filter(|(k, v)| k.0 == hash && v.0).count() as u32;
        let leech = model.iter().filter(|(k, v)| k.0 == hash && !v.0).count() as u32;
        // The store expires lazily (on sweep); compare after a sweep every so often.
        if step % 1000 == 999 {
            // Free lists make natural compaction rare here; force it so that
            // compaction is checked against the model too.
            s.compact();
        }
        if step % 97 == 0 {
            s.sweep(now);
            let c = s.scrape(&[hash; 20]);
            assert_eq!((c.seeders, c.leechers), (seeds, leech), "step {step}");
            check_invariants(&s);
        }
        assert_eq!(c.downloaded, downloaded.get(&hash).copied().unwrap_or(0));
    }
    s.sweep(now + 10_000);
    let with_downloads = downloaded.values().filter(|&&d| d > 0).count();
    assert_eq!(
        s.torrent_count(),
        with_downloads,
        "only torrents with downloads stay"
    );
    assert_eq!(s.totals().0 + s.totals().1, 0);
    check_invariants(&s);
}

#[cfg(test)]
mod sizing {
    use super::*;
    use std::net::Ipv4Addr;

    /// `cargo test --release --lib full_torrent_cost -- --ignored --nocapture`:
    /// CPU per newcomer in a full torrent of 4096 peers (each evicts one):
    /// all on distinct addresses, all on one address (cap lifted, as a load
    /// generator), and 16 per address. Prints, asserts nothing about speed.
    #[test]
    #[ignore]
    fn full_torrent_cost() {
        let lim = Limits {
            max_memory: 16 << 20,
            max_torrents: Some(16),
            max_peers_per_torrent: 4096,
            peer_timeout: 2700,
        };
        // Peer i as (address, port).
        type Layout = fn(u32) -> (u32, u16);
        let layouts: [(&str, Layout); 3] = [
            ("distinct addresses", |i| (i, 1)),
            ("one address", |i| (0, (1 + i % 65_000) as u16)),
            ("16 per address", |i| (i / 16, (1 + i % 16) as u16)),
        ];
        for (name, peer) in layouts {
            let mut s = Swarm::with_policy(lim, with(65_535), 3).unwrap();
            let mut sel = Selection::default();
            let mut a = ann(1, [0; 4], 1, false, Event::None);
            a.numwant = 50;
            let mut put = |s: &mut Swarm, i: u32, now: u32| {
                let (ip, port) = peer(i);
                a.ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + ip));
                a.port = port;
                s.announce_counts(&a, now, &mut sel).unwrap();
            };
            for i in 0..4096 {
                put(&mut s, i, 0);
            }
            let n = 20_000u32;
            let t0 = std::time::Instant::now();
            for i in 0..n {
                put(&mut s, 4096 + i, 1 + i / 1000);
            }
            let ns = t0.elapsed().as_nanos() as f64 / f64::from(n);
            println!(
                "full torrent of 4096, {name}: {ns:.0} ns per newcomer ({} evicted)",
                s.admission().peers_evicted
            );
        }
    }

    /// `cargo test --release --lib junk_cost -- --ignored --nocapture`: CPU
    /// per new junk torrent when a full table evicts one for it, against a
    /// table with room (no eviction). Prints, asserts nothing about speed.
    #[test]
    #[ignore]
    fn junk_cost() {
        let hash = |i: u32| {
            let mut h = [0u8; 20];
            h[..4].copy_from_slice(&i.wrapping_mul(0x9E37_79B9).to_be_bytes());
            h[4..8].copy_from_slice(&i.to_be_bytes());
            h
        };
        for (name, torrents) in [
            ("full table, evicting", 12_000),
            ("table with room", 400_000),
        ] {
            let lim = Limits {
                max_memory: 64 << 20,
                max_torrents: Some(torrents),
                max_peers_per_torrent: 4096,
                peer_timeout: 2700,
            };
            let mut s = Swarm::with_policy(lim, no_budget(), 3).unwrap();
            let mut sel = Selection::default();
            let mut a = ann(0, [10, 9, 9, 9], 1, false, Event::None);
            for i in 0..12_000 {
                a.info_hash = hash(i);
                s.announce_counts(&a, 0, &mut sel).unwrap();
            }
            let n = 300_000u32;
            let t0 = std::time::Instant::now();
            for i in 12_000..12_000 + n {
                a.info_hash = hash(i);
                s.announce_counts(&a, 1, &mut sel).unwrap();
            }
            let ns = t0.elapsed().as_nanos() as f64 / f64::from(n);
            println!(
                "{name}: {ns:.0} ns per new junk torrent ({} evicted, {} stored)",
                s.admission().torrents_evicted,
                s.torrent_count()
            );
        }
    }

    /// `cargo test --lib fill_breakdown -- --ignored --nocapture`: where the
    /// bytes go after 100k peers over 10k torrents, in random order.
    #[test]
    #[ignore]
    fn fill_breakdown() {
        let mut s = Swarm::new(
            Limits {
                max_memory: 64 << 20,
                max_torrents: Some(200_000),
                max_peers_per_torrent: 4096,
                peer_timeout: 2700,
            },
            9,
        )
        .unwrap();
        let mut sel = Selection::default();
        let mut x = 12345u64;
        for p in 0..100_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let t = (x % 10_000) as u32;
            let mut h = [0u8; 20];
            h[..4].copy_from_slice(&t.to_be_bytes());
            let a = Announce {
                info_hash: h,
                ip: IpAddr::V4(Ipv4Addr::from(0x7f00_0000 | (p >> 8))),
                port: 1000 + (p & 0xff) as u16,
                seeder: p % 10 < 3,
                event: Event::Started,
                numwant: 0,
                other_family: false,
                listed: false,
            };
            s.announce_counts(&a, 0, &mut sel).unwrap();
        }
        let live = s.bump - s.garbage;
        let slots = s.mask + 1;
        let total = s.bump * 4 + slots * 4 + s.torrents.len() * std::mem::size_of::<Torrent>();
        println!(
            "torrents {} bump {} words, live {} garbage {} ({:.1}%), index {} slots, total {} B = {:.2} B/peer (arena {:.2}, torrents {:.2}, index {:.2})",
            s.torrents.len(),
            s.bump,
            live,
            s.garbage,
            100.0 * s.garbage as f64 / s.bump as f64,
            slots,
            total,
            total as f64 / 1e5,
            s.bump as f64 * 4.0 / 1e5,
            s.torrents.len() as f64 * 32.0 / 1e5,
            slots as f64 * 4.0 / 1e5
        );
    }
}

/// Random full torrents: the peer evicted for a leecher is always a leecher
/// of a most-represented address (counting its seeders too) and, among
/// those, one of the oldest — checked against a plain model.
#[test]
fn fair_eviction_matches_a_model() {
    let mut x = 0x5151_7777u64;
    let mut rnd = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    for round in 0..40 {
        let mut s = Swarm::with_policy(limits(1 << 20, 8, 60), with(65535), round).unwrap();
        let mut sel = Selection::default();
        // (host, port) -> (seeder, tick)
        let mut model: HashMap<(u8, u16), (bool, u32)> = HashMap::new();
        let mut now = 0;
        while model.len() < 60 {
            let key = (1 + rnd(8) as u8, 1 + rnd(500) as u16);
            if model.contains_key(&key) {
                continue;
            }
            let seeder = rnd(3) == 0;
            now += 16 * rnd(3) as u32;
            s.announce_counts(
                &ann(1, [10, 0, 0, key.0], key.1, seeder, Event::None),
                now,
                &mut sel,
            )
            .unwrap();
            model.insert(key, (seeder, now / TICK_SECS));
        }
        for newcomer in 0..10u16 {
            now += 16;
            let key = (100 + (newcomer % 3) as u8, 1000 + newcomer);
            let mut a = ann(1, [10, 0, 0, key.0], key.1, false, Event::None);
            a.numwant = 200;
            s.announce_counts(&a, now, &mut sel).unwrap();
            let stored: std::collections::HashSet<(u8, u16)> = sel
                .v4
                .iter()
                .map(|r| (r[3], u16::from_be_bytes([r[4], r[5]])))
                .collect();
            let gone: Vec<(u8, u16)> = model
                .keys()
                .filter(|k| !stored.contains(k))
                .copied()
                .collect();
            assert_eq!(gone.len(), 1, "round {round}: one peer evicted");
            let victim = gone[0];
            let count = |host: u8| model.keys().filter(|k| k.0 == host).count();
            let top = model
                .iter()
                .filter(|(_, v)| !v.0)
                .map(|(k, _)| count(k.0))
                .max()
                .unwrap();
            let oldest_top = model
                .iter()
                .filter(|(k, v)| !v.0 && count(k.0) == top)
                .map(|(_, v)| v.1)
                .min()
                .unwrap();
            assert!(
                !model[&victim].0,
                "round {round}: a seeder was evicted for a leecher"
            );
            assert_eq!(
                count(victim.0),
                top,
                "round {round}: not a most-represented address"
            );
            assert_eq!(
                model[&victim].1, oldest_top,
                "round {round}: not its oldest leecher"
            );
            model.remove(&victim);
            model.insert(key, (false, now / TICK_SECS));
        }
        check_invariants(&s);
    }
}
