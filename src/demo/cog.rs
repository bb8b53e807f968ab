//! Writes one raster of the demo scene as a Cloud-Optimized GeoTIFF with GDAL: the pixels go
//! into an in-memory (MEM) dataset, its overviews are built there explicitly, and the COG
//! driver copies image and overviews into the file, compressing blocks on all CPUs.
//!
//! Runs on the calling thread (GDAL starts its own compression threads); GDAL's progress
//! callbacks come back on that thread. GDAL messages are kept off the terminal (a quiet
//! handler for the duration of a write) and returned in [`DemoError::Gdal`] instead.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use gdal::raster::{ColorInterpretation, GdalType, RasterCreationOptions};
use gdal::{Dataset, DriverManager};
use rayon::prelude::*;

use super::DemoError;

/// WGS 84 / UTM zone 31N, as WKT with its EPSG authority, so that no PROJ database lookup
/// is needed to write the files (GDAL still writes EPSG 32631 into the GeoTIFF keys).
const UTM31N_WKT: &str = concat!(
    r#"PROJCS["WGS 84 / UTM zone 31N",GEOGCS["WGS 84",DATUM["WGS_1984","#,
    r#"SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],"#,
    r#"AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],"#,
    r#"UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4326"]],"#,
    r#"PROJECTION["Transverse_Mercator"],PARAMETER["latitude_of_origin",0],"#,
    r#"PARAMETER["central_meridian",3],PARAMETER["scale_factor",0.9996],"#,
    r#"PARAMETER["false_easting",500000],PARAMETER["false_northing",0],"#,
    r#"UNIT["metre",1,AUTHORITY["EPSG","9001"]],AXIS["Easting",EAST],AXIS["Northing",NORTH],"#,
    r#"AUTHORITY["EPSG","32631"]]"#
);

/// Overview decimation factors, as in the Sentinel-2 COGs on earth-search.
pub const OVERVIEW_FACTORS: [i32; OVERVIEW_COUNT as usize] = [2, 4, 8, 16];
/// How many overviews a demo COG has, as GDAL counts them.
const OVERVIEW_COUNT: c_int = 4;

/// DEFLATE level: GDAL's default.
const DEFLATE_LEVEL: u32 = 6;

/// How overview pixels are made from the full-resolution ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resampling {
    /// Mean of each 2 x 2 block of the level above (GDAL's `AVERAGE`, rounded half up);
    /// for continuous values (`visual`, `B02`).
    Average,
    /// The full-resolution pixel at the centre of each block (GDAL's `NEAREST`); for
    /// classes (`SCL`).
    Nearest,
}

/// Pixel types the demo scene writes.
pub trait Sample: GdalType + Copy + Default + Send + Sync {
    fn to_u32(self) -> u32;
    fn from_u32(v: u32) -> Self;
}

impl Sample for u8 {
    fn to_u32(self) -> u32 {
        u32::from(self)
    }
    fn from_u32(v: u32) -> Self {
        u8::try_from(v).unwrap_or(u8::MAX)
    }
}

impl Sample for u16 {
    fn to_u32(self) -> u32 {
        u32::from(self)
    }
    fn from_u32(v: u32) -> Self {
        u16::try_from(v).unwrap_or(u16::MAX)
    }
}

/// How one raster is laid out on disk.
pub struct CogLayout<'a> {
    /// Side of the square raster in pixels.
    pub side: usize,
    /// Pixel size in metres (10 or 20).
    pub pixel_m: f64,
    /// Upper-left corner (easting, northing) in metres.
    pub origin: (f64, f64),
    /// Block (tile) side in pixels.
    pub block: usize,
    pub resampling: Resampling,
    /// Colour interpretation of each band (its length is the band count).
    pub colours: &'a [ColorInterpretation],
}

