//! The demo scene on disk: real GDAL reads of generated COGs at a small size (512), the
//! catalog as STAC, determinism, the default-folder logic and errors. The full-size timing
//! is `#[ignore]`d: `cargo test --release --test demo -- --ignored --nocapture`.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use chunkscope::demo::{self, DemoError, DemoProgress, DemoSpec, scl};
use gdal::raster::GdalDataType;
use gdal::{Dataset, Metadata};
use serde_json::Value;

const SIZE: usize = 512;
const ITEMS: usize = 2;

fn spec() -> DemoSpec {
    DemoSpec::new(SIZE, ITEMS).expect("valid spec")
}

fn quiet(_: DemoProgress) {}

/// A scene generated once per test that needs one (tests run in parallel).
fn scene() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let catalog = demo::generate(spec(), dir.path(), &quiet).expect("generate");
    (dir, catalog)
}

fn features(catalog: &Path) -> Vec<Value> {
    let json: Value =
        serde_json::from_slice(&fs::read(catalog).expect("read catalog")).expect("json");
    json["features"].as_array().expect("features").clone()
}

fn asset_path(catalog: &Path, feature: &Value, key: &str) -> PathBuf {
    let href = feature["assets"][key]["href"].as_str().expect("href");
    catalog.parent().expect("parent").join(href)
}

fn read<T: Copy + gdal::raster::GdalType>(path: &Path, band: usize) -> (usize, Vec<T>) {
    let ds = Dataset::open(path).expect("open");
    let b = ds.rasterband(band).expect("band");
    let buf = b.read_band_as::<T>().expect("read");
    (buf.shape().0, buf.data().to_vec())
}

#[test]
fn assets_are_cogs_with_the_lesson_layout() {
    let (_dir, catalog) = scene();
    let feats = features(&catalog);
    assert_eq!(feats.len(), ITEMS);
    let block = spec().block_size();
    assert_eq!(block, 64);
    for f in &feats {
        for (key, side, bands, dtype, pixel) in [
            ("visual", SIZE, 3, GdalDataType::UInt8, 10.0),
            ("SCL", SIZE / 2, 1, GdalDataType::UInt8, 20.0),
            ("B02", SIZE, 1, GdalDataType::UInt16, 10.0),
        ] {
            let path = asset_path(&catalog, f, key);
            let ds = Dataset::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(ds.raster_size(), (side, side), "{key}");
            assert_eq!(ds.raster_count(), bands, "{key}");
            assert_eq!(
                ds.metadata_item("LAYOUT", "IMAGE_STRUCTURE").as_deref(),
                Some("COG"),
                "{key}"
            );
            assert_eq!(
                ds.metadata_item("COMPRESSION", "IMAGE_STRUCTURE")
                    .as_deref(),
                Some("DEFLATE"),
                "{key}"
            );
            if bands == 3 {
                assert_eq!(
                    ds.metadata_item("INTERLEAVE", "IMAGE_STRUCTURE").as_deref(),
                    Some("PIXEL")
                );
            }
            let gt = ds.geo_transform().expect("geotransform");
            assert_eq!(
                gt,
                [600_000.0, pixel, 0.0, 5_900_040.0, 0.0, -pixel],
                "{key}"
            );
            assert!(
                ds.projection().contains("32631"),
                "{key}: {}",
                ds.projection()
            );
            for b in 1..=bands {
                let band = ds.rasterband(b).expect("band");
                assert_eq!(band.band_type(), dtype, "{key}");
                assert_eq!(band.block_size(), (block, block), "{key}");
                assert_eq!(band.no_data_value(), Some(0.0), "{key}");
                assert_eq!(band.overview_count().expect("overviews"), 4, "{key}");
                for (i, factor) in [2, 4, 8, 16].into_iter().enumerate() {
                    let ov = band.overview(i).expect("overview");
                    assert_eq!(
                        ov.size(),
                        (side / factor, side / factor),
                        "{key} overview {i}"
                    );
                }
            }
        }
        // Overview level 0 of the image is on the SCL's grid.
        let visual = Dataset::open(asset_path(&catalog, f, "visual")).expect("open");
        let ov0 = visual
            .rasterband(1)
            .expect("band")
            .overview(0)
            .expect("overview");
        let scl_ds = Dataset::open(asset_path(&catalog, f, "SCL")).expect("open");
        assert_eq!(ov0.size(), scl_ds.raster_size());
        assert_eq!(
            f["assets"]["SCL"]["proj:shape"],
            serde_json::json!([SIZE / 2, SIZE / 2])
        );
    }
}

