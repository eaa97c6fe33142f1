//! The fuzz targets' bodies, shared by the libFuzzer binaries in
//! `fuzz/fuzz_targets/` (nightly, `cargo fuzz run TARGET`) and by
//! `tests/fuzz_regressions.rs`, which replays the saved corpus and crash
//! reproducers through the same functions on stable Rust in `cargo test`.
//!
//! Every function takes arbitrary bytes, must never panic, and asserts the
//! invariants the tracker promises: replies fit their buffers and are well
//! framed, bencode is well formed, parsers only accept what they document,
//! and the swarm store agrees with a plain model and never outgrows its cap.

use fnv::FnvHashMap;
use smoltracker::access::{AccessList, Mode, NOT_AUTHORIZED};
use smoltracker::config::{self, Command, Config};
use smoltracker::info_hash::InfoHash;
use smoltracker::labels::{Labels, LABEL_MAX};
use smoltracker::state;
use smoltracker::stats::{Page, TorrentFormat};
use smoltracker::swarm::{
    Announce, Counts, Limits, Policy, Refusal, Selection, Swarm, MAX_NUMWANT,
};
use smoltracker::tracker::{HttpReply, Settings, Tracker};
use smoltracker::wire::http::{self, RequestHead};
use smoltracker::wire::query::{self, Event};
use smoltracker::wire::udp;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// The server's HTTP reply buffer.
const HTTP_OUT: usize = smoltracker::server::http::RESPONSE_MAX;
/// The server's UDP reply buffer.
const UDP_OUT: usize = smoltracker::server::udp::SEND_MAX;
/// The server's UDP receive buffer; longer datagrams arrive truncated to this.
const UDP_IN: usize = smoltracker::server::udp::RECV_MAX;
/// The address the HTTP tracker trusts as a reverse proxy.
const PROXY: Ipv4Addr = Ipv4Addr::new(10, 9, 9, 9);
/// Torrents announced into every fuzzed tracker before the input is applied.
const PRELOADED: [u8; 4] = [0xAA, 0x00, 0x41, 0x7F];

// ---- helpers ----------------------------------------------------------------

fn settings(
    fullscrape: bool,
    redirect: bool,
    stats_path: &str,
    stats_allowed: Vec<smoltracker::network::Network>,
) -> Settings {
    Settings {
        interval: 1800,
        numwant_default: 50,
        numwant_max: 200,
        redirect_url: redirect.then(|| "http://example.org/tracker".to_string()),
        stats_path: stats_path.into(),
        stats_allowed,
        proxies: vec![smoltracker::network::Network::host(IpAddr::V4(PROXY))],
        fullscrape,
        stats_public: vec!["html".into()],
    }
}

fn small_swarm(max_torrents: usize) -> Swarm {
    Swarm::new(
        Limits {
            max_memory: 256 << 10,
            max_torrents: Some(max_torrents),
            max_peers_per_torrent: 64,
            peer_timeout: 2700,
        },
        0x5eed,
    )
    .expect("swarm sizing")
}

/// A tracker holding a few torrents with IPv4 and IPv6 seeders and leechers.
fn tracker(
    settings: Settings,
    access: Option<AccessList>,
    extra_hash: Option<InfoHash>,
) -> Tracker {
    let mut t = Tracker::new(small_swarm(32), settings);
    let mut sel = Selection::default();
    let hashes = PRELOADED.iter().map(|&b| [b; 20]).chain(extra_hash);
    for (k, hash) in hashes.enumerate() {
        for host in 1..=6u8 {
            let ip = if host % 3 == 0 {
                IpAddr::V6(Ipv6Addr::new(
                    0x2001,
                    0xdb8,
                    0,
                    0,
                    0,
                    0,
                    k as u16,
                    u16::from(host),
                ))
            } else {
                IpAddr::V4(Ipv4Addr::new(10, 0, k as u8, host))
            };
            let a = Announce {
                info_hash: hash,
                ip,
                port: 6880 + u16::from(host),
                seeder: host % 2 == 0,
                event: Event::Started,
                numwant: 0,
                other_family: false,
                listed: false,
            };
            t.swarm.announce(&a, 0, &mut sel).expect("preload");
        }
    }
    t.set_access(access);
    t
}

fn hex(hash: &[u8]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// End of the one bencoded value starting at `at`; `sorted` also requires
/// dictionary keys in strictly increasing order (BEP 3).
fn bvalue(b: &[u8], at: usize, depth: u32, sorted: bool) -> Option<usize> {
    if depth > 16 {
        return None;
    }
    match *b.get(at)? {
        b'i' => {
            let end = at + 1 + b.get(at + 1..)?.iter().position(|&c| c == b'e')?;
            let digits = &b[at + 1..end];
            let digits = digits.strip_prefix(b"-").unwrap_or(digits);
            let ok = !digits.is_empty()
                && digits.iter().all(u8::is_ascii_digit)
                && (digits == b"0" || digits[0] != b'0');
            ok.then_some(end + 1)
        }
        b'l' => {
            let mut p = at + 1;
            while *b.get(p)? != b'e' {
                p = bvalue(b, p, depth + 1, sorted)?;
            }
            Some(p + 1)
        }
        b'd' => {
            let mut p = at + 1;
            let mut prev: Option<&[u8]> = None;
            while *b.get(p)? != b'e' {
                let (end, key) = bstring(b, p)?;
                if sorted && prev.is_some_and(|prev| prev >= key) {
                    return None;
                }
                prev = Some(key);
                p = bvalue(b, end, depth + 1, sorted)?;
            }
            Some(p + 1)
        }
        b'0'..=b'9' => bstring(b, at).map(|(end, _)| end),
        _ => None,
    }
}

fn bstring(b: &[u8], at: usize) -> Option<(usize, &[u8])> {
    let colon = at + b.get(at..)?.iter().position(|&c| c == b':')?;
    let digits = &b[at..colon];
    if digits.is_empty() || digits.len() > 9 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let len: usize = std::str::from_utf8(digits).ok()?.parse().ok()?;
    let start = colon + 1;
    let s = b.get(start..start.checked_add(len)?)?;
    Some((start + len, s))
}

/// Whether `b` is exactly one well-formed bencoded value.
pub fn is_bencode(b: &[u8], sorted: bool) -> bool {
    bvalue(b, 0, 0, sorted) == Some(b.len())
}

/// Checks an HTTP reply's framing and returns its body (empty for a stream head).
/// Stats answers (`is_stats`) are HTTP/1.0 style and always close, as opentracker's.
fn check_http_reply<'a>(
    out: &'a [u8],
    r: &HttpReply,
    head: &RequestHead<'_>,
    is_stats: bool,
) -> &'a [u8] {
    assert!(
        r.range.start <= r.range.end && r.range.end <= out.len(),
        "reply range {:?} outside the buffer",
        r.range
    );
    let bytes = &out[r.range.clone()];
    assert!(
        bytes.starts_with(b"HTTP/1.1 ") || bytes.starts_with(b"HTTP/1.0 "),
        "reply does not start with a status line: {:?}",
        String::from_utf8_lossy(bytes)
    );
    let version = if is_stats && r.code == 200 {
        "1.0"
    } else {
        "1.1"
    };
    let code = format!("HTTP/{version} {} ", r.code);
    assert!(
        bytes.starts_with(code.as_bytes()),
        "status line disagrees with code {}",
        r.code
    );
    let split = find(bytes, b"\r\n\r\n").expect("reply head ends with CRLF CRLF") + 4;
    let (head_text, body) = bytes.split_at(split);
    let head_text = std::str::from_utf8(head_text).expect("reply head is text");
    let content_length = head_text
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .map(|v| v.trim().parse::<usize>().expect("numeric Content-Length"));
    match &r.stream {
        Some(_) => {
            assert!(!r.keep_alive, "a streamed reply closes the connection");
            assert!(content_length.is_none() && body.is_empty());
            assert!(head_text.contains("Connection: close"));
        }
        None => {
            assert_eq!(
                content_length,
                Some(body.len()),
                "Content-Length matches the body"
            );
            let want = if r.keep_alive {
                "Connection: keep-alive"
            } else {
                "Connection: close"
            };
            assert!(head_text.contains(want), "{want} missing in {head_text:?}");
            if is_stats {
                assert!(!r.keep_alive, "a stats answer closes the connection");
            } else if r.code != 500 {
                assert_eq!(
                    r.keep_alive, head.keep_alive,
                    "keep-alive follows the request"
                );
            }
        }
    }
    body
}

