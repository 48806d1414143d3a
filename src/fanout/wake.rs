//! Waking sessions from the hub in batches, one cross-thread wake per HTTP worker.
//!
//! Sessions run on the HTTP worker threads, the hub on a thread of its own. Waking a session's
//! task from the hub's thread is a remote wake in tokio: a lock, a queue push, and an eventfd
//! write that pulls the worker out of `epoll_wait`, for each session and each event (measured:
//! about 12 µs of CPU per delivery at low rates, mostly park/unpark ping-pong). Instead, each
//! worker has a [`WakeGroup`] with a small local task; the hub hands it all the wakers of one
//! fan-out at once and wakes it once, and that task wakes the sessions locally (no syscall).

use std::{
    cell::RefCell,
    future::poll_fn,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    task::{Poll, Waker},
};

/// The sessions' wakers of one worker thread, woken by its local task.
#[derive(Debug, Default)]
pub struct WakeGroup {
    state: Mutex<GroupState>,
    /// False once the worker's task is gone (its runtime shut down).
    alive: AtomicBool,
}

#[derive(Debug, Default)]
struct GroupState {
    pending: Vec<Waker>,
    /// The group task's waker, when it waits for work.
    task: Option<Waker>,
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<WakeGroup>>> = const { RefCell::new(None) };
}

/// Marks the group dead when the task (and so the runtime that ran it) goes away.
struct AliveGuard(Arc<WakeGroup>);

impl Drop for AliveGuard {
    fn drop(&mut self) {
        self.0.alive.store(false, Ordering::Release);
    }
}

impl WakeGroup {
    /// The current worker thread's group, started on first use. Must be called from within
    /// an actix (tokio local) runtime.
    pub fn current() -> Arc<WakeGroup> {
        CURRENT.with(|current| {
            let mut current = current.borrow_mut();
            if let Some(group) = current.as_ref().filter(|g| g.alive.load(Ordering::Acquire)) {
                return Arc::clone(group);
            }
            let group = Arc::new(WakeGroup {
                state: Mutex::default(),
                alive: AtomicBool::new(true),
            });
            let guard = AliveGuard(Arc::clone(&group));
            actix_rt::spawn(async move {
                let group = &guard.0;
                let mut wakers = Vec::new();
                loop {
                    poll_fn(|cx| {
                        let mut state = group.lock();
                        if state.pending.is_empty() {
                            state.task = Some(cx.waker().clone());
                            Poll::Pending
                        } else {
                            std::mem::swap(&mut state.pending, &mut wakers);
                            Poll::Ready(())
                        }
                    })
                    .await;
                    for waker in wakers.drain(..) {
                        waker.wake();
                    }
                }
            });
            *current = Some(Arc::clone(&group));
            group
        })
    }

    fn lock(&self) -> MutexGuard<'_, GroupState> {
        // Nothing panics while holding this lock.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands a batch of wakers to the group and wakes its task once.
    pub fn wake_all(&self, wakers: &mut Vec<Waker>) {
        if wakers.is_empty() {
            return;
        }
        let task = {
            let mut state = self.lock();
            state.pending.append(wakers);
            state.task.take()
        };
        if let Some(task) = task {
            task.wake();
        }
    }
}

/// Wakers collected during one fan-out, grouped by worker.
#[derive(Default)]
pub struct WakeBatch {
    groups: Vec<(Arc<WakeGroup>, Vec<Waker>)>,
}

impl WakeBatch {
    /// Adds a session's waker to its worker's batch.
    pub fn add(&mut self, group: &Arc<WakeGroup>, waker: Waker) {
        match self.groups.iter_mut().find(|(g, _)| Arc::ptr_eq(g, group)) {
            Some((_, wakers)) => wakers.push(waker),
            None => self.groups.push((Arc::clone(group), vec![waker])),
        }
    }

    /// Wakes every group that got wakers (one cross-thread wake each); keeps the allocations.
    pub fn flush(&mut self) {
        for (group, wakers) in &mut self.groups {
            group.wake_all(wakers);
        }
    }
}
