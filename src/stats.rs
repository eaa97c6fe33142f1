//! Counters the tracker keeps about its own work.

/// HTTP error classes, in the order opentracker's `mode=herr` prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpError {
    /// 302 redirect of `/`.
    Redirect = 0,
    /// 400 unparseable request.
    BadRequest = 1,
    /// 400 bad announce/scrape parameters.
    BadParameter = 2,
    /// 400 compression / oversized request.
    TooLarge = 3,
    /// 403 stats from a non-allowed address, or a refused hash.
    Forbidden = 4,
    /// 404 unknown path.
    NotFound = 5,
    /// 500 internal error (response did not fit, …).
    Internal = 6,
}

/// Labels for `mode=herr`, in [`HttpError`] order.
pub const HTTP_ERROR_LABELS: [&str; 7] = [
    "302 RED", "400 ...", "400 PAR", "400 COM", "403 IP ", "404 INV", "500 SRV",
];

/// Counters since start-up.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// HTTP connections accepted.
    pub tcp_connections: u64,
    /// HTTP connections refused because `max_connections` were open.
    pub tcp_refused: u64,
    /// HTTP announces answered.
    pub tcp_announces: u64,
    /// HTTP scrapes answered.
    pub tcp_scrapes: u64,
    /// UDP connect requests answered.
    pub udp_connects: u64,
    /// UDP announces answered.
    pub udp_announces: u64,
    /// UDP scrapes answered.
    pub udp_scrapes: u64,
    /// UDP datagrams received.
    pub udp_requests: u64,
    /// UDP datagrams answered with an error or dropped.
    pub udp_errors: u64,
    /// Full scrapes (and per-torrent stats pages) served.
    pub full_scrapes: u64,
    /// Bytes of full scrapes served.
    pub full_scrape_bytes: u64,
    /// Announces refused because the tracker was full.
    pub refused_full: u64,
    /// New torrents refused by the per-network budget.
    pub refused_rate: u64,
    /// UDP requests left unanswered because their connection id did not
    /// prove their source (answering could aim the tracker at a victim).
    pub udp_unproven: u64,
    /// Announces refused by the access list.
    pub refused_access: u64,
    /// HTTP errors by class.
    pub http_errors: [u64; 7],
}

impl Stats {
    /// Counts one announce the store refused.
    pub fn refused(&mut self, r: crate::swarm::Refusal) {
        match r {
            crate::swarm::Refusal::Full => self.refused_full += 1,
            crate::swarm::Refusal::Rate => self.refused_rate += 1,
        }
    }

    /// Counts one HTTP error.
    pub fn http_error(&mut self, e: HttpError) {
        self.http_errors[e as usize] += 1;
    }
}

mod admission;

use crate::swarm::Swarm;
use crate::wire::query::pairs;
use crate::wire::{bencode, put_hex_upper, Overflow, Writer};

/// What `/stats?mode=…&format=…` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// `mode=peer` (the default): peers, seeds.
    Peer,
    /// `mode=conn`: requests and successes.
    Conn,
    /// `mode=scrp`: scrapes over TCP and UDP.
    Scrape,
    /// `mode=udp4`.
    Udp4,
    /// `mode=tcp4`.
    Tcp4,
    /// `mode=torr`: torrents.
    Torrents,
    /// `mode=fscr`: full scrapes served.
    FullScrape,
    /// `mode=herr`: HTTP errors by class.
    HttpErrors,
    /// `mode=version`.
    Version,
    /// `mode=everything`: XML.
    Everything,
    /// `mode=prom` (also `/metrics`): Prometheus text format.
    Prometheus,
    /// `mode=tpbs`: one record per torrent, streamed.
    PerTorrent(TorrentFormat),
}

