//! The demo scene: a deterministic, Sentinel-2-like scene (visual, SCL, B02 as COGs plus a
//! `search.json`) generated locally so that everything runs without network access.
//!
//! [`generate`] writes a scene into a folder; [`default_catalog`] keeps one full-size scene
//! in the user's cache folder and generates it on first use, atomically. The same spec
//! always gives byte-identical files, whatever the number of threads.
//!
//! Generation runs on the caller's thread, with pixels computed on rayon's global pool and
//! blocks compressed on GDAL's threads; progress comes back through a callback on the
//! caller's thread (no terminal code here).

mod cache;
mod cog;
mod items;
mod noise;
mod scene;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use gdal::raster::ColorInterpretation;

pub use cache::{DEMO_DIR_ENV, default_catalog, default_dir, ensure};

use crate::convert;
use cog::{CogLayout, Resampling, write_cog};
use items::{ItemPlan, ItemResult, ORIGIN};
use scene::{Ground, ItemScene, Sky};

/// The Sentinel-2 scene classification (SCL) classes the demo scene uses (all of 0..=11).
pub mod scl {
    pub const NO_DATA: u8 = 0;
    pub const SATURATED: u8 = 1;
    pub const DARK: u8 = 2;
    pub const CLOUD_SHADOW: u8 = 3;
    pub const VEGETATION: u8 = 4;
    pub const NOT_VEGETATED: u8 = 5;
    pub const WATER: u8 = 6;
    pub const UNCLASSIFIED: u8 = 7;
    pub const CLOUD_MEDIUM: u8 = 8;
    pub const CLOUD_HIGH: u8 = 9;
    pub const THIN_CIRRUS: u8 = 10;
    pub const SNOW: u8 = 11;
}

/// Which demo scene to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoSpec {
    /// Side of the 10 m rasters (`visual`, `B02`); SCL is half of it.
    pub size: usize,
    /// Number of items (dates) in the catalog.
    pub items: usize,
}

impl DemoSpec {
    /// Side of a real Sentinel-2 tile at 10 m (109.8 km).
    pub const FULL_SIZE: usize = 10980;
    /// Smallest side: blocks and four overview levels still make sense.
    pub const MIN_SIZE: usize = 256;
    /// Largest side (twice a real tile); beyond it generation needs several GB of memory.
    pub const MAX_SIZE: usize = 2 * Self::FULL_SIZE;
    /// Most items a catalog can hold.
    pub const MAX_ITEMS: usize = 9;
    /// COG block side at full size, as in the real files.
    pub const FULL_BLOCK: usize = 1024;

    /// The scene the app uses by default: a full tile on three dates.
    pub fn full() -> DemoSpec {
        DemoSpec {
            size: Self::FULL_SIZE,
            items: 3,
        }
    }

    /// A checked spec: `size` even and in `MIN_SIZE..=MAX_SIZE`, `items` in `1..=9`.
    pub fn new(size: usize, items: usize) -> Result<DemoSpec, DemoError> {
        if size & 1 != 0 || !(Self::MIN_SIZE..=Self::MAX_SIZE).contains(&size) {
            return Err(DemoError::InvalidSpec(format!(
                "size \"{size}\" must be an even number from {} to {} (a real tile is {})",
                Self::MIN_SIZE,
                Self::MAX_SIZE,
                Self::FULL_SIZE
            )));
        }
        if !(1..=Self::MAX_ITEMS).contains(&items) {
            return Err(DemoError::InvalidSpec(format!(
                "item count \"{items}\" must be from 1 to {}",
                Self::MAX_ITEMS
            )));
        }
        Ok(DemoSpec { size, items })
    }

    /// COG block side: 1024 at full size, scaled with the size to the next power of two,
    /// at least 64 (e.g. 2048 → 256, 512 → 64).
    pub fn block_size(&self) -> usize {
        let scaled = Self::FULL_BLOCK * self.size / Self::FULL_SIZE;
        scaled.max(1).next_power_of_two().max(64)
    }

