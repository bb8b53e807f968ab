//! The chunked writer against GDAL: the COG it writes passes GDAL's own validator and has
//! the pixels of GDAL's COG driver at every level; any chunking writes the same file
//! content; every codec reads back; cancellation, write errors and dead runs leave nothing
//! under the output name. Real GDAL, real files, the real binary where exit codes matter.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is how a test fails (clippy.toml covers #[test] fns only)"
)]

mod common;

use std::num::NonZeroUsize;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use chunkscope::catalog::Catalog;
use chunkscope::chunks::ChunkRequest;
use chunkscope::demo::{self, DemoSpec};
use chunkscope::output::{
    ChunkedWriter, Codec, GdalWriter, OutputError, OutputFormat, OutputGeometry, OutputSpec,
    WriterKind,
};
use chunkscope::pipeline::{
    self, CloudClasses, Mode, Resolution, RunConfig, RunControl, RunReport, Scene, Schedule,
};
use chunkscope::task::{CancelFlag, Event, EventSink, Stage};
use gdal::{Dataset, Metadata};

use common::files_in;

/// Where Debian's python3-gdal puts GDAL's COG validator.
const VALIDATOR: &str =
    "/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_cloud_optimized_geotiff.py";

/// A demo whose 20 m grid is 550 x 550 with 128-pixel blocks: overviews of 275, 137 and
/// 68 pixels, so two levels halve an odd size and use GDAL's weighted windows.
fn odd_scene() -> (Scene, &'static Path) {
    struct Demo {
        _dir: tempfile::TempDir,
        catalog: PathBuf,
    }
    static DEMO: OnceLock<Demo> = OnceLock::new();
    let demo = DEMO.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let spec = DemoSpec::new(1100, 1).expect("spec");
        let catalog = demo::generate(spec, dir.path(), &|_| {}).expect("demo generation");
        Demo { _dir: dir, catalog }
    });
    let catalog = Catalog::load(&demo.catalog).expect("demo catalog loads");
    let scene = Scene::from_item(catalog.item(None).expect("item")).expect("assets");
    (scene, demo.catalog.as_path())
}

fn chunked(spec: &str, threads: usize, schedule: Schedule) -> Mode {
    Mode::Chunked {
        chunks: spec.parse::<ChunkRequest>().expect("valid spec"),
        threads: NonZeroUsize::new(threads).expect("threads"),
        schedule,
    }
}

fn config(mode: Mode, output: OutputSpec) -> RunConfig {
    RunConfig {
        mode,
        resolution: Resolution::R20,
        cloud_classes: CloudClasses::default(),
        output,
        gdal_cache_mb: None,
        blocks: Default::default(),
    }
}

fn run(scene: &Scene, cfg: &RunConfig) -> RunReport {
    pipeline::run(scene, cfg, &RunControl::default()).expect("run succeeds")
}

/// Every level of every band: full resolution first, then the overviews.
fn levels(path: &Path) -> Vec<Vec<Vec<u8>>> {
    let ds = Dataset::open(path).expect("output opens");
    let first = ds.rasterband(1).expect("band 1");
    let count = usize::try_from(first.overview_count().expect("overview count")).unwrap();
    (0..=count)
        .map(|level| {
            (1..=ds.raster_count())
                .map(|b| {
                    let band = ds.rasterband(b).expect("band");
                    let band = if level == 0 {
                        band
                    } else {
                        band.overview(level - 1).expect("overview")
                    };
                    let (w, h) = band.size();
                    band.read_as::<u8>((0, 0), (w, h), (w, h), None)
                        .expect("read")
                        .data()
                        .to_vec()
                })
                .collect()
        })
        .collect()
}

fn compression(path: &Path) -> Option<String> {
    Dataset::open(path)
        .expect("opens")
        .metadata_item("COMPRESSION", "IMAGE_STRUCTURE")
}

