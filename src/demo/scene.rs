//! What the demo scene looks like: a Sentinel-2-like landscape (field parcels, forest,
//! towns, lakes and rivers) under per-date weather (cloud blobs, their shadows, cirrus), as
//! pure functions of the pixel position.
//!
//! Every 10 m pixel is computed from the same continuous fields: the true-colour image, the
//! blue band and the 20 m scene classification (SCL) agree by construction (an SCL pixel is
//! classified from the 10 m position at its centre). Rendering runs on rayon's pool, one
//! row per task, with no allocation per pixel.

use rayon::prelude::*;

use crate::convert;

use super::noise::{Grid, Ramp, Texture, fbm, floor_i32, hash, quantile, select, unit};
use super::scl;

/// Coarse fields have a node every 16 pixels (160 m); finer detail comes from textures.
const SHIFT: u32 = 4;
/// Shortest wavelength of the coarse fields' fBm: two node spacings.
const MIN_WAVELENGTH: f64 = 32.0;

/// Seed of the ground, shared by all items (dates) of a scene.
const GROUND_SEED: u32 = 0x31_F0_F0;

/// Share of the scene that is lakes (rivers come on top).
const WATER_SHARE: f64 = 0.05;
/// Share of the scene that is river.
const RIVER_SHARE: f64 = 0.008;
/// Share of the scene that is forest.
const FOREST_SHARE: f64 = 0.12;
/// Share of the scene that is town.
const URBAN_SHARE: f64 = 0.035;
/// Share of the scene just outside the clouds classified as unclassified (7), as the real
/// SCL often does at cloud edges.
const CLOUD_EDGE_SHARE: f64 = 0.006;

/// The pixel ranges every coarse field covers: the scene plus a margin for the shifted
/// look-ups of cloud shadows.
fn grid_extent(size: usize) -> (i32, usize) {
    (-16, size + size / 32 + 64)
}

/// The level below which `share` of a grid's nodes lie.
fn level(grid: &Grid, share: f64) -> f32 {
    let mut values = grid.values().to_vec();
    quantile(&mut values, share)
}

/// Reflectance (0..1) in red, green, blue.
type Rgb = [f32; 3];

fn scale(rgb: Rgb, k: f32) -> Rgb {
    [rgb[0] * k, rgb[1] * k, rgb[2] * k]
}

fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

/// What the ground is at one pixel: its SCL class and its reflectance.
#[derive(Clone, Copy)]
pub struct Surface {
    pub class: u8,
    pub rgb: Rgb,
}

/// How field parcels are laid out in one district: rows of parcels along a direction.
struct Layout {
    sin: f32,
    cos: f32,
    /// Row height (across the rows), in pixels.
    row: f32,
    inv_row: f32,
    seed: u32,
}

/// Parcel lengths along a row: `PARCEL_MIN + k` pixels for `k < PARCEL_SPREAD`.
const PARCEL_MIN: u32 = 24;
const PARCEL_SPREAD: u32 = 48;

/// The landscape, shared by every date of the scene.
pub struct Ground {
    tex: Texture,
    land: Grid,
    water_level: f32,
    river: Grid,
    river_mid: f32,
    river_half_width: f32,
    forest: Grid,
    forest_level: f32,
    urban: Grid,
    urban_level: f32,
    light: Grid,
    district: Grid,
    district_levels: [f32; 2],
    layouts: [Layout; 3],
    /// 1 / parcel length, by length - `PARCEL_MIN`.
    inv_length: [f32; PARCEL_SPREAD as usize],
}

/// The ground's coarse fields interpolated along one pixel row (see [`Grid::row`]).
#[derive(Default)]
pub struct GroundRow {
    y: i32,
    land: Vec<f32>,
    river: Vec<f32>,
    forest: Vec<f32>,
    urban: Vec<f32>,
    light: Vec<f32>,
    district: Vec<f32>,
    /// The parcel row and parcel of the previous pixel: neighbours mostly share them.
    cache: ParcelCache,
}

/// What a parcel looks like: its class and its colour on furrows and between them.
#[derive(Clone, Copy, Default)]
struct Parcel {
    class: u8,
    furrow: Rgb,
    ridge: Rgb,
}

#[derive(Clone, Copy)]
struct ParcelCache {
    layout: usize,
    row: i32,
    row_hash: u32,
    length: f32,
    inv_length: f32,
    offset: f32,
    col: i32,
    parcel: Parcel,
}