/// Writes `pixels` (pixel-interleaved bands, rows top to bottom) to `path` as a COG with
/// nodata 0 and overviews at [`OVERVIEW_FACTORS`]. `progress` receives the fraction done
/// (0..=1) of this write.
pub fn write_cog<T: Sample>(
    path: &Path,
    pixels: &[T],
    layout: &CogLayout<'_>,
    progress: &mut dyn FnMut(f64),
) -> Result<(), DemoError> {
    let bands = layout.colours.len();
    assert_eq!(
        pixels.len(),
        layout.side * layout.side * bands,
        "pixel buffer does not match the layout"
    );
    let _quiet = QuietGdal::push();
    let fail = |action: &'static str| DemoError::Gdal {
        action,
        path: path.to_path_buf(),
        message: last_gdal_message(),
    };

    // The overviews are computed here, in parallel, where GDAL would use one thread; GDAL
    // only allocates them (resampling "NONE") and receives the pixels.
    let levels = overviews(pixels, layout.side, bands, layout.resampling);
    let mem = in_memory::<T>(pixels, layout).map_err(|_| fail("prepare in memory"))?;
    let none = c"NONE";
    // SAFETY: the dataset handle is valid while `mem` lives; the factor list outlives the
    // call; no progress callback.
    let rv = unsafe {
        gdal_sys::GDALBuildOverviews(
            mem.c_dataset(),
            none.as_ptr(),
            OVERVIEW_COUNT,
            OVERVIEW_FACTORS.as_ptr() as _,
            0,
            std::ptr::null_mut(),
            None,
            std::ptr::null_mut(),
        )
    };
    if rv != gdal_sys::CPLErr::CE_None {
        return Err(fail("build overviews of"));
    }
    for (k, (side, data)) in levels.iter().enumerate() {
        write_overview(&mem, k, *side, bands, data).map_err(|_| fail("build overviews of"))?;
    }
    drop(levels);
    // Preparing the source takes about a tenth of the time of the compressed copy.
    const PREPARED: f64 = 0.1;
    progress(PREPARED);

    let driver =
        DriverManager::get_driver_by_name("COG").map_err(|_| fail("find the COG driver for"))?;
    let options = RasterCreationOptions::from_iter([
        "COMPRESS=DEFLATE".to_string(),
        format!("LEVEL={DEFLATE_LEVEL}"),
        format!("BLOCKSIZE={}", layout.block),
        "NUM_THREADS=ALL_CPUS".to_string(),
        "OVERVIEWS=FORCE_USE_EXISTING".to_string(),
        "BIGTIFF=IF_SAFER".to_string(),
    ]);
    let c_path = CString::new(path.to_string_lossy().as_bytes()).map_err(|_| fail("create"))?;
    let written = {
        let mut report = |f: f64| progress(PREPARED + f * (1.0 - PREPARED));
        let mut callback: &mut dyn FnMut(f64) = &mut report;
        // SAFETY: the source handle is valid while `mem` lives; the options list and path
        // outlive the call; `callback` outlives the call and is only used by it, on this
        // thread, through `progress_trampoline`.
        unsafe {
            gdal_sys::GDALCreateCopy(
                driver.c_driver(),
                c_path.as_ptr(),
                mem.c_dataset(),
                0,
                options.as_ptr(),
                Some(progress_trampoline),
                &mut callback as *mut &mut dyn FnMut(f64) as *mut c_void,
            )
        }
    };
    if written.is_null() {
        return Err(fail("write"));
    }
    // SAFETY: a non-null handle just returned by GDALCreateCopy, owned by nobody else.
    let written = unsafe { Dataset::from_c_dataset(written) };
    // SAFETY: resets this thread's error state; no other effect.
    unsafe { gdal_sys::CPLErrorReset() };
    written.close().map_err(|_| fail("finish writing"))?;
    // GDAL before 3.7 reports errors while closing only through the error state.
    // SAFETY: reads this thread's error state.
    if unsafe { gdal_sys::CPLGetLastErrorType() } >= gdal_sys::CPLErr::CE_Failure {
        return Err(fail("finish writing"));
    }
    progress(1.0);
    Ok(())
}