#[test]
fn the_cog_passes_gdals_validator_and_has_gdals_pixels_at_every_level() {
    let (scene, _) = odd_scene();
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("ours.tif");
    let gdals = dir.path().join("gdal.tif");
    // Misaligned chunks on a fused pool: tiles completed by several tasks in any order.
    let report = run(
        &scene,
        &config(
            chunked("3,100,130", 2, Schedule::Fused),
            OutputSpec::new(&ours, OutputFormat::Cog),
        ),
    );
    run(
        &scene,
        &config(
            Mode::Serial,
            OutputSpec {
                writer: WriterKind::Gdal,
                ..OutputSpec::new(&gdals, OutputFormat::Cog)
            },
        ),
    );

    let out = Command::new("/usr/bin/python3")
        .arg(VALIDATOR)
        .arg(&ours)
        .output()
        .expect("GDAL's validator runs (./dev installs python3-gdal)");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "validator: {said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("is a valid cloud optimized GeoTIFF"),
        "{said}"
    );

    // GDAL's COG driver sizes the levels 550, 275, 137, 68; ours must match...
    let (a, b) = (levels(&ours), levels(&gdals));
    let sizes: Vec<usize> = a.iter().map(|l| l[0].len()).collect();
    assert_eq!(sizes, vec![550 * 550, 275 * 275, 137 * 137, 68 * 68]);
    // ...and every pixel of every level is identical, the weighted windows of the two odd
    // levels included: no rounding difference at all, not even by 1.
    for (level, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(x == y, "level {level} differs from GDAL's COG driver");
    }
    assert_eq!(compression(&ours).as_deref(), Some("DEFLATE"));

    // The write tasks encoded every tile, overviews included: 25 + 9 + 4 + 1.
    let tiles: u32 = report
        .tasks
        .iter()
        .filter(|t| t.stage == Stage::Write)
        .map(|t| t.tiles)
        .sum();
    assert_eq!(tiles, 39);
    assert!(report.output_tile_bytes > 0);
    assert_eq!(report.config.writer, "chunked");
}

#[test]
fn any_chunking_schedule_and_format_writes_the_same_pixels() {
    let (scene, _) = odd_scene();
    let dir = tempfile::tempdir().unwrap();
    let mut full_resolution = Vec::new();
    for format in [OutputFormat::Cog, OutputFormat::Gtiff] {
        let reference = dir.path().join("serial.tif");
        run(
            &scene,
            &config(Mode::Serial, OutputSpec::new(&reference, format)),
        );
        let want = levels(&reference);
        full_resolution.push(want[0].clone());
        for (i, mode) in [
            chunked("blocks:1", 2, Schedule::Staged),
            chunked("3,200,200", 2, Schedule::Fused),
            chunked("1,128,77", 3, Schedule::Fused),
            chunked("3,550,1", 2, Schedule::Staged),
        ]
        .into_iter()
        .enumerate()
        {
            let out = dir.path().join(format!("c{i}.tif"));
            run(&scene, &config(mode.clone(), OutputSpec::new(&out, format)));
            assert!(
                levels(&out) == want,
                "{mode:?} as {format:?} differs from serial"
            );
        }
        assert_eq!(want.len(), if format == OutputFormat::Cog { 4 } else { 1 });
    }
    // The GeoTIFF's tiles lying wholly in a chunk are written straight from it (edge tiles
    // included, this grid is 550 pixels), the COG's through tile buffers: the same pixels.
    assert!(
        full_resolution[0] == full_resolution[1],
        "the GeoTIFF's full resolution differs from the COG's"
    );
}

#[test]
fn every_codec_reads_back_the_same_pixels() {
    let (scene, _) = odd_scene();
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("none.tif");
    let spec = |path: &Path, codec| OutputSpec {
        codec: Some(codec),
        ..OutputSpec::new(path, OutputFormat::Cog)
    };
    run(&scene, &config(Mode::Serial, spec(&reference, Codec::None)));
    assert_eq!(compression(&reference), None);
    let want = levels(&reference);
    for (codec, name) in [
        (Codec::Deflate { level: 1 }, "DEFLATE"),
        (Codec::Deflate { level: 12 }, "DEFLATE"),
        (Codec::Lzw, "LZW"),
        (Codec::Zstd { level: 3 }, "ZSTD"),
    ] {
        let out = dir.path().join(format!("{name}.tif"));
        run(
            &scene,
            &config(chunked("blocks:2", 2, Schedule::Staged), spec(&out, codec)),
        );
        assert_eq!(compression(&out).as_deref(), Some(name));
        assert!(levels(&out) == want, "{codec} reads back different pixels");
    }
}

