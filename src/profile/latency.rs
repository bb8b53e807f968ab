//! Per-stage distributions of task durations: HdrHistograms of microseconds, their summary
//! (p50/p90/p99/max, mean ± σ) for the run report, and a compact text form of the histogram
//! itself so summaries written to files can be merged again later. Plain data, built on
//! whichever thread folds the run's task records.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{
    DeserializeError, Deserializer, Serializer, V2DeflateSerializeError, V2DeflateSerializer,
};
use serde::{Deserialize, Serialize};

use crate::task::{Stage, TaskRecord};

/// Values are kept to 3 significant figures: exact up to 2047 µs, within 0.1 % above.
pub const SIGNIFICANT_FIGURES: u8 = 3;

/// The range a new histogram covers without growing (one hour, in µs); longer durations
/// still record, the histogram resizes itself.
pub const INITIAL_MAX_US: u64 = 3_600_000_000;

#[derive(Debug, thiserror::Error)]
pub enum LatencyError {
    #[error("cannot encode the latency histogram")]
    Encode(#[source] V2DeflateSerializeError),
    #[error("the latency histogram text is not valid base64")]
    Base64(#[source] base64::DecodeError),
    #[error("the latency histogram text does not hold an HdrHistogram (V2, deflate)")]
    Decode(#[source] DeserializeError),
}

/// Task durations in microseconds.
#[derive(Debug, Clone)]
pub struct LatencyHistogram(Histogram<u64>);

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

/// Equal when they hold the same counts at the same values, however large each has grown.
impl PartialEq for LatencyHistogram {
    fn eq(&self, other: &Self) -> bool {
        let counts = |h: &Histogram<u64>| {
            h.iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect::<Vec<_>>()
        };
        self.0.sigfig() == other.0.sigfig()
            && self.count() == other.count()
            && counts(&self.0) == counts(&other.0)
    }
}

impl LatencyHistogram {
    pub fn new() -> Self {
        let mut h = Histogram::new_with_max(INITIAL_MAX_US, SIGNIFICANT_FIGURES)
            .expect("constant bounds meet HdrHistogram's preconditions (high >= 2, sigfig <= 5)");
        h.auto(true);
        Self(h)
    }

    /// Records one task's duration, rounded to the nearest microsecond.
    pub fn record(&mut self, duration_ns: u64) {
        // With auto-resize on, only a value beyond what a usize-indexed array can cover
        // fails; that is recorded as the largest trackable value.
        self.0
            .saturating_record(duration_ns.saturating_add(500) / 1_000);
    }

    /// Adds every value of `other` (another stage's or run's durations) to this one.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        if self.0.add(&other.0).is_err() {
            // Only reachable if resizing fails; add value by value, saturating.
            for v in other.0.iter_recorded() {
                self.0
                    .saturating_record_n(v.value_iterated_to(), v.count_at_value());
            }
        }
    }

    /// Number of recorded durations.
    pub fn count(&self) -> u64 {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Smallest duration (0 when empty).
    pub fn min_us(&self) -> u64 {
        self.0.min()
    }

    /// Largest duration, to the histogram's precision (0 when empty).
    pub fn max_us(&self) -> u64 {
        if self.is_empty() { 0 } else { self.0.max() }
    }

    pub fn mean_us(&self) -> f64 {
        self.0.mean()
    }

    /// Population standard deviation (divides by n, as HdrHistogram does).
    pub fn stdev_us(&self) -> f64 {
        self.0.stdev()
    }

    /// The duration at percentile `p` (0..=100): at least `p` % of tasks took no longer.
    pub fn percentile_us(&self, p: f64) -> u64 {
        if self.is_empty() {
            0
        } else {
            self.0.value_at_percentile(p.clamp(0.0, 100.0))
        }
    }

    /// Counts over `buckets` equal-width ranges from min to max (the last one includes max),
    /// so a single slow task shows as a lone bar at the right rather than vanishing in a
    /// percentile. All zeros when empty; empty for 0 buckets.
    pub fn mini_histogram(&self, buckets: usize) -> Vec<u64> {
        let mut counts = vec![0u64; buckets];
        if buckets == 0 || self.is_empty() {
            return counts;
        }
        let (lo, hi) = (self.min_us(), self.max_us());
        let width = u128::from(hi - lo) + 1;
        for v in self.0.iter_recorded() {
            let value = v.value_iterated_to().clamp(lo, hi);
            let idx = (u128::from(value - lo) * buckets as u128 / width) as usize;
            counts[idx.min(buckets - 1)] += v.count_at_value();
        }
        counts
    }

    /// The summary that goes into reports.
    pub fn summary(&self) -> Result<LatencySummary, LatencyError> {
        LatencySummary::from_histogram(self)
    }

    /// The compact text form: HdrHistogram's V2 + DEFLATE encoding in base64 (standard
    /// alphabet, padded), the form HdrHistogram interval logs use in every language.
    pub fn to_compact(&self) -> Result<String, LatencyError> {
        let mut bytes = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&self.0, &mut bytes)
            .map_err(LatencyError::Encode)?;
        Ok(base64_encode(&bytes))
    }

    /// Reads what [`LatencyHistogram::to_compact`] wrote.
    pub fn from_compact(text: &str) -> Result<Self, LatencyError> {
        let bytes = base64_decode(text).map_err(LatencyError::Base64)?;
        let mut h: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(LatencyError::Decode)?;
        h.auto(true);
        Ok(Self(h))
    }

    /// The underlying HdrHistogram (values in µs), for iterations this type does not wrap.
    pub fn as_hdr(&self) -> &Histogram<u64> {
        &self.0
    }
}

/// One stage's task durations for the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub count: u64,
    pub min_us: u64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    pub mean_us: f64,
    /// Population standard deviation.
    pub stdev_us: f64,
    /// The histogram itself, in [`LatencyHistogram::to_compact`] form; decode it with
    /// [`LatencySummary::histogram`] to merge summaries from several files.
    pub histogram: String,
}

