//! The pipeline on a real (small) demo scene: chunked outputs are pixel-identical to the
//! serial one, the mask is right, the output is a valid COG, and failures leave nothing.

mod common;

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use chunkscope::chunks::ChunkRequest;
use chunkscope::output::{OutputFormat, OutputSpec};
use chunkscope::pipeline::{
    self, CloudClasses, Mode, Resolution, RunConfig, RunControl, RunReport, Scene, Schedule,
};
use chunkscope::raster::{RasterSource, Window, inspect, read_band_u8, read_bands_u8};
use chunkscope::task::{Event, EventSink, Stage, TaskRecord};
use gdal::{Dataset, Metadata};
use ndarray::{Array3, Axis};

use common::{files_in, read_output, small_scene};

fn config(mode: Mode, res: Resolution, out: &Path) -> RunConfig {
    RunConfig {
        mode,
        resolution: res,
        cloud_classes: CloudClasses::default(),
        output: OutputSpec::new(out.to_path_buf(), OutputFormat::Cog),
        gdal_cache_mb: None,
        blocks: Default::default(),
    }
}

fn chunked(spec: &str, threads: usize, schedule: Schedule) -> Mode {
    Mode::Chunked {
        chunks: spec.parse::<ChunkRequest>().expect("valid spec"),
        threads: NonZeroUsize::new(threads).expect("threads > 0"),
        schedule,
    }
}

fn run(scene: &Scene, cfg: &RunConfig) -> RunReport {
    pipeline::run(scene, cfg, &RunControl::default()).expect("run succeeds")
}

/// All bands of a written output.
/// The lesson's computation done independently, whole-array, straight from the inputs.
fn expected_20m(scene: &Scene) -> (Array3<u8>, u64) {
    let vis = scene.visual.open(Some(0)).expect("visual overview 0");
    let (cols, rows) = vis.raster_size();
    let whole = Window {
        row0: 0,
        col0: 0,
        rows,
        cols,
    };
    let mut image = read_bands_u8(&vis, &scene.visual, 0, 3, whole).expect("visual");
    let scl = read_band_u8(&scene.scl.open(None).expect("scl"), &scene.scl, 1, whole).expect("scl");
    let mut clouds = 0;
    for ((r, c), &s) in scl.indexed_iter() {
        if s == 8 || s == 9 {
            clouds += 1;
            for b in 0..3 {
                image[[b, r, c]] = 0;
            }
        }
    }
    (image, clouds)
}

#[test]
fn serial_output_is_the_masked_image_and_counts_cloud_pixels() {
    let scene = small_scene();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("serial.tif");
    let report = run(&scene, &config(Mode::Serial, Resolution::R20, &out));
    let (expected, clouds) = expected_20m(&scene);
    assert!(clouds > 0, "the demo scene has clouds");
    assert_eq!(report.masked_pixels, clouds);
    assert_eq!(read_output(&out), expected);
    assert_eq!(report.output.as_deref(), Some(out.to_str().unwrap()));
    assert_eq!(
        files_in(dir.path()),
        vec!["serial.tif".to_string()],
        "no temporary files left"
    );
    let stages: Vec<Stage> = report.stages.iter().map(|s| s.name).collect();
    assert_eq!(
        stages,
        vec![Stage::Load, Stage::Mask, Stage::Write, Stage::Finalize]
    );
    assert!(report.stages.iter().all(|s| s.tasks == 1));
}

#[test]
fn chunked_outputs_equal_serial_for_many_shapes_threads_and_schedules() {
    let scene = small_scene();
    let dir = tempfile::tempdir().unwrap();
    let serial_out = dir.path().join("serial.tif");
    let serial = run(&scene, &config(Mode::Serial, Resolution::R20, &serial_out));
    let reference = read_output(&serial_out);
    // The small demo's 20 m grid is 512x512 with 128-pixel blocks: aligned, misaligned,
    // non-dividing, one band per chunk, and one chunk larger than the raster.
    for spec in [
        "3,128,128",
        "3,100,100",
        "3,200,300",
        "1,128,128",
        "3,1000,1000",
    ] {
        for threads in [1, 2, 4] {
            for schedule in [Schedule::Staged, Schedule::Fused] {
                let out = dir.path().join(format!(
                    "chunked-{}-{threads}-{schedule:?}.tif",
                    spec.replace(',', "_")
                ));
                let report = run(
                    &scene,
                    &config(chunked(spec, threads, schedule), Resolution::R20, &out),
                );
                let what = format!("chunks {spec}, {threads} threads, {schedule:?}");
                assert_eq!(
                    read_output(&out),
                    reference,
                    "{what}: pixels differ from serial"
                );
                assert_eq!(
                    report.masked_pixels, serial.masked_pixels,
                    "{what}: masked pixel count"
                );
                let chunks = report.plan.as_ref().expect("plan").chunk_count;
                for stage in [Stage::Load, Stage::Mask, Stage::Write] {
                    assert_eq!(
                        report.stage(stage).map(|s| s.tasks),
                        Some(chunks),
                        "{what}: {stage:?} tasks"
                    );
                }
                assert!(
                    report.workers.len() == threads,
                    "{what}: one worker report per thread"
                );
                std::fs::remove_file(&out).unwrap();
            }
        }
    }
}

