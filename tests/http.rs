//! HTTP announce/scrape against the real binary.
mod common;
use common::*;
use std::io::Write;

#[test]
fn announce_returns_other_peers_never_the_requester() {
    let t = Tracker::start(&[]);
    let h = [0x11; 20];
    let r = t.http(&announce_url(&h, 6001, "&left=0&event=started&compact=1"));
    assert_eq!(r.status, 200);
    assert_eq!(ben_int(&r.body, "complete"), Some(1));
    assert_eq!(ben_get(&r.body, "peers"), Some(&b""[..]));
    assert_eq!(ben_int(&r.body, "interval"), Some(1800));
    assert_eq!(ben_int(&r.body, "min interval"), Some(900));
    let r = t.http(&announce_url(
        &h,
        6002,
        "&left=100&event=started&numwant=200&no_peer_id=1&key=abcd",
    ));
    assert_eq!(ben_int(&r.body, "complete"), Some(1));
    assert_eq!(ben_int(&r.body, "incomplete"), Some(1));
    assert_eq!(
        ben_get(&r.body, "peers"),
        Some(&[127, 0, 0, 1, 0x17, 0x71][..])
    );
    // Non-compact: a dictionary list.
    let r = t.http(&announce_url(&h, 6003, "&left=100&compact=0"));
    let text = r.text();
    assert!(text.contains("d2:ip9:127.0.0.14:porti6001ee"), "{text}");
    assert!(text.contains("d2:ip9:127.0.0.14:porti6002ee"), "{text}");
    assert!(!text.contains("porti6003e"), "{text}");
}

#[test]
fn completed_and_stopped_update_counts_and_scrape() {
    let t = Tracker::start(&[]);
    let a = [0x21; 20];
    let b = [0x22; 20];
    t.http(&announce_url(&a, 7001, "&left=10&event=started"));
    t.http(&announce_url(&a, 7002, "&left=10&event=started"));
    t.http(&announce_url(&a, 7001, "&left=0&event=completed"));
    let r = t.http(&format!(
        "/scrape?info_hash={}&info_hash={}",
        enc(&a),
        enc(&b)
    ));
    assert_eq!(r.status, 200);
    let mut expect = b"d5:filesd20:".to_vec();
    expect.extend_from_slice(&a);
    expect.extend_from_slice(b"d8:completei1e10:downloadedi1e10:incompletei1ee20:");
    expect.extend_from_slice(&b);
    expect.extend_from_slice(b"d8:completei0e10:downloadedi0e10:incompletei0eeee");
    assert_eq!(r.body, expect);
    let r = t.http(&announce_url(&a, 7002, "&left=10&event=stopped"));
    assert_eq!(ben_int(&r.body, "incomplete"), Some(0));
    let r = t.http(&format!("/scrape.php?info_hash={}", enc(&a)));
    assert!(r
        .body
        .ends_with(b"d8:completei1e10:downloadedi1e10:incompletei0eeee"));
}

#[test]
fn ipv6_peers_come_back_as_peers6() {
    if !ipv6_loopback_works() {
        eprintln!("skipped: no IPv6 loopback");
        return;
    }
    let t = Tracker::start(&["-i", "::1", "-p", "0", "-P", "0"]);
    let v6 = *t.tcp.iter().find(|a| a.is_ipv6()).expect("a v6 listener");
    let h = [0x31; 20];
    http_get(v6, &announce_url(&h, 8001, "&left=0"));
    let r = http_get(v6, &announce_url(&h, 8002, "&left=5"));
    let mut rec = [0u8; 18];
    rec[15] = 1;
    rec[16..].copy_from_slice(&8001u16.to_be_bytes());
    assert_eq!(ben_get(&r.body, "peers6"), Some(&rec[..]));
    // An IPv4 peer of the same torrent gets both IPv6 peers in peers6, itself nowhere.
    let r = t.http(&announce_url(&h, 8003, "&left=5"));
    assert_eq!(ben_get(&r.body, "peers"), Some(&b""[..]));
    let six = ben_get(&r.body, "peers6").unwrap();
    let mut ports: Vec<u16> = six
        .chunks(18)
        .map(|c| u16::from_be_bytes([c[16], c[17]]))
        .collect();
    ports.sort();
    assert_eq!(ports, vec![8001, 8002]);
    assert!(six.chunks(18).all(|c| c[..16] == rec[..16]));
}