/// Answers `head` from `peer` and checks the reply and any stream to its end.
fn serve_http(t: &mut Tracker, head: &RequestHead<'_>, peer: IpAddr, now: u32, stats_path: &[u8]) {
    let mut out = vec![0u8; HTTP_OUT];
    let r = t.http(head, peer, now, &mut out);
    let is_stats = head.path == stats_path || head.path == b"/metrics";
    let body = check_http_reply(&out, &r, head, is_stats).to_vec();
    let tracker_path = matches!(
        head.path,
        b"/announce" | b"/announce.php" | b"/scrape" | b"/scrape.php"
    );
    if r.code == 200 && !is_stats && tracker_path && r.stream.is_none() {
        assert!(
            is_bencode(&body, true),
            "announce/scrape reply is not sorted bencode: {:?}",
            String::from_utf8_lossy(&body)
        );
    }
    if let Some(mut s) = r.stream {
        let mut all = Vec::new();
        let mut chunks = 0;
        loop {
            let n = t.stream_chunk(&mut s, &mut out);
            assert!(n <= out.len());
            if n == 0 {
                break;
            }
            all.extend_from_slice(&out[..n]);
            chunks += 1;
            assert!(chunks <= t.swarm.torrent_count() + 2, "stream does not end");
        }
        assert_eq!(
            t.stream_chunk(&mut s, &mut out),
            0,
            "a finished stream stays finished"
        );
        let page = if head.path == b"/metrics" {
            Some(Page::Prometheus)
        } else {
            Page::parse(head.query)
        };
        let format = match (is_stats, page) {
            (false, _) => Some(TorrentFormat::Ben),
            (true, Some(Page::PerTorrent(f))) => Some(f),
            (true, Some(Page::Top(_))) => {
                let text = String::from_utf8_lossy(&all);
                assert!(text.starts_with("Top "), "top list: {text:?}");
                assert!(text.contains(" torrents by seeds:\n"), "top list: {text:?}");
                None
            }
            (true, Some(p @ (Page::Json | Page::Html | Page::Prometheus))) => {
                return check_release_page(p, &all);
            }
            (true, other) => panic!("stream for stats page {other:?}"),
        };
        let Some(format) = format else { return };
        if format == TorrentFormat::Bin {
            assert_eq!(all.len() % 28, 0, "binary records are 28 bytes");
        }
        if format == TorrentFormat::Ben {
            // Torrents come in info-hash order: the keys are sorted, as BEP 3 wants.
            assert!(
                is_bencode(&all, true),
                "full scrape is not bencode: {:?}",
                String::from_utf8_lossy(&all)
            );
        }
    }
}

/// A streamed JSON, HTML or Prometheus page: complete, and no label (the
/// fuzzed ones included) broke out of its string, cell or label value.
fn check_release_page(page: Page, all: &[u8]) {
    let text = std::str::from_utf8(all).expect("release pages are UTF-8");
    match page {
        Page::Json => {
            assert!(
                text.starts_with("{\"version\":") && text.ends_with("\n]}\n"),
                "{text}"
            );
            // One record a line; every string closed on its own line.
            for line in text.lines().filter(|l| l.starts_with("{\"info_hash\"")) {
                let unescaped_quotes = line
                    .as_bytes()
                    .iter()
                    .enumerate()
                    .filter(|&(i, &b)| b == b'"' && !escaped(line.as_bytes(), i))
                    .count();
                assert_eq!(unescaped_quotes % 2, 0, "{line}");
                assert!(!line.contains('<'), "{line}");
            }
            assert!(!text.bytes().any(|b| b < 0x20 && b != b'\n'));
        }
        Page::Html => {
            assert!(text.starts_with("<!doctype html>") && text.ends_with("</html>\n"));
            assert_eq!(text.matches("<script").count(), 1, "{text}");
            assert_eq!(text.matches("<tr").count(), text.matches("</tr>").count());
            assert_eq!(text.matches("<td").count(), text.matches("</td>").count());
        }
        _ => {
            for line in text
                .lines()
                .filter(|l| l.starts_with("smoltracker_release_"))
            {
                assert!(line.ends_with(|c: char| c.is_ascii_digit()), "{line}");
                let b = line.as_bytes();
                let quotes = (0..b.len())
                    .filter(|&i| b[i] == b'"' && !escaped(b, i))
                    .count();
                assert_eq!(quotes % 2, 0, "{line}");
            }
        }
    }
}

/// Whether the byte at `i` is preceded by an odd number of backslashes.
fn escaped(b: &[u8], i: usize) -> bool {
    b[..i].iter().rev().take_while(|&&c| c == b'\\').count() % 2 == 1
}

// ---- targets ----------------------------------------------------------------

