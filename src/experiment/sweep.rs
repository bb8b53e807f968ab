//! The chunk-size sweep: every chunk request x every thread count, plus the serial
//! baseline, in alternated rounds; one row of medians per configuration, the best one named
//! with its reason, and flags for what the lesson teaches when the data shows it (chunks too
//! small for their overhead, misaligned chunks paying read amplification, fewer chunks than
//! threads).
//!
//! "Too small" is judged on the overhead paid once per task (scheduling gaps between a
//! worker's tasks and waits for the single writer), not on the whole overhead: pool
//! start-up, handle opening and threads idle for lack of chunks do not shrink with larger
//! chunks (the last has its own flag), and on a small scene they alone pass 30 %. A [`SweepResult`] is also a file (JSON with `schema_version`) the TUI loads
//! later, and a CSV table. Runs on the caller's thread; nothing here prints.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::SCHEMA_VERSION;
use super::rounds::{
    self, ExperimentError, PlanFigures, Progress, Repetition, RunBase, RunSample, Trial,
};
use crate::chunks::ChunkRequest;
use crate::pipeline::{Scene, Schedule};
use crate::profile::stats::{self, Speedup, Timing, Warning};
use crate::profile::units;
use crate::task::{CancelFlag, Stage};

/// Per-task overhead above this share of the pool's capacity: the chunks are too small.
pub const OVERHEAD_SHARE_LIMIT: f64 = 0.30;

/// Per-task overhead above this share of the median task: the chunks are too small.
pub const PER_TASK_OVERHEAD_LIMIT: f64 = 0.10;

/// Read amplification above this: misalignment costs decoding worth flagging.
pub const AMPLIFICATION_LIMIT: f64 = 1.05;

/// The matrix to run.
#[derive(Debug, Clone)]
pub struct SweepSpec {
    /// Chunk requests, each run on every thread count.
    pub chunks: Vec<ChunkRequest>,
    pub threads: Vec<NonZeroUsize>,
    pub schedule: Schedule,
    pub repetition: Repetition,
}

/// One configuration's medians.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRow {
    /// `serial` or `chunked x N @ SPEC`.
    pub label: String,
    /// The chunk request as given; `None` for serial.
    pub chunks: Option<String>,
    pub threads: usize,
    pub runs: usize,
    /// Median wall time of each stage that ran.
    pub stage_wall_ns: BTreeMap<Stage, u64>,
    /// Total wall times.
    pub wall: Timing,
    /// Against the serial row's total; exactly 1 (no error) for serial itself. `None` only
    /// if there is no serial figure to compare with.
    pub speedup: Option<Speedup>,
    /// speedup / threads.
    pub efficiency: Option<f64>,
    /// Median over runs of the overhead's share of capacity (all of it: start-up, idle,
    /// scheduling, waits).
    pub overhead_share: f64,
    /// Median over runs of overhead per task, µs.
    pub overhead_per_task_us: f64,
    /// Median over runs of the per-task overhead's share of capacity (scheduling gaps only).
    pub task_overhead_share: f64,
    /// Median over runs of the per-task overhead per task, µs.
    pub task_overhead_per_task_us: f64,
    /// Median over runs of each run's median load/mask/write task duration, µs.
    pub task_median_us: f64,
    /// The chunk plan; `None` for serial (whole-array reads).
    pub plan: Option<PlanFigures>,
    /// Highest resident memory seen over the runs. Memory an earlier run left to the
    /// allocator may count toward a later run's figure.
    pub peak_rss_bytes: u64,
    /// Bytes the load stage decodes per run.
    pub load_bytes: u64,
    /// load bytes / median load wall, 10^6 bytes per second.
    pub decoded_mb_s: f64,
}

impl SweepRow {
    pub fn is_serial(&self) -> bool {
        self.chunks.is_none()
    }

    pub fn stage_ns(&self, stage: Stage) -> Option<u64> {
        self.stage_wall_ns.get(&stage).copied()
    }
}

