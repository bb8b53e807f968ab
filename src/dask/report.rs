//! A Dask task stream as a run report, so that chunkscope's own views (Gantt per lane,
//! chunk map, overhead split, latency per stage, the Results history) show it unchanged.
//! Only what the stream records is filled in: tasks, lanes, stage walls, latency and the
//! overhead. CPU times, memory and masked pixels are not in a task stream; they stay 0 and
//! the report's notes say so. Its mode is [`DASK_MODE`], and every label reads
//! "Dask (imported)".

use crate::chunks::{ChunkShape, PlanSummary};
use crate::convert;
use crate::pipeline::report::{
    Grid, ReportAssets, ReportConfig, StageLatency, StageReport, WorkerReport,
};
use crate::pipeline::{RunReport, SCHEMA_VERSION};
use crate::profile::sampler::{CoreSource, CpuSeries};
use crate::task::Stage;

use super::{DaskStream, DaskSummary};

pub use crate::pipeline::report::DASK_MODE;

/// Whether `report` was imported from a Dask task stream.
pub fn is_dask(report: &RunReport) -> bool {
    report.config.mode == DASK_MODE
}

/// Whether `report` has a real figure for the overhead part named `part` (as
/// [`crate::profile::overhead::OverheadParts::named`] names it). A task stream has task
/// times only: opening handles, waiting for the writer, allocating buffers and barriers are
/// inside Dask's tasks or absent from its schedule, so those parts of an imported run are 0
/// by construction, not measured.
pub fn records_part(report: &RunReport, part: &str) -> bool {
    !is_dask(report)
        || !matches!(
            part,
            "handle open" | "writer wait" | "buffers" | "barrier idle"
        )
}

/// Whether `report` is of the lesson's code run on Dask by chunkscope ([`super::runner`]),
/// rather than a stream recorded elsewhere and imported: the runner records the schedule
/// it asked for, which an imported stream cannot know (its schedule stays [`DASK_MODE`]).
pub fn is_live(report: &RunReport) -> bool {
    is_dask(report)
        && report
            .config
            .schedule
            .as_deref()
            .is_some_and(|s| s != DASK_MODE)
}

/// The report of `stream` (whose figures are `summary`), labelled as imported from Dask.
pub fn run_report(stream: &DaskStream, summary: &DaskSummary) -> RunReport {
    let records = stream.records();
    let (rows, cols) = (stream.grid.0 as usize, stream.grid.1 as usize);
    let chunks = stream.header.chunks.as_deref().and_then(|c| match c {
        [b, r, c] => Some([b, r, c].map(|&n| convert::clamp_usize(n))),
        _ => None,
    });
    let threads = stream.lanes.len();
    let plan = chunks.map(|[bands, r, c]| PlanSummary {
        shape: ChunkShape {
            bands,
            rows: r,
            cols: c,
        },
        chunk_count: rows * cols,
        grid: (1, rows, cols),
        chunk_bytes: (bands * r * c) as u64,
        aligned: false,
        blocks_touched_max: 0,
        blocks_touched_mean: 0.0,
        read_amplification: 0.0,
        notices: Vec::new(),
    });
    let stages = Stage::ALL
        .iter()
        .filter_map(|&s| StageReport::from_tasks(s, &records))
        .collect();
    let latency = summary
        .stages
        .iter()
        .filter_map(|f| {
            let stage = Stage::ALL.iter().find(|s| s.name() == f.stage)?;
            Some(StageLatency {
                stage: *stage,
                summary: f.latency.clone(),
            })
        })
        .collect();
    let workers = summary
        .lanes
        .iter()
        .map(|l| WorkerReport {
            worker: l.lane,
            tasks: l.tasks,
            busy_ns: l.busy_ns,
            open_ns: 0,
            write_wait_ns: 0,
        })
        .collect();
    let mut notes = vec![
        "imported from a Dask task stream: CPU times, memory and masked pixels are not \
         recorded there"
            .to_string(),
    ];
    if let Some(other) = summary.stage("other") {
        notes.push(format!(
            "{} task(s) of other names ({}) are not a stage of the lesson: counted, not drawn",
            other.tasks,
            other.labels.join(", ")
        ));
    }
    if summary.erred > 0 {
        notes.push(format!("{} task(s) erred in Dask", summary.erred));
    }
    let mut cpu = CpuSeries::from_samples(
        Vec::new(),
        std::time::Duration::ZERO,
        0,
        CoreSource::ProcStat,
    );
    cpu.error = Some("a Dask task stream has no CPU or memory samples".into());
    RunReport {
        schema_version: SCHEMA_VERSION,
        config: ReportConfig {
            mode: DASK_MODE.into(),
            chunks,
            threads,
            schedule: Some(DASK_MODE.into()),
            resolution_m: 20,
            cloud_classes: Vec::new(),
            item: stream
                .header
                .scene_item
                .clone()
                .unwrap_or_else(|| "(unknown item)".into()),
            assets: ReportAssets {
                visual: String::new(),
                scl: String::new(),
            },
            format: "?".into(),
            compress: "?".into(),
            level: None,
            writer: DASK_MODE.into(),
            gdal_cache_bytes: None,
        },
        plan,
        grid: Grid {
            bands: chunks.map_or(3, |c| c[0]),
            rows: chunks.map_or(rows, |c| rows * c[1]),
            cols: chunks.map_or(cols, |c| cols * c[2]),
        },
        stages,
        wall_ns: summary.wall_ns,
        cpu_user_ns: 0,
        cpu_sys_ns: 0,
        // A task stream does not record what else ran on the machine.
        others_cpu_ns: None,
        others_cores: None,
        disturbed: false,
        utilisation: 0.0,
        peak_rss_bytes: 0,
        process_max_rss_bytes: 0,
        rss_start_bytes: 0,
        buffers_peak_bytes: 0,
        masked_pixels: 0,
        output: None,
        output_tile_bytes: 0,
        notes,
        cancelled: false,
        workers,
        overhead: summary.overhead,
        latency,
        cpu,
        events_dropped: 0,
        tasks: records,
        network: None,
        blocks: None,
    }
}