impl Default for ParcelCache {
    fn default() -> Self {
        ParcelCache {
            layout: usize::MAX,
            row: 0,
            row_hash: 0,
            length: 1.0,
            inv_length: 1.0,
            offset: 0.0,
            col: i32::MIN,
            parcel: Parcel::default(),
        }
    }
}

impl Ground {
    /// The landscape for a scene of `size` x `size` 10 m pixels. Large structure (lakes,
    /// forests, towns) scales with the scene; parcels and textures keep their size in pixels.
    pub fn new(size: usize) -> Ground {
        let n = size as f64;
        let (origin, extent) = grid_extent(size);
        let field = |seed: u32, wavelength: f64, min_wavelength: f64| {
            Grid::build(origin, extent, SHIFT, move |x, y| {
                fbm(seed, x, y, wavelength, min_wavelength, 0.5)
            })
        };
        let land = field(GROUND_SEED + 1, n / 2.5, MIN_WAVELENGTH);
        let river = field(GROUND_SEED + 2, n / 1.2, (n / 10.0).max(MIN_WAVELENGTH));
        let forest = field(GROUND_SEED + 3, n / 6.0, MIN_WAVELENGTH);
        let urban = field(GROUND_SEED + 4, n / 12.0, MIN_WAVELENGTH);
        let light = field(GROUND_SEED + 5, n / 4.0, MIN_WAVELENGTH);
        let district = field(GROUND_SEED + 6, n / 3.0, (n / 24.0).max(MIN_WAVELENGTH));

        let river_mid = level(&river, 0.5);
        let mut distance: Vec<f32> = river
            .values()
            .iter()
            .map(|v| (v - river_mid).abs())
            .collect();
        let river_half_width = quantile(&mut distance, RIVER_SHARE);

        let layout = |angle: f32, row: f32, seed: u32| Layout {
            sin: angle.sin(),
            cos: angle.cos(),
            row,
            inv_row: 1.0 / row,
            seed: GROUND_SEED ^ seed,
        };
        Ground {
            tex: Texture::new(GROUND_SEED + 7),
            water_level: level(&land, WATER_SHARE),
            land,
            river_mid,
            river_half_width,
            river,
            forest_level: level(&forest, 1.0 - FOREST_SHARE),
            forest,
            urban_level: level(&urban, 1.0 - URBAN_SHARE),
            urban,
            light,
            district_levels: [level(&district, 0.4), level(&district, 0.75)],
            district,
            layouts: [
                layout(0.21, 34.0, 0xA1),
                layout(-0.55, 26.0, 0xB2),
                layout(0.05, 44.0, 0xC3),
            ],
            inv_length: std::array::from_fn(|k| 1.0 / (PARCEL_MIN + convert::clamp_u32(k)) as f32),
        }
    }

    /// Prepares `row` for pixel row `y`.
    pub fn prepare(&self, y: i32, row: &mut GroundRow) {
        row.y = y;
        row.cache = ParcelCache::default();
        self.land.row(y, &mut row.land);
        self.river.row(y, &mut row.river);
        self.forest.row(y, &mut row.forest);
        self.urban.row(y, &mut row.urban);
        self.light.row(y, &mut row.light);
        self.district.row(y, &mut row.district);
    }

    /// The ground at pixel `x` of the prepared `row`. `harvested` (0..1) is the share of
    /// cereal parcels already harvested on the item's date.
    #[inline(always)]
    pub fn at(&self, row: &mut GroundRow, x: i32, harvested: f32) -> Surface {
        let y = row.y;
        let loc = self.land.locate(x);
        let detail = self.tex.at(x + 101, y + 57);
        let light = 0.85 + 0.3 * Grid::at_row(&row.light, loc);

        let land = Grid::at_row(&row.land, loc) + 0.004 * detail;
        let river = (Grid::at_row(&row.river, loc) - self.river_mid).abs();
        if land < self.water_level || river < self.river_half_width {
            let v = light * (1.0 + 0.05 * detail);
            return Surface {
                class: scl::WATER,
                rgb: scale([0.012, 0.025, 0.040], v),
            };
        }

        let grain = || unit(hash(GROUND_SEED, x, y)) - 0.5;
        if Grid::at_row(&row.forest, loc) + 0.004 * detail > self.forest_level {
            let canopy = self.tex.at(x + 311, y + 199);
            if canopy < -2.4 {
                // Gaps and deep shade between crowns: the SCL's "dark area pixels".
                return Surface {
                    class: scl::DARK,
                    rgb: [0.006, 0.008, 0.006],
                };
            }
            let v = light * (1.0 + 0.2 * canopy + 0.3 * grain());
            return Surface {
                class: scl::VEGETATION,
                rgb: scale([0.020, 0.036, 0.018], v),
            };
        }

        if Grid::at_row(&row.urban, loc) > self.urban_level {
            return urban(x, y, light, grain());
        }
        let district = Grid::at_row(&row.district, loc);
        let k = usize::from(district > self.district_levels[0])
            + usize::from(district > self.district_levels[1]);
        self.parcel(
            k,
            &mut row.cache,
            x,
            y,
            light * (1.0 + 0.06 * detail),
            harvested,
        )
    }

