//! Releases on the tracker's side (issue 29): a completed download counted
//! once per release — a hybrid client completing on both hashes of a release
//! is one download — and per UTC day in the history, which the state file
//! keeps and the stats pages draw.

use super::Tracker;
use crate::history::{wall_now, History};
use crate::swarm::Announce;

impl Tracker {
    /// Replaces the download history (sized at start-up from the memory cap).
    pub fn set_history(&mut self, history: History) {
        self.history = history;
    }

    /// The download history.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The download history, to restore it from the state file.
    pub fn history_mut(&mut self) -> &mut History {
        &mut self.history
    }

    /// Counts a completed download the swarm just counted for `a`'s hash
    /// (at monotonic `now`). Its release is that hash's, or the first hash's
    /// of its whitelist line. When the same peer (address and port) already
    /// seeds the release's other hash, it completed there before: that
    /// download was counted, and this one is noted as seen twice. Per
    /// release rows are kept for hashes the operator listed; the total
    /// counts every download.
    pub(super) fn count_release_download(&mut self, a: &Announce, now: u32) {
        let pairs = self.labels.pairs();
        let key = pairs.primary_of(&a.info_hash);
        if let Some(other) = pairs.sibling(&a.info_hash) {
            if self.swarm.peer_state(&other, a.ip, a.port) == Some(true) {
                self.history.count_duplicate(&key);
                return;
            }
        }
        let listed = a.listed || self.labels.contains(&key);
        self.history.count(listed.then_some(&key), wall_now(), now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{AccessList, Mode};
    use crate::labels::Labels;
    use crate::wire::http;

    const V1: &str = "1111111111111111111111111111111111111111";
    const V2: &str = "2222222222222222222222222222222222222222aaaaaaaaaaaaaaaaaaaaaaaa";
    const V2_ONLY: &str = "3333333333333333333333333333333333333333bbbbbbbbbbbbbbbbbbbbbbbb";

    fn tracker(whitelist: &str) -> Tracker {
        let mut t = crate::tracker::tests::tracker();
        let (list, bad) = AccessList::parse(Mode::Whitelist, whitelist.as_bytes());
        assert!(bad.is_empty(), "{bad:?}");
        t.set_access(Some(list));
        t.set_labels(Labels::new(8192).unwrap());
        t.labels_mut().rebuild(whitelist.as_bytes());
        t.set_history(History::new(1 << 16).unwrap());
        t
    }

    fn escaped(hex: &str) -> String {
        hex.as_bytes()[..40]
            .chunks(2)
            .map(|p| format!("%{}", std::str::from_utf8(p).unwrap()))
            .collect()
    }

    fn request(t: &mut Tracker, target: &str, from: &str) -> Vec<u8> {
        let raw = format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n");
        let head = http::parse_head(raw.as_bytes()).unwrap();
        let mut out = [0u8; 9000];
        let r = t.http(&head, from.parse().unwrap(), 100, &mut out);
        let mut body = out[r.range].to_vec();
        if let Some(mut s) = r.stream {
            loop {
                let n = t.stream_chunk(&mut s, &mut out);
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&out[..n]);
            }
        }
        let split = body.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        body[split..].to_vec()
    }

    fn announce(t: &mut Tracker, hex: &str, from: &str, port: u16, left: u32, event: &str) {
        let target = format!(
            "/announce?info_hash={}&port={port}&left={left}&event={event}",
            escaped(hex)
        );
        let body = request(t, &target, from);
        assert!(
            body.starts_with(b"d8:complete"),
            "{}",
            String::from_utf8_lossy(&body)
        );
    }

    fn json(t: &mut Tracker) -> serde_json::Value {
        serde_json::from_slice(&request(t, "/stats?mode=json", "127.0.0.1")).unwrap()
    }

    #[test]
    fn a_hybrid_release_is_one_row_with_distinct_peers_and_one_download_each() {
        let wl = format!("{V1} {V2} hybrid.iso\n{V2_ONLY} v2-only.iso\n");
        let mut t = tracker(&wl);
        // A v2-only announce is served; so is each half of the hybrid.
        announce(&mut t, V2_ONLY, "10.0.0.9", 7000, 0, "started");
        // The seeder and a hybrid client on both hashes, a v1-only client.
        for hash in [V1, V2] {
            announce(&mut t, hash, "10.0.0.1", 6881, 0, "started");
            announce(&mut t, hash, "10.0.0.2", 6882, 100, "started");
        }
        announce(&mut t, V1, "10.0.0.3", 51413, 100, "started");
        let j = json(&mut t);
        let rows = j["torrents"].as_array().unwrap();
        assert_eq!(rows.len(), 2, "{rows:?}");
        let hybrid = &rows[0];
        assert_eq!(hybrid["info_hash"], V1);
        assert_eq!(hybrid["info_hash2"], &V2[..40]);
        assert_eq!(hybrid["label"], "hybrid.iso");
        assert_eq!(
            (hybrid["seeders"].as_u64(), hybrid["leechers"].as_u64()),
            (Some(1), Some(2))
        );
        assert_eq!(rows[1]["info_hash"], &V2_ONLY[..40]);
        assert_eq!(rows[1]["label"], "v2-only.iso");
        // The hybrid client completes on both hashes, the v1 client on v1.
        announce(&mut t, V2, "10.0.0.2", 6882, 0, "completed");
        announce(&mut t, V1, "10.0.0.2", 6882, 0, "completed");
        announce(&mut t, V1, "10.0.0.3", 51413, 0, "completed");
        // A repeated completed event counts nothing.
        announce(&mut t, V1, "10.0.0.3", 51413, 0, "completed");
        let j = json(&mut t);
        let hybrid = &j["torrents"][0];
        assert_eq!(
            (hybrid["seeders"].as_u64(), hybrid["leechers"].as_u64()),
            (Some(3), Some(0))
        );
        assert_eq!(hybrid["completed"], 2, "{hybrid}");
        let daily = hybrid["daily"].as_array().unwrap();
        assert_eq!(daily.len(), 30);
        assert_eq!(daily[29], 2);
        // The totals count the hybrid's download once too (2 + the v2-only's 0).
        assert_eq!(j["totals"]["completed"], 2);
        let total = j["history"]["total"].as_array().unwrap();
        assert_eq!(total.len(), 90);
        assert_eq!(total[89], 2);
        assert_eq!(j["history"]["releases"], 1);
        // Per hash, scrape stays per hash.
        let s = request(
            &mut t,
            &format!("/scrape?info_hash={}", escaped(V1)),
            "127.0.0.1",
        );
        assert!(
            String::from_utf8_lossy(&s).contains("d8:completei3e10:downloadedi2e10:incompletei0e")
        );
        let s = request(
            &mut t,
            &format!("/scrape?info_hash={}", escaped(V2)),
            "127.0.0.1",
        );
        assert!(
            String::from_utf8_lossy(&s).contains("d8:completei2e10:downloadedi1e10:incompletei0e")
        );
        // The status page: one row for the release, its chart's last bar 2.
        let html = String::from_utf8(request(&mut t, "/stats?mode=html", "127.0.0.1")).unwrap();
        let row = html.lines().find(|l| l.contains(V1)).unwrap();
        assert!(
            row.contains(&format!("title=\"{V1} {}\"", &V2[..40])),
            "{row}"
        );
        assert!(row.contains("</td><td>3</td><td>0</td><td>2</td>"), "{row}");
        assert!(row.ends_with(": 2</title></rect></svg></td></tr>"), "{row}");
        assert_eq!(html.matches(&V2[..40]).count(), 1, "no row of its own");
        assert_eq!(html.matches("<svg class=\"tot\"").count(), 1);
        // Prometheus: the release's series once, with the same counts.
        let prom = String::from_utf8(request(&mut t, "/metrics", "127.0.0.1")).unwrap();
        assert!(prom.contains(&format!(
            "smoltracker_release_peers{{info_hash=\"{V1}\",label=\"hybrid.iso\",kind=\"seeder\"}} 3\n"
        )));
        assert!(prom.contains(&format!(
            "smoltracker_release_completed_total{{info_hash=\"{V1}\",label=\"hybrid.iso\"}} 2\n"
        )));
        assert!(!prom.contains(&V2[..40]));
    }

    /// A UDP announce of `hex`'s first 20 bytes from `from`:`port` with
    /// `event` (BEP 15: 1 completed, 2 started); returns the reply's action.
    fn udp_announce(
        t: &mut Tracker,
        hex: &str,
        from: &str,
        port: u16,
        left: u64,
        event: u32,
    ) -> u32 {
        let from: std::net::IpAddr = from.parse().unwrap();
        let mut out = [0u8; 1500];
        let mut req = crate::wire::udp::PROTOCOL_ID.to_be_bytes().to_vec();
        req.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 7]);
        let n = t.udp(&req, from, 100, &mut out).unwrap();
        assert_eq!(n, 16);
        let mut b = out[8..16].to_vec();
        b.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 9]);
        b.extend_from_slice(&crate::wire::parse_hex20(&hex.as_bytes()[..40]).unwrap());
        b.extend_from_slice(&[0; 20]);
        b.extend_from_slice(&0u64.to_be_bytes());
        b.extend_from_slice(&left.to_be_bytes());
        b.extend_from_slice(&0u64.to_be_bytes());
        b.extend_from_slice(&event.to_be_bytes());
        b.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        b.extend_from_slice(&port.to_be_bytes());
        let n = t.udp(&b, from, 100, &mut out).unwrap();
        assert!(n >= 8);
        u32::from_be_bytes(out[..4].try_into().unwrap())
    }

    #[test]
    fn a_hybrid_completing_over_http_and_udp_is_one_download() {
        // No name: the release is still one row, under its first hash, even
        // while only its second hash has peers.
        let mut t = tracker(&format!("{V1} {V2}\n"));
        assert_eq!(udp_announce(&mut t, V2, "10.0.0.5", 7000, 9, 2), 1);
        let j = json(&mut t);
        let rows = j["torrents"].as_array().unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0]["info_hash"], V1);
        assert_eq!(rows[0]["info_hash2"], &V2[..40]);
        assert_eq!(rows[0]["leechers"], 1);
        // Completed over UDP on v2, then over HTTP on v1: one download.
        announce(&mut t, V1, "10.0.0.5", 7000, 9, "started");
        assert_eq!(udp_announce(&mut t, V2, "10.0.0.5", 7000, 0, 1), 1);
        announce(&mut t, V1, "10.0.0.5", 7000, 0, "completed");
        let j = json(&mut t);
        let row = &j["torrents"][0];
        assert_eq!(
            (row["seeders"].as_u64(), row["leechers"].as_u64()),
            (Some(1), Some(0))
        );
        assert_eq!(row["completed"], 1);
        assert_eq!(j["history"]["total"][89], 1);
        assert_eq!(j["totals"]["completed"], 1);
        assert_eq!(
            t.history()
                .duplicates(&crate::wire::parse_hex20(V1.as_bytes()).unwrap()),
            1
        );
        // Another client, v1 only over UDP: a second download.
        assert_eq!(udp_announce(&mut t, V1, "10.0.0.6", 7000, 0, 1), 1);
        assert_eq!(json(&mut t)["torrents"][0]["completed"], 2);
    }

    #[test]
    fn a_download_outside_the_whitelist_lines_counts_in_the_total_only() {
        let mut t = tracker(&format!("{V1}\n"));
        // Open mode (no list): only the total.
        t.set_access(None);
        announce(&mut t, V2, "10.0.0.2", 1, 0, "completed");
        assert_eq!(t.history().releases(), 0);
        let j = json(&mut t);
        assert_eq!(j["history"]["total"][89], 1);
        // A listed hash without a name gets a row.
        let (list, _) = AccessList::parse(Mode::Whitelist, format!("{V1}\n").as_bytes());
        t.set_access(Some(list));
        announce(&mut t, V1, "10.0.0.2", 1, 0, "completed");
        assert_eq!(t.history().releases(), 1);
    }
}