/// The latest run of chunkscope's own in `runs` with `dask`'s chunk shape and thread count:
/// the run to set beside the imported one.
pub fn counterpart(runs: &[RunReport], dask: &RunReport) -> Option<usize> {
    runs.iter().rposition(|r| {
        !is_dask(r)
            && !r.cancelled
            && r.config.chunks.is_some()
            && r.config.chunks == dask.config.chunks
            && r.config.threads == dask.config.threads
    })
}

/// Dask's per-task overhead over chunkscope's (`None` when chunkscope's is 0).
pub fn overhead_ratio(dask: &RunReport, ours: &RunReport) -> Option<f64> {
    (ours.overhead.per_task_us > 0.0).then(|| dask.overhead.per_task_us / ours.overhead.per_task_us)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> RunReport {
        let path = std::path::Path::new("tests/fixtures/dask/demo-2048-chunks256-threads2.json");
        let stream = DaskStream::read(path).unwrap();
        let summary = DaskSummary::of(&stream).unwrap();
        run_report(&stream, &summary)
    }

    #[test]
    fn a_stream_becomes_a_report_of_its_stages_lanes_and_chunks() {
        let r = fixture();
        assert!(is_dask(&r));
        assert_eq!(r.label(), "Dask (imported) x 2 (3,256,256)");
        let tasks: Vec<(Stage, usize)> = r.stages.iter().map(|s| (s.name, s.tasks)).collect();
        // 100 records: 50 load, 32 mask, 16 write, 1 finalize, and 1 "other" (the cloud
        // classes as an array), which is noted rather than drawn.
        assert_eq!(
            tasks,
            [
                (Stage::Load, 50),
                (Stage::Mask, 32),
                (Stage::Write, 16),
                (Stage::Finalize, 1)
            ]
        );
        assert!(
            r.notes
                .iter()
                .any(|n| n.contains("1 task(s) of other names (array)"))
        );
        assert_eq!(r.plan.as_ref().unwrap().grid, (1, 4, 4));
        assert_eq!(r.workers.len(), 2);
        // Every chunk task indexes the 4 x 4 map; only the finalize is off it.
        let off: Vec<Stage> = r
            .tasks
            .iter()
            .filter(|t| t.chunk as usize >= 16)
            .map(|t| t.stage)
            .collect();
        assert_eq!(
            off.len(),
            2 + 1,
            "two original-open_rasterio and the finalize"
        );
        assert!(
            r.time_summary()
                .contains("CPU times: not in a Dask task stream")
        );
    }

    #[test]
    fn the_counterpart_has_the_same_chunks_and_threads_and_is_not_dask() {
        let dask = fixture();
        let mut ours = dask.clone();
        ours.config.mode = "chunked".into();
        let mut other_threads = ours.clone();
        other_threads.config.threads = 4;
        let runs = vec![ours.clone(), other_threads, dask.clone()];
        assert_eq!(counterpart(&runs, &dask), Some(0));
        assert_eq!(counterpart(&runs[1..], &dask), None);
        assert_eq!(overhead_ratio(&dask, &ours), Some(1.0));
    }
}