#[test]
fn ten_metre_grid_repeats_scl_and_matches_serial() {
    let scene = small_scene();
    let dir = tempfile::tempdir().unwrap();
    let serial_out = dir.path().join("serial10.tif");
    let serial = run(&scene, &config(Mode::Serial, Resolution::R10, &serial_out));
    let chunked_out = dir.path().join("chunked10.tif");
    let report = run(
        &scene,
        &config(
            chunked("3,300,300", 2, Schedule::Fused),
            Resolution::R10,
            &chunked_out,
        ),
    );
    let image = read_output(&serial_out);
    assert_eq!(image.dim(), (3, common::SMALL, common::SMALL));
    assert_eq!(read_output(&chunked_out), image);
    // Each 20 m cloud pixel covers 2x2 pixels at 10 m.
    let (_, clouds_20m) = expected_20m(&scene);
    assert_eq!(serial.masked_pixels, 4 * clouds_20m);
    assert_eq!(report.masked_pixels, serial.masked_pixels);
    // Masked exactly where SCL (repeated 2x2) is cloud.
    let scl_src = &scene.scl;
    let scl = read_band_u8(
        &scl_src.open(None).unwrap(),
        scl_src,
        1,
        Window {
            row0: 0,
            col0: 0,
            rows: common::SMALL / 2,
            cols: common::SMALL / 2,
        },
    )
    .unwrap();
    for ((r, c), px) in image.index_axis(Axis(0), 0).indexed_iter() {
        let cloud = matches!(scl[[r / 2, c / 2]], 8 | 9);
        if cloud {
            assert_eq!(*px, 0, "cloud pixel ({r}, {c}) is masked");
        }
    }
}

#[test]
fn output_is_a_valid_cog_with_georeferencing_and_nodata() {
    let scene = small_scene();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cog.tif");
    run(
        &scene,
        &config(
            chunked("3,128,128", 2, Schedule::Staged),
            Resolution::R20,
            &out,
        ),
    );
    let info = inspect(&RasterSource::new("output", out.display().to_string())).unwrap();
    assert!(info.cog, "LAYOUT=COG");
    assert!(info.tiled);
    assert_eq!(info.block_shapes[0], [128, 128]);
    assert!(!info.overviews.is_empty(), "has overviews");
    assert_eq!(info.compression.as_deref(), Some("DEFLATE"));
    assert_eq!(info.nodata, Some(0.0));
    assert_eq!(info.epsg, Some(32631));
    assert_eq!(
        info.geo_transform,
        Some([600000.0, 20.0, 0.0, 5900040.0, 0.0, -20.0])
    );
    let ds = Dataset::open(&out).unwrap();
    assert_eq!(
        ds.metadata_item("LAYOUT", "IMAGE_STRUCTURE").as_deref(),
        Some("COG")
    );
}

#[test]
fn gtiff_format_writes_a_tiled_uncompressed_geotiff() {
    let scene = small_scene();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("plain.tif");
    let mut cfg = config(
        chunked("3,200,200", 2, Schedule::Fused),
        Resolution::R20,
        &out,
    );
    cfg.output.format = OutputFormat::Gtiff;
    run(&scene, &cfg);
    let info = inspect(&RasterSource::new("output", out.display().to_string())).unwrap();
    assert!(info.tiled);
    assert!(!info.cog);
    assert_eq!(info.compression, None);
    assert_eq!(read_output(&out), expected_20m(&scene).0);
}