#[test]
fn scl_has_valid_classes_and_15_to_25_percent_cloud() {
    let (_dir, catalog) = scene();
    let mut fractions = Vec::new();
    for f in features(&catalog) {
        let (_, classes) = read::<u8>(&asset_path(&catalog, &f, "SCL"), 1);
        assert!(classes.iter().all(|&c| c <= 11), "class above 11");
        let count = |set: &[u8]| classes.iter().filter(|c| set.contains(c)).count() as f64;
        let n = classes.len() as f64;
        let cloud = count(&[scl::CLOUD_MEDIUM, scl::CLOUD_HIGH]) / n;
        assert!((0.15..=0.25).contains(&cloud), "cloud fraction {cloud}");
        // The scene has the classes of a real one: ground, water, shadows, cirrus.
        for class in [
            scl::VEGETATION,
            scl::NOT_VEGETATED,
            scl::WATER,
            scl::CLOUD_SHADOW,
            scl::THIN_CIRRUS,
            scl::CLOUD_MEDIUM,
            scl::CLOUD_HIGH,
        ] {
            assert!(count(&[class]) > 0.0, "class {class} missing");
        }
        // The rare classes stay rare.
        for class in [scl::DARK, scl::UNCLASSIFIED, scl::SNOW] {
            assert!(count(&[class]) / n < 0.03, "class {class} too common");
        }
        // eo:cloud_cover is measured on the SCL: classes 8, 9 and 10.
        let cover = f["properties"]["eo:cloud_cover"]
            .as_f64()
            .expect("eo:cloud_cover");
        let measured = 100.0 * count(&[8, 9, 10]) / n;
        assert!((cover - measured).abs() < 0.001, "{cover} vs {measured}");
        fractions.push(cloud);
    }
    assert!(
        (fractions[0] - fractions[1]).abs() > 0.005,
        "items should differ: {fractions:?}"
    );
}

