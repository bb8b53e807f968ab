//! Human units for durations, sizes and rates: every number a front end prints goes
//! through here.

/// `1.23 s`, `45.6 ms`, `789 µs`, `12 ns`, with three significant digits.
pub fn duration_ns(ns: u64) -> String {
    let ns_f = ns as f64;
    if ns >= 60_000_000_000 {
        let s = ns / 1_000_000_000;
        format!("{}min {:02}s", s / 60, s % 60)
    } else if ns >= 1_000_000_000 {
        format!("{} s", sig3(ns_f / 1e9))
    } else if ns >= 1_000_000 {
        format!("{} ms", sig3(ns_f / 1e6))
    } else if ns >= 1_000 {
        format!("{} µs", sig3(ns_f / 1e3))
    } else {
        format!("{ns} ns")
    }
}

/// `72.0 MiB`, `1.50 GiB`, `512 B` (binary units, as chunk sizes are usually quoted).
pub fn bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{b} B")
    } else {
        format!("{} {}", sig3(v), UNITS[unit])
    }
}

/// Decoded megabytes per second (10^6 bytes, like most I/O tools).
pub fn rate_mb_s(bytes: u64, ns: u64) -> String {
    if ns == 0 {
        return "-".into();
    }
    format!("{} MB/s", sig3(bytes as f64 / 1e6 / (ns as f64 / 1e9)))
}

/// A ratio like a speedup: `1.87x`.
pub fn ratio(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.2}x")
    } else {
        "-".into()
    }
}

/// A share as a percentage: `96 %`, `5.2 %` (one decimal below 10 %).
pub fn percent(share: f64) -> String {
    let p = share * 100.0;
    if !p.is_finite() {
        "-".into()
    } else if p.abs() >= 10.0 {
        format!("{p:.0} %")
    } else {
        format!("{p:.1} %")
    }
}

/// A duration given in microseconds, as [`duration_ns`] prints it.
pub fn duration_us(us: u64) -> String {
    duration_ns(us.saturating_mul(1_000))
}

fn sig3(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_pick_their_unit() {
        assert_eq!(duration_ns(12), "12 ns");
        assert_eq!(duration_ns(789_000), "789 µs");
        assert_eq!(duration_ns(45_600_000), "45.6 ms");
        assert_eq!(duration_ns(1_234_000_000), "1.23 s");
        assert_eq!(duration_ns(125_000_000_000), "2min 05s");
    }

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(72 * 1024 * 1024), "72.0 MiB");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024 / 2), "1.50 GiB");
    }

    #[test]
    fn rates_and_ratios() {
        assert_eq!(rate_mb_s(50_000_000, 500_000_000), "100 MB/s");
        assert_eq!(rate_mb_s(1, 0), "-");
        assert_eq!(ratio(1.874), "1.87x");
        assert_eq!(percent(0.9612), "96 %");
        assert_eq!(percent(0.052), "5.2 %");
        assert_eq!(duration_us(12_100), "12.1 ms");
    }
}
