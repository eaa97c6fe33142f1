//! Ordered walks: stored info hashes in hash order, a sorted batch at a time,
//! for the streamed per-torrent pages and the full scrape.

use super::*;

impl Swarm {
    /// The smallest stored info hash above `after` (the smallest of all when
    /// `None`): walks the torrents in hash order without allocating. One pass
    /// over the table finds the next `ORDER_BATCH` hashes; the batch serves
    /// every walk that reaches its range until a torrent is added. A hash may
    /// be of a torrent removed since (look it up).
    pub fn next_hash_after(&mut self, after: Option<InfoHash>) -> Option<InfoHash> {
        let o = &self.order;
        let covers = o.valid
            && o.generation == self.added
            && o.from <= after
            && (o.len < ORDER_BATCH || Some(self.order_hash(o.len - 1)) > after);
        if !covers {
            self.fill_order(after);
        }
        // First batch entry above `after` (the batch is sorted).
        let (mut lo, mut hi) = (0, self.order.len);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if Some(self.order_hash(mid)) <= after {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        (lo < self.order.len).then(|| self.order_hash(lo))
    }

    pub(super) fn order_hash(&self, i: usize) -> InfoHash {
        let mut h = [0u8; 20];
        for (k, c) in h.chunks_exact_mut(4).enumerate() {
            c.copy_from_slice(&self.order.words[i * 5 + k].to_ne_bytes());
        }
        h
    }

    /// Refills the ordered batch with the smallest stored hashes above `from`:
    /// one pass over the table keeping the `ORDER_BATCH` smallest in a bounded
    /// max-heap, most hashes decided on their first 8 bytes.
    pub(super) fn fill_order(&mut self, from: Option<InfoHash>) {
        fn prefix(h: &InfoHash) -> u64 {
            u64::from_be_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]])
        }
        let mut heap: heapless::BinaryHeap<InfoHash, heapless::binary_heap::Max, ORDER_BATCH> =
            heapless::BinaryHeap::new();
        let after = from.map(|a| (prefix(&a), a));
        // Prefix of the largest hash kept once the heap is full.
        let mut top = u64::MAX;
        for t in &self.torrents {
            let hash = t.hash;
            let p = prefix(&hash);
            if after.is_some_and(|(ap, a)| p < ap || (p == ap && hash <= a)) {
                continue;
            }
            if heap.len() < ORDER_BATCH {
                let _ = heap.push(hash);
            } else if p <= top && heap.peek().is_some_and(|largest| hash < *largest) {
                heap.pop();
                let _ = heap.push(hash);
            } else {
                continue;
            }
            if heap.len() == ORDER_BATCH {
                top = heap.peek().map_or(u64::MAX, prefix);
            }
        }
        let mut sorted = heap.into_vec();
        sorted.sort_unstable();
        for (i, h) in sorted.iter().enumerate() {
            for (k, c) in h.chunks_exact(4).enumerate() {
                self.order.words[i * 5 + k] = u32::from_ne_bytes([c[0], c[1], c[2], c[3]]);
            }
        }
        self.order.len = sorted.len();
        self.order.from = from;
        self.order.generation = self.added;
        self.order.valid = true;
    }
}