/// Pearson correlation of horizontally neighbouring values.
fn neighbour_correlation(side: usize, v: &[f64]) -> f64 {
    let pairs: Vec<(f64, f64)> = (0..side)
        .flat_map(|y| (0..side - 1).map(move |x| (y * side + x, y * side + x + 1)))
        .map(|(a, b)| (v[a], v[b]))
        .collect();
    let n = pairs.len() as f64;
    let (ma, mb) = (
        pairs.iter().map(|p| p.0).sum::<f64>() / n,
        pairs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let cov = pairs.iter().map(|p| (p.0 - ma) * (p.1 - mb)).sum::<f64>();
    let va = pairs.iter().map(|p| (p.0 - ma).powi(2)).sum::<f64>();
    let vb = pairs.iter().map(|p| (p.1 - mb).powi(2)).sum::<f64>();
    cov / (va * vb).sqrt()
}

#[test]
fn content_is_structured_like_imagery_and_consistent_across_assets() {
    let (_dir, catalog) = scene();
    let f = &features(&catalog)[0];
    let (side, red) = read::<u8>(&asset_path(&catalog, f, "visual"), 1);
    let (_, blue) = read::<u16>(&asset_path(&catalog, f, "B02"), 1);
    let (scl_side, classes) = read::<u8>(&asset_path(&catalog, f, "SCL"), 1);
    assert_eq!(side, SIZE);

    // 0 means nodata only: real values are at least 1.
    assert!(red.iter().all(|&v| v >= 1));
    assert!(blue.iter().all(|&v| v >= 1));

    // Neither constant nor white noise: values spread, neighbours correlate.
    for (name, values) in [
        (
            "visual red",
            red.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(),
        ),
        ("B02", blue.iter().map(|&v| f64::from(v)).collect()),
    ] {
        let distinct: BTreeSet<u64> = values
            .iter()
            .map(|&v| chunkscope::convert::round_u64(v))
            .collect();
        assert!(
            distinct.len() > 100,
            "{name}: {} distinct values",
            distinct.len()
        );
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let sd =
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64).sqrt();
        assert!(sd > 0.2 * mean, "{name}: sd {sd} mean {mean}");
        let r = neighbour_correlation(side, &values);
        assert!(r > 0.8, "{name}: neighbour correlation {r}");
    }

    // The 10 m rasters agree with the 20 m classes: bright under cloud, dark on water.
    let mean_where = |class: u8, values: &dyn Fn(usize) -> f64| {
        let mut sum = 0.0;
        let mut n = 0.0;
        for j in 0..scl_side {
            for i in 0..scl_side {
                if classes[j * scl_side + i] == class {
                    sum += values((2 * j + 1) * side + 2 * i + 1);
                    n += 1.0;
                }
            }
        }
        sum / n
    };
    let red_at = |k: usize| f64::from(red[k]);
    let blue_at = |k: usize| f64::from(blue[k]);
    assert!(mean_where(scl::CLOUD_HIGH, &red_at) > 240.0);
    assert!(mean_where(scl::CLOUD_HIGH, &blue_at) > 2500.0);
    assert!(mean_where(scl::WATER, &blue_at) < 600.0);
    assert!(mean_where(scl::CLOUD_SHADOW, &red_at) < mean_where(scl::NOT_VEGETATED, &red_at));
    assert!(mean_where(scl::CLOUD_MEDIUM, &red_at) > 2.0 * mean_where(scl::VEGETATION, &red_at));
}

#[test]
fn the_same_spec_gives_byte_identical_files() {
    let (a_dir, a) = scene();
    let (b_dir, b) = scene();
    let files = |root: &Path| -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).expect("read dir").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    out.push(path.strip_prefix(root).expect("prefix").to_path_buf());
                }
            }
        }
        out.sort();
        out
    };
    let names = files(a_dir.path());
    assert_eq!(names, files(b_dir.path()));
    assert!(names.len() > 3 * ITEMS);
    for name in &names {
        let (x, y) = (
            fs::read(a_dir.path().join(name)),
            fs::read(b_dir.path().join(name)),
        );
        assert!(
            x.expect("read") == y.expect("read"),
            "{} differs",
            name.display()
        );
    }
    assert_eq!(a.file_name(), b.file_name());
}

