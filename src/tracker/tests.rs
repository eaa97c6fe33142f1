//! Unit tests of tracker.

use super::*;
use crate::swarm::Announce;
use crate::swarm::{Limits, ORDER_BATCH};
use crate::wire::query::Event;
use crate::wire::{http, udp};

/// A tracker over a small table (1 MiB) for the tests here and in `releases.rs`.
pub(super) fn tracker() -> Tracker {
    let swarm = Swarm::new(
        Limits {
            max_memory: 1 << 20,
            max_torrents: Some(16),
            max_peers_per_torrent: 100,
            peer_timeout: 2700,
        },
        5,
    )
    .unwrap();
    Tracker::new(
        swarm,
        Settings {
            interval: 1800,
            numwant_default: 50,
            numwant_max: 200,
            redirect_url: None,
            stats_path: "/stats".into(),
            stats_allowed: Vec::new(),
            proxies: vec!["10.9.9.9".parse().unwrap()],
            fullscrape: false,
            stats_public: Vec::new(),
        },
    )
}

fn get(t: &mut Tracker, target: &str, from: &str) -> (u16, Vec<u8>) {
    let raw = format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n");
    let head = http::parse_head(raw.as_bytes()).unwrap();
    let mut out = [0u8; 9000];
    let r = t.http(&head, from.parse().unwrap(), 0, &mut out);
    let bytes = out[r.range].to_vec();
    let split = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    (r.code, bytes[split..].to_vec())
}

const H: &str = "%AA%AA%AA%AA%AA%AA%AA%AA%AA%AA%AA%AA%AA%AA%AA%AA%AA%AA%AA%AA";

#[test]
fn http_announce_compact_reply_is_sorted_bencode() {
    let mut t = tracker();
    get(
        &mut t,
        &format!("/announce?info_hash={H}&port=1&left=0"),
        "10.0.0.1",
    );
    let (code, body) = get(
        &mut t,
        &format!("/announce?info_hash={H}&port=2&left=5"),
        "10.0.0.2",
    );
    assert_eq!(code, 200);
    assert_eq!(
        body,
        b"d8:completei1e10:downloadedi0e10:incompletei1e8:intervali1800e12:min intervali900e5:peers6:\x0a\x00\x00\x01\x00\x01e"
    );
}

#[test]
fn http_announce_dictionary_and_ipv6_peers() {
    let mut t = tracker();
    get(
        &mut t,
        &format!("/announce?info_hash={H}&port=1&left=0"),
        "::ffff:10.0.0.1",
    );
    get(
        &mut t,
        &format!("/announce?info_hash={H}&port=3&left=0"),
        "2001:db8::1",
    );
    let (_, body) = get(
        &mut t,
        &format!("/announce?info_hash={H}&port=2&left=5&compact=0"),
        "10.0.0.2",
    );
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains("5:peersld2:ip8:10.0.0.14:porti1eed2:ip11:2001:db8::14:porti3eee"),
        "{text}"
    );
    let (_, body) = get(
        &mut t,
        &format!("/announce?info_hash={H}&port=4&left=5"),
        "2001:db8::2",
    );
    let tail = b"6:peers618:\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01\x00\x03e";
    assert!(body.ends_with(tail), "{}", String::from_utf8_lossy(&body));
}

#[test]
fn http_bad_input_gets_failure_reason_and_changes_nothing() {
    let mut t = tracker();
    for (q, reason) in [
        ("/announce?port=1", "missing info_hash"),
        (
            "/announce?info_hash=short&port=1",
            "invalid info_hash (must be 20 bytes)",
        ),
        (&format!("/announce?info_hash={H}&port=0"), "invalid port"),
        (&format!("/announce?info_hash={H}"), "missing port"),
        (
            "/scrape",
            "scrape needs at least one info_hash (full scrape is off)",
        ),
    ] {
        let (code, body) = get(&mut t, q, "10.0.0.1");
        assert_eq!(code, 200);
        let expect = format!("d14:failure reason{}:{}e", reason.len(), reason);
        assert_eq!(String::from_utf8_lossy(&body), expect);
    }
    assert_eq!(t.swarm.torrent_count(), 0);
    assert_eq!(get(&mut t, "/nope", "10.0.0.1").0, 404);
    assert_eq!(get(&mut t, "/", "10.0.0.1").0, 404);
}