    /// Side of the 20 m SCL raster (and of `visual`'s first overview).
    pub fn scl_size(&self) -> usize {
        self.size / 2
    }
}

/// Why a demo scene could not be generated; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("invalid demo scene: {0}")]
    InvalidSpec(String),
    #[error(
        "cannot {action} \"{path}\": {source}; check that the folder is writable and has about \
         {space} free, or choose another folder"
    )]
    Io {
        action: &'static str,
        path: PathBuf,
        space: String,
        source: io::Error,
    },
    #[error(
        "GDAL could not {action} \"{path}\": {message}; check that the folder is writable and \
         has space left, or choose another folder"
    )]
    Gdal {
        action: &'static str,
        path: PathBuf,
        message: String,
    },
    #[error(
        "\"{path}\" is not empty and is not a chunkscope demo scene; remove it, or set \
         {env} to another folder",
        env = DEMO_DIR_ENV
    )]
    NotADemoDir { path: PathBuf },
}

impl DemoError {
    fn io(action: &'static str, path: &Path, spec: Option<DemoSpec>, source: io::Error) -> Self {
        DemoError::Io {
            action,
            path: path.to_path_buf(),
            space: spec.map_or_else(|| "2 GB".to_string(), |s| human_bytes(approx_disk_bytes(s))),
            source,
        }
    }
}

/// What the generator reports while it works.
///
/// `done` and `total` are work units (proportional to the expected time of each step), so
/// `done / total` is the share of the work done; `done` never decreases and the last report
/// has `done == total`. Reports come about every 0.1 % of the work and at each new step.
#[derive(Debug, Clone)]
pub struct DemoProgress {
    /// What is being made, e.g. "item 1/3 visual" or "catalog".
    pub step: String,
    pub done: u64,
    pub total: u64,
}

/// Name of the catalog file in a scene folder.
pub const CATALOG_FILE: &str = "search.json";

/// Written first into a scene folder, removed never: marks the folder as generated by
/// chunkscope (and for which spec), so that [`ensure`] may replace it.
const MARKER_FILE: &str = ".chunkscope-demo";

/// Generates the scene `spec` into `out_dir` (created if needed; existing scene files are
/// overwritten) and returns the path of its `search.json`.
///
/// For each item, `out_dir/<item id>/` gets `visual.tif` (RGB, 10 m), `SCL.tif` (20 m) and
/// `B02.tif` (uint16, 10 m), all COGs with DEFLATE, [`DemoSpec::block_size`] blocks, nodata 0
/// and overviews at 2, 4, 8, 16. `search.json` is written last: a folder without it is
/// incomplete. Needs about 8 bytes of memory per 10 m pixel (0.9 GB at full size) and
/// [`approx_disk_bytes`] of disk; takes about a minute at full size with three items on two
/// cores (release build).
pub fn generate(
    spec: DemoSpec,
    out_dir: &Path,
    progress: &(dyn Fn(DemoProgress) + Sync),
) -> Result<PathBuf, DemoError> {
    let spec = DemoSpec::new(spec.size, spec.items)?;
    let io_err = |action, path: &Path| {
        let path = path.to_path_buf();
        move |e| DemoError::io(action, &path, Some(spec), e)
    };
    fs::create_dir_all(out_dir).map_err(io_err("create the folder", out_dir))?;
    let catalog = out_dir.join(CATALOG_FILE);
    // A stale catalog would make a half-rewritten folder look complete.
    match fs::remove_file(&catalog) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            return Err(DemoError::io("replace", &catalog, Some(spec), e));
        }
        _ => {}
    }
    let marker = out_dir.join(MARKER_FILE);
    fs::write(&marker, marker_text(spec)).map_err(io_err("write", &marker))?;

    let mut tracker = Tracker::new(spec, progress);
    let ground = Ground::new(spec.size);
    let mut results = Vec::with_capacity(spec.items);
    for index in 0..spec.items {
        let plan = ItemPlan::new(index);
        let dir = out_dir.join(&plan.id);
        fs::create_dir_all(&dir).map_err(io_err("create the folder", &dir))?;
        let cloud_cover_pct = generate_item(spec, &ground, &plan, &dir, &mut tracker)?;
        results.push(ItemResult {
            plan,
            cloud_cover_pct,
        });
    }

    tracker.begin("catalog".to_string(), 0);
    let json = items::item_collection(spec, &results);
    let text = serde_json::to_string_pretty(&json).unwrap_or_default() + "\n";
    let partial = out_dir.join(format!("{CATALOG_FILE}.partial"));
    fs::write(&partial, text).map_err(io_err("write", &partial))?;
    fs::rename(&partial, &catalog).map_err(io_err("write", &catalog))?;
    tracker.finish();
    Ok(catalog)
}

