//! When a fault ends: a moment of tokio time, or never.
//!
//! `Instant + Duration` panics when the sum is past what an `Instant` can hold, as
//! `Duration::MAX` is. Every duration the faults accept may be that large ("for good"), so each
//! sum goes through [`Deadline::after`], which makes it [`Never`](Deadline::Never) instead.

use std::time::Duration;

use tokio::time::Instant;

/// The duration that means "for good": waits of this length never end.
pub(crate) const FOR_GOOD: Duration = Duration::MAX;

/// A moment of tokio time, or never. `At` comes before `Never`, so the later of two deadlines
/// is their `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Deadline {
    At(Instant),
    Never,
}

impl Deadline {
    /// `duration` after `start`; never when that is past what an `Instant` can hold.
    pub(crate) fn after(start: Instant, duration: Duration) -> Self {
        start.checked_add(duration).map_or(Self::Never, Self::At)
    }

    /// `duration` after `self`.
    pub(crate) fn then(self, duration: Duration) -> Self {
        match self {
            Self::At(at) => Self::after(at, duration),
            Self::Never => Self::Never,
        }
    }

    /// Whether the deadline has come on the tokio clock.
    pub(crate) fn has_passed(self) -> bool {
        matches!(self, Self::At(at) if Instant::now() >= at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duration_past_what_an_instant_holds_is_never() {
        let now = Instant::now();

        assert_eq!(Deadline::after(now, Duration::MAX), Deadline::Never);
        assert_eq!(Deadline::after(now, Duration::ZERO).then(Duration::MAX), Deadline::Never);
        assert!(Deadline::after(now, Duration::from_secs(1)) < Deadline::Never);
        assert!(!Deadline::Never.has_passed());
        assert!(Deadline::after(now, Duration::ZERO).has_passed());
    }
}
