//! Profiling measures: latency histograms against hand-computed inputs, the compact form's
//! round trip, and the CPU/memory sampler on the real machine (rate, timestamps, per-core
//! width, CPU seen while a thread spins, prompt stop).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chunkscope::profile::ProcessTimes;
use chunkscope::profile::latency::{LatencyError, LatencyHistogram, LatencySummary, per_stage};
use chunkscope::profile::sampler::{Sampler, utilisation};
use chunkscope::task::{Stage, TaskRecord};

const US: u64 = 1_000;

fn histogram_of(values_us: impl IntoIterator<Item = u64>) -> LatencyHistogram {
    let mut h = LatencyHistogram::new();
    for v in values_us {
        h.record(v * US);
    }
    h
}

#[test]
fn percentiles_of_one_to_a_thousand_microseconds() {
    let h = histogram_of(1..=1000);
    assert_eq!(h.count(), 1000);
    assert_eq!(h.min_us(), 1);
    assert_eq!(h.max_us(), 1000);
    // Values below 2048 are exact at 3 significant figures.
    assert_eq!(h.percentile_us(50.0), 500);
    assert_eq!(h.percentile_us(90.0), 900);
    assert_eq!(h.percentile_us(99.0), 990);
    assert_eq!(h.percentile_us(100.0), 1000);
    assert!((h.mean_us() - 500.5).abs() < 1e-9);
    // Population σ of 1..=n is sqrt((n² - 1) / 12).
    let sigma = ((1000.0f64 * 1000.0 - 1.0) / 12.0).sqrt();
    assert!((h.stdev_us() - sigma).abs() < 1e-6, "{}", h.stdev_us());
}

#[test]
fn large_values_stay_within_three_significant_figures() {
    let h = histogram_of([1_234_567]);
    let p = h.percentile_us(50.0) as f64;
    assert!((p - 1_234_567.0).abs() / 1_234_567.0 < 1e-3, "{p}");
}

#[test]
fn a_single_value_is_every_percentile() {
    let h = histogram_of([42]);
    let s = h.summary().unwrap();
    assert_eq!(
        (s.count, s.min_us, s.p50_us, s.p90_us, s.p99_us, s.max_us),
        (1, 42, 42, 42, 42, 42)
    );
    assert_eq!(s.mean_us, 42.0);
    assert_eq!(s.stdev_us, 0.0);
}

#[test]
fn mean_and_stdev_match_a_hand_computation() {
    // Mean 5; squared deviations 9+1+1+1+0+0+4+16 = 32; population σ = sqrt(32/8) = 2.
    let h = histogram_of([2, 4, 4, 4, 5, 5, 7, 9]);
    assert_eq!(h.mean_us(), 5.0);
    assert_eq!(h.stdev_us(), 2.0);
}

#[test]
fn an_empty_histogram_summarises_to_zeros() {
    let s = LatencyHistogram::new().summary().unwrap();
    assert_eq!(
        (s.count, s.min_us, s.p50_us, s.p99_us, s.max_us),
        (0, 0, 0, 0, 0)
    );
    assert_eq!(s.histogram().unwrap(), LatencyHistogram::new());
}

#[test]
fn merging_equals_the_histogram_of_the_union() {
    let mut a = histogram_of((1..=500).map(|v| v * 3));
    let b = histogram_of([7, 7, 20_000, 3_600_000_000 * 2]); // beyond the initial range
    let union = histogram_of(
        (1..=500)
            .map(|v| v * 3)
            .chain([7, 7, 20_000, 7_200_000_000]),
    );
    assert_ne!(a, union);
    a.merge(&b);
    assert_eq!(a, union);
    assert_eq!(a.count(), 504);
    assert_eq!(a.max_us(), union.max_us());
}

