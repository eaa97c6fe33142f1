//! The state file: completed-download counts that survive a restart.
//!
//! Text, one torrent per line (`HEX40 COUNT`), between a header and an end
//! marker that carries the line count, so a truncated file is recognised and
//! ignored whole rather than half-loaded; a `# tracker_id N` line keeps the
//! id `mode=everything` shows. Written to a temporary file and renamed over
//! the old one, so a crash mid-write leaves the old state.
//!
//! A file in opentracker's `mode=statedump` format (`HEX40:base:downloaded`
//! lines, what opentracker's `-l` loads) is read too, so a dump taken from a
//! running opentracker seeds the completed counts; the next write turns it
//! into this format.
//!
//! After the end marker comes the download history (`history`): lines
//! starting `# history `, with their own end line. Parsers from before it
//! stop at the counts' end marker and never read them; a file without them
//! loads with an empty history.

use crate::history::History;
use crate::info_hash::InfoHash;
use crate::swarm::Swarm;
use crate::wire::escape::put_hex_lower;
use crate::wire::{parse_hex20, Writer};
use std::io::Write;
use std::path::{Path, PathBuf};

const HEADER: &str = "# smoltracker state v1";
const TRACKER_ID: &str = "# tracker_id ";

/// Parses a state file (or an opentracker statedump); an error names the
/// line and what was wrong.
pub fn parse(text: &str) -> Result<Vec<(InfoHash, u32)>, String> {
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, HEADER)) => {}
        Some((_, first)) if statedump_line(first).is_some() => return parse_statedump(text),
        _ => {
            return Err("line 1: not a smoltracker state file nor an opentracker statedump".into())
        }
    }
    let mut out = Vec::new();
    for (i, line) in lines {
        if line.starts_with(TRACKER_ID) {
            continue;
        }
        if let Some(n) = line.strip_prefix("# end ") {
            return match n.parse::<usize>() {
                Ok(n) if n == out.len() => Ok(out),
                _ => Err(format!(
                    "line {}: end marker does not match {} entries",
                    i + 1,
                    out.len()
                )),
            };
        }
        let entry = line
            .split_once(' ')
            .and_then(|(h, n)| Some((parse_hex20(h.as_bytes())?, n.parse::<u32>().ok()?)));
        match entry {
            Some(e) => out.push(e),
            None => return Err(format!("line {}: expected 'HEX40 COUNT'", i + 1)),
        }
    }
    Err("truncated: no end marker".into())
}

/// One `HEX40:base:downloaded` line of opentracker's statedump.
fn statedump_line(line: &str) -> Option<(InfoHash, u32)> {
    let mut f = line.split(':');
    let hash = parse_hex20(f.next()?.as_bytes())?;
    let _base: u64 = f.next()?.parse().ok()?;
    let downloaded: u64 = f.next()?.parse().ok()?;
    if f.next().is_some() {
        return None;
    }
    Some((hash, u32::try_from(downloaded).unwrap_or(u32::MAX)))
}

/// An opentracker statedump: every non-empty line `HEX40:base:downloaded`.
fn parse_statedump(text: &str) -> Result<Vec<(InfoHash, u32)>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match statedump_line(line.trim_end()) {
            Some(e) => out.push(e),
            None => {
                return Err(format!(
                    "line {}: expected opentracker's statedump line 'HEX40:base:downloaded'",
                    i + 1
                ))
            }
        }
    }
    Ok(out)
}

/// The tracker id a state file keeps, if any.
pub fn tracker_id(text: &str) -> Option<u32> {
    text.lines()
        .take(2)
        .find_map(|l| l.strip_prefix(TRACKER_ID)?.parse().ok())
}

/// What loading a state file gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loaded {
    /// Completed counts restored.
    pub restored: usize,
    /// The tracker id kept in the file (none in an opentracker statedump).
    pub tracker_id: Option<u32>,
}

/// Loads the text of a state file (or an opentracker statedump) into the swarm.
pub fn restore(text: &str, swarm: &mut Swarm) -> Result<Loaded, String> {
    let entries = parse(text)?;
    let restored = entries
        .iter()
        .filter(|(hash, n)| swarm.set_downloaded(hash, *n))
        .count();
    Ok(Loaded {
        restored,
        tracker_id: tracker_id(text),
    })
}

/// A cheap summary of what would be written, to skip writes that change nothing.
pub fn fingerprint(swarm: &Swarm) -> (usize, u64) {
    let (_, _, downloaded) = swarm.totals();
    (swarm.torrent_count(), downloaded)
}

