//! Start-up policy: what a start reads once privileges are dropped (the
//! access list and the state file), what it reads before (an opentracker
//! state dump given with `-l`), the first line it logs (the mode), and `-t`,
//! which does all of that without binding and prints the settings.
//!
//! A file a start cannot read stops it (exit 2): an unreadable whitelist
//! would refuse every torrent, an unreadable state file would be written
//! over. The message names the path as opened, inside the chroot when there
//! is one, the user it was read as, and what to do. (A reload that cannot
//! read its list keeps the list in force: see `SharedState::reload_access`.)

use super::privileges::{self, Dropped};
use crate::access::changes::ENTRY_BYTES;
use crate::access::{AccessList, Mode};
use crate::config::Config;
use crate::info_hash::InfoHash;
use crate::labels::Labels;
use crate::swarm::{Limits, Swarm};
use crate::tracker::{Settings, Tracker};
use std::io;
use std::path::{Path, PathBuf};

/// What a start read after dropping privileges.
pub struct Files {
    /// The access list: its mode, path and contents.
    pub access: Option<(Mode, PathBuf, Vec<u8>)>,
    /// The state file's path and text (`None`: not there yet, first run).
    pub state: Option<(PathBuf, Option<String>)>,
}

/// The access list the configuration names, if any.
pub fn access_file(cfg: &Config) -> Option<(Mode, PathBuf)> {
    match (&cfg.access.whitelist, &cfg.access.blacklist) {
        (Some(w), _) => Some((Mode::Whitelist, w.clone())),
        (None, Some(b)) => Some((Mode::Blacklist, b.clone())),
        (None, None) => None,
    }
}

/// The list's name in messages.
pub fn kind(mode: Mode) -> &'static str {
    match mode {
        Mode::Whitelist => "whitelist",
        Mode::Blacklist => "blacklist",
    }
}

/// Where and as whom `path` was read, and what to do about `e`.
pub fn cannot_read(what: &str, path: &Path, e: &io::Error, d: &Dropped) -> String {
    let mut msg = format!(
        "cannot read {what} {}: {e}; read as {}",
        path.display(),
        d.user
    );
    match &d.dir {
        Some((dir, true)) => {
            // The chroot's path, then the file's (as plain text: no path
            // component machinery in the router builds).
            let root = dir.display().to_string();
            let file = path.display().to_string();
            let sep = if file.starts_with('/') || root.ends_with('/') {
                ""
            } else {
                "/"
            };
            msg.push_str(&format!(
                " inside the chroot {root} (tracker.rootdir / -d), so the file opened was {}{sep}{file} outside it",
                root.trim_end_matches('/')
            ));
        }
        Some((dir, false)) if path.is_relative() => msg.push_str(&format!(
            " from the working directory {} (tracker.rootdir / -d)",
            dir.display()
        )),
        _ => {}
    }
    let todo = match e.kind() {
        io::ErrorKind::NotFound if matches!(d.dir, Some((_, true))) => {
            "; name it as seen from inside the chroot (a path under tracker.rootdir, starting with /) or move it there"
                .to_string()
        }
        io::ErrorKind::NotFound => "; create it or correct the path".into(),
        io::ErrorKind::PermissionDenied => format!(
            "; make it (and every directory above it) readable by {}, e.g. chmod o+r, or chgrp and chmod g+r",
            d.user
        ),
        _ => String::new(),
    };
    msg.push_str(&todo);
    msg.push_str(". Not started; smoltracker -t checks a configuration without starting.");
    msg
}

/// Reads the access list and the state file, as the user the tracker now
/// runs as. Any failure is an error for the operator (exit 2).
pub fn read_files(cfg: &Config, d: &Dropped) -> Result<Files, String> {
    let access = match access_file(cfg) {
        Some((mode, path)) => {
            let text = std::fs::read(&path).map_err(|e| cannot_read(kind(mode), &path, &e, d))?;
            Some((mode, path, text))
        }
        None => None,
    };
    let state = match &cfg.state_file {
        Some(path) => match std::fs::read(path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => Some((path.clone(), Some(text))),
                Err(_) => {
                    let e = io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text");
                    return Err(cannot_read("state file", path, &e, d));
                }
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => Some((path.clone(), None)),
            Err(e) => return Err(cannot_read("state file", path, &e, d)),
        },
        None => None,
    };
    Ok(Files { access, state })
}

/// `-l FILE`: an opentracker state dump (or a state file), read as the
/// user who started the tracker, before any chroot.
pub fn read_dump(path: &Path) -> Result<Vec<(InfoHash, u32)>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("-l {}: cannot read the state dump: {e}", path.display()))?;
    crate::state::parse(&text).map_err(|e| format!("-l {}: {e}", path.display()))
}

