//! Fast load generator for the flood tests: std only, built by the scripts
//! with `rustc -O tests/flood/flood.rs -o target/flood/flood`.
//!
//!   flood udp-announce ADDR COUNT [opts]   BEP 15 announces, random hashes
//!   flood udp-fixed ADDR SECONDS [opts]    re-announces a fixed set of peers
//!   flood udp-garbage ADDR SECONDS [opts]  random and malformed datagrams
//!   flood http-garbage ADDR SECONDS [opts] random and malformed HTTP requests
//!   flood udp-churn ADDR SECONDS [opts]    a population of peers joining,
//!                                          re-announcing, leaving and vanishing
//!
//! Options: --threads N, --window N (datagrams in flight per thread),
//! --hot N --hot-permille P (P‰ of announces go to N "hot" torrents),
//! --hashes N --ports N (udp-fixed: N torrents × N peers), --seed S;
//! udp-churn: --peers N (population), --hashes N (torrents they pick from),
//! --interval S (re-announce period).
//! Prints one line of `key=value` figures on stdout. Exits 1 when the
//! tracker stops answering (no reply at all for 5 s) or on bad arguments.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PROTOCOL_ID: u64 = 0x0417_2710_1980;

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    replies: AtomicU64,
    ok: AtomicU64,
    full: AtomicU64,
    not_authorized: AtomicU64,
    other_error: AtomicU64,
    bad_reply: AtomicU64,
    connects: AtomicU64,
    joins: AtomicU64,
    leaves: AtomicU64,
    vanished: AtomicU64,
    completed: AtomicU64,
    active: AtomicU64,
    http_conns: AtomicU64,
    http_status: [AtomicU64; 6], // 2xx..5xx by first digit, [0] = no status line
    http_reset: AtomicU64,
    stalled: AtomicBool,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

struct Opts {
    threads: usize,
    window: usize,
    hot: u64,
    hot_permille: u64,
    hashes: u32,
    ports: u32,
    seed: u64,
    peers: usize,
    interval: u64,
}

/// The 20-byte info hash of fixed torrent `i` (the scripts compute the same).
fn fixed_hash(i: u32) -> [u8; 20] {
    let mut h = [0u8; 20];
    for k in 0..5 {
        h[k * 4..k * 4 + 4].copy_from_slice(&(i ^ 0xA5A5_A5A5).to_be_bytes());
    }
    h
}

fn udp_connect(sock: &UdpSocket, c: &Counters) -> Option<u64> {
    let mut req = [0u8; 16];
    req[..8].copy_from_slice(&PROTOCOL_ID.to_be_bytes());
    req[12..16].copy_from_slice(&0x0C0F_FEE0u32.to_be_bytes());
    let mut buf = [0u8; 2048];
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        let _ = sock.send(&req);
        loop {
            match sock.recv(&mut buf) {
                Ok(16) if buf[..4] == [0, 0, 0, 0] && buf[4..8] == req[12..16] => {
                    c.connects.fetch_add(1, Relaxed);
                    return Some(u64::from_be_bytes(buf[8..16].try_into().unwrap()));
                }
                Ok(_) => continue, // a late reply to an earlier announce
                Err(_) => break,
            }
        }
    }
    None
}

fn announce_packet(buf: &mut [u8; 98], conn: u64, tid: u32, hash: &[u8; 20], left: u64, event: u32, port: u16) {
    buf[..8].copy_from_slice(&conn.to_be_bytes());
    buf[8..12].copy_from_slice(&1u32.to_be_bytes());
    buf[12..16].copy_from_slice(&tid.to_be_bytes());
    buf[16..36].copy_from_slice(hash);
    buf[36..56].copy_from_slice(b"-FL0001-floodfloodfl");
    buf[56..64].copy_from_slice(&0u64.to_be_bytes());
    buf[64..72].copy_from_slice(&left.to_be_bytes());
    buf[72..80].copy_from_slice(&0u64.to_be_bytes());
    buf[80..84].copy_from_slice(&event.to_be_bytes());
    buf[84..88].copy_from_slice(&0u32.to_be_bytes());
    buf[88..92].copy_from_slice(&tid.to_be_bytes());
    buf[92..96].copy_from_slice(&10i32.to_be_bytes());
    buf[96..98].copy_from_slice(&port.to_be_bytes());
}

