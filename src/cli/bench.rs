//! `chunkscope bench`: a sweep preset — serial vs chunked x {1, 2, 4} over chunk sides 512
//! to 4096, with the sweep's statistics, table and files — and `--profiling-cost`, what
//! chunkscope's own measuring costs a run.

use std::num::NonZeroUsize;
use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use chunkscope::chunks::ChunkRequest;
use chunkscope::experiment::profiling::{self, ProfilingCost};
use chunkscope::output::OutputFormat;
use chunkscope::pipeline;
use chunkscope::profile::units;
use chunkscope::task::CancelFlag;

use super::compare::Scratch;
use super::options::{ChunkList, cores, flatten_chunks};
use super::sweep::{SweepOptions, run_matrix};
use super::{SceneArgs, cancel_on_signals, check_runs, load_scene, note_task_counts};

/// The preset's chunk sides.
const SIDES: [usize; 4] = [512, 1024, 2048, 4096];
/// The preset's thread counts.
const THREADS: [usize; 3] = [1, 2, 4];

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    scene: SceneArgs,
    /// Chunk requests, as for sweep. Default: 512,1024,2048,4096; with --profiling-cost one
    /// request, default blocks:2.
    #[arg(long, value_name = "LIST")]
    chunks: Vec<ChunkList>,
    /// Thread counts, as for sweep. Default: 1,2,4; with --profiling-cost one count,
    /// default the cores.
    #[arg(long, value_name = "N[,N...]", value_delimiter = ',')]
    threads: Vec<NonZeroUsize>,
    #[command(flatten)]
    options: SweepOptions,
    /// Instead of the matrix: the cost of profiling. Alternates runs with profiling on
    /// (events consumed, CPU sampler at 10 Hz) and off (events dropped at the source, no
    /// sampler) on one chunk request and thread count, at least 5 pairs (--repeat), and
    /// reports the median ratio.
    #[arg(long)]
    profiling_cost: bool,
}

pub fn bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    if args.profiling_cost {
        return profiling_cost(&args);
    }
    let chunks = match flatten_chunks(&args.chunks) {
        none if none.is_empty() => SIDES.map(ChunkRequest::Square).to_vec(),
        given => given,
    };
    let threads = match args.threads {
        none if none.is_empty() => THREADS
            .iter()
            .filter_map(|&t| NonZeroUsize::new(t))
            .collect(),
        given => given,
    };
    run_matrix("bench", &args.scene, chunks, threads, &args.options, None)
}

/// Profiling on vs off, alternated in pairs so drift hits both alike.
fn profiling_cost(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    let o = &args.options;
    let chunks = match flatten_chunks(&args.chunks).as_slice() {
        [] => ChunkRequest::Blocks(2),
        [one] => one.clone(),
        _ => anyhow::bail!("--profiling-cost measures one chunk request: give one --chunks"),
    };
    let threads = match args.threads.as_slice() {
        [] => cores(),
        [one] => *one,
        _ => anyhow::bail!("--profiling-cost measures one thread count: give one --threads"),
    };
    if o.csv.is_some() {
        anyhow::bail!("--csv writes the matrix's table; --profiling-cost prints one figure");
    }
    o.limits.check(&[threads])?;
    let pairs = o.rounds.repetition()?.repeat.max(5);
    check_runs(2 * pairs + o.rounds.warmup)?;
    let (catalog, scene, _served) = load_scene(&args.scene)?;
    let guard = super::write_guard(&catalog, &scene);
    if let Some(path) = o.json.as_deref().filter(|p| *p != Path::new("-")) {
        guard.check(path)?;
    }
    let cancel = CancelFlag::new();
    cancel_on_signals(&cancel);
    note_task_counts(&scene, args.scene.res, std::slice::from_ref(&chunks));
    let scratch = Scratch::create("bench")?;
    let base = o.pipeline.run_base(
        args.scene.res,
        scratch.path().join("profiling-cost.tif"),
        o.pipeline.format_or(OutputFormat::Cog),
    )?;
    let config = base.config(pipeline::Mode::Chunked {
        chunks,
        threads,
        schedule: o.schedule.schedule(),
    });
    let progress = |i: usize, pairs: usize| {
        eprint!("\r[{}/{pairs}] profiling on / off", i + 1);
    };
    let measured = profiling::measure(&scene, &config, o.rounds.warmup, pairs, &cancel, &progress)?;
    eprintln!();
    drop(scratch);
    let Some(cost) = measured else {
        eprintln!("cancelled");
        return Ok(crate::signals::cancelled_exit_code());
    };
    if let Some(path) = &o.json {
        let mut value = serde_json::to_value(&cost)?;
        if let Some(fields) = value.as_object_mut() {
            fields.insert(
                "schema_version".into(),
                serde_json::json!(pipeline::SCHEMA_VERSION),
            );
        }
        let text = serde_json::to_string_pretty(&value)?;
        if path == Path::new("-") {
            println!("{text}");
        } else {
            guard.write(path, (text + "\n").as_bytes())?;
            eprintln!("wrote the profiling cost to \"{}\"", path.display());
        }
    } else {
        let (on_med, off_med) = cost.medians_ns();
        let ProfilingCost {
            config: label,
            median_ratio: ratio,
            ratio_quartiles: [q1, q3],
            event_send_ns: send_ns,
            events_per_run: events_med,
            profiling_cpu_ns: own_med,
            run_cpu_ns: cpu_med,
            profiling_cpu_share: own_share,
            ..
        } = cost;
        println!("{label}, {pairs} alternated pairs");
        println!("  profiling on   median {}", units::duration_ns(on_med));
        println!("  profiling off  median {}", units::duration_ns(off_med));
        println!(
            "  median of pair ratios on/off: {:.4} ({:+.2} %)",
            ratio,
            (ratio - 1.0) * 100.0
        );
        println!(
            "  middle half of the pair ratios: {q1:.4} … {q3:.4} (the noise the median sits in)"
        );
        println!(
            "  profiling's own CPU, measured: {} per run (sampler thread's clock, plus {} events x {:.0} ns per send) = {} of the run's CPU time {}",
            units::duration_ns(own_med),
            events_med,
            send_ns,
            units::share(own_share),
            units::duration_ns(cpu_med),
        );
    }
    Ok(ExitCode::SUCCESS)
}
