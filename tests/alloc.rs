//! Proves that answering requests never allocates: a counting global
//! allocator wraps the system one, and thousands of HTTP and UDP requests go
//! through the tracker's request handlers (the code between socket read and
//! socket write) with the count checked before and after.
use smoltracker::swarm::{Limits, Swarm};
use smoltracker::tracker::{Settings, Tracker};
use smoltracker::wire::http::parse_head;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // Only the measuring thread counts: the test harness allocates on its own
    // threads whenever it likes. Const-initialised, so reading it never allocates.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: defers every call to the system allocator, only counting them.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn hex(h: &[u8; 20]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

fn enc(h: &[u8; 20]) -> String {
    h.iter().map(|b| format!("%{b:02X}")).collect()
}

#[test]
fn answering_requests_does_not_allocate() {
    let swarm = Swarm::new(
        Limits {
            max_memory: 16 << 20,
            max_torrents: Some(4096),
            max_peers_per_torrent: 1000,
            peer_timeout: 2700,
        },
        42,
    )
    .unwrap();
    let mut t = Tracker::new(
        swarm,
        Settings {
            interval: 1800,
            numwant_default: 50,
            numwant_max: 200,
            redirect_url: None,
            stats_path: "/stats".into(),
            stats_allowed: Vec::new(),
            proxies: Vec::new(),
            fullscrape: true,
            stats_public: Vec::new(),
        },
    );
    // Requests are prepared up front; only handling them is counted.
    let hashes: Vec<[u8; 20]> = (0..64u8).map(|i| [i; 20]).collect();
    // Half of them named in a whitelist, so the release pages have labels.
    t.set_labels(smoltracker::labels::Labels::new(64 << 10).unwrap());
    let names: String = hashes[..32]
        .iter()
        .map(|h| format!("{}  <release> \"{}\"\n", hex(h), h[0]))
        .collect();
    assert_eq!(t.labels_mut().rebuild(names.as_bytes()).stored, 32);
    let mut http_reqs = Vec::new();
    for (i, h) in hashes.iter().enumerate() {
        for (port, extra) in [
            (1, "&left=0&event=completed"),
            (2, "&left=5&compact=0"),
            (3, "&left=9&numwant=200"),
        ] {
            http_reqs.push(format!(
                "GET /announce?info_hash={}&port={}&left=1{extra} HTTP/1.1\r\nHost: x\r\n\r\n",
                enc(h),
                port + i
            ));
        }
        http_reqs.push(format!(
            "GET /scrape?info_hash={}&info_hash={} HTTP/1.1\r\n\r\n",
            enc(h),
            enc(&hashes[0])
        ));
    }
    http_reqs.push("GET /announce?info_hash=short&port=1 HTTP/1.1\r\n\r\n".into());
    for mode in [
        "peer",
        "conn",
        "udp4",
        "tcp4",
        "torr",
        "herr",
        "everything",
        "prom",
        "version",
        "completed",
        "syncs",
        "renew",
        "numwants",
        "busy",
        "s24s",
        "woodpeckers",
        "fulllog",
    ] {
        http_reqs.push(format!("GET /stats?mode={mode} HTTP/1.1\r\n\r\n"));
    }
    http_reqs.push("GET /nope HTTP/1.1\r\n\r\n".into());
    let clients: Vec<IpAddr> = (0..50u8).map(|i| IpAddr::from([10, 1, 0, i])).collect();
    let v6: IpAddr = "2001:db8::7".parse().unwrap();
    let mut out = vec![0u8; 160 + 8192];

    // Warm up once: the first touch of lazily initialised statics may allocate.
    for r in &http_reqs {
        let head = parse_head(r.as_bytes()).unwrap();
        t.http(&head, clients[0], 0, &mut out);
    }

    COUNTING.with(|c| c.set(true));
    // The counter itself works: a real allocation on this thread registers.
    let before = ALLOCS.load(Ordering::Relaxed);
    let probe = std::hint::black_box(vec![0u8; 64]);
    assert!(
        ALLOCS.load(Ordering::Relaxed) > before,
        "counting allocator is live"
    );
    drop(probe);

    let before = ALLOCS.load(Ordering::Relaxed);
    let mut answered = 0usize;
    for round in 0..20u32 {
        for (k, r) in http_reqs.iter().enumerate() {
            let head = parse_head(r.as_bytes()).unwrap();
            let ip = if k % 7 == 0 {
                v6
            } else {
                clients[(k + round as usize) % clients.len()]
            };
            let reply = t.http(&head, ip, round, &mut out);
            assert!(!reply.range.is_empty());
            answered += 1;
        }
        // The per-torrent and release pages, streamed to the end.
        for page in [
            &b"GET /stats?mode=tpbs&format=txt HTTP/1.1\r\n\r\n"[..],
            b"GET /stats?mode=json HTTP/1.1\r\n\r\n",
            b"GET /stats?mode=html HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\n\r\n",
        ] {
            let head = parse_head(page).unwrap();
            let reply = t.http(&head, clients[0], round, &mut out);
            let mut stream = reply.stream.unwrap();
            let mut streamed = 0;
            loop {
                let n = t.stream_chunk(&mut stream, &mut out);
                if n == 0 {
                    break;
                }
                streamed += n;
            }
            assert!(streamed > 2000, "{streamed} bytes");
        }
        // The top lists and the statedump, streamed the same way.
        for raw in [
            b"GET /stats?mode=top100 HTTP/1.1\r\n\r\n".as_slice(),
            b"GET /stats?mode=statedump HTTP/1.1\r\n\r\n",
        ] {
            let head = parse_head(raw).unwrap();
            let mut stream = t.http(&head, clients[0], round, &mut out).stream.unwrap();
            while t.stream_chunk(&mut stream, &mut out) > 0 {}
        }
    }
    let http_allocs = ALLOCS.load(Ordering::Relaxed) - before;

    // UDP: connect, announce, scrape, errors; only the handler calls are counted.
    for round in 0..2000u32 {
        let from = clients[round as usize % clients.len()];
        let mut req = 0x41727101980u64.to_be_bytes().to_vec();
        req.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
        let mut reply = [0u8; 1500];
        let n = t.udp(&req, from, round / 10, &mut reply).unwrap();
        assert_eq!(n, 16);
        let mut ann = reply[8..16].to_vec();
        ann.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2]);
        ann.extend_from_slice(&hashes[round as usize % hashes.len()]);
        ann.extend_from_slice(&[0; 20]);
        ann.extend_from_slice(&[0; 8]);
        ann.extend_from_slice(&u64::from(round % 2).to_be_bytes());
        ann.extend_from_slice(&[0; 8]);
        ann.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        ann.extend_from_slice(&(1000 + (round % 300) as u16).to_be_bytes());
        let mut scrape = reply[8..16].to_vec();
        scrape.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 3]);
        scrape.extend_from_slice(&hashes[1]);
        let mut unknown = reply[8..16].to_vec();
        unknown.extend_from_slice(&[0, 0, 0, 9, 0, 0, 0, 4]);
        let before_round = ALLOCS.load(Ordering::Relaxed);
        let n = t.udp(&ann, from, round / 10, &mut reply).unwrap();
        assert_eq!(&reply[..4], &[0, 0, 0, 1], "{:?}", &reply[..n]);
        t.udp(&scrape, from, round / 10, &mut reply).unwrap();
        // An error for a proven source; silence for an unproven one.
        t.udp(&unknown, from, round / 10, &mut reply).unwrap();
        assert_eq!(t.udp(&[0u8; 16], from, round / 10, &mut reply), None);
        t.udp(&[1, 2, 3], from, round / 10, &mut reply);
        assert_eq!(
            ALLOCS.load(Ordering::Relaxed),
            before_round,
            "UDP round {round} allocated"
        );
    }
    println!("{answered} HTTP requests: {http_allocs} allocations");
    assert_eq!(http_allocs, 0, "HTTP request handling allocated");
    assert!(t.swarm.torrent_count() >= 64);
}
