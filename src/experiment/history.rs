//! A session's finished runs side by side: each run's speedup and efficiency against the
//! latest serial run of the same scene, the best run, an A/B comparison of two runs stage by
//! stage, and the history as CSV. Also reads saved reports back (`chunkscope run --json`
//! output in any of its three shapes). Pure functions over [`RunReport`]s, on the caller's
//! thread; the TUI's Results screen and its export show exactly these figures.
//!
//! One run per configuration has no spread: speedups here carry no error bar (see
//! [`crate::experiment::compare`] for repeated, alternated runs).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::pipeline::RunReport;
use crate::pipeline::report::SCHEMA_VERSION;
use crate::profile::stats::{self, Fastest, Speedup, Timing, efficiency};
use crate::profile::verdict::Verdict;
use crate::task::Stage;

/// One run's row in the history table.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    pub label: String,
    pub item: String,
    pub threads: usize,
    pub wall_ns: u64,
    pub cancelled: bool,
    /// Index of the serial run the speedup is measured against: the latest finished serial
    /// run of the same scene and resolution. `None`: no serial run yet.
    pub baseline: Option<usize>,
    /// baseline wall / this wall (one run each: no error).
    pub speedup: Option<Speedup>,
    /// speedup / threads.
    pub efficiency: Option<f64>,
    /// The overhead's share of the pool's capacity.
    pub overhead_share: f64,
}

/// Whether a run can serve as a baseline or be the best: it finished.
fn complete(r: &RunReport) -> bool {
    !r.cancelled
}

/// Whether two runs did the same work apart from how it was scheduled: the same scene,
/// grid, masked classes and output (format, codec, level, writer) under the same GDAL
/// cache. Only such runs are compared, as baseline or for the best.
pub fn same_settings(a: &RunReport, b: &RunReport) -> bool {
    setting_differences(a, b).is_empty()
}

/// What differs between the settings of two runs, in words (`format cog vs gtiff`); empty
/// when they did the same work.
pub fn setting_differences(a: &RunReport, b: &RunReport) -> Vec<String> {
    let (x, y) = (&a.config, &b.config);
    let cache = |c: Option<u64>| c.map_or("unknown".to_string(), crate::profile::units::bytes);
    let level = |l: Option<u8>| l.map_or("-".to_string(), |l| l.to_string());
    let pairs = [
        ("item", x.item.clone(), y.item.clone()),
        (
            "resolution",
            format!("{} m", x.resolution_m),
            format!("{} m", y.resolution_m),
        ),
        (
            "cloud classes",
            format!("{:?}", x.cloud_classes),
            format!("{:?}", y.cloud_classes),
        ),
        ("format", x.format.clone(), y.format.clone()),
        ("codec", x.compress.clone(), y.compress.clone()),
        ("level", level(x.level), level(y.level)),
        ("writer", x.writer.clone(), y.writer.clone()),
        (
            "GDAL cache",
            cache(x.gdal_cache_bytes),
            cache(y.gdal_cache_bytes),
        ),
    ];
    pairs
        .into_iter()
        .filter(|(_, p, q)| p != q)
        .map(|(what, p, q)| format!("{what} {p} vs {q}"))
        .collect()
}

/// The runs of the same configuration (label) and settings as `runs[i]` that finished,
/// `runs[i]` among them (empty if it did not finish).
pub fn repeats_of(runs: &[RunReport], i: usize) -> Vec<&RunReport> {
    let run = &runs[i];
    runs.iter()
        .filter(|r| complete(r) && r.label() == run.label() && same_settings(r, run))
        .collect()
}

fn is_serial(r: &RunReport) -> bool {
    r.config.chunks.is_none()
}

/// Index of the latest finished serial run with `run`'s settings, if any.
pub fn serial_baseline(runs: &[RunReport], run: &RunReport) -> Option<usize> {
    runs.iter()
        .enumerate()
        .rev()
        .find(|(_, r)| is_serial(r) && complete(r) && same_settings(r, run))
        .map(|(i, _)| i)
}

/// serial / run, from one wall time each. `None` when a wall time is 0.
pub fn speedup_ns(serial_ns: u64, run_ns: u64) -> Option<Speedup> {
    if serial_ns == 0 {
        return None;
    }
    Speedup::of(
        &Timing::from_ns(&[serial_ns])?,
        &Timing::from_ns(&[run_ns])?,
    )
}