/// Per-torrent record formats (`mode=tpbs&format=…`), and the full scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TorrentFormat {
    /// `HEX:seeders:leechers\n`.
    Txt,
    /// `HEX:seeders:leechers:downloaded\n`.
    TxtP,
    /// Percent-encoded hash then `:seeders:leechers\n`.
    Url,
    /// 20-byte hash, u32 BE seeders, u32 BE leechers.
    Bin,
    /// A bencoded full scrape: `d5:filesd<hash>d8:complete…ee…ee`.
    Ben,
}

impl Page {
    /// Parses a stats query; `None` for an unknown mode or format.
    pub fn parse(query: &[u8]) -> Option<Page> {
        let mut mode: &[u8] = b"peer";
        let mut format: &[u8] = b"txt";
        for (k, v) in pairs(query) {
            match k {
                b"mode" => mode = v,
                b"format" => format = v,
                _ => {}
            }
        }
        Some(match mode {
            b"peer" => Page::Peer,
            b"conn" => Page::Conn,
            b"scrp" => Page::Scrape,
            b"udp4" => Page::Udp4,
            b"tcp4" => Page::Tcp4,
            b"torr" => Page::Torrents,
            b"fscr" => Page::FullScrape,
            b"herr" => Page::HttpErrors,
            b"version" => Page::Version,
            b"everything" => Page::Everything,
            b"prom" => Page::Prometheus,
            b"tpbs" => Page::PerTorrent(match format {
                b"txt" => TorrentFormat::Txt,
                b"txtp" => TorrentFormat::TxtP,
                b"url" => TorrentFormat::Url,
                b"bin" => TorrentFormat::Bin,
                b"ben" => TorrentFormat::Ben,
                _ => return None,
            }),
            _ => return None,
        })
    }

    /// Content type of the page.
    pub fn content_type(self) -> &'static [u8] {
        match self {
            Page::Everything => b"text/xml",
            Page::PerTorrent(TorrentFormat::Bin) | Page::PerTorrent(TorrentFormat::Ben) => {
                b"application/octet-stream"
            }
            Page::Prometheus => b"text/plain; version=0.0.4",
            _ => b"text/plain",
        }
    }
}

fn line(w: &mut Writer<'_>, n: u64) -> Result<(), Overflow> {
    w.put_dec(n)?;
    w.put(b"\n")
}

/// opentracker's MRTG trailer: `N seconds (H hours)\n<label>`.
fn uptime_lines(w: &mut Writer<'_>, uptime: u32) -> Result<(), Overflow> {
    w.put_dec(uptime.into())?;
    w.put(b" seconds (")?;
    w.put_dec((uptime / 3600).into())?;
    w.put(b" hours)\n")
}

fn per_sec(n: u64, uptime: u32) -> u64 {
    n / u64::from(uptime.max(1))
}

impl Stats {
    /// UDP requests answered successfully (connects, announces, scrapes).
    fn udp_ok(&self) -> u64 {
        self.udp_connects + self.udp_announces + self.udp_scrapes
    }

