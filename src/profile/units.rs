//! Human units for durations, sizes, rates, ratios and shares: every number a front end
//! prints goes through here, one formatter per kind of number, so the same figure reads
//! the same on every screen and in the CLI. Paths shown to people ([`tilde`]) too.

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

/// A median of byte counts with its range, `47.6 MiB (47.3 MiB…49.6 MiB)`; just the value
/// when every run gave the same (exact counts such as chunk buffers).
pub fn bytes_range(median: u64, min: u64, max: u64) -> String {
    if min == max {
        bytes(median)
    } else {
        format!("{} ({}…{})", bytes(median), bytes(min), bytes(max))
    }
}

/// Decoded megabytes per second (10^6 bytes, like most I/O tools); `-` when no bytes
/// were counted (a finalize step, a Dask task stream's store tasks), never a rate of 0.
pub fn rate_mb_s(bytes: u64, ns: u64) -> String {
    if ns == 0 || bytes == 0 {
        return "-".into();
    }
    format!("{} MB/s", sig3(bytes as f64 / 1e6 / (ns as f64 / 1e9)))
}

/// A ratio like a speedup: `1.87x`; from 100 on whole (`3182x`), where the decimals are
/// noise.
pub fn ratio(x: f64) -> String {
    if x.is_finite() && x.abs() >= 100.0 {
        format!("{x:.0}x")
    } else if x.is_finite() {
        format!("{x:.2}x")
    } else {
        "-".into()
    }
}

/// A sparkline of `values` on a shared `scale` (the value drawn as a full block), so that
/// lines printed one under another compare: `▁▃█▅ `. Zero is a blank.
pub fn spark(values: &[u64], scale: u64) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    values
        .iter()
        .map(|&v| {
            if v == 0 || scale == 0 {
                ' '
            } else {
                let i = (u128::from(v) * BARS.len() as u128).div_ceil(u128::from(scale));
                let i = usize::try_from(i).unwrap_or(usize::MAX);
                BARS[i.clamp(1, BARS.len()) - 1]
            }
        })
        .collect()
}

/// A repeated measurement's spread, hyperfine-style: `median 12.3 ms ± 410 µs,
/// 11.9 ms … 12.8 ms, n = 5` (no ± for a single run, whose σ is `None`).
pub fn spread(median_ns: u64, stdev_ns: Option<f64>, min_ns: u64, max_ns: u64, n: usize) -> String {
    format!(
        "median {}, {}, n = {n}",
        median_sd(median_ns, stdev_ns),
        span_ns(min_ns, max_ns)
    )
}

/// A median with its standard deviation: `12.3 ms ± 410 µs` (no ± for a single run).
pub fn median_sd(median_ns: u64, stdev_ns: Option<f64>) -> String {
    match stdev_ns {
        Some(sd) => format!(
            "{} ± {}",
            duration_ns(median_ns),
            duration_ns(crate::convert::round_u64(sd))
        ),
        None => duration_ns(median_ns),
    }
}

/// The range of repeated durations: `11.9 ms … 12.8 ms`.
pub fn span_ns(min_ns: u64, max_ns: u64) -> String {
    format!("{} … {}", duration_ns(min_ns), duration_ns(max_ns))
}

/// A speedup with its propagated error: `1.95x ± 0.04`, or `1.95x` without one.
pub fn speedup(value: f64, error: Option<f64>) -> String {
    match error.filter(|e| e.is_finite()) {
        Some(e) if value.is_finite() => format!("{} ± {e:.2}", ratio(value)),
        _ => ratio(value),
    }
}

/// A speed factor in its shortest form: `0.1x`, `0.25x`, `1x` (a replay's pace).
pub fn factor(x: f64) -> String {
    if x.is_finite() {
        format!("{x}x")
    } else {
        "-".into()
    }
}

/// CPU use in percent of one core, whole: `65 %`, `187 %` (two busy cores read 200 %).
pub fn cpu_use(pct: f64) -> String {
    if pct.is_finite() {
        format!("{pct:.0} %")
    } else {
        "-".into()
    }
}

/// A share of a whole as a percentage, the one form every screen uses: `96 %`, `12 %`,
/// `5.2 %` (one decimal below 10 %, where it still tells something), `-` when undefined.
pub fn share(share: f64) -> String {
    let p = share * 100.0;
    if !p.is_finite() {
        "-".into()
    } else if p.abs() >= 10.0 {
        format!("{p:.0} %")
    } else {
        format!("{p:.1} %")
    }
}

/// An efficiency (speedup per thread): `96 %`, and `114 %↑` above 100 %, where it is
/// superlinear: more than the threads alone can give, so never shown as if it were normal.
pub fn efficiency(e: f64) -> String {
    // Marked when it reads above 100 %: 100.4 % is 100 % on screen, and no claim.
    if e.is_finite() && (e * 100.0).round() > 100.0 {
        format!("{}↑", share(e))
    } else {
        share(e)
    }
}

