//! Signals: SIGHUP reloads the access list; SIGTERM and SIGINT end the
//! event loop (the caller then saves state and exits 0). SIGPIPE is already
//! ignored by the Rust runtime, so a vanished client never kills the tracker.

use super::Shared;
use async_signal::{Signal, Signals};
use smol::stream::StreamExt;

/// Installs the handlers. Done before serving: SIGHUP's default action would
/// otherwise kill a tracker that a cron job signals during start-up.
pub fn install() -> std::io::Result<Signals> {
    Signals::new([Signal::Hup, Signal::Term, Signal::Int])
}

/// Handles signals until SIGTERM or SIGINT arrives; returns its name.
pub async fn until_stopped(mut signals: Signals, shared: Shared) -> &'static str {
    while let Some(sig) = signals.next().await {
        match sig {
            Ok(Signal::Hup) => shared.reload_access("SIGHUP"),
            Ok(Signal::Term) => return "SIGTERM",
            Ok(Signal::Int) => return "SIGINT",
            _ => {}
        }
    }
    "end of signals"
}