/// The best configuration and why, in one sentence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// Index into [`SweepResult::rows`].
    pub row: usize,
    pub label: String,
    pub reason: String,
}

/// What the lesson teaches, when a row shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Flag {
    /// Per-task overhead over [`OVERHEAD_SHARE_LIMIT`] of capacity, or over
    /// [`PER_TASK_OVERHEAD_LIMIT`] of the median task.
    SmallChunks {
        config: String,
        task_overhead_share: f64,
        task_overhead_per_task_us: f64,
        task_median_us: f64,
    },
    /// Read amplification over [`AMPLIFICATION_LIMIT`].
    Misaligned {
        config: String,
        read_amplification: f64,
    },
    FewerChunksThanThreads {
        config: String,
        chunks: usize,
        threads: usize,
    },
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Flag::SmallChunks {
                config,
                task_overhead_share,
                task_overhead_per_task_us,
                task_median_us,
            } => write!(
                f,
                "{config}: chunks too small for their overhead: each task costs {} of \
                 scheduling against a median task of {} ({} of the \
                 pool's capacity); larger chunks spread that fixed cost over more pixels",
                units::duration_ns((task_overhead_per_task_us * 1e3).round() as u64),
                units::duration_ns((task_median_us * 1e3).round() as u64),
                units::share(*task_overhead_share),
            ),
            Flag::Misaligned {
                config,
                read_amplification,
            } => write!(
                f,
                "{config}: chunks do not line up with the COG blocks, so up to {:.2}x the \
                 pixels are decoded (each chunk decodes every block it touches); use a \
                 multiple of the block size",
                read_amplification
            ),
            Flag::FewerChunksThanThreads {
                config,
                chunks,
                threads,
            } => write!(
                f,
                "{config}: {chunks} chunk(s) for {threads} threads, so {} thread(s) have \
                 nothing to do; use smaller chunks or fewer threads",
                threads - chunks
            ),
        }
    }
}

/// A finished (or cancelled) sweep: the table, the pick, the flags. Loads back from JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepResult {
    pub schema_version: u32,
    pub item: String,
    pub resolution_m: u32,
    pub schedule: Schedule,
    /// Measured runs per configuration.
    pub repeat: usize,
    /// Unmeasured warm-up runs of serial before the rounds.
    pub warmup: usize,
    pub runs_done: usize,
    pub runs_planned: usize,
    pub cancelled: bool,
    /// Serial first, then each chunk request on each thread count, in the order asked;
    /// configurations that never ran (after a cancel) are left out.
    pub rows: Vec<SweepRow>,
    pub best: Option<Recommendation>,
    pub flags: Vec<Flag>,
    pub warnings: Vec<Warning>,
}

/// Reading or writing a sweep file.
#[derive(Debug, thiserror::Error)]
pub enum SweepFileError {
    #[error("cannot read the sweep file \"{path}\"")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write \"{path}\"")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("\"{path}\" is not a chunkscope sweep file: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error(
        "\"{path}\" is a sweep file of schema_version {found}, but this chunkscope reads \
         version {expected}; run the sweep again"
    )]
    Version {
        path: PathBuf,
        found: u64,
        expected: u32,
    },
}

impl SweepResult {
    /// Writes the result as pretty JSON.
    pub fn save(&self, path: &Path) -> Result<(), SweepFileError> {
        let write_err = |source| SweepFileError::Write {
            path: path.to_path_buf(),
            source,
        };
        let text = serde_json::to_string_pretty(self).map_err(|e| write_err(e.into()))?;
        std::fs::write(path, text + "\n").map_err(write_err)
    }