/// `wire::http::parse_head`, then the request through two differently
/// configured trackers, streams driven to their end.
pub fn http_head(data: &[u8]) {
    let head = match http::parse_head(data) {
        Ok(h) => h,
        Err(_) => return,
    };
    assert!(head.len <= data.len() && head.len > 0);
    // Full scrape on, redirect set, behind a trusted proxy (forwarding headers used).
    let mut a = tracker(settings(true, true, "/stats", Vec::new()), None, None);
    serve_http(&mut a, &head, IpAddr::V4(PROXY), 1000, b"/stats");
    serve_http(&mut a, &head, IpAddr::V4(PROXY), 1001, b"/stats");
    serve_http(
        &mut a,
        &head,
        "::ffff:10.0.0.77".parse().unwrap(),
        1002,
        b"/stats",
    );
    // Whitelist mode, stats restricted to another address, IPv6 client.
    let (list, _) = AccessList::parse(Mode::Whitelist, hex(&[0xAA; 20]).as_bytes());
    let stats_allowed = vec!["192.0.2.1".parse().unwrap()];
    let mut b = tracker(
        settings(false, false, "/st", stats_allowed),
        Some(list),
        None,
    );
    // Release names from the input itself (its bytes after the first 40,
    // hostile whatever they hold), on a stored torrent and one without peers.
    let mut names = format!("{}  ", hex(&[0xAA; 20])).into_bytes();
    names.extend_from_slice(data.get(40..).unwrap_or_default());
    names.extend_from_slice(format!("\n{} ", hex(&[0x01; 20])).as_bytes());
    names.extend_from_slice(data.get(..40).unwrap_or(data));
    b.set_labels(Labels::new(4096).expect("label store"));
    b.labels_mut().rebuild(&names);
    serve_http(&mut b, &head, "2001:db8::77".parse().unwrap(), 0, b"/st");
    serve_http(&mut b, &head, "192.0.2.1".parse().unwrap(), 0, b"/st");
}

/// `wire::query::parse_announce` / `parse_scrape` (and the stats page query).
pub fn query(data: &[u8]) {
    if let Ok(a) = query::parse_announce(data) {
        assert_ne!(a.port, 0);
        // Re-encoding what was understood must give the same announce.
        let mut q = String::from("info_hash=");
        for b in a.info_hash {
            q.push_str(&format!("%{b:02X}"));
        }
        q.push_str(&format!("&port={}&compact={}", a.port, u8::from(a.compact)));
        if let Some(left) = a.left {
            q.push_str(&format!("&left={left}"));
        }
        if let Some(n) = a.numwant {
            q.push_str(&format!("&numwant={n}"));
        }
        q.push_str(match a.event {
            Event::None => "",
            Event::Started => "&event=started",
            Event::Completed => "&event=completed",
            Event::Stopped => "&event=stopped",
        });
        assert_eq!(query::parse_announce(q.as_bytes()), Ok(a));
    }
    let mut hashes = heapless::Vec::new();
    if query::parse_scrape(data, &mut hashes).is_ok() {
        assert!(hashes.len() <= query::MAX_SCRAPE_HASHES);
        let distinct: HashSet<_> = hashes.iter().collect();
        assert_eq!(distinct.len(), hashes.len(), "scrape hashes are distinct");
        let named = query::pairs(data)
            .filter(|(k, _)| *k == b"info_hash")
            .count();
        assert!(hashes.len() <= named);
    }
    let mut buf = [0u8; 20];
    if let Some(n) = query::percent_decode(data, &mut buf) {
        assert!(n <= 20 && n <= data.len());
    }
    let _ = Page::parse(data);
}

fn connect(t: &mut Tracker, ip: IpAddr, now: u32) -> u64 {
    let mut req = udp::PROTOCOL_ID.to_be_bytes().to_vec();
    req.extend_from_slice(&[0, 0, 0, 0, 0xC0, 0xFF, 0xEE, 0x01]);
    let mut out = [0u8; UDP_OUT];
    let n = t.udp(&req, ip, now, &mut out).expect("connect is answered");
    assert_eq!(n, 16);
    assert_eq!(&out[..8], &[0, 0, 0, 0, 0xC0, 0xFF, 0xEE, 0x01]);
    u64::from_be_bytes(out[8..16].try_into().unwrap())
}

