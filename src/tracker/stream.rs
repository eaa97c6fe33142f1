//! Bodies too large to build at once (a full scrape, the torrent lists of
//! the stats pages), written a buffer at a time in info-hash order.

use super::{allowed_by, Stream, StreamBody, Tracker};
use crate::info_hash::InfoHash;
use crate::stats::{put_torrent_record, TorrentFormat};
use crate::wire::Writer;

impl Tracker {
    /// Writes the next part of a streamed body into `out`; 0 when it is over.
    pub fn stream_chunk(&mut self, s: &mut Stream, out: &mut [u8]) -> usize {
        /// Longest record of any format (an URL-encoded line is 83 bytes).
        const RECORD_MAX: usize = 128;
        if s.done {
            return 0;
        }
        let format = match &mut s.body {
            StreamBody::Torrents(format) => *format,
            &mut StreamBody::Top { amount, seeds } => return self.top_chunk(s, amount, seeds, out),
            StreamBody::Releases(page) => {
                let (access, changes) = (&self.access, &self.changes);
                // Labels follow the list in force: hidden once a FIFO deletes the hash.
                let allowed = |hash: &InfoHash| allowed_by(access, changes, hash);
                // The history for the charts and the releases' downloads.
                let (stats, history) = (&self.stats, &self.history);
                let n = page.chunk(stats, &mut self.swarm, &self.labels, history, &allowed, out);
                s.done = n == 0;
                return n;
            }
        };
        let mut w = Writer::new(out);
        if !s.started {
            s.started = true;
            if format == TorrentFormat::Ben && w.put(b"d5:filesd").is_err() {
                return 0;
            }
        }
        while w.remaining() >= RECORD_MAX + 2 {
            let Some(hash) = self.swarm.next_hash_after(s.after) else {
                s.done = true;
                if format == TorrentFormat::Ben {
                    let _ = w.put(b"ee");
                }
                break;
            };
            s.after = Some(hash);
            // Removed since the batch was taken: nothing to say about it.
            let Some(counts) = self.swarm.get(&hash) else {
                continue;
            };
            // Each record is built whole first, so a record is never cut in two.
            let mut rec = [0u8; RECORD_MAX];
            let mut r = Writer::new(&mut rec);
            if put_torrent_record(&mut r, format, &hash, counts).is_ok() {
                let _ = w.put(r.written());
            }
        }
        self.stats.full_scrape_bytes += w.len() as u64;
        w.len()
    }
}
