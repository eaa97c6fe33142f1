//! `/stats?mode=json`: one JSON document, its torrent list streamed one
//! record at a time (see `pages`).

use super::Stats;
use crate::labels::Labels;
use crate::swarm::{Counts, Swarm};
use crate::wire::escape::{put_hex_lower, put_json};
use crate::wire::{Overflow, Writer};

/// The document up to the torrent list: each piece is followed by the
/// value of the same index in [`put_head`] (one table, so the layout costs
/// no code per field).
const HEAD: [&str; 39] = [
    concat!(
        "{\"version\":\"",
        env!("CARGO_PKG_VERSION"),
        "\",\"uptime\":"
    ),
    ",\n\"totals\":{\"torrents\":",
    ",\"peers\":",
    ",\"seeders\":",
    ",\"leechers\":",
    ",\"completed\":",
    "},\n\"requests\":{\"tcp_connections\":",
    ",\"tcp_announces\":",
    ",\"tcp_scrapes\":",
    ",\"udp_requests\":",
    ",\"udp_connects\":",
    ",\"udp_announces\":",
    ",\"udp_scrapes\":",
    ",\"full_scrapes\":",
    ",\"full_scrape_bytes\":",
    "},\n\"errors\":{\"udp\":",
    ",\"http\":{\"redirect\":",
    ",\"bad_request\":",
    ",\"bad_parameter\":",
    ",\"too_large\":",
    ",\"forbidden\":",
    ",\"not_found\":",
    ",\"internal\":",
    "}},\n\"refused\":{\"full\":",
    ",\"access\":",
    ",\"connections\":",
    "},\n\"evictions\":",
    ",\n\"memory\":{\"used\":",
    ",\"cap\":",
    ",\"torrents_capacity\":",
    ",\"labels_used\":",
    ",\"labels_cap\":",
    ",\"tables_cap\":",
    ",\"connections_cap\":",
    ",\"sockets\":",
    ",\"fixed\":",
    ",\"fifo_changes\":",
    "},\n\"labels\":{\"count\":",
    ",\"dropped\":",
];

/// Everything before the first torrent record, up to `"torrents":[`.
pub fn put_head(
    w: &mut Writer<'_>,
    stats: &Stats,
    swarm: &Swarm,
    labels: &Labels,
    uptime: u32,
) -> Result<(), Overflow> {
    let (seeders, leechers, completed) = swarm.totals();
    let cap = swarm.capacity();
    let e = &stats.http_errors;
    let values: [u64; 39] = [
        uptime.into(),
        swarm.torrent_count() as u64,
        seeders + leechers,
        seeders,
        leechers,
        completed,
        stats.tcp_connections,
        stats.tcp_announces,
        stats.tcp_scrapes,
        stats.udp_requests,
        stats.udp_connects,
        stats.udp_announces,
        stats.udp_scrapes,
        stats.full_scrapes,
        stats.full_scrape_bytes,
        stats.udp_errors,
        e[0],
        e[1],
        e[2],
        e[3],
        e[4],
        e[5],
        e[6],
        stats.refused_full,
        stats.refused_access,
        stats.tcp_refused,
        swarm.evictions(),
        (swarm.memory_used() + labels.used()) as u64,
        stats.memory.cap as u64,
        cap.torrents as u64,
        labels.used() as u64,
        labels.budget() as u64,
        stats.memory.tables as u64,
        stats.memory.connection_bytes as u64,
        stats.memory.socket_bytes as u64,
        stats.memory.fixed_bytes as u64,
        stats.memory.changes as u64,
        labels.len() as u64,
        labels.dropped() as u64,
    ];
    for (piece, value) in HEAD.iter().zip(values) {
        w.put(piece.as_bytes())?;
        w.put_dec(value)?;
    }
    w.put(b"},\n\"torrents\":[")
}

/// One torrent: `{"info_hash":…,"label":…|null,"seeders":…,…}`, preceded by a
/// comma unless it is the `first`.
pub fn put_torrent(
    w: &mut Writer<'_>,
    first: bool,
    hash: &[u8; 20],
    label: Option<&[u8]>,
    c: Counts,
) -> Result<(), Overflow> {
    w.put(if first { b"\n" } else { b",\n" })?;
    w.put(b"{\"info_hash\":\"")?;
    put_hex_lower(w, hash)?;
    w.put(b"\",\"label\":")?;
    match label {
        Some(l) => {
            w.put(b"\"")?;
            put_json(w, l)?;
            w.put(b"\"")?;
        }
        None => w.put(b"null")?,
    }
    w.put(b",\"seeders\":")?;
    w.put_dec(c.seeders.into())?;
    w.put(b",\"leechers\":")?;
    w.put_dec(c.leechers.into())?;
    w.put(b",\"completed\":")?;
    w.put_dec(c.downloaded.into())?;
    w.put(b"}")
}

/// After the last record.
pub const TAIL: &[u8] = b"\n]}\n";
