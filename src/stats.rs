//! Counters the tracker keeps about its own work.

pub mod html;
pub mod json;
pub mod pages;

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

/// Labels for `mode=herr`, in opentracker's order (see
/// [`Stats::opentracker_errors`] for what each counts).
pub const HTTP_ERROR_LABELS: [&str; 7] = [
    "302 RED", "400 ...", "400 PAR", "400 COM", "403 IP ", "404 INV", "500 SRV",
];

/// Prometheus labels of the [`HttpError`] classes: status code and
/// [`HTTP_ERROR_NAMES`] (a unit test checks the two agree).
const HTTP_ERROR_LABELS_PROM: [&str; 7] = [
    "{code=\"302\",class=\"redirect\"}",
    "{code=\"400\",class=\"bad_request\"}",
    "{code=\"400\",class=\"bad_parameter\"}",
    "{code=\"400\",class=\"too_large\"}",
    "{code=\"403\",class=\"forbidden\"}",
    "{code=\"404\",class=\"not_found\"}",
    "{code=\"500\",class=\"internal\"}",
];

/// Machine-readable names of the [`HttpError`] classes (JSON, Prometheus).
pub const HTTP_ERROR_NAMES: [&str; 7] = [
    "redirect",
    "bad_request",
    "bad_parameter",
    "too_large",
    "forbidden",
    "not_found",
    "internal",
];
mod everything;
mod networks;
pub mod top;

/// Minutes of opentracker's re-announce histogram (`mode=renew`: its
/// `OT_PEER_TIMEOUT`, lines `00` to `44`).
pub const RENEW_MINUTES: usize = 45;
/// Largest numwant `mode=numwants` counts (`000` to `200`).
pub const NUMWANT_MAX: usize = 200;

/// A fixed-size histogram of counters (arrays this long have no `Default`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histogram<const N: usize>(pub [u64; N]);

impl<const N: usize> Default for Histogram<N> {
    fn default() -> Self {
        Histogram([0; N])
    }
}

/// Counters since start-up.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// How `tracker.max_memory` was divided (shown as the memory cap).
    pub memory: crate::budget::Budget,
    /// This tracker's id in `mode=everything` (opentracker's `g_tracker_id`):
    /// random, kept in the state file so it survives restarts.
    pub tracker_id: u32,
    /// `event=completed` announces accepted (opentracker's `ot_overall_completed`).
    pub completed: u64,
    /// Re-announces by minutes since the peer's previous one (`mode=renew`).
    pub renewed: Histogram<RENEW_MINUTES>,
    /// HTTP announces by the numwant they asked for (`mode=numwants`).
    pub numwants: Histogram<{ NUMWANT_MAX + 1 }>,
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

/// opentracker's HTTP error classes as `mode=everything` names them
/// (`ot_failed_request_names` over `CODE_HTTPERROR_COUNT`), in its order:
/// nine in today's sources and in Debian's build (2021), which print all of
/// these.
pub const OPENTRACKER_ERROR_NAMES: [&str; 9] = [
    "302 Redirect",
    "400 Parse Error",
    "400 Invalid Parameter",
    "400 Invalid Parameter (compact=0)",
    "400 Not Modest",
    "402 Payment Required",
    "403 Access Denied",
    "404 Not found",
    "500 Internal Server Error",
];

impl Stats {
    /// The HTTP error counts in opentracker's classes
    /// ([`OPENTRACKER_ERROR_NAMES`]): `compact=0` is served here, full
    /// scrapes are never refused as immodest and nothing asks for payment
    /// (all 0), and an oversized request counts as a 500, as opentracker
    /// counts it.
    pub fn opentracker_errors(&self) -> [u64; 9] {
        let e = |k: HttpError| self.http_errors[k as usize];
        [
            e(HttpError::Redirect),
            e(HttpError::BadRequest),
            e(HttpError::BadParameter),
            0,
            0,
            0,
            e(HttpError::Forbidden),
            e(HttpError::NotFound),
            e(HttpError::Internal) + e(HttpError::TooLarge),
        ]
    }

    /// Counts an announce the store accepted: a completed download it
    /// counted (`completed`: the torrent's count went up), a re-announce
    /// `renewed` seconds after the peer's previous one, and for HTTP the
    /// numwant it was served with.
    pub fn count_announce(
        &mut self,
        completed: bool,
        renewed: Option<u32>,
        http_numwant: Option<usize>,
    ) {
        if completed {
            self.completed += 1;
        }
        if let Some(minute) = renewed.map(|secs| secs as usize / 60) {
            if let Some(n) = self.renewed.0.get_mut(minute) {
                *n += 1;
            }
        }
        if let Some(n) = http_numwant {
            self.numwants.0[n.min(NUMWANT_MAX)] += 1;
        }
    }

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

mod admission_metrics;

use crate::swarm::Swarm;
use crate::wire::{bencode, put_hex_upper, Overflow, Writer};

/// The version line of `mode=version` (and `<version>` of `mode=everything`).
pub const VERSION_LINE: &str = concat!("smoltracker ", env!("CARGO_PKG_VERSION"), "\n");

pub use crate::wire::stats_query::{requested_mode, Page, TorrentFormat};

/// One Prometheus metric: its HELP and TYPE lines, then a sample per row
/// (`labels` is `""` or a `{…}` label set).
fn put_metric(
    w: &mut Writer<'_>,
    name: &str,
    kind: &str,
    help: &str,
    rows: &[(&str, u64)],
) -> Result<(), Overflow> {
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
        line(w, *n)?;
    }
    Ok(())
}