/// `wire::udp::parse` and `Tracker::udp`. The first byte picks the source
/// address family, how many times the packet is replayed (from different
/// addresses), whether a valid connection id obtained by a connect is
/// patched in (and how old it is), and whitelist mode; the rest is the packet.
pub fn udp(data: &[u8]) {
    let Some((&flags, pkt)) = data.split_first() else {
        return;
    };
    let pkt = &pkt[..pkt.len().min(UDP_IN)];
    let parsed = udp::parse(pkt);
    match &parsed {
        Err(udp::ParseError::TooShort) => assert!(pkt.len() < 16),
        Err(udp::ParseError::Invalid { transaction_id, .. }) => {
            assert_eq!(transaction_id.to_be_bytes(), pkt[12..16])
        }
        Ok(udp::Request::Connect { .. }) => assert_eq!(pkt[..8], udp::PROTOCOL_ID.to_be_bytes()),
        Ok(udp::Request::Announce(a)) => {
            assert!(pkt.len() >= udp::ANNOUNCE_LEN && a.port != 0);
            assert_eq!(a.info_hash, pkt[16..36]);
        }
        Ok(udp::Request::Scrape { hashes, .. }) => {
            assert!(!hashes.is_empty() && hashes.len() % 20 == 0);
            assert!(hashes.len() <= 20 * udp::MAX_SCRAPE_HASHES);
        }
    }
    let whitelist = flags & 0x40 != 0;
    let access =
        whitelist.then(|| AccessList::parse(Mode::Whitelist, hex(&[0xAA; 20]).as_bytes()).0);
    let extra = pkt.get(16..36).map(|h| <InfoHash>::try_from(h).unwrap());
    let mut t = tracker(settings(false, false, "/stats", Vec::new()), access, extra);
    let base_now: u32 = if flags & 0x08 != 0 { 1_000_000 } else { 0 };
    let age = (pkt.len() % 3) as u32 * 100; // 0, 100 or 200 seconds old ids
    for i in 0..=u32::from((flags >> 4) & 3) {
        let ip: IpAddr = match flags & 3 {
            0 => IpAddr::V4(Ipv4Addr::new(10, 1, 0, i as u8)),
            1 => IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, i as u16)),
            2 => IpAddr::V6(Ipv4Addr::new(10, 1, 0, i as u8).to_ipv6_mapped()),
            _ => IpAddr::V6(Ipv6Addr::LOCALHOST),
        };
        let canonical = smoltracker::tracker::canonical_ip(ip);
        let now = base_now + i * 70 + age;
        let mut p = pkt.to_vec();
        let mut id_valid = None;
        if flags & 0x04 != 0 && p.len() >= 8 {
            let issued = now - age;
            p[..8].copy_from_slice(&connect(&mut t, ip, issued).to_be_bytes());
            id_valid = Some(now / 120 - issued / 120 <= 1);
        }
        let mut out = [0u8; UDP_OUT];
        let is_connect = matches!(udp::parse(&p), Ok(udp::Request::Connect { .. }));
        let proven = id_valid == Some(true);
        let Some(n) = t.udp(&p, ip, now, &mut out) else {
            assert!(
                p.len() < 16 || (!is_connect && !proven),
                "a connect, or a datagram with a valid connection id, is answered"
            );
            continue;
        };
        assert!(p.len() >= 16 && (8..=UDP_OUT).contains(&n));
        // No amplification: only a proven source may get more than it sent.
        assert!(is_connect || proven, "an unproven request was answered");
        assert!(
            proven || n <= p.len(),
            "{n}-byte reply to a {}-byte request",
            p.len()
        );
        let action = u32::from_be_bytes(out[0..4].try_into().unwrap());
        assert_eq!(out[4..8], p[12..16], "transaction id echoed");
        let message = &out[8..n];
        match udp::parse(&p) {
            Err(udp::ParseError::TooShort) => unreachable!(),
            Err(udp::ParseError::Invalid { .. }) => assert_eq!(action, udp::ACTION_ERROR),
            Ok(udp::Request::Connect { .. }) => assert_eq!((action, n), (udp::ACTION_CONNECT, 16)),
            Ok(udp::Request::Announce(a)) => {
                if action == udp::ACTION_ERROR {
                    let m = std::str::from_utf8(message).unwrap();
                    assert!(
                        [
                            NOT_AUTHORIZED,
                            Refusal::Full.message(),
                            Refusal::Rate.message()
                        ]
                        .contains(&m),
                        "{m}"
                    );
                    if m == NOT_AUTHORIZED {
                        assert!(whitelist && a.info_hash != [0xAA; 20]);
                    }
                    continue;
                }
                assert_eq!(action, udp::ACTION_ANNOUNCE);
                assert!(
                    !whitelist || a.info_hash == [0xAA; 20],
                    "whitelist let an unlisted hash through"
                );
                let rec = if canonical.is_ipv4() { 6 } else { 18 };
                assert!(n >= 20 && (n - 20) % rec == 0, "announce reply length {n}");
                assert_eq!(out[8..12], 1800u32.to_be_bytes());
                let peers = (n - 20) / rec;
                let wanted = u32::try_from(a.num_want).unwrap_or(50).min(200) as usize;
                assert!(peers <= wanted && (rec == 6 || peers <= 66));
                let leechers = u32::from_be_bytes(out[12..16].try_into().unwrap());
                let seeders = u32::from_be_bytes(out[16..20].try_into().unwrap());
                assert!(peers as u64 <= u64::from(leechers) + u64::from(seeders));
                let mut me = match canonical {
                    IpAddr::V4(v4) => v4.octets().to_vec(),
                    IpAddr::V6(v6) => v6.octets().to_vec(),
                };
                me.extend_from_slice(&a.port.to_be_bytes());
                let recs: Vec<&[u8]> = out[20..n].chunks(rec).collect();
                assert!(
                    !recs.contains(&me.as_slice()),
                    "announcer in its own peer list"
                );
                let distinct: HashSet<_> = recs.iter().collect();
                assert_eq!(distinct.len(), recs.len(), "peers are distinct");
            }
            Ok(udp::Request::Scrape { hashes, .. }) => {
                assert_eq!(action, udp::ACTION_SCRAPE, "{message:?}");
                assert_eq!(n, 8 + 12 * (hashes.len() / 20));
            }
        }
    }
}

/// `config::parse_config` on the input as UTF-8, and `config::from_args` on its lines.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match config::parse_config(text, Path::new("fuzz.conf"), Config::default()) {
        Ok((cfg, warnings)) => {
            check_config(&cfg);
            for w in &warnings {
                assert!(w.starts_with("fuzz.conf:"));
            }
        }
        Err(e) => assert!(
            e.0.starts_with("fuzz.conf:"),
            "error without file:line: {}",
            e.0
        ),
    }
    // Command lines: one argument per line. `-f` would read arbitrary files
    // (a fuzzer can spell /dev/zero), so such argument vectors are skipped.
    let args: Vec<String> = text.split('\n').map(str::to_string).collect();
    let reads_files = args
        .iter()
        .any(|a| a.starts_with('-') && !a.starts_with("--") && a.contains('f'));
    if reads_files || args.len() > 64 {
        return;
    }
    if let Ok(Command::Run(cfg, _)) = config::from_args(&args) {
        assert!(!cfg.tcp.is_empty() || !cfg.udp.is_empty());
        assert!(!(cfg.access.whitelist.is_some() && cfg.access.blacklist.is_some()));
        check_config(&cfg);
    }
}

fn check_config(cfg: &Config) {
    assert!(cfg.max_memory >= 64 << 10);
    assert!((1..=smoltracker::swarm::MAX_PEERS_LIMIT).contains(&cfg.max_peers_per_torrent));
    assert!((1..=smoltracker::swarm::MAX_PEER_TIMEOUT).contains(&cfg.peer_timeout));
    assert!(cfg.numwant_default <= 200 && cfg.numwant_max <= 200);
    assert!(cfg.access.stats_path.starts_with('/'));
    let s = Settings::from(cfg);
    assert_eq!(s.interval, cfg.announce_interval);
    if cfg.max_memory <= 4 << 20 {
        let limits = Limits {
            max_memory: cfg.max_memory,
            max_torrents: cfg.max_torrents,
            max_peers_per_torrent: cfg.max_peers_per_torrent,
            peer_timeout: cfg.peer_timeout,
        };
        if let Ok(swarm) = Swarm::new(limits, 1) {
            let cap = swarm.capacity();
            assert!(
                cap.bytes <= cfg.max_memory,
                "{} bytes over a cap of {}",
                cap.bytes,
                cfg.max_memory
            );
        }
    }
}