    /// Renders a fixed-size page (everything except [`Page::PerTorrent`]).
    pub fn render(
        &self,
        page: Page,
        swarm: &Swarm,
        uptime: u32,
        w: &mut Writer<'_>,
    ) -> Result<(), Overflow> {
        let torrents = swarm.torrent_count() as u64;
        match page {
            Page::Peer | Page::Torrents => {
                let (seeds, leeches, _) = swarm.totals();
                if page == Page::Peer {
                    line(w, seeds + leeches)?;
                    line(w, seeds)?;
                } else {
                    line(w, torrents)?;
                    line(w, 0)?;
                }
                w.put(b"opentracker serving ")?;
                w.put_dec(torrents)?;
                w.put(b" torrents\nopentracker")
            }
            Page::Conn => self.connection_lines(
                w,
                b"opentracker connections",
                self.tcp_connections + self.udp_requests,
                self.tcp_announces + self.udp_announces + self.udp_connects,
                uptime,
            ),
            Page::Udp4 => self.connection_lines(
                w,
                b"opentracker udp4 stats",
                self.udp_requests,
                self.udp_ok(),
                uptime,
            ),
            Page::Tcp4 => self.connection_lines(
                w,
                b"opentracker tcp4 stats",
                self.tcp_connections,
                self.tcp_announces,
                uptime,
            ),
            Page::Scrape => {
                line(w, self.tcp_scrapes)?;
                line(w, self.udp_scrapes)?;
                uptime_lines(w, uptime)?;
                w.put(b"opentracker scrape stats, ")?;
                w.put_dec(per_sec(self.tcp_scrapes + self.udp_scrapes, uptime))?;
                w.put(b" scrape/s (tcp and udp)")
            }
            Page::FullScrape => {
                line(w, self.full_scrapes)?;
                line(w, self.full_scrape_bytes)?;
                uptime_lines(w, uptime)?;
                w.put(b"opentracker full scrape stats, ")?;
                w.put_dec(per_sec(self.full_scrapes, uptime))?;
                w.put(b" conns/s :: ")?;
                w.put_dec(per_sec(self.full_scrape_bytes, uptime))?;
                w.put(b" bytes/s.")
            }
            Page::HttpErrors => {
                for (label, n) in HTTP_ERROR_LABELS.iter().zip(self.http_errors) {
                    w.put(label.as_bytes())?;
                    w.put(b" ")?;
                    line(w, n)?;
                }
                Ok(())
            }
            Page::Version => {
                w.put(b"smoltracker ")?;
                w.put(env!("CARGO_PKG_VERSION").as_bytes())?;
                w.put(b"\n")
            }
            Page::Everything => self.render_xml(swarm, uptime, w),
            Page::Prometheus => self.render_prometheus(swarm, uptime, w),
            Page::PerTorrent(_) => Err(Overflow),
        }
    }

    /// opentracker's four-line connection pages (`conn`, `udp4`, `tcp4`):
    /// requests, successes, uptime, `<label>, R conns/s :: R success/s.`
    fn connection_lines(
        &self,
        w: &mut Writer<'_>,
        label: &[u8],
        requests: u64,
        successes: u64,
        uptime: u32,
    ) -> Result<(), Overflow> {
        line(w, requests)?;
        line(w, successes)?;
        uptime_lines(w, uptime)?;
        w.put(label)?;
        w.put(b", ")?;
        w.put_dec(per_sec(requests, uptime))?;
        w.put(b" conns/s :: ")?;
        w.put_dec(per_sec(successes, uptime))?;
        w.put(b" success/s.")
    }

    fn render_xml(&self, swarm: &Swarm, uptime: u32, w: &mut Writer<'_>) -> Result<(), Overflow> {
        let (seeds, leeches, completed) = swarm.totals();
        let tag = |w: &mut Writer<'_>, name: &[u8], n: u64| -> Result<(), Overflow> {
            w.put(b"<")?;
            w.put(name)?;
            w.put(b">")?;
            w.put_dec(n)?;
            w.put(b"</")?;
            w.put(name)?;
            w.put(b">")
        };
        w.put(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<stats>\n  <version>smoltracker ")?;
        w.put(env!("CARGO_PKG_VERSION").as_bytes())?;
        w.put(b"</version>\n  ")?;
        tag(w, b"uptime", uptime.into())?;
        w.put(b"\n  <torrents>")?;
        tag(w, b"count_mutex", swarm.torrent_count() as u64)?;
        tag(w, b"count_iterator", swarm.torrent_count() as u64)?;
        w.put(b"</torrents>\n  <peers>")?;
        tag(w, b"count", seeds + leeches)?;
        w.put(b"</peers>\n  <seeds>")?;
        tag(w, b"count", seeds)?;
        w.put(b"</seeds>\n  <completed>")?;
        tag(w, b"count", completed)?;
        w.put(b"</completed>\n  <connections>\n    <tcp>")?;
        tag(w, b"accept", self.tcp_connections)?;
        tag(w, b"announce", self.tcp_announces)?;
        tag(w, b"scrape", self.tcp_scrapes)?;
        w.put(b"</tcp>\n    <udp>")?;
        tag(w, b"overall", self.udp_requests)?;
        tag(w, b"connect", self.udp_connects)?;
        tag(w, b"announce", self.udp_announces)?;
        tag(w, b"scrape", self.udp_scrapes)?;
        tag(w, b"missmatch", self.udp_errors)?;
        w.put(b"</udp>\n    <livesync>")?;
        tag(w, b"count", 0)?;
        w.put(b"</livesync>\n  </connections>\n  <debug>\n    <refused>")?;
        tag(w, b"full", self.refused_full)?;
        tag(w, b"access", self.refused_access)?;
        w.put(b"</refused>\n    <http_error>")?;
        for (label, n) in HTTP_ERROR_LABELS.iter().zip(self.http_errors) {
            w.put(b"<count code=\"")?;
            w.put(label.trim_end().as_bytes())?;
            w.put(b"\">")?;
            w.put_dec(n)?;
            w.put(b"</count>")?;
        }
        w.put(b"</http_error>\n  </debug>\n</stats>\n")
    }

