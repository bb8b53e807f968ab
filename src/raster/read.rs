//! Windowed reads straight into ndarray buffers. Multi-band windows are read with one
//! dataset-level RasterIO call, so GDAL decodes a pixel-interleaved block once for all the
//! bands it holds instead of once per band.

use std::fmt;

use gdal::Dataset;
use ndarray::{Array2, Array3};

use super::{RasterError, RasterSource, gdal_error_on};

/// A rectangle of pixels: offsets and sizes in rows and cols of the raster read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Window {
    pub row0: usize,
    pub col0: usize,
    pub rows: usize,
    pub cols: usize,
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rows {}..{}, cols {}..{}",
            self.row0,
            self.row0 + self.rows,
            self.col0,
            self.col0 + self.cols
        )
    }
}

/// Reads bands `band0 .. band0 + bands` (0-based) of a uint8 raster in `window` into a
/// (bands, rows, cols) array.
pub fn read_bands_u8(
    ds: &Dataset,
    source: &RasterSource,
    band0: usize,
    bands: usize,
    window: Window,
) -> Result<Array3<u8>, RasterError> {
    let mut out = Array3::<u8>::zeros((bands, window.rows, window.cols));
    let slice = out.as_slice_mut().ok_or_else(|| RasterError::Read {
        what: source.what.clone(),
        path: source.path.clone(),
        window,
        reason: "buffer not contiguous".into(),
    })?;
    read_u8_into(ds, source, band0, window, slice)?;
    Ok(out)
}

/// Reads bands `band0 ..` of a uint8 raster in `window` into `buf`, band after band (as a
/// contiguous (bands, rows, cols) array holds them); the band count is `buf`'s length
/// divided by the window's pixels. Lets the caller own (and time) the buffer's allocation.
pub fn read_u8_into(
    ds: &Dataset,
    source: &RasterSource,
    band0: usize,
    window: Window,
    buf: &mut [u8],
) -> Result<(), RasterError> {
    let read_err = |reason: String| RasterError::Read {
        what: source.what.clone(),
        path: source.path.clone(),
        window,
        reason,
    };
    let pixels = window.rows * window.cols;
    if pixels == 0 || !buf.len().is_multiple_of(pixels) {
        return Err(read_err(format!(
            "a buffer of {} bytes does not hold whole bands of {pixels} pixels",
            buf.len()
        )));
    }
    let bands = buf.len() / pixels;
    let (ds_cols, ds_rows) = ds.raster_size();
    if window.row0 + window.rows > ds_rows
        || window.col0 + window.cols > ds_cols
        || band0 + bands > ds.raster_count()
    {
        return Err(read_err(format!(
            "outside the raster ({ds_rows} rows x {ds_cols} cols, {} bands)",
            ds.raster_count()
        )));
    }
    let to_int =
        |v: usize| i32::try_from(v).map_err(|_| read_err(format!("{v} exceeds GDAL's int range")));
    let mut band_map: Vec<i32> = (band0..band0 + bands).map(|b| b as i32 + 1).collect();
    let (x, y, w, h) = (
        to_int(window.col0)?,
        to_int(window.row0)?,
        to_int(window.cols)?,
        to_int(window.rows)?,
    );
    let band_space = to_int(pixels)?;
    let band_count = to_int(bands)?;
    // SAFETY: `buf` holds bands x rows x cols bytes in band-sequential order, exactly what
    // the pixel/line/band spacing below describes; the window was checked to be inside the
    // dataset, and the band map lists `bands` valid 1-based indices.
    let rv = unsafe {
        gdal_sys::GDALDatasetRasterIO(
            ds.c_dataset(),
            gdal_sys::GDALRWFlag::GF_Read,
            x,
            y,
            w,
            h,
            buf.as_mut_ptr().cast(),
            w,
            h,
            gdal_sys::GDALDataType::GDT_Byte,
            band_count,
            band_map.as_mut_ptr(),
            1,
            w,
            band_space,
        )
    };
    if rv != gdal_sys::CPLErr::CE_None {
        return Err(read_err(gdal_error_on(&source.path)));
    }
    Ok(())
}

/// Reads one uint8 band (1-based `band`) in `window` into a (rows, cols) array.
pub fn read_band_u8(
    ds: &Dataset,
    source: &RasterSource,
    band: usize,
    window: Window,
) -> Result<Array2<u8>, RasterError> {
    let arr = read_bands_u8(ds, source, band - 1, 1, window)?;
    let (_, rows, cols) = arr.dim();
    arr.into_shape_with_order((rows, cols))
        .map_err(|e| RasterError::Read {
            what: source.what.clone(),
            path: source.path.clone(),
            window,
            reason: e.to_string(),
        })
}