/// Cancels the run when `when` first holds for an event.
fn run_cancelled(
    scene: &Scene,
    cfg: &RunConfig,
    when: fn(&Event) -> bool,
) -> Result<RunReport, pipeline::PipelineError> {
    let (sink, rx) = EventSink::bounded(100_000);
    let control = RunControl {
        events: sink,
        ..RunControl::default()
    };
    let cancel = control.cancel.clone();
    let watcher = std::thread::spawn(move || {
        for e in rx.iter() {
            if when(&e) {
                cancel.cancel();
                break;
            }
        }
    });
    let result = pipeline::run(scene, cfg, &control);
    drop(control);
    watcher.join().unwrap();
    result
}

#[test]
fn cancelling_while_writing_leaves_nothing() {
    let (scene, _) = odd_scene();
    for writer in [WriterKind::Chunked, WriterKind::Gdal] {
        for format in [OutputFormat::Cog, OutputFormat::Gtiff] {
            let dir = tempfile::tempdir().unwrap();
            let out = dir.path().join("out.tif");
            // 81 small chunks: the cancel lands while writes are still to come.
            let cfg = config(
                chunked("3,64,64", 2, Schedule::Fused),
                OutputSpec {
                    writer,
                    ..OutputSpec::new(&out, format)
                },
            );
            // The watcher thread cancels at the first write it hears of; on a loaded machine
            // it may be scheduled only after the last write: then the run completed, which
            // is not what is tested here, so try again (a few times at most).
            let report = (0..5)
                .map(|_| {
                    let _ = std::fs::remove_file(&out);
                    run_cancelled(&scene, &cfg, |e| {
                        matches!(
                            e,
                            Event::TaskStarted {
                                stage: Stage::Write,
                                ..
                            }
                        )
                    })
                    .expect("a cancelled run reports")
                })
                .find(|r| r.cancelled)
                .unwrap_or_else(|| {
                    panic!("{writer:?} {format:?}: five runs ended before the cancel")
                });
            assert!(report.output.is_none());
            assert!(
                files_in(dir.path()).is_empty(),
                "{writer:?} {format:?} left {:?}",
                files_in(dir.path())
            );
        }
    }
}

/// A 200 x 300 RGB output in 64-pixel tiles: tiles cut by both edges, three overview
/// levels.
fn small_geometry() -> OutputGeometry {
    OutputGeometry {
        rows: 200,
        cols: 300,
        bands: 3,
        block: 64,
        geo_transform: Some([600000.0, 20.0, 0.0, 5900040.0, 0.0, -20.0]),
        crs: None,
    }
}

/// Tiles that a helper takes from a write task's queue (as an idle worker does) are
/// encoded once and land where the task's own would: the COG is byte for byte the one
/// written without help, and the task and its helper encoded every tile between them.
#[test]
fn tiles_a_helper_takes_make_the_same_file() {
    use chunkscope::output::{TileQueue, WriteStats};
    use std::cell::{Cell, RefCell};
    let geometry = small_geometry();
    let image = ndarray::Array3::from_shape_fn((3, 200, 300), |(b, r, c)| {
        u8::try_from((r * 7 + c * 3 + b * 50) % 251).unwrap()
    });
    // Chunks of 100 x 150: not aligned with the 64-pixel tiles, so tiles are shared.
    let chunks = [(0, 0), (0, 150), (100, 0), (100, 150)];
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, helped: bool| -> (Vec<u8>, u32, u32) {
        let out = dir.path().join(name);
        let spec = OutputSpec::new(&out, OutputFormat::Cog);
        let w = ChunkedWriter::create(spec, &geometry, CancelFlag::new()).unwrap();
        let (mut own, help) = (0, RefCell::new(WriteStats::default()));
        for (r, c) in chunks {
            let view = image.slice(ndarray::s![.., r..r + 100, c..c + 150]);
            let queue = TileQueue::default();
            // The first call for help takes whatever waits then, at once, on this thread;
            // the task encodes the rest.
            let calls = Cell::new(0);
            let ask = || {
                calls.set(calls.get() + 1);
                if calls.get() == 1 {
                    let s = w.help(&queue, None).unwrap();
                    let mut h = help.borrow_mut();
                    h.tiles += s.tiles;
                }
            };
            let stats = w
                .write_chunk_shared(0, r, c, view, &queue, helped.then_some(&ask as &dyn Fn()))
                .unwrap();
            assert!(
                queue.is_empty(),
                "the task returns with no tile left waiting"
            );
            own += stats.tiles;
        }
        w.finish().unwrap();
        (std::fs::read(&out).unwrap(), own, help.into_inner().tiles)
    };
    let (alone, tiles, none) = write("alone.tif", false);
    let (helped, own, help) = write("helped.tif", true);
    assert_eq!(none, 0);
    // 4 x 5 full-resolution tiles, then 2 x 3 and 1 x 2 overview tiles, then 1.
    assert_eq!(tiles, 20 + 6 + 2 + 1);
    assert!(help > 0 && own > 0, "own {own}, helper {help}");
    assert_eq!(own + help, tiles, "every tile encoded once");
    assert!(
        alone == helped,
        "the helped COG differs from the one written alone"
    );
}