#[test]
fn the_compact_form_round_trips() {
    let h = histogram_of((1..=300).map(|v| v * v));
    let summary = LatencySummary::from_histogram(&h).unwrap();
    assert!(
        summary
            .histogram
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"+/=".contains(&c))
    );
    let back = summary.histogram().unwrap();
    assert_eq!(back, h);
    assert_eq!(back.percentile_us(90.0), h.percentile_us(90.0));
    // And through JSON, as when summaries are loaded from report files.
    let json = serde_json::to_string(&summary).unwrap();
    let loaded: LatencySummary = serde_json::from_str(&json).unwrap();
    assert_eq!(loaded, summary);
    let mut merged = loaded.histogram().unwrap();
    merged.merge(&h);
    assert_eq!(merged.count(), 600);
    let err = LatencyHistogram::from_compact("not base64!").unwrap_err();
    assert!(matches!(err, LatencyError::Base64(_)), "{err:?}");
    let text = chunkscope::error::chain(&err);
    assert!(
        text.starts_with("the latency histogram text is not valid base64: Invalid symbol"),
        "{text}"
    );
    assert!(LatencyHistogram::from_compact("Zm9vYmFy").is_err());
}

#[test]
fn summary_json_has_unit_suffixed_fields() {
    let summary = histogram_of([10, 20, 30]).summary().unwrap();
    let json = serde_json::to_value(&summary).unwrap();
    for key in [
        "count",
        "min_us",
        "p50_us",
        "p90_us",
        "p99_us",
        "max_us",
        "mean_us",
        "stdev_us",
        "histogram",
    ] {
        assert!(json.get(key).is_some(), "missing {key}");
    }
    assert_eq!(json["p50_us"], 20);
}

#[test]
fn mini_histogram_keeps_a_rare_slow_task_visible() {
    let h = histogram_of(std::iter::repeat_n(100, 99).chain([10_000]));
    let bars = h.mini_histogram(20);
    assert_eq!(bars.len(), 20);
    assert_eq!(bars.iter().sum::<u64>(), h.count());
    assert_eq!(bars[0], 99);
    assert_eq!(bars[19], 1);
    assert!(bars[1..19].iter().all(|&c| c == 0));

    let spread = histogram_of(1..=1000);
    let bars = spread.mini_histogram(10);
    assert_eq!(bars, vec![100; 10]);
    assert_eq!(histogram_of([5, 5]).mini_histogram(4), vec![2, 0, 0, 0]);
    assert_eq!(LatencyHistogram::new().mini_histogram(3), vec![0, 0, 0]);
    assert!(spread.mini_histogram(0).is_empty());
}

#[test]
fn per_stage_builds_one_histogram_per_stage_present_in_order() {
    let task = |stage, start_us: u64, end_us: u64| {
        TaskRecord::span(0, stage, 0, start_us * US, end_us * US)
    };
    let tasks = [
        task(Stage::Write, 0, 30),
        task(Stage::Load, 0, 10),
        task(Stage::Load, 5, 25),
        task(Stage::Write, 40, 100),
    ];
    let stages = per_stage(&tasks);
    let names: Vec<Stage> = stages.iter().map(|(s, _)| *s).collect();
    assert_eq!(names, vec![Stage::Load, Stage::Write]);
    assert_eq!(stages[0].1, histogram_of([10, 20]));
    assert_eq!(stages[1].1, histogram_of([30, 60]));
    assert!(per_stage(&[]).is_empty());
}

#[test]
fn utilisation_is_cpu_time_over_capacity() {
    assert_eq!(utilisation(2_000, 1_000, 2), 1.0);
    assert_eq!(utilisation(1_500, 1_000, 4), 0.375);
    assert_eq!(utilisation(0, 1_000, 4), 0.0);
    assert_eq!(utilisation(1_000, 0, 4), 0.0);
    assert_eq!(utilisation(1_000, 1_000, 0), 0.0);
}

