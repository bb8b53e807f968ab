//! Sentences written from measured timings: which of two configurations was faster, by how
//! much, and whether that is beyond the noise of their runs. Every conclusion the lesson
//! shows comes from here or from figures beside it, never from a fixed text. Pure; runs on
//! whichever thread asks.

use serde::Serialize;

use crate::profile::stats::{MIN_DECIDING_RUNS, Speedup, Timing};
use crate::profile::units;
use crate::profile::verdict::{Outcome, Verdict};

/// Two timings side by side and what can be said of them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// `a`'s median / `b`'s median: above 1 when `b` is faster.
    pub speedup: Speedup,
    /// `Some(true)` when every run of one beat every run of the other (see
    /// [`crate::profile::stats::differ`]); `Some(false)` inside the noise; `None` with too
    /// few runs.
    pub differ: Option<bool>,
    /// Both sides have at least [`MIN_DECIDING_RUNS`] runs.
    pub enough_runs: bool,
    /// What the runs say, as a value; `verdict` is its one sentence.
    pub outcome: Verdict,
    /// One line, e.g. "chunked x 2 is 2.9x faster than serial, beyond the noise", from
    /// [`crate::profile::verdict::describe`] and nowhere else.
    pub verdict: String,
}

impl Comparison {
    /// Compares `b` against the reference `a` (speedup = a / b).
    pub fn of(a_label: &str, a: &Timing, b_label: &str, b: &Timing) -> Option<Self> {
        let outcome = Verdict::of(a_label, a, b_label, b)?;
        let differ = match outcome.outcome {
            Outcome::OneRun => None,
            Outcome::InsideNoise => Some(false),
            Outcome::Faster | Outcome::Slower | Outcome::TooFewRuns => Some(true),
        };
        Some(Self {
            speedup: outcome.speedup,
            differ,
            enough_runs: a.n >= MIN_DECIDING_RUNS && b.n >= MIN_DECIDING_RUNS,
            verdict: outcome.sentence(),
            outcome,
        })
    }

    /// The difference is measured beyond the noise.
    pub fn decided(&self) -> bool {
        self.outcome.decided()
    }
}

/// The words a comparison's verdict uses for the noise: "beyond the noise", "inside the
/// noise", "too few" (runs) or "single run", as [`crate::profile::verdict::describe`] says
/// them, so a screen can check that they are on it.
pub fn noise_words(c: &Comparison) -> &'static str {
    match c.outcome.outcome {
        Outcome::Faster | Outcome::Slower => "beyond the noise",
        Outcome::InsideNoise => "inside the noise",
        Outcome::TooFewRuns => "too few",
        Outcome::OneRun => "single run",
    }
}

/// `1.23 s ± 0.04 s (1.19…1.28 s, n=3)`: a median with its spread, as every step shows it.
pub fn with_spread(t: &Timing) -> String {
    units::spread(t.median_ns, t.stdev_ns, t.min_ns, t.max_ns, t.n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(ms: &[u64]) -> Timing {
        Timing::from_ns(&ms.iter().map(|m| m * 1_000_000).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn separated_runs_are_beyond_the_noise_and_overlapping_ones_inside_it() {
        let serial = timing(&[300, 310, 305]);
        let fast = timing(&[100, 104, 102]);
        let c = Comparison::of("serial", &serial, "chunked", &fast).unwrap();
        assert!(c.decided());
        assert!(
            c.verdict.starts_with("chunked is 2.99x faster than serial"),
            "{}",
            c.verdict
        );
        assert!(c.verdict.contains("beyond the noise"));

        let close = timing(&[295, 320, 330]);
        let c = Comparison::of("serial", &serial, "chunked", &close).unwrap();
        assert_eq!(c.differ, Some(false));
        assert!(c.verdict.contains("inside the noise"), "{}", c.verdict);

        let once = timing(&[100]);
        let c = Comparison::of("serial", &serial, "chunked", &once).unwrap();
        assert!(!c.decided());
        assert!(c.verdict.contains("single run"), "{}", c.verdict);
    }
}
