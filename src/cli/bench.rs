//! `chunkscope bench`: serial vs chunked x {1, 2, 4} over chunk sides, wall time per stage,
//! medians of repeated runs taken in alternation (A B C A B C ...) so that drift on a shared
//! machine spreads over every configuration alike.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use chunkscope::chunks::ChunkRequest;
use chunkscope::pipeline::{self, Mode, RunControl, RunReport};
use chunkscope::profile::{stats, units};
use chunkscope::task::{CancelFlag, Stage};

use super::run::PipelineArgs;
use super::{SceneArgs, cancel_on_signals, check_runs, load_scene, note_task_counts};

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    scene: SceneArgs,
    #[command(flatten)]
    pipeline: PipelineArgs,
    /// Chunk sides (all bands, side x side).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "512,1024,2048,4096",
        value_parser = parse_side
    )]
    sides: Vec<usize>,
    /// Thread counts for the chunked path.
    #[arg(long = "threads-list", value_delimiter = ',', default_value = "1,2,4")]
    threads_list: Vec<NonZeroUsize>,
    /// Runs per configuration (medians are reported).
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Print the table as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Instead of the matrix: the cost of profiling. Alternates runs with profiling on
    /// (events consumed, CPU sampler at 10 Hz) and off (events dropped at the source, no
    /// sampler) on --chunks/--threads, at least 5 pairs, and reports the median ratio.
    #[arg(long)]
    profiling_cost: bool,
    #[command(flatten)]
    limits: super::ThreadLimitArgs,
}

/// A chunk side of at least 1: a side of 0 would be taken as 1 pixel, tens of thousands
/// of chunks that look like a hang.
fn parse_side(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("a chunk side must be at least 1 pixel, got 0".to_string()),
        Ok(side) => Ok(side),
        Err(_) => Err(format!(
            "\"{s}\" is not a chunk side: use a whole number like 1024"
        )),
    }
}

#[derive(serde::Serialize)]
struct Row {
    config: String,
    side: Option<usize>,
    threads: usize,
    runs: usize,
    /// Median wall per stage, ns.
    stage_wall_ns: BTreeMap<&'static str, u64>,
    wall_ns: u64,
    wall_min_ns: u64,
    wall_max_ns: u64,
    speedup: f64,
}