/// `access::AccessList::parse`, checked against an independent reading of the file.
pub fn whitelist(data: &[u8]) {
    let Some((&m, text)) = data.split_first() else {
        return;
    };
    let mode = if m & 1 == 0 {
        Mode::Whitelist
    } else {
        Mode::Blacklist
    };
    let (list, bad) = AccessList::parse(mode, text);
    let mut listed = HashSet::new();
    let mut bad_lines = Vec::new();
    // The model: a UTF-8 byte-order mark before the first line is skipped; a
    // line starts with a run of exactly 40 or 64 hex digits (a v2 hash is
    // kept as its first 20 bytes); a second hash of the other kind, as the
    // next whole word, is listed too.
    let hex_run = |t: &[u8]| t.iter().take_while(|c| c.is_ascii_hexdigit()).count();
    let decode = |t: &[u8]| {
        let mut h = [0u8; 20];
        for (k, b) in h.iter_mut().enumerate() {
            let pair = std::str::from_utf8(&t[2 * k..2 * k + 2]).unwrap();
            *b = u8::from_str_radix(pair, 16).unwrap();
        }
        h
    };
    let body = text.strip_prefix(b"\xef\xbb\xbf").unwrap_or(text);
    for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
        let line = raw.trim_ascii();
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        let run = hex_run(line);
        if run != 40 && run != 64 {
            bad_lines.push(i + 1);
            continue;
        }
        listed.insert(decode(line));
        let rest = &line[run..];
        let after = rest.trim_ascii_start();
        let run2 = hex_run(after);
        let word_ends = after.get(run2).is_none_or(u8::is_ascii_whitespace);
        if after.len() < rest.len() && run + run2 == 104 && word_ends {
            listed.insert(decode(after));
        }
    }
    assert_eq!(bad.iter().map(|b| b.line).collect::<Vec<_>>(), bad_lines);
    assert_eq!(list.len(), listed.len());
    assert_eq!(list.is_empty(), listed.is_empty());
    for h in &listed {
        assert_eq!(
            list.allows(h),
            mode == Mode::Whitelist,
            "listed hash {}",
            hex(h)
        );
    }
    // Hashes that are not listed get the opposite answer.
    for probe in [[0u8; 20], [0xFF; 20], [0x5A; 20]] {
        if !listed.contains(&probe) {
            assert_eq!(list.allows(&probe), mode == Mode::Blacklist);
        }
    }
    // Labels: only for listed hashes, clean UTF-8 of at most 64 bytes, walked
    // in hash order, inside their budget.
    let budget = if m & 2 == 0 { 1 << 16 } else { 200 };
    let mut labels = Labels::new(budget).expect("label store");
    let r = labels.rebuild(text);
    assert_eq!(r.stored, labels.len());
    assert!(labels.used() <= labels.budget());
    let mut after: Option<InfoHash> = None;
    let mut walked = 0;
    while let Some((h, label)) = labels.next_after(after.as_ref()) {
        assert!(after.is_none_or(|a| a < h));
        assert!(listed.contains(&h), "label for unlisted {}", hex(&h));
        let text = std::str::from_utf8(&label).expect("labels are UTF-8");
        assert!(!label.is_empty() && label.len() <= LABEL_MAX);
        assert!(!text.chars().any(char::is_control), "{text:?}");
        assert_eq!(text.trim(), text);
        assert_eq!(labels.get(&h).as_deref(), Some(&label[..]));
        after = Some(h);
        walked += 1;
    }
    assert_eq!(walked, labels.len());
}

/// `state::parse`: what parses re-serialises to the same entries and loads
/// into a swarm as the last count per hash.
pub fn state(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let entries = match state::parse(text) {
        Ok(e) => e,
        Err(e) => {
            assert!(e.starts_with("line ") || e.starts_with("truncated"), "{e}");
            return;
        }
    };
    let mut again = String::from("# smoltracker state v1\n");
    for (h, n) in &entries {
        again.push_str(&format!("{} {n}\n", hex(h)));
    }
    again.push_str(&format!("# end {}\n", entries.len()));
    assert_eq!(state::parse(&again).as_ref(), Ok(&entries));
    let mut swarm = small_swarm(8);
    let mut stored: HashMap<InfoHash, u32> = HashMap::new();
    for (h, n) in &entries {
        if swarm.set_downloaded(h, *n) {
            stored.insert(*h, *n);
        } else {
            assert!(!stored.contains_key(h) && swarm.torrent_count() == 8);
        }
    }
    assert_eq!(swarm.torrent_count(), stored.len());
    for (h, n) in &stored {
        assert_eq!(swarm.scrape(h).downloaded, *n);
    }
}

// ---- swarm_ops ----------------------------------------------------------------

/// Seconds per timestamp tick in the store (peers are timed with this resolution).
const TICK: u32 = 16;

#[derive(Clone, Copy, Debug)]
struct ModelPeer {
    seeder: bool,
    at: u32,
}

/// A peer as the model keys it: hash index, IPv6?, host, port.
type PeerId = (u8, bool, u8, u16);
/// A peer within one torrent: IPv6?, host, port.
type PeerKey = (bool, u8, u16);

struct Model {
    /// Per hash: peers announced and not stopped or swept (expired ones included).
    peers: Vec<FnvHashMap<PeerKey, ModelPeer>>,
    downloaded: HashMap<u8, u32>,
    completed_announces: HashMap<u8, u32>,
    /// Largest completed count restored per hash.
    restored_max: HashMap<u8, u32>,
    timeout_ticks: u32,
    /// The store's per-address cap.
    per_address: u32,
    /// Hashes where some address announced more peers than the cap: the
    /// store replaced some of them (which, the model cannot know at tick
    /// resolution), so their counts are checked as bounds only.
    capped: HashSet<u8>,
    /// The addresses (hash, IPv6?, host) that went over the cap.
    capped_hosts: HashSet<(u8, bool, u8)>,
}

impl Model {
    fn get(&self, id: PeerId) -> Option<ModelPeer> {
        self.peers[usize::from(id.0)]
            .get(&(id.1, id.2, id.3))
            .copied()
    }

    fn set(&mut self, id: PeerId, peer: Option<ModelPeer>) {
        let torrent = &mut self.peers[usize::from(id.0)];
        match peer {
            Some(p) => torrent.insert((id.1, id.2, id.3), p),
            None => torrent.remove(&(id.1, id.2, id.3)),
        };
    }

    /// Forgets expired peers, as a sweep does; returns how many.
    fn sweep(&mut self, now: u32) -> usize {
        let ticks = self.timeout_ticks;
        let mut n = 0;
        for torrent in &mut self.peers {
            let before = torrent.len();
            torrent.retain(|_, p| now / TICK - p.at / TICK <= ticks);
            n += before - torrent.len();
        }
        n
    }

    fn alive(&self, p: &ModelPeer, now: u32) -> bool {
        now / TICK - p.at / TICK <= self.timeout_ticks
    }

    /// (seeders, leechers) of one hash: (alive ones, all present ones).
    fn counts(&self, hash: u8, now: u32) -> ((u32, u32), (u32, u32)) {
        let (mut alive, mut present) = ((0, 0), (0, 0));
        for p in self.peers[usize::from(hash)].values() {
            let slot = |c: &mut (u32, u32)| if p.seeder { c.0 += 1 } else { c.1 += 1 };
            slot(&mut present);
            if self.alive(p, now) {
                slot(&mut alive);
            }
        }
        (alive, present)
    }
}

/// Host `host`'s address; IPv6 hosts each have their own /64 (the store's
/// per-address cap counts a /64 as one host).
fn peer_ip(v6: bool, host: u8) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, u16::from(host), 0, 0, 0, 1))
    } else {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, host))
    }
}

fn record_of(sel_rec: &[u8]) -> (bool, IpAddr, u16) {
    if sel_rec.len() == 6 {
        let ip = Ipv4Addr::new(sel_rec[0], sel_rec[1], sel_rec[2], sel_rec[3]);
        (
            false,
            IpAddr::V4(ip),
            u16::from_be_bytes([sel_rec[4], sel_rec[5]]),
        )
    } else {
        let mut o = [0u8; 16];
        o.copy_from_slice(&sel_rec[..16]);
        (
            true,
            IpAddr::V6(Ipv6Addr::from(o)),
            u16::from_be_bytes([sel_rec[16], sel_rec[17]]),
        )
    }
}