fn classify(reply: &[u8], c: &Counters) {
    c.replies.fetch_add(1, Relaxed);
    if reply.len() < 8 {
        c.bad_reply.fetch_add(1, Relaxed);
        return;
    }
    match u32::from_be_bytes(reply[..4].try_into().unwrap()) {
        1 if reply.len() >= 20 => {
            c.ok.fetch_add(1, Relaxed);
        }
        3 => {
            let msg = &reply[8..];
            let slot = if msg == b"tracker is full" {
                &c.full
            } else if msg.starts_with(b"Requested download is not authorized") {
                &c.not_authorized
            } else {
                &c.other_error
            };
            slot.fetch_add(1, Relaxed);
        }
        0 | 2 => {}
        _ => {
            c.bad_reply.fetch_add(1, Relaxed);
        }
    }
}

/// Sends announces in windows of `window` datagrams and collects the replies.
/// `next` fills packet `seq` and returns false when there is nothing left.
fn udp_worker(
    addr: SocketAddr,
    c: &Counters,
    window: usize,
    deadline: Option<Instant>,
    mut next: impl FnMut(&mut [u8; 98], u64, u32) -> bool,
) {
    let sock = UdpSocket::bind(if addr.is_ipv4() { "127.0.0.1:0" } else { "[::1]:0" }).unwrap();
    sock.connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let Some(mut conn) = udp_connect(&sock, c) else {
        c.stalled.store(true, Relaxed);
        return;
    };
    let mut conn_at = Instant::now();
    let mut pkt = [0u8; 98];
    let mut buf = [0u8; 2048];
    let mut tid = 0u32;
    let mut silent_since: Option<Instant> = None;
    'outer: loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        if conn_at.elapsed() > Duration::from_secs(60) {
            // Ids live two to four minutes: renew well before.
            match udp_connect(&sock, c) {
                Some(id) => conn = id,
                None => {
                    c.stalled.store(true, Relaxed);
                    return;
                }
            }
            conn_at = Instant::now();
        }
        let mut in_flight = 0;
        for _ in 0..window {
            tid = tid.wrapping_add(1);
            if !next(&mut pkt, conn, tid) {
                if in_flight == 0 {
                    break 'outer;
                }
                break;
            }
            if sock.send(&pkt).is_ok() {
                in_flight += 1;
                c.sent.fetch_add(1, Relaxed);
            }
        }
        let mut got = 0;
        while got < in_flight {
            match sock.recv(&mut buf) {
                Ok(n) => {
                    got += 1;
                    classify(&buf[..n], c);
                }
                Err(_) => break, // lost datagrams: counted as sent - replies
            }
        }
        if got == 0 && in_flight > 0 {
            let since = *silent_since.get_or_insert_with(Instant::now);
            if since.elapsed() > Duration::from_secs(5) {
                c.stalled.store(true, Relaxed);
                return;
            }
        } else {
            silent_since = None;
        }
    }
}

fn garbage_datagram(rng: &mut Rng, conn: u64, buf: &mut [u8; 2048]) -> usize {
    let kind = rng.below(8);
    let len = match kind {
        0 => rng.below(16) as usize,               // too short: silence
        1 => 16,                                   // header only
        2 => 97,                                   // announce one byte short
        3 => 98 + rng.below(200) as usize,         // announce with options / trailing bytes
        4 => 16 + 20 * rng.below(80) as usize + rng.below(20) as usize, // scrapes, some too many
        _ => rng.below(1500) as usize,
    };
    rng.fill(&mut buf[..len]);
    if len >= 16 {
        match kind {
            1 | 2 | 3 => {
                let conn = if rng.below(2) == 0 { conn } else { rng.next() };
                buf[..8].copy_from_slice(&conn.to_be_bytes());
                buf[8..12].copy_from_slice(&1u32.to_be_bytes());
            }
            4 => {
                buf[..8].copy_from_slice(&conn.to_be_bytes());
                buf[8..12].copy_from_slice(&2u32.to_be_bytes());
            }
            5 => {
                buf[..8].copy_from_slice(&PROTOCOL_ID.to_be_bytes());
                let action = rng.below(5) as u32;
                buf[8..12].copy_from_slice(&action.to_be_bytes());
            }
            _ => {
                let action = rng.below(6) as u32; // some unknown actions
                buf[8..12].copy_from_slice(&action.to_be_bytes());
            }
        }
    }
    len
}

