//! When a listener defers accepting a connection until its request has
//! arrived (`TCP_DEFER_ACCEPT`), decided from what accepting finds.
//!
//! Deferring saves a wake-up per connection when connections are accepted
//! before their requests arrive, which is what a busy tracker sees: measured
//! with bench/loadgen's `Connection: close` load (64 connections), 92 % of
//! connections accepted without it had no request yet, and it cost 29-32 µs
//! of CPU per answer against 18-20 µs deferring. When the tracker is idle
//! between connections, its wake-up at the handshake overlaps the client
//! sending its request, so the request is mostly there by the time it is
//! accepted (aquatic's one-connection-at-a-time client: 30 % without one), and
//! deferring only makes each connection wait for that wake-up after its
//! request: it cost that client 28 % of its answers per second, against the
//! floor responder too.
//!
//! A connection accepted without deferring whose request has not arrived yet
//! is read again for up to `SPIN` before it goes to wait in the set, if it
//! was the first of its round of accepting (a listener with a backlog has
//! other connections to serve meanwhile): the request was mostly microseconds
//! behind (aquatic's serial client: 66 % within 10 µs, 96 % within 20 µs,
//! 0.5 % not within 100 µs), and waiting in the set means sleeping and being
//! woken for it. In runs alternated with a build without it, the serial client
//! got 7,290-7,571 answers/s with a 30 µs spin against 5,178-6,909 without
//! (single runs on a noisy VM).
//!
//! So a listener starts without deferring and counts, in windows of `WINDOW`
//! accepted connections, those accepted before their request (and, if read
//! again, still without it after that: see [`first_read`]) and the rounds
//! of accepting they came in. A window with `EARLY` or more early connections,
//! or with connections waiting to be accepted (on average `BACKLOG` or more
//! per round), turns deferring on for `HOLD` windows, after which it is off
//! again for one window to look. The backlog is what tells load from a client
//! that connects once at a time, whatever the share of early connections:
//! on an Intel VM, bench/loadgen's `Connection: close` load (64 connections)
//! came 25 to a round with 44 % early, under the 5/8, and without deferring
//! cost 18 µs of CPU per answer against 8.4 deferring; aquatic's serial
//! client came one to a round, 1-44 % early. Connections that hold a socket
//! without sending anything (a connect flood) count as early: they turn it
//! on, so they stay in the kernel instead of in the tracker's set.

use std::io;
use std::time::{Duration, Instant};

/// How long a connection accepted without its request is read again.
pub const SPIN: Duration = Duration::from_micros(25);
/// Accepted connections in one window.
const WINDOW: u16 = 512;
/// Early connections in a window that turn deferring on (5/8).
const EARLY: u16 = WINDOW / 8 * 5;
/// Windows deferring lasts before it is looked at again.
const HOLD: u16 = 16;
/// Connections per round of accepting, on average over a window, that mean
/// a backlog.
const BACKLOG: u16 = 2;

/// Reads a just-accepted connection's request with `read`; if it is not
/// there yet and `spin` is set, reads again for up to [`SPIN`]. Returns the
/// last read and whether the connection counts as early for [`Defer`]: its
/// request still not there. A request the spin catches cost microseconds,
/// not a wake-up and a wait in the set, so it does not count: counted
/// before the spin, a client that sends its request at once but a little
/// after the tracker woke for its handshake (aquatic's serial client on a
/// VM whose wake-ups are quick) looked like a flood of early connections
/// and turned deferring on, which then cost it a wake-up after every
/// request (in alternated 3 s runs: 0.89-0.97x opentracker's answers/s
/// deferring, 1.06-1.10x counting after the spin).
pub fn first_read(
    mut read: impl FnMut() -> io::Result<usize>,
    spin: bool,
) -> (io::Result<usize>, bool) {
    // The clock is read only once there is something to wait for: most
    // accepted connections (all, deferring) have their request at once.
    let mut start = None;
    loop {
        let r = read();
        let waiting = matches!(&r, Err(e) if e.kind() == io::ErrorKind::WouldBlock);
        if !waiting || !spin || start.get_or_insert_with(Instant::now).elapsed() >= SPIN {
            return (r, waiting);
        }
        std::hint::spin_loop();
    }
}

/// The decision for one listener.
#[derive(Debug, Default)]
pub struct Defer {
    on: bool,
    seen: u16,
    early: u16,
    rounds: u16,
    held: u16,
}

impl Defer {
    /// Whether the listener defers now.
    pub fn on(&self) -> bool {
        self.on
    }

    /// Notes a round of accepting from a readable listener: its first
    /// connection is accepted next.
    pub fn round(&mut self) {
        self.rounds = self.rounds.saturating_add(1);
    }

