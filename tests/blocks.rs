//! Decoded blocks shared by the load tasks, on a real (small) demo scene with 128-pixel
//! blocks: over a grid of chunk shapes (aligned, smaller than a block, straddling blocks,
//! not dividing the image, splitting bands) and both schedules, a shared-blocks run writes
//! the serial run's pixels, decodes every block it needs exactly once and ends with an
//! empty store; a per-task run decodes what the plan predicts for a per-task reader.

mod common;

use std::num::NonZeroUsize;
use std::path::Path;

use chunkscope::chunks::ChunkRequest;
use chunkscope::output::{OutputFormat, OutputSpec};
use chunkscope::pipeline::blocks::BlockReport;
use chunkscope::pipeline::{
    self, BlockSharing, CloudClasses, Mode, Resolution, RunConfig, RunControl, RunReport, Scene,
    Schedule,
};

use common::{read_output, small_scene};

fn config(mode: Mode, res: Resolution, blocks: BlockSharing, out: &Path) -> RunConfig {
    RunConfig {
        mode,
        resolution: res,
        cloud_classes: CloudClasses::default(),
        output: OutputSpec::new(out.to_path_buf(), OutputFormat::Gtiff),
        gdal_cache_mb: None,
        blocks,
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

fn blocks_of(report: &RunReport) -> BlockReport {
    report.blocks.expect("a chunked run reports its blocks")
}

const SHAPES: [&str; 7] = [
    "128",       // aligned: one chunk per block
    "64",        // a quarter of a block: four chunks share each block
    "100",       // straddles blocks and does not divide the 512-pixel grid
    "1,96,200",  // one band at a time, straddling
    "3,200,130", // rows and cols each straddle differently
    "blocks:3",  // aligned, edge chunks smaller
    "512",       // the whole grid in one chunk
];

#[test]
fn shared_blocks_give_serial_pixels_and_decode_each_block_once() {
    let scene = small_scene();
    let dir = tempfile::tempdir().unwrap();
    for res in [Resolution::R20, Resolution::R10] {
        let serial_out = dir.path().join("serial.tif");
        run(
            &scene,
            &config(Mode::Serial, res, BlockSharing::Shared, &serial_out),
        );
        let expected = read_output(&serial_out);
        for (i, spec) in SHAPES.iter().enumerate() {
            for schedule in [Schedule::Staged, Schedule::Fused] {
                let out = dir.path().join(format!("shared-{i}.tif"));
                let mode = chunked(spec, 3, schedule);
                let report = run(&scene, &config(mode, res, BlockSharing::Shared, &out));
                let what = format!("{spec} {schedule:?} at {} m", res.metres());
                assert_eq!(read_output(&out), expected, "{what}");
                let b = blocks_of(&report);
                assert_eq!(b.sharing, BlockSharing::Shared);
                assert!(b.visual.needed > 0, "{what}");
                assert_eq!(b.visual.decoded, b.visual.needed, "visual, {what}");
                assert_eq!(b.scl.decoded, b.scl.needed, "SCL, {what}");
                assert_eq!(b.store_end_bytes, 0, "{what}");
                assert!(
                    (b.read_amplification_measured - 1.0).abs() < 1e-9,
                    "{what}: {}",
                    b.read_amplification_measured
                );
            }
        }
    }
}

#[test]
fn chunks_smaller_than_a_block_hold_shared_blocks_and_aligned_ones_do_not() {
    let scene = small_scene();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.tif");
    let cfg = |spec| {
        config(
            chunked(spec, 2, Schedule::Fused),
            Resolution::R20,
            BlockSharing::Shared,
            &out,
        )
    };
    let small = blocks_of(&run(&scene, &cfg("64")));
    // 4x4 blocks of 128x128x3 (visual) and 128x128 (SCL): the store held at least one of
    // each while its four chunks copied their parts, and far fewer than all of them.
    assert!(small.store_peak_bytes >= 4 * 128 * 128, "{small:?}");
    assert!(small.store_peak_bytes < 16 * 4 * 128 * 128, "{small:?}");
    assert!(small.read_amplification_planned > 1.0);
    // Aligned chunks read straight into their buffers: nothing waits in the store.
    let aligned = blocks_of(&run(&scene, &cfg("128")));
    assert_eq!(aligned.store_peak_bytes, 0, "{aligned:?}");
}

#[test]
fn per_task_blocks_decode_what_the_plan_predicts() {
    let scene = small_scene();
    let dir = tempfile::tempdir().unwrap();
    let serial_out = dir.path().join("serial.tif");
    run(
        &scene,
        &config(
            Mode::Serial,
            Resolution::R20,
            BlockSharing::PerTask,
            &serial_out,
        ),
    );
    let expected = read_output(&serial_out);
    for spec in ["64", "100", "3,200,130"] {
        let out = dir.path().join("per-task.tif");
        let mode = chunked(spec, 2, Schedule::Staged);
        let report = run(
            &scene,
            &config(mode, Resolution::R20, BlockSharing::PerTask, &out),
        );
        assert_eq!(read_output(&out), expected, "{spec}");
        let b = blocks_of(&report);
        assert_eq!(b.sharing, BlockSharing::PerTask);
        assert!(b.visual.decoded > b.visual.needed, "{spec}: {b:?}");
        assert_eq!(b.store_peak_bytes, 0, "{spec}");
        assert!(
            (b.read_amplification_measured - b.read_amplification_planned).abs() < 1e-9,
            "{spec}: measured {} planned {}",
            b.read_amplification_measured,
            b.read_amplification_planned
        );
    }
}
