//! Completed downloads per day (UTC), for the last [`DAYS`] days: in total
//! and per release, in a fixed amount of memory (a part of
//! `tracker.max_memory` sized at start-up), kept in the state file.
//!
//! # Days and clocks
//!
//! A download is counted on the UTC day of the wall clock when it is
//! counted. All series share one ring of [`DAYS`] buckets whose newest
//! bucket is day `newest`. The wall clock of a router may be wrong for a
//! while (no RTC: it boots in 1970, or at the date of a file in /etc, and
//! NTP sets it later), or be set back. So:
//!
//! - The ring never goes back: a count whose day is before `newest` (the
//!   clock was set back, or the state file was written by a clock ahead)
//!   goes on day `newest`. Earlier days are never rewritten, so a count
//!   never moves to another day once counted.
//! - A day after `newest` by less than [`DAYS`] days advances the ring:
//!   the days in between are zero, nothing counted is lost or moved.
//! - A day after `newest` by [`DAYS`] or more would empty the ring. That
//!   is right when that much time has passed (the tracker was stopped for
//!   months), and wrong when the wall clock jumped (a router that counted
//!   downloads in "1970" and then synced NTP). The two are told apart with
//!   the monotonic clock: the offset between the wall and monotonic clocks
//!   is noted at the first count of the process; if it has changed by more
//!   than a day since, the wall clock jumped, and the ring is relabelled
//!   instead of emptied: its newest day becomes today less the whole days
//!   the monotonic clock saw pass since the last count, so the counts stay
//!   in the window, next to the days they really happened on. Only a
//!   jump of [`DAYS`] days or more is corrected this way; a smaller one
//!   leaves the counts already made on the days the clock then showed.
//!
//! # Memory
//!
//! The total series and the ring's bookkeeping are fixed ([`FIXED_BYTES`]);
//! each release counted has a row of [`ROW_BYTES`] (its key, the downloads
//! it saw twice — a hybrid client completing on both hashes — and its
//! days). Rows are allocated at start-up; once they are all in use, a row
//! with nothing left to say (no download in the window, none seen twice: a
//! release long gone) is given to the new release, and when there is none,
//! the new release's downloads are counted in the total only, and counted as
//! left out. Such idle rows are not written to the state file either.

use crate::info_hash::InfoHash;
use crate::wire::escape::put_hex_lower;
use crate::wire::{parse_hex20, Writer};

/// Days kept.
pub const DAYS: usize = 90;
/// Days a release's chart on the status page shows.
pub const RELEASE_DAYS: usize = 30;
const DAY_SECS: u64 = 86_400;

/// One release's series.
#[derive(Debug, Clone, Copy)]
struct Row {
    key: InfoHash,
    /// Downloads the release saw twice (a peer completing on both hashes).
    duplicates: u32,
    days: [u32; DAYS],
}

/// Bytes one release's row takes.
pub const ROW_BYTES: usize = std::mem::size_of::<Row>();
/// Bytes the history takes besides its rows.
pub const FIXED_BYTES: usize = std::mem::size_of::<History>();

/// The per-day series (see the module comment).
#[derive(Debug, Clone)]
pub struct History {
    /// The day of the newest bucket (days since 1970-01-01 UTC), `None`
    /// until something is counted.
    newest: Option<u32>,
    /// Day `d` is in bucket `(d + origin) % DAYS`.
    origin: u32,
    total: [u32; DAYS],
    rows: Vec<Row>,
    capacity: usize,
    left_out: u64,
    /// Wall-clock minus monotonic seconds at the first count of the process.
    offset: Option<i64>,
    /// Monotonic seconds at the last count.
    last_mono: u32,
}

