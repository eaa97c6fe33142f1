//! Signals: SIGHUP reloads the access list; SIGTERM and SIGINT end the
//! event loop (the caller then saves state and exits 0). SIGPIPE is already
//! ignored by the Rust runtime, so a vanished client never kills the tracker.
//!
//! The three signals are blocked and read from a signalfd, which the event
//! loop polls like any socket: no handler runs, so nothing async-signal-unsafe
//! can happen, and a signal that arrives before the loop runs waits in the
//! descriptor. (This replaced the async-signal crate: 6 KB less on mipsel.)

use super::Shared;
use smol::Async;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{FromRawFd, OwnedFd};

/// The signalfd for SIGHUP, SIGTERM and SIGINT.
pub struct Signals {
    fd: OwnedFd,
}

/// Blocks SIGHUP, SIGTERM and SIGINT and opens a signalfd for them. Call it
/// first thing, before any thread starts (threads inherit the mask; a thread
/// that did not block them would get them delivered the default way), so an
/// early SIGHUP from a cron job never kills a tracker still starting up.
pub fn install() -> io::Result<Signals> {
    // SAFETY: the sigset is initialised by sigemptyset before use; the calls
    // take pointers to it that are valid for their duration; signalfd returns
    // a new descriptor (or -1, checked) that nothing else owns, so OwnedFd
    // takes sole ownership of it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in [libc::SIGHUP, libc::SIGTERM, libc::SIGINT] {
            libc::sigaddset(&mut set, sig);
        }
        let err = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        if err != 0 {
            return Err(io::Error::from_raw_os_error(err));
        }
        let fd = libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Signals {
            fd: OwnedFd::from_raw_fd(fd),
        })
    }
}

/// Handles signals until SIGTERM or SIGINT arrives; returns its name.
pub async fn until_stopped(signals: Signals, shared: Shared) -> &'static str {
    let fd = match Async::new(File::from(signals.fd)) {
        Ok(fd) => fd,
        Err(_) => return "signalfd not pollable",
    };
    // One signalfd_siginfo: the signal number is its first u32.
    let mut info = [0u8; std::mem::size_of::<libc::signalfd_siginfo>()];
    loop {
        match fd.read_with(|mut f| f.read(&mut info)).await {
            Ok(n) if n == info.len() => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            _ => return "end of signals",
        }
        let signo = u32::from_ne_bytes([info[0], info[1], info[2], info[3]]) as i32;
        match signo {
            libc::SIGHUP => shared.reload_access("SIGHUP"),
            libc::SIGTERM => return "SIGTERM",
            libc::SIGINT => return "SIGINT",
            _ => {}
        }
    }
}