/// Store-wide invariants that hold whatever happened before.
fn check_store(s: &Swarm, max_memory: usize, just_swept: bool) {
    let cap = s.capacity();
    assert!(
        cap.bytes <= max_memory,
        "tables {} bytes over the cap {max_memory}",
        cap.bytes
    );
    assert!(
        s.torrent_count() <= cap.torrents,
        "{} torrents in a table of {}",
        s.torrent_count(),
        cap.torrents
    );
    let mut hashes = Vec::with_capacity(s.torrent_count());
    let mut sum = (0u64, 0u64, 0u64);
    for i in 0..s.torrent_count() {
        let (hash, c) = s.torrent_at(i).expect("torrent_at within torrent_count");
        hashes.push(hash);
        assert_eq!(s.scrape(&hash), c, "index finds every stored torrent");
        if just_swept {
            assert!(
                c.seeders + c.leechers > 0 || c.downloaded > 0,
                "sweep kept an empty torrent"
            );
        }
        sum.0 += u64::from(c.seeders);
        sum.1 += u64::from(c.leechers);
        sum.2 += u64::from(c.downloaded);
    }
    assert!(s.torrent_at(s.torrent_count()).is_none());
    assert_eq!(s.totals(), sum);
    hashes.sort_unstable();
    assert!(
        hashes.windows(2).all(|w| w[0] != w[1]),
        "torrent stored twice"
    );
}

/// A sequence of announces, time steps, sweeps and count restores on a small
/// store, checked after every step. The first byte picks the mode: "roomy"
/// (tables large enough that nothing is ever refused or replaced, so counts
/// must match the model exactly after each sweep) or "tiny" (a few KiB: the
/// arena compacts, full torrents replace peers, new torrents are refused;
/// counts must stay within the model's bounds; three more bytes size it).
/// Then 4 bytes per operation: byte 0 bits 0-2 the kind (0-4 announce,
/// 5 time step, 6 sweep, 7 with bit 3 a bulk join or leave of many hosts,
/// 7 without it: with bit 4 a flood of ports from one address (bit 5 clear)
/// or of junk torrents from one network (bit 5 set), else restore a
/// completed count), the rest operands. Roomy stores keep the default
/// per-address cap and no per-network budget; tiny ones take a cap of 1-8
/// and a small budget from their sizing bytes.
pub fn swarm_ops(data: &[u8]) {
    run_swarm_ops(data);
}

/// What one `swarm_ops` input exercised (for corpus statistics).
#[derive(Debug, Default, Clone, Copy)]
pub struct OpsReport {
    /// Tiny tables (else roomy).
    pub tiny: bool,
    /// Announces answered.
    pub announces: u64,
    /// Announces refused ("tracker is full").
    pub refused: u64,
    /// Arena compactions.
    pub compactions: u64,
    /// Sweeps.
    pub sweeps: u64,
    /// Torrents evicted for newcomers.
    pub evicted: u64,
    /// Peers replaced under the per-address cap.
    pub replaced_own: u64,
    /// Announces refused by the per-network budget.
    pub rate_refused: u64,
}

