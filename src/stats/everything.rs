//! `mode=everything`: opentracker's XML document (`stats_return_everything`),
//! element for element, in its order, with its names and labels, so tools
//! that read it by position or by name keep working. smoltracker's own
//! counters follow in a `<smoltracker>` element of their own, after
//! opentracker's, so no position moves.

use super::{Stats, OPENTRACKER_ERROR_NAMES};
use crate::swarm::Swarm;
use crate::wire::{Overflow, Writer};

/// The document up to the renew histogram; each \x01 is the next count.
const HEAD: &str = concat!(
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<stats>\n",
    "  <tracker_id>\x01</tracker_id>\n",
    "  <version>\n",
    "smoltracker ",
    env!("CARGO_PKG_VERSION"),
    "\n",
    "  </version>\n",
    "  <uptime>\x01</uptime>\n",
    "  <torrents>\n",
    "    <count_mutex>\x01</count_mutex>\n",
    "    <count_iterator>\x01</count_iterator>\n",
    "  </torrents>\n",
    "  <peers>\n    <count>\x01</count>\n  </peers>\n",
    "  <seeds>\n    <count>\x01</count>\n  </seeds>\n",
    "  <completed>\n    <count>\x01</count>\n  </completed>\n",
    "  <connections>\n    <tcp>\n",
    "      <accept>\x01</accept>\n",
    "      <announce>\x01</announce>\n",
    "      <scrape>\x01</scrape>\n",
    "    </tcp>\n    <udp>\n",
    "      <overall>\x01</overall>\n",
    "      <connect>\x01</connect>\n",
    "      <announce>\x01</announce>\n",
    "      <scrape>\x01</scrape>\n",
    "      <missmatch>\x01</missmatch>\n",
    // No livesync here: the count stays 0.
    "    </udp>\n    <livesync>\n",
    "      <count>0</count>\n",
    "    </livesync>\n  </connections>\n  <debug>\n    <renew>\n",
);

/// After the HTTP error counts: opentracker's last element, then
/// smoltracker's counters that opentracker has no element for.
const TAIL: &str = concat!(
    // One event loop and no bucket mutexes: nothing ever stalls on one.
    "    </http_error>\n    <mutex_stall>\n",
    "      <count>0</count>\n",
    "    </mutex_stall>\n  </debug>\n",
    "  <smoltracker>\n    <refused>\n",
    "      <full>\x01</full>\n",
    "      <access>\x01</access>\n",
    "    </refused>\n",
    "    <tcp_refused>\x01</tcp_refused>\n",
    "    <full_scrapes>\x01</full_scrapes>\n",
    "    <torrents_capacity>\x01</torrents_capacity>\n",
    "    <memory_cap_bytes>\x01</memory_cap_bytes>\n",
    "  </smoltracker>\n",
    "</stats>",
);

impl Stats {
    /// Writes the whole document.
    pub(super) fn render_xml(
        &self,
        swarm: &Swarm,
        uptime: u32,
        w: &mut Writer<'_>,
    ) -> Result<(), Overflow> {
        let (seeds, leeches, _) = swarm.totals();
        let torrents = swarm.torrent_count() as u64;
        let values = [
            self.tracker_id.into(),
            uptime.into(),
            torrents,
            torrents,
            seeds + leeches,
            seeds,
            self.completed,
            self.tcp_connections,
            self.tcp_announces,
            self.tcp_scrapes,
            self.udp_requests,
            self.udp_connects,
            self.udp_announces,
            self.udp_scrapes,
            // opentracker's `missmatch`: requests whose connection id did
            // not prove their source (refused announces are not counted).
            self.udp_unproven,
        ];
        w.put_filled(HEAD.as_bytes(), &values)?;
        for (minute, n) in self.renewed.0.iter().enumerate() {
            w.put(b"      <count interval=\"")?;
            if minute < 10 {
                w.put(b"0")?;
            }
            w.put_dec(minute as u64)?;
            w.put(b"\">")?;
            w.put_dec(*n)?;
            w.put(b"</count>\n")?;
        }
        w.put(b"    </renew>\n    <http_error>\n")?;
        for (name, n) in OPENTRACKER_ERROR_NAMES
            .iter()
            .zip(self.opentracker_errors())
        {
            w.put(b"      <count code=\"")?;
            w.put(name.as_bytes())?;
            w.put(b"\">")?;
            w.put_dec(n)?;
            w.put(b"</count>\n")?;
        }
        let cap = swarm.capacity();
        let values = [
            self.refused_full,
            self.refused_access,
            self.tcp_refused,
            self.full_scrapes,
            cap.torrents as u64,
            self.memory.cap as u64,
        ];
        w.put_filled(TAIL.as_bytes(), &values)
    }
}