pub fn bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    if args.repeat == 0 {
        anyhow::bail!("--repeat must be at least 1");
    }
    if args.profiling_cost {
        args.limits.check(&[args.pipeline.threads()])?;
        check_runs(2 * args.repeat.max(5) + 1)?;
    } else {
        args.limits.check(&args.threads_list)?;
        let configs = 1 + args.sides.len().saturating_mul(args.threads_list.len());
        check_runs(configs.saturating_mul(args.repeat))?;
    }
    let (_catalog, scene) = load_scene(&args.scene)?;
    let cancel = CancelFlag::new();
    cancel_on_signals(&cancel);
    if args.profiling_cost {
        note_task_counts(&scene, args.scene.res, &[args.pipeline.chunk_request()?]);
        return profiling_cost(&args, &scene, &cancel);
    }
    let requests: Vec<ChunkRequest> = args
        .sides
        .iter()
        .map(|&s| ChunkRequest::Square(s))
        .collect();
    note_task_counts(&scene, args.scene.res, &requests);
    let scratch = std::env::temp_dir().join(format!("chunkscope-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)
        .with_context(|| format!("cannot create \"{}\"", scratch.display()))?;
    let mut configs: Vec<(String, Option<usize>, Mode)> =
        vec![("serial".into(), None, Mode::Serial)];
    for &side in &args.sides {
        for &t in &args.threads_list {
            let mode = args.pipeline.chunked_mode(ChunkRequest::Square(side), t);
            configs.push((format!("chunked x {t} @ {side}"), Some(side), mode));
        }
    }
    let mut reports: Vec<Vec<RunReport>> = vec![Vec::new(); configs.len()];
    let total = configs.len() * args.repeat;
    let mut done = 0;
    'outer: for _ in 0..args.repeat {
        for (i, (label, _, mode)) in configs.iter().enumerate() {
            done += 1;
            eprint!("\r[{done}/{total}] {label:<28}");
            let mut pipe = args.pipeline.clone();
            pipe.out = Some(scratch.join(format!("bench-{i}.tif")));
            let config = pipe.config(mode.clone(), args.scene.res, &scene.item)?;
            let control = RunControl {
                cancel: cancel.clone(),
                ..RunControl::default()
            };
            let report = pipeline::run(&scene, &config, &control)
                .with_context(|| format!("{label} failed"))?;
            if report.cancelled {
                break 'outer;
            }
            reports[i].push(report);
        }
    }
    eprintln!();
    let _ = std::fs::remove_dir_all(&scratch);
    if cancel.is_cancelled() {
        eprintln!("cancelled");
        return Ok(crate::signals::cancelled_exit_code());
    }
    let serial_wall = stats::median(&walls(&reports[0])).unwrap_or(0);
    let rows: Vec<Row> = configs
        .iter()
        .zip(&reports)
        .map(|((label, side, mode), runs)| {
            let w = walls(runs);
            let wall = stats::median(&w).unwrap_or(0);
            let (lo, hi) = stats::range(&w).unwrap_or((0, 0));
            let stage_wall_ns = Stage::ALL
                .iter()
                .map(|&s| {
                    let v: Vec<u64> = runs
                        .iter()
                        .filter_map(|r| r.stage(s))
                        .map(|st| st.wall_ns)
                        .collect();
                    (s.name(), stats::median(&v).unwrap_or(0))
                })
                .collect();
            let threads = match mode {
                Mode::Serial => 1,
                Mode::Chunked { threads, .. } => threads.get(),
            };
            Row {
                config: label.clone(),
                side: *side,
                threads,
                runs: runs.len(),
                stage_wall_ns,
                wall_ns: wall,
                wall_min_ns: lo,
                wall_max_ns: hi,
                speedup: serial_wall as f64 / wall.max(1) as f64,
            }
        })
        .collect();
    if args.json {
        let value = serde_json::json!({
            "schema_version": pipeline::SCHEMA_VERSION,
            "item": scene.item,
            "resolution_m": args.scene.res.metres(),
            "schedule": format!("{:?}", args.pipeline.schedule).to_lowercase(),
            "repeat": args.repeat,
            "rows": rows,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "item {} at {} m, schedule {:?}, medians of {} runs (min…max of total wall)",
        scene.item,
        args.scene.res.metres(),
        args.pipeline.schedule,
        args.repeat
    );
    println!(
        "{:<22} {:>9} {:>9} {:>9} {:>9} {:>9} {:>20} {:>8}",
        "config", "load", "mask", "write", "finalize", "total", "range", "speedup"
    );
    for r in &rows {
        let st = |s: &str| units::duration_ns(r.stage_wall_ns.get(s).copied().unwrap_or(0));
        println!(
            "{:<22} {:>9} {:>9} {:>9} {:>9} {:>9} {:>20} {:>8}",
            r.config,
            st("load"),
            st("mask"),
            st("write"),
            st("finalize"),
            units::duration_ns(r.wall_ns),
            format!(
                "{}…{}",
                units::duration_ns(r.wall_min_ns),
                units::duration_ns(r.wall_max_ns)
            ),
            units::ratio(r.speedup)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn walls(runs: &[RunReport]) -> Vec<u64> {
    runs.iter().map(|r| r.wall_ns).collect()
}

/// Profiling on vs off, alternated in pairs so drift hits both alike.
fn profiling_cost(
    args: &BenchArgs,
    scene: &chunkscope::pipeline::Scene,
    cancel: &CancelFlag,
) -> anyhow::Result<ExitCode> {
    let pairs = args.repeat.max(5);
    let mode = args
        .pipeline
        .chunked_mode(args.pipeline.chunk_request()?, args.pipeline.threads());
    let scratch = std::env::temp_dir().join(format!("chunkscope-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)
        .with_context(|| format!("cannot create \"{}\"", scratch.display()))?;
    let mut pipe = args.pipeline.clone();
    pipe.out = Some(scratch.join("profiling-cost.tif"));
    let config = pipe.config(mode, args.scene.res, &scene.item)?;
    let (mut on, mut off, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut label = String::new();
    let profiled = || -> anyhow::Result<(RunReport, u64)> {
        // A consumer drains the events as the TUI's frame loop does.
        let (sink, rx) = chunkscope::task::EventSink::bounded(4096);
        let drain = chunkscope::task::drain_per_frame(rx, std::time::Duration::from_millis(50));
        let control = RunControl {
            events: sink,
            cancel: cancel.clone(),
            ..RunControl::default()
        };
        let report = pipeline::run(scene, &config, &control);
        let dropped = control.events.dropped();
        drop(control);
        let received = drain.join().unwrap_or(0);
        Ok((report?, received + dropped))
    };
    let unprofiled = || -> anyhow::Result<RunReport> {
        let control = RunControl {
            cancel: cancel.clone(),
            ..RunControl::unprofiled()
        };
        Ok(pipeline::run(scene, &config, &control)?)
    };
    // One unmeasured run first: the first run reads the files from disk.
    unprofiled()?;
    // Profiling's own work, measured directly: the sampler thread's CPU clock, and the
    // events sent times what one send costs here. Unlike the wall ratio, noise-free.
    let send_ns = chunkscope::task::measure_send_ns(1_000_000);
    let (mut own_ns, mut run_cpu_ns, mut events) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..pairs {
        eprint!("\r[{}/{pairs}] profiling on / off", i + 1);
        // Pairs alternate their order (on-off, off-on, ...) so that whatever the second
        // run of a pair inherits from the first hits both sides alike.
        let ((with, sent), without) = if i % 2 == 0 {
            let with = profiled()?;
            (with, unprofiled()?)
        } else {
            let without = unprofiled()?;
            (profiled()?, without)
        };
        own_ns.push(with.cpu.sampler_cpu_ns + (sent as f64 * send_ns) as u64);
        run_cpu_ns.push(with.cpu_user_ns + with.cpu_sys_ns);
        events.push(sent);
        if with.cancelled || without.cancelled {
            eprintln!("\ncancelled");
            let _ = std::fs::remove_dir_all(&scratch);
            return Ok(crate::signals::cancelled_exit_code());
        }
        label = with.label();
        ratios.push(with.wall_ns as f64 / without.wall_ns.max(1) as f64);
        on.push(with.wall_ns);
        off.push(without.wall_ns);
    }
    eprintln!();
    let _ = std::fs::remove_dir_all(&scratch);
    ratios.sort_by(f64::total_cmp);
    let ratio = ratios[ratios.len() / 2];
    // The middle half of the pair ratios: how much of the figure is noise.
    let (q1, q3) = (ratios[ratios.len() / 4], ratios[(ratios.len() * 3) / 4]);
    let (on_med, off_med) = (
        stats::median(&on).unwrap_or(0),
        stats::median(&off).unwrap_or(0),
    );
    let own_med = stats::median(&own_ns).unwrap_or(0);
    let cpu_med = stats::median(&run_cpu_ns).unwrap_or(0);
    let own_share = own_med as f64 / cpu_med.max(1) as f64;
    let events_med = stats::median(&events).unwrap_or(0);
    if args.json {
        let value = serde_json::json!({
            "schema_version": pipeline::SCHEMA_VERSION,
            "config": label,
            "pairs": pairs,
            "profiled_wall_ns": on,
            "unprofiled_wall_ns": off,
            "median_ratio": ratio,
            "ratio_quartiles": [q1, q3],
            "event_send_ns": send_ns,
            "events_per_run": events_med,
            "profiling_cpu_ns": own_med,
            "run_cpu_ns": cpu_med,
            "profiling_cpu_share": own_share,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
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