/// Writes one item's three COGs; returns its measured cloud cover in percent.
fn generate_item(
    spec: DemoSpec,
    ground: &Ground,
    plan: &ItemPlan,
    dir: &Path,
    tracker: &mut Tracker<'_>,
) -> Result<f64, DemoError> {
    let n = spec.size;
    let step = |asset: &str| format!("item {}/{} {asset}", plan.index + 1, spec.items);
    let layout = |side: usize, pixel_m: f64, resampling, colours| CogLayout {
        side,
        pixel_m,
        origin: ORIGIN,
        block: spec.block_size(),
        resampling,
        colours,
    };

    // SCL first: the sky's thresholds are chosen on it, and it gives the cloud cover.
    tracker.begin(step("SCL"), Weights::of(spec).scl);
    let sky = Sky::new(n, plan.seed, plan.cloud_share, plan.cirrus_share);
    let item = ItemScene {
        ground,
        sky,
        harvested: plan.harvested,
        noise_seed: plan.seed ^ 0x0015_E000,
        size: n,
    };
    let mut scl_px = vec![0u8; spec.scl_size() * spec.scl_size()];
    item.render_scl(&mut scl_px);
    let cloudy = scl_px
        .iter()
        .filter(|&&c| matches!(c, scl::CLOUD_MEDIUM | scl::CLOUD_HIGH | scl::THIN_CIRRUS))
        .count();
    let cloud_cover_pct = 100.0 * cloudy as f64 / scl_px.len() as f64;
    tracker.at(0.65);
    write_cog(
        &dir.join("SCL.tif"),
        &scl_px,
        &layout(
            spec.scl_size(),
            20.0,
            Resampling::Nearest,
            &[ColorInterpretation::GrayIndex],
        ),
        &mut |f| tracker.at(0.65 + 0.35 * f),
    )?;
    drop(scl_px);
    tracker.end();

    // The image and the blue band come from one pass over the 10 m pixels.
    tracker.begin(step("visual"), Weights::of(spec).visual);
    let mut visual = vec![0u8; 3 * n * n];
    let mut blue = vec![0u16; n * n];
    item.render_10m(&mut visual, &mut blue, &mut |f| tracker.at(0.35 * f));
    let rgb = [
        ColorInterpretation::RedBand,
        ColorInterpretation::GreenBand,
        ColorInterpretation::BlueBand,
    ];
    write_cog(
        &dir.join("visual.tif"),
        &visual,
        &layout(n, 10.0, Resampling::Average, &rgb),
        &mut |f| tracker.at(0.35 + 0.65 * f),
    )?;
    drop(visual);
    tracker.end();

    tracker.begin(step("B02"), Weights::of(spec).blue);
    write_cog(
        &dir.join("B02.tif"),
        &blue,
        &layout(
            n,
            10.0,
            Resampling::Average,
            &[ColorInterpretation::GrayIndex],
        ),
        &mut |f| tracker.at(f),
    )?;
    tracker.end();
    Ok(cloud_cover_pct)
}