/// The overview levels of `pixels` (side `side`, `bands` interleaved), one per factor in
/// [`OVERVIEW_FACTORS`]: (side, pixels). Sides are rounded up, as GDAL does.
fn overviews<T: Sample>(
    pixels: &[T],
    side: usize,
    bands: usize,
    resampling: Resampling,
) -> Vec<(usize, Vec<T>)> {
    let mut levels: Vec<(usize, Vec<T>)> = Vec::with_capacity(OVERVIEW_FACTORS.len());
    for &factor in &OVERVIEW_FACTORS {
        let factor = factor.unsigned_abs() as usize;
        let level = match resampling {
            Resampling::Average => {
                // Each level from the one above: every factor is twice the previous one.
                let (src, src_side) = levels
                    .last()
                    .map_or((pixels, side), |(s, v)| (v.as_slice(), *s));
                halve(src, src_side, bands)
            }
            Resampling::Nearest => decimate(pixels, side, bands, factor),
        };
        levels.push(level);
    }
    levels
}

/// The 2 x 2 block means of `src`; on odd sides the last row/column averages what exists.
fn halve<T: Sample>(src: &[T], side: usize, bands: usize) -> (usize, Vec<T>) {
    let out_side = side.div_ceil(2);
    let mut out = vec![T::default(); out_side * out_side * bands];
    out.par_chunks_mut(out_side * bands)
        .enumerate()
        .for_each(|(j, row)| {
            let y0 = 2 * j;
            let y1 = (y0 + 1).min(side - 1);
            let ny = if y1 > y0 { 2 } else { 1 };
            for i in 0..out_side {
                let x0 = 2 * i;
                let x1 = (x0 + 1).min(side - 1);
                let nx = if x1 > x0 { 2 } else { 1 };
                let count = nx * ny;
                for b in 0..bands {
                    let at = |x: usize, y: usize| src[(y * side + x) * bands + b].to_u32();
                    let mut sum = at(x0, y0);
                    if nx == 2 {
                        sum += at(x1, y0);
                    }
                    if ny == 2 {
                        sum += at(x0, y1);
                        if nx == 2 {
                            sum += at(x1, y1);
                        }
                    }
                    row[i * bands + b] = T::from_u32((sum + count / 2) / count);
                }
            }
        });
    (out_side, out)
}

/// Every `factor`-th pixel, taken at the block centre (`i * factor + factor / 2`).
fn decimate<T: Sample>(src: &[T], side: usize, bands: usize, factor: usize) -> (usize, Vec<T>) {
    let out_side = side.div_ceil(factor);
    let mut out = vec![T::default(); out_side * out_side * bands];
    out.par_chunks_mut(out_side * bands)
        .enumerate()
        .for_each(|(j, row)| {
            let y = (j * factor + factor / 2).min(side - 1);
            for i in 0..out_side {
                let x = (i * factor + factor / 2).min(side - 1);
                for b in 0..bands {
                    row[i * bands + b] = src[(y * side + x) * bands + b];
                }
            }
        });
    (out_side, out)
}

/// Writes overview `index` of every band of `ds` from `data` (side `side`, interleaved).
fn write_overview<T: Sample>(
    ds: &Dataset,
    index: usize,
    side: usize,
    bands: usize,
    data: &[T],
) -> gdal::errors::Result<()> {
    let size = std::mem::size_of::<T>();
    let side_c = c_int::try_from(side)?;
    for b in 0..bands {
        let band = ds.rasterband(b + 1)?;
        let overview = band.overview(index)?;
        if overview.size() != (side, side) {
            return Err(gdal::errors::GdalError::BadArgument(format!(
                "overview {index} is {:?}, expected {side}",
                overview.size()
            )));
        }
        // SAFETY: `data[b..]` holds side x side pixels of `bands` interleaved values of type
        // T; GDAL only reads it (GF_Write) during the call.
        let rv = unsafe {
            gdal_sys::GDALRasterIO(
                overview.c_rasterband(),
                gdal_sys::GDALRWFlag::GF_Write,
                0,
                0,
                side_c,
                side_c,
                data[b..].as_ptr() as *mut c_void,
                side_c,
                side_c,
                T::gdal_ordinal(),
                c_int::try_from(size * bands)?,
                c_int::try_from(size * bands * side)?,
            )
        };
        if rv != gdal_sys::CPLErr::CE_None {
            return Err(gdal::errors::GdalError::CplError {
                class: rv,
                number: 0,
                msg: last_gdal_message(),
            });
        }
    }
    Ok(())
}

