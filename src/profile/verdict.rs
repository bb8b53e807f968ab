//! What two timed configurations can be said to differ by, as a value ([`Verdict`]), and
//! the one sentence every screen shows for it ([`describe`]). A conclusion is never
//! written anywhere else: the lesson's steps, compare and the Results screen all word it
//! here, so no screen can say the opposite of the numbers beside it. Pure; runs on
//! whichever thread asks.

use serde::{Deserialize, Serialize};

use super::stats::{self, MIN_DECIDING_RUNS, Speedup, Timing};
use super::units;

/// What the runs of a candidate `b` say against a reference `a`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every run of `b` beat every run of `a`, each with enough runs.
    Faster,
    /// Every run of `a` beat every run of `b`, each with enough runs.
    Slower,
    /// Their runs overlap (min…max): which is faster is within the noise.
    InsideNoise,
    /// Runs do not overlap but a side has fewer than [`MIN_DECIDING_RUNS`].
    TooFewRuns,
    /// A side ran once: no spread to judge by.
    OneRun,
}

/// Two timings compared, with everything the sentence needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The reference, e.g. `serial`.
    pub a_label: String,
    /// The candidate, e.g. `chunked x 2`.
    pub b_label: String,
    pub outcome: Outcome,
    /// `a`'s median / `b`'s median: above 1 when `b` is faster.
    pub speedup: Speedup,
    pub a_median_ns: u64,
    pub b_median_ns: u64,
    /// Runs of the side with fewer.
    pub min_runs: usize,
    /// Runs of both sides together, and how many of them were disturbed (others held more
    /// than [`super::interference::DISTURBED_CORES`]).
    pub runs: usize,
    pub disturbed_runs: usize,
}

impl Verdict {
    /// `b` against the reference `a`; `None` when `b`'s median is 0.
    pub fn of(a_label: &str, a: &Timing, b_label: &str, b: &Timing) -> Option<Self> {
        let speedup = Speedup::of(a, b)?;
        let outcome = match stats::differ(a, b) {
            None => Outcome::OneRun,
            Some(false) => Outcome::InsideNoise,
            Some(true) if a.n.min(b.n) < MIN_DECIDING_RUNS => Outcome::TooFewRuns,
            Some(true) if b.median_ns < a.median_ns => Outcome::Faster,
            Some(true) => Outcome::Slower,
        };
        Some(Self {
            a_label: a_label.to_string(),
            b_label: b_label.to_string(),
            outcome,
            speedup,
            a_median_ns: a.median_ns,
            b_median_ns: b.median_ns,
            min_runs: a.n.min(b.n),
            runs: a.n + b.n,
            disturbed_runs: a.disturbed_runs + b.disturbed_runs,
        })
    }

    /// One side beat the other beyond the noise.
    pub fn decided(&self) -> bool {
        matches!(self.outcome, Outcome::Faster | Outcome::Slower)
    }

    /// Some runs it rests on were disturbed by other programs.
    pub fn disturbed(&self) -> bool {
        self.disturbed_runs > 0
    }

    /// [`describe`].
    pub fn sentence(&self) -> String {
        describe(self)
    }
}

/// The one sentence for a verdict, e.g. "chunked x 2 is 1.93x faster than serial, beyond
/// the noise (every run of it was faster)". Disturbed runs add a clause saying the
/// difference (or its absence) may be the machine's load.
pub fn describe(v: &Verdict) -> String {
    let (a, b) = (&v.a_label, &v.b_label);
    let s = v.speedup.value;
    // The faster side by median and by how much, for the undecided wordings.
    let (fast, factor) = if s >= 1.0 { (b, s) } else { (a, 1.0 / s) };
    let main = match v.outcome {
        Outcome::Faster => format!(
            "{b} is {} faster than {a}, beyond the noise (every run of it was faster)",
            units::ratio(s)
        ),
        Outcome::Slower => format!(
            "{b} is {} slower than {a}, beyond the noise (every run of it was slower)",
            units::ratio(1.0 / s)
        ),
        Outcome::InsideNoise => format!(
            "{a} {} vs {b} {}: inside the noise, their runs overlap",
            units::duration_ns(v.a_median_ns),
            units::duration_ns(v.b_median_ns)
        ),
        Outcome::TooFewRuns => format!(
            "{fast} was {} faster by median, but {} runs each are too few to tell it from noise",
            units::ratio(factor),
            v.min_runs
        ),
        Outcome::OneRun => format!(
            "{fast} was {} faster in a single run: one run has no spread to tell it from \
             noise; repeat it",
            units::ratio(factor)
        ),
    };
    if !v.disturbed() {
        return main;
    }
    let runs = format!(
        "{} of its {} runs were disturbed (other programs held over {} cores on average)",
        v.disturbed_runs,
        v.runs,
        super::interference::DISTURBED_CORES
    );
    match v.outcome {
        Outcome::InsideNoise | Outcome::TooFewRuns | Outcome::OneRun => {
            format!("{main}; {runs}, which may hide or make a difference")
        }
        Outcome::Faster | Outcome::Slower => {
            format!("{main}, but {runs}: the machine's load may be the cause")
        }
    }
}