    /// Reads what [`SweepResult::save`] wrote, refusing other schema versions.
    pub fn load(path: &Path) -> Result<Self, SweepFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| SweepFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let parse_err = |reason: String| SweepFileError::Parse {
            path: path.to_path_buf(),
            reason,
        };
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| parse_err(e.to_string()))?;
        let found = value
            .get("schema_version")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| parse_err("it has no schema_version".into()))?;
        if found != u64::from(SCHEMA_VERSION) {
            return Err(SweepFileError::Version {
                path: path.to_path_buf(),
                found,
                expected: SCHEMA_VERSION,
            });
        }
        serde_json::from_value(value).map_err(|e| parse_err(e.to_string()))
    }

    /// The table as CSV (RFC 4180): a header, then one line per row. Durations in ns, sizes
    /// in bytes; empty cells where a figure does not apply (serial has no plan).
    pub fn write_csv(&self, out: &mut dyn Write) -> io::Result<()> {
        const HEADER: [&str; 30] = [
            "config",
            "chunks",
            "bands",
            "rows",
            "cols",
            "threads",
            "runs",
            "load_ns",
            "mask_ns",
            "write_ns",
            "finalize_ns",
            "wall_median_ns",
            "wall_mean_ns",
            "wall_stdev_ns",
            "wall_min_ns",
            "wall_max_ns",
            "speedup",
            "speedup_error",
            "efficiency",
            "overhead_share",
            "overhead_per_task_us",
            "task_overhead_share",
            "task_overhead_per_task_us",
            "task_median_us",
            "chunk_count",
            "chunk_bytes",
            "aligned",
            "read_amplification",
            "peak_rss_bytes",
            "decoded_mb_s",
        ];
        writeln!(out, "{}", HEADER.join(","))?;
        let opt = |v: Option<String>| v.unwrap_or_default();
        for r in &self.rows {
            let p = r.plan.as_ref();
            let stage = |s: Stage| opt(r.stage_ns(s).map(|v| v.to_string()));
            let cells = [
                csv_field(&r.label),
                csv_field(r.chunks.as_deref().unwrap_or("")),
                opt(p.map(|p| p.shape.bands.to_string())),
                opt(p.map(|p| p.shape.rows.to_string())),
                opt(p.map(|p| p.shape.cols.to_string())),
                r.threads.to_string(),
                r.runs.to_string(),
                stage(Stage::Load),
                stage(Stage::Mask),
                stage(Stage::Write),
                stage(Stage::Finalize),
                r.wall.median_ns.to_string(),
                format!("{:.0}", r.wall.mean_ns),
                opt(r.wall.stdev_ns.map(|s| format!("{s:.0}"))),
                r.wall.min_ns.to_string(),
                r.wall.max_ns.to_string(),
                opt(r.speedup.map(|s| format!("{:.4}", s.value))),
                opt(r.speedup.and_then(|s| s.error).map(|e| format!("{e:.4}"))),
                opt(r.efficiency.map(|e| format!("{e:.4}"))),
                format!("{:.4}", r.overhead_share),
                format!("{:.1}", r.overhead_per_task_us),
                format!("{:.4}", r.task_overhead_share),
                format!("{:.1}", r.task_overhead_per_task_us),
                format!("{:.1}", r.task_median_us),
                opt(p.map(|p| p.chunk_count.to_string())),
                opt(p.map(|p| p.chunk_bytes.to_string())),
                opt(p.map(|p| p.aligned.to_string())),
                opt(p.map(|p| format!("{:.4}", p.read_amplification))),
                r.peak_rss_bytes.to_string(),
                format!("{:.1}", r.decoded_mb_s),
            ];
            writeln!(out, "{}", cells.join(","))?;
        }
        Ok(())
    }

    /// Writes [`SweepResult::write_csv`] to a file.
    pub fn save_csv(&self, path: &Path) -> Result<(), SweepFileError> {
        let write_err = |source| SweepFileError::Write {
            path: path.to_path_buf(),
            source,
        };
        let mut buf = Vec::new();
        self.write_csv(&mut buf).map_err(write_err)?;
        std::fs::write(path, buf).map_err(write_err)
    }
}