#[test]
fn http_scrape_many() {
    let mut t = tracker();
    get(
        &mut t,
        &format!("/announce?info_hash={H}&port=1&left=0&event=completed"),
        "10.0.0.1",
    );
    let (_, body) = get(
        &mut t,
        &format!("/scrape?info_hash={H}&info_hash=BBBBBBBBBBBBBBBBBBBB"),
        "10.0.0.1",
    );
    let mut expect =
        b"d5:filesd20:BBBBBBBBBBBBBBBBBBBBd8:completei0e10:downloadedi0e10:incompletei0ee20:"
            .to_vec();
    expect.extend_from_slice(&[0xAA; 20]);
    expect.extend_from_slice(b"d8:completei1e10:downloadedi1e10:incompletei0eeee");
    assert_eq!(body, expect);
}

fn connect(t: &mut Tracker, from: IpAddr) -> u64 {
    let mut req = udp::PROTOCOL_ID.to_be_bytes().to_vec();
    req.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 7]);
    let mut out = [0u8; 1500];
    let n = t.udp(&req, from, 0, &mut out).unwrap();
    assert_eq!(n, 16);
    assert_eq!(&out[..8], &[0, 0, 0, 0, 0, 0, 0, 7]);
    u64::from_be_bytes(out[8..16].try_into().unwrap())
}

fn udp_announce(conn: u64, port: u16, left: u64) -> Vec<u8> {
    let mut b = conn.to_be_bytes().to_vec();
    b.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 9]);
    b.extend_from_slice(&[0xAA; 20]);
    b.extend_from_slice(&[0; 20]);
    b.extend_from_slice(&0u64.to_be_bytes());
    b.extend_from_slice(&left.to_be_bytes());
    b.extend_from_slice(&0u64.to_be_bytes());
    b.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    b.extend_from_slice(&port.to_be_bytes());
    b
}

#[test]
fn udp_connect_announce_scrape() {
    let mut t = tracker();
    let a: IpAddr = "10.0.0.1".parse().unwrap();
    let b: IpAddr = "::ffff:10.0.0.2".parse().unwrap();
    let ca = connect(&mut t, a);
    let cb = connect(&mut t, b);
    let mut out = [0u8; 1500];
    t.udp(&udp_announce(ca, 6881, 0), a, 1, &mut out).unwrap();
    let n = t.udp(&udp_announce(cb, 6882, 10), b, 1, &mut out).unwrap();
    assert_eq!(
        &out[..n],
        &[0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 7, 8, 0, 0, 0, 1, 0, 0, 0, 1, 10, 0, 0, 1, 0x1a, 0xe1]
    );
    let mut s = ca.to_be_bytes().to_vec();
    s.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 4]);
    s.extend_from_slice(&[0xAA; 20]);
    let n = t.udp(&s, a, 1, &mut out).unwrap();
    assert_eq!(
        &out[..n],
        &[0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]
    );
}

#[test]
fn udp_forged_or_foreign_connection_id_gets_silence_and_stores_nothing() {
    let mut t = tracker();
    let a: IpAddr = "10.0.0.1".parse().unwrap();
    let b: IpAddr = "10.0.0.2".parse().unwrap();
    let mut out = [0u8; 1500];
    assert_eq!(t.udp(&udp_announce(12345, 6881, 0), a, 1, &mut out), None);
    let theirs = connect(&mut t, b);
    assert_eq!(t.udp(&udp_announce(theirs, 6881, 0), a, 1, &mut out), None);
    // A 16-byte scrape or unknown action without a valid id: silence, not
    // a longer error packet.
    let mut s = theirs.to_be_bytes().to_vec();
    s.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 4]);
    assert_eq!(t.udp(&s, a, 1, &mut out), None);
    s[11] = 9;
    assert_eq!(t.udp(&s, a, 1, &mut out), None);
    assert_eq!(t.swarm.torrent_count(), 0);
    assert_eq!(t.stats.udp_unproven, 4);
    assert_eq!(t.udp(&[1, 2, 3], a, 1, &mut out), None);
    // The same id from its own source proves it: errors are explained.
    let n = t.udp(&s, b, 1, &mut out).unwrap();
    assert_eq!(&out[8..n], b"unknown action");
}