fn udp_garbage(addr: SocketAddr, c: &Counters, deadline: Instant, seed: u64, window: usize) {
    let sock = UdpSocket::bind(if addr.is_ipv4() { "127.0.0.1:0" } else { "[::1]:0" }).unwrap();
    sock.connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let Some(conn) = udp_connect(&sock, c) else {
        c.stalled.store(true, Relaxed);
        return;
    };
    sock.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
    let mut rng = Rng(seed | 1);
    let mut buf = [0u8; 2048];
    let mut reply = [0u8; 2048];
    while Instant::now() < deadline {
        for _ in 0..window {
            let n = garbage_datagram(&mut rng, conn, &mut buf);
            if sock.send(&buf[..n]).is_ok() {
                c.sent.fetch_add(1, Relaxed);
            }
        }
        while let Ok(n) = sock.recv(&mut reply) {
            classify(&reply[..n], c);
        }
    }
}

fn http_garbage_request(rng: &mut Rng) -> Vec<u8> {
    let hash: String = (0..20).map(|_| format!("%{:02X}", rng.below(256))).collect();
    let mut r = match rng.below(12) {
        0 => {
            let mut v = vec![0u8; rng.below(2000) as usize];
            rng.fill(&mut v);
            v
        }
        1 => format!("GET /announce?info_hash={hash}&port={}&left={} HTTP/1.1\r\nHost: x\r\n\r\n", rng.below(70000), rng.next())
            .into_bytes(),
        2 => format!("POST /announce HTTP/1.1\r\nContent-Length: {}\r\n\r\nabc", rng.below(10)).into_bytes(),
        3 => {
            // Over the 8 KiB head limit: 413.
            let mut v = b"GET /announce?".to_vec();
            v.extend(std::iter::repeat_n(b'a', 9000));
            v.extend_from_slice(b" HTTP/1.1\r\n\r\n");
            v
        }
        4 => b"GET /scrape HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(),
        5 => format!("GET /stats?mode={} HTTP/1.0\r\n\r\n", ["tpbs&format=ben", "everything", "prom", "nope", "tpbs&format=bin"][rng.below(5) as usize]).into_bytes(),
        6 => {
            // Pipelined valid and invalid requests on one keep-alive connection.
            let mut v = Vec::new();
            for _ in 0..(1 + rng.below(20)) {
                v.extend_from_slice(format!("GET /scrape?info_hash={hash} HTTP/1.1\r\n\r\n").as_bytes());
            }
            v.extend_from_slice(b"GARBAGE\r\n\r\n");
            v
        }
        7 => format!("GET /announce?info_hash={hash}&port=1&numwant=999999999999&compact=0 HTTP/1.1\r\nX-Forwarded-For: {}\r\n\r\n", rng.next()).into_bytes(),
        8 => b"GET / HTTP/1.1\r\n".to_vec(), // never finished: the client closes first
        9 => {
            let mut v = format!("GET /announce?info_hash={hash}&port=2 HTTP/1.1\r\n").into_bytes();
            for i in 0..(rng.below(60)) {
                v.extend_from_slice(format!("X-H{i}: {}\r\n", rng.next()).as_bytes());
            }
            v.extend_from_slice(b"\r\n");
            v
        }
        10 => b"\r\n\r\n\r\n".to_vec(),
        _ => {
            let mut v = format!("GET /announce?info_hash={hash}&port=3&event=started HTTP/1.1\r\n\r\n").into_bytes();
            // Flip some bytes.
            for _ in 0..(1 + rng.below(4)) {
                let i = rng.below(v.len() as u64) as usize;
                v[i] = rng.next() as u8;
            }
            v
        }
    };
    if rng.below(10) == 0 {
        r.truncate(rng.below(r.len() as u64 + 1) as usize);
    }
    r
}