/// Writes every non-zero completed count, the tracker id and the download
/// history atomically (temp file + rename).
pub fn save(
    path: &Path,
    swarm: &Swarm,
    tracker_id: u32,
    history: &History,
) -> std::io::Result<usize> {
    let mut tmp = PathBuf::from(path);
    tmp.as_mut_os_string().push(".tmp");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    // Lines are built with the wire writers, not `write!` (no formatting
    // machinery for a BufWriter in the binary); each fits its buffer.
    let mut line = [0u8; 64];
    let mut w = Writer::new(&mut line);
    let _ = w
        .put(TRACKER_ID.as_bytes())
        .and_then(|()| w.put_dec(tracker_id.into()));
    for part in [HEADER.as_bytes(), b"\n", w.written(), b"\n"] {
        f.write_all(part)?;
    }
    let mut n = 0u64;
    for i in 0..swarm.torrent_count() {
        if let Some((hash, c)) = swarm.torrent_at(i) {
            if c.downloaded > 0 {
                let mut line = [0u8; 64];
                let mut w = Writer::new(&mut line);
                let _ = put_hex_lower(&mut w, &hash)
                    .and_then(|()| w.put(b" "))
                    .and_then(|()| w.put_dec(c.downloaded.into()))
                    .and_then(|()| w.put(b"\n"));
                f.write_all(w.written())?;
                n += 1;
            }
        }
    }
    let mut line = [0u8; 32];
    let mut w = Writer::new(&mut line);
    let _ = w
        .put(b"# end ")
        .and_then(|()| w.put_dec(n))
        .and_then(|()| w.put(b"\n"));
    f.write_all(w.written())?;
    history.save(&mut f)?;
    let file = f.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::swarm::Limits;

    fn swarm() -> Swarm {
        Swarm::new(
            Limits {
                max_memory: 1 << 20,
                max_torrents: Some(8),
                max_peers_per_torrent: 8,
                peer_timeout: 60,
            },
            1,
        )
        .unwrap()
    }

    #[test]
    fn round_trip_through_a_file() {
        let mut s = swarm();
        assert!(s.set_downloaded(&[1; 20], 7));
        assert!(s.set_downloaded(&[2; 20], 0));
        let dir = std::env::temp_dir().join(format!("smoltracker-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state");
        let mut history = History::new(1 << 12).unwrap();
        history.count(Some(&[1; 20]), 20_795 * 86_400, 5);
        assert_eq!(save(&path, &s, 4_000_000_007, &history).unwrap(), 1);
        let mut fresh = swarm();
        assert_eq!(
            restore(&std::fs::read_to_string(&path).unwrap(), &mut fresh).unwrap(),
            Loaded {
                restored: 1,
                tracker_id: Some(4_000_000_007)
            }
        );
        assert_eq!(fresh.scrape(&[1; 20]).downloaded, 7);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut back = History::new(1 << 12).unwrap();
        assert_eq!(back.restore(&text), Ok(1));
        assert_eq!(back.on(Some(&[1; 20]), 20_795), 1);
        assert_eq!(back.on(None, 20_795), 1);
        // What a parser from before the history reads: the counts, up to
        // their end marker, and nothing after it.
        let counts_only = &text[..text.find("# history").unwrap()];
        assert!(counts_only.ends_with("# end 1\n"), "{text}");
        assert_eq!(parse(&text).unwrap(), parse(counts_only).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn truncated_or_corrupt_files_are_refused_whole() {
        let good = format!("{HEADER}\n{} 3\n# end 1\n", "ab".repeat(20));
        assert_eq!(parse(&good).unwrap(), vec![([0xab; 20], 3)]);
        let cut = &good[..good.len() - 8];
        assert_eq!(parse(cut), Err("truncated: no end marker".into()));
        assert!(parse(&good.replace("# end 1", "# end 2")).is_err());
        assert!(parse(&good.replace(" 3\n", " x\n"))
            .unwrap_err()
            .starts_with("line 2"));
        assert!(parse("garbage").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn opentracker_statedump_seeds_completed_counts() {
        let dump = format!(
            "{}:29412345:17\n{}:29412345:0\n\n",
            "AB".repeat(20),
            "01".repeat(20)
        );
        assert_eq!(
            parse(&dump).unwrap(),
            vec![([0xab; 20], 17), ([0x01; 20], 0)]
        );
        assert_eq!(tracker_id(&dump), None);
        let bad = format!("{dump}{}:1\n", "cd".repeat(20));
        assert!(parse(&bad)
            .unwrap_err()
            .starts_with("line 4: expected opentracker"));
        assert!(parse(&format!("{}:x:1\n", "cd".repeat(20))).is_err());
    }
}