/// Both writers, given every pixel of a 300 x 200 image, then cancelled just before their
/// final step: the COG assembly and GDAL's COG copy (through its progress callback) stop,
/// and nothing is left.
#[test]
fn cancelling_the_final_step_leaves_nothing() {
    let geometry = small_geometry();
    let image = ndarray::Array3::from_shape_fn((3, 200, 300), |(b, r, c)| {
        u8::try_from((r + c + b) % 256).unwrap()
    });
    for format in [OutputFormat::Cog, OutputFormat::Gtiff] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.tif");
        let cancel = CancelFlag::new();
        let w = ChunkedWriter::create(OutputSpec::new(&out, format), &geometry, cancel.clone())
            .expect("writer");
        w.write_chunk(0, 0, 0, image.view()).expect("write");
        cancel.cancel();
        assert!(
            matches!(w.finish(), Err(OutputError::Cancelled)),
            "{format:?}"
        );
        assert!(
            files_in(dir.path()).is_empty(),
            "chunked {format:?}: {:?}",
            files_in(dir.path())
        );

        let cancel = CancelFlag::new();
        let spec = OutputSpec {
            writer: WriterKind::Gdal,
            ..OutputSpec::new(&out, format)
        };
        let mut w = GdalWriter::create(spec, geometry.clone(), cancel.clone()).expect("writer");
        w.write_u8(0, 0, 0, image.view()).expect("write");
        cancel.cancel();
        assert!(
            matches!(w.finalize(2), Err(OutputError::Cancelled)),
            "{format:?}"
        );
        assert!(
            files_in(dir.path()).is_empty(),
            "gdal {format:?}: {:?}",
            files_in(dir.path())
        );
    }
}

/// A whole run, cancelled as its final step starts (the watcher sets the flag when the
/// finalize stage is announced): GDAL's COG copy, slowed by DEFLATE at level 12 on the
/// 10 m grid, stops through its progress callback and nothing is left under any name. The
/// chunked writer's assembly is short, so the cancel may come after it: then the run is
/// whole and says so, never "cancelled" with a file written or the other way round.
#[test]
fn a_run_cancelled_in_its_final_step_leaves_nothing() {
    let (scene, _) = odd_scene();
    for writer in [WriterKind::Gdal, WriterKind::Chunked] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.tif");
        let mut cfg = config(
            chunked("blocks:1", 2, Schedule::Staged),
            OutputSpec {
                writer,
                codec: Some(Codec::parse("DEFLATE", Some(12)).unwrap()),
                ..OutputSpec::new(&out, OutputFormat::Cog)
            },
        );
        cfg.resolution = Resolution::R10;
        let report = run_cancelled(&scene, &cfg, |e| {
            matches!(
                e,
                Event::StageStarted {
                    stage: Stage::Finalize,
                    ..
                }
            )
        })
        .expect("a cancelled run reports");
        if report.cancelled || writer == WriterKind::Gdal {
            assert!(report.cancelled, "{writer:?}: the copy outran the cancel");
            assert!(report.output.is_none(), "{writer:?}");
            assert!(
                files_in(dir.path()).is_empty(),
                "{writer:?} left {:?}",
                files_in(dir.path())
            );
        } else {
            assert_eq!(files_in(dir.path()), ["out.tif"], "{writer:?}");
            assert!(report.output.is_some());
        }
    }
}