fn http_garbage(addr: SocketAddr, c: &Counters, deadline: Instant, seed: u64) {
    let mut rng = Rng(seed | 1);
    let mut buf = vec![0u8; 65536];
    let mut failures_in_a_row = 0;
    while Instant::now() < deadline {
        let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
            failures_in_a_row += 1;
            if failures_in_a_row > 50 {
                c.stalled.store(true, Relaxed);
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        failures_in_a_row = 0;
        c.http_conns.fetch_add(1, Relaxed);
        let _ = s.set_read_timeout(Some(Duration::from_millis(300)));
        let req = http_garbage_request(&mut rng);
        c.sent.fetch_add(1, Relaxed);
        if s.write_all(&req).is_err() {
            c.http_reset.fetch_add(1, Relaxed);
            continue;
        }
        if rng.below(8) == 0 {
            continue; // close without reading (possibly with unread reply: RST)
        }
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut got = Vec::new();
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    got.extend_from_slice(&buf[..n]);
                    if got.len() > 1 << 20 {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    c.http_reset.fetch_add(1, Relaxed);
                    break;
                }
                Err(_) => break,
            }
        }
        // Stats answers are HTTP/1.0, as opentracker's.
        let status = if (got.starts_with(b"HTTP/1.1 ") || got.starts_with(b"HTTP/1.0 ")) && got.len() > 9 {
            (got[9] as char).to_digit(10).unwrap_or(0) as usize
        } else {
            0
        };
        c.http_status[status.min(5)].fetch_add(1, Relaxed);
        if status != 0 {
            c.replies.fetch_add(1, Relaxed);
        }
    }
}

struct Peer {
    active: bool,
    hash: u32,
    port: u16,
    seeder: bool,
    next: Instant,
}

