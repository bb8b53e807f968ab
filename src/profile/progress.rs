//! Progress of a run still going: how far it is and an estimate of what is left. The only
//! estimate chunkscope makes; every front end that shows it labels it as one. Pure
//! arithmetic, callable from any thread.

/// Estimated time left, by linear extrapolation from the tasks done so far: elapsed x
/// remaining / done (the assumption being that the remaining tasks take as long on average
/// as the finished ones, which a staged run's later, shorter stages break). `None` before
/// the first task is done; `Some(0)` when all are.
pub fn eta_ns(done: usize, total: usize, elapsed_ns: u64) -> Option<u64> {
    if done == 0 {
        return None;
    }
    let remaining = total.saturating_sub(done) as u128;
    u64::try_from(u128::from(elapsed_ns) * remaining / done as u128).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_extrapolates_linearly() {
        assert_eq!(eta_ns(0, 10, 1_000), None);
        assert_eq!(eta_ns(5, 10, 1_000), Some(1_000));
        assert_eq!(eta_ns(2, 10, 1_000), Some(4_000));
        assert_eq!(eta_ns(10, 10, 1_000), Some(0));
        assert_eq!(eta_ns(12, 10, 1_000), Some(0));
    }
}
