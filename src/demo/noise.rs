//! Deterministic noise for the demo scene: an integer hash, lattice value noise and its
//! fractal sums, coarse grids of a field sampled bilinearly, and a small tileable texture for
//! detail at pixel scale.
//!
//! Everything is a pure function of its inputs (no global random state), so a scene is the
//! same on every machine and for every thread count. Grids are built on rayon's pool; the
//! samplers are called from rayon workers while rows of the scene are rendered.

use rayon::prelude::*;

use crate::convert::to_f32;

/// Mixes a seed and two lattice coordinates into 32 well-scrambled bits.
///
/// The finaliser is MurmurHash3's `fmix32` (Austin Appleby, public domain).
#[inline(always)]
pub fn hash(seed: u32, x: i32, y: i32) -> u32 {
    let mut h = seed ^ 0x9E37_79B9;
    h = h.wrapping_add(x.cast_unsigned().wrapping_mul(0x85EB_CA77));
    h = h.rotate_left(13).wrapping_mul(0xC2B2_AE3D);
    h = h.wrapping_add(y.cast_unsigned().wrapping_mul(0x27D4_EB2F));
    h ^= h >> 16;
    h = h.wrapping_mul(0x85EB_CA6B);
    h ^= h >> 13;
    h = h.wrapping_mul(0xC2B2_AE35);
    h ^= h >> 16;
    h
}

/// The top 24 bits of a hash as a number in [0, 1).
#[inline(always)]
pub fn unit(h: u32) -> f32 {
    (h >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// Hermite smoothstep of `t` in [0, 1].
#[inline(always)]
pub fn smooth(t: f32) -> f32 {
    t * t * (3.0 - 2.0 * t)
}

/// A smoothstep from 0 at `lo` to 1 at `hi`, with the division done once.
#[derive(Debug, Clone, Copy)]
pub struct Ramp {
    lo: f32,
    inv: f32,
}

impl Ramp {
    /// A ramp from `lo` to `hi`; a step at `lo` when `hi <= lo`.
    pub fn new(lo: f32, hi: f32) -> Ramp {
        let inv = if hi > lo { 1.0 / (hi - lo) } else { f32::MAX };
        Ramp { lo, inv }
    }

    #[inline(always)]
    pub fn at(&self, v: f32) -> f32 {
        smooth(((v - self.lo) * self.inv).clamp(0.0, 1.0))
    }
}

#[inline(always)]
fn lerp(a: f32, b: f32, t: f32) -> f32 {
    a + (b - a) * t
}

/// `v.floor()` without a libm call (inputs stay far inside the i32 range).
#[inline(always)]
#[allow(
    clippy::cast_possible_truncation,
    reason = "a fast floor: the cast truncates toward zero on purpose, for coordinates far inside the range"
)]
pub fn floor64(v: f64) -> f64 {
    let t = v as i64 as f64;
    if t > v { t - 1.0 } else { t }
}

/// `v.floor() as i32` without a libm call, for pixel-scale coordinates.
#[inline(always)]
#[allow(
    clippy::cast_possible_truncation,
    reason = "a fast floor: the cast truncates toward zero on purpose, for coordinates far inside the range"
)]
pub fn floor_i32(v: f32) -> i32 {
    let t = v as i32;
    if (t as f32) > v { t - 1 } else { t }
}

/// Value noise in [0, 1): random values on the integer lattice, smoothstep-interpolated.
/// Lattice indices wrap at `period` when it is given, which makes the noise tileable.
#[allow(
    clippy::cast_possible_truncation,
    reason = "lattice coordinates of demo pixels: the scene side is at most DemoSpec::MAX_SIZE (21 960)"
)]
fn value(seed: u32, x: f64, y: f64, period: Option<i32>) -> f32 {
    let (xf, yf) = (floor64(x), floor64(y));
    let (tx, ty) = (smooth(to_f32(x - xf)), smooth(to_f32(y - yf)));
    let (mut x0, mut y0) = (xf as i32, yf as i32);
    let (mut x1, mut y1) = (x0.wrapping_add(1), y0.wrapping_add(1));
    if let Some(p) = period {
        (x0, y0, x1, y1) = (
            x0.rem_euclid(p),
            y0.rem_euclid(p),
            x1.rem_euclid(p),
            y1.rem_euclid(p),
        );
    }
    let top = lerp(unit(hash(seed, x0, y0)), unit(hash(seed, x1, y0)), tx);
    let bottom = lerp(unit(hash(seed, x0, y1)), unit(hash(seed, x1, y1)), tx);
    lerp(top, bottom, ty)
}