/// Quotes a CSV field when it holds a comma, quote or line break (RFC 4180 §2).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Runs the matrix: serial, then every chunk request on every thread count, alternated,
/// `repeat` rounds. Each request is planned first, so a bad one fails before any run. A
/// cancel stops between runs and returns the rows that have runs.
pub fn sweep(
    scene: &Scene,
    base: &RunBase,
    spec: &SweepSpec,
    cancel: &CancelFlag,
    progress: Progress<'_>,
) -> Result<SweepResult, ExperimentError> {
    if spec.chunks.is_empty() || spec.threads.is_empty() {
        return Err(ExperimentError::Invalid {
            reason: "a sweep needs at least one chunk request and one thread count".into(),
        });
    }
    let mut plans = vec![None];
    let mut trials = vec![Trial::serial()];
    for chunks in &spec.chunks {
        let plan = rounds::plan_figures(scene, base.resolution, chunks)?;
        for &t in &spec.threads {
            trials.push(Trial::chunked(chunks.clone(), t, spec.schedule));
            plans.push(Some(plan.clone()));
        }
    }
    let rounds = rounds::run_rounds(scene, base, &trials, spec.repetition, cancel, progress)?;
    let serial = rounds::totals(&rounds.samples[0]);
    let rows: Vec<SweepRow> = trials
        .iter()
        .zip(&rounds.samples)
        .zip(plans)
        .enumerate()
        .filter_map(|(i, ((trial, runs), plan))| {
            row(trial, runs, plan, serial.as_ref().filter(|_| i > 0))
        })
        .collect();
    let warnings = rows
        .iter()
        .flat_map(|r| Warning::check(&r.label, &r.wall))
        .collect();
    Ok(SweepResult {
        schema_version: SCHEMA_VERSION,
        item: scene.item.clone(),
        resolution_m: base.resolution.metres(),
        schedule: spec.schedule,
        repeat: spec.repetition.repeat,
        warmup: spec.repetition.warmup,
        runs_done: rounds.runs_done,
        runs_planned: rounds.runs_planned,
        cancelled: rounds.cancelled,
        best: recommend(&rows),
        flags: rows.iter().flat_map(flags).collect(),
        warnings,
        rows,
    })
}

/// Folds one configuration's runs; `None` if it never ran. `serial` is the baseline for
/// chunked rows and `None` for the serial row itself.
fn row(
    trial: &Trial,
    runs: &[RunSample],
    plan: Option<PlanFigures>,
    serial: Option<&Timing>,
) -> Option<SweepRow> {
    let wall = rounds::totals(runs)?;
    let threads = trial.threads();
    let speedup = match (trial.chunks(), serial) {
        (None, _) => Some(Speedup::REFERENCE),
        (Some(_), serial) => serial.and_then(|s| Speedup::of(s, &wall)),
    };
    let stage_wall_ns = Stage::ALL
        .iter()
        .filter_map(|&s| Some((s, rounds::stage_timing(runs, s)?.median_ns)))
        .collect::<BTreeMap<_, _>>();
    let median_f = |f: fn(&RunSample) -> f64| {
        let v: Vec<f64> = runs.iter().map(f).collect();
        stats::median_f64(&v).unwrap_or(0.0)
    };
    let load_bytes = runs.first().map_or(0, |r| r.load_bytes);
    let load_ns = stage_wall_ns.get(&Stage::Load).copied().unwrap_or(0);
    Some(SweepRow {
        label: trial.label.clone(),
        chunks: trial.chunks().map(ToString::to_string),
        threads,
        runs: runs.len(),
        wall,
        efficiency: speedup.map(|s| s.efficiency(threads)),
        speedup,
        overhead_share: median_f(|r| r.overhead_share),
        overhead_per_task_us: median_f(|r| r.overhead_per_task_us),
        task_overhead_share: median_f(|r| r.task_overhead_share),
        task_overhead_per_task_us: median_f(|r| r.task_overhead_per_task_us),
        task_median_us: median_f(|r| r.task_median_ns as f64 / 1e3),
        // The plan the run reported wins over the one made beforehand (they agree).
        plan: runs
            .first()
            .and_then(|r| r.plan.as_ref())
            .map(PlanFigures::from)
            .or(plan),
        peak_rss_bytes: runs.iter().map(|r| r.peak_rss_bytes).max().unwrap_or(0),
        load_bytes,
        decoded_mb_s: if load_ns == 0 {
            0.0
        } else {
            load_bytes as f64 / 1e6 / (load_ns as f64 / 1e9)
        },
        stage_wall_ns,
    })
}