#[test]
fn sampler_ticks_on_its_interval_and_sees_a_spinning_thread() {
    let spin = Arc::new(AtomicBool::new(true));
    let spinner = {
        let spin = Arc::clone(&spin);
        std::thread::spawn(move || {
            let mut x = 0u64;
            while spin.load(Ordering::Relaxed) {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
        })
    };
    let interval = Duration::from_millis(100);
    let origin = Instant::now();
    let cpu0 = ProcessTimes::now();
    let (sampler, feed) = Sampler::start_with_feed(interval, origin, 64);
    std::thread::sleep(Duration::from_millis(450));
    let live = sampler.latest().expect("a sample after 450 ms");
    assert!(live.t_ns >= 100_000_000, "{}", live.t_ns);
    std::thread::sleep(Duration::from_millis(550));

    let sampler_dropped = sampler.feed_dropped();
    let asked = Instant::now();
    let cpu1 = ProcessTimes::now();
    let series = sampler.stop();
    let stop_took = asked.elapsed();
    let ran_ns = chunkscope::convert::duration_ns(asked - origin);
    spin.store(false, Ordering::Relaxed);
    spinner.join().unwrap();

    // Stopping does not wait for the next tick (a hang guard, far above a tick).
    assert!(
        stop_took < Duration::from_secs(2),
        "stop took {stop_took:?}"
    );
    assert_eq!(series.interval_ns, 100_000_000);
    // Ticks never come early: the k-th sample is at least k intervals after the start, so
    // a second holds at most 10. A loaded machine may delay or skip ticks, never add any.
    let n = series.samples.len();
    let t: Vec<u64> = series.samples.iter().map(|s| s.t_ns).collect();
    assert!((1..=10).contains(&n), "{n} samples in 1 s");
    for (k, &tk) in t.iter().enumerate() {
        assert!(
            tk >= (k as u64 + 1) * 100_000_000,
            "sample {k} at {tk} ns: {t:?}"
        );
        assert!(tk <= ran_ns, "sample {k} at {tk} ns, after the stop");
    }
    assert!(t.windows(2).all(|w| w[1] > w[0]), "{t:?}");
    // Sampling costs CPU, and less than the time it ran for.
    assert!(
        series.sampler_cpu_ns > 0 && series.sampler_cpu_ns < ran_ns,
        "sampler used {} ns of CPU",
        series.sampler_cpu_ns
    );

    let cpus = sysinfo::System::new_with_specifics(
        sysinfo::RefreshKind::nothing().with_cpu(sysinfo::CpuRefreshKind::nothing()),
    )
    .expect("sysinfo reads this machine")
    .cpus()
    .len();
    assert_eq!(series.cores, cpus);
    assert_eq!(series.per_core_mean_pct.len(), cpus);
    for s in &series.samples {
        assert_eq!(s.per_core_pct.len(), cpus);
        assert!(s.per_core_pct.iter().all(|p| (0.0..=100.0).contains(p)));
        assert!(s.rss_bytes > 0);
    }
    // The process CPU the samples saw agrees with what the kernel counted over the same
    // second (the spinner's share, whatever the machine's load lets it have); the samples
    // leave out the first interval, hence the margin.
    let used = cpu1.since(&cpu0);
    let counted_pct = (used.user_ns + used.sys_ns) as f64 * 100.0 / ran_ns as f64;
    let seen_pct = f64::from(series.process_cpu_mean_pct);
    assert!(counted_pct > 0.0);
    assert!(
        (seen_pct - counted_pct).abs() <= 0.5 * counted_pct + 15.0,
        "samples saw {seen_pct:.0} % process CPU, the kernel counted {counted_pct:.0} %"
    );
    // The cores the process ran on were busy at least that much, machine-wide.
    let machine: f64 = series.per_core_mean_pct.iter().map(|&p| f64::from(p)).sum();
    assert!(
        machine + 15.0 >= 0.5 * seen_pct,
        "machine CPU {machine:.0} % summed over cores, process {seen_pct:.0} %"
    );
    assert!(series.peak_rss_bytes >= series.mean_rss_bytes && series.mean_rss_bytes > 0);

    let fed: Vec<_> = feed.try_iter().collect();
    assert_eq!(fed.len(), n);
    assert_eq!(sampler_dropped, 0);
    assert_eq!(fed, series.samples);

    let json = serde_json::to_value(&series).unwrap();
    for key in [
        "samples",
        "per_core_mean_pct",
        "per_core_peak_pct",
        "peak_rss_bytes",
        "mean_rss_bytes",
        "interval_ns",
        "achieved_hz",
    ] {
        assert!(json.get(key).is_some(), "missing {key}");
    }
    assert!(json["samples"][0].get("process_cpu_pct").is_some());
}

#[test]
fn stopping_before_the_first_tick_is_prompt_and_empty() {
    let sampler = Sampler::start(Duration::from_secs(10), Instant::now());
    assert!(sampler.latest().is_none());
    let asked = Instant::now();
    let series = sampler.stop();
    assert!(asked.elapsed() < Duration::from_secs(2));
    assert!(series.samples.is_empty());
    assert_eq!(series.achieved_hz, 0.0);
    assert_eq!(series.peak_rss_bytes, 0);
    assert!(series.error.is_none());
}