/// `swarm_ops`, returning what the input exercised.
pub fn run_swarm_ops(data: &[u8]) -> OpsReport {
    let mut report = OpsReport::default();
    let Some((&head, rest)) = data.split_first() else {
        return report;
    };
    let roomy = head & 1 == 0;
    let (limits, nhash, nhost) = if roomy {
        let limits = Limits {
            // 16 torrents x 2 families x 256 peers fit with room for growth slack.
            max_memory: 512 << 10,
            max_torrents: Some(32),
            max_peers_per_torrent: 1024,
            peer_timeout: 16 + u32::from(head >> 1) * 8,
        };
        (limits, 16u8, 64u8)
    } else {
        let size = |i: usize| rest.get(i).copied().unwrap_or(0);
        let max_torrents = 1 + usize::from(size(0) % 64);
        let table = Swarm::table_size(max_torrents).map_or(0, |(_, bytes)| bytes);
        let limits = Limits {
            // The smallest arena the store accepts (1024 words) plus a little.
            max_memory: table + 4096 + usize::from(size(1)) * 32,
            max_torrents: Some(max_torrents),
            max_peers_per_torrent: 1 + u32::from(size(2)),
            peer_timeout: 16 + u32::from(head >> 1) * 8,
        };
        (limits, 64u8, 255u8)
    };
    let ops = if roomy {
        rest
    } else {
        rest.get(3..).unwrap_or(&[])
    };
    let size = |i: usize| rest.get(i).copied().unwrap_or(0);
    let policy = if roomy {
        Policy {
            new_torrents_per_minute: 0,
            ..Policy::default()
        }
    } else {
        Policy {
            max_peers_per_address: 1 + u32::from(size(2) % 8),
            new_torrents_per_minute: if size(1) & 1 == 1 { 60 } else { 0 },
            new_torrents_burst: 1 + u32::from(size(0) % 32),
        }
    };
    let mut s = match Swarm::with_policy(limits, policy, u64::from(head)) {
        Ok(s) => s,
        Err(e) => panic!("sizing {limits:?}: {}", e.0),
    };
    let mut m = Model {
        peers: vec![FnvHashMap::default(); 256],
        downloaded: HashMap::new(),
        completed_announces: HashMap::new(),
        restored_max: HashMap::new(),
        timeout_ticks: limits.peer_timeout.div_ceil(TICK),
        per_address: policy.max_peers_per_address,
        capped: HashSet::new(),
        capped_hosts: HashSet::new(),
    };
    let mut sel = Selection::default();
    let mut now: u32 = 0;
    let mut last_sweep: u32 = 0;
    let mut compactions = 0;
    for (step, op) in ops.chunks_exact(4).enumerate() {
        // The server sweeps every 30 s; allow far longer gaps, but not so long
        // that 16-bit tick timestamps could wrap around between sweeps.
        if now - last_sweep > 100_000 {
            s.sweep(now);
            m.sweep(now);
            last_sweep = now;
        }
        match op[0] & 7 {
            0..=4 => {
                let event = match (op[0] >> 4) & 3 {
                    0 => Event::None,
                    1 => Event::Started,
                    2 => Event::Completed,
                    _ => Event::Stopped,
                };
                let a = Announce {
                    info_hash: [op[1] % nhash; 20],
                    ip: peer_ip(op[0] & 0x40 != 0, 1 + op[2] % nhost),
                    port: 1 + u16::from(op[3] & 3),
                    seeder: op[0] & 0x08 != 0,
                    event,
                    numwant: [0usize, 1, 2, 3, 5, 8, 50, 200, 255][usize::from(op[3] >> 2) % 9],
                    other_family: op[0] & 0x80 != 0,
                    listed: false,
                };
                let mut ctx = OpCtx {
                    s: &mut s,
                    m: &mut m,
                    sel: &mut sel,
                    report: &mut report,
                    roomy,
                    now,
                    check: true,
                };
                ctx.announce(&a);
            }
            5 => {
                now += u32::from(op[1]) * (1 + u32::from(op[2] % 8)) / 4;
            }
            6 => {
                let swept = s.sweep(now);
                report.sweeps += 1;
                // Expired peers may already have been dropped lazily (a full block
                // drops its own before growing), so the sweep frees at most these.
                assert!(swept.peers <= m.sweep(now), "sweep freed live peers");
                last_sweep = now;
                for hash in 0..nhash {
                    check_counts(&m, &s, hash, now, roomy, true);
                }
                if roomy {
                    let live = (0..nhash)
                        .chain(JUNK..JUNK + JUNK_MAX)
                        .filter(|h| {
                            !m.peers[usize::from(*h)].is_empty()
                                || m.downloaded.get(h).copied().unwrap_or(0) > 0
                        })
                        .count();
                    assert_eq!(s.torrent_count(), live, "torrents after a sweep");
                }
            }
            _ if op[0] & 0x08 != 0 => {
                // Bulk: a whole range of hosts joins (or, with bit 4, leaves) one
                // torrent at once, so blocks grow, empty and free in large
                // steps and sweeps find enough garbage to compact.
                let hash = op[1] % nhash;
                let v6 = op[0] & 0x40 != 0;
                let leave = op[0] & 0x10 != 0;
                // At most 64 hosts x 4 ports: enough to fill and empty blocks.
                for host in 1..=1 + op[2] % nhost.min(64) {
                    for port in 1..=1 + u16::from(op[3] & 3) {
                        let a = Announce {
                            info_hash: [hash; 20],
                            ip: peer_ip(v6, host),
                            port,
                            seeder: (host ^ op[3]) & 1 == 0,
                            event: if leave { Event::Stopped } else { Event::None },
                            numwant: usize::from(op[3] >> 2),
                            other_family: op[0] & 0x80 != 0,
                            listed: false,
                        };
                        let mut ctx = OpCtx {
                            s: &mut s,
                            m: &mut m,
                            sel: &mut sel,
                            report: &mut report,
                            roomy,
                            now,
                            check: false,
                        };
                        ctx.announce(&a);
                    }
                }
                check_counts(&m, &s, hash, now, roomy, false);
            }
            _ if op[0] & 0x10 != 0 => {
                let mut ctx = OpCtx {
                    s: &mut s,
                    m: &mut m,
                    sel: &mut sel,
                    report: &mut report,
                    roomy,
                    now,
                    check: false,
                };
                if op[0] & 0x20 == 0 {
                    ctx.port_flood(op[1] % nhash, op[0] & 0x40 != 0, 1 + op[2] % nhost, op[3]);
                } else {
                    ctx.junk(op[2], op[3]);
                }
            }
            _ => {
                // Restoring a completed count, as the state file does at start-up.
                let hash = op[1] % nhash;
                let value = u32::from(op[2]) * u32::from(op[3]);
                let full = s.torrent_count() == s.capacity().torrents;
                let ok = s.set_downloaded(&[hash; 20], value);
                assert!(ok || full, "set_downloaded refused with room in the table");
                assert!(ok || !roomy);
                if ok {
                    m.downloaded.insert(hash, value);
                    let r = m.restored_max.entry(hash).or_default();
                    *r = (*r).max(value);
                    assert_eq!(s.scrape(&[hash; 20]).downloaded, value);
                }
            }
        }
        assert!(s.compactions() >= compactions);
        compactions = s.compactions();
        // The whole-table walk is the costly check: every 8th step, after sweeps.
        if step % 8 == 7 || op[0] & 7 == 6 {
            check_store(&s, limits.max_memory, op[0] & 7 == 6);
        }
    }
    check_store(&s, limits.max_memory, false);
    report.tiny = !roomy;
    report.compactions = s.compactions();
    report.evicted = s.admission().torrents_evicted;
    report.replaced_own = s.admission().replaced_own;
    report
}

/// Junk torrents use hash bytes `JUNK..JUNK + JUNK_MAX` (real ones stay below 64).
const JUNK: u8 = 128;
const JUNK_MAX: u8 = 16;

/// What one announce step works on.
struct OpCtx<'a> {
    s: &'a mut Swarm,
    m: &'a mut Model,
    sel: &'a mut Selection,
    report: &'a mut OpsReport,
    roomy: bool,
    now: u32,
    /// Whether to check the torrent's counts against the model afterwards
    /// (O(peers of the torrent); bulk operations check once at their end).
    check: bool,
}

