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
//!
//! A release with two hashes (see `releases`) is one record under its first
//! hash: its peers counted once each across both swarms, its downloads
//! those of both less the ones seen twice. The HTML page draws the history
//! of downloads: a 90-day chart of all of them after the head (its bars
//! streamed like records), and a 30-day chart in each labelled release's row.

use super::{html, json, Page, Stats};
use crate::history::{wall_now, History};
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
    /// HTML: the 90-day chart of all downloads, bar by bar.
    Chart,
    /// HTML: the head after the chart, up to the rows.
    HeadRest,
    Labelled,
    Unlabelled,
    Middle,
    Tail,
}

fn parts(kind: PageKind) -> &'static [Part] {
    match kind {
        PageKind::Json => &[Part::Head, Part::Labelled, Part::Unlabelled, Part::Tail],
        PageKind::Html => &[
            Part::Head,
            Part::Chart,
            Part::HeadRest,
            Part::Labelled,
            Part::Unlabelled,
            Part::Tail,
        ],
        PageKind::Prometheus => &[Part::Head, Part::Labelled, Part::Middle, Part::Labelled],
    }
}

/// Room one record may need: a 64-byte label escaped for HTML or JSON (at
/// most 6 bytes per byte) plus two hashes, counts and markup, and its
/// 30-day series (JSON: 30 numbers; HTML: 30 bars of at most
/// `html::BAR_MAX` bytes).
fn record_max(kind: PageKind) -> usize {
    match kind {
        PageKind::Json => 1200,
        PageKind::Html => 800 + crate::history::RELEASE_DAYS * html::BAR_MAX,
        PageKind::Prometheus => 640,
    }
}

/// One record's release: its first hash, its second one if it has two, and
/// the history to draw its downloads from (with the day the chart ends).
#[derive(Clone, Copy)]
pub struct Release<'a> {
    /// The hash the release is kept under.
    pub hash: InfoHash,
    /// Its other hash (a hybrid).
    pub second: Option<InfoHash>,
    /// Where its per-day downloads are, and the last day to show.
    pub history: Option<(&'a History, u32)>,
}

impl Release<'_> {
    /// A release of one hash, without history.
    pub fn single(hash: InfoHash) -> Self {
        Release {
            hash,
            second: None,
            history: None,
        }
    }
}