#[test]
fn cancelling_stops_the_run_and_leaves_no_output() {
    let scene = small_scene();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cancelled.tif");
    let (events, rx) = EventSink::bounded(100_000);
    let control = RunControl {
        events,
        ..RunControl::default()
    };
    let cancel = control.cancel.clone();
    // Cancel as soon as the first task finishes, from another thread, like the TUI would.
    let watcher = std::thread::spawn(move || {
        for e in rx.iter() {
            if matches!(e, Event::TaskFinished(_)) {
                cancel.cancel();
            }
            if matches!(e, Event::RunFinished { .. }) {
                return true;
            }
        }
        false
    });
    // Many small chunks: the run must outlast the watcher's reaction even on a loaded
    // machine (with 64 chunks it once finished before the watcher was scheduled).
    let cfg = config(
        chunked("3,16,16", 1, Schedule::Fused),
        Resolution::R20,
        &out,
    );
    let report = pipeline::run(&scene, &cfg, &control).expect("a cancelled run still reports");
    drop(control);
    assert!(watcher.join().unwrap(), "RunFinished was sent");
    assert!(report.cancelled);
    assert!(report.output.is_none());
    let total = report.plan.as_ref().unwrap().chunk_count * 3;
    assert!(
        report.tasks.len() < total,
        "stopped early: {} of {total} tasks",
        report.tasks.len()
    );
    assert!(!report.tasks.is_empty(), "reports what ran");
    assert_eq!(
        files_in(dir.path()),
        Vec::<String>::new(),
        "nothing under the final name, no temporaries"
    );
}

#[test]
fn a_read_failure_mid_run_leaves_nothing_under_the_final_name() {
    let scene = small_scene();
    let dir = tempfile::tempdir().unwrap();
    // A copy of the visual COG cut short. A COG stores the header first, then overviews
    // from the smallest up, then full resolution: at a fifth of its length the header and
    // the first tiles of overview 0 survive, its later tiles are gone.
    let visual_copy = dir.path().join("visual-truncated.tif");
    let bytes = std::fs::read(&scene.visual.path).unwrap();
    std::fs::write(&visual_copy, &bytes[..bytes.len() / 5]).unwrap();
    let broken = Scene {
        visual: RasterSource::new("truncated visual", visual_copy.display().to_string()),
        ..scene
    };
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("masked.tif");
    let err = pipeline::run(
        &broken,
        &config(
            chunked("3,128,128", 2, Schedule::Fused),
            Resolution::R20,
            &out,
        ),
        &RunControl::default(),
    )
    .expect_err("a truncated COG cannot be read to the end");
    assert!(
        err.to_string().contains("truncated visual"),
        "error names the asset: {err}"
    );
    assert_eq!(
        files_in(&out_dir),
        Vec::<String>::new(),
        "no output, no temporaries"
    );
}

#[test]
fn an_output_folder_that_does_not_exist_is_reported_before_any_work() {
    let scene = small_scene();
    let dir = tempfile::tempdir().unwrap();
    let out: PathBuf = dir.path().join("missing").join("masked.tif");
    let err = pipeline::run(
        &scene,
        &config(Mode::Serial, Resolution::R20, &out),
        &RunControl::default(),
    )
    .unwrap_err();
    let msg = chunkscope::error::chain(&err);
    assert!(
        msg.contains("does not exist") && msg.contains("missing"),
        "{msg}"
    );
    assert!(!out.exists());
}

