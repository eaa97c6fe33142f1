//! A periodic timer of its own (a timerfd armed once with an interval) for
//! the HTTP sweeps: a tick costs one read of the timerfd, where an async-io
//! `Timer` is re-armed for every period through the reactor (an eventfd
//! write and read, a timerfd re-arm). It also keeps ticking where the
//! reactor's own timeouts do not fire: under qemu-user for 32-bit targets
//! (no `timerfd_settime64`, which the reactor calls directly, while libc
//! falls back to the 32-bit call).

use smol::Async;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// A timerfd that, once started, becomes readable every period.
pub struct Ticker {
    fd: Async<OwnedFd>,
    period: Duration,
}

fn timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: d.as_secs() as _,
        tv_nsec: d.subsec_nanos() as _,
    }
}

impl Ticker {
    /// A stopped ticker; fails only if no timerfd can be made.
    pub fn new(period: Duration) -> io::Result<Ticker> {
        // SAFETY: plain system call; a non-negative result is a new fd we own.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Ticker {
            fd: Async::new(fd)?,
            period,
        })
    }

    fn set(&self, period: Duration) {
        let spec = libc::itimerspec {
            it_interval: timespec(period),
            it_value: timespec(period),
        };
        // SAFETY: the fd is our open timerfd; spec is a live itimerspec and
        // the old value is not asked for.
        unsafe {
            libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut());
        }
    }

    /// Ticks every period from now on.
    pub fn start(&self) {
        self.set(self.period);
    }

    /// No more ticks.
    pub fn stop(&self) {
        self.set(Duration::ZERO);
    }

    /// Waits for the next tick (ticks missed meanwhile count as one).
    pub async fn tick(&self) -> io::Result<()> {
        loop {
            self.fd.readable().await?;
            let mut expirations = 0u64;
            // SAFETY: reads at most 8 bytes into a live u64.
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    (&mut expirations as *mut u64).cast(),
                    8,
                )
            };
            if n == 8 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::WouldBlock {
                return Err(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn ticks_every_period_once_started_and_never_when_stopped() {
        smol::block_on(async {
            let t = Ticker::new(Duration::from_millis(20)).unwrap();
            t.start();
            let started = Instant::now();
            for _ in 0..3 {
                t.tick().await.unwrap();
            }
            let took = started.elapsed();
            assert!(took >= Duration::from_millis(55), "{took:?}");
            t.stop();
            let stopped = smol::future::or(async { t.tick().await.is_ok() }, async {
                smol::Timer::after(Duration::from_millis(100)).await;
                false
            })
            .await;
            assert!(!stopped, "no tick after stop");
        });
    }
}
