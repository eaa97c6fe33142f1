//! `mode=everything`: opentracker's XML document (`stats_return_everything`),
//! element for element, in its order, with its names and labels, so tools
//! that read it by position or by name keep working. smoltracker's own
//! counters follow in a `<smoltracker>` element of their own, after
//! opentracker's, so no position moves.

use super::{Stats, OPENTRACKER_ERROR_NAMES, VERSION_LINE};
use crate::swarm::Swarm;
use crate::wire::{Overflow, Writer};

/// `<name>n</name>`.
fn tag(w: &mut Writer<'_>, name: &[u8], n: u64) -> Result<(), Overflow> {
    w.put(b"<")?;
    w.put(name)?;
    w.put(b">")?;
    w.put_dec(n)?;
    w.put(b"</")?;
    w.put(name)?;
    w.put(b">")
}

/// An indented line holding one `<name>n</name>`.
fn tag_line(w: &mut Writer<'_>, indent: usize, name: &[u8], n: u64) -> Result<(), Overflow> {
    w.put(&b"          "[..indent])?;
    tag(w, name, n)?;
    w.put(b"\n")
}

/// `<group>\n  <count>n</count>\n</group>` at two spaces, as opentracker nests single counts.
fn count_block(w: &mut Writer<'_>, group: &[u8], n: u64) -> Result<(), Overflow> {
    w.put(b"  <")?;
    w.put(group)?;
    w.put(b">\n")?;
    tag_line(w, 4, b"count", n)?;
    w.put(b"  </")?;
    w.put(group)?;
    w.put(b">\n")
}

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
        w.put(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<stats>\n")?;
        tag_line(w, 2, b"tracker_id", self.tracker_id.into())?;
        w.put(b"  <version>\n")?;
        w.put(VERSION_LINE.as_bytes())?;
        w.put(b"  </version>\n")?;
        tag_line(w, 2, b"uptime", uptime.into())?;
        w.put(b"  <torrents>\n")?;
        tag_line(w, 4, b"count_mutex", torrents)?;
        tag_line(w, 4, b"count_iterator", torrents)?;
        w.put(b"  </torrents>\n")?;
        count_block(w, b"peers", seeds + leeches)?;
        count_block(w, b"seeds", seeds)?;
        count_block(w, b"completed", self.completed)?;
        w.put(b"  <connections>\n    <tcp>\n")?;
        tag_line(w, 6, b"accept", self.tcp_connections)?;
        tag_line(w, 6, b"announce", self.tcp_announces)?;
        tag_line(w, 6, b"scrape", self.tcp_scrapes)?;
        w.put(b"    </tcp>\n    <udp>\n")?;
        tag_line(w, 6, b"overall", self.udp_requests)?;
        tag_line(w, 6, b"connect", self.udp_connects)?;
        tag_line(w, 6, b"announce", self.udp_announces)?;
        tag_line(w, 6, b"scrape", self.udp_scrapes)?;
        tag_line(w, 6, b"missmatch", self.udp_errors)?;
        // No livesync here: the count stays 0.
        w.put(b"    </udp>\n    <livesync>\n")?;
        tag_line(w, 6, b"count", 0)?;
        w.put(b"    </livesync>\n  </connections>\n  <debug>\n    <renew>\n")?;
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
        // One event loop and no bucket mutexes: nothing ever stalls on one.
        w.put(b"    </http_error>\n    <mutex_stall>\n")?;
        tag_line(w, 6, b"count", 0)?;
        w.put(b"    </mutex_stall>\n  </debug>\n")?;
        self.render_xml_extra(swarm, w)?;
        w.put(b"</stats>")
    }

    /// smoltracker's counters that opentracker has no element for.
    fn render_xml_extra(&self, swarm: &Swarm, w: &mut Writer<'_>) -> Result<(), Overflow> {
        let cap = swarm.capacity();
        w.put(b"  <smoltracker>\n    <refused>\n")?;
        tag_line(w, 6, b"full", self.refused_full)?;
        tag_line(w, 6, b"access", self.refused_access)?;
        w.put(b"    </refused>\n")?;
        tag_line(w, 4, b"tcp_refused", self.tcp_refused)?;
        tag_line(w, 4, b"full_scrapes", self.full_scrapes)?;
        tag_line(w, 4, b"torrents_capacity", cap.torrents as u64)?;
        tag_line(w, 4, b"memory_cap_bytes", cap.bytes as u64)?;
        w.put(b"  </smoltracker>\n")
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
            udp_errors: 3,
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
