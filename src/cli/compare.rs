//! `chunkscope compare`: serial vs chunked x N on one chunk shape, in alternated rounds;
//! per stage and in total the median ± σ, min…max, speedup ± error and efficiency, then the
//! fitted Amdahl serial fraction. Also the pieces `sweep` and `bench` share: the scratch
//! folder the runs write into, the rounds progress bar and the printed figures.

use std::num::NonZeroUsize;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use indicatif::ProgressBar;

use chunkscope::chunks::ChunkRequest;
use chunkscope::convert;
use chunkscope::experiment::compare::{self, CompareResult, CompareSpec, Measured};
use chunkscope::experiment::engine::Engines;
use chunkscope::experiment::rounds::{ExperimentError, Progress, RunBase};
use chunkscope::output::OutputFormat;
use chunkscope::output::guard::WriteGuard;
use chunkscope::output::scratch::ScratchDir;
use chunkscope::pipeline::Scene;
use chunkscope::profile::stats::{Speedup, Warning};
use chunkscope::profile::units;
use chunkscope::task::CancelFlag;

use super::engine::EngineArgs;
use super::options::{PipelineOptions, RoundsOptions, ScheduleOption, ThreadLimitArgs};
use super::{SceneArgs, cancel_on_signals, check_runs, load_scene, note_task_counts, progress};

#[derive(Debug, Args)]
pub struct CompareArgs {
    #[command(flatten)]
    scene: SceneArgs,
    /// Chunk shape: BANDS,ROWS,COLS (e.g. 3,2048,2048), a side (2048), auto[:SIZE] or
    /// blocks:K.
    #[arg(long, value_name = "SPEC", default_value = "blocks:2")]
    chunks: ChunkRequest,
    /// Thread counts for the chunked path; each round runs serial, then each count in order.
    #[arg(
        long,
        value_name = "N[,N...]",
        value_delimiter = ',',
        default_value = "1,2,4"
    )]
    threads: Vec<NonZeroUsize>,
    #[command(flatten)]
    rounds: RoundsOptions,
    #[command(flatten)]
    schedule: ScheduleOption,
    #[command(flatten)]
    pipeline: PipelineOptions,
    #[command(flatten)]
    limits: ThreadLimitArgs,
    /// Print the comparison as JSON on stdout (warnings stay on stderr).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    engine: EngineArgs,
}

/// A temporary folder for the runs' outputs, removed when dropped (also on errors), and by
/// a later command if this process is killed (see [`ScratchDir`]).
pub struct Scratch(ScratchDir);

