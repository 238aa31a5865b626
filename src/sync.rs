//! The one helper for the kit's locks.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks a mutex that a panic elsewhere may have poisoned; the data stays consistent because
/// no critical section here can panic half-way.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