/// The counts of a release: one hash's, or over both hashes each distinct
/// peer once and the downloads seen twice taken off.
pub fn release_counts(
    swarm: &Swarm,
    history: &History,
    hash: &InfoHash,
    second: Option<&InfoHash>,
) -> Counts {
    match second {
        None => swarm.scrape(hash),
        Some(s) => {
            let mut c = swarm.release_counts(hash, s);
            c.downloaded = c.downloaded.saturating_sub(history.duplicates(hash));
            c
        }
    }
}

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
    /// The last day the charts show (taken with the head).
    today: u32,
    /// The next bar of the total chart.
    bar: usize,
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
            today: 0,
            bar: 0,
        }
    }

    /// Writes the next part of the page into `out`; 0 when it is over.
    /// Labels of hashes `allowed` refuses (deleted through a FIFO) are not shown.
    pub fn chunk(
        &mut self,
        stats: &Stats,
        swarm: &mut Swarm,
        labels: &Labels,
        history: &History,
        allowed: &dyn Fn(&InfoHash) -> bool,
        out: &mut [u8],
    ) -> usize {
        let mut w = Writer::new(out);
        while let Some(&part) = parts(self.kind).get(self.step) {
            let fits = match part {
                // The head goes first, into an empty buffer; one too small
                // for it ends the page there.
                Part::Head if self.head(&mut w, stats, swarm, labels, history).is_err() => {
                    self.step = usize::MAX;
                    break;
                }
                Part::Head => true,
                Part::Chart => self.chart(&mut w, history),
                Part::HeadRest => {
                    let h = self.html_head(stats, swarm, labels, history);
                    // Built whole first (a few hundred bytes), so it is
                    // never cut in two.
                    let mut buf = [0u8; 1024];
                    let mut tmp = Writer::new(&mut buf);
                    html::put_head(&mut tmp, &h, Some(b"chart"), b"rows").is_ok()
                        && w.put(tmp.written()).is_ok()
                }
                Part::Middle => w.put(COMPLETED_HEAD).is_ok(),
                Part::Tail => w.put(self.tail()).is_ok(),
                Part::Labelled | Part::Unlabelled => {
                    self.records(part, &mut w, swarm, labels, history, allowed)
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

    /// The total chart's bars while they fit; true once it is all written.
    fn chart(&mut self, w: &mut Writer<'_>, history: &History) -> bool {
        /// Room for the `<svg>` tag, and for the caption.
        const OPEN_MAX: usize = 200;
        const CAPTION_MAX: usize = 320;
        let c = html::TOTAL_CHART;
        if self.bar == 0 {
            if w.remaining() < OPEN_MAX {
                return false;
            }
            let _ = html::put_chart_open(w, c, b"tot");
        }
        let max = html::series_max(history, None, self.today, c.days);
        for (day, n) in history.series(None, self.today, c.days).skip(self.bar) {
            if w.remaining() < html::BAR_MAX {
                return false;
            }
            let _ = html::put_bar(w, c, self.bar, day, n, max);
            self.bar += 1;
        }
        self.bar = c.days;
        w.remaining() >= CAPTION_MAX && html::put_caption(w, history, self.today).is_ok()
    }

    /// What the status page's head shows.
    fn html_head<'a>(
        &self,
        stats: &'a Stats,
        swarm: &'a Swarm,
        labels: &'a Labels,
        history: &'a History,
    ) -> html::Head<'a> {
        html::Head {
            memory: &stats.memory,
            swarm,
            labels,
            history,
            uptime: self.uptime,
        }
    }

    fn head(
        &mut self,
        w: &mut Writer<'_>,
        stats: &Stats,
        swarm: &Swarm,
        labels: &Labels,
        history: &History,
    ) -> Result<(), Overflow> {
        self.today = history.today(wall_now());
        match self.kind {
            PageKind::Json => {
                json::put_head(w, stats, swarm, labels, self.uptime, history, self.today)
            }
            PageKind::Html => {
                let h = self.html_head(stats, swarm, labels, history);
                html::put_head(w, &h, None, b"chart")
            }
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
        history: &History,
        allowed: &dyn Fn(&InfoHash) -> bool,
    ) -> bool {
        let pairs = labels.pairs();
        let shown = |hash: &InfoHash| labels.contains(hash) && allowed(hash);
        while w.remaining() >= record_max(self.kind) {
            let (hash, label) = if let Part::Labelled = part {
                let Some((hash, label)) = labels.next_after(self.after.as_ref()) else {
                    return true;
                };
                self.after = Some(hash);
                // A label on a second hash: its release is shown under the first.
                if !allowed(&hash) || pairs.is_secondary(&hash) {
                    continue;
                }
                (hash, Some(label))
            } else {
                let Some(hash) = swarm.next_hash_after(self.after) else {
                    return true;
                };
                self.after = Some(hash);
                // Labelled ones were listed already; removed ones have
                // nothing to say; a second hash is shown with its first,
                // unless only the second is stored.
                let primary = pairs.primary_of(&hash);
                let elsewhere =
                    shown(&primary) || (primary != hash && swarm.get(&primary).is_some());
                if elsewhere || swarm.get(&hash).is_none() {
                    continue;
                }
                (primary, None)
            };
            let second = pairs.secondary_of(&hash);
            let counts = release_counts(swarm, history, &hash, second.as_ref());
            let release = Release {
                hash,
                second,
                history: Some((history, self.today)),
            };
            let label = label.as_deref();
            // Cannot fail: record_max bytes are free.
            let _ = match self.kind {
                PageKind::Json => json::put_torrent(w, self.first, &release, label, counts),
                PageKind::Html => html::put_row(w, &release, label, counts),
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
