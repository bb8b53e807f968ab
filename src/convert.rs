//! Conversions between number types, one named function per kind, so that every place that
//! narrows a number does it the same way and says what happens at the edges. Pure functions,
//! callable from any thread.
//!
//! The rule they share: a value out of the target's range is clamped to the nearest value
//! the target holds (a negative or NaN float gives 0), never wrapped. That is what Rust's
//! float-to-integer `as` already does since 1.45, so the float functions below change no
//! result the casts they replace gave; the integer ones replace casts that would wrap.

use std::time::Duration;

/// `x` rounded to the nearest integer (halves away from zero); NaN and negatives give 0,
/// values past `u64::MAX` give `u64::MAX`.
pub fn round_u64(x: f64) -> u64 {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a float-to-int `as` saturates and maps NaN to 0, which is the documented result"
    )]
    let n = x.round() as u64;
    n
}

/// `x` rounded to the nearest integer, as [`round_u64`], for counts and indices.
pub fn round_usize(x: f64) -> usize {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a float-to-int `as` saturates and maps NaN to 0, which is the documented result"
    )]
    let n = x.round() as usize;
    n
}

/// The largest integer not above `x`, clamped to `usize` as [`round_u64`] (NaN gives 0).
pub fn floor_usize(x: f64) -> usize {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a float-to-int `as` saturates and maps NaN to 0, which is the documented result"
    )]
    let n = x.floor() as usize;
    n
}

/// The smallest integer not below `x`, clamped to `usize` as [`round_u64`] (NaN gives 0).
pub fn ceil_usize(x: f64) -> usize {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a float-to-int `as` saturates and maps NaN to 0, which is the documented result"
    )]
    let n = x.ceil() as usize;
    n
}

/// Seconds (as Python and JSON give them) to whole nanoseconds, rounded and clamped as
/// [`round_u64`].
pub fn secs_to_ns(s: f64) -> u64 {
    round_u64(s * 1e9)
}

/// Microseconds (a per-task cost, say) to whole nanoseconds, rounded and clamped as
/// [`round_u64`].
pub fn us_to_ns(us: f64) -> u64 {
    round_u64(us * 1e3)
}

/// A duration in nanoseconds, `u64::MAX` (about 584 years) for anything longer.
pub fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// `a - b` as a signed number (a difference of two durations, say), clamped to the `i64`
/// range instead of wrapping.
pub fn signed_diff(a: u64, b: u64) -> i64 {
    if a >= b {
        i64::try_from(a - b).unwrap_or(i64::MAX)
    } else {
        i64::try_from(b - a).map_or(i64::MIN, |d| -d)
    }
}

/// The index `step` places from `i` in a ring of `n` (forward when `step` is positive,
/// back when negative, wrapping at either end): the next or previous field, page or option.
/// 0 for an empty ring.
pub fn ring_step(i: usize, step: isize, n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    let (i, k) = (i % n, step.unsigned_abs() % n);
    if step < 0 {
        (i + n - k) % n
    } else {
        (i + k) % n
    }
}

