//! `chunkscope sweep`: chunk requests x thread counts plus the serial baseline, in
//! alternated rounds; prints one row of medians per configuration, the best one and why,
//! and the lesson's flags; writes the table as CSV and the result as JSON when asked.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use chunkscope::chunks::ChunkRequest;
use chunkscope::experiment::sweep::{self, SweepResult, SweepSpec};
use chunkscope::profile::units;
use chunkscope::task::Stage;

use super::SceneArgs;
use super::compare::{RoundsOf, efficiency_or_dash, in_rounds, print_warnings, speedup_text};
use super::engine::EngineArgs;
use super::options::{
    ChunkList, PipelineOptions, RoundsOptions, ScheduleOption, ThreadLimitArgs, flatten_chunks,
};

#[derive(Debug, Args)]
pub struct SweepArgs {
    #[command(flatten)]
    scene: SceneArgs,
    /// Chunk requests to try, each a side (512: all bands x 512 x 512), auto[:SIZE] or
    /// blocks:K, separated by commas. To include BANDS,ROWS,COLS shapes, separate the list
    /// with semicolons instead: "3,512,512;1,1024,1024;auto". May be given more than once.
    #[arg(
        long,
        value_name = "LIST",
        default_value = "256,512,1000,1024,2048,4096,auto"
    )]
    chunks: Vec<ChunkList>,
    /// Thread counts for the chunked path.
    #[arg(
        long,
        value_name = "N[,N...]",
        value_delimiter = ',',
        default_value = "1,2,4"
    )]
    threads: Vec<NonZeroUsize>,
    #[command(flatten)]
    options: SweepOptions,
    #[command(flatten)]
    engine: EngineArgs,
}