/// The history table: one row per run, in the order given.
pub fn rows(runs: &[RunReport]) -> Vec<HistoryRow> {
    runs.iter()
        .map(|r| {
            let baseline = serial_baseline(runs, r);
            let speedup = baseline.and_then(|b| speedup_ns(runs[b].wall_ns, r.wall_ns));
            HistoryRow {
                label: r.label(),
                item: r.config.item.clone(),
                threads: r.config.threads,
                wall_ns: r.wall_ns,
                cancelled: r.cancelled,
                baseline,
                efficiency: speedup.map(|s| efficiency(s.value, r.config.threads)),
                speedup,
                overhead_share: r.overhead.share,
            }
        })
        .collect()
}

/// The fastest configuration among the finished runs with the latest run's settings,
/// decided as a sweep decides (see [`stats::fastest`]): by each configuration's repeated
/// runs, named only beyond the noise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BestRun {
    /// Every run of this configuration beat every run of the others; the index is its
    /// latest run.
    Clear(usize),
    /// The fastest by median (its latest run) is tied with these configurations (their
    /// latest runs): their runs overlap.
    Tied { by_median: usize, tied: Vec<usize> },
    /// The fastest by median (its latest run) has fewer than [`stats::MIN_DECIDING_RUNS`]
    /// runs: repeat it (and its rivals) to tell.
    TooFewRuns { by_median: usize },
}

/// Which configuration of the history is fastest; `None` without finished runs.
pub fn best_run(runs: &[RunReport]) -> Option<BestRun> {
    let latest = runs.last()?;
    // One entry per configuration: its latest run and the timing of all its runs.
    let mut configs: Vec<(usize, Timing)> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (i, r) in runs.iter().enumerate().rev() {
        if !complete(r) || r.wall_ns == 0 || !same_settings(r, latest) || seen.contains(&r.label())
        {
            continue;
        }
        seen.push(r.label());
        let walls: Vec<u64> = repeats_of(runs, i).iter().map(|r| r.wall_ns).collect();
        configs.push((i, Timing::from_ns(&walls)?));
    }
    let timings: Vec<&Timing> = configs.iter().map(|(_, t)| t).collect();
    Some(match stats::fastest(&timings)? {
        Fastest::Clear { best, .. } => BestRun::Clear(configs[best].0),
        Fastest::Tied { by_median, tied } => BestRun::Tied {
            by_median: configs[by_median].0,
            tied: tied.iter().map(|&k| configs[k].0).collect(),
        },
        Fastest::TooFewRuns { by_median, .. } => BestRun::TooFewRuns {
            by_median: configs[by_median].0,
        },
    })
}

/// The run to star as best: the latest run of a configuration that beat the others in
/// every run; `None` while no configuration is clearly fastest.
pub fn best(runs: &[RunReport]) -> Option<usize> {
    match best_run(runs)? {
        BestRun::Clear(i) => Some(i),
        _ => None,
    }
}

/// One stage (or the total) of two runs side by side.
#[derive(Debug, Clone, PartialEq)]
pub struct StagePair {
    /// `None` for the whole run.
    pub stage: Option<Stage>,
    /// The median over the finished runs of A's configuration and settings (A alone when
    /// it ran once), and the same for B.
    pub a_ns: Option<u64>,
    pub b_ns: Option<u64>,
    /// a / b: above 1 when B is faster. `None` when either side lacks the stage.
    pub ratio: Option<f64>,
    /// The ratio's error, propagated from both sides' spreads; `None` for single runs.
    pub error: Option<f64>,
    /// Whether the difference is beyond the noise.
    pub difference: Difference,
}

/// What the runs can say about a difference between two configurations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Difference {
    /// Every run of one was faster than every run of the other.
    Clear,
    /// Their runs overlap: the difference is within the noise.
    WithinNoise,
    /// One side ran once: no spread to judge by (repeat it to tell).
    Unknown,
}