/// The real binary with a file-size limit, SIGXFSZ ignored so the error reaches the code.
fn run_limited(catalog: &Path, out: &Path, args: &[&str], limit: u64) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chunkscope"));
    cmd.args(["run", "--catalog"])
        .arg(catalog)
        .arg("--out")
        .arg(out)
        .args(args);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.output().expect("binary runs")
}

#[test]
fn a_write_that_fails_is_an_error_and_leaves_nothing() {
    let (_, catalog) = odd_scene();
    for args in [
        &["--format", "cog"][..],
        &["--format", "gtiff"],
        &["--format", "cog", "--mode", "serial"],
        &[
            "--format",
            "gtiff",
            "--chunks",
            "3,64,64",
            "--schedule",
            "fused",
        ],
        &["--format", "cog", "--writer", "gdal"],
        &["--format", "gtiff", "--writer", "gdal"],
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.tif");
        // 200 kB: far less than the ~900 kB of pixels.
        let result = run_limited(catalog, &out, args, 200_000);
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert_eq!(result.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("error:") && stderr.contains("out.tif"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(
            files_in(dir.path()).is_empty(),
            "{args:?} left {:?}",
            files_in(dir.path())
        );
    }
}

#[test]
fn staging_files_of_a_run_that_died_are_removed_and_said() {
    let (scene, _) = odd_scene();
    let dir = tempfile::tempdir().unwrap();
    // PID 2147483632 is above Linux's pid_max: no process has it.
    let stale = dir.path().join(".out.tif.2147483632.staging.tif");
    std::fs::write(&stale, vec![0u8; 1000]).unwrap();
    let out = dir.path().join("out.tif");
    let report = run(
        &scene,
        &config(Mode::Serial, OutputSpec::new(&out, OutputFormat::Gtiff)),
    );
    assert!(!stale.exists());
    assert_eq!(files_in(dir.path()), vec!["out.tif".to_string()]);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains(".out.tif.2147483632.staging.tif")),
        "{:?}",
        report.notes
    );
}

/// A tiled 3-band GeoTIFF of 256 x 256 pixels in UTM zone 31N, georeferenced by pixel
/// centres (`AREA_OR_POINT=Point`) or by pixel corners.
/// The output of a [`utm_source`]: its grid and coordinate system as inspected.
fn utm_output(info: &chunkscope::raster::RasterInfo) -> OutputGeometry {
    OutputGeometry {
        rows: 256,
        cols: 256,
        bands: 3,
        block: 64,
        geo_transform: info.geo_transform,
        crs: info.crs.clone(),
    }
}

fn utm_source(path: &Path, point: bool) {
    use gdal::raster::RasterCreationOptions;
    let driver = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
    let options = RasterCreationOptions::from_iter(["TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=64"]);
    let mut ds = driver
        .create_with_band_type_with_options::<u8, _>(path, 256, 256, 3, &options)
        .unwrap();
    ds.set_spatial_ref(&gdal::spatial_ref::SpatialRef::from_epsg(32631).unwrap())
        .unwrap();
    ds.set_geo_transform(&[600000.0, 20.0, 0.0, 5900040.0, 0.0, -20.0])
        .unwrap();
    if point {
        ds.set_metadata_item("AREA_OR_POINT", "Point", "").unwrap();
    }
    ds.close().unwrap();
}

