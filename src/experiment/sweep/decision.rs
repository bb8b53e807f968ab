//! Deciding from a sweep's rows: the lesson's flags, the best configuration (or why none
//! is named), each engine's verdict and where two engines disagree.

use std::fmt;

use super::{EngineVerdict, NoClearWinner, Recommendation, SweepResult, SweepRow};
use crate::convert;
use crate::experiment::engine::{Engine, TaskCost};
use crate::profile::stats::{self, Timing};
use serde::{Deserialize, Serialize};

use crate::profile::units;

/// Per-task overhead above this share of the pool's capacity: the chunks are too small.
pub const OVERHEAD_SHARE_LIMIT: f64 = 0.30;

/// Per-task overhead above this share of the median task: the chunks are too small, when
/// that overhead is also at least [`OVERHEAD_SHARE_FLOOR`] of the pool's capacity.
pub const PER_TASK_OVERHEAD_LIMIT: f64 = 0.10;

/// Below this share of the pool's capacity the per-task overhead is not worth a flag,
/// whatever its ratio to the task: Dask's fixed ~2 ms per task is 30 % of a 6 ms task at
/// 2048-pixel chunks yet under a tenth of the wall, and "use larger chunks" there would
/// leave threads idle.
pub const OVERHEAD_SHARE_FLOOR: f64 = 0.10;

/// Read amplification above this: misalignment costs decoding worth flagging.
pub const AMPLIFICATION_LIMIT: f64 = 1.05;

/// What the lesson teaches, when a row shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Flag {
    /// Per-task overhead over [`OVERHEAD_SHARE_LIMIT`] of capacity, or over
    /// [`PER_TASK_OVERHEAD_LIMIT`] of the median task while at least
    /// [`OVERHEAD_SHARE_FLOOR`] of capacity.
    SmallChunks {
        config: String,
        task_overhead_share: f64,
        task_overhead_per_task_us: f64,
        task_median_us: f64,
    },
    /// Read amplification over [`AMPLIFICATION_LIMIT`] for a reader that decodes per task.
    Misaligned {
        config: String,
        read_amplification: f64,
        /// What the run decoded, when it shared blocks (chunkscope's engine).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        measured: Option<f64>,
    },
    FewerChunksThanThreads {
        config: String,
        chunks: usize,
        threads: usize,
    },
    /// Efficiency above 100 % beyond the noise: more than the threads alone can give.
    Superlinear {
        config: String,
        efficiency: f64,
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
                units::duration_ns(convert::us_to_ns(*task_overhead_per_task_us)),
                units::duration_ns(convert::us_to_ns(*task_median_us)),
                units::share(*task_overhead_share),
            ),
            Flag::Misaligned {
                config,
                read_amplification,
                measured: Some(m),
            } if *m <= AMPLIFICATION_LIMIT => write!(
                f,
                "{config}: chunks do not line up with the COG blocks: a reader that decodes \
                 per task, without a block cache, decodes {read_amplification:.2}x the \
                 pixels; this run \
                 shared its blocks and decoded {m:.2}x; a multiple of the block size \
                 costs neither"
            ),
            Flag::Misaligned {
                config,
                read_amplification,
                measured: Some(m),
            } => write!(
                f,
                "{config}: chunks do not line up with the COG blocks, so {m:.2}x the \
                 pixels were decoded (each chunk decodes every block it touches; the plan \
                 predicts {read_amplification:.2}x); use a multiple of the block size"
            ),
            // Not measured (Dask's side): its tasks read through GDAL's block cache, whose
            // hits its task stream does not show, so only the plan's bound can be said.
            Flag::Misaligned {
                config,
                read_amplification,
                measured: None,
            } => write!(
                f,
                "{config}: chunks do not line up with the COG blocks: a reader that \
                 decodes per task, without a block cache, decodes up to \
                 {read_amplification:.2}x the pixels (not measured for this engine); use a \
                 multiple of the block size"
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
            Flag::Superlinear {
                config,
                efficiency,
                threads,
            } => write!(
                f,
                "{config}: {} efficiency on {threads} thread(s) is superlinear, more than \
                 the threads alone can give: the chunked path does less work than the serial \
                 one here (whole arrays do not fit the CPU caches and are allocated and freed \
                 at once; chunks are), so part of the gain comes from chunking, not from \
                 parallelism",
                units::share(*efficiency)
            ),
        }
    }
}