    /// Agricultural parcels: rows of fields of varying length, rotated per district, with
    /// hedges and tracks along their borders. `v` scales the parcel's brightness.
    #[inline(always)]
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_possible_wrap,
        clippy::cast_sign_loss,
        reason = "pixel coordinates: the scene side is at most DemoSpec::MAX_SIZE (21 960), far inside i32; floats are clamped to the sample's range before they become samples"
    )]
    fn parcel(
        &self,
        k: usize,
        cache: &mut ParcelCache,
        x: i32,
        y: i32,
        v: f32,
        harvested: f32,
    ) -> Surface {
        let lay = &self.layouts[k];
        let (xf, yf) = (x as f32, y as f32);
        let across = yf * lay.cos - xf * lay.sin;
        let row = floor_i32(across * lay.inv_row);
        let in_row = across - row as f32 * lay.row;
        if cache.layout != k || cache.row != row {
            let row_hash = hash(lay.seed, row, 0);
            let spread = (row_hash % PARCEL_SPREAD) as usize;
            let length = (PARCEL_MIN + convert::clamp_u32(spread)) as f32;
            *cache = ParcelCache {
                layout: k,
                row,
                row_hash,
                length,
                inv_length: self.inv_length[spread],
                offset: unit(row_hash) * length,
                col: i32::MIN,
                parcel: Parcel::default(),
            };
        }
        let along = xf * lay.cos + yf * lay.sin + cache.offset;
        let col = floor_i32(along * cache.inv_length);
        let in_col = along - col as f32 * cache.length;

        if in_col < 1.0 || in_row < 1.0 {
            let light = v;
            return if cache.row_hash & 0x300 == 0 {
                Surface {
                    class: scl::VEGETATION,
                    rgb: scale([0.018, 0.032, 0.016], light),
                }
            } else {
                Surface {
                    class: scl::NOT_VEGETATED,
                    rgb: scale([0.11, 0.10, 0.085], light),
                }
            };
        }
        if cache.col != col {
            cache.col = col;
            cache.parcel = crop(hash(lay.seed, row, col), harvested);
        }
        // Seed rows and plough furrows, 2 pixels wide, along the parcel.
        let furrow = (in_row as i32 >> 1) & 1 == 0;
        let p = &cache.parcel;
        Surface {
            class: p.class,
            rgb: scale(if furrow { p.furrow } else { p.ridge }, v),
        }
    }
}

/// What grows on the parcel with hash `h` by a date when `harvested` of the cereals are
/// harvested.
fn crop(h: u32, harvested: f32) -> Parcel {
    let u = unit(hash(h, 1, 2));
    let green = [0.028 + 0.014 * u, 0.052 + 0.026 * u, 0.025 + 0.01 * u];
    let soil = [0.095 + 0.05 * u, 0.080 + 0.04 * u, 0.060 + 0.03 * u];
    let stubble = [0.135 + 0.02 * u, 0.120 + 0.015 * u, 0.080 + 0.01 * u];
    let plain = |class, rgb| Parcel {
        class,
        furrow: rgb,
        ridge: rgb,
    };
    let striped = |class, furrow, ridge| Parcel {
        class,
        furrow,
        ridge,
    };
    match h % 1000 {
        // Cereals: green, or stubble once harvested.
        0..=379 => {
            if unit(hash(h, 3, 4)) < harvested {
                striped(
                    scl::NOT_VEGETATED,
                    scale(stubble, 0.93),
                    scale(stubble, 1.07),
                )
            } else {
                plain(scl::VEGETATION, green)
            }
        }
        380..=519 => plain(scl::VEGETATION, [0.032, 0.068 + 0.02 * u, 0.028]),
        520..=759 => striped(scl::NOT_VEGETATED, scale(soil, 0.93), scale(soil, 1.07)),
        760..=899 => plain(scl::NOT_VEGETATED, scale(stubble, 0.9 + 0.2 * u)),
        // Young crops: green rows on bare soil.
        900..=989 => striped(
            scl::VEGETATION,
            mix(soil, green, 0.25),
            mix(soil, green, 0.85),
        ),
        // Greenhouses, which the real SCL often mistakes for snow.
        990..=994 => plain(scl::SNOW, [0.30, 0.31, 0.33]),
        // Burnt or very dark fields.
        _ => plain(scl::DARK, [0.010, 0.011, 0.010]),
    }
}

