//! `/stats?mode=html`: the status page. One self-contained document
//! (`status.html`, compiled in) whose `{{name}}` fields are filled with the
//! counters; the table rows are streamed one torrent at a time (see `pages`)
//! where the template says `{{rows}}`.

use super::pages::Release;
use crate::history::{date, History, DAYS, RELEASE_DAYS};
use crate::labels::Labels;
use crate::swarm::{Counts, Swarm};
use crate::wire::escape::{put_hex_lower, put_html};
use crate::wire::{Overflow, Writer};

const PAGE: &[u8] = include_bytes!("status.html");

/// Splits `t` at its first `{{name}}`: the text before, the name, the rest.
fn field(t: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let open = t.windows(2).position(|w| w == b"{{")?;
    let len = t[open + 2..].windows(2).position(|w| w == b"}}")?;
    Some((
        &t[..open],
        &t[open + 2..open + 2 + len],
        &t[open + 4 + len..],
    ))
}

/// The part after the rows (the table's end and the script).
pub fn tail() -> &'static [u8] {
    let mut rest = PAGE;
    while let Some((_, name, after)) = field(rest) {
        rest = after;
        if name == b"rows" {
            return rest;
        }
    }
    b""
}

/// `12 s`, `5 min`, `3 h 20 min`, `4 d 2 h`.
fn put_duration(w: &mut Writer<'_>, secs: u32) -> Result<(), Overflow> {
    let (d, h, m) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60);
    let (big, big_unit, small, small_unit) = match () {
        _ if d > 0 => (d, " d ", h, " h"),
        _ if h > 0 => (h, " h ", m, " min"),
        _ if m > 0 => return put_unit(w, m, " min"),
        _ => return put_unit(w, secs, " s"),
    };
    put_unit(w, big, big_unit)?;
    put_unit(w, small, small_unit)
}

fn put_unit(w: &mut Writer<'_>, n: u32, unit: &str) -> Result<(), Overflow> {
    w.put_dec(n.into())?;
    w.put(unit.as_bytes())
}

/// `n` tenths as `12.3`.
fn put_tenths(w: &mut Writer<'_>, tenths: u64) -> Result<(), Overflow> {
    w.put_dec(tenths / 10)?;
    w.put(b".")?;
    w.put_dec(tenths % 10)
}

/// `640 KiB`, `7.5 MiB`, `1.2 GiB`.
fn put_size(w: &mut Writer<'_>, bytes: u64) -> Result<(), Overflow> {
    let (unit, shift) = match bytes {
        b if b >= 1 << 30 => (" GiB", 30),
        b if b >= 1 << 20 => (" MiB", 20),
        _ => {
            w.put_dec(bytes.div_ceil(1024))?;
            return w.put(b" KiB");
        }
    };
    put_tenths(w, (bytes * 10) >> shift)?;
    w.put(unit.as_bytes())
}

/// What the page's head shows.
pub struct Head<'a> {
    /// How the memory cap is divided.
    pub memory: &'a crate::budget::Budget,
    /// The tables.
    pub swarm: &'a Swarm,
    /// The labels (and release pairs).
    pub labels: &'a Labels,
    /// The download history.
    pub history: &'a History,
    /// Seconds since start.
    pub uptime: u32,
}

/// The template from just after field `from` (from the start when `None`)
/// up to field `until`, its fields filled in.
pub fn put_head(
    w: &mut Writer<'_>,
    h: &Head<'_>,
    from: Option<&[u8]>,
    until: &[u8],
) -> Result<(), Overflow> {
    let (seeders, leechers, completed) = h.swarm.totals();
    // A hybrid's download is counted on both hashes; once here.
    let completed = completed.saturating_sub(h.history.duplicates_total());
    let used = (h.swarm.memory_used() + h.labels.used() + h.history.used()) as u64;
    let cap = h.memory.cap as u64;
    let mut rest = PAGE;
    if let Some(from) = from {
        while let Some((_, name, after)) = field(rest) {
            rest = after;
            if name == from {
                break;
            }
        }
    }
    while let Some((text, name, after)) = field(rest) {
        w.put(text)?;
        if name == until {
            return Ok(());
        }
        match name {
            b"version" => w.put(env!("CARGO_PKG_VERSION").as_bytes())?,
            b"uptime" => put_duration(w, h.uptime)?,
            b"torrents" => w.put_dec(h.swarm.torrent_count() as u64)?,
            b"seeders" => w.put_dec(seeders)?,
            b"leechers" => w.put_dec(leechers)?,
            b"completed" => w.put_dec(completed)?,
            b"used" => put_size(w, used)?,
            b"cap" => put_size(w, cap)?,
            b"parts" => {
                for (i, (name, bytes)) in h.memory.parts().into_iter().enumerate() {
                    if bytes == 0 {
                        continue;
                    }
                    if i > 0 {
                        w.put(b", ")?;
                    }
                    for part in name.split('_') {
                        w.put(part.as_bytes())?;
                        w.put(b" ")?;
                    }
                    put_size(w, bytes as u64)?;
                }
            }
            b"percent" => put_tenths(w, (used * 1000).checked_div(cap).unwrap_or(0).min(1000))?,
            _ => {}
        }
        rest = after;
    }
    w.put(rest)
}

