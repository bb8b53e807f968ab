//! Windowed reads straight into ndarray buffers. Multi-band windows are read with one
//! dataset-level RasterIO call, so GDAL decodes a pixel-interleaved block once for all the
//! bands it holds instead of once per band.

use std::fmt;

use gdal::Dataset;
use ndarray::{Array2, Array3};

use super::{RasterError, RasterSource, ReadCause, gdal_error_on};

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
        cause: ReadCause::Request {
            reason: "buffer not contiguous".into(),
        },
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
    let read_err = |cause: ReadCause| RasterError::Read {
        what: source.what.clone(),
        path: source.path.clone(),
        window,
        cause,
    };
    let pixels = window.rows * window.cols;
    if pixels == 0 || !buf.len().is_multiple_of(pixels) {
        return Err(read_err(ReadCause::Request {
            reason: format!(
                "a buffer of {} bytes does not hold whole bands of {pixels} pixels",
                buf.len()
            ),
        }));
    }
    let bands = buf.len() / pixels;
    let (ds_cols, ds_rows) = ds.raster_size();
    if window.row0 + window.rows > ds_rows
        || window.col0 + window.cols > ds_cols
        || band0 + bands > ds.raster_count()
    {
        return Err(read_err(ReadCause::Outside {
            rows: ds_rows,
            cols: ds_cols,
            bands: ds.raster_count(),
        }));
    }
    raster_io(ds, band0, bands, window, buf, window.cols, pixels)
        .map_err(|cause| read_err(cause.unwrap_or_else(|| gdal_cause(&source.path))))
}

/// As [`read_u8_into`], but one block of the raster at a time, calling `release` after
/// each: GDAL then holds at most one decoded block of this dataset, not every block the
/// window touches (a 2048-pixel window over 1024-pixel blocks is four). Each block is still
/// decoded once per window, so read amplification is unchanged. For local files: over
/// HTTP GDAL fetches a window's blocks in one multi-range request, which block-by-block
/// reads would split.
pub fn read_u8_into_by_block(
    ds: &Dataset,
    source: &RasterSource,
    band0: usize,
    window: Window,
    buf: &mut [u8],
    mut release: impl FnMut(),
) -> Result<(), RasterError> {
    let read_err = |cause: ReadCause| RasterError::Read {
        what: source.what.clone(),
        path: source.path.clone(),
        window,
        cause,
    };
    let (block_cols, block_rows) = ds
        .rasterband(1)
        .map_err(|e| read_err(ReadCause::Band(Box::new(e))))?
        .block_size();
    let pixels = window.rows * window.cols;
    let (ds_cols, ds_rows) = ds.raster_size();
    if block_cols == 0
        || block_rows == 0
        || pixels == 0
        || !buf.len().is_multiple_of(pixels)
        || window.row0 + window.rows > ds_rows
        || window.col0 + window.cols > ds_cols
    {
        // One read, which also refuses what cannot be read with the usual message.
        return read_u8_into(ds, source, band0, window, buf);
    }
    let (row_end, col_end) = (window.row0 + window.rows, window.col0 + window.cols);
    let mut row = window.row0;
    while row < row_end {
        let rows = ((row / block_rows + 1) * block_rows).min(row_end) - row;
        let mut col = window.col0;
        while col < col_end {
            let cols = ((col / block_cols + 1) * block_cols).min(col_end) - col;
            let part = Window {
                row0: row,
                col0: col,
                rows,
                cols,
            };
            read_u8_part(ds, source, band0, window, part, buf)?;
            release();
            col += cols;
        }
        row += rows;
    }
    Ok(())
}

/// Reads `part` (inside `window`) of bands `band0 ..` into `buf`, which holds the whole
/// `window` band after band; the band count is `buf`'s length divided by the window's
/// pixels. GDAL decodes every block `part` touches (unless its cache holds them).
pub fn read_u8_part(
    ds: &Dataset,
    source: &RasterSource,
    band0: usize,
    window: Window,
    part: Window,
    buf: &mut [u8],
) -> Result<(), RasterError> {
    let read_err = |cause: ReadCause| RasterError::Read {
        what: source.what.clone(),
        path: source.path.clone(),
        window: part,
        cause,
    };
    let pixels = window.rows * window.cols;
    let inside = part.row0 >= window.row0
        && part.col0 >= window.col0
        && part.row0 + part.rows <= window.row0 + window.rows
        && part.col0 + part.cols <= window.col0 + window.cols;
    if pixels == 0 || !buf.len().is_multiple_of(pixels) || !inside {
        return Err(read_err(ReadCause::Request {
            reason: format!(
                "part {part} does not lie in window {window} of a {}-byte buffer",
                buf.len()
            ),
        }));
    }
    let bands = buf.len() / pixels;
    let at = (part.row0 - window.row0) * window.cols + (part.col0 - window.col0);
    raster_io(ds, band0, bands, part, &mut buf[at..], window.cols, pixels)
        .map_err(|cause| read_err(cause.unwrap_or_else(|| gdal_cause(&source.path))))
}

/// A failed gdal-sys read's cause: GDAL's last message on this thread.
fn gdal_cause(path: &str) -> ReadCause {
    ReadCause::Gdal {
        message: gdal_error_on(path),
    }
}

/// One dataset RasterIO of `bands` bands from `band0` in `window` into `buf`, whose rows
/// are `line_space` bytes apart and bands `band_space` apart. `Err(None)`: GDAL failed,
/// its message is the thread's last error.
fn raster_io(
    ds: &Dataset,
    band0: usize,
    bands: usize,
    window: Window,
    buf: &mut [u8],
    line_space: usize,
    band_space: usize,
) -> Result<(), Option<ReadCause>> {
    let to_int = |v: usize| {
        i32::try_from(v).map_err(|_| {
            Some(ReadCause::Request {
                reason: format!("{v} exceeds GDAL's int range"),
            })
        })
    };
    let (ds_cols, ds_rows) = ds.raster_size();
    // The last byte written: the window's last pixel in the last band.
    let last = (bands.max(1) - 1) * band_space
        + (window.rows.max(1) - 1) * line_space
        + window.cols.max(1);
    if window.row0 + window.rows > ds_rows
        || window.col0 + window.cols > ds_cols
        || band0 + bands > ds.raster_count()
        || window.cols > line_space
        || last > buf.len()
    {
        return Err(Some(ReadCause::Request {
            reason: format!(
                "window {window} of {bands} band(s) does not fit the raster ({ds_rows} rows x \
                 {ds_cols} cols, {} bands) or the buffer",
                ds.raster_count()
            ),
        }));
    }
    let mut band_map: Vec<i32> = (band0..band0 + bands)
        .map(|b| to_int(b + 1))
        .collect::<Result<_, _>>()?;
    let (x, y, w, h) = (
        to_int(window.col0)?,
        to_int(window.row0)?,
        to_int(window.cols)?,
        to_int(window.rows)?,
    );
    let (line_space, band_space) = (
        i64::from(to_int(line_space)?),
        i64::from(to_int(band_space)?),
    );
    let band_count = to_int(bands)?;
    // SAFETY: the window is inside the dataset, the band map lists `bands` valid 1-based
    // indices, and every byte the pixel/line/band spacing addresses is inside `buf`
    // (checked above: `last <= buf.len()`).
    let rv = unsafe {
        gdal_sys::GDALDatasetRasterIOEx(
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
            line_space,
            band_space,
            std::ptr::null_mut(),
        )
    };
    if rv != gdal_sys::CPLErr::CE_None {
        return Err(None);
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
            cause: ReadCause::Shape(e),
        })
}