/// Towns: blocks of roofs and gardens between streets, 60 to 90 m.
#[inline(always)]
fn urban(x: i32, y: i32, light: f32, grain: f32) -> Surface {
    const BLOCK: i32 = 7;
    let (fx, fy) = (x.rem_euclid(BLOCK), y.rem_euclid(BLOCK));
    if fx == 0 || fy == 0 {
        return Surface {
            class: scl::NOT_VEGETATED,
            rgb: scale([0.065, 0.066, 0.070], light * (1.0 + 0.2 * grain)),
        };
    }
    // Roofs change within a block every few pixels: houses, not tiles.
    let h = hash(
        GROUND_SEED ^ 0x77,
        x.div_euclid(BLOCK) * 3 + fx / 3,
        y.div_euclid(BLOCK) * 3 + fy / 3,
    );
    let v = light * (1.0 + 0.3 * grain);
    let (class, rgb) = match h % 10 {
        0..=2 => (scl::NOT_VEGETATED, [0.12, 0.075, 0.06]),
        3 | 4 => (scl::NOT_VEGETATED, [0.10, 0.10, 0.105]),
        5 => (scl::NOT_VEGETATED, [0.16, 0.16, 0.165]),
        6..=8 => (scl::VEGETATION, [0.03, 0.05, 0.028]),
        _ => (scl::NOT_VEGETATED, [0.05, 0.05, 0.055]),
    };
    Surface {
        class,
        rgb: scale(rgb, v),
    }
}

/// The weather of one date: clouds, their shadows and thin cirrus.
pub struct Sky {
    tex: Texture,
    cloud: Grid,
    cirrus: Grid,
    /// Where to look for the cloud that shades a pixel (towards the sun), in pixels.
    shadow_shift: (i32, i32),
    levels: SkyLevels,
    looks: SkyLooks,
}

/// Thresholds on the cloud and cirrus fields, chosen as quantiles over the SCL pixels.
#[derive(Debug, Clone, Copy)]
struct SkyLevels {
    /// Cloud edge classified "unclassified" (7).
    edge: f32,
    /// Medium-probability cloud (8) and above; also what casts a shadow.
    medium: f32,
    /// High-probability cloud (9) and above.
    high: f32,
    /// Thin cirrus (10).
    cirrus: f32,
}

/// How the fields turn into colour: shadow darkness, cirrus haze, cloud opacity and
/// brightness, as ramps between the levels.
#[derive(Debug, Clone, Copy)]
struct SkyLooks {
    shadow: Ramp,
    haze: Ramp,
    opacity: Ramp,
    whiteness: Ramp,
}

/// The sky's fields interpolated along one pixel row, and along the row that shades it.
#[derive(Default)]
pub struct SkyRow {
    y: i32,
    cloud: Vec<f32>,
    shade: Vec<f32>,
    cirrus: Vec<f32>,
}