/// The per-torrent pages list torrents in info-hash order across many
/// batches, and torrents removed or moved mid-stream are neither repeated
/// nor break the order.
#[test]
fn streamed_pages_are_in_hash_order_across_batches_and_changes() {
    let no_budget = crate::swarm::Policy {
        new_torrents_per_minute: 0,
        ..Default::default()
    };
    let swarm = Swarm::with_policy(
        Limits {
            max_memory: 8 << 20,
            max_torrents: Some(6 * ORDER_BATCH),
            max_peers_per_torrent: 10,
            peer_timeout: 2700,
        },
        no_budget,
        5,
    )
    .unwrap();
    let mut t = Tracker::new(swarm, tracker().settings.clone());
    let hash = |i: u32| {
        let mut h = [0u8; 20];
        h[..4].copy_from_slice(&i.wrapping_mul(0x9E37_79B9).to_be_bytes());
        h[4..8].copy_from_slice(&i.to_be_bytes());
        h
    };
    let mut sel = Selection::default();
    let mut a = Announce {
        info_hash: [0; 20],
        ip: "10.0.0.1".parse().unwrap(),
        port: 1,
        seeder: false,
        event: Event::None,
        numwant: 0,
        other_family: false,
        listed: false,
    };
    let n = 5 * ORDER_BATCH as u32 + 7;
    for i in 0..n {
        a.info_hash = hash(i);
        t.swarm.announce_counts(&a, 0, &mut sel).unwrap();
    }
    let raw = b"GET /stats?mode=tpbs&format=bin HTTP/1.1\r\n\r\n";
    let head = http::parse_head(raw).unwrap();
    let mut out = [0u8; 9000];
    let mut stream = t
        .http(&head, "127.0.0.1".parse().unwrap(), 0, &mut out)
        .stream
        .unwrap();
    let mut body = Vec::new();
    let mut chunks = 0;
    loop {
        let len = t.stream_chunk(&mut stream, &mut out);
        if len == 0 {
            break;
        }
        body.extend_from_slice(&out[..len]);
        chunks += 1;
        if chunks == 2 {
            // Mid-stream: drop torrents 0..1500 (swap removal reorders the
            // table); the ones not yet written must not show up.
            a.event = Event::Stopped;
            for i in 0..1500 {
                a.info_hash = hash(i);
                t.swarm.announce_counts(&a, 1, &mut sel).unwrap();
            }
        }
    }
    // format=bin: 20-byte hash, then seeders and leechers (4 bytes each).
    let got: Vec<[u8; 20]> = body
        .chunks_exact(28)
        .map(|r| r[..20].try_into().unwrap())
        .collect();
    assert!(got.windows(2).all(|w| w[0] < w[1]), "strictly increasing");
    let written_before = got.len();
    let mut remaining: Vec<[u8; 20]> = (1500..n).map(hash).collect();
    remaining.sort_unstable();
    // Every torrent still there is listed once; removed ones only if they
    // were written before their removal (they sort before the others).
    assert!(remaining.iter().all(|h| got.contains(h)));
    assert!(written_before >= remaining.len() && written_before < n as usize);
    // And two streams written side by side (they share the table pass
    // when at the same point) each list exactly the stored torrents, sorted.
    let client = "127.0.0.1".parse().unwrap();
    let mut streams = [
        t.http(&head, client, 0, &mut out).stream.unwrap(),
        t.http(&head, client, 0, &mut out).stream.unwrap(),
    ];
    let mut bodies = [Vec::new(), Vec::new()];
    let mut busy = true;
    while busy {
        busy = false;
        for (k, stream) in streams.iter_mut().enumerate() {
            // Uneven buffer sizes keep the two streams at different points.
            let len = t.stream_chunk(stream, &mut out[..4000 + 3000 * k]);
            bodies[k].extend_from_slice(&out[..len]);
            busy |= len > 0;
        }
    }
    for body in bodies {
        let all: Vec<[u8; 20]> = body
            .chunks_exact(28)
            .map(|r| r[..20].try_into().unwrap())
            .collect();
        assert_eq!(all, remaining);
    }
}
