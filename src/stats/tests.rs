//! Unit tests of stats.

use super::*;
use crate::swarm::{Announce, Limits, Selection};
use crate::wire::query::Event;

pub(crate) fn swarm_with_two() -> Swarm {
    let mut s = Swarm::new(
        Limits {
            max_memory: 1 << 20,
            max_torrents: Some(8),
            max_peers_per_torrent: 10,
            peer_timeout: 100,
        },
        1,
    )
    .unwrap();
    let mut sel = Selection::default();
    for (hash, host, seeder) in [(1u8, 1u8, true), (1, 2, false), (2, 3, false)] {
        let a = Announce {
            info_hash: [hash; 20],
            ip: std::net::IpAddr::from([10, 0, 0, host]),
            port: 1,
            seeder,
            event: Event::None,
            numwant: 0,
            other_family: false,
            listed: false,
        };
        s.announce_counts(&a, 0, &mut sel).unwrap();
    }
    s
}

pub(crate) fn render(page: Page, stats: &Stats) -> String {
    let s = swarm_with_two();
    let mut buf = [0u8; 4096];
    let mut w = Writer::new(&mut buf);
    stats.render(page, &s, 7200, &mut w).unwrap();
    String::from_utf8_lossy(w.written()).into_owned()
}

#[test]
fn mrtg_pages_match_opentracker_layout() {
    let stats = Stats {
        tcp_connections: 10,
        tcp_announces: 6,
        udp_requests: 20,
        udp_connects: 5,
        udp_announces: 4,
        udp_scrapes: 1,
        tcp_scrapes: 2,
        ..Stats::default()
    };
    assert_eq!(
        render(Page::Peer, &stats),
        "3\n1\nopentracker serving 2 torrents\nopentracker"
    );
    assert_eq!(
        render(Page::Torrents, &stats),
        "2\n0\nopentracker serving 2 torrents\nopentracker"
    );
    assert_eq!(
        render(Page::Conn, &stats),
        "30\n15\n7200 seconds (2 hours)\nopentracker connections, 0 conns/s :: 0 success/s."
    );
    assert_eq!(
        render(Page::Udp4, &stats),
        "20\n10\n7200 seconds (2 hours)\nopentracker udp4 stats, 0 conns/s :: 0 success/s."
    );
    assert_eq!(
        render(Page::Tcp4, &stats),
        "10\n6\n7200 seconds (2 hours)\nopentracker tcp4 stats, 0 conns/s :: 0 success/s."
    );
    assert_eq!(
        render(Page::Scrape, &stats),
        "2\n1\n7200 seconds (2 hours)\nopentracker scrape stats, 0 scrape/s (tcp and udp)"
    );
}

#[test]
fn http_errors_page_lists_every_class() {
    let mut stats = Stats::default();
    stats.http_error(HttpError::NotFound);
    stats.http_error(HttpError::NotFound);
    assert_eq!(
        render(Page::HttpErrors, &stats),
        "302 RED 0\n400 ... 0\n400 PAR 0\n400 COM 0\n403 IP  0\n404 INV 2\n500 SRV 0\n"
    );
}

#[test]
fn prometheus() {
    let p = render(Page::Prometheus, &Stats::default());
    assert!(
        p.contains("# TYPE smoltracker_torrents gauge\nsmoltracker_torrents 2\n"),
        "{p}"
    );
    assert!(
        p.contains("smoltracker_peers{kind=\"seeder\"} 1\nsmoltracker_peers{kind=\"leecher\"} 2\n")
    );
    assert!(p.contains("smoltracker_http_errors_total{code=\"404\",class=\"not_found\"} 0\n"));
}

