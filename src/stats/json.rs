//! `/stats?mode=json`: one JSON document, its torrent list streamed one
//! record at a time (see `pages`).

use super::Stats;
use crate::history::{date, History, DAYS, RELEASE_DAYS};
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
    history: &History,
    today: u32,
) -> Result<(), Overflow> {
    let (seeders, leechers, completed) = swarm.totals();
    // A hybrid's download is counted on both hashes; once here.
    let completed = completed.saturating_sub(history.duplicates_total());
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
        (swarm.memory_used() + labels.used() + history.used()) as u64,
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
    w.put(b",\"pairs\":")?;
    w.put_dec(labels.pairs().len() as u64)?;
    w.put(b",\"pairs_dropped\":")?;
    w.put_dec(labels.pairs().dropped() as u64)?;
    // Completed downloads per UTC day, oldest first, ending `last_day`.
    w.put(b"},\n\"history\":{\"last_day\":\"")?;
    w.put(&date(today))?;
    w.put(b"\",\"days\":")?;
    w.put_dec(DAYS as u64)?;
    w.put(b",\"release_days\":")?;
    w.put_dec(RELEASE_DAYS as u64)?;
    w.put(b",\"total\":")?;
    put_series(w, history, None, today, DAYS)?;
    let fields = [
        (&b",\"releases\":"[..], history.releases() as u64),
        (b",\"release_rows\":", history.capacity() as u64),
        (b",\"left_out\":", history.left_out()),
        (b",\"memory_used\":", history.used() as u64),
        (b",\"memory_cap\":", history.budget() as u64),
    ];
    for (key, value) in fields {
        w.put(key)?;
        w.put_dec(value)?;
    }
    w.put(b"},\n\"torrents\":[")
}

/// `[n,n,…]`: `days` days of downloads up to `last`, oldest first.
pub fn put_series(
    w: &mut Writer<'_>,
    history: &History,
    key: Option<&[u8; 20]>,
    last: u32,
    days: usize,
) -> Result<(), Overflow> {
    w.put(b"[")?;
    for (i, (_, n)) in history.series(key, last, days).enumerate() {
        if i > 0 {
            w.put(b",")?;
        }
        w.put_dec(n.into())?;
    }
    w.put(b"]")
}

/// One torrent: `{"info_hash":…,"label":…|null,"seeders":…,…}`, preceded by a
/// comma unless it is the `first`.
/// A release with two hashes also has `"info_hash2"` (its other hash), and
/// labelled releases have `"daily"`: their downloads per day for the last
/// `RELEASE_DAYS` days up to the history's `last_day`, oldest first.
pub fn put_torrent(
    w: &mut Writer<'_>,
    first: bool,
    release: &super::pages::Release<'_>,
    label: Option<&[u8]>,
    c: Counts,
) -> Result<(), Overflow> {
    w.put(if first { b"\n" } else { b",\n" })?;
    w.put(b"{\"info_hash\":\"")?;
    put_hex_lower(w, &release.hash)?;
    if let Some(second) = &release.second {
        w.put(b"\",\"info_hash2\":\"")?;
        put_hex_lower(w, second)?;
    }
    if let Some((history, today)) = release.history.filter(|_| label.is_some()) {
        w.put(b"\",\"daily\":")?;
        put_series(w, history, Some(&release.hash), today, RELEASE_DAYS)?;
        w.put(b",\"label\":")?;
    } else {
        w.put(b"\",\"label\":")?;
    }
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