impl Sky {
    /// The weather for a scene of `size` pixels with seed `seed`: cloud (8, 9) covers exactly
    /// `cloud_share` of the SCL pixels (up to ties), cirrus about `cirrus_share`.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_possible_wrap,
        clippy::cast_sign_loss,
        reason = "pixel coordinates: the scene side is at most DemoSpec::MAX_SIZE (21 960), far inside i32; floats are clamped to the sample's range before they become samples"
    )]
    pub fn new(size: usize, seed: u32, cloud_share: f64, cirrus_share: f64) -> Sky {
        let n = size as f64;
        let (origin, extent) = grid_extent(size);
        // Cloudy regions (scene-sized) filled with cumulus cells of a few kilometres.
        let cloud = Grid::build(origin, extent, SHIFT, move |x, y| {
            let regions = fbm(
                seed ^ 0xC10D,
                x,
                y,
                n / 3.0,
                (n / 12.0).max(MIN_WAVELENGTH),
                0.5,
            );
            let cells = fbm(seed ^ 0xCE11, x, y, n / 25.0, MIN_WAVELENGTH, 0.55);
            0.55 * regions + 0.45 * cells
        });
        // Cirrus: streaks, stretched four times along a direction that changes per date.
        let angle = f64::from(unit(hash(seed, 5, 5))) * std::f64::consts::PI;
        let (s, c) = angle.sin_cos();
        let cirrus = Grid::build(origin, extent, SHIFT, move |x, y| {
            let along = (x * c + y * s) / 4.0;
            let across = y * c - x * s;
            fbm(
                seed ^ 0xC1C1,
                along,
                across,
                n / 10.0,
                MIN_WAVELENGTH / 2.0,
                0.55,
            )
        });
        // Sun in the south-south-east: shadows fall to the north-north-west of their cloud.
        let d = n * 0.015;
        let shadow_shift = ((0.5 * d).round() as i32, (0.87 * d).round() as i32);
        let never = Ramp::new(f32::INFINITY, f32::INFINITY);
        let mut sky = Sky {
            tex: Texture::new(seed ^ 0x7E7),
            cloud,
            cirrus,
            shadow_shift,
            levels: SkyLevels {
                edge: f32::INFINITY,
                medium: f32::INFINITY,
                high: f32::INFINITY,
                cirrus: f32::INFINITY,
            },
            looks: SkyLooks {
                shadow: never,
                haze: never,
                opacity: never,
                whiteness: never,
            },
        };

        // Thresholds come from the very values the SCL is classified from.
        let mut clouds = sky.sample_scl(size, 1, |sky, row, x| sky.at(row, x).0);
        let shares = [
            1.0 - cloud_share - CLOUD_EDGE_SHARE,
            1.0 - cloud_share,
            1.0 - 0.5 * cloud_share,
            1.0 - 0.05 * cloud_share,
        ];
        let [edge, medium, high, top] = quantiles(&mut clouds, shares);
        drop(clouds);
        let mut cirrus = sky.sample_scl(size, 2, |sky, row, x| sky.at(row, x).2);
        let [haze_lo, cirrus_level, haze_hi] = quantiles(
            &mut cirrus,
            [
                1.0 - 2.0 * cirrus_share,
                1.0 - cirrus_share,
                1.0 - 0.5 * cirrus_share,
            ],
        );
        let spread = (high - medium).max(1e-6);
        sky.levels = SkyLevels {
            edge,
            medium,
            high,
            cirrus: cirrus_level,
        };
        sky.looks = SkyLooks {
            shadow: Ramp::new(medium - 0.3 * spread, medium + 0.3 * spread),
            haze: Ramp::new(haze_lo, haze_hi),
            opacity: Ramp::new(edge - spread, high),
            whiteness: Ramp::new(medium, top),
        };
        sky
    }

    /// `f` at the centre of every `stride`-th SCL pixel in both directions.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_possible_wrap,
        clippy::cast_sign_loss,
        reason = "pixel coordinates: the scene side is at most DemoSpec::MAX_SIZE (21 960), far inside i32; floats are clamped to the sample's range before they become samples"
    )]
    fn sample_scl(
        &self,
        size: usize,
        stride: usize,
        f: impl Fn(&Sky, &SkyRow, i32) -> f32 + Sync,
    ) -> Vec<f32> {
        let side = size / 2;
        let cols = side.div_ceil(stride);
        let mut out = vec![0.0f32; cols * side.div_ceil(stride)];
        out.par_chunks_mut(cols)
            .enumerate()
            .for_each_init(SkyRow::default, |row, (j, values)| {
                self.prepare((2 * j * stride + 1) as i32, row);
                for (i, v) in values.iter_mut().enumerate() {
                    *v = f(self, row, (2 * i * stride + 1) as i32);
                }
            });
        out
    }

    /// Prepares `row` for pixel row `y`.
    pub fn prepare(&self, y: i32, row: &mut SkyRow) {
        row.y = y;
        self.cloud.row(y, &mut row.cloud);
        self.cloud.row(y + self.shadow_shift.1, &mut row.shade);
        self.cirrus.row(y, &mut row.cirrus);
    }

    /// The weather's three fields at pixel `x` of a prepared row: cloud, the cloud that
    /// shades the pixel, cirrus.
    #[inline(always)]
    fn at(&self, row: &SkyRow, x: i32) -> (f32, f32, f32) {
        let y = row.y;
        let (dx, dy) = self.shadow_shift;
        let loc = self.cloud.locate(x);
        let cloud = Grid::at_row(&row.cloud, loc) + 0.012 * self.tex.at(x, y);
        let shade = Grid::at_row(&row.shade, self.cloud.locate(x + dx))
            + 0.012 * self.tex.at(x + dx, y + dy);
        let cirrus = Grid::at_row(&row.cirrus, loc) + 0.01 * self.tex.at(x + 257, y + 129);
        (cloud, shade, cirrus)
    }

    /// Whether the cloud is opaque here: then the ground is neither seen nor classified.
    #[inline(always)]
    fn opaque(&self, cloud: f32) -> bool {
        cloud >= self.levels.high
    }

    /// The SCL class seen through the weather. Cloud wins over everything, so the cloud
    /// share is exactly what the thresholds chose.
    #[inline(always)]
    fn classify(&self, ground: u8, (cloud, shade, cirrus): (f32, f32, f32)) -> u8 {
        let l = &self.levels;
        if cloud >= l.high {
            scl::CLOUD_HIGH
        } else if cloud >= l.medium {
            scl::CLOUD_MEDIUM
        } else if cirrus >= l.cirrus {
            scl::THIN_CIRRUS
        } else if shade >= l.medium {
            scl::CLOUD_SHADOW
        } else if cloud >= l.edge {
            scl::UNCLASSIFIED
        } else {
            ground
        }
    }

    /// The cloud's own colour (for opaque cloud, the whole pixel).
    #[inline(always)]
    fn cloud_colour(&self, cloud: f32) -> Rgb {
        let white = 0.2 + 0.55 * self.looks.whiteness.at(cloud);
        [white, white, white * 1.03]
    }

    /// The reflectance seen through the weather: darker in shadows, hazy under cirrus,
    /// grey to white under clouds.
    #[inline(always)]
    fn shade(&self, ground: Rgb, (cloud, shade, cirrus): (f32, f32, f32)) -> Rgb {
        const SKYLIGHT: Rgb = [0.004, 0.006, 0.010];
        const HAZE: Rgb = [0.17, 0.18, 0.20];
        let shadow = self.looks.shadow.at(shade);
        let dim = 1.0 - 0.7 * shadow;
        let haze = 0.4 * self.looks.haze.at(cirrus);
        let alpha = self.looks.opacity.at(cloud);
        let tint = self.cloud_colour(cloud);
        let mut out = [0.0; 3];
        for c in 0..3 {
            let g = ground[c] * dim + shadow * SKYLIGHT[c];
            let g = g + (HAZE[c] - g) * haze;
            out[c] = g + (tint[c] - g) * alpha;
        }
        out
    }
}