/// A UTC date, `2026-12-08`, for day `day` since 1970-01-01.
pub fn date(day: u32) -> [u8; 10] {
    // Howard Hinnant's civil_from_days, for days >= 0.
    let z = i64::from(day) + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let mut out = *b"0000-00-00";
    let mut put = |at: usize, n: i64, width: usize| {
        let mut n = n.clamp(0, 9999);
        for i in (0..width).rev() {
            out[at + i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, y, 4);
    put(5, m, 2);
    put(8, d, 2);
    out
}

/// The wall clock as seconds since 1970 (0 before it).
pub fn wall_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Default for History {
    fn default() -> Self {
        History {
            newest: None,
            origin: 0,
            total: [0; DAYS],
            rows: Vec::new(),
            capacity: 0,
            left_out: 0,
            offset: None,
            last_mono: 0,
        }
    }
}

impl History {
    /// A history of at most `bytes` (the total series always; rows for as
    /// many releases as the rest holds), allocated now.
    pub fn new(bytes: usize) -> Result<History, String> {
        let capacity = bytes.saturating_sub(FIXED_BYTES) / ROW_BYTES;
        let mut h = History {
            capacity,
            ..History::default()
        };
        h.rows
            .try_reserve_exact(capacity)
            .map_err(|e| format!("download history: {e}"))?;
        Ok(h)
    }

    /// Bytes taken: the fixed part and every row allocated.
    pub fn budget(&self) -> usize {
        FIXED_BYTES + self.capacity * ROW_BYTES
    }

    /// Bytes in use.
    pub fn used(&self) -> usize {
        FIXED_BYTES + self.rows.len() * ROW_BYTES
    }

    /// Releases with a row.
    pub fn releases(&self) -> usize {
        self.rows.len()
    }

    /// Releases that could have a row.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Downloads counted in the total only, for lack of a row.
    pub fn left_out(&self) -> u64 {
        self.left_out
    }

    /// The newest day counted, if any.
    pub fn newest(&self) -> Option<u32> {
        self.newest
    }

    fn bucket(&self, day: u32) -> usize {
        ((day as usize % DAYS) + self.origin as usize) % DAYS
    }

    /// Moves the ring so that `day` is its newest, emptying the days in
    /// between (all of them when `day` is [`DAYS`] or more ahead).
    fn advance_to(&mut self, day: u32) {
        let Some(newest) = self.newest else {
            self.newest = Some(day);
            return;
        };
        if day <= newest {
            return;
        }
        let gap = ((day - newest) as usize).min(DAYS) as u32;
        for d in day - gap + 1..=day {
            let b = self.bucket(d);
            self.total[b] = 0;
            for r in &mut self.rows {
                r.days[b] = 0;
            }
        }
        self.newest = Some(day);
    }

    /// The day a count at wall-clock `wall` (seconds since 1970) and
    /// monotonic `mono` seconds goes on; moves the ring (module comment).
    fn day_for(&mut self, wall: u64, mono: u32) -> u32 {
        let day = u32::try_from(wall / DAY_SECS).unwrap_or(u32::MAX);
        let offset = i64::try_from(wall).unwrap_or(i64::MAX) - i64::from(mono);
        let first = *self.offset.get_or_insert(offset);
        let elapsed_days = mono.saturating_sub(self.last_mono) / DAY_SECS as u32;
        self.last_mono = mono;
        let Some(newest) = self.newest else {
            self.newest = Some(day);
            return day;
        };
        if day <= newest {
            return newest;
        }
        if (day - newest) as usize >= DAYS && offset.abs_diff(first) > DAY_SECS {
            // The wall clock jumped: relabel, keeping every count.
            let relabelled = day.saturating_sub(elapsed_days).max(newest);
            let shift = relabelled - newest;
            // Day `newest` must stay in its bucket under its new number.
            let old = self.bucket(newest);
            self.newest = Some(relabelled);
            self.origin = ((old + DAYS - relabelled as usize % DAYS) % DAYS) as u32;
            debug_assert!(shift == 0 || self.bucket(relabelled) == old);
            self.offset = Some(offset);
        }
        self.advance_to(day);
        day
    }

    fn row(&mut self, key: &InfoHash) -> Option<&mut Row> {
        let mut search = self.rows.binary_search_by(|r| r.key.cmp(key));
        if let (Err(i), true) = (search, self.rows.len() >= self.capacity) {
            // Full: a row with nothing left to say (no day in the window, no
            // download seen twice: a release long gone) makes room.
            let idle = self
                .rows
                .iter()
                .position(|r| r.duplicates == 0 && r.days.iter().all(|&n| n == 0));
            if let Some(j) = idle {
                self.rows.remove(j);
                search = Err(if j < i { i - 1 } else { i });
            }
        }
        let at = match search {
            Ok(i) => i,
            Err(i) if self.rows.len() < self.capacity => {
                self.rows.insert(
                    i,
                    Row {
                        key: *key,
                        duplicates: 0,
                        days: [0; DAYS],
                    },
                );
                i
            }
            Err(_) => return None,
        };
        Some(&mut self.rows[at])
    }

    /// Counts one completed download at wall-clock `wall` and monotonic
    /// `mono`: in the total, and for release `key` when given.
    pub fn count(&mut self, key: Option<&InfoHash>, wall: u64, mono: u32) {
        let day = self.day_for(wall, mono);
        let b = self.bucket(day);
        self.total[b] = self.total[b].saturating_add(1);
        if let Some(key) = key {
            match self.row(key) {
                Some(r) => r.days[b] = r.days[b].saturating_add(1),
                None => self.left_out += 1,
            }
        }
    }

    /// Notes a download of release `key` that was counted already (its
    /// peer completed on the release's other hash too).
    pub fn count_duplicate(&mut self, key: &InfoHash) {
        if let Some(r) = self.row(key) {
            r.duplicates = r.duplicates.saturating_add(1);
        }
    }

    /// Downloads of release `key` seen twice.
    pub fn duplicates(&self, key: &InfoHash) -> u32 {
        self.find(key).map_or(0, |r| r.duplicates)
    }

    /// Downloads seen twice, over every release (to take off totals that
    /// add up per-hash counts).
    pub fn duplicates_total(&self) -> u64 {
        self.rows.iter().map(|r| u64::from(r.duplicates)).sum()
    }

    fn find(&self, key: &InfoHash) -> Option<&Row> {
        let i = self.rows.binary_search_by(|r| r.key.cmp(key)).ok()?;
        Some(&self.rows[i])
    }

    /// The last day a chart shows at wall-clock `wall`: today, unless the
    /// ring is ahead of the clock or today is too far ahead of the ring to
    /// be trusted yet (the next count decides).
    pub fn today(&self, wall: u64) -> u32 {
        let day = u32::try_from(wall / DAY_SECS).unwrap_or(u32::MAX);
        match self.newest {
            None => day,
            Some(n) if day >= n && ((day - n) as usize) < DAYS => day,
            Some(n) => n,
        }
    }

    /// Downloads on `day`: of release `key`, or in total when `None`.
    pub fn on(&self, key: Option<&InfoHash>, day: u32) -> u32 {
        let Some(newest) = self.newest else {
            return 0;
        };
        if day > newest || (newest - day) as usize >= DAYS {
            return 0;
        }
        let b = self.bucket(day);
        match key {
            None => self.total[b],
            Some(k) => self.find(k).map_or(0, |r| r.days[b]),
        }
    }

    /// The `n` days up to `last`, oldest first, as (day, downloads).
    pub fn series(
        &self,
        key: Option<&InfoHash>,
        last: u32,
        n: usize,
    ) -> impl Iterator<Item = (u32, u32)> + '_ {
        let key = key.copied();
        let n = n.min(last as usize + 1) as u32;
        (last + 1 - n..=last).map(move |d| (d, self.on(key.as_ref(), d)))
    }

    // ---- state file -----------------------------------------------------

    /// Writes the history section of the state file: lines that an older
    /// parser never reads, since they come after its end marker.
    pub fn save(&self, f: &mut impl std::io::Write) -> std::io::Result<()> {
        let Some(newest) = self.newest else {
            return f.write_all(b"# history end 0\n");
        };
        let mut buf = [0u8; 2400];
        let mut put_days =
            |f: &mut dyn std::io::Write, head: &[u8], key: Option<&Row>| -> std::io::Result<()> {
                let mut w = Writer::new(&mut buf);
                let _ = w.put(head);
                if let Some(r) = key {
                    let _ = put_hex_lower(&mut w, &r.key)
                        .and_then(|()| w.put(b" "))
                        .and_then(|()| w.put_dec(r.duplicates.into()));
                }
                for (day, n) in self.series(key.map(|r| &r.key), newest, DAYS) {
                    if n > 0 {
                        let _ = w
                            .put(b" ")
                            .and_then(|()| w.put_dec(day.into()))
                            .and_then(|()| w.put(b":"))
                            .and_then(|()| w.put_dec(n.into()));
                    }
                }
                let _ = w.put(b"\n");
                f.write_all(w.written())
            };
        let mut head = [0u8; 40];
        let mut w = Writer::new(&mut head);
        let _ = w
            .put(b"# history newest ")
            .and_then(|()| w.put_dec(newest.into()))
            .and_then(|()| w.put(b"\n"));
        f.write_all(w.written())?;
        put_days(f, b"# history total", None)?;
        // Rows with nothing left to say are not kept.
        let kept = || {
            self.rows
                .iter()
                .filter(|r| r.duplicates > 0 || r.days.iter().any(|&n| n > 0))
        };
        for r in kept() {
            put_days(f, b"# history release ", Some(r))?;
        }
        let mut end = [0u8; 40];
        let mut w = Writer::new(&mut end);
        let _ = w
            .put(b"# history end ")
            .and_then(|()| w.put_dec(kept().count() as u64))
            .and_then(|()| w.put(b"\n"));
        f.write_all(w.written())
    }

    /// Loads the history section of a state file's text into this (empty)
    /// history: `Ok(releases)`, `Ok(0)` for a file without one (written
    /// before there was a history), `Err` for a cut or corrupt section,
    /// which is then left out whole.
    pub fn restore(&mut self, text: &str) -> Result<usize, String> {
        let mut lines = text
            .lines()
            .enumerate()
            .skip_while(|(_, l)| !l.starts_with("# history "));
        let Some((_, first)) = lines.next() else {
            return Ok(0);
        };
        let mut fresh = History {
            capacity: self.capacity,
            rows: Vec::new(),
            ..History::default()
        };
        std::mem::swap(&mut fresh.rows, &mut self.rows);
        fresh.rows.clear();
        let result = fresh.read(first, &mut lines);
        match result {
            Ok(n) => {
                *self = fresh;
                Ok(n)
            }
            Err(e) => {
                std::mem::swap(&mut fresh.rows, &mut self.rows);
                self.rows.clear();
                Err(e)
            }
        }
    }

    fn read<'a>(
        &mut self,
        first: &str,
        lines: &mut impl Iterator<Item = (usize, &'a str)>,
    ) -> Result<usize, String> {
        if first == "# history end 0" {
            return Ok(0);
        }
        let newest: u32 = first
            .strip_prefix("# history newest ")
            .and_then(|n| n.parse().ok())
            .ok_or("history: expected '# history newest DAY'")?;
        self.newest = Some(newest);
        let mut releases = 0;
        for (i, line) in lines {
            let bad = || format!("line {}: bad history line", i + 1);
            let mut words = line.split(' ');
            if words.next() != Some("#") || words.next() != Some("history") {
                return Err(bad());
            }
            let key = match words.next() {
                Some("total") => None,
                Some("release") => {
                    let key = words
                        .next()
                        .and_then(|h| parse_hex20(h.as_bytes()))
                        .ok_or_else(bad)?;
                    let dup: u32 = words.next().and_then(|n| n.parse().ok()).ok_or_else(bad)?;
                    releases += 1;
                    match self.row(&key) {
                        Some(r) => r.duplicates = dup,
                        None => continue,
                    }
                    Some(key)
                }
                Some("end") => {
                    let n: usize = words.next().and_then(|n| n.parse().ok()).ok_or_else(bad)?;
                    return if n == releases {
                        Ok(releases)
                    } else {
                        Err(format!("line {}: history end does not match", i + 1))
                    };
                }
                _ => return Err(bad()),
            };
            for word in words {
                let (day, n) = word
                    .split_once(':')
                    .and_then(|(d, n)| Some((d.parse::<u32>().ok()?, n.parse::<u32>().ok()?)))
                    .ok_or_else(bad)?;
                if day > newest || (newest - day) as usize >= DAYS {
                    continue;
                }
                let b = self.bucket(day);
                match key {
                    None => self.total[b] = n,
                    Some(k) => {
                        if let Some(r) = self.row(&k) {
                            r.days[b] = n;
                        }
                    }
                }
            }
        }
        Err("history: truncated, no end line".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = DAY_SECS;
    /// 2026-12-08 00:00 UTC.
    const T0: u64 = 20_795 * DAY;

    fn days(h: &History, key: Option<&InfoHash>, last: u32, n: usize) -> Vec<u32> {
        h.series(key, last, n).map(|(_, c)| c).collect()
    }

    #[test]
    fn dates_are_utc_calendar_days() {
        assert_eq!(&date(0), b"1970-01-01");
        assert_eq!(&date(20_795), b"2026-12-08");
        assert_eq!(&date(11_016), b"2000-02-29");
        assert_eq!(&date(19_782), b"2024-02-29");
    }

    #[test]
    fn days_roll_over_and_only_ninety_are_kept() {
        let mut h = History::new(FIXED_BYTES + 2 * ROW_BYTES).unwrap();
        let (a, b) = ([1; 20], [2; 20]);
        h.count(Some(&a), T0 + 10, 10);
        h.count(Some(&a), T0 + DAY - 1, DAY as u32 - 1);
        h.count(Some(&b), T0 + DAY, DAY as u32);
        h.count(None, T0 + 3 * DAY + 5, 3 * DAY as u32 + 5);
        let today = h.today(T0 + 3 * DAY + 6);
        assert_eq!(today, 20_798);
        assert_eq!(days(&h, None, today, 5), [0, 2, 1, 0, 1]);
        assert_eq!(days(&h, Some(&a), today, 4), [2, 0, 0, 0]);
        assert_eq!(days(&h, Some(&b), today, 4), [0, 1, 0, 0]);
        assert_eq!(h.series(None, today, 3).next(), Some((20_796, 1)));
        // 89 days after the first: the first is still in, one more and it
        // is out.
        h.count(None, T0 + 89 * DAY, 89 * DAY as u32);
        assert_eq!(h.on(Some(&a), 20_795), 2);
        assert_eq!(days(&h, None, 20_795 + 89, DAYS).iter().sum::<u32>(), 5);
        // A third release has no row (both are in use): the total still
        // counts it.
        let c = [3; 20];
        h.count(Some(&c), T0 + 89 * DAY, 89 * DAY as u32);
        assert_eq!((h.releases(), h.left_out()), (2, 1));
        assert_eq!(h.on(None, 20_795 + 89), 2);
        h.count(None, T0 + 90 * DAY, 90 * DAY as u32);
        assert_eq!(h.on(Some(&a), 20_795), 0, "day 1 left the window");
        assert_eq!(h.on(Some(&b), 20_796), 1);
        assert_eq!(days(&h, None, 20_795 + 90, DAYS).iter().sum::<u32>(), 5);
        // Now `a` has nothing left to say: its row goes to the third.
        h.count(Some(&c), T0 + 90 * DAY, 90 * DAY as u32);
        assert_eq!((h.releases(), h.left_out()), (2, 1));
        assert_eq!(h.on(Some(&c), 20_795 + 90), 1);
        assert_eq!(h.on(Some(&b), 20_796), 1, "b's row untouched");
        // A row kept for downloads seen twice is not reused, nor are rows
        // with nothing to say saved.
        h.count(None, T0 + 91 * DAY, 91 * DAY as u32);
        h.count_duplicate(&c);
        h.count(Some(&a), T0 + 91 * DAY, 91 * DAY as u32);
        assert_eq!(h.on(Some(&a), 20_795 + 91), 1, "took b's idle row");
        let mut out = Vec::new();
        h.save(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with("# history end 2\n"), "{text}");
        h.count(Some(&b), T0 + 181 * DAY, 181 * DAY as u32);
        assert_eq!(h.duplicates(&c), 1, "c kept: it saw a download twice");
        assert_eq!(h.on(Some(&b), 20_795 + 181), 1);
        assert_eq!(h.left_out(), 1);
        let mut out = Vec::new();
        h.save(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.ends_with("# history end 2\n"),
            "a idle, its row now b's: {text}"
        );
        assert!(!text.contains(&"01".repeat(20)), "{text}");
    }

    #[test]
    fn memory_stays_inside_its_part() {
        let bytes = 64 << 10;
        let mut h = History::new(bytes).unwrap();
        assert!(h.budget() <= bytes);
        assert_eq!(h.capacity(), (bytes - FIXED_BYTES) / ROW_BYTES);
        assert_eq!(ROW_BYTES, 20 + 4 + 4 * DAYS);
        let cap = h.rows.capacity();
        for i in 0..10_000u32 {
            let mut key = [0u8; 20];
            key[..4].copy_from_slice(&i.to_be_bytes());
            h.count(Some(&key), T0 + u64::from(i) * 600, i * 600);
        }
        assert_eq!(h.releases(), h.capacity());
        assert_eq!(h.rows.capacity(), cap, "never reallocated");
        assert!(h.used() <= h.budget());
        assert_eq!(h.left_out(), 10_000 - h.capacity() as u64);
        let none = History::new(0).unwrap();
        assert_eq!(none.capacity(), 0);
        assert_eq!(none.budget(), FIXED_BYTES);
    }

    #[test]
    fn a_clock_set_back_never_rewrites_earlier_days() {
        let mut h = History::new(FIXED_BYTES + ROW_BYTES).unwrap();
        let a = [1; 20];
        h.count(Some(&a), T0 + 5 * DAY, 100);
        // Set back three days (and to 1970): counted on the newest day.
        h.count(Some(&a), T0 + 2 * DAY, 200);
        h.count(Some(&a), 1000, 300);
        assert_eq!(h.newest(), Some(20_800));
        assert_eq!(days(&h, Some(&a), 20_800, 6), [0, 0, 0, 0, 0, 3]);
        assert_eq!(h.today(T0), 20_800);
        // The clock catches up: counting goes on day by day.
        h.count(Some(&a), T0 + 6 * DAY, 400);
        assert_eq!(days(&h, Some(&a), 20_801, 2), [3, 1]);
    }

    #[test]
    fn a_clock_jumping_forward_keeps_every_count() {
        // A router without RTC boots in 1970 and counts 3 downloads over
        // two (monotonic) days, then NTP sets the clock to 2026.
        let mut h = History::new(FIXED_BYTES + ROW_BYTES).unwrap();
        let a = [1; 20];
        h.count(Some(&a), 100, 100);
        h.count(Some(&a), DAY + 100, DAY as u32 + 100);
        h.count(None, DAY + 200, DAY as u32 + 200);
        let mono = DAY as u32 + 300;
        h.count(Some(&a), T0 + 300, mono);
        // Relabelled, not emptied: the 1970 days are the two before today.
        assert_eq!(h.newest(), Some(20_795));
        assert_eq!(days(&h, None, 20_795, 3), [0, 1, 3]);
        assert_eq!(days(&h, Some(&a), 20_795, 3), [0, 1, 2]);
        // Then the days go on normally.
        h.count(None, T0 + DAY, mono + DAY as u32);
        assert_eq!(days(&h, None, 20_796, 4), [0, 1, 3, 1]);
        // A jump forward of less than the window leaves the days as counted.
        h.count(None, T0 + 30 * DAY, mono + 2 * DAY as u32);
        let last = days(&h, None, 20_825, 33);
        assert_eq!(last[..4], [0, 1, 3, 1]);
        assert_eq!(last[4..].iter().sum::<u32>(), 1);
        assert_eq!(last[32], 1);
    }

    #[test]
    fn months_stopped_with_a_right_clock_empty_the_window() {
        let mut h = History::new(FIXED_BYTES + ROW_BYTES).unwrap();
        h.restore("# history newest 20000\n# history total 19990:4 20000:7\n# history end 0\n")
            .unwrap();
        assert_eq!(h.on(None, 20_000), 7);
        // Started again 200 days later, the clock right from the start.
        h.count(None, (20_200) * DAY + 50, 50);
        assert_eq!(h.newest(), Some(20_200));
        assert_eq!(days(&h, None, 20_200, DAYS).iter().sum::<u32>(), 1);
    }

    #[test]
    fn state_round_trip_and_cut_sections() {
        let mut h = History::new(FIXED_BYTES + 4 * ROW_BYTES).unwrap();
        let (a, b) = ([0xab; 20], [0x01; 20]);
        for d in 0..100u64 {
            h.count(
                Some(if d % 2 == 0 { &a } else { &b }),
                T0 + d * DAY,
                (d * DAY) as u32,
            );
        }
        h.count(None, T0 + 99 * DAY + 1, 99 * DAY as u32 + 1);
        h.count_duplicate(&a);
        h.count_duplicate(&a);
        let mut out = Vec::new();
        h.save(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("# history newest 20894\n# history total "),
            "{text}"
        );
        assert!(text.ends_with("# history end 2\n"));
        let mut back = History::new(FIXED_BYTES + 4 * ROW_BYTES).unwrap();
        // As the state file carries it: after the counts' end marker.
        let file = format!("# smoltracker state v1\n# tracker_id 1\n# end 0\n{text}");
        assert_eq!(back.restore(&file), Ok(2));
        let last = h.newest().unwrap();
        for key in [None, Some(&a), Some(&b), Some(&[9; 20])] {
            assert_eq!(days(&back, key, last, DAYS), days(&h, key, last, DAYS));
        }
        assert_eq!(days(&back, None, last, 1), [2]);
        assert_eq!(back.duplicates(&a), 2);
        assert_eq!(back.duplicates(&b), 0);
        assert_eq!(back.duplicates_total(), 2);
        // An old state file has no history: nothing, and no error.
        let mut old = History::new(FIXED_BYTES + ROW_BYTES).unwrap();
        assert_eq!(old.restore("# smoltracker state v1\n# end 0\n"), Ok(0));
        assert_eq!(old.newest(), None);
        // A cut or corrupt section is left out whole.
        let cut = &file[..file.len() - 18];
        let mut c = History::new(FIXED_BYTES + 4 * ROW_BYTES).unwrap();
        assert!(c.restore(cut).is_err());
        assert_eq!((c.newest(), c.releases()), (None, 0));
        assert!(c.restore(&file.replace("end 2", "end 3")).is_err());
        assert!(c.restore(&file.replace(":1", ":x")).is_err());
        assert_eq!(c.restore(&file), Ok(2));
        // Fewer rows than the file has: the total is whole, rows as fit.
        let mut small = History::new(FIXED_BYTES + ROW_BYTES).unwrap();
        assert_eq!(small.restore(&file), Ok(2));
        assert_eq!(small.releases(), 1);
        assert_eq!(days(&small, None, last, DAYS), days(&h, None, last, DAYS));
        // The old parser still reads the counts of a file with a history.
        assert_eq!(crate::state::parse(&file), Ok(vec![]));
        // An empty history saves as one line and loads back.
        let mut out = Vec::new();
        History::default().save(&mut out).unwrap();
        assert_eq!(out, b"# history end 0\n");
        assert_eq!(
            History::default().restore("# end 0\n# history end 0\n"),
            Ok(0)
        );
    }
}
