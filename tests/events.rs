//! A consumer that does not keep up (a TUI frame stuck, a full channel) must cost a run
//! nothing but events: the workers never block on the channel, the output is the serial
//! run's, and the report counts what was dropped.

mod common;

use std::num::NonZeroUsize;

use chunkscope::chunks::ChunkRequest;
use chunkscope::output::{OutputFormat, OutputSpec};
use chunkscope::pipeline::{
    self, BlockSharing, CloudClasses, Mode, Resolution, RunConfig, RunControl, Schedule,
};
use chunkscope::task::EventSink;

use common::{read_output, small_scene};

fn config(mode: Mode, out: &std::path::Path) -> RunConfig {
    RunConfig {
        mode,
        resolution: Resolution::R20,
        cloud_classes: CloudClasses::default(),
        output: OutputSpec::new(out.to_path_buf(), OutputFormat::Gtiff),
        gdal_cache_mb: None,
        blocks: BlockSharing::Shared,
    }
}

#[test]
fn a_full_event_channel_drops_events_and_the_run_still_writes_the_serial_pixels() {
    let scene = small_scene();
    let dir = tempfile::tempdir().unwrap();
    let serial = dir.path().join("serial.tif");
    pipeline::run(
        &scene,
        &config(Mode::Serial, &serial),
        &RunControl::default(),
    )
    .expect("serial run");

    for schedule in [Schedule::Staged, Schedule::Fused] {
        let out = dir.path().join(format!("{schedule:?}.tif"));
        // Room for two events and nobody reading: everything after them is dropped.
        let (sink, rx) = EventSink::bounded(2);
        let control = RunControl {
            events: sink,
            ..RunControl::default()
        };
        let mode = Mode::Chunked {
            chunks: "64".parse::<ChunkRequest>().unwrap(),
            threads: NonZeroUsize::new(3).unwrap(),
            schedule,
        };
        let report = pipeline::run(&scene, &config(mode, &out), &control)
            .unwrap_or_else(|e| panic!("{schedule:?} run with a full channel: {e}"));
        assert_eq!(rx.len(), 2, "{schedule:?}: the channel holds what fitted");
        // Every chunk sends a start and a finish per stage: far more than two events.
        assert!(
            report.events_dropped >= 16,
            "{schedule:?}: {} events dropped",
            report.events_dropped
        );
        assert_eq!(
            read_output(&out),
            read_output(&serial),
            "{schedule:?}: pixels"
        );
    }
}

#[test]
fn a_closed_event_channel_counts_every_event_as_dropped_and_never_blocks() {
    let (sink, rx) = EventSink::bounded(8);
    drop(rx);
    for _ in 0..100 {
        sink.send(chunkscope::task::Event::RunStarted {
            chunks: 1,
            threads: 1,
        });
    }
    assert_eq!(sink.dropped(), 100);
}