#[cfg(test)]
mod tests {
    use crate::stats::tests::render;
    use crate::stats::{HttpError, Page, Stats, VERSION_LINE};

    /// `mode=everything` is opentracker's document line for line
    /// (`stats_return_everything`), then smoltracker's own element.
    #[test]
    fn everything_is_opentrackers_document() {
        let mut stats = Stats {
            tracker_id: 3_141_592_653,
            completed: 4,
            tcp_connections: 10,
            tcp_announces: 6,
            tcp_scrapes: 2,
            udp_requests: 20,
            udp_connects: 5,
            udp_announces: 4,
            udp_scrapes: 1,
            udp_errors: 13,
            udp_unproven: 3,
            refused_full: 7,
            refused_access: 8,
            ..Stats::default()
        };
        stats.renewed.0[0] = 11;
        stats.renewed.0[44] = 12;
        stats.http_error(HttpError::NotFound);
        stats.http_error(HttpError::TooLarge);
        stats.http_error(HttpError::Internal);
        stats.http_error(HttpError::Forbidden);
        let mut expect = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<stats>\n  <tracker_id>3141592653</tracker_id>\n  <version>\n",
        );
        expect += VERSION_LINE;
        expect += "  </version>\n  <uptime>7200</uptime>\n  <torrents>\n    <count_mutex>2</count_mutex>\n    <count_iterator>2</count_iterator>\n  </torrents>\n";
        expect += "  <peers>\n    <count>3</count>\n  </peers>\n  <seeds>\n    <count>1</count>\n  </seeds>\n  <completed>\n    <count>4</count>\n  </completed>\n";
        expect += "  <connections>\n    <tcp>\n      <accept>10</accept>\n      <announce>6</announce>\n      <scrape>2</scrape>\n    </tcp>\n";
        expect += "    <udp>\n      <overall>20</overall>\n      <connect>5</connect>\n      <announce>4</announce>\n      <scrape>1</scrape>\n      <missmatch>3</missmatch>\n    </udp>\n";
        expect += "    <livesync>\n      <count>0</count>\n    </livesync>\n  </connections>\n  <debug>\n    <renew>\n";
        for i in 0..45 {
            let n = match i {
                0 => 11,
                44 => 12,
                _ => 0,
            };
            expect += &format!("      <count interval=\"{i:02}\">{n}</count>\n");
        }
        expect += "    </renew>\n    <http_error>\n";
        for (code, n) in [
            ("302 Redirect", 0),
            ("400 Parse Error", 0),
            ("400 Invalid Parameter", 0),
            ("400 Invalid Parameter (compact=0)", 0),
            ("400 Not Modest", 0),
            ("402 Payment Required", 0),
            ("403 Access Denied", 1),
            ("404 Not found", 1),
            ("500 Internal Server Error", 2),
        ] {
            expect += &format!("      <count code=\"{code}\">{n}</count>\n");
        }
        expect += "    </http_error>\n    <mutex_stall>\n      <count>0</count>\n    </mutex_stall>\n  </debug>\n";
        let x = render(Page::Everything, &stats);
        assert!(x.starts_with(&expect), "{x}");
        let extra = &x[expect.len()..];
        assert!(extra.starts_with("  <smoltracker>\n    <refused>\n      <full>7</full>\n      <access>8</access>\n    </refused>\n"), "{extra}");
        assert!(extra.ends_with("  </smoltracker>\n</stats>"), "{extra}");
    }
}