/// The first line a start logs: which torrents it serves.
pub fn mode_line(access: Option<(Mode, &Path, &AccessList)>, bad: usize) -> String {
    let skipped = if bad > 0 {
        format!(" ({bad} bad lines skipped)")
    } else {
        String::new()
    };
    match access {
        None => "open tracker: serving any torrent announced".into(),
        // A hybrid's two hashes are one release.
        Some((Mode::Whitelist, path, list)) if list.releases() != list.len() => format!(
            "whitelist mode: {} releases ({} info hashes) from {}{skipped}",
            list.releases(),
            list.len(),
            path.display()
        ),
        Some((Mode::Whitelist, path, list)) => format!(
            "whitelist mode: {} releases from {}{skipped}",
            list.len(),
            path.display()
        ),
        Some((Mode::Blacklist, path, list)) => format!(
            "blacklist mode: serving any torrent but {} refused from {}{skipped}",
            list.len(),
            path.display()
        ),
    }
}

/// `-t`: everything a start checks, without binding; prints the settings
/// on stdout. `Err` is the first problem found (exit 2).
pub fn check(cfg: &Config) -> Result<String, String> {
    let tracker = build_tracker(cfg)?;
    let budget = tracker.stats.memory;
    let dump = match &cfg.load_dump {
        Some(p) => Some((p, read_dump(p)?.len())),
        None => None,
    };
    // FIFOs are only looked at: a start would create missing ones here.
    let mut fifos = Vec::new();
    let mut look = |_owner: Option<(u32, u32)>| {
        for path in [&cfg.access.fifo_add, &cfg.access.fifo_delete]
            .into_iter()
            .flatten()
        {
            fifos.push(super::fifo::inspect(path)?);
        }
        Ok(())
    };
    let dropped =
        privileges::drop_privileges(cfg.rootdir.as_deref(), cfg.user.as_deref(), &mut look)?;
    let files = read_files(cfg, &dropped)?;
    let mut out = String::new();
    let mut line = |key: &str, value: String| {
        out.push_str(key);
        out.push_str(&"             "[key.len().min(12)..]);
        out.push_str(&value);
        out.push('\n');
    };
    let mode = match &files.access {
        Some((mode, path, text)) => {
            let (list, bad) = AccessList::parse(*mode, text);
            super::reload::report_bad_lines(path, &bad);
            mode_line(Some((*mode, path, &list)), bad.len())
        }
        None => mode_line(None, 0),
    };
    line("mode", mode);
    let mut listen = String::new();
    for (proto, a) in (cfg.tcp.iter().map(|a| ("tcp", a))).chain(cfg.udp.iter().map(|a| ("udp", a)))
    {
        let space = if listen.is_empty() { "" } else { " " };
        listen.push_str(&format!("{space}{proto}://{a}"));
    }
    line("listen", listen);
    line("privileges", dropped.summary.clone());
    let cap = tracker.swarm.capacity();
    line(
        "memory",
        format!(
            "{} ({} torrents, {} IPv4 peers)",
            budget.describe(),
            cap.torrents,
            cap.ipv4_peers
        ),
    );
    let p = &cfg.policy;
    line(
        "peers",
        format!(
            "announce interval {} s, peer timeout {} s, {} per torrent, {} per address, numwant {} (at most {})",
            cfg.announce_interval,
            cfg.peer_timeout,
            cfg.max_peers_per_torrent,
            p.max_peers_per_address,
            cfg.numwant_default,
            cfg.numwant_max
        ),
    );
    line(
        "new torrents",
        if p.new_torrents_per_minute == 0 {
            "no limit per network".into()
        } else {
            format!(
                "{} per minute per network, {} at once (listed releases are never charged)",
                p.new_torrents_per_minute, p.new_torrents_burst
            )
        },
    );
    let mut stats_who = String::new();
    for n in &cfg.access.stats {
        let space = if stats_who.is_empty() { "" } else { " " };
        stats_who.push_str(&format!("{space}{n}"));
    }
    if stats_who.is_empty() {
        stats_who.push_str("everyone");
    }
    line(
        "stats",
        format!(
            "{} for {stats_who}{}",
            cfg.access.stats_path,
            if cfg.access.stats_public.is_empty() {
                String::new()
            } else {
                let mut modes = String::from("; public modes:");
                for m in &cfg.access.stats_public {
                    modes.push(' ');
                    modes.push_str(m);
                }
                modes
            }
        ),
    );
    match &files.state {
        Some((path, Some(text))) => match crate::state::parse(text) {
            Ok(entries) => line(
                "state file",
                format!("{}: {} completed counts", path.display(), entries.len()),
            ),
            Err(e) => line(
                "state file",
                format!(
                    "{}: {e}; a start ignores it and starts from zero",
                    path.display()
                ),
            ),
        },
        Some((path, None)) => line(
            "state file",
            format!(
                "{}: not there yet; {}",
                path.display(),
                if writable_dir(path) {
                    format!("the first start creates it (as {})", dropped.user)
                } else {
                    format!(
                        "WARNING: {} cannot create files in its directory",
                        dropped.user
                    )
                }
            ),
        ),
        None => line(
            "state file",
            "none (completed counts start from zero)".into(),
        ),
    }
    if let Some((path, n)) = dump {
        line(
            "-l",
            format!("{}: {n} completed counts to load", path.display()),
        );
    }
    for f in fifos {
        line("FIFO", f);
    }
    Ok(out)
}