/// One engine's verdict over its rows `idx` of `rows`.
pub(super) fn engine_verdict(
    engine: Engine,
    rows: &[SweepRow],
    idx: &[usize],
    flags: &[Flag],
) -> EngineVerdict {
    let subset: Vec<SweepRow> = idx.iter().map(|&i| rows[i].clone()).collect();
    let (mut best, mut tie) = decide(&subset, flags);
    if let Some(b) = &mut best {
        b.row = idx[b.row];
    }
    if let Some(t) = &mut tie {
        t.rows = t.rows.iter().map(|&i| idx[i]).collect();
    }
    let mut ranking = idx.to_vec();
    ranking.sort_by_key(|&i| rows[i].wall.median_ns);
    EngineVerdict {
        engine,
        best,
        no_clear_winner: tie,
        ranking,
    }
}

/// The row an engine's verdict puts first: its best, else its fastest by median.
fn leader(v: &EngineVerdict) -> Option<usize> {
    v.best
        .as_ref()
        .map(|b| b.row)
        .or(v.ranking.first().copied())
}

/// Where two engines' leaders differ, and why, from the measured figures: the cost per
/// task times the tasks of each leader's chunks on both engines, the read amplification
/// of both chunk shapes, and the time lost around the writer. `None` when a side has no
/// rows.
pub fn disagreement(rows: &[SweepRow], a: &EngineVerdict, b: &EngineVerdict) -> Option<String> {
    let (ia, ib) = (leader(a)?, leader(b)?);
    let (ra, rb) = (&rows[ia], &rows[ib]);
    let named = |v: &EngineVerdict| {
        if v.best.is_some() {
            "best"
        } else {
            "fastest by median (no clear winner)"
        }
    };
    let same = ra.chunks == rb.chunks && ra.threads == rb.threads;
    let mut text = if same {
        format!(
            "both engines put {} x {} first ({}: {}, {}: {})",
            ra.chunks.as_deref().unwrap_or("whole"),
            ra.threads,
            a.engine,
            units::duration_ns(ra.wall.median_ns),
            b.engine,
            units::duration_ns(rb.wall.median_ns)
        )
    } else {
        format!(
            "{}'s {} is {} ({}), {}'s {} is {} ({})",
            a.engine,
            named(a),
            ra.label,
            units::duration_ns(ra.wall.median_ns),
            b.engine,
            named(b),
            rb.label,
            units::duration_ns(rb.wall.median_ns)
        )
    };
    // The same chunks and threads on the other engine, for each leader.
    let twin = |r: &SweepRow, engine: Engine| {
        rows.iter()
            .find(|o| o.engine == Some(engine) && o.chunks == r.chunks && o.threads == r.threads)
    };
    let mut why = Vec::new();
    for r in [ra, rb] {
        let Some(chunks) = &r.chunks else { continue };
        let (Some(x), Some(y)) = (twin(r, a.engine), twin(r, b.engine)) else {
            continue;
        };
        let (Some(cx), Some(cy)) = (x.cost, y.cost) else {
            continue;
        };
        let lost = |c: &TaskCost, threads: usize| {
            units::duration_ns(convert::round_u64(
                c.overhead_us * c.tasks as f64 * 1e3 / threads.max(1) as f64,
            ))
        };
        // Each engine's own task count: Dask's graph splits the work into more tasks
        // than chunkscope's for the same chunks.
        why.push(format!(
            "per-task cost at {chunks} x {}: {} {} per task over {} tasks ({} of each \
             thread's time), {} {} over {} ({})",
            r.threads,
            a.engine,
            units::duration_ns(convert::us_to_ns(cx.overhead_us)),
            cx.tasks,
            lost(&cx, r.threads),
            b.engine,
            units::duration_ns(convert::us_to_ns(cy.overhead_us)),
            cy.tasks,
            lost(&cy, r.threads),
        ));
        if let Some(w) = cy.write_overlap_us.or(cx.write_overlap_us) {
            let chunkscope_wait = if a.engine == Engine::Chunkscope {
                cx.waits_us
            } else {
                cy.waits_us
            };
            why.push(format!(
                "the writer's lock at {chunks} x {}: Dask's write tasks overlapped (waiting for it) {} per task, chunkscope's threads waited {} per task for its writer and buffers",
                r.threads,
                units::duration_ns(convert::us_to_ns(w)),
                units::duration_ns(convert::us_to_ns(chunkscope_wait)),
            ));
        }
        if same {
            break;
        }
    }
    for r in if same { vec![ra] } else { vec![ra, rb] } {
        if let Some(p) = &r.plan
            && p.read_amplification > AMPLIFICATION_LIMIT
        {
            // The plan's figure is what a reader without a block cache decodes (what
            // Dask's readers decode depends on GDAL's cache behind them: its stream does
            // not say); chunkscope's measured figure says whether its load shared them.
            let measured = rows
                .iter()
                .filter(|o| o.chunks == r.chunks && o.threads == r.threads)
                .find_map(|o| o.read_amplification_measured);
            why.push(match measured {
                Some(m) => format!(
                    "read amplification at {}: {:.2}x for a reader that decodes per task \
                     (the plan's figure), chunkscope's {:.2}x measured",
                    r.chunks.as_deref().unwrap_or("?"),
                    p.read_amplification,
                    m
                ),
                None => format!(
                    "read amplification at {}: {:.2}x per task",
                    r.chunks.as_deref().unwrap_or("?"),
                    p.read_amplification
                ),
            });
        }
    }
    if !same {
        text.push_str(". Why they differ: ");
    } else if !why.is_empty() {
        text.push_str(". Their costs there: ");
    }
    text.push_str(&why.join("; "));
    Some(text)
}

