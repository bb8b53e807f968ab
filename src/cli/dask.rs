//! `chunkscope import-dask`: a task stream recorded by Dask itself (`Client.get_task_stream()`
//! around the lesson's pipeline), shown with the figures chunkscope gives its own runs.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use chunkscope::convert;
use chunkscope::dask::{DaskStream, DaskSummary, DaskTask, Header};
use chunkscope::profile::units;

#[derive(Debug, Args)]
pub struct ImportDaskArgs {
    /// The task stream as JSON: the list Client.get_task_stream() returns, bare or under
    /// "task_stream" beside a header (dask_version, cluster, chunks, ...).
    #[arg(value_name = "STREAM.json")]
    stream: PathBuf,
    /// Print JSON on stdout (the figures and every task).
    #[arg(long)]
    json: bool,
}

#[derive(serde::Serialize)]
struct JsonOut<'a> {
    #[serde(flatten)]
    summary: &'a DaskSummary,
    /// Time 0 of every `*_ns`, epoch seconds.
    origin_epoch_s: f64,
    task_list: &'a [DaskTask],
}

/// The stream at `path` as a run report, for the TUI's views (see
/// [`chunkscope::dask::report`]).
pub fn load_report(path: &std::path::Path) -> anyhow::Result<chunkscope::pipeline::RunReport> {
    let stream = DaskStream::read(path)
        .with_context(|| format!("cannot import the task stream \"{}\"", path.display()))?;
    let summary = DaskSummary::of(&stream).context("cannot summarise the task latencies")?;
    Ok(chunkscope::dask::report::run_report(&stream, &summary))
}