/// Fractal sum of value noise ("fBm"), normalised to [0, 1).
///
/// The first octave has the given `wavelength` (in the units of `x`, `y`); each further octave
/// halves the wavelength and multiplies the amplitude by `gain`, down to `min_wavelength`.
/// Each octave gets its own seed and lattice offset, so octaves never share lattice points.
pub fn fbm(seed: u32, x: f64, y: f64, wavelength: f64, min_wavelength: f64, gain: f32) -> f32 {
    let mut sum = 0.0;
    let mut norm = 0.0;
    let mut amp = 1.0;
    let mut wl = wavelength;
    let mut octave = 0u32;
    loop {
        let s = seed.wrapping_add(octave.wrapping_mul(0x68E3_1DA5));
        let ox = f64::from(unit(hash(s, 7, 11))) * 4096.0;
        let oy = f64::from(unit(hash(s, 13, 5))) * 4096.0;
        sum += amp * value(s, x / wl + ox, y / wl + oy, None);
        norm += amp;
        amp *= gain;
        wl *= 0.5;
        octave += 1;
        if wl < min_wavelength || octave >= 16 {
            break;
        }
    }
    sum / norm
}

/// A position between two grid nodes: the node before it and the weight of the next one.
#[derive(Debug, Clone, Copy)]
pub struct Loc {
    node: usize,
    t: f32,
}

/// A field sampled on a coarse square grid of nodes every `2^shift` pixels, starting at pixel
/// `origin` on both axes; read back anywhere by bilinear interpolation.
///
/// Smooth, scene-sized structure (land and water, forest, clouds) is costly to evaluate as
/// fBm at every pixel; evaluated at the nodes and interpolated, it costs four loads.
pub struct Grid {
    origin: i32,
    shift: u32,
    nodes: usize,
    data: Vec<f32>,
}

impl Grid {
    /// Evaluates `f(x, y)` (pixel coordinates) at every node covering pixels
    /// `origin ..= origin + extent` on both axes, in parallel.
    pub fn build(
        origin: i32,
        extent: usize,
        shift: u32,
        f: impl Fn(f64, f64) -> f32 + Sync,
    ) -> Grid {
        let nodes = (extent >> shift) + 2;
        let mut data = vec![0.0f32; nodes * nodes];
        data.par_chunks_mut(nodes).enumerate().for_each(|(j, row)| {
            let y = f64::from(origin) + (j << shift) as f64;
            for (i, v) in row.iter_mut().enumerate() {
                *v = f(f64::from(origin) + (i << shift) as f64, y);
            }
        });
        Grid {
            origin,
            shift,
            nodes,
            data,
        }
    }

    /// The field at pixel (`x`, `y`); positions outside the grid are clamped to its edge.
    #[cfg(test)]
    pub fn at(&self, x: i32, y: i32) -> f32 {
        let (lx, ly) = (self.locate(x), self.locate(y));
        let i = ly.node * self.nodes + lx.node;
        let top = lerp(self.data[i], self.data[i + 1], lx.t);
        let bottom = lerp(
            self.data[i + self.nodes],
            self.data[i + self.nodes + 1],
            lx.t,
        );
        lerp(top, bottom, ly.t)
    }

    /// Where pixel coordinate `v` falls between the node columns (or rows). Grids built
    /// with the same origin, extent and shift share locations, so one location serves all.
    #[inline(always)]
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_possible_wrap,
        clippy::cast_sign_loss,
        reason = "pixel coordinates: the scene side is at most DemoSpec::MAX_SIZE (21 960), far inside i32"
    )]
    pub fn locate(&self, v: i32) -> Loc {
        let last = ((self.nodes - 1) << self.shift) as i32 - 1;
        let p = (v - self.origin).clamp(0, last) as usize;
        let mask = (1usize << self.shift) - 1;
        let inv = 1.0 / (1u32 << self.shift) as f32;
        Loc {
            node: p >> self.shift,
            t: (p & mask) as f32 * inv,
        }
    }

    /// Interpolates the grid along y at pixel row `y` into `row` (one value per node
    /// column), so that [`Grid::at_row`] only interpolates along x.
    pub fn row(&self, y: i32, row: &mut Vec<f32>) {
        let Loc { node, t } = self.locate(y);
        let top = &self.data[node * self.nodes..(node + 1) * self.nodes];
        let bottom = &self.data[(node + 1) * self.nodes..(node + 2) * self.nodes];
        row.clear();
        row.extend(top.iter().zip(bottom).map(|(&a, &b)| lerp(a, b, t)));
    }

    /// The field at column location `loc` (see [`Grid::locate`]) of a row prepared by
    /// [`Grid::row`]; equal to `at(x, y)` up to rounding.
    #[inline(always)]
    pub fn at_row(row: &[f32], loc: Loc) -> f32 {
        lerp(row[loc.node], row[loc.node + 1], loc.t)
    }

    /// The node values, e.g. to pick a threshold that covers a share of the scene.
    pub fn values(&self) -> &[f32] {
        &self.data
    }
}