/// A population of `peers` peers over `hashes` torrents: each joins
/// (started), re-announces every `interval` s, and at each re-announce may
/// complete (6%), leave with `stopped` (8%) or vanish without a word (8%: the
/// tracker must expire it), then rejoins later as a new peer (new port, maybe
/// another torrent). Replies are read by a second thread.
fn udp_churn(addr: SocketAddr, c: &Arc<Counters>, deadline: Instant, seed: u64, peers: usize, hashes: u32, interval: u64) {
    let sock = UdpSocket::bind(if addr.is_ipv4() { "127.0.0.1:0" } else { "[::1]:0" }).unwrap();
    sock.connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let Some(conn0) = udp_connect(&sock, c) else {
        c.stalled.store(true, Relaxed);
        return;
    };
    let conn = Arc::new(AtomicU64::new(conn0));
    let done = Arc::new(AtomicBool::new(false));
    let last_reply = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let reader = {
        let (sock, c, conn, done, last_reply) = (sock.try_clone().unwrap(), c.clone(), conn.clone(), done.clone(), last_reply.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !done.load(Relaxed) {
                if let Ok(n) = sock.recv(&mut buf) {
                    last_reply.store(t0.elapsed().as_millis() as u64, Relaxed);
                    if n == 16 && buf[..4] == [0, 0, 0, 0] {
                        conn.store(u64::from_be_bytes(buf[8..16].try_into().unwrap()), Relaxed);
                        c.connects.fetch_add(1, Relaxed);
                    } else {
                        classify(&buf[..n], &c);
                    }
                }
            }
        })
    };
    let mut rng = Rng(seed | 1);
    let period = Duration::from_secs(interval.max(1));
    let jitter = |rng: &mut Rng, d: Duration| Duration::from_millis(rng.below(d.as_millis() as u64 * 2 + 1));
    let start = Instant::now();
    let mut pop: Vec<Peer> = (0..peers)
        .map(|_| Peer { active: false, hash: 0, port: 0, seeder: false, next: start + jitter(&mut rng, period) })
        .collect();
    let mut pkt = [0u8; 98];
    let mut tid = 0u32;
    let mut last_connect = Instant::now();
    let mut connect_pkt = [0u8; 16];
    connect_pkt[..8].copy_from_slice(&PROTOCOL_ID.to_be_bytes());
    while Instant::now() < deadline {
        let now = Instant::now();
        if now.duration_since(last_connect) > Duration::from_secs(60) {
            let _ = sock.send(&connect_pkt);
            last_connect = now;
        }
        let silent_ms = t0.elapsed().as_millis() as u64 - last_reply.load(Relaxed);
        if silent_ms > 5000 && c.sent.load(Relaxed) > 0 {
            c.stalled.store(true, Relaxed);
            break;
        }
        let id = conn.load(Relaxed);
        for p in pop.iter_mut().filter(|p| p.next <= now) {
            tid = tid.wrapping_add(1);
            let event = if !p.active {
                p.active = true;
                p.hash = rng.below(u64::from(hashes)) as u32;
                p.port = 1 + rng.below(65535) as u16;
                p.seeder = rng.below(4) == 0;
                c.joins.fetch_add(1, Relaxed);
                c.active.fetch_add(1, Relaxed);
                2
            } else {
                match rng.below(100) {
                    0..=7 => {
                        p.active = false;
                        c.leaves.fetch_add(1, Relaxed);
                        c.active.fetch_sub(1, Relaxed);
                        3
                    }
                    8..=15 => {
                        p.active = false;
                        p.next = now + jitter(&mut rng, period);
                        c.vanished.fetch_add(1, Relaxed);
                        c.active.fetch_sub(1, Relaxed);
                        continue;
                    }
                    16..=21 if !p.seeder => {
                        p.seeder = true;
                        c.completed.fetch_add(1, Relaxed);
                        1
                    }
                    _ => 0,
                }
            };
            p.next = if p.active { now + period } else { now + jitter(&mut rng, period) };
            let left = if p.seeder { 0 } else { 1 << 20 };
            announce_packet(&mut pkt, id, tid, &fixed_hash(2_000_000 + p.hash), left, event, p.port);
            if sock.send(&pkt).is_ok() {
                c.sent.fetch_add(1, Relaxed);
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    done.store(true, Relaxed);
    let _ = reader.join();
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || -> ! {
        eprintln!("usage: flood (udp-announce ADDR COUNT | udp-fixed ADDR SECS | udp-garbage ADDR SECS | http-garbage ADDR SECS) [--threads N] [--window N] [--hot N] [--hot-permille P] [--hashes N] [--ports N] [--seed S]");
        std::process::exit(1)
    };
    if args.len() < 3 {
        usage();
    }
    let mode = args[0].clone();
    let addr: SocketAddr = args[1].parse().unwrap_or_else(|_| usage());
    let amount: u64 = args[2].parse().unwrap_or_else(|_| usage());
    let mut o = Opts { threads: 4, window: 32, hot: 0, hot_permille: 0, hashes: 100, ports: 20, seed: 0x5EED, peers: 20_000, interval: 10 };
    let mut i = 3;
    while i < args.len() {
        let v: u64 = args.get(i + 1).and_then(|v| v.parse().ok()).unwrap_or_else(|| usage());
        match args[i].as_str() {
            "--threads" => o.threads = v as usize,
            "--window" => o.window = v as usize,
            "--hot" => o.hot = v,
            "--hot-permille" => o.hot_permille = v,
            "--hashes" => o.hashes = v as u32,
            "--ports" => o.ports = v as u32,
            "--seed" => o.seed = v,
            "--peers" => o.peers = v as usize,
            "--interval" => o.interval = v,
            _ => usage(),
        }
        i += 2;
    }
    let c = Arc::new(Counters::default());
    let start = Instant::now();
    let deadline = start + Duration::from_secs(amount);
    let mut handles = Vec::new();
    for t in 0..o.threads {
        let c = c.clone();
        let seed = o.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (t as u64 + 1) * 0x2545_F491_4F6C_DD1D;
        let (threads, window, hot, hot_permille, hashes, ports) = (o.threads as u64, o.window, o.hot, o.hot_permille, o.hashes, o.ports);
        let (peers, interval) = (o.peers / o.threads.max(1), o.interval);
        let mode = mode.clone();
        handles.push(std::thread::spawn(move || match mode.as_str() {
            "udp-announce" => {
                let quota = amount / threads + u64::from((t as u64) < amount % threads);
                let mut rng = Rng(seed | 1);
                let mut done = 0u64;
                udp_worker(addr, &c, window, None, |pkt, conn, tid| {
                    if done == quota {
                        return false;
                    }
                    done += 1;
                    let mut hash = [0u8; 20];
                    if hot > 0 && rng.below(1000) < hot_permille {
                        hash = fixed_hash(1_000_000 + rng.below(hot) as u32);
                    } else {
                        rng.fill(&mut hash);
                    }
                    let port = 1 + rng.below(65535) as u16;
                    let left = if rng.below(4) == 0 { 0 } else { 1000 };
                    announce_packet(pkt, conn, tid, &hash, left, 2, port);
                    true
                });
            }
            "udp-fixed" => {
                // Thread t owns torrents t, t+threads, …; every peer re-announced in turn.
                let mine: Vec<u32> = (0..hashes).filter(|h| u64::from(*h) % threads == t as u64).collect();
                let mut k = 0usize;
                udp_worker(addr, &c, window, Some(deadline), |pkt, conn, tid| {
                    if mine.is_empty() {
                        return false;
                    }
                    let h = mine[(k / ports as usize) % mine.len()];
                    let p = (k % ports as usize) as u16;
                    k += 1;
                    let left = if p % 2 == 0 { 0 } else { 1000 };
                    announce_packet(pkt, conn, tid, &fixed_hash(h), left, 0, 10_000 + p);
                    true
                });
            }
            "udp-garbage" => udp_garbage(addr, &c, deadline, seed, window),
            "http-garbage" => http_garbage(addr, &c, deadline, seed),
            "udp-churn" => udp_churn(addr, &c, deadline, seed, peers, hashes, interval),
            _ => usage(),
        }));
    }
    for h in handles {
        let _ = h.join();
    }
    let secs = start.elapsed().as_secs_f64();
    let g = |a: &AtomicU64| a.load(Relaxed);
    let sent = g(&c.sent);
    println!(
        "mode={mode} sent={sent} replies={} ok={} full={} not_authorized={} other_error={} bad_reply={} lost={} connects={} joins={} leaves={} vanished={} completed={} active={} http_conns={} http_none={} http_2xx={} http_3xx={} http_4xx={} http_5xx={} http_reset={} secs={secs:.2} rate={:.0} stalled={}",
        g(&c.replies),
        g(&c.ok),
        g(&c.full),
        g(&c.not_authorized),
        g(&c.other_error),
        g(&c.bad_reply),
        if matches!(mode.as_str(), "udp-announce" | "udp-fixed" | "udp-churn") { sent.saturating_sub(g(&c.replies)) } else { 0 },
        g(&c.connects),
        g(&c.joins),
        g(&c.leaves),
        g(&c.vanished),
        g(&c.completed),
        g(&c.active),
        g(&c.http_conns),
        g(&c.http_status[0]) + g(&c.http_status[1]),
        g(&c.http_status[2]),
        g(&c.http_status[3]),
        g(&c.http_status[4]),
        g(&c.http_status[5]),
        g(&c.http_reset),
        sent as f64 / secs,
        c.stalled.load(Relaxed),
    );
    if c.stalled.load(Relaxed) {
        std::process::exit(1);
    }
}