/// Per stage wall time of run `a` and run `b` of `runs`, each the median over the finished
/// runs of its configuration and settings, their ratio (A / B) with its error and whether
/// it is beyond the noise; then the total.
pub fn compare_runs(runs: &[RunReport], a: usize, b: usize) -> Vec<StagePair> {
    let group = |i: usize| -> Vec<&RunReport> {
        let g = repeats_of(runs, i);
        if g.is_empty() { vec![&runs[i]] } else { g }
    };
    let (ga, gb) = (group(a), group(b));
    let timing = |g: &[&RunReport], stage: Option<Stage>| -> Option<Timing> {
        let v: Vec<u64> = g
            .iter()
            .filter_map(|r| match stage {
                Some(s) => r.stage(s).map(|x| x.wall_ns),
                None => Some(r.wall_ns),
            })
            .collect();
        Timing::from_ns(&v)
    };
    let pair = |stage: Option<Stage>| -> Option<StagePair> {
        let (ta, tb) = (timing(&ga, stage), timing(&gb, stage));
        if ta.is_none() && tb.is_none() {
            return None;
        }
        let speedup = match (&ta, &tb) {
            (Some(x), Some(y)) => Speedup::of(x, y),
            _ => None,
        };
        let difference = match (&ta, &tb) {
            (Some(x), Some(y)) => match stats::differ(x, y) {
                Some(true) => Difference::Clear,
                Some(false) => Difference::WithinNoise,
                None => Difference::Unknown,
            },
            _ => Difference::Unknown,
        };
        Some(StagePair {
            stage,
            a_ns: ta.as_ref().map(|t| t.median_ns),
            b_ns: tb.as_ref().map(|t| t.median_ns),
            ratio: speedup.map(|s| s.value),
            error: speedup.and_then(|s| s.error),
            difference,
        })
    };
    Stage::ALL
        .iter()
        .filter_map(|&s| pair(Some(s)))
        .chain(pair(None))
        .collect()
}

/// The total wall time of run `b`'s configuration against run `a`'s (each over its
/// finished repeats, A alone when it ran once), as a verdict, disturbed runs counted.
/// The sides are named `A` and `B`, as the panel marks them.
pub fn verdict_ab(runs: &[RunReport], a: usize, b: usize) -> Option<Verdict> {
    let timing = |i: usize| -> Option<Timing> {
        let g = repeats_of(runs, i);
        let g: Vec<&RunReport> = if g.is_empty() { vec![runs.get(i)?] } else { g };
        let walls: Vec<u64> = g.iter().map(|r| r.wall_ns).collect();
        Some(Timing::from_ns(&walls)?.with_disturbed(g.iter().filter(|r| r.disturbed).count()))
    };
    Verdict::of("A", &timing(a)?, "B", &timing(b)?)
}

/// Per stage of `run`: its wall time, the baseline's, and the speedup (baseline / run).
#[derive(Debug, Clone, PartialEq)]
pub struct StageSpeedup {
    pub stage: Stage,
    pub run_ns: u64,
    pub serial_ns: Option<u64>,
    pub speedup: Option<Speedup>,
    pub efficiency: Option<f64>,
}

/// Each stage of `run` against the same stage of `serial` (when given).
pub fn stage_speedups(run: &RunReport, serial: Option<&RunReport>) -> Vec<StageSpeedup> {
    run.stages
        .iter()
        .map(|s| {
            let serial_ns = serial.and_then(|b| b.stage(s.name)).map(|b| b.wall_ns);
            let speedup = serial_ns.and_then(|b| speedup_ns(b, s.wall_ns));
            StageSpeedup {
                stage: s.name,
                run_ns: s.wall_ns,
                serial_ns,
                efficiency: speedup.map(|x| efficiency(x.value, run.config.threads)),
                speedup,
            }
        })
        .collect()
}