/// Disk space a scene needs, roughly: DEFLATE shrinks the rasters and their overviews to
/// about 0.55 of their 5.25 bytes per 10 m pixel (0.5 GB per item at full size).
pub fn approx_disk_bytes(spec: DemoSpec) -> u64 {
    let px = (spec.size * spec.size) as u64;
    px * 29 / 10 * spec.items as u64
}

fn human_bytes(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{:.1} GB", bytes as f64 / f64::from(1u32 << 30))
    } else {
        format!("{} MB", (bytes >> 20).max(1))
    }
}

/// What the marker file holds: the generator's version and the spec.
fn marker_text(spec: DemoSpec) -> String {
    format!(
        "chunkscope demo scene v{}\nsize {}\nitems {}\n",
        cache::GENERATOR_VERSION,
        spec.size,
        spec.items
    )
}

/// The work of each step of one item, in progress units: tenths of a 10 m pixel, weighted
/// by the measured time of the step (the SCL step includes the weather, the visual step
/// the rendering of both 10 m rasters).
struct Weights {
    visual: u64,
    blue: u64,
    scl: u64,
}

impl Weights {
    fn of(spec: DemoSpec) -> Weights {
        let px = (spec.size * spec.size) as u64;
        Weights {
            visual: 33 * px,
            blue: 12 * px,
            scl: 6 * px,
        }
    }
}

/// Turns per-step fractions into monotonic overall progress and throttles the callback to
/// about one call per 0.1 % of the work (and one per step change).
struct Tracker<'a> {
    callback: &'a (dyn Fn(DemoProgress) + Sync),
    total: u64,
    base: u64,
    weight: u64,
    step: String,
    sent: u64,
}

impl<'a> Tracker<'a> {
    fn new(spec: DemoSpec, callback: &'a (dyn Fn(DemoProgress) + Sync)) -> Self {
        let w = Weights::of(spec);
        Tracker {
            callback,
            total: (w.visual + w.blue + w.scl) * spec.items as u64,
            base: 0,
            weight: 0,
            step: String::new(),
            sent: 0,
        }
    }

    fn begin(&mut self, step: String, weight: u64) {
        self.step = step;
        self.weight = weight;
        self.send(self.base);
    }

    /// `fraction` (0..=1) of the current step is done.
    fn at(&mut self, fraction: f64) {
        let done = self.base + convert::round_u64(self.weight as f64 * fraction.clamp(0.0, 1.0));
        if done >= self.sent + (self.total / 1000).max(1) {
            self.send(done);
        }
    }

    fn end(&mut self) {
        self.base += self.weight;
        self.weight = 0;
    }

    fn finish(&mut self) {
        self.base = self.total;
        self.send(self.total);
    }

    fn send(&mut self, done: u64) {
        let done = done.max(self.sent).min(self.total);
        self.sent = done;
        (self.callback)(DemoProgress {
            step: self.step.clone(),
            done,
            total: self.total,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_checks_and_block_sizes() {
        assert!(DemoSpec::new(511, 1).is_err());
        assert!(DemoSpec::new(254, 1).is_err());
        assert!(DemoSpec::new(512, 0).is_err());
        assert!(DemoSpec::new(512, 10).is_err());
        let block = |size| DemoSpec::new(size, 1).unwrap().block_size();
        assert_eq!(block(DemoSpec::FULL_SIZE), 1024);
        assert_eq!(block(2048), 256);
        assert_eq!(block(512), 64);
        assert_eq!(block(256), 64);
        assert_eq!(block(5490), 512);
        assert_eq!(DemoSpec::full().scl_size(), 5490);
        let msg = DemoSpec::new(301, 2).unwrap_err().to_string();
        assert!(msg.contains("\"301\""), "{msg}");
    }
}
