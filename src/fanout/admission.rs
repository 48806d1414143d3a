//! Admission of subscribers: `max_subscribers` applied at upgrade time, across every HTTP
//! worker, with a permit that each session holds until it stops.

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

/// Shared by the subscribe route (which admits), the sessions (which hold permits) and the hub
/// (which closes the door at shutdown and waits for the last permit).
#[derive(Debug)]
pub struct Admission {
    max: usize,
    active: AtomicUsize,
    closing: AtomicBool,
}

/// Why a subscriber was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Full,
    ShuttingDown,
}

/// One admitted subscriber; dropping it frees the slot.
#[derive(Debug)]
pub struct Permit {
    admission: Arc<Admission>,
}

impl Admission {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max,
            active: AtomicUsize::new(0),
            closing: AtomicBool::new(false),
        })
    }

    /// Takes a slot if one is free and the service is not shutting down.
    pub fn try_admit(self: &Arc<Self>) -> Result<Permit, Refused> {
        if self.closing.load(Ordering::Acquire) {
            return Err(Refused::ShuttingDown);
        }
        self.active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .map_err(|_| Refused::Full)?;
        Ok(Permit {
            admission: Arc::clone(self),
        })
    }

    /// Permits held now (admitted sessions that have not stopped yet).
    pub fn active(&self) -> usize {
        self.active.load(Ordering::Acquire)
    }

    /// Refuses every later upgrade (shutdown).
    pub fn close(&self) {
        self.closing.store(true, Ordering::Release);
    }

    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.admission.active.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_are_capped_and_returned_on_drop() {
        let admission = Admission::new(2);
        let a = admission.try_admit().unwrap();
        let _b = admission.try_admit().unwrap();
        assert_eq!(admission.try_admit().unwrap_err(), Refused::Full);
        drop(a);
        let _c = admission.try_admit().unwrap();
        assert_eq!(admission.active(), 2);
        admission.close();
        assert_eq!(admission.try_admit().unwrap_err(), Refused::ShuttingDown);
    }
}
