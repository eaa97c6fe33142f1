//! `/stats?mode=html`: the status page. One self-contained document
//! (`status.html`, compiled in) whose `{{name}}` fields are filled with the
//! counters; the table rows are streamed one torrent at a time (see `pages`)
//! where the template says `{{rows}}`.

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

/// The page up to the first row, its fields filled in.
pub fn put_head(
    w: &mut Writer<'_>,
    memory: &crate::budget::Budget,
    swarm: &Swarm,
    labels: &Labels,
    uptime: u32,
) -> Result<(), Overflow> {
    let (seeders, leechers, completed) = swarm.totals();
    let used = (swarm.memory_used() + labels.used()) as u64;
    let cap = memory.cap as u64;
    let mut rest = PAGE;
    while let Some((text, name, after)) = field(rest) {
        w.put(text)?;
        match name {
            b"version" => w.put(env!("CARGO_PKG_VERSION").as_bytes())?,
            b"uptime" => put_duration(w, uptime)?,
            b"torrents" => w.put_dec(swarm.torrent_count() as u64)?,
            b"seeders" => w.put_dec(seeders)?,
            b"leechers" => w.put_dec(leechers)?,
            b"completed" => w.put_dec(completed)?,
            b"used" => put_size(w, used)?,
            b"cap" => put_size(w, cap)?,
            b"parts" => {
                for (i, (name, bytes)) in memory.parts().into_iter().enumerate() {
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
            b"rows" => return Ok(()),
            _ => {}
        }
        rest = after;
    }
    w.put(rest)
}

/// One table row: the label (or the hash's first 8 digits, `class="u"`),
/// the full hash as the cell's title, then seeders, leechers, downloads.
pub fn put_row(
    w: &mut Writer<'_>,
    hash: &[u8; 20],
    label: Option<&[u8]>,
    c: Counts,
) -> Result<(), Overflow> {
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
    w.put(b"</td></tr>\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: impl FnOnce(&mut Writer<'_>) -> Result<(), Overflow>) -> String {
        let mut buf = [0u8; 256];
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
            text(|w| put_row(w, &[0xab; 20], Some(b"<b>\"x\""), c)),
            format!(
                "<tr><td title=\"{}\">&lt;b&gt;&quot;x&quot;</td><td>1</td><td>2</td><td>3</td></tr>\n",
                "ab".repeat(20)
            )
        );
        let row = text(|w| put_row(w, &[0x01; 20], None, c));
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
        assert!(tail().starts_with(b"</tbody></table>"));
        assert!(tail().ends_with(b"</html>\n"));
    }
}