/// The lesson's flags for one chunked row.
fn flags(r: &SweepRow) -> Vec<Flag> {
    let Some(plan) = &r.plan else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if r.task_overhead_share > OVERHEAD_SHARE_LIMIT
        || r.task_overhead_per_task_us > PER_TASK_OVERHEAD_LIMIT * r.task_median_us
    {
        out.push(Flag::SmallChunks {
            config: r.label.clone(),
            task_overhead_share: r.task_overhead_share,
            task_overhead_per_task_us: r.task_overhead_per_task_us,
            task_median_us: r.task_median_us,
        });
    }
    if plan.read_amplification > AMPLIFICATION_LIMIT {
        out.push(Flag::Misaligned {
            config: r.label.clone(),
            read_amplification: plan.read_amplification,
        });
    }
    if plan.chunk_count < r.threads {
        out.push(Flag::FewerChunksThanThreads {
            config: r.label.clone(),
            chunks: plan.chunk_count,
            threads: r.threads,
        });
    }
    out
}

/// The row with the lowest median total wall time, and one sentence on why it won and by
/// how much (or that the runner-up is within the spread of the runs).
fn recommend(rows: &[SweepRow]) -> Option<Recommendation> {
    let by_median = |a: &(usize, &SweepRow), b: &(usize, &SweepRow)| {
        a.1.wall.median_ns.cmp(&b.1.wall.median_ns)
    };
    let (best_i, best) = rows.iter().enumerate().min_by(by_median)?;
    let runner_up = rows
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != best_i)
        .min_by(by_median)
        .map(|(_, r)| r);
    let mut reason = format!(
        "{} has the lowest median total wall time ({})",
        best.label,
        units::duration_ns(best.wall.median_ns)
    );
    match &best.plan {
        None => reason.push_str(
            ": no chunked configuration beat the whole-array serial path, so on this scene \
             and machine the chunking overhead outweighs what the threads gain",
        ),
        Some(plan) => {
            if let (Some(s), Some(e)) = (best.speedup, best.efficiency) {
                reason.push_str(&format!(
                    ", {} faster than serial at {} efficiency",
                    units::ratio(s.value),
                    units::share(e)
                ));
            }
            if plan.read_amplification > AMPLIFICATION_LIMIT {
                reason.push_str(&format!(
                    ", even though its {} chunks decode up to {:.2}x the pixels",
                    plan.shape, plan.read_amplification
                ));
            } else {
                reason.push_str(&format!(
                    ", with {} chunks aligned to the blocks ({} of them for {} thread(s)) and \
                     {} overhead",
                    plan.shape,
                    plan.chunk_count,
                    best.threads,
                    units::share(best.overhead_share)
                ));
            }
        }
    }
    if let Some(second) = runner_up {
        let margin =
            units::share(second.wall.median_ns as f64 / best.wall.median_ns.max(1) as f64 - 1.0);
        if best.wall.max_ns >= second.wall.min_ns {
            reason.push_str(&format!(
                "; but {} ({} slower by median) is within the spread of the runs",
                second.label, margin
            ));
        } else {
            reason.push_str(&format!(
                "; {} ahead of the next best, {}",
                margin, second.label
            ));
        }
    }
    reason.push('.');
    Some(Recommendation {
        row: best_i,
        label: best.label.clone(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(label: &str, walls: &[u64], plan: Option<PlanFigures>, threads: usize) -> SweepRow {
        SweepRow {
            label: label.into(),
            chunks: plan.as_ref().map(|p| p.shape.to_string()),
            threads,
            runs: walls.len(),
            stage_wall_ns: BTreeMap::new(),
            wall: Timing::from_ns(walls).unwrap(),
            speedup: Some(Speedup::REFERENCE),
            efficiency: Some(1.0),
            overhead_share: 0.05,
            overhead_per_task_us: 1.0,
            task_overhead_share: 0.01,
            task_overhead_per_task_us: 1.0,
            task_median_us: 100.0,
            plan,
            peak_rss_bytes: 0,
            load_bytes: 0,
            decoded_mb_s: 0.0,
        }
    }

    fn plan(side: usize, count: usize, ampl: f64) -> PlanFigures {
        PlanFigures {
            shape: crate::chunks::ChunkShape {
                bands: 3,
                rows: side,
                cols: side,
            },
            chunk_count: count,
            chunk_bytes: 3 * side as u64 * side as u64,
            aligned: ampl == 1.0,
            read_amplification: ampl,
            blocks_touched_mean: 1.0,
            notices: Vec::new(),
        }
    }

    #[test]
    fn small_chunks_are_flagged_by_their_fixed_per_task_cost_only() {
        // Scheduling worth a fifth of the median task: too small.
        let mut small = row("chunked x 2 @ 64", &[10], Some(plan(64, 400, 1.0)), 2);
        small.task_overhead_per_task_us = 20.0;
        let f = flags(&small);
        assert!(matches!(f.as_slice(), [Flag::SmallChunks { .. }]), "{f:?}");
        assert!(
            f[0].to_string().contains("20.0 µs of scheduling"),
            "{}",
            f[0]
        );
        // Long tasks with a few µs of scheduling each: fine, however large the chunk.
        let mut large = row("chunked x 2 @ 4096", &[10], Some(plan(4096, 4, 1.0)), 2);
        large.task_median_us = 16_000.0;
        large.task_overhead_per_task_us = 5.0;
        assert!(flags(&large).is_empty());
    }

    #[test]
    fn the_fastest_row_wins_and_the_reason_names_the_margin() {
        let rows = [
            row("serial", &[100, 101, 102], None, 1),
            row(
                "chunked x 2 @ 128",
                &[60, 61, 62],
                Some(plan(128, 16, 1.0)),
                2,
            ),
            row(
                "chunked x 2 @ 100",
                &[80, 81, 82],
                Some(plan(100, 36, 1.3)),
                2,
            ),
        ];
        let best = recommend(&rows).unwrap();
        assert_eq!(best.row, 1);
        assert!(
            best.reason.contains("aligned to the blocks"),
            "{}",
            best.reason
        );
        assert!(
            best.reason
                .contains("ahead of the next best, chunked x 2 @ 100")
        );
        assert_eq!(flags(&rows[2]).len(), 1);
        assert!(flags(&rows[0]).is_empty());
    }

    #[test]
    fn a_lone_chunk_on_two_threads_is_flagged() {
        let r = row("chunked x 2 @ auto", &[5], Some(plan(512, 1, 1.0)), 2);
        let f = flags(&r);
        assert_eq!(
            f,
            [Flag::FewerChunksThanThreads {
                config: r.label.clone(),
                chunks: 1,
                threads: 2
            }]
        );
        assert!(f[0].to_string().contains("1 thread(s) have nothing to do"));
    }

    #[test]
    fn csv_fields_with_commas_are_quoted() {
        assert_eq!(
            csv_field("chunked x 2 @ 3,512,512"),
            "\"chunked x 2 @ 3,512,512\""
        );
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("serial"), "serial");
    }
}
