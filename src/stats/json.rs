//! `/stats?mode=json`: one JSON document, its torrent list streamed one
//! record at a time (see `pages`).

use super::{Stats, HTTP_ERROR_NAMES};
use crate::labels::Labels;
use crate::swarm::{Counts, Swarm};
use crate::wire::escape::{put_hex_lower, put_json};
use crate::wire::{Overflow, Writer};

/// Writes `{"a":1,"b":2}`.
fn object(w: &mut Writer<'_>, fields: &[(&str, u64)]) -> Result<(), Overflow> {
    w.put(b"{")?;
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            w.put(b",")?;
        }
        w.put(b"\"")?;
        w.put(k.as_bytes())?;
        w.put(b"\":")?;
        w.put_dec(*v)?;
    }
    w.put(b"}")
}

/// Everything before the first torrent record, up to `"torrents":[`.
pub fn put_head(
    w: &mut Writer<'_>,
    stats: &Stats,
    swarm: &Swarm,
    labels: &Labels,
    uptime: u32,
) -> Result<(), Overflow> {
    let (seeders, leechers, completed) = swarm.totals();
    w.put(b"{\"version\":\"")?;
    w.put(env!("CARGO_PKG_VERSION").as_bytes())?;
    w.put(b"\",\"uptime\":")?;
    w.put_dec(uptime.into())?;
    w.put(b",\n\"totals\":")?;
    object(
        w,
        &[
            ("torrents", swarm.torrent_count() as u64),
            ("peers", seeders + leechers),
            ("seeders", seeders),
            ("leechers", leechers),
            ("completed", completed),
        ],
    )?;
    w.put(b",\n\"requests\":")?;
    object(
        w,
        &[
            ("tcp_connections", stats.tcp_connections),
            ("tcp_announces", stats.tcp_announces),
            ("tcp_scrapes", stats.tcp_scrapes),
            ("udp_requests", stats.udp_requests),
            ("udp_connects", stats.udp_connects),
            ("udp_announces", stats.udp_announces),
            ("udp_scrapes", stats.udp_scrapes),
            ("full_scrapes", stats.full_scrapes),
            ("full_scrape_bytes", stats.full_scrape_bytes),
        ],
    )?;
    w.put(b",\n\"errors\":{\"udp\":")?;
    w.put_dec(stats.udp_errors)?;
    w.put(b",\"http\":")?;
    let http: [(&str, u64); 7] =
        std::array::from_fn(|i| (HTTP_ERROR_NAMES[i], stats.http_errors[i]));
    object(w, &http)?;
    w.put(b"},\n\"refused\":")?;
    object(
        w,
        &[
            ("full", stats.refused_full),
            ("access", stats.refused_access),
            ("connections", stats.tcp_refused),
        ],
    )?;
    w.put(b",\n\"evictions\":")?;
    w.put_dec(swarm.evictions())?;
    let cap = swarm.capacity();
    w.put(b",\n\"memory\":")?;
    object(
        w,
        &[
            ("used", (swarm.memory_used() + labels.used()) as u64),
            ("cap", (cap.bytes + labels.budget()) as u64),
            ("torrents_capacity", cap.torrents as u64),
            ("labels_used", labels.used() as u64),
            ("labels_cap", labels.budget() as u64),
        ],
    )?;
    w.put(b",\n\"labels\":")?;
    object(
        w,
        &[
            ("count", labels.len() as u64),
            ("dropped", labels.dropped() as u64),
        ],
    )?;
    w.put(b",\n\"torrents\":[")
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