/// Side of the tileable texture, in pixels (a power of two).
const TEXTURE_SIDE: usize = 512;

/// A tileable fBm texture at pixel scale (features of 2 to 64 pixels), normalised to mean 0
/// and standard deviation 1. Sampling is one load, so every pixel can afford several.
pub struct Texture {
    data: Vec<f32>,
}

impl Texture {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_possible_wrap,
        clippy::cast_sign_loss,
        reason = "pixel coordinates: the scene side is at most DemoSpec::MAX_SIZE (21 960), far inside i32"
    )]
    pub fn new(seed: u32) -> Texture {
        let side = TEXTURE_SIDE;
        let mut data = vec![0.0f32; side * side];
        data.par_chunks_mut(side).enumerate().for_each(|(y, row)| {
            for (x, v) in row.iter_mut().enumerate() {
                let mut sum = 0.0;
                let mut norm = 0.0;
                let mut amp = 1.0;
                let mut cell = 64usize;
                let mut octave = 0u32;
                while cell >= 2 {
                    let s = seed.wrapping_add(octave.wrapping_mul(0x3C6E_F372));
                    let period = (side / cell) as i32;
                    let c = cell as f64;
                    sum += amp * value(s, x as f64 / c, y as f64 / c, Some(period));
                    norm += amp;
                    amp *= 0.6;
                    cell /= 2;
                    octave += 1;
                }
                *v = sum / norm;
            }
        });
        let n = data.len() as f64;
        let mean = data.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = data
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        let sd = var.sqrt().max(1e-9);
        for v in &mut data {
            *v = crate::convert::to_f32((f64::from(*v) - mean) / sd);
        }
        Texture { data }
    }

    /// The texture at pixel (`x`, `y`), repeating every 512 pixels.
    #[inline(always)]
    pub fn at(&self, x: i32, y: i32) -> f32 {
        let m = crate::convert::clamp_u32(TEXTURE_SIDE - 1);
        let i =
            ((y.cast_unsigned() & m) as usize) * TEXTURE_SIDE + (x.cast_unsigned() & m) as usize;
        self.data[i]
    }
}

/// The value below which `share` (0..1) of `values` lie, i.e. the `share` quantile: the
/// element of rank `round(share * len)` in ascending order. `values` is reordered.
pub fn quantile(values: &mut [f32], share: f64) -> f32 {
    let rank = crate::convert::round_usize(share * values.len() as f64);
    select(values, rank)
}

/// The element of `rank` (clamped to the slice) in ascending order; `values` is reordered so
/// that no element before it is greater and none after it is smaller.
pub fn select(values: &mut [f32], rank: usize) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    let rank = rank.min(values.len() - 1);
    let (_, v, _) = values.select_nth_unstable_by(rank, f32::total_cmp);
    *v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texture_tiles_and_is_normalised() {
        let t = Texture::new(3);
        assert_eq!(t.at(5, 9), t.at(5 + 512, 9 - 1024));
        let n = (TEXTURE_SIDE * TEXTURE_SIDE) as f32;
        let mean: f32 = t.data.iter().sum::<f32>() / n;
        assert!(mean.abs() < 1e-3);
    }

    #[test]
    fn grid_interpolates_between_nodes() {
        let g = Grid::build(0, 64, 3, |x, _| to_f32(x));
        assert_eq!(g.at(0, 0), 0.0);
        assert_eq!(g.at(12, 5), 12.0);
        assert_eq!(g.at(-50, 5), 0.0);
    }

    #[test]
    fn quantile_splits_at_rank() {
        let mut v: Vec<f32> = (0..100).map(|i| (99 - i) as f32).collect();
        assert_eq!(quantile(&mut v, 0.8), 80.0);
        assert_eq!(v.iter().filter(|&&x| x >= 80.0).count(), 20);
    }
}