#[test]
fn keep_alive_serves_several_requests_and_pipelining_works() {
    let t = Tracker::start(&[]);
    let h = [0x41; 20];
    let mut s = connect(t.tcp[0]);
    for port in [9001, 9002] {
        let req = format!(
            "GET {} HTTP/1.1\r\nHost: t\r\n\r\n",
            announce_url(&h, port, "&left=1")
        );
        s.write_all(req.as_bytes()).unwrap();
        let r = read_response(&mut s).expect("reply on the same connection");
        assert_eq!(r.status, 200);
        assert!(r.head.contains("Connection: keep-alive"));
    }
    // Two requests in one write.
    let one = format!("GET {} HTTP/1.1\r\n\r\n", announce_url(&h, 9003, "&left=1"));
    s.write_all(format!("{one}{one}").as_bytes()).unwrap();
    assert_eq!(read_response(&mut s).unwrap().status, 200);
    let r = read_response(&mut s).unwrap();
    assert_eq!(ben_int(&r.body, "incomplete"), Some(3));
    // HTTP/1.0 without keep-alive closes after the reply.
    let mut s = connect(t.tcp[0]);
    write!(
        s,
        "GET {} HTTP/1.0\r\n\r\n",
        announce_url(&h, 9004, "&left=1")
    )
    .unwrap();
    let r = read_response(&mut s).unwrap();
    assert!(r.head.contains("Connection: close"));
    assert!(read_response(&mut s).is_none(), "closed");
}

#[test]
fn bad_requests_get_clear_answers_and_change_nothing() {
    let t = Tracker::start(&[]);
    let h = [0x51; 20];
    let failure = |target: &str| {
        let r = t.http(target);
        assert_eq!(r.status, 200, "{target}");
        String::from_utf8_lossy(ben_get(&r.body, "failure reason").expect("failure reason"))
            .into_owned()
    };
    assert_eq!(failure("/announce?port=1&left=0"), "missing info_hash");
    assert_eq!(
        failure("/announce?info_hash=%11%22&port=1"),
        "invalid info_hash (must be 20 bytes)"
    );
    assert_eq!(
        failure(&format!("/announce?info_hash={}", enc(&h))),
        "missing port"
    );
    assert_eq!(
        failure(&format!("/announce?info_hash={}&port=0", enc(&h))),
        "invalid port"
    );
    assert_eq!(
        failure(&format!("/announce?info_hash={}&port=99999", enc(&h))),
        "invalid port"
    );
    assert_eq!(
        failure(&format!("/announce?info_hash={}&port=1&left=-1", enc(&h))),
        "invalid left"
    );
    assert_eq!(
        failure("/scrape?info_hash=%zz"),
        "invalid info_hash (must be 20 bytes)"
    );
    assert_eq!(t.http("/no/such/path").status, 404);

    let raw = |bytes: &[u8]| {
        let mut s = connect(t.tcp[0]);
        s.write_all(bytes).unwrap();
        read_response(&mut s).map(|r| r.status)
    };
    assert_eq!(raw(b"\x16\x03\x01garbage\r\n\r\n"), Some(400));
    assert_eq!(raw(b"GET /announce HTTP/9.9\r\n\r\n"), Some(400));
    assert_eq!(
        raw(b"POST /announce HTTP/1.1\r\nContent-Length: 0\r\n\r\n"),
        Some(405)
    );
    let mut big = b"GET /announce?".to_vec();
    big.extend(std::iter::repeat_n(b'a', 9000));
    assert_eq!(raw(&big), Some(413));
    // Nothing was stored by any of that.
    let r = t.http(&format!("/scrape?info_hash={}", enc(&h)));
    assert!(r
        .body
        .ends_with(b"d8:completei0e10:downloadedi0e10:incompletei0eeee"));
}

