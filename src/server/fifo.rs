//! The access FIFOs (`access.fifo_add`, `access.fifo_delete`): created at
//! start-up if missing, then read for the tracker's whole life. Each hash
//! read changes the access list at once; a line that is not a hash is
//! reported with the FIFO's path and skipped. When the last writer closes
//! its end, whatever it left without a newline still counts as a line, and
//! the FIFO is opened again (the new reader first, so writers never find it
//! without one) for the next writer.

use super::{info, warn, Shared};
use crate::access::changes::{Applied, Change};
use crate::access::fifo_lines::{Line, Lines};
use smol::{Async, Timer};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Bad lines reported per batch of reads; the rest are counted.
const REPORT_MAX: usize = 20;

/// Whether a FIFO is at `path` (true) or nothing is (false); anything else
/// there, or a path that cannot be looked at, is an error.
fn fifo_there(path: &Path) -> Result<bool, String> {
    match std::fs::metadata(path) {
        Ok(m) if m.file_type().is_fifo() => Ok(true),
        Ok(_) => Err(format!(
            "{}: exists and is not a FIFO; remove it or name another path",
            path.display()
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// What a start would do with `path` (for `-t`): use the FIFO there, or
/// create one in a directory that exists; anything else is an error.
pub fn inspect(path: &Path) -> Result<String, String> {
    if fifo_there(path)? {
        return Ok(format!("{}: a FIFO, used as it is", path.display()));
    }
    match super::startup::parent_dir(path) {
        Some(dir) if !dir.is_dir() => Err(format!(
            "{}: cannot be created: directory {} does not exist",
            path.display(),
            dir.display()
        )),
        _ => Ok(format!(
            "{}: not there yet; a start creates it",
            path.display()
        )),
    }
}

/// Makes `path` a FIFO if nothing is there (mode 0620: the tracker's user
/// reads it, its group may write), owned by `owner` when given (as root,
/// before the privileges are dropped, so the dropped user can read it).
/// An existing FIFO is used as it is; anything else is an error.
pub fn prepare(path: &Path, owner: Option<(u32, u32)>) -> Result<Option<String>, String> {
    if fifo_there(path)? {
        return Ok(None);
    }
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| format!("{}: path contains a NUL byte", path.display()))?;
    // SAFETY: c is a valid NUL-terminated path; mkfifo has no other inputs.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o620) } != 0 {
        let e = io::Error::last_os_error();
        return Err(format!("cannot create FIFO {}: {e}", path.display()));
    }
    // mkfifo's mode is masked by the umask; this is the mode asked for.
    // SAFETY: as above.
    unsafe { libc::chmod(c.as_ptr(), 0o620) };
    if let Some((uid, gid)) = owner {
        // SAFETY: as above, with scalar ids.
        if unsafe { libc::chown(c.as_ptr(), uid, gid) } != 0 {
            let e = io::Error::last_os_error();
            return Err(format!(
                "cannot hand FIFO {} to uid {uid}: {e}",
                path.display()
            ));
        }
    }
    Ok(Some(format!("created FIFO {}", path.display())))
}

fn open(path: &Path) -> io::Result<Async<File>> {
    // Non-blocking: opening a FIFO for reading would otherwise wait for a writer.
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    Async::new(f)
}

/// Reads `path` forever, applying each hash as `change`.
pub async fn serve(path: PathBuf, change: Change, shared: Shared) {
    let name = path.display().to_string();
    let mut lines = Lines::default();
    let mut fifo = loop {
        match open(&path) {
            Ok(f) => break f,
            Err(e) => {
                warn(format_args!(
                    "cannot open FIFO {name}: {e}; retrying in 10 s"
                ));
                Timer::after(Duration::from_secs(10)).await;
            }
        }
    };
    let mut chunk = [0u8; 4096];
    loop {
        // Readable: data, or every writer gone (a fresh reader that never had
        // a writer is not readable, so this waits instead of spinning).
        if fifo.readable().await.is_err() {
            Timer::after(Duration::from_secs(1)).await;
        }
        let mut batch = Batch::default();
        let mut each = |l: Line<'_>| batch.line(l, change, &shared, &name);
        let reopen = loop {
            let mut file: &File = fifo.get_ref();
            match file.read(&mut chunk) {
                Ok(0) => {
                    lines.finish(&mut each);
                    break true;
                }
                Ok(n) => lines.feed(&chunk[..n], &mut each),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    warn(format_args!("reading FIFO {name}: {e}; opening it again"));
                    break true;
                }
            }
        };
        batch.report(change, &shared, &name);
        if reopen {
            // The new reader before the old one goes: the FIFO always has one.
            match open(&path) {
                Ok(f) => fifo = f,
                Err(e) => {
                    warn(format_args!(
                        "cannot open FIFO {name} again: {e}; retrying in 10 s"
                    ));
                    Timer::after(Duration::from_secs(10)).await;
                }
            }
        }
    }
}

/// What one batch of reads did, for one log line.
#[derive(Default)]
struct Batch {
    changed: usize,
    unchanged: usize,
    full: usize,
    bad: usize,
}

impl Batch {
    fn line(&mut self, line: Line<'_>, change: Change, shared: &Shared, name: &str) {
        match line {
            Line::Hash(hash, second, rest) => {
                let mut tracker = shared.tracker.borrow_mut();
                let mut applied = tracker.change_access(hash, change);
                // The second hash of a hybrid release goes with the first.
                if let Some(second) = second {
                    let other = tracker.change_access(second, change);
                    if applied != Applied::Full && other != Applied::Unchanged {
                        applied = other;
                    }
                    match change {
                        Change::Add => {
                            tracker.labels_mut().pair(hash, second);
                        }
                        Change::Delete => tracker.labels_mut().unpair(&hash),
                    }
                }
                // A name after an added hash labels it until the next reload.
                if change == Change::Add && applied != Applied::Full {
                    tracker.labels_mut().set(&hash, rest);
                }
                match applied {
                    Applied::Changed => self.changed += 1,
                    Applied::Unchanged => self.unchanged += 1,
                    Applied::Full => self.full += 1,
                }
            }
            Line::Bad(text, why) => {
                self.bad += 1;
                if self.bad <= REPORT_MAX {
                    let shown = crate::access::quote(text);
                    warn(format_args!("{name}: {why}, skipped: \"{shown}\""));
                }
            }
        }
    }

    fn report(&self, change: Change, shared: &Shared, name: &str) {
        if self.bad > REPORT_MAX {
            warn(format_args!(
                "{name}: {} more bad lines skipped",
                self.bad - REPORT_MAX
            ));
        }
        if self.changed + self.unchanged + self.full == 0 {
            return;
        }
        let (added, deleted, capacity) = shared.tracker.borrow().changes();
        let verb = match change {
            Change::Add => "added",
            Change::Delete => "deleted",
        };
        info(format_args!(
            "{name}: {} info hashes {verb}, {} already so; changes since the last reload: +{added} -{deleted}",
            self.changed, self.unchanged
        ));
        if self.full > 0 {
            warn(format_args!(
                "{name}: {} info hashes NOT {verb}: the changesets are full ({capacity} hashes); \
                 merge them into the list file and reload (SIGHUP) to flush them",
                self.full
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_and_dash_t_agree_on_what_is_at_a_fifo_path() {
        let dir = std::env::temp_dir().join(format!("smoltracker-fifo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("plain");
        std::fs::write(&file, "").unwrap();
        for e in [
            inspect(&file).unwrap_err(),
            prepare(&file, None).unwrap_err(),
        ] {
            assert!(
                e.ends_with(": exists and is not a FIFO; remove it or name another path"),
                "{e}"
            );
        }
        let fifo = dir.join("add.fifo");
        assert!(inspect(&fifo)
            .unwrap()
            .ends_with("not there yet; a start creates it"));
        assert!(prepare(&fifo, None).unwrap().is_some(), "created");
        assert!(inspect(&fifo).unwrap().ends_with("a FIFO, used as it is"));
        assert_eq!(prepare(&fifo, None), Ok(None), "used as it is");
        let lost = dir.join("no-such-dir").join("x.fifo");
        assert!(inspect(&lost).unwrap_err().contains("does not exist"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