impl Scratch {
    pub fn create(command: &str) -> anyhow::Result<Self> {
        let dir = ScratchDir::create(command).with_context(|| {
            format!(
                "cannot create a scratch folder in \"{}\"",
                std::env::temp_dir().display()
            )
        })?;
        Ok(Self(dir))
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

/// One bar over all the runs of a comparison or sweep, on stderr (hidden when not a TTY).
pub struct RoundsBar(ProgressBar);

impl RoundsBar {
    pub fn new() -> Self {
        Self(progress::bar(
            0,
            "[{bar:30}] {pos}/{len} runs  {msg} ({elapsed})",
        ))
    }

    /// The engine's progress callback.
    pub fn update(&self, done: usize, total: usize, label: &str) {
        self.0.set_length(total as u64);
        self.0.set_position(done as u64);
        self.0.set_message(label.to_string());
    }

    pub fn finish(self) {
        self.0.finish_and_clear();
    }
}

/// Says so on stderr when thread counts exceed the cores: the extra threads share cores.
pub fn note_oversubscription(threads: &[NonZeroUsize]) {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    if let Some(max) = threads.iter().map(|t| t.get()).max()
        && max > cores
    {
        eprintln!(
            "note: up to {max} threads on {cores} core(s): threads beyond the cores share them, \
             so expect no gain there for CPU-bound work (waiting on a network still overlaps)"
        );
    }
}

pub fn compare(args: CompareArgs) -> anyhow::Result<ExitCode> {
    if args.threads.is_empty() {
        anyhow::bail!("--threads needs at least one thread count, like 1,2,4");
    }
    args.limits.check(&args.threads)?;
    let configs = 1 + args.threads.len();
    check_runs(
        configs
            .saturating_mul(args.rounds.repeat)
            .saturating_add(args.rounds.warmup),
    )?;
    let spec = CompareSpec {
        chunks: args.chunks.clone(),
        threads: args.threads.clone(),
        schedule: args.schedule.schedule(),
        repetition: args.rounds.repetition()?,
    };
    let (scene, _guard, result) = in_rounds(
        &args.scene,
        &args.pipeline,
        RoundsOf {
            name: "compare",
            threads: &spec.threads,
            chunks: std::slice::from_ref(&spec.chunks),
            files: &[],
            engine: Some((&args.engine, spec.schedule)),
        },
        |scene, base, engines, cancel, progress| {
            compare::compare_on(scene, base, &spec, engines, cancel, progress)
        },
    )?;
    let result =
        result.with_context(|| format!("the comparison on item \"{}\" failed", scene.item))?;
    for notice in &result.plan.notices {
        eprintln!("note: {notice}");
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print!("{}", render(&result));
        let costs: Vec<_> = result
            .configs
            .iter()
            .filter_map(|c| Some((c.label.clone(), c.engine?, c.threads, c.cost.as_ref()?)))
            .collect();
        if !costs.is_empty() {
            print!("{}", super::engine::cost_table(&costs));
        }
    }
    print_warnings(&result.warnings);
    if result.cancelled {
        eprintln!(
            "cancelled after {} of {} runs: the figures above are from the runs that finished",
            result.runs_done, result.runs_planned
        );
        return Ok(crate::signals::cancelled_exit_code());
    }
    Ok(ExitCode::SUCCESS)
}

/// What a command's rounds are: its name (for the scratch folder), the thread counts and
/// chunk requests it will run (for the notes before it), the files it will write (checked
/// before any run) and, with `--engine`, the engines and the schedule.
pub struct RoundsOf<'a> {
    pub name: &'a str,
    pub threads: &'a [NonZeroUsize],
    pub chunks: &'a [ChunkRequest],
    pub files: &'a [&'a Path],
    pub engine: Option<(&'a EngineArgs, chunkscope::pipeline::Schedule)>,
}

/// What compare and sweep (and so bench) share around their rounds: the scene, Ctrl-C, a
/// scratch folder for the runs' outputs (removed afterwards, also on errors), the shared
/// run settings and a progress bar. `work` calls the engine with them.
/// With an engine (and the schedule), the engines asked and, for Dask, its runner, checked
/// before any run.
pub fn in_rounds<T>(
    scene_args: &SceneArgs,
    pipeline: &PipelineOptions,
    rounds: RoundsOf<'_>,
    work: impl FnOnce(
        &Scene,
        &RunBase,
        Engines<'_>,
        &CancelFlag,
        Progress<'_>,
    ) -> Result<T, ExperimentError>,
) -> anyhow::Result<(Scene, WriteGuard, Result<T, ExperimentError>)> {
    let RoundsOf {
        name,
        threads,
        chunks,
        files,
        engine,
    } = rounds;
    let (catalog, scene, _served) = load_scene(scene_args)?;
    // The files asked for are checked before the runs, not after minutes of them.
    let guard = super::write_guard(&catalog, &scene);
    for file in files {
        guard.check(file)?;
    }
    // Before the scratch folder exists, so its existence tells that Ctrl-C is handled.
    let cancel = CancelFlag::new();
    cancel_on_signals(&cancel);
    let scratch = Scratch::create(name)?;
    let base = pipeline.run_base(
        scene_args.res,
        scratch.path().join(format!("{name}.tif")),
        pipeline.format_or(OutputFormat::Cog),
    )?;
    let asked = engine.and_then(|(e, _)| e.engines());
    let runner = match engine {
        Some((e, schedule)) => e.dask_runner(
            &catalog,
            &scene,
            scene_args.res,
            scene_args.network.network.is_some(),
            pipeline,
            schedule,
            scratch.path(),
        )?,
        None => None,
    };
    let engines = Engines {
        asked: asked.as_deref(),
        dask: runner.as_ref(),
    };
    note_oversubscription(threads);
    note_task_counts(&scene, scene_args.res, chunks);
    let bar = RoundsBar::new();
    let result = work(&scene, &base, engines, &cancel, &|done, total, label| {
        bar.update(done, total, label)
    });
    bar.finish();
    drop(scratch);
    Ok((scene, guard, result))
}

/// Warnings on stderr, one a line, labelled.
pub fn print_warnings(warnings: &[Warning]) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
}

/// `1.95x ± 0.04`, `1.95x` (one run), `1.00x (ref)` for the serial reference, `-` if none.
pub fn speedup_text(s: Option<Speedup>) -> String {
    match s {
        Some(s) if s == Speedup::REFERENCE => format!("{} (ref)", units::ratio(s.value)),
        Some(s) => units::speedup(s.value, s.error),
        None => "-".into(),
    }
}

/// An efficiency (`↑` above 100 %), or `-` when there is none.
pub fn efficiency_or_dash(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), units::efficiency)
}