/// The successive quantiles at ascending `shares` of `values` (reordered), each selected in
/// the part above the previous one.
fn quantiles<const N: usize>(values: &mut [f32], shares: [f64; N]) -> [f32; N] {
    let len = values.len() as f64;
    let mut out = [0.0f32; N];
    let mut start = 0usize;
    for (k, share) in shares.iter().enumerate() {
        let rank =
            crate::convert::round_usize(share * len).clamp(start, values.len().saturating_sub(1));
        out[k] = select(&mut values[start..], rank - start);
        start = rank;
    }
    out
}

/// One date of the scene: the shared ground under this date's sky.
pub struct ItemScene<'a> {
    pub ground: &'a Ground,
    pub sky: Sky,
    /// Share of cereal parcels harvested by this date.
    pub harvested: f32,
    /// Seed of the per-pixel sensor noise.
    pub noise_seed: u32,
    pub size: usize,
}

/// Row buffers of one rayon worker.
#[derive(Default)]
struct Rows {
    ground: GroundRow,
    sky: SkyRow,
}

impl ItemScene<'_> {
    fn prepare(&self, y: i32, rows: &mut Rows) {
        self.ground.prepare(y, &mut rows.ground);
        self.sky.prepare(y, &mut rows.sky);
    }

    /// The 20 m scene classification, `size/2` x `size/2`: each pixel is classified at the
    /// 10 m pixel (2i+1, 2j+1), the one at its centre's lower right.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_possible_wrap,
        clippy::cast_sign_loss,
        reason = "pixel coordinates: the scene side is at most DemoSpec::MAX_SIZE (21 960), far inside i32; floats are clamped to the sample's range before they become samples"
    )]
    pub fn render_scl(&self, out: &mut [u8]) {
        let side = self.size / 2;
        out.par_chunks_mut(side)
            .enumerate()
            .for_each_init(Rows::default, |rows, (j, values)| {
                self.prepare((2 * j + 1) as i32, rows);
                for (i, v) in values.iter_mut().enumerate() {
                    let x = (2 * i + 1) as i32;
                    let weather = self.sky.at(&rows.sky, x);
                    let ground = if self.sky.opaque(weather.0) {
                        scl::CLOUD_HIGH
                    } else {
                        self.ground.at(&mut rows.ground, x, self.harvested).class
                    };
                    *v = self.sky.classify(ground, weather);
                }
            });
    }

    /// The 10 m true-colour image (RGB, pixel-interleaved, 1..=255 like the Sentinel-2 TCI:
    /// reflectance 0..0.2 over 0..255) and the blue band (B02, reflectance x 10000, >= 1).
    /// `progress` gets the fraction done after each of 16 bands of rows.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_possible_wrap,
        clippy::cast_sign_loss,
        reason = "pixel coordinates: the scene side is at most DemoSpec::MAX_SIZE (21 960), far inside i32; floats are clamped to the sample's range before they become samples"
    )]
    pub fn render_10m(&self, visual: &mut [u8], blue: &mut [u16], progress: &mut dyn FnMut(f64)) {
        let n = self.size;
        let band_rows = n.div_ceil(16);
        let mut done = 0;
        for (vband, bband) in visual
            .chunks_mut(band_rows * 3 * n)
            .zip(blue.chunks_mut(band_rows * n))
        {
            let first = done;
            vband
                .par_chunks_mut(3 * n)
                .zip(bband.par_chunks_mut(n))
                .enumerate()
                .for_each_init(Rows::default, |rows, (dy, (vrow, brow))| {
                    self.render_row((first + dy) as i32, rows, vrow, brow);
                });
            done += bband.len() / n;
            progress(done as f64 / n as f64);
        }
    }

    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_possible_wrap,
        clippy::cast_sign_loss,
        reason = "pixel coordinates: the scene side is at most DemoSpec::MAX_SIZE (21 960), far inside i32; floats are clamped to the sample's range before they become samples"
    )]
    fn render_row(&self, y: i32, rows: &mut Rows, vrow: &mut [u8], brow: &mut [u16]) {
        self.prepare(y, rows);
        for (x, (px, b)) in vrow.chunks_exact_mut(3).zip(brow.iter_mut()).enumerate() {
            let x = x as i32;
            let weather = self.sky.at(&rows.sky, x);
            let rgb = if self.sky.opaque(weather.0) {
                self.sky.cloud_colour(weather.0)
            } else {
                let ground = self.ground.at(&mut rows.ground, x, self.harvested);
                self.sky.shade(ground.rgb, weather)
            };
            // Sensor noise: about +-1 grey level in the image, +-12 in B02.
            let h = hash(self.noise_seed, x, y);
            let noise = |k: usize| ((h >> (8 * k)) & 0xFF) as f32 * (1.0 / 255.0) - 0.5;
            for c in 0..3 {
                px[c] = (rgb[c] * 1275.0 + 2.0 * noise(c) + 0.5).clamp(1.0, 255.0) as u8;
            }
            *b = (rgb[2] * 10000.0 + 25.0 * noise(3) + 0.5).clamp(1.0, 65535.0) as u16;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successive_quantiles_are_ascending_and_exact() {
        let mut v: Vec<f32> = (0..1000).rev().map(|i| i as f32).collect();
        let [a, b, c] = quantiles(&mut v, [0.5, 0.8, 0.95]);
        assert_eq!((a, b, c), (500.0, 800.0, 950.0));
    }

    #[test]
    fn row_sampling_matches_direct_sampling() {
        let g = Grid::build(-16, 600, SHIFT, |x, y| fbm(1, x, y, 200.0, 32.0, 0.5));
        let mut row = Vec::new();
        for y in [0, 7, 333] {
            g.row(y, &mut row);
            for x in [0, 5, 17, 511] {
                assert!((g.at(x, y) - Grid::at_row(&row, g.locate(x))).abs() < 1e-5);
            }
        }
    }
}