/// Everything of a sweep but its matrix: shared with `bench`, a sweep preset.
#[derive(Debug, Args)]
pub struct SweepOptions {
    #[command(flatten)]
    pub rounds: RoundsOptions,
    /// After the rounds, time for more runs of the configurations still tied for fastest
    /// (runs that overlap), so a best one is named only when the data supports it: 30s,
    /// 2min, or 0 for none.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_budget)]
    pub budget: Duration,
    #[command(flatten)]
    pub schedule: ScheduleOption,
    #[command(flatten)]
    pub pipeline: PipelineOptions,
    #[command(flatten)]
    pub limits: ThreadLimitArgs,
    /// Write the table as CSV to this file.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Write the whole result as JSON to this file (the TUI can load it); - for stdout.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

pub fn sweep(args: SweepArgs) -> anyhow::Result<ExitCode> {
    run_matrix(
        "sweep",
        &args.scene,
        flatten_chunks(&args.chunks),
        args.threads,
        &args.options,
        Some(&args.engine),
    )
}

/// Runs serial and every chunk request x thread count in alternated rounds, prints the
/// table, the best configuration and the flags, and writes the files asked for. `name`
/// names the scratch folder and the messages.
pub fn run_matrix(
    name: &str,
    scene: &SceneArgs,
    chunks: Vec<ChunkRequest>,
    threads: Vec<NonZeroUsize>,
    o: &SweepOptions,
    engine: Option<&EngineArgs>,
) -> anyhow::Result<ExitCode> {
    if threads.is_empty() {
        anyhow::bail!("--threads needs at least one thread count, like 1,2,4");
    }
    o.limits.check(&threads)?;
    let configs = 1 + chunks.len().saturating_mul(threads.len());
    super::check_runs(
        configs
            .saturating_mul(o.rounds.repeat)
            .saturating_add(o.rounds.warmup),
    )?;
    let spec = SweepSpec {
        chunks,
        threads,
        schedule: o.schedule.schedule(),
        repetition: o.rounds.repetition()?,
        budget: o.budget,
    };
    let to_stdout = o.json.as_deref() == Some(Path::new("-"));
    let files: Vec<&Path> = o
        .csv
        .iter()
        .chain(o.json.iter().filter(|_| !to_stdout))
        .map(PathBuf::as_path)
        .collect();
    let (scene, guard, result) = in_rounds(
        scene,
        &o.pipeline,
        RoundsOf {
            name,
            threads: &spec.threads,
            chunks: &spec.chunks,
            files: &files,
            engine: engine.map(|e| (e, spec.schedule)),
        },
        |scene, base, engines, cancel, progress| {
            sweep::sweep_on(scene, base, &spec, engines, cancel, progress)
        },
    )?;
    let result = result.with_context(|| format!("the {name} on item \"{}\" failed", scene.item))?;
    let mut notices: Vec<&String> = result
        .rows
        .iter()
        .filter_map(|r| r.plan.as_ref())
        .flat_map(|p| &p.notices)
        .collect();
    notices.dedup();
    for notice in notices {
        eprintln!("note: {notice}");
    }
    if to_stdout {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print!("{}", render(&result));
    }
    print_warnings(&result.warnings);
    if let Some(path) = &o.csv {
        result.save_csv(path, &guard)?;
        eprintln!("wrote the table to \"{}\"", path.display());
    }
    if let Some(path) = o.json.as_ref().filter(|_| !to_stdout) {
        result.save_guarded(path, &guard)?;
        eprintln!("wrote the {name} to \"{}\"", path.display());
    }
    if result.cancelled {
        eprintln!(
            "cancelled after {} of {} runs: the rows (and files) hold the runs that finished",
            result.runs_done, result.runs_planned
        );
        return Ok(crate::signals::cancelled_exit_code());
    }
    Ok(ExitCode::SUCCESS)
}

/// The table, the best configuration and the flags.
fn render(r: &SweepResult) -> String {
    let mut out = format!(
        "item {} at {} m, schedule {}: medians of {} alternated run(s) per configuration, \
         after {} warm-up run(s)\n",
        r.item,
        r.resolution_m,
        r.schedule.name(),
        r.repeat,
        r.warmup
    );
    let width = r
        .rows
        .iter()
        .map(|row| row.label.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let engines = r.rows.iter().any(|row| row.engine.is_some());
    if engines {
        out.push_str(&format!("{:<10}  ", "engine"));
    }
    out.push_str(&format!(
        "{:<width$}  {:>11}  {:>6}  {:>9} {:>9} {:>9} {:>9}  {:>9}  {:>13}  {:>5}  {:>8}  {:>11}  {:>10}  {:>9}\n",
        "config",
        "chunk shape",
        "chunks",
        "load",
        "mask",
        "write",
        "finalize",
        "total",
        "speedup",
        "eff.",
        "overhead",
        "ampl.",
        "decoded",
        "peak RSS",
    ));
    for row in &r.rows {
        let stage = |s: Stage| row.stage_ns(s).map_or("-".into(), units::duration_ns);
        let (shape, count, ampl) = match &row.plan {
            Some(p) => (
                p.shape.to_string(),
                p.chunk_count.to_string(),
                match row.read_amplification_measured {
                    Some(m) => format!("{:.2}/{m:.2}", p.read_amplification),
                    None => format!(
                        "{:.2} {}",
                        p.read_amplification,
                        if p.aligned { "ok" } else { "mis" }
                    ),
                },
            ),
            None => ("whole".into(), "-".into(), "-".into()),
        };
        if let Some(engine) = row.engine {
            out.push_str(&format!("{:<10}  ", engine.name()));
        }
        out.push_str(&format!(
            "{:<width$}  {:>11}  {:>6}  {:>9} {:>9} {:>9} {:>9}  {:>9}  {:>13}  {:>5}  {:>8}  {:>11}  {:>10}  {:>9}{}\n",
            row.label,
            shape,
            count,
            stage(Stage::Load),
            stage(Stage::Mask),
            stage(Stage::Write),
            stage(Stage::Finalize),
            units::duration_ns(row.wall.median_ns),
            speedup_text(row.speedup),
            efficiency_or_dash(row.efficiency),
            units::share(row.overhead_share),
            ampl,
            units::rate_mb_s(row.load_bytes, row.stage_ns(Stage::Load).unwrap_or(0)),
            // A task stream carries no memory: Dask's rows have none measured.
            if row.peak_rss_bytes == 0 {
                "-".to_string()
            } else {
                units::bytes(row.peak_rss_bytes)
            },
            super::compare::disturbed_cell(&row.wall),
        ));
    }
    out.push_str(
        "(ampl.: read amplification per task / as measured, or per task with \"ok\" when \
         chunks are aligned with the blocks)\n",
    );
    match (&r.best, &r.no_clear_winner) {
        _ if !r.per_engine.is_empty() => {}
        (Some(best), _) => {
            out.push_str(&format!("\nbest: {}\n  {}\n", best.label, best.reason));
            for caveat in &best.caveats {
                out.push_str(&format!("  but: {caveat}\n"));
            }
        }
        (None, Some(tie)) => {
            out.push_str(&format!(
                "\nbest: none named ({} configuration(s) tied for fastest)\n  {}\n",
                tie.labels.len(),
                tie.reason
            ));
        }
        (None, None) => {}
    }
    for v in &r.per_engine {
        let ranking: Vec<String> = v
            .ranking
            .iter()
            .map(|&i| {
                let row = &r.rows[i];
                format!(
                    "{} x {} ({})",
                    row.chunks.as_deref().unwrap_or("serial"),
                    row.threads,
                    units::duration_ns(row.wall.median_ns)
                )
            })
            .collect();
        out.push_str(&format!(
            "\n{} ranking, fastest first: {}\n",
            v.engine,
            ranking.join(" < ")
        ));
        match (&v.best, &v.no_clear_winner) {
            (Some(best), _) => out.push_str(&format!("  best on {}: {}\n", v.engine, best.reason)),
            (None, Some(tie)) => {
                out.push_str(&format!(
                    "  best on {}: none named; {}\n",
                    v.engine, tie.reason
                ));
            }
            (None, None) => {}
        }
    }
    if let Some(text) = &r.disagreement {
        out.push_str(&format!("\nchunkscope vs dask: {text}\n"));
    }
    let costs: Vec<_> = r
        .rows
        .iter()
        .filter_map(|row| {
            Some((
                row.label.clone(),
                row.engine?,
                row.threads,
                row.cost.as_ref()?,
            ))
        })
        .filter(|c| c.0 != "serial")
        .collect();
    if !costs.is_empty() {
        out.push_str(&super::engine::cost_table(&costs));
    }
    if r.extra_runs > 0 {
        out.push_str(&format!(
            "({} more run(s) of the leading configurations were taken to separate them)\n",
            r.extra_runs
        ));
    }
    if !r.flags.is_empty() {
        out.push_str("\nwhat the lesson teaches, seen in this data:\n");
        for flag in &r.flags {
            out.push_str(&format!("  - {flag}\n"));
        }
    }
    out
}

/// A time budget: `30s`, `2min`, `500ms`, or `0`.
fn parse_budget(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let number: f64 = t[..end]
        .parse()
        .map_err(|_| format!("\"{s}\" is not a duration: use e.g. 30s, 2min or 0"))?;
    let seconds = match t[end..].trim() {
        "" if number == 0.0 => 0.0,
        "ms" => number / 1e3,
        "s" => number,
        "min" | "m" => number * 60.0,
        _ => {
            return Err(format!(
                "\"{s}\" is not a duration: use e.g. 30s, 2min or 0"
            ));
        }
    };
    if !(0.0..=24.0 * 3600.0).contains(&seconds) {
        return Err(format!(
            "\"{s}\" is not a usable budget: keep it under a day"
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}