/// The output is on its source's grid, in its source's coordinate system, with either
/// writer and format. The chunked writer copies a GeoTIFF source's GeoKeys as they are
/// (GDAL is never asked for the coordinate system, so PROJ is not started) and states
/// PixelIsArea, as its tie point is GDAL's corner geotransform; a source georeferenced by
/// pixel centres must not come out shifted by half a pixel.
#[test]
fn the_output_has_its_sources_coordinate_system_and_grid() {
    use chunkscope::raster::{self, Crs, RasterSource};
    let dir = tempfile::tempdir().unwrap();
    let image = ndarray::Array3::from_shape_fn((3, 256, 256), |(b, r, c)| {
        u8::try_from(r ^ c)
            .unwrap()
            .wrapping_add(u8::try_from(b).unwrap())
    });
    for point in [false, true] {
        let src_path = dir.path().join(format!("source-{point}.tif"));
        utm_source(&src_path, point);
        let source_ds = Dataset::open(&src_path).unwrap();
        let want_gt = source_ds.geo_transform().unwrap();
        let want_wkt = source_ds.spatial_ref().unwrap().to_wkt().unwrap();
        // GDAL reports a centre-georeferenced file by its pixel corners, as written.
        assert_eq!(want_gt[0], 600000.0);
        assert_eq!(
            source_ds.metadata_item("AREA_OR_POINT", "").as_deref(),
            Some(if point { "Point" } else { "Area" })
        );
        let info =
            raster::inspect(&RasterSource::new("visual", src_path.display().to_string())).unwrap();
        assert!(
            matches!(info.crs, Some(Crs::GeoKeys { .. })),
            "{:?}",
            info.crs
        );
        assert_eq!(info.epsg, Some(32631));
        assert_eq!(info.geo_transform, Some(want_gt));
        let geometry = utm_output(&info);
        for format in [OutputFormat::Cog, OutputFormat::Gtiff] {
            for writer in [WriterKind::Chunked, WriterKind::Gdal] {
                let out = dir.path().join("out.tif");
                let spec = OutputSpec {
                    writer,
                    ..OutputSpec::new(&out, format)
                };
                let cancel = CancelFlag::new();
                match writer {
                    WriterKind::Chunked => {
                        let w = ChunkedWriter::create(spec, &geometry, cancel).unwrap();
                        w.write_chunk(0, 0, 0, image.view()).unwrap();
                        w.finish().unwrap();
                    }
                    WriterKind::Gdal => {
                        let mut w = GdalWriter::create(spec, geometry.clone(), cancel).unwrap();
                        w.write_u8(0, 0, 0, image.view()).unwrap();
                        w.finalize(1).unwrap();
                    }
                }
                let got = Dataset::open(&out).unwrap();
                let case = format!("{writer:?} {format:?}, point: {point}");
                assert_eq!(got.geo_transform().unwrap(), want_gt, "{case}");
                assert_eq!(
                    got.spatial_ref().unwrap().to_wkt().unwrap(),
                    want_wkt,
                    "{case}"
                );
                assert_eq!(
                    got.metadata_item("AREA_OR_POINT", "").as_deref(),
                    Some("Area"),
                    "{case}"
                );
                assert_eq!(common::read_output(&out), image, "{case}");
            }
        }
    }
}

/// A side file (`.aux.xml`) that states another coordinate system wins over the GeoTIFF's
/// own keys, as GDAL reads it: the output takes the side file's.
#[test]
fn a_side_file_that_overrides_the_keys_is_followed() {
    use chunkscope::raster::{self, Crs, RasterSource};
    let dir = tempfile::tempdir().unwrap();
    let src_path = dir.path().join("source.tif");
    utm_source(&src_path, false);
    // Set on a file opened read-only, GDAL keeps the coordinate system in a side file.
    let mut ds = Dataset::open(&src_path).unwrap();
    ds.set_spatial_ref(&gdal::spatial_ref::SpatialRef::from_epsg(32632).unwrap())
        .unwrap();
    ds.close().unwrap();
    assert!(dir.path().join("source.tif.aux.xml").exists());
    let want_wkt = Dataset::open(&src_path)
        .unwrap()
        .spatial_ref()
        .unwrap()
        .to_wkt()
        .unwrap();
    assert!(want_wkt.contains("32632"), "{want_wkt}");

    let info =
        raster::inspect(&RasterSource::new("visual", src_path.display().to_string())).unwrap();
    assert!(matches!(info.crs, Some(Crs::Wkt(_))), "{:?}", info.crs);
    assert_eq!(info.epsg, Some(32632));
    let geometry = utm_output(&info);
    let image = ndarray::Array3::<u8>::zeros((3, 256, 256));
    let out = dir.path().join("out.tif");
    let w = ChunkedWriter::create(
        OutputSpec::new(&out, OutputFormat::Cog),
        &geometry,
        CancelFlag::new(),
    )
    .unwrap();
    w.write_chunk(0, 0, 0, image.view()).unwrap();
    w.finish().unwrap();
    let got = Dataset::open(&out).unwrap();
    assert_eq!(got.spatial_ref().unwrap().auth_code().unwrap(), 32632);
}