    fn render_prometheus(
        &self,
        swarm: &Swarm,
        uptime: u32,
        w: &mut Writer<'_>,
    ) -> Result<(), Overflow> {
        let (seeds, leeches, completed) = swarm.totals();
        let cap = swarm.capacity();
        let metric =
            |w: &mut Writer<'_>, name: &str, kind: &str, help: &str, rows: &[(&str, u64)]| {
                w.put(b"# HELP smoltracker_")?;
                w.put(name.as_bytes())?;
                w.put(b" ")?;
                w.put(help.as_bytes())?;
                w.put(b"\n# TYPE smoltracker_")?;
                w.put(name.as_bytes())?;
                w.put(b" ")?;
                w.put(kind.as_bytes())?;
                w.put(b"\n")?;
                for (labels, n) in rows {
                    w.put(b"smoltracker_")?;
                    w.put(name.as_bytes())?;
                    w.put(labels.as_bytes())?;
                    w.put(b" ")?;
                    line(w, *n).map_err(|_| Overflow)?;
                }
                Ok::<(), Overflow>(())
            };
        metric(
            w,
            "uptime_seconds",
            "gauge",
            "Seconds since start.",
            &[("", uptime.into())],
        )?;
        metric(
            w,
            "torrents",
            "gauge",
            "Torrents stored.",
            &[("", swarm.torrent_count() as u64)],
        )?;
        metric(
            w,
            "torrents_capacity",
            "gauge",
            "Torrents the table holds.",
            &[("", cap.torrents as u64)],
        )?;
        metric(
            w,
            "peers",
            "gauge",
            "Peers stored.",
            &[
                ("{kind=\"seeder\"}", seeds),
                ("{kind=\"leecher\"}", leeches),
            ],
        )?;
        metric(
            w,
            "completed_total",
            "counter",
            "Completed downloads of stored torrents.",
            &[("", completed)],
        )?;
        metric(
            w,
            "memory_cap_bytes",
            "gauge",
            "Bytes allocated for the swarm tables.",
            &[("", cap.bytes as u64)],
        )?;
        metric(
            w,
            "requests_total",
            "counter",
            "Requests answered.",
            &[
                ("{proto=\"tcp\",kind=\"announce\"}", self.tcp_announces),
                ("{proto=\"tcp\",kind=\"scrape\"}", self.tcp_scrapes),
                ("{proto=\"udp\",kind=\"connect\"}", self.udp_connects),
                ("{proto=\"udp\",kind=\"announce\"}", self.udp_announces),
                ("{proto=\"udp\",kind=\"scrape\"}", self.udp_scrapes),
            ],
        )?;
        metric(
            w,
            "tcp_connections_total",
            "counter",
            "HTTP connections accepted.",
            &[("", self.tcp_connections)],
        )?;
        metric(
            w,
            "tcp_refused_total",
            "counter",
            "HTTP connections refused at max_connections.",
            &[("", self.tcp_refused)],
        )?;
        metric(
            w,
            "udp_errors_total",
            "counter",
            "UDP datagrams answered with an error or dropped.",
            &[("", self.udp_errors)],
        )?;
        metric(
            w,
            "refused_total",
            "counter",
            "Announces refused.",
            &[
                ("{reason=\"full\"}", self.refused_full),
                ("{reason=\"access\"}", self.refused_access),
                ("{reason=\"rate\"}", self.refused_rate),
            ],
        )?;
        let codes = ["302", "400", "400", "400", "403", "404", "500"];
        let names = [
            "redirect",
            "bad_request",
            "bad_parameter",
            "too_large",
            "forbidden",
            "not_found",
            "internal",
        ];
        let mut labels: [heapless::String<48>; 7] = Default::default();
        for (i, label) in labels.iter_mut().enumerate() {
            use std::fmt::Write as _;
            write!(label, "{{code=\"{}\",class=\"{}\"}}", codes[i], names[i])
                .map_err(|_| Overflow)?;
        }
        let rows: [(&str, u64); 7] =
            std::array::from_fn(|i| (labels[i].as_str(), self.http_errors[i]));
        metric(
            w,
            "http_errors_total",
            "counter",
            "HTTP error replies by class.",
            &rows,
        )?;
        self.render_admission(swarm, w)
    }
}