impl LatencySummary {
    pub fn from_histogram(h: &LatencyHistogram) -> Result<Self, LatencyError> {
        Ok(Self {
            count: h.count(),
            min_us: h.min_us(),
            p50_us: h.percentile_us(50.0),
            p90_us: h.percentile_us(90.0),
            p99_us: h.percentile_us(99.0),
            max_us: h.max_us(),
            mean_us: h.mean_us(),
            stdev_us: h.stdev_us(),
            histogram: h.to_compact()?,
        })
    }

    /// The histogram the summary was made from.
    pub fn histogram(&self) -> Result<LatencyHistogram, LatencyError> {
        LatencyHistogram::from_compact(&self.histogram)
    }
}

/// One histogram per stage that ran at least one task, in [`Stage::ALL`] order. Help with a
/// write is part of that write, not a task: it is left out.
pub fn per_stage(tasks: &[TaskRecord]) -> Vec<(Stage, LatencyHistogram)> {
    Stage::ALL
        .iter()
        .filter_map(|&stage| {
            let mut h = LatencyHistogram::new();
            for t in tasks.iter().filter(|t| t.stage == stage && !t.helping) {
                h.record(t.duration_ns());
            }
            (!h.is_empty()).then_some((stage, h))
        })
        .collect()
}

/// Base64, standard alphabet, with padding (RFC 4648 §4), as HdrHistogram's tools read it.
fn base64_encode(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}

/// Inverse of [`base64_encode`]; ASCII whitespace (a wrapped line) is skipped, anything
/// else malformed is an error.
fn base64_decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let symbols: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    BASE64.decode(symbols)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors_and_round_trips() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base64_encode(plain.as_bytes()), encoded);
            assert_eq!(base64_decode(encoded).as_deref(), Ok(plain.as_bytes()));
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(base64_decode(&base64_encode(&all)), Ok(all));
        assert_eq!(base64_decode("Zm9v\nYmFy"), Ok(b"foobar".to_vec()));
    }

    #[test]
    fn base64_rejects_malformed_text() {
        assert!(base64_decode("Zm9").is_err());
        assert!(base64_decode("Zg==Zm9v").is_err());
        assert!(base64_decode("Z===").is_err());
        assert!(base64_decode("Zm9*").is_err());
        assert!(base64_decode("Z=9v").is_err());
    }

    #[test]
    fn durations_round_to_the_nearest_microsecond() {
        let mut h = LatencyHistogram::new();
        h.record(1_499);
        h.record(1_500);
        assert_eq!((h.min_us(), h.max_us()), (1, 2));
    }
}
