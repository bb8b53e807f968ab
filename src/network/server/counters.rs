//! The server's traffic counts: requests, ranges and body bytes in total and per worker,
//! and responses per status. Kept under one lock by the server thread, read by the
//! engine through [`super::Probe`].

use std::collections::HashMap;

use http::StatusCode;

/// Traffic as the server saw it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TrafficCounts {
    /// HTTP requests received (any method, any status).
    pub requests: u64,
    /// Byte ranges asked for: one per range of a `Range` header, none without one.
    pub ranges: u64,
    /// Response body bytes sent.
    pub bytes: u64,
}

impl TrafficCounts {
    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &TrafficCounts) -> TrafficCounts {
        TrafficCounts {
            requests: self.requests.saturating_sub(earlier.requests),
            ranges: self.ranges.saturating_sub(earlier.ranges),
            bytes: self.bytes.saturating_sub(earlier.bytes),
        }
    }

    pub fn add(&mut self, other: &TrafficCounts) {
        self.requests += other.requests;
        self.ranges += other.ranges;
        self.bytes += other.bytes;
    }
}

/// Everything the server counted so far.
#[derive(Default)]
pub(super) struct Counters {
    pub(super) total: TrafficCounts,
    pub(super) by_worker: HashMap<u32, TrafficCounts>,
    pub(super) by_status: HashMap<u16, u64>,
}

impl Counters {
    /// A request received, from `worker` when its User-Agent names one, asking for
    /// `ranges` byte ranges.
    pub(super) fn request(&mut self, worker: Option<u32>, ranges: u64) {
        let add = |t: &mut TrafficCounts| {
            t.requests += 1;
            t.ranges += ranges;
        };
        add(&mut self.total);
        if let Some(w) = worker {
            add(self.by_worker.entry(w).or_default());
        }
    }

    /// Body bytes sent to `worker` (or to a client that named none).
    pub(super) fn bytes(&mut self, worker: Option<u32>, bytes: u64) {
        self.total.bytes += bytes;
        if let Some(w) = worker {
            self.by_worker.entry(w).or_default().bytes += bytes;
        }
    }

    /// A response with `status`.
    pub(super) fn status(&mut self, status: StatusCode) {
        *self.by_status.entry(status.as_u16()).or_default() += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_worker_is_counted_in_the_total_and_apart() {
        let mut c = Counters::default();
        c.request(Some(1), 3);
        c.request(None, 0);
        c.bytes(Some(1), 100);
        c.bytes(None, 20);
        c.status(StatusCode::PARTIAL_CONTENT);
        c.status(StatusCode::PARTIAL_CONTENT);
        c.status(StatusCode::NOT_FOUND);
        let total = TrafficCounts {
            requests: 2,
            ranges: 3,
            bytes: 120,
        };
        assert_eq!(c.total, total);
        let one = TrafficCounts {
            requests: 1,
            ranges: 3,
            bytes: 100,
        };
        assert_eq!(c.by_worker.get(&1), Some(&one));
        assert_eq!(c.by_worker.len(), 1, "a client without a name has no entry");
        assert_eq!(c.by_status.get(&206), Some(&2));
        assert_eq!(c.by_status.get(&404), Some(&1));
        assert_eq!(
            total.since(&one),
            TrafficCounts {
                requests: 1,
                ranges: 0,
                bytes: 20
            }
        );
    }
}
