//! The `/stats` query: which page (`mode=`) and record format (`format=`)
//! it asks for, by opentracker's names. Decoding only: `stats` renders.

use super::query::pairs;

/// How many torrents a list holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    /// `top10`.
    Ten = 10,
    /// `top100`.
    Hundred = 100,
}

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
    /// `mode=tpbs` (and `mode=statedump`): one record per torrent, streamed.
    PerTorrent(TorrentFormat),
    /// `mode=json`: counters and every torrent with its label, streamed.
    Json,
    /// `mode=html`: the status page, streamed.
    Html,
    /// `mode=completed`: completed downloads, MRTG style.
    Completed,
    /// `mode=syncs`: livesync packets, MRTG style (always 0 here: no livesync).
    Syncs,
    /// `mode=renew`: re-announces by minutes since the previous one.
    Renew,
    /// `mode=numwants`: HTTP announces by numwant.
    Numwants,
    /// `mode=top10` / `mode=top100`: busiest torrents, streamed.
    Top(Amount),
    /// `mode=busy`: busiest client networks.
    Busy,
    /// `mode=s24s`: networks holding the most IPv4 peers.
    Slash24s,
    /// `mode=woodpeckers`: networks of clients announcing far too often.
    Woodpeckers,
    /// `mode=fulllog`: opentracker's logged requests of watched networks.
    FullLog,
}

/// The `mode` a stats query asks for (`peer` when it names none).
pub fn requested_mode(query: &[u8]) -> &[u8] {
    pairs(query)
        .filter(|(k, _)| *k == b"mode")
        .last()
        .map_or(b"peer", |(_, v)| v)
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
    /// `mode=statedump`: `HEX:base:downloaded\n`, base in minutes since 1970
    /// (what opentracker's `-l` loads, and `tracker.state_file` too).
    StateDump,
}

/// `mode=` names and their pages (`tpbs` takes a `format` too): a table
/// rather than a `match`, which compiles to 2.5 KB of compares on mipsel.
const MODES: [(&[u8], Page); 24] = [
    (b"peer", Page::Peer),
    (b"conn", Page::Conn),
    (b"scrp", Page::Scrape),
    (b"udp4", Page::Udp4),
    (b"tcp4", Page::Tcp4),
    (b"torr", Page::Torrents),
    (b"fscr", Page::FullScrape),
    (b"herr", Page::HttpErrors),
    (b"version", Page::Version),
    (b"everything", Page::Everything),
    (b"prom", Page::Prometheus),
    (b"json", Page::Json),
    (b"html", Page::Html),
    (b"completed", Page::Completed),
    (b"syncs", Page::Syncs),
    (b"renew", Page::Renew),
    (b"numwants", Page::Numwants),
    (b"top10", Page::Top(Amount::Ten)),
    (b"top100", Page::Top(Amount::Hundred)),
    (b"busy", Page::Busy),
    (b"s24s", Page::Slash24s),
    (b"woodpeckers", Page::Woodpeckers),
    (b"fulllog", Page::FullLog),
    (b"statedump", Page::PerTorrent(TorrentFormat::StateDump)),
];

/// `mode=tpbs&format=` names.
const FORMATS: [(&[u8], TorrentFormat); 5] = [
    (b"txt", TorrentFormat::Txt),
    (b"txtp", TorrentFormat::TxtP),
    (b"url", TorrentFormat::Url),
    (b"bin", TorrentFormat::Bin),
    (b"ben", TorrentFormat::Ben),
];

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
        if mode == b"tpbs" {
            return FORMATS
                .iter()
                .find(|(name, _)| *name == format)
                .map(|&(_, f)| Page::PerTorrent(f));
        }
        MODES
            .iter()
            .find(|(name, _)| *name == mode)
            .map(|&(_, page)| page)
    }

    /// Content type of the page.
    pub fn content_type(self) -> &'static [u8] {
        match self {
            Page::Everything => b"text/xml",
            Page::PerTorrent(TorrentFormat::Bin) | Page::PerTorrent(TorrentFormat::Ben) => {
                b"application/octet-stream"
            }
            Page::Prometheus => b"text/plain; version=0.0.4; charset=utf-8",
            Page::Json => b"application/json",
            Page::Html => b"text/html; charset=utf-8",
            _ => b"text/plain",
        }
    }
}
