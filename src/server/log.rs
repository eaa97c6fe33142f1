//! The log: information on stdout, problems on stderr, one line each,
//! prefixed `smoltracker: `. procd logs stdout as daemon.info and stderr as
//! daemon.err; under systemd a problem carries a `<4>` priority prefix, which
//! the journal reads as "warning" (`log_prefix`).

use super::log_prefix;

/// Writes an informational line (start-up, reloads, stop) to stdout: procd
/// logs it as daemon.info, systemd's journal at its default level.
pub fn info(msg: impl std::fmt::Display) {
    info_dyn(&msg)
}

fn info_dyn(msg: &dyn std::fmt::Display) {
    println!("smoltracker: {msg}");
}

/// Writes a warning or an error to stderr: procd logs it as daemon.err; under
/// systemd it carries a `<4>` priority prefix, which the journal reads as
/// "warning" (see `log_prefix`).
pub fn warn(msg: impl std::fmt::Display) {
    warn_dyn(&msg)
}

// One copy of the formatting, whatever the message's type.
fn warn_dyn(msg: &dyn std::fmt::Display) {
    eprintln!("{}smoltracker: {msg}", log_prefix::stderr());
}
