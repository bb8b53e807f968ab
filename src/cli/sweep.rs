//! `chunkscope sweep`: chunk requests x thread counts plus the serial baseline, in
//! alternated rounds; prints one row of medians per configuration, the best one and why,
//! and the lesson's flags; writes the table as CSV and the result as JSON when asked.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use chunkscope::chunks::ChunkRequest;
use chunkscope::experiment::sweep::{self, SweepResult, SweepSpec};
use chunkscope::profile::units;
use chunkscope::task::Stage;

use super::SceneArgs;
use super::compare::{BenchOptions, in_rounds, print_warnings, share_or_dash, speedup_text};

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
    chunks: Vec<String>,
    /// Thread counts for the chunked path.
    #[arg(
        long,
        value_name = "N[,N...]",
        value_delimiter = ',',
        default_value = "1,2,4"
    )]
    threads: Vec<NonZeroUsize>,
    #[command(flatten)]
    bench: BenchOptions,
    #[command(flatten)]
    limits: super::ThreadLimitArgs,
    /// Write the table as CSV to this file.
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    /// Write the whole result as JSON to this file (the TUI can load it).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

/// Splits each `--chunks` value on `;` if it has one, else on `,`, and parses each element.
fn chunk_list(values: &[String]) -> anyhow::Result<Vec<ChunkRequest>> {
    let mut out = Vec::new();
    for value in values {
        let sep = if value.contains(';') { ';' } else { ',' };
        for part in value.split(sep).map(str::trim).filter(|p| !p.is_empty()) {
            out.push(
                part.parse::<ChunkRequest>()
                    .with_context(|| format!("in --chunks \"{value}\""))?,
            );
        }
    }
    if out.is_empty() {
        anyhow::bail!("--chunks needs at least one chunk request, like 512,1024,auto");
    }
    Ok(out)
}

pub fn sweep(args: SweepArgs) -> anyhow::Result<ExitCode> {
    let chunks = chunk_list(&args.chunks)?;
    if args.threads.is_empty() {
        anyhow::bail!("--threads needs at least one thread count, like 1,2,4");
    }
    args.limits.check(&args.threads)?;
    let configs = 1 + chunks.len().saturating_mul(args.threads.len());
    super::check_runs(
        configs
            .saturating_mul(args.bench.repeat)
            .saturating_add(args.bench.warmup),
    )?;
    let spec = SweepSpec {
        chunks,
        threads: args.threads.clone(),
        schedule: args.bench.schedule(),
        repetition: args.bench.repetition(),
    };
    let (scene, result) = in_rounds(
        &args.scene,
        &args.bench,
        &spec.threads,
        &spec.chunks,
        "sweep",
        |scene, base, cancel, progress| sweep::sweep(scene, base, &spec, cancel, progress),
    )?;
    let result = result.with_context(|| format!("the sweep on item \"{}\" failed", scene.item))?;
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
    print!("{}", render(&result));
    print_warnings(&result.warnings);
    if let Some(path) = &args.csv {
        result.save_csv(path)?;
        eprintln!("wrote the table to \"{}\"", path.display());
    }
    if let Some(path) = &args.json {
        result.save(path)?;
        eprintln!("wrote the sweep to \"{}\"", path.display());
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
    out.push_str(&format!(
        "{:<width$}  {:>11}  {:>6}  {:>9} {:>9} {:>9} {:>9}  {:>9}  {:>13}  {:>5}  {:>8}  {:>9}  {:>10}  {:>9}\n",
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
                format!(
                    "{:.2} {}",
                    p.read_amplification,
                    if p.aligned { "ok" } else { "mis" }
                ),
            ),
            None => ("whole".into(), "-".into(), "-".into()),
        };
        out.push_str(&format!(
            "{:<width$}  {:>11}  {:>6}  {:>9} {:>9} {:>9} {:>9}  {:>9}  {:>13}  {:>5}  {:>8}  {:>9}  {:>10}  {:>9}\n",
            row.label,
            shape,
            count,
            stage(Stage::Load),
            stage(Stage::Mask),
            stage(Stage::Write),
            stage(Stage::Finalize),
            units::duration_ns(row.wall.median_ns),
            speedup_text(row.speedup),
            share_or_dash(row.efficiency),
            units::share(row.overhead_share),
            ampl,
            units::rate_mb_s(row.load_bytes, row.stage_ns(Stage::Load).unwrap_or(0)),
            units::bytes(row.peak_rss_bytes),
        ));
    }
    out.push_str("(ampl.: read amplification, \"ok\" when chunks are aligned with the blocks)\n");
    if let Some(best) = &r.best {
        out.push_str(&format!("\nbest: {}\n  {}\n", best.label, best.reason));
    }
    if !r.flags.is_empty() {
        out.push_str("\nwhat the lesson teaches, seen in this data:\n");
        for flag in &r.flags {
            out.push_str(&format!("  - {flag}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_lists_split_on_commas_or_semicolons() {
        let l = chunk_list(&["256,auto, blocks:2".into()]).unwrap();
        assert_eq!(
            l,
            [
                ChunkRequest::Square(256),
                ChunkRequest::default(),
                ChunkRequest::Blocks(2)
            ]
        );
        let l = chunk_list(&["3,512,512;1024".into()]).unwrap();
        assert_eq!(
            l,
            [
                ChunkRequest::Explicit {
                    bands: 3,
                    rows: 512,
                    cols: 512
                },
                ChunkRequest::Square(1024)
            ]
        );
        assert!(chunk_list(&["512,0".into()]).is_err());
        assert!(chunk_list(&[",".into()]).is_err());
    }
}