pub fn import_dask(args: ImportDaskArgs) -> anyhow::Result<ExitCode> {
    let stream = DaskStream::read(&args.stream).with_context(|| {
        format!(
            "cannot import the task stream \"{}\"",
            args.stream.display()
        )
    })?;
    let summary = DaskSummary::of(&stream).context("cannot summarise the task latencies")?;
    if args.json {
        let out = JsonOut {
            summary: &summary,
            origin_epoch_s: stream.origin_epoch_s,
            task_list: &stream.tasks,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_summary(&args.stream, &summary);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_summary(path: &std::path::Path, s: &DaskSummary) {
    println!("task stream  {}", units::tilde(path).display());
    print_header(&s.header, s.grid);
    println!();
    println!(
        "{} tasks ({} erred) on {} lanes; wall {} (first start to last stop), lanes busy {}",
        s.tasks,
        s.erred,
        s.lanes.len(),
        units::duration_ns(s.wall_ns),
        units::share(s.busy_share)
    );
    println!();
    println!(
        "{:<9} {:>6} {:>6} {:>5} {:>9} {:>9} {:>9} {:>9} {:>9}  key names",
        "stage", "tasks", "chunk", "erred", "busy", "p50", "p90", "p99", "max"
    );
    for st in &s.stages {
        let l = &st.latency;
        println!(
            "{:<9} {:>6} {:>6} {:>5} {:>9} {:>9} {:>9} {:>9} {:>9}  {}",
            st.stage,
            st.tasks,
            st.chunk_tasks,
            st.erred,
            units::duration_ns(st.busy_ns),
            units::duration_us(l.p50_us),
            units::duration_us(l.p90_us),
            units::duration_us(l.p99_us),
            units::duration_us(l.max_us),
            st.labels.join(", ")
        );
    }
    println!();
    println!(
        "{:<4} {:<28} {:<18} {:>6} {:>9} {:>6} {:>11} {:>9}",
        "lane", "worker", "thread", "tasks", "busy", "share", "gap median", "gap max"
    );
    for lane in &s.lanes {
        println!(
            "{:<4} {:<28} {:<18} {:>6} {:>9} {:>6} {:>11} {:>9}",
            lane.lane,
            lane.worker,
            lane.thread,
            lane.tasks,
            units::duration_ns(lane.busy_ns),
            units::share(lane.busy_share),
            units::duration_ns(lane.gaps.median_ns),
            units::duration_ns(lane.gaps.max_ns)
        );
    }
    let overlap: u64 = s.lanes.iter().map(|l| l.overlap_ns).sum();
    if overlap > 0 {
        println!(
            "note: Dask reports tasks overlapping on one thread ({} in all); busy and overhead count \
             that time once",
            units::duration_ns(overlap)
        );
    }
    println!();
    let o = &s.overhead;
    println!(
        "overhead     {} of {} lanes x {} (up to the last load/mask/write task): {} per task",
        units::share(o.share),
        o.threads,
        units::duration_ns(o.window_ns),
        units::duration_us(convert::round_u64(o.per_task_us))
    );
    let parts: Vec<String> = o
        .parts
        .named()
        .into_iter()
        .filter(|(_, ns)| *ns > 0)
        .map(|(name, ns)| format!("{name} {}", units::duration_ns(ns)))
        .collect();
    if !parts.is_empty() {
        println!("  parts      {}", parts.join(", "));
    }
    println!(
        "gaps         median {}, max {}, over {} gaps between a lane's consecutive \
         load/mask/write tasks",
        units::duration_ns(s.gaps.median_ns),
        units::duration_ns(s.gaps.max_ns),
        s.gaps.count
    );
    let aside: u64 = s
        .stages
        .iter()
        .filter(|st| matches!(st.stage, "other" | "finalize"))
        .map(|st| st.busy_ns)
        .sum();
    if aside > 0 {
        println!(
            "  note      finalize and other tasks are no stage work: their {} is in the gaps",
            units::duration_ns(aside)
        );
    }
    let actions: Vec<String> = s
        .actions
        .iter()
        .map(|a| {
            format!(
                "{} {} ({} span{})",
                a.action.name(),
                units::duration_ns(a.total_ns),
                a.spans,
                if a.spans == 1 { "" } else { "s" }
            )
        })
        .collect();
    println!("actions      {}", actions.join(", "));
}

fn print_header(h: &Header, grid: (u32, u32)) {
    let versions: Vec<String> = [
        h.dask_version.as_ref().map(|v| format!("dask {v}")),
        h.distributed_version
            .as_ref()
            .map(|v| format!("distributed {v}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    let cluster = h.cluster.as_ref().map(|c| {
        let n = |v: Option<u64>, one: &str| match v {
            Some(1) => format!("1 {one}"),
            Some(v) => format!("{v} {one}s"),
            None => format!("? {one}s"),
        };
        let processes = match c.processes {
            Some(true) => ", processes",
            Some(false) => ", threads in one process",
            None => "",
        };
        format!(
            "{} x {}{processes}",
            n(c.n_workers, "worker"),
            n(c.threads_per_worker, "thread")
        )
    });
    let recorded: Vec<String> = [(!versions.is_empty()).then(|| versions.join(", ")), cluster]
        .into_iter()
        .flatten()
        .collect();
    if !recorded.is_empty() {
        println!("recorded     {}", recorded.join("; "));
    }
    let chunks = h.chunks.as_ref().map(|c| {
        let sides: Vec<String> = c.iter().map(u64::to_string).collect();
        format!("chunks {}", sides.join(","))
    });
    let scene: Vec<String> = [h.scene_item.clone(), chunks]
        .into_iter()
        .flatten()
        .collect();
    println!(
        "scene        {}{}chunk grid {} x {} (from the keys)",
        scene.join(", "),
        if scene.is_empty() { "" } else { ", " },
        grid.0,
        grid.1
    );
    if !h.wall_s.is_empty() {
        let walls: Vec<String> = h
            .wall_s
            .iter()
            .map(|(phase, s)| format!("{phase} {}", wall(*s)))
            .collect();
        println!("measured     {} (around the calls)", walls.join(", "));
    }
}

/// Seconds from the header, as the other durations print; `-` for what is no duration.
fn wall(seconds: f64) -> String {
    if seconds.is_finite() && seconds >= 0.0 {
        units::duration_ns(convert::secs_to_ns(seconds))
    } else {
        "-".into()
    }
}
