//! The stats pages about releases — `mode=json`, the `mode=html` status page,
//! and `mode=prom` once torrents have labels — streamed a buffer at a time
//! like the per-torrent pages: no allocation, no Content-Length.
//!
//! JSON and HTML list every labelled torrent first (in hash order, with zero
//! counts when it has no peers yet), then every other stored torrent;
//! Prometheus gets per-release series for labelled torrents only, so their
//! number is bounded by the whitelist. Each walk keeps the last hash written,
//! so a reload or torrents coming and going mid-page neither repeat nor
//! break records.

use super::{html, json, Page, Stats};
use crate::info_hash::InfoHash;
use crate::labels::Labels;
use crate::swarm::{Counts, Swarm};
use crate::wire::escape::{put_hex_lower, put_prometheus};
use crate::wire::{Overflow, Writer};

/// Which page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageKind {
    /// `mode=json`.
    Json,
    /// `mode=html`.
    Html,
    /// `mode=prom` / `/metrics` with per-release series.
    Prometheus,
}

#[derive(Clone, Copy)]
enum Part {
    Head,
    Labelled,
    Unlabelled,
    Middle,
    Tail,
}

fn parts(kind: PageKind) -> &'static [Part] {
    match kind {
        PageKind::Json | PageKind::Html => {
            &[Part::Head, Part::Labelled, Part::Unlabelled, Part::Tail]
        }
        PageKind::Prometheus => &[Part::Head, Part::Labelled, Part::Middle, Part::Labelled],
    }
}

/// Room one record may need: a 64-byte label escaped for HTML or JSON (at
/// most 6 bytes per byte) plus hash, counts and markup.
const RECORD_MAX: usize = 640;

const PEERS_HEAD: &[u8] =
    b"# HELP smoltracker_release_peers Peers of a release named in the whitelist.\n\
# TYPE smoltracker_release_peers gauge\n";
const COMPLETED_HEAD: &[u8] = b"# HELP smoltracker_release_completed_total Completed downloads of a release named in the whitelist.\n\
# TYPE smoltracker_release_completed_total counter\n";

/// Where a streamed release page is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageStream {
    kind: PageKind,
    step: usize,
    after: Option<InfoHash>,
    first: bool,
    uptime: u32,
}

impl PageStream {
    /// A page about to be written; `uptime` is shown as of the request.
    pub fn new(kind: PageKind, uptime: u32) -> Self {
        PageStream {
            kind,
            step: 0,
            after: None,
            first: true,
            uptime,
        }
    }

    /// Writes the next part of the page into `out`; 0 when it is over.
    /// Labels of hashes `allowed` refuses (deleted through a FIFO) are not shown.
    pub fn chunk(
        &mut self,
        stats: &Stats,
        swarm: &mut Swarm,
        labels: &Labels,
        allowed: &dyn Fn(&InfoHash) -> bool,
        out: &mut [u8],
    ) -> usize {
        let mut w = Writer::new(out);
        while let Some(&part) = parts(self.kind).get(self.step) {
            let fits = match part {
                // The head goes first, into an empty buffer; one too small
                // for it ends the page there.
                Part::Head if self.head(&mut w, stats, swarm, labels).is_err() => {
                    self.step = usize::MAX;
                    break;
                }
                Part::Head => true,
                Part::Middle => w.put(COMPLETED_HEAD).is_ok(),
                Part::Tail => w.put(self.tail()).is_ok(),
                Part::Labelled | Part::Unlabelled => {
                    self.records(part, &mut w, swarm, labels, allowed)
                }
            };
            if !fits {
                if w.is_empty() {
                    // Not even an empty buffer holds the rest: end the page.
                    self.step = usize::MAX;
                }
                break;
            }
            self.step += 1;
            self.after = None;
        }
        w.len()
    }

    fn head(
        &self,
        w: &mut Writer<'_>,
        stats: &Stats,
        swarm: &Swarm,
        labels: &Labels,
    ) -> Result<(), Overflow> {
        match self.kind {
            PageKind::Json => json::put_head(w, stats, swarm, labels, self.uptime),
            PageKind::Html => html::put_head(w, &stats.memory, swarm, labels, self.uptime),
            PageKind::Prometheus => {
                stats.render(Page::Prometheus, swarm, self.uptime, w)?;
                w.put(PEERS_HEAD)
            }
        }
    }

    fn tail(&self) -> &'static [u8] {
        match self.kind {
            PageKind::Json => json::TAIL,
            PageKind::Html => html::tail(),
            PageKind::Prometheus => b"",
        }
    }

    /// Writes records while they surely fit; true once the walk is over.
    fn records(
        &mut self,
        part: Part,
        w: &mut Writer<'_>,
        swarm: &mut Swarm,
        labels: &Labels,
        allowed: &dyn Fn(&InfoHash) -> bool,
    ) -> bool {
        while w.remaining() >= RECORD_MAX {
            let (hash, label, counts) = if let Part::Labelled = part {
                let Some((hash, label)) = labels.next_after(self.after.as_ref()) else {
                    return true;
                };
                self.after = Some(hash);
                if !allowed(&hash) {
                    continue;
                }
                (hash, Some(label), swarm.scrape(&hash))
            } else {
                let Some(hash) = swarm.next_hash_after(self.after) else {
                    return true;
                };
                self.after = Some(hash);
                // Labelled ones were listed already; removed ones have nothing to say.
                let labelled = labels.contains(&hash) && allowed(&hash);
                let Some(counts) = swarm.get(&hash).filter(|_| !labelled) else {
                    continue;
                };
                (hash, None, counts)
            };
            self.after = Some(hash);
            let label = label.as_deref();
            // Cannot fail: RECORD_MAX bytes are free.
            let _ = match self.kind {
                PageKind::Json => json::put_torrent(w, self.first, &hash, label, counts),
                PageKind::Html => html::put_row(w, &hash, label, counts),
                PageKind::Prometheus => put_release_series(w, self.step > 1, &hash, label, counts),
            };
            self.first = false;
        }
        false
    }
}

/// The per-release Prometheus lines of one labelled torrent: its two
/// `smoltracker_release_peers` series, or (`completed`) its
/// `smoltracker_release_completed_total`.
fn put_release_series(
    w: &mut Writer<'_>,
    completed: bool,
    hash: &[u8; 20],
    label: Option<&[u8]>,
    c: Counts,
) -> Result<(), Overflow> {
    let series: &[(&[u8], u32)] = if completed {
        &[(b"", c.downloaded)]
    } else {
        &[
            (b",kind=\"seeder\"", c.seeders),
            (b",kind=\"leecher\"", c.leechers),
        ]
    };
    for (extra, n) in series {
        w.put(if completed {
            b"smoltracker_release_completed_total{info_hash=\""
        } else {
            b"smoltracker_release_peers{info_hash=\""
        })?;
        put_hex_lower(w, hash)?;
        w.put(b"\",label=\"")?;
        put_prometheus(w, label.unwrap_or_default())?;
        w.put(b"\"")?;
        w.put(extra)?;
        w.put(b"} ")?;
        w.put_dec((*n).into())?;
        w.put(b"\n")?;
    }
    Ok(())
}