#[test]
fn catalog_is_a_stac_item_collection_with_relative_hrefs() {
    let (_dir, catalog) = scene();
    assert_eq!(
        catalog.file_name().and_then(|n| n.to_str()),
        Some("search.json")
    );
    let text = fs::read_to_string(&catalog).expect("read");
    let json: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(json["type"], "FeatureCollection");

    // The stac crate (what the catalog module reads with) accepts it.
    let collection: stac::ItemCollection =
        serde_json::from_str(&text).expect("stac ItemCollection");
    assert_eq!(collection.items.len(), ITEMS);
    // The lesson works on `items[-1]`: the catalog names the same, last, item.
    let loaded = chunkscope::catalog::Catalog::load(&catalog).expect("catalog loads");
    let lesson = loaded.lesson_index().expect("items");
    assert_eq!(lesson, ITEMS - 1);
    assert_eq!(
        loaded.items[lesson].id,
        collection.items[ITEMS - 1].id,
        "the collection's last item"
    );

    let mut dates = BTreeSet::new();
    for (i, f) in features(&catalog).iter().enumerate() {
        assert_eq!(f["type"], "Feature");
        assert_eq!(f["stac_version"], "1.0.0");
        let id = f["id"].as_str().expect("id");
        assert!(
            id.starts_with("DEMO_31UFU_2023") && id.ends_with("_0_L2A"),
            "{id}"
        );
        let props = &f["properties"];
        assert!(dates.insert(props["datetime"].as_str().expect("datetime").to_string()));
        let platform = if i & 1 == 0 {
            "sentinel-2a"
        } else {
            "sentinel-2b"
        };
        assert_eq!(props["platform"], platform);
        assert_eq!(props["proj:epsg"], 32631);
        assert_eq!(props["chunkscope:demo"], true);
        assert_eq!(f["geometry"]["type"], "Polygon");
        let bbox: Vec<f64> = f["bbox"]
            .as_array()
            .expect("bbox")
            .iter()
            .map(|v| v.as_f64().expect("number"))
            .collect();
        // Tile 31UFU is in the Netherlands, around 4.5-6.1 E, 52.2-53.2 N.
        assert!(
            bbox[0] > 4.4 && bbox[2] < 6.2 && bbox[1] > 52.2 && bbox[3] < 53.3,
            "{bbox:?}"
        );
        for (key, file, side, pixel) in [
            ("visual", "visual.tif", SIZE, 10.0),
            ("SCL", "SCL.tif", SIZE / 2, 20.0),
            ("B02", "B02.tif", SIZE, 10.0),
        ] {
            let asset = &f["assets"][key];
            assert_eq!(asset["href"], format!("./{id}/{file}"));
            assert!(asset_path(&catalog, f, key).is_file());
            assert_eq!(
                asset["type"],
                "image/tiff; application=geotiff; profile=cloud-optimized"
            );
            assert_eq!(asset["proj:shape"], serde_json::json!([side, side]));
            assert_eq!(
                asset["proj:transform"],
                serde_json::json!([pixel, 0.0, 600000.0, 0.0, -pixel, 5900040.0, 0.0, 0.0, 1.0])
            );
        }
    }
}

#[test]
fn progress_is_monotonic_and_ends_complete() {
    let dir = tempfile::tempdir().expect("temp dir");
    let seen = Mutex::new(Vec::<DemoProgress>::new());
    let record = |p: DemoProgress| seen.lock().expect("lock").push(p);
    demo::generate(DemoSpec::new(256, 2).expect("spec"), dir.path(), &record).expect("generate");
    let seen = seen.into_inner().expect("lock");
    assert!(seen.len() > 5);
    let total = seen[0].total;
    assert!(total > 0);
    assert!(
        seen.windows(2)
            .all(|w| w[0].done <= w[1].done && w[1].total == total)
    );
    let last = seen.last().expect("last");
    assert_eq!(last.done, total);
    let steps: BTreeSet<&str> = seen.iter().map(|p| p.step.as_str()).collect();
    for step in ["item 1/2 SCL", "item 1/2 visual", "item 2/2 B02"] {
        assert!(steps.contains(step), "{steps:?}");
    }
}