/// Geometry of a bar chart in SVG user units.
#[derive(Clone, Copy)]
pub struct Chart {
    /// Days drawn.
    pub days: usize,
    /// Step between bars.
    pub step: u32,
    /// Width of a bar.
    pub bar: u32,
    /// Height of the tallest bar.
    pub height: u32,
}

/// The 90-day chart of every download.
pub const TOTAL_CHART: Chart = Chart {
    days: DAYS,
    step: 10,
    bar: 8,
    height: 100,
};
/// The small chart of one release.
pub const RELEASE_CHART: Chart = Chart {
    days: RELEASE_DAYS,
    step: 6,
    bar: 5,
    height: 28,
};
/// Room one bar's markup needs at most.
pub const BAR_MAX: usize = 128;

/// The chart's `<svg>` start tag.
pub fn put_chart_open(w: &mut Writer<'_>, c: Chart, class: &[u8]) -> Result<(), Overflow> {
    w.put(b"<svg class=\"")?;
    w.put(class)?;
    w.put(b"\" viewBox=\"0 0 ")?;
    w.put_dec(u64::from(c.step) * c.days as u64)?;
    w.put(b" ")?;
    w.put_dec(c.height.into())?;
    w.put(b"\" preserveAspectRatio=\"none\" role=\"group\">")
}

/// Bar `i` of a chart: downloads `n` on `day`, scaled to `max`; a day
/// without downloads is a thin muted line. Focusable, its number in its
/// `<title>` (shown on hover, read on focus).
pub fn put_bar(
    w: &mut Writer<'_>,
    c: Chart,
    i: usize,
    day: u32,
    n: u32,
    max: u32,
) -> Result<(), Overflow> {
    let h = match n {
        0 => 1,
        n => (u64::from(n) * u64::from(c.height))
            .div_ceil(u64::from(max.max(1)))
            .clamp(2, c.height.into()),
    };
    w.put(if n == 0 {
        b"<rect class=\"z\" tabindex=\"0\" x=\"".as_slice()
    } else {
        b"<rect tabindex=\"0\" x=\""
    })?;
    w.put_dec(i as u64 * u64::from(c.step))?;
    w.put(b"\" y=\"")?;
    w.put_dec(u64::from(c.height) - h)?;
    w.put(b"\" width=\"")?;
    w.put_dec(c.bar.into())?;
    w.put(b"\" height=\"")?;
    w.put_dec(h)?;
    w.put(b"\"><title>")?;
    w.put(&date(day))?;
    w.put(b": ")?;
    w.put_dec(n.into())?;
    w.put(b"</title></rect>")
}

/// The caption under the total chart: the period, its sum and its best day.
pub fn put_caption(w: &mut Writer<'_>, history: &History, today: u32) -> Result<(), Overflow> {
    let (mut sum, mut best) = (0u64, (0u32, today));
    let mut first = today;
    for (i, (day, n)) in history.series(None, today, DAYS).enumerate() {
        if i == 0 {
            first = day;
        }
        sum += u64::from(n);
        if n > best.0 {
            best = (n, day);
        }
    }
    w.put(b"</svg><figcaption class=\"mu\">Downloads per day (UTC), ")?;
    w.put(&date(first))?;
    w.put(" \u{2013} ".as_bytes())?;
    w.put(&date(today))?;
    w.put(b": ")?;
    w.put_dec(sum)?;
    w.put(b" in all")?;
    if best.0 > 0 {
        w.put(b", most ")?;
        w.put_dec(best.0.into())?;
        w.put(b" on ")?;
        w.put(&date(best.1))?;
    }
    w.put(b".</figcaption>")
}

/// The most downloads on one of the `days` days up to `today`.
pub fn series_max(history: &History, key: Option<&[u8; 20]>, today: u32, days: usize) -> u32 {
    history
        .series(key, today, days)
        .map(|(_, n)| n)
        .max()
        .unwrap_or(0)
}

