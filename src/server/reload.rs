//! Access-list reload policy: a reload (SIGHUP, the mtime check,
//! `access.reload_interval`) re-reads the list file and swaps it in whole,
//! FIFO changes flushed; a bad line is reported and skipped; a file that
//! cannot be read keeps the list in force. (At start-up an unreadable list
//! stops the tracker instead: `startup`.)

use super::{info, startup, warn, Shared, SharedState};
use crate::access::{file_stamp, AccessList, BadLine, Mode};
use smol::Timer;
use std::time::Duration;

impl SharedState {
    /// Re-reads the access list and swaps it in whole. Bad lines are reported
    /// and skipped; a file that cannot be read keeps the list in force.
    pub fn reload_access(&self, why: &str) {
        let Some((mode, path)) = &self.access_file else {
            let mut tracker = self.tracker.borrow_mut();
            let (added, deleted, capacity) = tracker.changes();
            if capacity > 0 {
                // FIFO changes over no list file: a reload empties them.
                tracker.set_access(None);
                info(format_args!(
                    "{why}: no list file; FIFO changes flushed (+{added} -{deleted})"
                ));
            } else if why == "SIGHUP" {
                warn("SIGHUP: no whitelist or blacklist configured, nothing to reload");
            }
            return;
        };
        let kind = startup::kind(*mode);
        self.access_stamp.set(file_stamp(path));
        match std::fs::read(path) {
            Ok(text) => {
                let (added, deleted, capacity) = self.tracker.borrow().changes();
                let (n, bad) = self.install_access(*mode, path, &text);
                info(format_args!(
                    "{why}: {kind} {}: {n} info hashes{}{}",
                    path.display(),
                    if bad == 0 {
                        String::new()
                    } else {
                        format!(", {bad} bad lines skipped")
                    },
                    if capacity > 0 {
                        format!("; FIFO changes flushed (+{added} -{deleted})")
                    } else {
                        String::new()
                    }
                ));
            }
            Err(e) => {
                let tracker = self.tracker.borrow();
                let kept = tracker.access().map_or(0, |l| l.len());
                warn(format_args!(
                    "{why}: cannot read {kind} {}: {e}; keeping the previous list ({kept} info hashes)",
                    path.display(),
                ));
            }
        }
    }

    /// Swaps in the list `text` holds (reporting its bad lines and, for a
    /// whitelist, rebuilding the release names); returns the hashes listed
    /// and the lines skipped.
    pub(super) fn install_access(
        &self,
        mode: Mode,
        path: &std::path::Path,
        text: &[u8],
    ) -> (usize, usize) {
        let (list, bad) = AccessList::parse(mode, text);
        report_bad_lines(path, &bad);
        let n = list.len();
        let mut tracker = self.tracker.borrow_mut();
        tracker.set_access(Some(list));
        if mode == Mode::Whitelist {
            report_labels(path, tracker.labels_mut().rebuild(text));
        }
        (n, bad.len())
    }
}

/// Logs an access list's skipped lines, each quoted (at most 20 of them).
pub(super) fn report_bad_lines(path: &std::path::Path, bad: &[BadLine]) {
    for b in bad.iter().take(20) {
        warn(format_args!(
            "{}:{}: {}, skipped: \"{}\"",
            path.display(),
            b.line,
            b.reason,
            b.text
        ));
    }
    if bad.len() > 20 {
        warn(format_args!(
            "{}: {} more bad lines skipped",
            path.display(),
            bad.len() - 20
        ));
    }
}

/// Logs what a label rebuild changed or left out (at most 20 lines of it).
fn report_labels(path: &std::path::Path, r: crate::labels::Rebuilt) {
    for n in r.notes.iter().take(20) {
        warn(format_args!("{}:{}: {}", path.display(), n.line, n.what));
    }
    if r.notes.len() > 20 {
        warn(format_args!(
            "{}: {} more labels cleaned",
            path.display(),
            r.notes.len() - 20
        ));
    }
    if r.dropped > 0 {
        warn(format_args!(
            "{}: {} labels left out: the label store is full ({} kept; raise tracker.label_memory)",
            path.display(),
            r.dropped,
            r.stored
        ));
    }
}

/// Reloads the access list when its mtime or size changes.
pub(super) async fn watch_access_file(shared: Shared, every: Duration) {
    let Some((_, path)) = shared.access_file.clone() else {
        return;
    };
    loop {
        Timer::after(every).await;
        if file_stamp(&path) != shared.access_stamp.get() {
            shared.reload_access("file changed");
        }
    }
}