#[test]
fn connections_beyond_the_cap_are_refused_and_idle_ones_do_not_block_udp() {
    let dir = std::env::temp_dir().join(format!("smoltracker-cap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("cap.conf");
    std::fs::write(&conf, "tracker.max_connections 2\n").unwrap();
    let t = Tracker::start(&["-f", conf.to_str().unwrap()]);
    let idle1 = connect(t.tcp[0]);
    let idle2 = connect(t.tcp[0]);
    // Give the tracker a moment to accept both.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let mut third = connect(t.tcp[0]);
    let r = read_response(&mut third);
    assert_eq!(r.map(|r| r.status), Some(503));
    // UDP is still served while HTTP is saturated, and so is an HTTP client
    // whose request arrives at once: it needs no slot.
    let (interval, ..) = t.udp_client().announce(&[0x61; 20], 0, 2, 1);
    assert_eq!(interval, 1800);
    // (Only once its request has arrived by the time the connection is
    // accepted, which on loopback is a race: a client retries, and so do we.
    // Before, every fresh client got 503 until the idle ones timed out, 30 s.)
    assert!(
        eventually(5, || {
            let r = t.http(&announce_url(&[0x62; 20], 1, "&left=0"));
            ben_int(&r.body, "complete") == Some(1)
        }),
        "served while every slot is held"
    );
    // Once an idle connection goes, a slow client can have its slot.
    drop(idle1);
    assert!(eventually(5, || {
        let mut s = connect(t.tcp[0]);
        std::thread::sleep(std::time::Duration::from_millis(100));
        s.write_all(b"GET /x HTTP/1.1\r\nConnection: close\r\n\r\n")
            .is_ok()
            && read_response(&mut s).map(|r| r.status) == Some(404)
    }));
    drop(idle2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn many_peers_numwant_is_capped_and_distinct() {
    // 250 peers from one address: lift the per-address cap (16 by default).
    let dir = scratch_dir("numwant");
    let conf = dir.join("t.conf");
    std::fs::write(&conf, "tracker.max_peers_per_address 1000\n").unwrap();
    let t = Tracker::start(&["-f", conf.to_str().unwrap()]);
    let h = [0x71; 20];
    let mut s = connect(t.tcp[0]);
    for port in 1..=250u16 {
        let req = format!("GET {} HTTP/1.1\r\n\r\n", announce_url(&h, port, "&left=5"));
        s.write_all(req.as_bytes()).unwrap();
        read_response(&mut s).unwrap();
    }
    let r = t.http(&announce_url(&h, 300, "&left=5&numwant=1000"));
    let peers = ben_get(&r.body, "peers").unwrap();
    assert_eq!(peers.len(), 200 * 6);
    let mut ports: Vec<u16> = peers
        .chunks(6)
        .map(|c| u16::from_be_bytes([c[4], c[5]]))
        .collect();
    ports.sort();
    ports.dedup();
    assert_eq!(ports.len(), 200);
    let r = t.http(&announce_url(&h, 300, "&left=5"));
    assert_eq!(
        ben_get(&r.body, "peers").unwrap().len(),
        50 * 6,
        "default numwant 50"
    );
}

#[test]
fn a_request_trickling_in_byte_by_byte_is_cut_off() {
    let t = Tracker::start(&[]);
    let mut s = connect(t.tcp[0]);
    let start = std::time::Instant::now();
    let req = b"GET /announce?info_hash=aaaaaaaaaaaaaaaaaaaa&port=1 HTTP/1.1\r\nX-Slow: ";
    s.write_all(&req[..5]).unwrap();
    // One byte every 500 ms: each read succeeds, but the request as a whole
    // must be complete within 10 s of its first byte.
    let mut closed = false;
    for i in 0..60 {
        std::thread::sleep(std::time::Duration::from_millis(500));
        if s.write_all(&[req[(5 + i) % req.len()]]).is_err() {
            closed = true;
            break;
        }
    }
    let elapsed = start.elapsed().as_secs();
    assert!(
        closed || read_response(&mut s).is_none(),
        "connection still open after {elapsed} s"
    );
    assert!(
        elapsed <= 14 * u64::from(slow()),
        "cut off after {elapsed} s"
    );
}
