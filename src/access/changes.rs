//! Dynamic changesets of the access list: what `access.fifo_add` and
//! `access.fifo_delete` changed since the list file was last read
//! (opentracker's WANT_DYNAMIC_ACCESSLIST). A hash written to the add FIFO
//! counts as listed, one written to the delete FIFO as not listed, whatever
//! the file says; every reload of the file flushes the changes (the file is
//! the truth again).
//!
//! Stored as the difference from the file: a hash is kept only while its
//! state differs from the file's, in one sorted array whose capacity is
//! fixed when the tracker starts (a share of `tracker.max_memory`), so the
//! changesets never grow past their budget.

use crate::info_hash::InfoHash;

/// Which FIFO a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// `access.fifo_add`: listed from now on.
    Add,
    /// `access.fifo_delete`: not listed from now on.
    Delete,
}

/// What a change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The hash's state changed.
    Changed,
    /// It was already in that state.
    Unchanged,
    /// The changesets are full: the change was not made.
    Full,
}

/// Bytes one changed hash takes.
pub const ENTRY_BYTES: usize = std::mem::size_of::<(InfoHash, bool)>();

/// The changes since the last reload, differences from the list file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Sorted by hash; `true` = listed (added), `false` = not listed (deleted).
    entries: Vec<(InfoHash, bool)>,
    capacity: usize,
}

impl Changes {
    /// Room for `capacity` changed hashes, allocated now and never more.
    pub fn with_capacity(capacity: usize) -> Changes {
        Changes {
            entries: Vec::with_capacity(capacity),
            capacity,
        }
    }

    /// How many changed hashes fit.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Changed hashes held: (added, deleted).
    pub fn counts(&self) -> (usize, usize) {
        let added = self.entries.iter().filter(|e| e.1).count();
        (added, self.entries.len() - added)
    }

    /// Whether `hash` is listed now, given whether the file lists it.
    pub fn listed(&self, hash: &InfoHash, in_file: bool) -> bool {
        match self.entries.binary_search_by(|e| e.0.cmp(hash)) {
            Ok(i) => self.entries[i].1,
            Err(_) => in_file,
        }
    }

    /// Applies one line of a FIFO, given whether the file lists `hash`.
    pub fn apply(&mut self, hash: InfoHash, change: Change, in_file: bool) -> Applied {
        let want = change == Change::Add;
        match self.entries.binary_search_by(|e| e.0.cmp(&hash)) {
            // Its state differed from the file's; it now differs or not.
            Ok(i) if self.entries[i].1 == want => Applied::Unchanged,
            Ok(i) => {
                self.entries.remove(i);
                Applied::Changed
            }
            Err(_) if in_file == want => Applied::Unchanged,
            Err(_) if self.entries.len() >= self.capacity => Applied::Full,
            Err(i) => {
                self.entries.insert(i, (hash, want));
                Applied::Changed
            }
        }
    }

    /// Forgets every change (the list file was read again).
    pub fn flush(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_and_delete_override_the_file_until_flushed() {
        let mut c = Changes::with_capacity(4);
        let (a, b) = ([1; 20], [2; 20]);
        assert!(!c.listed(&a, false));
        assert_eq!(c.apply(a, Change::Add, false), Applied::Changed);
        assert!(c.listed(&a, false));
        assert_eq!(c.apply(a, Change::Add, false), Applied::Unchanged);
        assert_eq!(c.apply(b, Change::Delete, true), Applied::Changed);
        assert!(!c.listed(&b, true));
        assert_eq!(c.counts(), (1, 1));
        // Deleting an added hash makes it follow the file again.
        assert_eq!(c.apply(a, Change::Delete, false), Applied::Changed);
        assert!(!c.listed(&a, false));
        assert_eq!(c.counts(), (0, 1));
        // A change to what the file already says stores nothing.
        assert_eq!(c.apply([3; 20], Change::Add, true), Applied::Unchanged);
        assert_eq!(c.counts(), (0, 1));
        c.flush();
        assert!(c.listed(&b, true));
        assert_eq!(c.counts(), (0, 0));
    }

    #[test]
    fn capacity_is_never_exceeded() {
        let mut c = Changes::with_capacity(2);
        assert_eq!(c.apply([1; 20], Change::Add, false), Applied::Changed);
        assert_eq!(c.apply([2; 20], Change::Add, false), Applied::Changed);
        assert_eq!(c.apply([3; 20], Change::Add, false), Applied::Full);
        assert!(!c.listed(&[3; 20], false));
        // Undoing a change needs no room.
        assert_eq!(c.apply([1; 20], Change::Delete, false), Applied::Changed);
        assert_eq!(c.apply([3; 20], Change::Add, false), Applied::Changed);
        assert_eq!(c.entries.capacity(), 2, "no reallocation");
        assert_eq!(
            Changes::default().apply([1; 20], Change::Add, false),
            Applied::Full
        );
    }
}
