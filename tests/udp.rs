//! BEP 15 UDP tracker protocol against the real binary.
mod common;
use common::*;

#[test]
fn connect_announce_scrape_round_trip() {
    let t = Tracker::start(&[]);
    let h = [0xA1; 20];
    let seeder = t.udp_client();
    let (interval, leechers, seeders, peers) = seeder.announce(&h, 0, 2, 6881);
    assert_eq!((interval, leechers, seeders), (1800, 0, 1));
    assert!(peers.is_empty(), "never the requester itself");
    let leecher = t.udp_client();
    let (_, leechers, seeders, peers) = leecher.announce(&h, 1 << 32, 2, 6882);
    assert_eq!((leechers, seeders), (1, 1), "left = 2^32 is a leecher");
    // The peer's port is the announce's port field, not the datagram's source port.
    assert_eq!(peers, vec![127, 0, 0, 1, 0x1a, 0xe1]);
    // Completed, then scrape two hashes.
    leecher.announce(&h, 0, 1, 6882);
    let conn = leecher.connect();
    let mut s = conn.to_be_bytes().to_vec();
    s.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 5]);
    s.extend_from_slice(&h);
    s.extend_from_slice(&[0xA2; 20]);
    let r = leecher.exchange(&s).unwrap();
    assert_eq!(
        r,
        vec![
            0, 0, 0, 2, 0, 0, 0, 5, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0
        ]
    );
    // Stopped removes the peer.
    let (_, leechers, seeders, _) = leecher.announce(&h, 0, 3, 6882);
    assert_eq!((leechers, seeders), (0, 1));
}

#[test]
fn trailing_bep41_options_are_accepted() {
    let t = Tracker::start(&[]);
    let u = t.udp_client();
    let conn = u.connect();
    let mut p = Udp::announce_packet(conn, &[0xB1; 20], 0, 2, 50, 1);
    p.extend_from_slice(b"\x02\x09/announce\x00\x00");
    let r = u.exchange(&p).unwrap();
    assert_eq!(&r[..4], &[0, 0, 0, 1]);
}

#[test]
fn forged_or_missing_connection_id_gets_silence() {
    let t = Tracker::start(&[]);
    let u = t.udp_client();
    // An error reply to an unproven source could be aimed at a victim.
    let p = Udp::announce_packet(0xdead_beef, &[0xC1; 20], 0, 2, 50, 1);
    assert!(u.silent(&p));
    // Nothing was stored for it.
    let conn = u.connect();
    let mut s = conn.to_be_bytes().to_vec();
    s.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 1]);
    s.extend_from_slice(&[0xC1; 20]);
    assert_eq!(&u.exchange(&s).unwrap()[8..], &[0u8; 12]);
}

#[test]
fn malformed_datagrams_get_errors_or_silence_and_the_tracker_survives() {
    let t = Tracker::start(&[]);
    let u = t.udp_client();
    // Too short to carry a transaction id: silence.
    assert!(u.silent(&[1, 2, 3]));
    assert!(u.silent(&[]));
    // Unknown action / bad magic without a valid connection id: silence
    // (the source is unproven); with one, error packets echoing the
    // transaction id, big-endian.
    let mut bad = vec![0u8; 16];
    bad[11] = 9;
    bad[15] = 0x42;
    assert!(u.silent(&bad));
    let mut magic = vec![0u8; 16];
    magic[15] = 0x43;
    assert!(u.silent(&magic));
    let conn = u.connect();
    bad[..8].copy_from_slice(&conn.to_be_bytes());
    let r = u.exchange(&bad).unwrap();
    assert_eq!(&r[..8], &[0, 0, 0, 3, 0, 0, 0, 0x42]);
    assert_eq!(&r[8..], b"unknown action");
    let short = Udp::announce_packet(conn, &[0xD1; 20], 0, 2, 50, 1);
    assert_eq!(
        &u.exchange(&short[..60]).unwrap()[8..],
        b"announce too short"
    );
    let zero_port = Udp::announce_packet(conn, &[0xD1; 20], 0, 2, 50, 0);
    assert_eq!(&u.exchange(&zero_port).unwrap()[8..], b"invalid port");
    // A burst of random garbage at full speed, then a normal exchange still works.
    // The burst overflows the tracker's socket queue, so the kernel drops datagrams
    // for a moment (as it should); a client retransmits (BEP 15), and so does this one.
    let g = Udp::new(u.to);
    let mut x = 0x9e37_79b9u32;
    for _ in 0..2000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let len = (x % 200) as usize;
        let pkt: Vec<u8> = (0..len).map(|i| (x >> (i % 24)) as u8).collect();
        g.sock.send_to(&pkt, g.to).unwrap();
    }
    let fresh = t.udp_client();
    let mut req = PROTOCOL_ID.to_be_bytes().to_vec();
    req.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0x12, 0x34]);
    let answered = (0..5).any(|_| fresh.exchange(&req).is_some_and(|r| r.len() == 16));
    assert!(answered, "connect answered within 5 tries after the flood");
    let (interval, ..) = fresh.announce(&[0xD2; 20], 0, 2, 5);
    assert_eq!(interval, 1800);
}

#[test]
fn ipv6_announce_gets_18_byte_records() {
    if !ipv6_loopback_works() {
        eprintln!("skipped: no IPv6 loopback");
        return;
    }
    let t = Tracker::start(&["-i", "::1", "-P", "0"]);
    let v6 = *t.udp.iter().find(|a| a.is_ipv6()).unwrap();
    let a = Udp::new(v6);
    let b = Udp::new(v6);
    let h = [0xE1; 20];
    a.announce(&h, 0, 2, 7001);
    let (_, l, s, peers) = b.announce(&h, 9, 2, 7002);
    assert_eq!((l, s), (1, 1));
    let mut rec = vec![0u8; 15];
    rec.push(1);
    rec.extend_from_slice(&7001u16.to_be_bytes());
    assert_eq!(peers, rec);
}
