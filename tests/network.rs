//! Remote reading through the simulated network, all on loopback: the same pixels as the
//! files, latency and bandwidth that measurably slow loading, threads that hide latency,
//! per-task traffic in the report, and a clear message for each way a server can fail.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is how a test fails (clippy.toml covers #[test] fns only)"
)]

mod common;

use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chunkscope::catalog::Catalog;
use chunkscope::chunks::ChunkRequest;
use chunkscope::network::{Fault, NetworkSim, Rate, SimSettings};
use chunkscope::output::{OutputFormat, OutputSpec};
use chunkscope::pipeline::{
    self, CloudClasses, Mode, Resolution, RunConfig, RunControl, RunReport, Scene, Schedule,
};
use chunkscope::raster::RasterSource;
use chunkscope::task::Stage;

use common::{files_in, read_output, small_demo, small_scene};

/// GDAL's network statistics are process-wide, and the tests of this file run as threads
/// of one process: a run's GDAL count would include the requests of tests running beside
/// it. Each test holds this lock, so runs here never overlap (and timings are quieter).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn demo_dir() -> &'static Path {
    small_demo().parent().expect("the catalog is in a folder")
}

fn config(mode: Mode, out: &Path) -> RunConfig {
    RunConfig {
        mode,
        resolution: Resolution::R20,
        cloud_classes: CloudClasses::default(),
        output: OutputSpec::new(out.to_path_buf(), OutputFormat::Gtiff),
        gdal_cache_mb: None,
        blocks: Default::default(),
    }
}

fn chunked(spec: &str, threads: usize) -> Mode {
    Mode::Chunked {
        chunks: spec.parse::<ChunkRequest>().expect("valid spec"),
        threads: NonZeroUsize::new(threads).expect("threads > 0"),
        schedule: Schedule::Staged,
    }
}

/// The small demo's first item as served by `sim`.
fn served_scene(sim: &NetworkSim) -> Scene {
    let catalog: Catalog = sim.catalog(small_demo()).expect("catalog served");
    Scene::from_item(catalog.item(None).expect("first item"))
        .expect("assets")
        .served_by(Some(sim.probe()))
}

fn start(settings: SimSettings) -> NetworkSim {
    NetworkSim::start(demo_dir(), settings, 0).expect("server starts")
}

fn run_to(scene: &Scene, mode: Mode, out: &Path) -> RunReport {
    let control = RunControl {
        sample_every: None,
        ..RunControl::default()
    };
    pipeline::run(scene, &config(mode, out), &control).expect("run succeeds")
}

fn load_ns(report: &RunReport) -> u64 {
    report.stage(Stage::Load).expect("a load stage").wall_ns
}

#[test]
fn reading_through_the_server_gives_the_same_pixels_as_reading_the_files() {
    let _serial = one_at_a_time();
    let sim = start(SimSettings::default());
    let remote = served_scene(&sim);
    assert!(
        remote.visual.path.starts_with("/vsicurl/http://127.0.0.1:"),
        "{}",
        remote.visual.path
    );
    let dir = tempfile::tempdir().unwrap();
    for (i, mode) in [Mode::Serial, chunked("3,100,100", 3)]
        .into_iter()
        .enumerate()
    {
        let local_out = dir.path().join(format!("local-{i}.tif"));
        let remote_out = dir.path().join(format!("remote-{i}.tif"));
        let local = run_to(&small_scene(), mode.clone(), &local_out);
        let served = run_to(&remote, mode, &remote_out);
        assert!(
            local.network.is_none(),
            "local files have no network section"
        );
        assert_eq!(local.masked_pixels, served.masked_pixels);
        assert_eq!(read_output(&local_out), read_output(&remote_out));

        let net = served.network.as_ref().expect("a network section");
        assert_eq!(net.source, "server");
        assert!(net.bytes > 0 && net.requests > 0, "{net:?}");
        let tasks = served
            .tasks
            .iter()
            .filter(|t| t.stage == Stage::Load)
            .count();
        assert_eq!(net.tasks.len(), tasks, "one traffic record per load task");
        let load = net.load.expect("load traffic");
        let open = net.open.expect("open traffic");
        assert_eq!(
            load.bytes + open.bytes,
            net.bytes,
            "every byte of the run is either a handle open or a load task: {net:?}"
        );
        // GDAL's /vsicurl/ cache is shared by the workers of a run: a task whose blocks an
        // earlier request already fetched fetches nothing.
        assert!(net.tasks.iter().any(|t| t.requests >= 1), "{:?}", net.tasks);
        if let Some(gdal) = net.gdal {
            // GDAL's own count of the same run roughly agrees with the server's (it counts
            // a request when it is made, the server as the bytes leave).
            let ratio = gdal.bytes as f64 / net.bytes as f64;
            assert!((0.75..1.33).contains(&ratio), "{net:?}");
        }
    }
}

