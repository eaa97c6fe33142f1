//! The tracker's executor: one run queue of `async-task` tasks, run on the
//! main thread inside `smol::block_on` (which drives async-io's reactor).
//! A smaller stand-in for async-executor's `LocalExecutor`, whose
//! work-stealing machinery (concurrent queues, runners, a task slab) one
//! thread never uses: −11,680 B on mipsel.
//!
//! One difference: `LocalExecutor` keeps every pending task in its slab, so
//! a task nothing can wake any more stays allocated; here it is freed with
//! its last waker. No task here waits on anything but async-io sources,
//! timers and other tasks' wakers, which keep their wakers.

use async_task::{Runnable, Task};
use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Poll, Waker};

/// Tasks run before the run queue yields to the main future and the reactor.
const BATCH: usize = 64;

/// Scheduled tasks and the waker of the loop that runs them. A task may be
/// woken from async-io's reactor thread, hence the mutex.
static QUEUE: Mutex<(VecDeque<Runnable>, Option<Waker>)> = Mutex::new((VecDeque::new(), None));

fn schedule(runnable: Runnable) {
    let waker = {
        let mut q = QUEUE.lock().unwrap_or_else(PoisonError::into_inner);
        q.0.push_back(runnable);
        q.1.take()
    };
    if let Some(w) = waker {
        w.wake();
    }
}

/// Spawns a task on the main thread's run queue; it runs while [`run`] does.
/// Every task is boxed into one type, so async-task's machinery exists once,
/// not once per kind of task.
pub fn spawn(f: Pin<Box<dyn Future<Output = ()>>>) -> Task<()> {
    let (runnable, task) = async_task::spawn_local(f, schedule);
    runnable.schedule();
    task
}

/// Runs spawned tasks until `main` completes; returns its output.
pub async fn run<T>(main: impl Future<Output = T>) -> T {
    let tasks = poll_fn(|cx| {
        for _ in 0..BATCH {
            let runnable = {
                let mut q = QUEUE.lock().unwrap_or_else(PoisonError::into_inner);
                match q.0.pop_front() {
                    Some(r) => r,
                    None => {
                        q.1 = Some(cx.waker().clone());
                        return Poll::Pending;
                    }
                }
            };
            runnable.run();
        }
        // A full batch: let the main future and the reactor have a turn.
        cx.waker().wake_by_ref();
        Poll::Pending
    });
    smol::future::or(main, tasks).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;
    use std::time::Duration;

    // The only test in the crate that runs the queue (it is one per process).
    #[test]
    fn runs_spawned_and_woken_tasks_until_main_ends() {
        let done = Rc::new(Cell::new(0));
        for i in 0..3u64 {
            let done = done.clone();
            spawn(Box::pin(async move {
                // Timers wake from the reactor, maybe on async-io's thread.
                async_io::Timer::after(Duration::from_millis(10 * i)).await;
                let inner = done.clone();
                spawn(Box::pin(async move { inner.set(inner.get() + 10) })).detach();
                done.set(done.get() + 1);
            }))
            .detach();
        }
        let seen = smol::block_on(run(async {
            async_io::Timer::after(Duration::from_millis(200)).await;
            done.get()
        }));
        assert_eq!(seen, 33);
    }
}