/// Writes one torrent's record in `format`.
pub fn put_torrent_record(
    w: &mut Writer<'_>,
    format: TorrentFormat,
    hash: &[u8; 20],
    c: crate::swarm::Counts,
) -> Result<(), Overflow> {
    match format {
        TorrentFormat::Txt | TorrentFormat::TxtP => {
            put_hex_upper(w, hash)?;
            w.put(b":")?;
            w.put_dec(c.seeders.into())?;
            w.put(b":")?;
            w.put_dec(c.leechers.into())?;
            if format == TorrentFormat::TxtP {
                w.put(b":")?;
                w.put_dec(c.downloaded.into())?;
            }
            w.put(b"\n")
        }
        TorrentFormat::Url => {
            for &b in hash {
                w.put(b"%")?;
                put_hex_upper(w, &[b])?;
            }
            w.put(b":")?;
            w.put_dec(c.seeders.into())?;
            w.put(b":")?;
            w.put_dec(c.leechers.into())?;
            w.put(b"\n")
        }
        TorrentFormat::Bin => {
            w.put(hash)?;
            w.put_u32(c.seeders)?;
            w.put_u32(c.leechers)
        }
        TorrentFormat::Ben => {
            bencode::put_bytes(w, hash)?;
            crate::tracker::put_scrape_counts(w, c)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::swarm::{Announce, Limits, Selection};
    use crate::wire::query::Event;

    fn swarm_with_two() -> Swarm {
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
            };
            s.announce(&a, 0, &mut sel).unwrap();
        }
        s
    }

    fn render(page: Page, stats: &Stats) -> String {
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
    fn prometheus_and_xml() {
        let p = render(Page::Prometheus, &Stats::default());
        assert!(
            p.contains("# TYPE smoltracker_torrents gauge\nsmoltracker_torrents 2\n"),
            "{p}"
        );
        assert!(p.contains(
            "smoltracker_peers{kind=\"seeder\"} 1\nsmoltracker_peers{kind=\"leecher\"} 2\n"
        ));
        assert!(p.contains("smoltracker_http_errors_total{code=\"404\",class=\"not_found\"} 0\n"));
        let x = render(Page::Everything, &Stats::default());
        assert!(x.starts_with("<?xml"));
        assert!(x.contains("<peers><count>3</count></peers>"), "{x}");
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
        assert_eq!(Page::parse(b"mode=bogus"), None);
    }
}