/// The clause a decision over many configurations (a sweep's best) adds when some of its
/// runs were disturbed; `None` when none was.
pub fn disturbed_note(disturbed_runs: usize, runs: usize) -> Option<String> {
    (disturbed_runs > 0).then(|| {
        format!(
            "This verdict rests on disturbed runs: in {disturbed_runs} of {runs} runs other \
             programs held over {} cores on average; run it again on a quieter machine.",
            super::interference::DISTURBED_CORES
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(ms: &[u64]) -> Timing {
        Timing::from_ns(&ms.iter().map(|m| m * 1_000_000).collect::<Vec<_>>()).unwrap()
    }

    fn verdict(a: &[u64], b: &[u64]) -> Verdict {
        Verdict::of("serial", &timing(a), "chunked x 2", &timing(b)).unwrap()
    }

    #[test]
    fn faster_beyond_the_noise() {
        let v = verdict(&[300, 310, 305], &[100, 104, 102]);
        assert_eq!(v.outcome, Outcome::Faster);
        assert!(v.decided());
        assert_eq!(
            v.sentence(),
            "chunked x 2 is 2.99x faster than serial, beyond the noise (every run of it was \
             faster)"
        );
    }

    #[test]
    fn slower_beyond_the_noise_names_the_candidate_slower() {
        // The case: serial faster by 1.29x. The sentence must not call chunked faster.
        let v = verdict(&[100, 101, 102], &[129, 130, 131]);
        assert_eq!(v.outcome, Outcome::Slower);
        let s = v.sentence();
        assert!(
            s.starts_with("chunked x 2 is 1.29x slower than serial, beyond the noise"),
            "{s}"
        );
        assert!(!s.contains("faster than"), "{s}");
    }

    #[test]
    fn inside_the_noise() {
        let v = verdict(&[300, 310, 305], &[295, 320, 330]);
        assert_eq!(v.outcome, Outcome::InsideNoise);
        assert!(!v.decided());
        assert_eq!(
            v.sentence(),
            "serial 305 ms vs chunked x 2 320 ms: inside the noise, their runs overlap"
        );
    }

    #[test]
    fn too_few_runs() {
        let v = verdict(&[300, 310], &[100, 104]);
        assert_eq!(v.outcome, Outcome::TooFewRuns);
        assert!(
            v.sentence().contains("2 runs each are too few"),
            "{}",
            v.sentence()
        );
    }

    #[test]
    fn one_run() {
        let v = verdict(&[300, 310, 305], &[100]);
        assert_eq!(v.outcome, Outcome::OneRun);
        assert!(!v.decided());
        let s = v.sentence();
        assert!(
            s.starts_with("chunked x 2 was 3.05x faster in a single run"),
            "{s}"
        );
    }

    #[test]
    fn a_sweep_on_disturbed_runs_says_so() {
        assert_eq!(disturbed_note(0, 9), None);
        assert!(
            disturbed_note(3, 9)
                .unwrap()
                .starts_with("This verdict rests on disturbed runs: in 3 of 9 runs")
        );
    }

    #[test]
    fn disturbed_runs_are_said() {
        let mut a = timing(&[300, 310, 305]);
        a.disturbed_runs = 2;
        let v = Verdict::of("serial", &a, "chunked x 2", &timing(&[100, 104, 102])).unwrap();
        assert!(v.disturbed());
        let s = v.sentence();
        assert!(
            s.starts_with("chunked x 2 is 2.99x faster than serial"),
            "{s}"
        );
        assert!(
            s.ends_with(
                ", but 2 of its 6 runs were disturbed (other programs held over 0.25 cores on \
                 average): the machine's load may be the cause"
            ),
            "{s}"
        );
        let mut b = timing(&[295, 320, 330]);
        b.disturbed_runs = 1;
        let v = Verdict::of("serial", &timing(&[300, 310, 305]), "chunked x 2", &b).unwrap();
        assert!(
            v.sentence()
                .ends_with("which may hide or make a difference")
        );
    }
}