/// A count or position as `u16` (terminal cells, worker ids), `u16::MAX` when larger.
pub fn clamp_u16(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// A count or index as `u32` (chunk ids, file offsets of a classic TIFF), `u32::MAX` when
/// larger.
pub fn clamp_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A 64-bit count as `usize`, `usize::MAX` when larger (only on targets narrower than 64
/// bits).
pub fn clamp_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// `x` to the nearest `f32` (for shares and percentages, where `f32` precision is plenty);
/// beyond `f32`'s range it becomes an infinity, NaN stays NaN.
pub fn to_f32(x: f64) -> f32 {
    #[allow(
        clippy::cast_possible_truncation,
        reason = "f64 to f32 rounds to the nearest f32, which is the documented result"
    )]
    let y = x as f32;
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_to_u64_rounds_and_clamps() {
        assert_eq!(round_u64(0.0), 0);
        assert_eq!(round_u64(2.4), 2);
        assert_eq!(round_u64(2.5), 3);
        assert_eq!(round_u64(-0.4), 0);
        assert_eq!(round_u64(-7.0), 0);
        assert_eq!(round_u64(f64::NAN), 0);
        assert_eq!(round_u64(f64::NEG_INFINITY), 0);
        assert_eq!(round_u64(f64::INFINITY), u64::MAX);
        assert_eq!(round_u64(1e30), u64::MAX);
        assert_eq!(round_u64(9_007_199_254_740_992.0), 9_007_199_254_740_992);
    }

    #[test]
    fn usize_rounding_floor_and_ceil() {
        assert_eq!(round_usize(3.5), 4);
        assert_eq!(round_usize(-3.5), 0);
        assert_eq!(round_usize(f64::NAN), 0);
        assert_eq!(round_usize(1e300), usize::MAX);
        assert_eq!(floor_usize(3.999), 3);
        assert_eq!(floor_usize(-0.5), 0);
        assert_eq!(floor_usize(f64::NAN), 0);
        assert_eq!(floor_usize(f64::INFINITY), usize::MAX);
        assert_eq!(ceil_usize(3.001), 4);
        assert_eq!(ceil_usize(3.0), 3);
        assert_eq!(ceil_usize(-0.5), 0);
        assert_eq!(ceil_usize(f64::NAN), 0);
    }

    #[test]
    fn seconds_and_microseconds_to_nanoseconds() {
        assert_eq!(secs_to_ns(1.5), 1_500_000_000);
        // 1.005 s times 1e9 is 1_004_999_999.9999999 in binary: rounding, not truncating.
        assert_eq!(secs_to_ns(1.005), 1_005_000_000);
        assert_eq!(secs_to_ns(-1.0), 0);
        assert_eq!(secs_to_ns(f64::NAN), 0);
        assert_eq!(secs_to_ns(1e12), u64::MAX);
        assert_eq!(us_to_ns(0.2), 200);
        assert_eq!(us_to_ns(123.4567), 123_457);
        assert_eq!(us_to_ns(-5.0), 0);
        assert_eq!(us_to_ns(f64::INFINITY), u64::MAX);
    }

    #[test]
    fn durations_saturate_at_u64_max() {
        assert_eq!(duration_ns(Duration::ZERO), 0);
        assert_eq!(duration_ns(Duration::from_millis(3)), 3_000_000);
        assert_eq!(duration_ns(Duration::from_nanos(u64::MAX)), u64::MAX);
        assert_eq!(duration_ns(Duration::MAX), u64::MAX);
    }

    #[test]
    fn integers_clamp_instead_of_wrapping() {
        assert_eq!(clamp_u16(0), 0);
        assert_eq!(clamp_u16(80), 80);
        assert_eq!(clamp_u16(65_535), u16::MAX);
        // `65_536 as u16` would be 0: a screen would draw at the left edge.
        assert_eq!(clamp_u16(65_536), u16::MAX);
        assert_eq!(clamp_u16(usize::MAX), u16::MAX);
        assert_eq!(clamp_u32(7), 7);
        assert_eq!(clamp_u32(usize::MAX), u32::MAX);
        assert_eq!(clamp_usize(42), 42);
        assert_eq!(clamp_usize(u64::MAX), usize::MAX);
    }

    #[test]
    fn signed_differences_clamp() {
        assert_eq!(signed_diff(5, 3), 2);
        assert_eq!(signed_diff(3, 5), -2);
        assert_eq!(signed_diff(7, 7), 0);
        assert_eq!(signed_diff(u64::MAX, 0), i64::MAX);
        assert_eq!(signed_diff(0, u64::MAX), i64::MIN);
        assert_eq!(signed_diff(0, 1 << 63), i64::MIN);
        assert_eq!(signed_diff(1 << 63, 1), i64::MAX);
    }

    #[test]
    fn ring_steps_wrap_both_ways() {
        assert_eq!(ring_step(0, 1, 3), 1);
        assert_eq!(ring_step(2, 1, 3), 0);
        assert_eq!(ring_step(0, -1, 3), 2);
        assert_eq!(ring_step(1, -7, 3), 0);
        assert_eq!(ring_step(1, 0, 3), 1);
        assert_eq!(ring_step(5, 0, 3), 2);
        assert_eq!(ring_step(0, isize::MIN, 3), 1);
        assert_eq!(ring_step(0, isize::MAX, 3), 1);
        assert_eq!(ring_step(4, 1, 0), 0);
    }

    #[test]
    fn f32_is_the_nearest_float() {
        assert_eq!(to_f32(0.5), 0.5);
        assert_eq!(to_f32(1.0 / 3.0), 1.0_f32 / 3.0);
        assert_eq!(to_f32(1e300), f32::INFINITY);
        assert_eq!(to_f32(-1e300), f32::NEG_INFINITY);
        assert!(to_f32(f64::NAN).is_nan());
    }
}