/// A served scene's load time with `settings`: the median of three serial-or-chunked runs.
fn median_load(settings: SimSettings, mode: &Mode) -> Duration {
    let sim = start(settings);
    let scene = served_scene(&sim);
    let dir = tempfile::tempdir().unwrap();
    let mut loads: Vec<u64> = (0..3)
        .map(|i| {
            let report = run_to(&scene, mode.clone(), &dir.path().join(format!("{i}.tif")));
            load_ns(&report)
        })
        .collect();
    loads.sort_unstable();
    Duration::from_nanos(loads[1])
}

#[test]
fn latency_slows_loading_measurably() {
    let _serial = one_at_a_time();
    // 16 chunks read one after the other: each waits for its requests' latency.
    let mode = chunked("3,128,128", 1);
    let fast = median_load(SimSettings::default(), &mode);
    let slow = median_load(
        SimSettings {
            latency: Duration::from_millis(30),
            ..SimSettings::default()
        },
        &mode,
    );
    assert!(
        slow.as_secs_f64() > 2.0 * fast.as_secs_f64(),
        "latency 30 ms: {slow:?}, none: {fast:?}"
    );
}

#[test]
fn bandwidth_slows_loading_measurably() {
    let _serial = one_at_a_time();
    let fast = median_load(SimSettings::default(), &Mode::Serial);
    let slow_settings = SimSettings {
        bandwidth: Rate::from_bytes_per_s(2 << 20),
        ..SimSettings::default()
    };
    let slow = median_load(slow_settings, &Mode::Serial);
    assert!(
        slow.as_secs_f64() > 2.0 * fast.as_secs_f64(),
        "2 MiB/s: {slow:?}, uncapped: {fast:?}"
    );
}

#[test]
fn threads_hide_latency_and_per_connection_caps() {
    let _serial = one_at_a_time();
    let settings = SimSettings {
        latency: Duration::from_millis(20),
        bandwidth: Rate::from_bytes_per_s(1 << 20),
        ..SimSettings::default()
    };
    let one = median_load(settings, &chunked("3,128,128", 1));
    let four = median_load(settings, &chunked("3,128,128", 4));
    eprintln!("load x1 {one:?}, x4 {four:?}");
    // Waiting, not computing: four threads overlap their waits and use four connections,
    // even on few cores. About 3x when the machine is quiet; generous for a busy one.
    assert!(
        one.as_secs_f64() > 1.5 * four.as_secs_f64(),
        "x1: {one:?}, x4: {four:?}"
    );
}

/// A scene whose two assets are at `base` (a URL without trailing slash).
fn scene_at(base: &str) -> Scene {
    let item = "S2B_TEST";
    Scene {
        item: item.into(),
        visual: RasterSource::new(
            format!("asset \"visual\" of item \"{item}\""),
            format!("/vsicurl/{base}/{item}/visual.tif"),
        ),
        scl: RasterSource::new(
            format!("asset \"SCL\" of item \"{item}\""),
            format!("/vsicurl/{base}/{item}/SCL.tif"),
        ),
        server: None,
    }
}

/// Runs `scene` serially (on this thread, so thread-local GDAL options apply) and returns
/// the error message; checks that nothing was written.
fn failure(scene: &Scene) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("masked.tif");
    let result = pipeline::run(scene, &config(Mode::Serial, &out), &RunControl::default());
    let err = match result {
        Ok(_) => panic!("the run should fail"),
        Err(e) => chunkscope::error::chain(&e),
    };
    assert_eq!(files_in(dir.path()), Vec::<String>::new(), "{err}");
    err
}

/// The demo's first item files under a fresh folder, named as [`scene_at`] expects.
fn served_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let local = small_scene();
    let item = dir.path().join("S2B_TEST");
    std::fs::create_dir_all(&item).unwrap();
    std::fs::copy(&local.visual.path, item.join("visual.tif")).unwrap();
    std::fs::copy(&local.scl.path, item.join("SCL.tif")).unwrap();
    dir
}