#[test]
fn histogram_and_mrtg_pages_of_current_opentracker() {
    let mut stats = Stats {
        completed: 14_400,
        tcp_connections: 7200,
        tcp_announces: 3600,
        ..Stats::default()
    };
    stats.renewed.0[3] = 9;
    stats.numwants.0[50] = 2;
    stats.numwants.0[200] = 1;
    assert_eq!(
        render(Page::Completed, &stats),
        "14400\n0\n7200 seconds (2 hours)\nopentracker, 7200 completed/h."
    );
    assert_eq!(
        render(Page::Syncs, &stats),
        "0\n0\n7200 seconds (2 hours)\nopentracker connections, 1 conns/s :: 0 success/s."
    );
    let renew = render(Page::Renew, &stats);
    let lines: Vec<&str> = renew.lines().collect();
    assert_eq!(lines.len(), 45);
    assert_eq!((lines[0], lines[3], lines[44]), ("00 0", "03 9", "44 0"));
    let numwants = render(Page::Numwants, &stats);
    let lines: Vec<&str> = numwants.lines().collect();
    assert_eq!(lines.len(), 201);
    assert_eq!(
        (lines[0], lines[7], lines[50], lines[200]),
        ("000 => 0", "007 => 0", "050 => 2", "200 => 1")
    );
    assert_eq!(render(Page::Version, &stats), VERSION_LINE);
    assert_eq!(render(Page::Busy, &stats), "Networks, limit /28:\n\n");
    assert_eq!(
        render(Page::Woodpeckers, &stats),
        "Networks, limit /28:\n\n"
    );
    assert_eq!(
        render(Page::Slash24s, &stats),
        "Networks, limit /28:\n00000003: 10.0.0.0\n\nNetworks, limit /24:\n00000003: 10.0.0.0\n\n"
    );
    assert_eq!(render(Page::FullLog, &stats), "");
}

#[test]
fn per_torrent_records() {
    let c = crate::swarm::Counts {
        seeders: 3,
        leechers: 4,
        downloaded: 5,
    };
    let mut buf = [0u8; 128];
    for (format, expect) in [
        (TorrentFormat::Txt, format!("{}:3:4\n", "AB".repeat(20))),
        (TorrentFormat::TxtP, format!("{}:3:4:5\n", "AB".repeat(20))),
        (TorrentFormat::Url, format!("{}:3:4\n", "%AB".repeat(20))),
    ] {
        let mut w = Writer::new(&mut buf);
        put_torrent_record(&mut w, format, &[0xAB; 20], c).unwrap();
        assert_eq!(String::from_utf8_lossy(w.written()), expect);
    }
    let mut w = Writer::new(&mut buf);
    put_torrent_record(&mut w, TorrentFormat::Bin, &[0xAB; 20], c).unwrap();
    assert_eq!(&w.written()[20..], &[0, 0, 0, 3, 0, 0, 0, 4]);
}

#[test]
fn prometheus_error_labels_name_each_class() {
    for (label, name) in HTTP_ERROR_LABELS_PROM.iter().zip(HTTP_ERROR_NAMES) {
        assert!(label.ends_with(&format!(",class=\"{name}\"}}")), "{label}");
    }
}

#[test]
fn page_query_parsing() {
    assert_eq!(Page::parse(b""), Some(Page::Peer));
    assert_eq!(
        Page::parse(b"mode=tpbs&format=txt"),
        Some(Page::PerTorrent(TorrentFormat::Txt))
    );
    assert_eq!(
        Page::parse(b"format=ben&mode=tpbs"),
        Some(Page::PerTorrent(TorrentFormat::Ben))
    );
    assert_eq!(Page::parse(b"mode=tpbs&format=xml"), None);
    for (mode, page) in [
        ("busy", Page::Busy),
        ("s24s", Page::Slash24s),
        ("completed", Page::Completed),
        ("top10", Page::Top(top::Amount::Ten)),
        ("top100", Page::Top(top::Amount::Hundred)),
        ("renew", Page::Renew),
        ("syncs", Page::Syncs),
        ("statedump", Page::PerTorrent(TorrentFormat::StateDump)),
        ("woodpeckers", Page::Woodpeckers),
        ("fulllog", Page::FullLog),
        ("numwants", Page::Numwants),
    ] {
        assert_eq!(Page::parse(format!("mode={mode}").as_bytes()), Some(page));
    }
    assert_eq!(Page::parse(b"mode=bogus"), None);
}