    /// Notes one accepted connection and whether its request had not yet
    /// arrived. Returns the new setting when it changes.
    pub fn accepted(&mut self, early: bool) -> Option<bool> {
        self.seen += 1;
        self.early += u16::from(early);
        if self.seen < WINDOW {
            return None;
        }
        let busy = self.early >= EARLY || self.rounds <= WINDOW / BACKLOG;
        self.seen = 0;
        self.early = 0;
        self.rounds = 0;
        if self.on {
            self.held += 1;
            if self.held < HOLD {
                return None;
            }
            self.held = 0;
            self.on = false;
            Some(false)
        } else if busy {
            self.on = true;
            Some(true)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn would_block() -> io::Result<usize> {
        Err(io::ErrorKind::WouldBlock.into())
    }

    #[test]
    fn a_request_the_spin_catches_is_not_early() {
        let mut reads = 0;
        let (r, early) = first_read(
            || {
                reads += 1;
                if reads < 3 {
                    would_block()
                } else {
                    Ok(40)
                }
            },
            true,
        );
        assert_eq!((r.ok(), early, reads), (Some(40), false, 3));
    }

    #[test]
    fn a_request_still_missing_after_the_spin_or_without_one_is_early() {
        let start = Instant::now();
        let (r, early) = first_read(would_block, true);
        assert!(early && r.is_err());
        assert!(start.elapsed() >= SPIN, "it read again for the whole spin");
        let mut reads = 0;
        let (_, early) = first_read(
            || {
                reads += 1;
                would_block()
            },
            false,
        );
        assert!(early);
        assert_eq!(reads, 1, "no spin: read once");
        // A request already there, or a connection already closed or
        // failed, is not early.
        assert!(!first_read(|| Ok(10), true).1);
        assert!(!first_read(|| Ok(0), true).1);
        assert!(!first_read(|| Err(io::ErrorKind::ConnectionReset.into()), true).1);
    }

    /// Feeds `n` connections, one to a round, of which the first `early`
    /// were early; returns the changes reported.
    fn feed(d: &mut Defer, n: u16, early: u16) -> Vec<bool> {
        feed_rounds(d, n, early, 1)
    }

    /// As `feed`, `per_round` connections to a round.
    fn feed_rounds(d: &mut Defer, n: u16, early: u16, per_round: u16) -> Vec<bool> {
        (0..n)
            .filter_map(|i| {
                if i % per_round == 0 {
                    d.round();
                }
                d.accepted(i < early)
            })
            .collect()
    }

    #[test]
    fn starts_off_and_stays_off_while_requests_come_with_their_connections() {
        let mut d = Defer::default();
        assert!(!d.on());
        for _ in 0..100 {
            // 30 %: what aquatic's serial client showed without deferring.
            assert!(feed(&mut d, WINDOW, WINDOW * 3 / 10).is_empty());
        }
        assert!(!d.on());
        // One short of the threshold is still off.
        assert!(feed(&mut d, WINDOW, EARLY - 1).is_empty());
        assert!(!d.on());
    }

    #[test]
    fn a_window_of_mostly_early_connections_turns_it_on_at_its_end() {
        let mut d = Defer::default();
        assert!(feed(&mut d, WINDOW - 1, WINDOW - 1).is_empty());
        assert!(!d.on(), "only at the end of a window");
        assert_eq!(d.accepted(false), Some(true));
        assert!(d.on());
    }

    #[test]
    fn deferring_holds_then_looks_again_and_resumes_if_still_busy() {
        let mut d = Defer::default();
        assert_eq!(feed(&mut d, WINDOW, EARLY), vec![true]);
        // While on, what accept sees does not matter: it holds HOLD windows.
        for _ in 0..HOLD - 1 {
            assert!(feed(&mut d, WINDOW, 0).is_empty());
            assert!(d.on());
        }
        assert_eq!(feed(&mut d, WINDOW, 0), vec![false]);
        // The look: still busy, so on again.
        assert_eq!(feed(&mut d, WINDOW, WINDOW), vec![true]);
        for _ in 0..HOLD - 1 {
            assert!(feed(&mut d, WINDOW, WINDOW).is_empty());
        }
        assert_eq!(feed(&mut d, WINDOW, WINDOW), vec![false]);
        // The look: quiet now, so it stays off.
        assert!(feed(&mut d, WINDOW, 10).is_empty());
        assert!(!d.on());
    }

    #[test]
    fn a_backlog_turns_it_on_whatever_the_share_of_early_connections() {
        // bench/loadgen's Connection: close load: 25 to a round, 44 % early.
        let mut d = Defer::default();
        assert_eq!(
            feed_rounds(&mut d, WINDOW, WINDOW * 44 / 100, 25),
            vec![true]
        );
        // None early at all: the backlog alone.
        let mut d = Defer::default();
        assert_eq!(feed_rounds(&mut d, WINDOW, 0, BACKLOG), vec![true]);
        // Just under BACKLOG to a round on average: one more round than
        // WINDOW / BACKLOG.
        let mut d = Defer::default();
        let mut changes = feed_rounds(&mut d, WINDOW - 2, 0, BACKLOG);
        d.round();
        changes.extend(d.accepted(false));
        d.round();
        changes.extend(d.accepted(false));
        assert!(changes.is_empty());
        assert!(!d.on());
    }

    #[test]
    fn rounds_are_counted_per_window() {
        let mut d = Defer::default();
        // A window one to a round, then one with a backlog: the rounds of the
        // first do not count against the second.
        assert!(feed(&mut d, WINDOW, 0).is_empty());
        assert_eq!(feed_rounds(&mut d, WINDOW, 0, 4), vec![true]);
    }

    #[test]
    fn counters_never_overflow() {
        let mut d = Defer::default();
        let mut changes = 0u32;
        for i in 0..200_000u32 {
            d.round();
            if d.accepted(i % 3 != 0).is_some() {
                changes += 1;
            }
        }
        // 2/3 early (over 5/8): on for HOLD windows, off for one, repeatedly.
        let windows = 200_000 / u32::from(WINDOW);
        let cycle = u32::from(HOLD) + 1;
        assert!(changes >= windows / cycle * 2 && changes <= windows / cycle * 2 + 2);
    }
}