fn assert_names_asset_and_url(err: &str, url: &str) {
    assert!(
        err.contains("asset \"visual\" of item \"S2B_TEST\""),
        "{err}"
    );
    assert!(err.contains(url), "{err}");
}

#[test]
fn an_unreachable_host_is_named_with_the_asset() {
    let _serial = one_at_a_time();
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let err = failure(&scene_at(&base));
    assert_names_asset_and_url(&err, &base);
    assert!(err.contains("unreachable"), "{err}");
}

#[test]
fn a_missing_file_is_a_404_with_the_asset_and_url() {
    let _serial = one_at_a_time();
    let empty = tempfile::tempdir().unwrap();
    let sim = NetworkSim::start(empty.path(), SimSettings::default(), 0).unwrap();
    let err = failure(&scene_at(sim.base_url()));
    assert_names_asset_and_url(&err, sim.base_url());
    assert!(err.contains("HTTP 404"), "{err}");
}

#[test]
fn a_forbidden_file_is_a_403_with_the_asset_and_url() {
    let _serial = one_at_a_time();
    let files = served_copy();
    let settings = SimSettings {
        fault: Fault::Forbidden,
        ..SimSettings::default()
    };
    let sim = NetworkSim::start(files.path(), settings, 0).unwrap();
    let err = failure(&scene_at(sim.base_url()));
    assert_names_asset_and_url(&err, sim.base_url());
    assert!(err.contains("HTTP 403"), "{err}");
}

#[test]
fn a_server_without_range_support_is_named() {
    let _serial = one_at_a_time();
    let files = served_copy();
    let settings = SimSettings {
        fault: Fault::IgnoreRange,
        ..SimSettings::default()
    };
    let sim = NetworkSim::start(files.path(), settings, 0).unwrap();
    let err = failure(&scene_at(sim.base_url()));
    assert_names_asset_and_url(&err, sim.base_url());
    assert!(err.contains("Range"), "{err}");
}

#[test]
fn a_server_that_never_answers_times_out() {
    let _serial = one_at_a_time();
    let files = served_copy();
    let settings = SimSettings {
        fault: Fault::Stall,
        ..SimSettings::default()
    };
    let sim = NetworkSim::start(files.path(), settings, 0).unwrap();
    // Thread-local, so other tests keep the defaults; the serial run opens on this thread.
    chunkscope::network::remote::configure();
    gdal::config::set_thread_local_config_option("GDAL_HTTP_TIMEOUT", "1").unwrap();
    gdal::config::set_thread_local_config_option("GDAL_HTTP_MAX_RETRY", "0").unwrap();
    let t0 = std::time::Instant::now();
    let err = failure(&scene_at(sim.base_url()));
    assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
    assert_names_asset_and_url(&err, sim.base_url());
    assert!(err.contains("in time"), "{err}");
}

/// Over the network each block of a shared run is read from GDAL once (so fetched at most
/// once, whatever GDAL's range cache does), and the pixels are the files' own. Bytes on
/// the wire are not compared: GDAL's read-ahead and its process-wide range cache make them
/// vary from run to run on files this small.
#[test]
fn shared_blocks_are_read_once_over_the_network() {
    let _serial = one_at_a_time();
    let sim = start(SimSettings::default());
    let remote = served_scene(&sim);
    let dir = tempfile::tempdir().unwrap();
    let serial_out = dir.path().join("serial.tif");
    run_to(&small_scene(), Mode::Serial, &serial_out);
    for blocks in [
        pipeline::BlockSharing::Shared,
        pipeline::BlockSharing::PerTask,
    ] {
        let out = dir.path().join(format!("{}.tif", blocks.name()));
        let cfg = RunConfig {
            blocks,
            ..config(chunked("3,64,64", 2), &out)
        };
        let control = RunControl {
            sample_every: None,
            ..RunControl::default()
        };
        let report = pipeline::run(&remote, &cfg, &control).expect("run succeeds");
        assert_eq!(read_output(&out), read_output(&serial_out), "{blocks:?}");
        assert!(report.network.is_some_and(|n| n.requests > 0));
        let b = report.blocks.expect("block figures");
        match blocks {
            pipeline::BlockSharing::Shared => {
                assert_eq!(b.visual.decoded, b.visual.needed, "{b:?}");
                assert_eq!(b.scl.decoded, b.scl.needed, "{b:?}");
                assert_eq!(b.store_end_bytes, 0);
            }
            pipeline::BlockSharing::PerTask => {
                assert!(b.visual.decoded > b.visual.needed, "{b:?}")
            }
        }
    }
}