#[test]
fn ensure_generates_once_atomically_and_cleans_stale_partials() {
    let root = tempfile::tempdir().expect("temp dir");
    let dir = root.path().join("cache").join("scene");
    let spec = DemoSpec::new(256, 1).expect("spec");
    // A partial folder left by a process that is gone (no PID is this large).
    let stale = root.path().join("cache").join(".scene.partial-2147483632");
    fs::create_dir_all(&stale).expect("mkdir");

    let calls = Mutex::new(0usize);
    let count = |_: DemoProgress| *calls.lock().expect("lock") += 1;
    let catalog = demo::ensure(spec, &dir, &count).expect("ensure");
    assert_eq!(catalog, dir.join("search.json"));
    assert!(catalog.is_file());
    assert!(!stale.exists(), "stale partial folder not removed");
    let leftovers: Vec<_> = fs::read_dir(root.path().join("cache"))
        .expect("read dir")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("scene")]);
    assert!(*calls.lock().expect("lock") > 0);

    // Complete: returned at once, nothing generated.
    *calls.lock().expect("lock") = 0;
    assert_eq!(demo::ensure(spec, &dir, &count).expect("ensure"), catalog);
    assert_eq!(*calls.lock().expect("lock"), 0);

    // Incomplete (an asset is missing): generated again.
    let f = &features(&catalog)[0];
    fs::remove_file(asset_path(&catalog, f, "B02")).expect("remove");
    assert_eq!(demo::ensure(spec, &dir, &count).expect("ensure"), catalog);
    assert!(asset_path(&catalog, f, "B02").is_file());
    assert!(*calls.lock().expect("lock") > 0);

    // Another spec in the same folder: replaced by the one asked for.
    let other = DemoSpec::new(258, 1).expect("spec");
    demo::ensure(other, &dir, &quiet).expect("ensure");
    let shape = &features(&catalog)[0]["assets"]["visual"]["proj:shape"];
    assert_eq!(shape, &serde_json::json!([258, 258]));
}

#[test]
fn ensure_never_replaces_a_foreign_folder() {
    let root = tempfile::tempdir().expect("temp dir");
    let dir = root.path().join("mine");
    fs::create_dir_all(&dir).expect("mkdir");
    fs::write(dir.join("notes.txt"), "keep me").expect("write");
    let err = demo::ensure(DemoSpec::new(256, 1).expect("spec"), &dir, &quiet).unwrap_err();
    assert!(matches!(err, DemoError::NotADemoDir { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(&dir.display().to_string()) && msg.contains("CHUNKSCOPE_DEMO_DIR"),
        "{msg}"
    );
    assert!(dir.join("notes.txt").is_file());
}

#[test]
fn unwritable_output_gives_an_error_with_the_path_and_what_to_do() {
    let root = tempfile::tempdir().expect("temp dir");
    let file = root.path().join("a-file");
    fs::write(&file, "not a folder").expect("write");
    let out = file.join("scene");
    let err = demo::generate(DemoSpec::new(256, 1).expect("spec"), &out, &quiet).unwrap_err();
    assert!(matches!(err, DemoError::Io { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&out.display().to_string()), "{msg}");
    assert!(msg.contains("writable"), "{msg}");
}

#[test]
fn specs_are_checked_and_blocks_scale_with_size() {
    for (size, items) in [
        (255, 1),
        (300 + 1, 1),
        (254, 1),
        (512, 0),
        (512, 10),
        (30000, 1),
    ] {
        let err = DemoSpec::new(size, items).unwrap_err();
        assert!(
            matches!(err, DemoError::InvalidSpec(_)),
            "{size} {items}: {err}"
        );
    }
    let full = DemoSpec::full();
    assert_eq!((full.size, full.items), (DemoSpec::FULL_SIZE, 3));
    assert_eq!(full.block_size(), 1024);
    assert_eq!(full.scl_size(), 5490);
    assert_eq!(DemoSpec::new(2048, 1).expect("spec").block_size(), 256);
    assert_eq!(DemoSpec::new(512, 1).expect("spec").block_size(), 64);
}

/// Full size, as the README's first run: `cargo test --release --test demo -- --ignored
/// --nocapture full_size_generation_time`.
#[test]
#[ignore = "takes about a minute; run with --release"]
fn full_size_generation_time() {
    for items in [1, 3] {
        let dir = tempfile::tempdir().expect("temp dir");
        let started = Instant::now();
        demo::generate(
            DemoSpec::new(DemoSpec::FULL_SIZE, items).expect("spec"),
            dir.path(),
            &quiet,
        )
        .expect("generate");
        eprintln!(
            "demo scene {0}x{0}, {items} item(s): {1:.1} s",
            DemoSpec::FULL_SIZE,
            started.elapsed().as_secs_f64()
        );
    }
}