#[test]
fn events_and_report_agree() {
    let scene = small_scene();
    let dir = tempfile::tempdir().unwrap();
    let (events, rx) = EventSink::bounded(100_000);
    let control = RunControl {
        events,
        ..RunControl::default()
    };
    let report = pipeline::run(
        &scene,
        &config(
            chunked("3,128,128", 2, Schedule::Staged),
            Resolution::R20,
            &dir.path().join("o.tif"),
        ),
        &control,
    )
    .unwrap();
    drop(control);
    let finished: Vec<_> = rx
        .try_iter()
        .filter_map(|e| {
            if let Event::TaskFinished(t) = e {
                Some(t)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(report.events_dropped, 0);
    assert_eq!(finished.len(), report.tasks.len());
    // 16 chunks x (load, mask, write) + finalize, besides any help with writes: help is
    // a write's, encodes tiles, handles no chunk bytes and is not counted as a task.
    let (help, own): (Vec<&TaskRecord>, Vec<_>) = report.tasks.iter().partition(|t| t.helping);
    assert_eq!(own.len(), 16 * 3 + 1);
    for h in &help {
        assert!(
            h.stage == Stage::Write && h.bytes == 0 && h.tiles > 0,
            "{h:?}"
        );
    }
    let write = report.stage(Stage::Write).unwrap();
    assert_eq!(write.tasks, 16);
    for t in &report.tasks {
        assert!(t.end_ns >= t.start_ns && t.end_ns <= report.wall_ns);
    }
    // Staged: every load ends before any mask starts, every mask before any write.
    let last_end = |s: Stage| {
        report
            .tasks
            .iter()
            .filter(|t| t.stage == s)
            .map(|t| t.end_ns)
            .max()
            .unwrap()
    };
    let first_start = |s: Stage| {
        report
            .tasks
            .iter()
            .filter(|t| t.stage == s)
            .map(|t| t.start_ns)
            .min()
            .unwrap()
    };
    assert!(last_end(Stage::Load) <= first_start(Stage::Mask));
    assert!(last_end(Stage::Mask) <= first_start(Stage::Write));
    assert_eq!(report.schema_version, 1);
}

#[test]
fn overhead_parts_add_up_to_capacity_minus_work_on_a_real_run() {
    let scene = small_scene();
    let dir = tempfile::tempdir().unwrap();
    for (threads, schedule) in [
        (1, Schedule::Fused),
        (2, Schedule::Staged),
        (4, Schedule::Fused),
    ] {
        let cfg = config(
            chunked("3,64,64", threads, schedule),
            Resolution::R20,
            &dir.path().join("o.tif"),
        );
        let report = run(&scene, &cfg);
        let o = report.overhead;
        let work: u64 = report
            .tasks
            .iter()
            .filter(|t| t.stage != Stage::Finalize)
            .map(|t| t.duration_ns() - t.append_wait_ns)
            .sum();
        assert_eq!(o.work_ns, work);
        // Waits for the appender inside write tasks are writer wait, not work.
        let in_task: u64 = report.tasks.iter().map(|t| t.append_wait_ns).sum();
        assert!(o.parts.write_wait_ns >= in_task, "{:?}", o.parts);
        assert_eq!(o.capacity_ns, o.window_ns * threads as u64);
        assert_eq!(
            o.total_ns + o.work_ns,
            o.capacity_ns,
            "capacity = work + overhead"
        );
        assert_eq!(o.parts.sum(), o.total_ns, "parts add up: {:?}", o.parts);
        let opened: u64 = report.workers.iter().map(|w| w.open_ns).sum();
        assert!(
            opened > 0 && o.parts.handle_open_ns == opened,
            "handle opens are a measured part"
        );
        let allocated: u64 = report.tasks.iter().map(|t| t.alloc_ns).sum();
        assert!(
            allocated > 0 && o.parts.alloc_ns <= allocated,
            "buffer time is a measured part: {allocated} ns recorded, {} booked",
            o.parts.alloc_ns
        );
        assert!(o.share > 0.0 && o.share < 1.0);
        assert_eq!(o.tasks, 64 * 3);
        // Latency: one distribution per stage, counts equal to the tasks of that stage
        // (help with a write is part of that write, not a task).
        for l in &report.latency {
            let n = report
                .tasks
                .iter()
                .filter(|t| t.stage == l.stage && !t.helping)
                .count() as u64;
            assert_eq!(l.summary.count, n);
            assert!(l.summary.p50_us <= l.summary.p99_us && l.summary.p99_us <= l.summary.max_us);
        }
        assert_eq!(report.latency.len(), 4);
        assert!(report.peak_rss_bytes > 0);
        assert!(report.utilisation > 0.0);
    }
}

#[test]
fn serial_and_staged_hold_the_whole_image_in_buffers_fused_only_chunks_in_flight() {
    let scene = small_scene();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.tif");
    let serial = run(&scene, &config(Mode::Serial, Resolution::R20, &out));
    let g = serial.grid;
    // Image bands plus the SCL band, one byte each.
    let whole = ((g.bands + 1) * g.rows * g.cols) as u64;
    assert_eq!(serial.buffers_peak_bytes, whole);
    let staged = run(
        &scene,
        &config(
            chunked("3,64,64", 2, Schedule::Staged),
            Resolution::R20,
            &out,
        ),
    );
    assert_eq!(
        staged.buffers_peak_bytes, whole,
        "staged loads everything first"
    );
    let fused = run(
        &scene,
        &config(
            chunked("3,64,64", 2, Schedule::Fused),
            Resolution::R20,
            &out,
        ),
    );
    let chunk = 4 * 64 * 64;
    assert!(
        fused.buffers_peak_bytes >= chunk && fused.buffers_peak_bytes <= 2 * chunk,
        "fused holds one chunk per worker at most: {} bytes, chunk {chunk}",
        fused.buffers_peak_bytes
    );
    for r in [&serial, &staged, &fused] {
        assert!(r.rss_start_bytes > 0 && r.peak_rss_bytes >= r.rss_start_bytes);
    }
}

#[test]
fn live_samples_reach_the_observer_and_match_the_report() {
    use chunkscope::profile::sampler::SampleFeed;
    let scene = small_scene();
    let dir = tempfile::tempdir().unwrap();
    let (feed, rx) = SampleFeed::bounded(100_000);
    let control = RunControl {
        // Fast enough that even this small run is sampled several times.
        sample_every: Some(std::time::Duration::from_millis(2)),
        samples: Some(feed.clone()),
        ..RunControl::default()
    };
    let report = pipeline::run(
        &scene,
        &config(
            chunked("3,128,128", 1, Schedule::Staged),
            Resolution::R20,
            &dir.path().join("o.tif"),
        ),
        &control,
    )
    .unwrap();
    let live: Vec<_> = rx.try_iter().collect();
    assert!(!live.is_empty(), "no live sample in {} ns", report.wall_ns);
    assert_eq!(feed.dropped(), 0);
    // The observer saw exactly what the report keeps, in the same order.
    assert_eq!(live, report.cpu.samples);
    assert!(live.iter().all(|s| s.rss_bytes > 0));
}

#[test]
fn reading_block_by_block_gives_the_pixels_of_one_read_and_lets_go_after_each_block() {
    let scene = small_scene();
    // Overview 0 of the small demo's visual: 512x512 in 128-pixel blocks.
    let vis = scene.visual.open(Some(0)).expect("visual overview 0");
    let (bw, bh) = vis.rasterband(1).unwrap().block_size();
    assert_eq!((bw, bh), (128, 128));
    for (band0, bands, row0, col0, rows, cols) in [
        (0, 3, 0, 0, 256, 256),
        (0, 3, 100, 37, 300, 211),
        (1, 2, 127, 127, 2, 2),
        (2, 1, 0, 0, 512, 512),
        (0, 3, 511, 0, 1, 512),
    ] {
        let window = Window {
            row0,
            col0,
            rows,
            cols,
        };
        let once = read_bands_u8(&vis, &scene.visual, band0, bands, window).unwrap();
        let mut by_block = vec![0u8; bands * rows * cols];
        let mut releases = 0;
        chunkscope::raster::read_u8_into_by_block(
            &vis,
            &scene.visual,
            band0,
            window,
            &mut by_block,
            || releases += 1,
        )
        .unwrap();
        assert_eq!(
            once.as_slice().unwrap(),
            &by_block[..],
            "window {window}, bands {band0}+{bands}"
        );
        let blocks =
            ((row0 + rows - 1) / bh - row0 / bh + 1) * ((col0 + cols - 1) / bw - col0 / bw + 1);
        assert_eq!(releases, blocks, "window {window}");
    }
    // Outside the raster: the usual refusal, nothing read.
    let outside = Window {
        row0: 500,
        col0: 0,
        rows: 20,
        cols: 10,
    };
    let err = chunkscope::raster::read_u8_into_by_block(
        &vis,
        &scene.visual,
        0,
        outside,
        &mut vec![0u8; 3 * 200],
        || {},
    )
    .unwrap_err();
    let err = chunkscope::error::chain(&err);
    assert!(err.contains("outside the raster"), "{err}");
}

#[test]
fn scl_is_read_at_its_native_20_m_and_visual_at_overview_0() {
    use chunkscope::catalog::AssetRole;
    let scene = small_scene();
    let visual = inspect(&scene.visual).expect("visual");
    let scl = inspect(&scene.scl).expect("scl");
    let p = pipeline::prepare(&scene, Resolution::R20, None).expect("prepare");
    assert_eq!(
        (p.visual_overview, p.scl_overview, p.scl_factor),
        (Some(0), None, 1)
    );
    let at20 = |role| Resolution::R20.reads(role).expect("read at 20 m");
    let half = common::SMALL / 2;
    assert_eq!(
        at20(AssetRole::Visual).describe(&visual).as_deref(),
        Some(format!("overview 0, {half}x{half}").as_str())
    );
    // SCL's own size is the 20 m grid: no overview of it is read.
    assert_eq!((scl.rows, scl.cols), (half, half));
    assert_eq!(
        at20(AssetRole::Scl).describe(&scl).as_deref(),
        Some(format!("full res, {half}x{half}").as_str())
    );
    let p10 = pipeline::prepare(&scene, Resolution::R10, None).expect("prepare 10 m");
    assert_eq!(
        (p10.visual_overview, p10.scl_overview, p10.scl_factor),
        (None, None, 2)
    );
    assert_eq!(
        Resolution::R10
            .reads(AssetRole::Scl)
            .expect("scl")
            .describe(&scl)
            .as_deref(),
        Some(format!("full res {half}x{half}, pixels 2x2").as_str())
    );
    assert!(Resolution::R20.reads(AssetRole::Blue).is_none());
}