/// A MEM dataset over `pixels` without copying them (bands added with `DATAPOINTER`),
/// georeferenced, with nodata 0 on every band. GDAL only reads `pixels`; the dataset must
/// be dropped before them (it is local to [`write_cog`], which borrows them).
fn in_memory<T: Sample>(pixels: &[T], layout: &CogLayout<'_>) -> gdal::errors::Result<Dataset> {
    let bands = layout.colours.len();
    let side = layout.side;
    let mut ds = DriverManager::get_driver_by_name("MEM")?
        .create_with_band_type::<T, _>("", side, side, 0)?;
    let size = std::mem::size_of::<T>();
    for b in 0..bands {
        let options = RasterCreationOptions::from_iter([
            format!("DATAPOINTER={:p}", pixels[b..].as_ptr()),
            format!("PIXELOFFSET={}", size * bands),
            format!("LINEOFFSET={}", size * bands * side),
        ]);
        // SAFETY: the pointer is valid for side x side pixels at the given offsets and
        // outlives the dataset (see above); the options list outlives the call.
        let rv = unsafe {
            gdal_sys::GDALAddBand(ds.c_dataset(), T::gdal_ordinal(), options.as_ptr() as _)
        };
        if rv != gdal_sys::CPLErr::CE_None {
            return Err(gdal::errors::GdalError::CplError {
                class: rv,
                number: 0,
                msg: last_gdal_message(),
            });
        }
    }
    ds.set_projection(UTM31N_WKT)?;
    let (x0, y0) = layout.origin;
    ds.set_geo_transform(&[x0, layout.pixel_m, 0.0, y0, 0.0, -layout.pixel_m])?;
    for (i, colour) in layout.colours.iter().enumerate() {
        let mut band = ds.rasterband(i + 1)?;
        band.set_no_data_value(Some(0.0))?;
        let colour = ColorInterpretation::from_c_int(colour.c_int())
            .unwrap_or(ColorInterpretation::Undefined);
        band.set_color_interpretation(colour)?;
    }
    Ok(ds)
}

/// GDAL progress callback: `arg` points at a `&mut dyn FnMut(f64)`. A panic in the callback
/// is caught (it must not unwind into C) and cancels the GDAL operation.
unsafe extern "C" fn progress_trampoline(
    complete: f64,
    _message: *const c_char,
    arg: *mut c_void,
) -> c_int {
    if arg.is_null() {
        return 1;
    }
    // SAFETY: `write_cog` passes a pointer to a live `&mut dyn FnMut(f64)` as `arg`.
    let callback = unsafe { &mut *(arg as *mut &mut dyn FnMut(f64)) };
    match catch_unwind(AssertUnwindSafe(|| callback(complete.clamp(0.0, 1.0)))) {
        Ok(()) => 1,
        Err(_) => 0,
    }
}

/// The last GDAL error message of this thread, or a generic text when there is none.
fn last_gdal_message() -> String {
    // SAFETY: CPLGetLastErrorMsg returns a valid C string owned by GDAL (thread-local).
    let msg = unsafe { CStr::from_ptr(gdal_sys::CPLGetLastErrorMsg()) };
    let msg = msg.to_string_lossy().trim().to_string();
    if msg.is_empty() {
        "GDAL gave no reason".to_string()
    } else {
        msg
    }
}

/// Silences GDAL's default stderr handler on this thread while alive (errors are still
/// recorded and read back by [`last_gdal_message`]). Not `Send`: the handler stack is
/// per thread.
struct QuietGdal(std::marker::PhantomData<*const ()>);

impl QuietGdal {
    fn push() -> QuietGdal {
        // SAFETY: pushes onto this thread's handler stack; popped in Drop on the same thread.
        unsafe {
            gdal_sys::CPLPushErrorHandler(Some(gdal_sys::CPLQuietErrorHandler));
            gdal_sys::CPLErrorReset();
        }
        QuietGdal(std::marker::PhantomData)
    }
}

impl Drop for QuietGdal {
    fn drop(&mut self) {
        // SAFETY: matches the push in `QuietGdal::push`, on the same thread (not Send).
        unsafe { gdal_sys::CPLPopErrorHandler() };
    }
}