/// The lesson's flags for one chunked row.
pub(super) fn flags(r: &SweepRow) -> Vec<Flag> {
    let Some(plan) = &r.plan else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if r.task_overhead_share > OVERHEAD_SHARE_LIMIT
        || (r.task_overhead_per_task_us > PER_TASK_OVERHEAD_LIMIT * r.task_median_us
            && r.task_overhead_share >= OVERHEAD_SHARE_FLOOR)
    {
        out.push(Flag::SmallChunks {
            config: r.label.clone(),
            task_overhead_share: r.task_overhead_share,
            task_overhead_per_task_us: r.task_overhead_per_task_us,
            task_median_us: r.task_median_us,
        });
    }
    // The plan's figure is what a per-task reader decodes; chunkscope's shared
    // blocks decode each block once, and the flag says so from the run's own count.
    if plan.read_amplification > AMPLIFICATION_LIMIT {
        out.push(Flag::Misaligned {
            config: r.label.clone(),
            read_amplification: plan.read_amplification,
            measured: r.read_amplification_measured,
        });
    }
    if plan.chunk_count < r.threads {
        out.push(Flag::FewerChunksThanThreads {
            config: r.label.clone(),
            chunks: plan.chunk_count,
            threads: r.threads,
        });
    }
    // Above 100 % even at the low end of the speedup's error: not noise.
    if let Some(s) = r.speedup {
        let low = (s.value - s.error.unwrap_or(0.0)) / r.threads.max(1) as f64;
        if low > 1.0 {
            out.push(Flag::Superlinear {
                config: r.label.clone(),
                efficiency: s.value / r.threads.max(1) as f64,
                threads: r.threads,
            });
        }
    }
    out
}