fn line(w: &mut Writer<'_>, n: u64) -> Result<(), Overflow> {
    w.put_dec(n)?;
    w.put(b"\n")
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
                let (first, second) = if page == Page::Peer {
                    (seeds + leeches, seeds)
                } else {
                    (torrents, 0)
                };
                w.put_filled(
                    b"\x01\n\x01\nopentracker serving \x01 torrents\nopentracker",
                    &[first, second, torrents],
                )
            }
            Page::Conn => {
                let requests = self.tcp_connections + self.udp_requests;
                let ok = self.tcp_announces + self.udp_announces + self.udp_connects;
                let label = b"opentracker connections";
                self.connection_lines(w, label, requests, ok, uptime, requests, ok)
            }
            Page::Udp4 => {
                let (requests, ok) = (self.udp_requests, self.udp_ok());
                let label = b"opentracker udp4 stats";
                self.connection_lines(w, label, requests, ok, uptime, requests, ok)
            }
            Page::Tcp4 => {
                let (requests, ok) = (self.tcp_connections, self.tcp_announces);
                let label = b"opentracker tcp4 stats";
                self.connection_lines(w, label, requests, ok, uptime, requests, ok)
            }
            Page::Scrape => w.put_filled(
                b"\x01\n\x01\n\x01 seconds (\x01 hours)\n\
                  opentracker scrape stats, \x01 scrape/s (tcp and udp)",
                &[
                    self.tcp_scrapes,
                    self.udp_scrapes,
                    uptime.into(),
                    (uptime / 3600).into(),
                    per_sec(self.tcp_scrapes + self.udp_scrapes, uptime),
                ],
            ),
            Page::FullScrape => w.put_filled(
                b"\x01\n\x01\n\x01 seconds (\x01 hours)\n\
                  opentracker full scrape stats, \x01 conns/s :: \x01 bytes/s.",
                &[
                    // opentracker prints the count times 1000 (MRTG scaling).
                    self.full_scrapes.saturating_mul(1000),
                    self.full_scrape_bytes,
                    uptime.into(),
                    (uptime / 3600).into(),
                    per_sec(self.full_scrapes, uptime),
                    per_sec(self.full_scrape_bytes, uptime),
                ],
            ),
            Page::HttpErrors => {
                let c = self.opentracker_errors();
                // opentracker's short labels over its classes (no 402 line).
                let counts = [c[0], c[1], c[2], c[3], c[6], c[7], c[8]];
                for (label, n) in HTTP_ERROR_LABELS.iter().zip(counts) {
                    w.put(label.as_bytes())?;
                    w.put(b" ")?;
                    line(w, n)?;
                }
                Ok(())
            }
            Page::Version => w.put(VERSION_LINE.as_bytes()),
            Page::Everything => self.render_xml(swarm, uptime, w),
            Page::Prometheus => self.render_prometheus(swarm, uptime, w),
            Page::Completed => w.put_filled(
                b"\x01\n0\n\x01 seconds (\x01 hours)\nopentracker, \x01 completed/h.",
                &[
                    self.completed,
                    uptime.into(),
                    (uptime / 3600).into(),
                    // opentracker divides by whole hours (at least one).
                    self.completed / u64::from((uptime / 3600).max(1)),
                ],
            ),
            // opentracker prints its connection rates on this page too.
            Page::Syncs => self.connection_lines(
                w,
                b"opentracker connections",
                0,
                0,
                uptime,
                self.tcp_connections + self.udp_requests,
                self.tcp_announces + self.udp_announces + self.udp_connects,
            ),
            Page::Renew => {
                for (minute, n) in self.renewed.0.iter().enumerate() {
                    if minute < 10 {
                        w.put(b"0")?;
                    }
                    w.put_dec(minute as u64)?;
                    w.put(b" ")?;
                    line(w, *n)?;
                }
                Ok(())
            }
            Page::Numwants => {
                for (numwant, n) in self.numwants.0.iter().enumerate() {
                    let pad = match numwant {
                        0..=9 => b"00".as_slice(),
                        10..=99 => b"0",
                        _ => b"",
                    };
                    w.put(pad)?;
                    w.put_dec(numwant as u64)?;
                    w.put(b" => ")?;
                    line(w, *n)?;
                }
                Ok(())
            }
            Page::Busy | Page::Woodpeckers => networks::put_empty(w),
            Page::Slash24s => networks::put_slash24s(w, swarm),
            Page::FullLog => Ok(()),
            Page::PerTorrent(_) | Page::Top(_) | Page::Json | Page::Html => Err(Overflow),
        }
    }

    /// opentracker's four-line connection pages (`conn`, `udp4`, `tcp4`,
    /// `syncs`): two counts, uptime, `<label>, R conns/s :: R success/s.`
    /// with the rates of `rate_requests` and `rate_ok`.
    #[allow(clippy::too_many_arguments)]
    fn connection_lines(
        &self,
        w: &mut Writer<'_>,
        label: &[u8],
        first: u64,
        second: u64,
        uptime: u32,
        rate_requests: u64,
        rate_ok: u64,
    ) -> Result<(), Overflow> {
        let lines = [first, second, uptime.into(), (uptime / 3600).into()];
        w.put_filled(b"\x01\n\x01\n\x01 seconds (\x01 hours)\n", &lines)?;
        w.put(label)?;
        let rates = [per_sec(rate_requests, uptime), per_sec(rate_ok, uptime)];
        w.put_filled(b", \x01 conns/s :: \x01 success/s.", &rates)
    }

    fn render_prometheus(
        &self,
        swarm: &Swarm,
        uptime: u32,
        w: &mut Writer<'_>,
    ) -> Result<(), Overflow> {
        let (seeds, leeches, completed) = swarm.totals();
        let cap = swarm.capacity();
        put_metric(
            w,
            "uptime_seconds",
            "gauge",
            "Seconds since start.",
            &[("", uptime.into())],
        )?;
        put_metric(
            w,
            "torrents",
            "gauge",
            "Torrents stored.",
            &[("", swarm.torrent_count() as u64)],
        )?;
        put_metric(
            w,
            "torrents_capacity",
            "gauge",
            "Torrents the table holds.",
            &[("", cap.torrents as u64)],
        )?;
        put_metric(
            w,
            "peers",
            "gauge",
            "Peers stored.",
            &[
                ("{kind=\"seeder\"}", seeds),
                ("{kind=\"leecher\"}", leeches),
            ],
        )?;
        put_metric(
            w,
            "completed_total",
            "counter",
            "Completed downloads of stored torrents.",
            &[("", completed)],
        )?;
        let m = &self.memory;
        put_metric(
            w,
            "memory_cap_bytes",
            "gauge",
            "tracker.max_memory: all the memory the tracker allocates after start-up.",
            &[("", m.cap as u64)],
        )?;
        put_metric(
            w,
            "memory_budget_bytes",
            "gauge",
            "How tracker.max_memory is divided.",
            &[
                ("{part=\"tables\"}", m.tables as u64),
                ("{part=\"connections\"}", m.connection_bytes as u64),
                ("{part=\"sockets\"}", m.socket_bytes as u64),
                ("{part=\"fixed\"}", m.fixed_bytes as u64),
                ("{part=\"labels\"}", m.labels as u64),
                ("{part=\"fifo_changes\"}", m.changes as u64),
                ("{part=\"history\"}", m.history as u64),
            ],
        )?;
        put_metric(
            w,
            "tables_used_bytes",
            "gauge",
            "Bytes of the torrent and peer tables in use.",
            &[("", swarm.memory_used() as u64)],
        )?;
        put_metric(
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
        put_metric(
            w,
            "tcp_connections_total",
            "counter",
            "HTTP connections accepted.",
            &[("", self.tcp_connections)],
        )?;
        put_metric(
            w,
            "tcp_refused_total",
            "counter",
            "HTTP connections refused at max_connections.",
            &[("", self.tcp_refused)],
        )?;
        put_metric(
            w,
            "udp_errors_total",
            "counter",
            "UDP datagrams answered with an error or dropped.",
            &[("", self.udp_errors)],
        )?;
        put_metric(
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
        let rows: [(&str, u64); 7] =
            std::array::from_fn(|i| (HTTP_ERROR_LABELS_PROM[i], self.http_errors[i]));
        put_metric(
            w,
            "http_errors_total",
            "counter",
            "HTTP error replies by class.",
            &rows,
        )?;
        self.render_admission(swarm, w)
    }
}

/// Minutes since 1970: opentracker's `base` of a torrent in `mode=statedump`
/// (when it last had peers; here: now, as every listed torrent is current).
fn minutes_since_epoch() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 60)
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
        TorrentFormat::StateDump => {
            put_hex_upper(w, hash)?;
            w.put(b":")?;
            w.put_dec(minutes_since_epoch())?;
            w.put(b":")?;
            w.put_dec(c.downloaded.into())?;
            w.put(b"\n")
        }
        TorrentFormat::Ben => {
            bencode::put_bytes(w, hash)?;
            bencode::put_scrape_counts(w, c.seeders, c.downloaded, c.leechers)
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