/// One table row: the label (or the hash's first 8 digits, `class="u"`),
/// the full hash as the cell's title, then seeders, leechers, downloads.
///
/// A labelled release also gets its 30-day chart, in a fifth cell.
pub fn put_row(
    w: &mut Writer<'_>,
    release: &Release<'_>,
    label: Option<&[u8]>,
    c: Counts,
) -> Result<(), Overflow> {
    let hash = &release.hash;
    w.put(if label.is_some() {
        b"<tr>"
    } else {
        b"<tr class=\"u\">"
    })?;
    w.put(b"<td")?;
    if label.is_none() {
        w.put(b" class=\"h\"")?;
    }
    w.put(b" title=\"")?;
    put_hex_lower(w, hash)?;
    if let Some(second) = &release.second {
        w.put(b" ")?;
        put_hex_lower(w, second)?;
    }
    w.put(b"\">")?;
    match label {
        Some(l) => put_html(w, l)?,
        None => {
            put_hex_lower(w, &hash[..4])?;
            w.put("\u{2026}".as_bytes())?;
        }
    }
    for n in [c.seeders, c.leechers, c.downloaded] {
        w.put(b"</td><td>")?;
        w.put_dec(n.into())?;
    }
    w.put(b"</td><td class=\"c\">")?;
    if let Some((history, today)) = release.history.filter(|_| label.is_some()) {
        let key = Some(hash);
        let max = series_max(history, key, today, RELEASE_DAYS);
        put_chart_open(w, RELEASE_CHART, b"ch")?;
        for (i, (day, n)) in history.series(key, today, RELEASE_DAYS).enumerate() {
            put_bar(w, RELEASE_CHART, i, day, n, max)?;
        }
        w.put(b"</svg>")?;
    }
    w.put(b"</td></tr>\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: impl FnOnce(&mut Writer<'_>) -> Result<(), Overflow>) -> String {
        let mut buf = [0u8; 8192];
        let mut w = Writer::new(&mut buf);
        f(&mut w).unwrap();
        String::from_utf8(w.written().to_vec()).unwrap()
    }

    #[test]
    fn durations_and_sizes_read_naturally() {
        assert_eq!(text(|w| put_duration(w, 12)), "12 s");
        assert_eq!(text(|w| put_duration(w, 300)), "5 min");
        assert_eq!(text(|w| put_duration(w, 3 * 3600 + 20 * 60)), "3 h 20 min");
        assert_eq!(text(|w| put_duration(w, 4 * 86_400 + 7300)), "4 d 2 h");
        assert_eq!(text(|w| put_size(w, 1000)), "1 KiB");
        assert_eq!(text(|w| put_size(w, 7 << 19)), "3.5 MiB");
        assert_eq!(text(|w| put_size(w, 3 << 30)), "3.0 GiB");
    }

    #[test]
    fn rows_escape_labels_and_shorten_bare_hashes() {
        let c = Counts {
            seeders: 1,
            leechers: 2,
            downloaded: 3,
        };
        assert_eq!(
            text(|w| put_row(w, &Release::single([0xab; 20]), Some(b"<b>\"x\""), c)),
            format!(
                "<tr><td title=\"{}\">&lt;b&gt;&quot;x&quot;</td><td>1</td><td>2</td><td>3</td><td class=\"c\"></td></tr>\n",
                "ab".repeat(20)
            )
        );
        let row = text(|w| put_row(w, &Release::single([0x01; 20]), None, c));
        assert!(
            row.starts_with("<tr class=\"u\"><td class=\"h\" title=\""),
            "{row}"
        );
        assert!(row.contains(">01010101\u{2026}</td>"), "{row}");
    }

    #[test]
    fn template_has_the_rows_marker_and_known_fields_only() {
        let known = [
            "version",
            "uptime",
            "torrents",
            "seeders",
            "leechers",
            "completed",
            "used",
            "cap",
            "parts",
            "percent",
            "chart",
            "rows",
        ];
        let mut rest = PAGE;
        let mut names = Vec::new();
        while let Some((_, name, after)) = field(rest) {
            let name = std::str::from_utf8(name).unwrap();
            assert!(known.contains(&name), "unknown field {name}");
            names.push(name);
            rest = after;
        }
        assert_eq!(names.iter().filter(|n| **n == "rows").count(), 1);
        assert_eq!(names.iter().filter(|n| **n == "chart").count(), 1);
        assert!(tail().starts_with(b"</tbody></table>"));
        assert!(tail().ends_with(b"</html>\n"));
    }
}