/// Names the best configuration when its runs all beat every other configuration's (see
/// [`stats::fastest`]), with one sentence on why and by how much and the flags it carries;
/// otherwise says which configurations are tied and why no winner is named.
pub(super) fn decide(
    rows: &[SweepRow],
    flags: &[Flag],
) -> (Option<Recommendation>, Option<NoClearWinner>) {
    let walls: Vec<&Timing> = rows.iter().map(|r| &r.wall).collect();
    let Some(decision) = stats::fastest(&walls) else {
        return (None, None);
    };
    match decision {
        stats::Fastest::Clear { best, runner_up } => {
            (Some(recommend(rows, flags, best, runner_up)), None)
        }
        stats::Fastest::Tied { by_median, tied }
        | stats::Fastest::TooFewRuns { by_median, tied } => {
            let first = &rows[by_median];
            let mut idx = vec![by_median];
            idx.extend(tied.iter().copied());
            let labels: Vec<String> = idx.iter().map(|&i| rows[i].label.clone()).collect();
            let reason = if first.wall.n < stats::MIN_DECIDING_RUNS {
                format!(
                    "no clear winner: the fastest by median, {} ({}), has {} run(s), fewer \
                     than the {} it takes to tell a result from a lucky run{}; raise \
                     --repeat or the --budget for more runs",
                    first.label,
                    units::duration_ns(first.wall.median_ns),
                    first.wall.n,
                    stats::MIN_DECIDING_RUNS,
                    if tied.is_empty() {
                        String::new()
                    } else {
                        format!(", and its runs overlap those of {}", labels[1..].join(", "))
                    }
                )
            } else {
                format!(
                    "no clear winner: {} ({} by median) and {} overlap in their runs \
                     (min…max), so which is fastest is within the noise; any of them will \
                     do, or raise --budget for more runs",
                    first.label,
                    units::duration_ns(first.wall.median_ns),
                    labels[1..].join(", ")
                )
            };
            (
                None,
                Some(NoClearWinner {
                    rows: idx,
                    labels,
                    reason,
                }),
            )
        }
    }
}

/// The recommendation for a clear winner: why it won, by how much, and its caveats.
fn recommend(
    rows: &[SweepRow],
    flags: &[Flag],
    best_i: usize,
    runner_up: Option<usize>,
) -> Recommendation {
    let best = &rows[best_i];
    let mut reason = format!(
        "{} has the lowest total wall time in every one of its {} runs ({} by median)",
        best.label,
        best.wall.n,
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
                    units::speedup(s.value, s.error),
                    units::share(e)
                ));
            }
            let shared = best
                .read_amplification_measured
                .is_some_and(|m| m <= AMPLIFICATION_LIMIT);
            if plan.read_amplification > AMPLIFICATION_LIMIT && shared {
                reason.push_str(&format!(
                    ", with {} chunks that straddle blocks: a per-task reader decodes {:.2}x \
                     the pixels, this engine's shared blocks each once",
                    plan.shape, plan.read_amplification
                ));
            } else if plan.read_amplification > AMPLIFICATION_LIMIT {
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
    if let Some(second) = runner_up.map(|i| &rows[i]) {
        let margin =
            units::share(second.wall.median_ns as f64 / best.wall.median_ns.max(1) as f64 - 1.0);
        reason.push_str(&format!(
            "; {} ahead of the next best, {}, by median",
            margin, second.label
        ));
    }
    reason.push('.');
    let caveats: Vec<String> = flags
        .iter()
        .filter(|f| f.config() == best.label)
        .map(ToString::to_string)
        .collect();
    Recommendation {
        row: best_i,
        label: best.label.clone(),
        reason,
        caveats,
    }
}

impl Flag {
    /// The configuration the flag is about.
    pub fn config(&self) -> &str {
        match self {
            Flag::SmallChunks { config, .. }
            | Flag::Misaligned { config, .. }
            | Flag::FewerChunksThanThreads { config, .. }
            | Flag::Superlinear { config, .. } => config,
        }
    }
}