impl OpCtx<'_> {
    /// One address announces `1 + count % 64` ports into a torrent at once:
    /// it never holds more than the per-address cap, and nobody else's peer
    /// is lost to it.
    fn port_flood(&mut self, hash: u8, v6: bool, host: u8, count: u8) {
        let ip = peer_ip(v6, host);
        for port in 1..=1 + u16::from(count % 64) {
            let a = Announce {
                info_hash: [hash; 20],
                ip,
                port,
                seeder: false,
                event: Event::None,
                numwant: 0,
                other_family: false,
                listed: false,
            };
            self.announce(&a);
        }
        assert!(self.s.peers_from(&[hash; 20], ip) <= self.m.per_address);
        if self.roomy {
            let now = self.now;
            let alive_others = self.m.peers[usize::from(hash)]
                .iter()
                .filter(|(k, p)| {
                    (k.0, k.1) != (v6, host)
                        && !self.m.capped_hosts.contains(&(hash, k.0, k.1))
                        && self.m.alive(p, now)
                })
                .count() as u32;
            assert!(
                self.others(hash, ip) >= alive_others,
                "a flood from one address displaced other addresses' peers"
            );
        }
        check_counts(self.m, self.s, hash, self.now, self.roomy, false);
    }

    /// Peers of torrent `hash` from addresses other than `ip`.
    fn others(&self, hash: u8, ip: IpAddr) -> u32 {
        let c = self.s.scrape(&[hash; 20]);
        c.seeders + c.leechers - self.s.peers_from(&[hash; 20], ip)
    }

    /// One network announces `1 + count % 16` (roomy: 8) new torrents (one peer each,
    /// all from the same /24): in tiny stores they are refused by the
    /// budget or evict other junk, never a torrent with peers and a
    /// completed download.
    fn junk(&mut self, host: u8, count: u8) {
        let valuable: Vec<u8> = (0..64u8)
            .filter(|&h| {
                let c = self.s.scrape(&[h; 20]);
                c.downloaded > 0 && c.seeders + c.leechers > 0
            })
            .collect();
        let sweeps = self.s.admission().pressure_sweeps;
        // Roomy stores stay below the table pressure (7/8 full) at which
        // sweeps drop torrents holding only a count: the model stays exact.
        let most = if self.roomy { JUNK_MAX / 2 } else { JUNK_MAX };
        for k in 0..1 + count % most {
            let a = Announce {
                info_hash: [JUNK + k; 20],
                ip: peer_ip(false, 1 + host % 254),
                port: 9,
                seeder: false,
                event: Event::None,
                numwant: 0,
                other_family: false,
                listed: false,
            };
            self.announce(&a);
        }
        // A sweep forced by the full table may drop a torrent whose peers had
        // all expired (completed count and all, as before); nothing else may.
        if self.s.admission().pressure_sweeps != sweeps {
            return;
        }
        for h in valuable {
            assert!(
                self.s.get(&[h; 20]).is_some(),
                "junk evicted torrent {h}, which has peers and completed downloads"
            );
        }
    }

    /// One announce, checked against the model, which it then updates.
    fn announce(&mut self, a: &Announce) {
        let (s, m, now) = (&mut *self.s, &mut *self.m, self.now);
        let hash = a.info_hash[0];
        let (v6, host) = match a.ip {
            IpAddr::V4(v4) => (false, v4.octets()[3]),
            IpAddr::V6(v6) => (true, v6.octets()[7]),
        };
        let id = (hash, v6, host, a.port);
        let prev = m.get(id);
        let before = s.scrape(&a.info_hash);
        let result = s.announce(a, now, self.sel);
        check_selection(m, self.sel, a, id, result.is_ok());
        if a.event == Event::Completed {
            *m.completed_announces.entry(hash).or_default() += 1;
        }
        match result {
            Ok(r) => {
                let c = r.counts;
                assert_eq!(
                    r.completed,
                    c.downloaded > before.downloaded,
                    "a completion is reported exactly when it was counted"
                );
                self.report.announces += 1;
                assert!(
                    s.peers_from(&a.info_hash, a.ip) <= m.per_address,
                    "an address holds more than its share"
                );
                let prev_alive_seeder = prev.is_some_and(|p| p.seeder && m.alive(&p, now));
                if a.event == Event::Completed && !prev_alive_seeder {
                    let d = m.downloaded.entry(hash).or_default();
                    *d = d.saturating_add(1);
                }
                if a.event == Event::Stopped {
                    m.set(id, None);
                } else {
                    let own = m.peers[usize::from(hash)]
                        .keys()
                        .filter(|k| k.0 == v6 && k.1 == host)
                        .count();
                    if prev.is_none() && own as u32 >= m.per_address {
                        m.capped.insert(hash);
                        m.capped_hosts.insert((hash, v6, host));
                    }
                    m.set(
                        id,
                        Some(ModelPeer {
                            seeder: a.seeder,
                            at: now,
                        }),
                    );
                }
                // A torrent left empty is dropped: its counts were zeros anyway.
                assert_eq!(
                    c,
                    s.scrape(&a.info_hash),
                    "announce counts agree with scrape"
                );
                if a.event == Event::Stopped && before == Counts::default() {
                    assert_eq!(c, Counts::default(), "stopped for an unknown torrent");
                }
                if self.check {
                    check_counts(m, s, hash, now, self.roomy, false);
                }
            }
            Err(refusal) => {
                self.report.refused += 1;
                if refusal == Refusal::Rate {
                    self.report.rate_refused += 1;
                }
                assert!(!self.roomy, "roomy store refused an announce");
                assert_ne!(a.event, Event::Stopped, "stopped is never refused");
            }
        }
    }
}

/// The selection: within numwant, distinct, never the announcer, only peers
/// announced to this torrent, only leechers for a seeder, only its own
/// family unless asked for both.
fn check_selection(m: &Model, sel: &Selection, a: &Announce, me: PeerId, ok: bool) {
    let n = sel.v4.len() + sel.v6.len();
    assert!(
        n <= a.numwant.min(MAX_NUMWANT),
        "{n} peers for numwant {}",
        a.numwant
    );
    if !ok || a.event == Event::Stopped {
        assert_eq!(n, 0, "peers handed out for a refused or stopped announce");
        return;
    }
    if !a.other_family {
        assert!(
            if me.1 {
                sel.v4.is_empty()
            } else {
                sel.v6.is_empty()
            },
            "other family without asking"
        );
    }
    let mut seen = Vec::with_capacity(n);
    let recs = sel
        .v4
        .iter()
        .map(|r| &r[..])
        .chain(sel.v6.iter().map(|r| &r[..]));
    for rec in recs {
        let mut key = [0u8; 18];
        key[..rec.len()].copy_from_slice(rec);
        seen.push((rec.len(), key));
        let (v6, ip, port) = record_of(rec);
        assert!(
            !(ip == a.ip && port == a.port),
            "announcer in its own selection"
        );
        let host = match ip {
            IpAddr::V4(v4) => v4.octets()[3],
            IpAddr::V6(v6) => v6.octets()[7],
        };
        assert_eq!(
            peer_ip(v6, host),
            ip,
            "selected address was never announced"
        );
        let p = m
            .get((me.0, v6, host, port))
            .expect("selected peer was announced to this torrent and not stopped");
        if a.seeder {
            assert!(!p.seeder, "a seeder was given a seeder");
        }
    }
    seen.sort_unstable();
    assert!(seen.windows(2).all(|w| w[0] != w[1]), "peer selected twice");
}

/// Per-torrent counts against the model: within (alive, present) bounds;
/// exact right after a sweep in roomy mode.
fn check_counts(m: &Model, s: &Swarm, hash: u8, now: u32, roomy: bool, swept: bool) {
    let c = s.scrape(&[hash; 20]);
    let ((alive_s, alive_l), (present_s, present_l)) = m.counts(hash, now);
    assert!(
        c.seeders <= present_s && c.leechers <= present_l,
        "torrent {hash}: {c:?} but the model has at most {present_s} seeders, {present_l} leechers"
    );
    let completed = m.completed_announces.get(&hash).copied().unwrap_or(0);
    let restored_max = m.restored_max.get(&hash).copied().unwrap_or(0);
    let restored = m.downloaded.get(&hash).copied().unwrap_or(0);
    assert!(
        c.downloaded <= restored_max.saturating_add(completed),
        "torrent {hash}: downloaded {} > restored + completed announces",
        c.downloaded
    );
    if roomy && !m.capped.contains(&hash) {
        assert!(
            c.seeders >= alive_s && c.leechers >= alive_l,
            "torrent {hash}: {c:?} lost alive peers ({alive_s}, {alive_l})"
        );
        assert_eq!(c.downloaded, restored, "torrent {hash}: downloaded");
        if swept {
            assert_eq!(
                (c.seeders, c.leechers),
                (alive_s, alive_l),
                "torrent {hash} after sweep"
            );
        }
    }
}