/// `  ⚠ 2 of 3 runs disturbed` after a table row whose runs other processes disturbed;
/// empty otherwise, so a quiet machine's tables are as they were.
pub fn disturbed_cell(t: &chunkscope::profile::stats::Timing) -> String {
    if t.disturbed_runs == 0 {
        String::new()
    } else {
        format!("  ⚠ {} of {} runs disturbed", t.disturbed_runs, t.n)
    }
}

/// The human report: a heading, one table per stage and one for the total, the Amdahl fit.
fn render(r: &CompareResult) -> String {
    let mut out = String::new();
    let p = &r.plan;
    out.push_str(&format!(
        "item {} at {} m; chunks {} = {} ({} chunks, {}, read amplification {:.2}); schedule {}\n",
        r.item,
        r.resolution_m,
        r.chunks,
        p.shape,
        p.chunk_count,
        if p.aligned { "aligned" } else { "not aligned" },
        p.read_amplification,
        r.schedule.name(),
    ));
    let labels: Vec<&str> = r.configs.iter().map(|c| c.label.as_str()).collect();
    out.push_str(&format!(
        "{} warm-up run(s), then {} alternated round(s) of: {}; median ± σ over the runs of \
         each configuration\n",
        r.warmup,
        r.repeat,
        labels.join(", ")
    ));
    let width = labels.iter().map(|l| l.len()).max().unwrap_or(6).max(6);
    let table = |out: &mut String, title: &str, rows: Vec<(&str, &Measured)>| {
        out.push_str(&format!(
            "\n{title}\n  {:<width$}  {:>22}  {:>23}  {:>14}  {:>10}\n",
            "config", "median ± σ", "min … max", "speedup", "efficiency"
        ));
        for (label, m) in rows {
            out.push_str(&format!(
                "  {:<width$}  {:>22}  {:>23}  {:>14}  {:>10}{}\n",
                label,
                units::median_sd(m.timing.median_ns, m.timing.stdev_ns),
                units::span_ns(m.timing.min_ns, m.timing.max_ns),
                speedup_text(m.speedup),
                efficiency_or_dash(m.efficiency),
                disturbed_cell(&m.timing),
            ));
        }
    };
    for stage in chunkscope::task::Stage::ALL {
        let rows: Vec<(&str, &Measured)> = r
            .configs
            .iter()
            .filter_map(|c| Some((c.label.as_str(), c.stage(stage)?)))
            .collect();
        if !rows.is_empty() {
            table(&mut out, stage.name(), rows);
        }
    }
    let totals = r
        .configs
        .iter()
        .map(|c| (c.label.as_str(), &c.total))
        .collect();
    table(&mut out, "total", totals);
    out.push('\n');
    for v in r.configs.iter().filter_map(|c| c.verdict.as_ref()) {
        out.push_str(&format!("{v}\n"));
    }
    match &r.amdahl {
        Some(fit) => {
            let counts: Vec<String> = fit.points.iter().map(|p| p.0.to_string()).collect();
            out.push_str(&format!(
                "Amdahl fit over chunked x {} (total medians): serial fraction {:.3}, T1 {} \
                 ({}), rms residual {}; at most {} over T1 with any number of threads\n",
                counts.join(", "),
                fit.serial_fraction,
                units::duration_ns(convert::round_u64(fit.t1_ns)),
                if fit.t1_measured {
                    "measured"
                } else {
                    "fitted"
                },
                units::duration_ns(convert::round_u64(fit.rms_residual_ns)),
                if fit.serial_fraction > 0.0 {
                    units::ratio(fit.max_speedup())
                } else {
                    "no limit".into()
                },
            ));
        }
        None => out.push_str("Amdahl fit: needs at least two thread counts (--threads 1,2,4)\n"),
    }
    for line in superlinear_notes(r) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// A note for every figure whose efficiency is above 100 % even at the low end of the
/// speedup's error: more than the threads can give, so something else is at work.
fn superlinear_notes(r: &CompareResult) -> Vec<String> {
    let mut out = Vec::new();
    for c in r.configs.iter().filter(|c| c.mode == "chunked") {
        let figures = c
            .stages
            .iter()
            .map(|s| (s.stage.name(), &s.measured))
            .chain(std::iter::once(("total", &c.total)));
        for (what, m) in figures {
            let Some(s) = m.speedup else { continue };
            let low = (s.value - s.error.unwrap_or(0.0)) / c.threads.max(1) as f64;
            if low > 1.0 {
                out.push(format!(
                    "note: {} {what}: {} efficiency is superlinear, more than {} thread(s) can \
                     give: the chunked path does less work than the serial one there (whole \
                     arrays do not fit the CPU caches and are allocated at once; chunks are \
                     small and freed early), so part of the gain comes from chunking",
                    c.label,
                    units::share(s.value / c.threads.max(1) as f64),
                    c.threads
                ));
            }
        }
    }
    out
}
