//! The simulated bandwidth: a token bucket per connection (and one for all of them) that
//! says when each piece of a body may leave, and the piece size that keeps pacing smooth.

use std::time::{Duration, Instant};

use crate::network::Rate;

/// How much a paced connection may send at once after being idle.
const BURST: Duration = Duration::from_millis(10);

/// Largest piece of a file read and sent at once.
const MAX_PIECE: usize = 64 * 1024;
/// Pieces small enough that pacing stays smooth: about 4 ms of transfer, 4..64 KiB.
pub(super) fn piece_size(bandwidth: Option<Rate>) -> usize {
    bandwidth.map_or(MAX_PIECE, |r| {
        ((r.bytes_per_s() / 250) as usize).clamp(4 * 1024, MAX_PIECE)
    })
}

/// A token bucket: `reserve` says when a piece may leave so that the average stays at
/// `rate`, allowing a burst of [`BURST`] after idle time (and making up for timer lateness).
pub(super) struct Pacer {
    rate: Rate,
    next: Instant,
}

impl Pacer {
    pub(super) fn new(rate: Rate) -> Pacer {
        Pacer {
            rate,
            next: Instant::now(),
        }
    }

    pub(super) fn reserve(&mut self, now: Instant, bytes: u64) -> Instant {
        let earliest = now.checked_sub(BURST).unwrap_or(now);
        let start = self.next.max(earliest);
        self.next = start + self.rate.time_for(bytes);
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacer_keeps_the_average_rate() {
        let rate = Rate::from_bytes_per_s(1_000_000).unwrap();
        let mut p = Pacer::new(rate);
        let t0 = Instant::now() + Duration::from_secs(1);
        // 10 pieces of 10 kB at 1 MB/s take 100 ms; an idle pacer lets the first BURST
        // (10 ms) go at once, so the last piece leaves 90 ms after they were all ready.
        let mut last = t0;
        for _ in 0..10 {
            last = p.reserve(t0, 10_000);
        }
        assert_eq!(last - t0, Duration::from_millis(90));
        // After idling, again at most BURST goes at once: a 10 ms piece leaves at once.
        let later = last + Duration::from_secs(1);
        assert_eq!(p.reserve(later, 10_000), later);
        // The next one waits its full 10 ms.
        assert_eq!(p.reserve(later, 10_000), later + Duration::from_millis(10));
    }
}