/// What an efficiency above 100 % means, for the screens that mark one with `↑`.
pub const SUPERLINEAR_NOTE: &str = "↑ above 100 %: superlinear, more than the threads can \
    give: chunking itself saved work (whole arrays miss the CPU caches and are allocated at \
    once), or one slow run; not the threads alone";

/// Cores held on average, one decimal: `0.9 cores`, `1.0 core`.
pub fn cores(x: f64) -> String {
    if !x.is_finite() {
        "-".into()
    } else if format!("{x:.1}") == "1.0" {
        "1.0 core".into()
    } else {
        format!("{x:.1} cores")
    }
}

/// The mark of a disturbed run, the same on every screen: `⚠ others: 0.9 cores` (a glyph
/// and words, so it reads without colour).
pub fn disturbed(others_cores: f64) -> String {
    format!("⚠ others: {}", cores(others_cores))
}

/// A count of runs with its warm-ups: `3 runs + 1 warm-up`, `1 run`, `2 runs + 2 warm-ups`.
pub fn runs_count(runs: usize, warmups: usize) -> String {
    let plural = |n: usize, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    if warmups == 0 {
        plural(runs, "run")
    } else {
        format!("{} + {}", plural(runs, "run"), plural(warmups, "warm-up"))
    }
}

/// A duration given in microseconds, as [`duration_ns`] prints it.
pub fn duration_us(us: u64) -> String {
    duration_ns(us.saturating_mul(1_000))
}

/// A plain quantity to three significant digits: `4.00`, `2.68`, `10.5` (blocks per chunk).
pub fn number(x: f64) -> String {
    if x.is_finite() { sig3(x) } else { "-".into() }
}

/// A path as people should read it, in screenshots and shared files: the home folder
/// shown as `~`, not this machine's path.
pub fn tilde(path: &std::path::Path) -> std::path::PathBuf {
    match dirs::home_dir().and_then(|h| path.strip_prefix(h).ok().map(std::path::Path::to_path_buf))
    {
        Some(rest) => std::path::Path::new("~").join(rest),
        None => path.to_path_buf(),
    }
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
    fn runs_count_names_the_warmups() {
        assert_eq!(runs_count(3, 1), "3 runs + 1 warm-up");
        assert_eq!(runs_count(1, 0), "1 run");
        assert_eq!(runs_count(2, 2), "2 runs + 2 warm-ups");
        assert_eq!(disturbed(0.94), "⚠ others: 0.9 cores");
        assert_eq!(cores(1.04), "1.0 core");
    }

    #[test]
    fn sparkline_shares_its_scale() {
        assert_eq!(spark(&[0, 1, 50, 100], 100), " ▁▄█");
        assert_eq!(spark(&[200], 100), "█");
        assert_eq!(spark(&[5], 0), " ");
    }

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
        assert_eq!(
            bytes_range(2048, 1024, 4096),
            "2.00 KiB (1.00 KiB…4.00 KiB)"
        );
        assert_eq!(bytes_range(2048, 2048, 2048), "2.00 KiB");
    }

    #[test]
    fn rates_and_ratios() {
        assert_eq!(rate_mb_s(50_000_000, 500_000_000), "100 MB/s");
        assert_eq!(rate_mb_s(0, 500_000_000), "-");
        assert_eq!(ratio(1.874), "1.87x");
        assert_eq!(ratio(3181.8), "3182x");
        assert_eq!(rate_mb_s(1, 0), "-");
        assert_eq!(ratio(1.874), "1.87x");
        assert_eq!(share(0.9612), "96 %");
        assert_eq!(share(0.123), "12 %");
        assert_eq!(share(0.052), "5.2 %");
        assert_eq!(share(f64::NAN), "-");
        assert_eq!(duration_us(12_100), "12.1 ms");
        assert_eq!(cpu_use(187.4), "187 %");
        assert_eq!(efficiency(0.96), "96 %");
        assert_eq!(efficiency(1.14), "114 %↑");
        assert_eq!(efficiency(1.004), "100 %");
        assert_eq!(speedup(1.954, Some(0.041)), "1.95x ± 0.04");
        assert_eq!(speedup(1.954, None), "1.95x");
        assert_eq!(median_sd(12_300_000, None), "12.3 ms");
        assert_eq!(factor(0.1), "0.1x");
        assert_eq!(factor(1.0), "1x");
        assert_eq!(number(2.6833), "2.68");
        assert_eq!(number(f64::NAN), "-");
    }

    #[test]
    fn spread_reads_like_hyperfine() {
        assert_eq!(
            spread(12_300_000, Some(410_000.0), 11_900_000, 12_800_000, 5),
            "median 12.3 ms ± 410 µs, 11.9 ms … 12.8 ms, n = 5"
        );
        assert_eq!(
            spread(5_000, None, 5_000, 5_000, 1),
            "median 5.00 µs, 5.00 µs … 5.00 µs, n = 1"
        );
    }
}