/// The directory `path` names a file in, if it names one (`a/b` -> `a`,
/// `/b` -> `/`, `b` -> none): bytes, not `Path::parent`, whose component
/// parser costs the router builds a kilobyte and a half.
pub(super) fn parent_dir(path: &Path) -> Option<&Path> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    let cut = bytes.iter().rposition(|&b| b == b'/')?;
    let dir = if cut == 0 { &bytes[..1] } else { &bytes[..cut] };
    Some(Path::new(std::ffi::OsStr::from_bytes(dir)))
}

/// Whether the user the process runs as may create files beside `path`.
fn writable_dir(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let dir = parent_dir(path).unwrap_or(Path::new("."));
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: c is a valid NUL-terminated path; access has no other inputs.
    unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
}

/// Builds the swarm tables from the configuration.
pub fn build_tracker(cfg: &Config) -> Result<Tracker, String> {
    let budget = crate::budget::divide(cfg, super::udp::batch_bytes())?;
    let limits = Limits {
        max_memory: budget.tables,
        max_torrents: cfg.max_torrents,
        max_peers_per_torrent: cfg.max_peers_per_torrent,
        peer_timeout: cfg.peer_timeout,
    };
    let swarm = Swarm::with_policy(limits, cfg.policy, random_seed()).map_err(|e| e.0)?;
    let mut tracker = Tracker::new(swarm, Settings::from(cfg));
    tracker.set_labels(Labels::new(budget.labels)?);
    tracker.set_changes_capacity(budget.changes / ENTRY_BYTES);
    tracker.set_history(crate::history::History::new(budget.history)?);
    tracker.stats.memory = budget;
    // opentracker's g_tracker_id is random too; the state file keeps it.
    tracker.stats.tracker_id = random_seed() as u32;
    Ok(tracker)
}

fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // RandomState's SipHash keys are drawn from the OS at start-up, so the
    // hash of nothing under them is a random number.
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_dir_is_the_part_before_the_last_slash() {
        let p = |s: &str| parent_dir(Path::new(s)).map(|d| d.to_str().unwrap().to_string());
        assert_eq!(p("/var/lib/state").as_deref(), Some("/var/lib"));
        assert_eq!(p("/state").as_deref(), Some("/"));
        assert_eq!(p("run/x.fifo").as_deref(), Some("run"));
        assert_eq!(p("state"), None);
    }

    #[test]
    fn mode_lines_name_the_mode_first() {
        assert_eq!(
            mode_line(None, 0),
            "open tracker: serving any torrent announced"
        );
        let (list, _) = AccessList::parse(
            Mode::Blacklist,
            b"0123456789abcdef0123456789abcdef01234567\n",
        );
        assert_eq!(
            mode_line(Some((Mode::Blacklist, Path::new("/b"), &list)), 2),
            "blacklist mode: serving any torrent but 1 refused from /b (2 bad lines skipped)"
        );
    }

    #[test]
    fn the_mode_line_counts_a_hybrid_once() {
        let text = format!(
            "{} {} hybrid\n{} plain\n",
            "ab".repeat(20),
            "cd".repeat(32),
            "ef".repeat(20)
        );
        let (list, _) = AccessList::parse(Mode::Whitelist, text.as_bytes());
        let line = mode_line(Some((Mode::Whitelist, Path::new("wl"), &list)), 0);
        assert_eq!(line, "whitelist mode: 2 releases (3 info hashes) from wl");
        let (list, _) = AccessList::parse(
            Mode::Whitelist,
            b"ababababababababababababababababababab12\n",
        );
        let line = mode_line(Some((Mode::Whitelist, Path::new("wl"), &list)), 1);
        assert_eq!(
            line,
            "whitelist mode: 1 releases from wl (1 bad lines skipped)"
        );
    }
}