impl SweepResult {
    /// The sweep's conclusion in words: the best configuration with its reason and
    /// caveats, or why none is named.
    pub fn conclusion(&self) -> String {
        match (&self.best, &self.no_clear_winner) {
            (Some(best), _) => {
                let mut text = best.reason.clone();
                for caveat in &best.caveats {
                    text.push_str(&format!(" Note: {caveat}."));
                }
                text
            }
            (None, Some(tie)) => format!("{}.", tie.reason),
            (None, None) => "no runs finished: nothing to conclude.".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::experiment::SCHEMA_VERSION;
    use crate::experiment::rounds::PlanFigures;
    use crate::pipeline::Schedule;
    use crate::profile::stats::Speedup;

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
            read_amplification_measured: None,
            peak_rss_bytes: 0,
            load_bytes: 0,
            decoded_mb_s: 0.0,
            engine: None,
            cost: None,
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
        small.task_overhead_share = 0.17;
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
        // Dask at 2048 on one thread: its fixed cost is 29 % of the median task but 8.5 %
        // of the wall; no flag, as larger chunks would leave threads idle for little.
        let mut dask = row("dask x 1 @ 2048", &[10], Some(plan(2048, 9, 1.0)), 1);
        dask.task_median_us = 5_550.0;
        dask.task_overhead_per_task_us = 1_590.0;
        dask.task_overhead_share = 0.085;
        assert!(flags(&dask).is_empty(), "{:?}", flags(&dask));
        // The same ratio at a sixth of the wall is worth saying.
        dask.task_overhead_share = 0.17;
        assert!(matches!(
            flags(&dask).as_slice(),
            [Flag::SmallChunks { .. }]
        ));
        // Over the share limit, whatever the ratio.
        let mut busy = row("dask x 2 @ 256", &[10], Some(plan(256, 484, 1.0)), 2);
        busy.task_median_us = 10_000.0;
        busy.task_overhead_per_task_us = 500.0;
        busy.task_overhead_share = 0.46;
        assert!(matches!(
            flags(&busy).as_slice(),
            [Flag::SmallChunks { .. }]
        ));
    }

    #[test]
    fn engines_that_agree_give_each_its_own_task_count_and_cost() {
        let cost = |tasks, overhead_us| TaskCost {
            tasks,
            work_us: 10_000.0,
            overhead_us,
            gaps_us: overhead_us,
            start_us: 0.0,
            idle_us: 0.0,
            waits_us: 0.0,
            transfer_us: None,
            outside_tasks_us: None,
            write_overlap_us: None,
        };
        let mut ours = row(
            "chunked x 2 @ 2048",
            &[10, 11, 12],
            Some(plan(2048, 9, 1.0)),
            2,
        );
        ours.engine = Some(Engine::Chunkscope);
        ours.cost = Some(cost(27, 2_740.0));
        let mut dask = row(
            "dask x 2 @ 2048",
            &[30, 31, 32],
            Some(plan(2048, 9, 1.0)),
            2,
        );
        dask.engine = Some(Engine::Dask);
        dask.cost = Some(cost(56, 2_880.0));
        let rows = [ours, dask];
        let verdict = |engine, row| EngineVerdict {
            engine,
            best: None,
            no_clear_winner: None,
            ranking: vec![row],
        };
        let text = disagreement(
            &rows,
            &verdict(Engine::Chunkscope, 0),
            &verdict(Engine::Dask, 1),
        )
        .expect("both engines have rows");
        assert!(
            text.starts_with("both engines put 3,2048,2048 x 2 first"),
            "{text}"
        );
        assert!(
            text.contains("chunkscope 2.74 ms per task over 27 tasks"),
            "{text}"
        );
        assert!(text.contains("dask 2.88 ms over 56"), "{text}");
    }

    #[test]
    fn misaligned_chunks_say_what_was_decoded_only_where_it_was_counted() {
        let misaligned = |measured| Flag::Misaligned {
            config: "x @ 256".into(),
            read_amplification: 14.94,
            measured,
        };
        let shared = misaligned(Some(1.0)).to_string();
        assert!(
            shared.contains("decodes 14.94x") && shared.contains("decoded 1.00x"),
            "{shared}"
        );
        let per_task = misaligned(Some(14.9)).to_string();
        assert!(
            per_task.contains("so 14.90x the pixels were decoded"),
            "{per_task}"
        );
        assert!(per_task.contains("the plan predicts 14.94x"), "{per_task}");
        // Dask's side: nothing counted, so no claim that it decoded anything.
        let dask = misaligned(None).to_string();
        assert!(
            dask.contains("up to 14.94x") && dask.contains("not measured"),
            "{dask}"
        );
        assert!(
            !dask.contains("were decoded") && !dask.contains("are decoded"),
            "{dask}"
        );
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
        let all: Vec<Flag> = rows.iter().flat_map(flags).collect();
        let (best, tie) = decide(&rows, &all);
        let best = best.unwrap();
        assert!(tie.is_none());
        assert_eq!(best.row, 1);
        assert!(best.caveats.is_empty());
        assert!(
            best.reason.contains("aligned to the blocks"),
            "{}",
            best.reason
        );
        assert!(
            best.reason
                .contains("ahead of the next best, chunked x 2 @ 100")
        );
        assert!(best.reason.contains("in every one of its 3 runs"));
        assert_eq!(flags(&rows[2]).len(), 1);
        assert!(flags(&rows[0]).is_empty());
    }

    #[test]
    fn overlapping_runs_or_too_few_name_no_winner() {
        let rows = [
            row("serial", &[100, 101, 102], None, 1),
            row(
                "chunked x 2 @ 128",
                &[60, 70, 62],
                Some(plan(128, 16, 1.0)),
                2,
            ),
            row(
                "chunked x 2 @ 256",
                &[65, 61, 66],
                Some(plan(256, 4, 1.0)),
                2,
            ),
        ];
        let all: Vec<Flag> = rows.iter().flat_map(flags).collect();
        let (best, tie) = decide(&rows, &all);
        assert!(best.is_none());
        let tie = tie.unwrap();
        assert_eq!(tie.rows, [1, 2]);
        assert!(tie.reason.starts_with("no clear winner"), "{}", tie.reason);
        assert!(tie.reason.contains("chunked x 2 @ 256"), "{}", tie.reason);

        let one_each = [
            row("serial", &[100], None, 1),
            row("chunked x 2 @ 128", &[60], Some(plan(128, 16, 1.0)), 2),
        ];
        let (best, tie) = decide(&one_each, &[]);
        assert!(best.is_none());
        assert!(
            tie.unwrap()
                .reason
                .contains("has 1 run(s), fewer than the 3")
        );
    }

    #[test]
    fn a_best_that_carries_a_flag_is_named_with_it() {
        // One chunk for two threads, yet fastest in every run.
        let mut lone = row(
            "chunked x 2 @ auto",
            &[50, 51, 52],
            Some(plan(512, 1, 1.0)),
            2,
        );
        lone.speedup = Some(Speedup {
            value: 2.0,
            error: Some(0.01),
        });
        let rows = [row("serial", &[100, 101, 102], None, 1), lone];
        let all: Vec<Flag> = rows.iter().flat_map(flags).collect();
        let best = decide(&rows, &all).0.unwrap();
        assert_eq!(best.row, 1);
        assert_eq!(best.caveats.len(), 1, "{:?}", best.caveats);
        assert!(best.caveats[0].contains("1 chunk(s) for 2 threads"));
        let result = SweepResult {
            schema_version: SCHEMA_VERSION,
            item: "x".into(),
            resolution_m: 20,
            schedule: Schedule::Staged,
            repeat: 3,
            warmup: 0,
            runs_done: 6,
            runs_planned: 6,
            cancelled: false,
            disturbed_runs: 0,
            rows: rows.to_vec(),
            best: Some(best),
            no_clear_winner: None,
            extra_runs: 0,
            flags: all,
            warnings: Vec::new(),
            per_engine: Vec::new(),
            disagreement: None,
        };
        assert!(
            result
                .conclusion()
                .contains("Note: chunked x 2 @ auto: 1 chunk(s)")
        );
    }

    #[test]
    fn efficiency_above_100_percent_beyond_the_noise_is_flagged_superlinear() {
        let mut r = row(
            "chunked x 1 @ 1024",
            &[80, 81, 82],
            Some(plan(1024, 9, 1.0)),
            1,
        );
        r.speedup = Some(Speedup {
            value: 1.14,
            error: Some(0.03),
        });
        let f = flags(&r);
        assert!(matches!(f.as_slice(), [Flag::Superlinear { .. }]), "{f:?}");
        assert!(
            f[0].to_string()
                .contains("114 % efficiency on 1 thread(s) is superlinear")
        );
        // Within its error of 100 %: not flagged.
        r.speedup = Some(Speedup {
            value: 1.02,
            error: Some(0.05),
        });
        assert!(flags(&r).is_empty());
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
}