/// The history as CSV (RFC 4180): a header, then one line per run. Durations in ns, sizes
/// in bytes; empty cells where a figure does not apply.
pub fn write_csv(runs: &[RunReport], out: &mut dyn Write) -> io::Result<()> {
    const HEADER: [&str; 24] = [
        "run",
        "config",
        "item",
        "mode",
        "bands",
        "rows",
        "cols",
        "threads",
        "schedule",
        "resolution_m",
        "cancelled",
        "load_ns",
        "mask_ns",
        "write_ns",
        "finalize_ns",
        "wall_ns",
        "cpu_user_ns",
        "cpu_sys_ns",
        "baseline_run",
        "speedup",
        "efficiency",
        "overhead_share",
        "peak_rss_bytes",
        "best",
    ];
    let mut out = csv::Writer::from_writer(out);
    out.write_record(HEADER)?;
    let table = rows(runs);
    let best = best(runs);
    let opt = |v: Option<String>| v.unwrap_or_default();
    for (i, (r, row)) in runs.iter().zip(&table).enumerate() {
        let c = &r.config;
        let stage = |s: Stage| opt(r.stage(s).map(|x| x.wall_ns.to_string()));
        let cells = [
            (i + 1).to_string(),
            row.label.clone(),
            c.item.clone(),
            c.mode.clone(),
            opt(c.chunks.map(|x| x[0].to_string())),
            opt(c.chunks.map(|x| x[1].to_string())),
            opt(c.chunks.map(|x| x[2].to_string())),
            c.threads.to_string(),
            c.schedule.clone().unwrap_or_default(),
            c.resolution_m.to_string(),
            r.cancelled.to_string(),
            stage(Stage::Load),
            stage(Stage::Mask),
            stage(Stage::Write),
            stage(Stage::Finalize),
            r.wall_ns.to_string(),
            r.cpu_user_ns.to_string(),
            r.cpu_sys_ns.to_string(),
            opt(row.baseline.map(|b| (b + 1).to_string())),
            opt(row.speedup.map(|s| format!("{:.4}", s.value))),
            opt(row.efficiency.map(|e| format!("{e:.4}"))),
            format!("{:.4}", row.overhead_share),
            r.peak_rss_bytes.to_string(),
            (best == Some(i)).to_string(),
        ];
        out.write_record(&cells)?;
    }
    out.flush()
}

/// Reading saved reports.
#[derive(Debug, thiserror::Error)]
pub enum ReportFileError {
    #[error("cannot read the report file \"{path}\"")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("\"{path}\" is not a chunkscope run report")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("\"{path}\" is not a chunkscope run report: it holds no report")]
    NoReport { path: PathBuf },
    #[error("\"{path}\" is not a chunkscope run report: it has no schema_version")]
    NoVersion { path: PathBuf },
    #[error(
        "\"{path}\" is a report of schema_version {found}, but this chunkscope reads version \
         {expected}; run it again"
    )]
    Version {
        path: PathBuf,
        found: u64,
        expected: u32,
    },
}

/// Reads the reports in a file written by `chunkscope run --json` (one report, the
/// `{serial, chunked}` pair of `--mode both`, or an array, as the TUI's export writes).
pub fn load_reports(path: &Path) -> Result<Vec<RunReport>, ReportFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReportFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let parse_err = |source: serde_json::Error| ReportFileError::Parse {
        path: path.to_path_buf(),
        source,
    };
    let value: serde_json::Value = serde_json::from_str(&text).map_err(parse_err)?;
    let values: Vec<serde_json::Value> = match value {
        serde_json::Value::Array(items) => items,
        serde_json::Value::Object(mut map) if map.contains_key("serial") => {
            let mut out = Vec::new();
            for key in ["serial", "chunked"] {
                if let Some(v) = map.remove(key) {
                    out.push(v);
                }
            }
            out
        }
        other => vec![other],
    };
    if values.is_empty() {
        return Err(ReportFileError::NoReport {
            path: path.to_path_buf(),
        });
    }
    values
        .into_iter()
        .map(|v| {
            let found = v
                .get("schema_version")
                .and_then(serde_json::Value::as_u64)
                .ok_or_else(|| ReportFileError::NoVersion {
                    path: path.to_path_buf(),
                })?;
            if found != u64::from(SCHEMA_VERSION) {
                return Err(ReportFileError::Version {
                    path: path.to_path_buf(),
                    found,
                    expected: SCHEMA_VERSION,
                });
            }
            serde_json::from_value(v).map_err(parse_err)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speedup_of_single_runs_has_no_error() {
        let s = speedup_ns(2_000, 500).unwrap();
        assert_eq!(s.value, 4.0);
        assert_eq!(s.error, None);
        assert!(speedup_ns(0, 5).is_none());
        assert!(speedup_ns(5, 0).is_none());
    }
}
