//! The journal's priority prefix for stderr lines. systemd connects a
//! service's stdout and stderr to the journal at one level (info) and sets
//! `JOURNAL_STREAM` to the `device:inode` of that stream; a line starting
//! with `<4>` is then stored as a warning (`SyslogLevelPrefix=`, on by
//! default). Anywhere else (procd, a terminal, a file) no prefix is written.

use std::sync::atomic::{AtomicU8, Ordering};

/// `"<4>"` when stderr is the journal stream systemd set up, else `""`.
pub fn stderr() -> &'static str {
    // 0: not looked at yet, 1: no prefix, 2: prefix. Racing first calls
    // compute the same answer, so a plain atomic does (176 B less than a
    // OnceLock on mipsel).
    static STATE: AtomicU8 = AtomicU8::new(0);
    let mut state = STATE.load(Ordering::Relaxed);
    if state == 0 {
        let stream = std::env::var_os("JOURNAL_STREAM");
        let journal = stream
            .as_ref()
            .and_then(|s| s.to_str())
            .is_some_and(is_stderr);
        state = if journal { 2 } else { 1 };
        STATE.store(state, Ordering::Relaxed);
    }
    if state == 2 {
        "<4>"
    } else {
        ""
    }
}

/// Whether `JOURNAL_STREAM`'s `device:inode` names our stderr (so a
/// redirected stderr, e.g. `2>file` in a unit's ExecStart, gets no prefix).
fn is_stderr(stream: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata("/proc/self/fd/2") else {
        return false;
    };
    matches_stream(stream, meta.dev(), meta.ino())
}

fn matches_stream(stream: &str, dev: u64, ino: u64) -> bool {
    let Some((d, i)) = stream.split_once(':') else {
        return false;
    };
    d.parse() == Ok(dev) && i.parse() == Ok(ino)
}

#[cfg(test)]
mod tests {
    use super::matches_stream;

    #[test]
    fn journal_stream_must_name_the_same_device_and_inode() {
        assert!(matches_stream("8:12345", 8, 12345));
        assert!(!matches_stream("8:12345", 8, 12346));
        assert!(!matches_stream("9:12345", 8, 12345));
        assert!(!matches_stream("8", 8, 12345));
        assert!(!matches_stream("", 0, 0));
        assert!(!matches_stream("x:y", 0, 0));
    }
}
