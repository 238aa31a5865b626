//! [`Times`]: how many calls a stub rule expects.

use std::{
    fmt,
    ops::{Range, RangeFrom, RangeFull, RangeInclusive, RangeTo, RangeToInclusive},
};

/// How many calls a [`StubRule`](crate::mock::StubRule) expects: a count or a range, given to
/// [`expect`](crate::mock::StubRule::expect) as `2`, `1..`, `..=3`, `2..5` or `0` (never).
///
/// # Examples
///
/// ```
/// use tonic_testkit::mock::Times;
///
/// assert!(Times::from(1..).contains(5));
/// assert!(!Times::from(..=3).contains(4));
/// assert_eq!(Times::from(2).to_string(), "exactly 2 calls");
/// assert_eq!(Times::from(1..).to_string(), "at least 1 call");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Times {
    min: usize,
    /// Inclusive; `None`: no upper bound.
    max: Option<usize>,
}

impl Times {
    /// Whether `calls` calls meet the expectation.
    pub fn contains(&self, calls: usize) -> bool {
        calls >= self.min && self.max.is_none_or(|max| calls <= max)
    }

    /// The expectation as a test writes it: `2`, `1..`, `..=3`, `2..=4`, `..`.
    pub(crate) fn written(&self) -> String {
        match (self.min, self.max) {
            (min, Some(max)) if min == max => min.to_string(),
            (0, Some(max)) => format!("..={max}"),
            (0, None) => "..".to_owned(),
            (min, None) => format!("{min}.."),
            (min, Some(max)) => format!("{min}..={max}"),
        }
    }

    /// The fewest calls the expectation needs.
    pub(crate) fn min(&self) -> usize {
        self.min
    }

    #[track_caller]
    fn new(min: usize, max: Option<usize>) -> Self {
        if let Some(max) = max {
            assert!(min <= max, "Times: an empty range ({min} to {max}) matches no count of calls");
        }
        Self { min, max }
    }
}

fn calls(n: usize) -> String {
    match n {
        1 => "1 call".to_owned(),
        n => format!("{n} calls"),
    }
}

impl fmt::Display for Times {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min, self.max) {
            (0, Some(0)) => f.write_str("no calls"),
            (min, Some(max)) if min == max => write!(f, "exactly {}", calls(min)),
            (0, Some(max)) => write!(f, "at most {}", calls(max)),
            (0, None) => f.write_str("any number of calls"),
            (min, None) => write!(f, "at least {}", calls(min)),
            (min, Some(max)) => write!(f, "between {min} and {}", calls(max)),
        }
    }
}

impl From<usize> for Times {
    fn from(n: usize) -> Self {
        Self::new(n, Some(n))
    }
}

impl From<RangeFrom<usize>> for Times {
    fn from(range: RangeFrom<usize>) -> Self {
        Self::new(range.start, None)
    }
}

impl From<RangeFull> for Times {
    fn from(_: RangeFull) -> Self {
        Self::new(0, None)
    }
}

impl From<RangeTo<usize>> for Times {
    #[track_caller]
    fn from(range: RangeTo<usize>) -> Self {
        assert!(range.end > 0, "Times: ..0 is an empty range; expect(0) means no calls");
        Self::new(0, Some(range.end - 1))
    }
}

impl From<RangeToInclusive<usize>> for Times {
    fn from(range: RangeToInclusive<usize>) -> Self {
        Self::new(0, Some(range.end))
    }
}

impl From<Range<usize>> for Times {
    #[track_caller]
    fn from(range: Range<usize>) -> Self {
        assert!(range.end > range.start, "Times: {range:?} is an empty range");
        Self::new(range.start, Some(range.end - 1))
    }
}

impl From<RangeInclusive<usize>> for Times {
    #[track_caller]
    fn from(range: RangeInclusive<usize>) -> Self {
        Self::new(*range.start(), Some(*range.end()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_says_what_it_expects() {
        let cases: [(Times, &str); 8] = [
            (0.into(), "no calls"),
            (1.into(), "exactly 1 call"),
            ((1..).into(), "at least 1 call"),
            ((..=3).into(), "at most 3 calls"),
            ((..3).into(), "at most 2 calls"),
            ((2..5).into(), "between 2 and 4 calls"),
            ((2..=5).into(), "between 2 and 5 calls"),
            ((..).into(), "any number of calls"),
        ];
        for (times, text) in cases {
            assert_eq!(times.to_string(), text);
        }
        assert!(Times::from(2..5).contains(4) && !Times::from(2..5).contains(5));
    }
}
