//! GDAL's writer (`--writer gdal`), kept to compare against: chunks are written through
//! GDAL into a tiled staging GeoTIFF (one writer at a time, the lesson's `Lock()`), then a
//! GeoTIFF is closed and renamed, or GDAL's COG driver copies the staging file into the COG
//! (compression and overviews in one opaque step). The copy can be cancelled through its
//! progress callback. Nothing stands under the final name until the file is complete;
//! dropping an unfinished writer removes its staging files.

use std::ffi::{CString, c_void};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use gdal::raster::RasterCreationOptions;
use gdal::spatial_ref::SpatialRef;
use gdal::{Dataset, DriverManager};
use ndarray::ArrayView3;

use super::staging::{parent_dir, sibling};
use super::{Expected, OutputError, OutputFormat, OutputGeometry, OutputSpec, WriteCause, verify};
use crate::raster::last_gdal_error;
use crate::task::CancelFlag;

/// Writes uint8 windows into the staging file; one per run, used by one thread at a time.
pub struct GdalWriter {
    spec: OutputSpec,
    geometry: OutputGeometry,
    staging: PathBuf,
    partial: PathBuf,
    ds: Option<Dataset>,
    cancel: CancelFlag,
}

impl GdalWriter {
    /// Creates the staging file beside the final path (same folder, so the last rename is
    /// atomic and an unwritable folder is reported before any work is done).
    pub fn create(
        spec: OutputSpec,
        geometry: OutputGeometry,
        cancel: CancelFlag,
    ) -> Result<Self, OutputError> {
        let write_err = |cause: WriteCause| OutputError::write(&spec.path, cause);
        let dir = parent_dir(&spec.path);
        let staging = sibling(&spec.path, "staging");
        let partial = sibling(&spec.path, "partial");
        let tile = geometry.tile();
        let mut options = RasterCreationOptions::new();
        let mut pairs = vec![
            ("TILED", "YES".to_string()),
            ("BLOCKXSIZE", tile.to_string()),
            ("BLOCKYSIZE", tile.to_string()),
            ("INTERLEAVE", "PIXEL".to_string()),
            ("BIGTIFF", "IF_SAFER".to_string()),
        ];
        match spec.format {
            // Staging for a COG stays uncompressed: the COG copy compresses once.
            OutputFormat::Cog => pairs.push(("COMPRESS", "NONE".to_string())),
            OutputFormat::Gtiff => pairs.extend(spec.codec().gdal_options(false)),
        }
        for (k, v) in pairs {
            options
                .set_name_value(k, &v)
                .map_err(|e| write_err(e.into()))?;
        }
        let driver = DriverManager::get_driver_by_name("GTiff").map_err(|e| write_err(e.into()))?;
        let mut ds = driver
            .create_with_band_type_with_options::<u8, _>(
                &staging,
                geometry.cols,
                geometry.rows,
                geometry.bands,
                &options,
            )
            .map_err(|source| {
                write_err(WriteCause::Create {
                    dir: dir.to_path_buf(),
                    source: Box::new(source),
                })
            })?;
        let setup = (|| -> Result<(), WriteCause> {
            if let Some(gt) = geometry.geo_transform {
                ds.set_geo_transform(&gt)?;
            }
            if let Some(crs) = &geometry.crs {
                let wkt = crs
                    .wkt()
                    .map_err(|e| format!("cannot read the source's coordinate system: {e}"))?;
                SpatialRef::from_wkt(&wkt).and_then(|srs| ds.set_spatial_ref(&srs))?;
            }
            for b in 1..=geometry.bands {
                ds.rasterband(b)
                    .and_then(|mut band| band.set_no_data_value(Some(0.0)))?;
            }
            Ok(())
        })();
        let writer = Self {
            spec,
            geometry,
            staging,
            partial,
            ds: Some(ds),
            cancel,
        };
        setup.map_err(|e| OutputError::write(&writer.spec.path, e))?;
        Ok(writer)
    }

    pub fn spec(&self) -> &OutputSpec {
        &self.spec
    }

    /// Writes a (bands, rows, cols) array at (row0, col0), starting at 0-based band0.
    pub fn write_u8(
        &mut self,
        band0: usize,
        row0: usize,
        col0: usize,
        data: ArrayView3<'_, u8>,
    ) -> Result<(), OutputError> {
        let path = self.spec.path.clone();
        let write_err = |cause: WriteCause| OutputError::write(&path, cause);
        let ds = self
            .ds
            .as_ref()
            .ok_or_else(|| write_err("writer already finalized".into()))?;
        let (bands, rows, cols) = data.dim();
        if band0 + bands > self.geometry.bands
            || row0 + rows > self.geometry.rows
            || col0 + cols > self.geometry.cols
        {
            return Err(write_err(format!(
                "window rows {row0}+{rows}, cols {col0}+{cols}, bands {band0}+{bands} is outside the output"
            ).into()));
        }
        let slice = data
            .as_slice()
            .ok_or_else(|| write_err("buffer not contiguous".into()))?;
        // GDAL takes C ints; the window was checked against the output, whose sides GDAL
        // created as ints, but a product (the band spacing) can still be out of range.
        let int = |v: usize| {
            i32::try_from(v).map_err(|_| write_err(format!("{v} exceeds GDAL's int range").into()))
        };
        let mut band_map = (band0..band0 + bands)
            .map(|b| int(b + 1))
            .collect::<Result<Vec<i32>, _>>()?;
        let (x, y, w, h) = (int(col0)?, int(row0)?, int(cols)?, int(rows)?);
        let (band_count, band_space) = (int(bands)?, int(rows * cols)?);
        // SAFETY: `slice` is a contiguous band-sequential bands x rows x cols u8 buffer, as the
        // spacing arguments say; GDAL only reads from it for GF_Write; the window was checked.
        let rv = unsafe {
            gdal_sys::GDALDatasetRasterIO(
                ds.c_dataset(),
                gdal_sys::GDALRWFlag::GF_Write,
                x,
                y,
                w,
                h,
                slice.as_ptr() as *mut c_void,
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
            return Err(write_err(last_gdal_error().into()));
        }
        Ok(())
    }

    /// Completes the file and moves it to its final name. For a COG this is the CreateCopy
    /// that compresses and builds overviews, on `threads` threads; the cancel flag stops it
    /// between GDAL's progress steps.
    pub fn finalize(mut self, threads: usize) -> Result<PathBuf, OutputError> {
        let path = self.spec.path.clone();
        let write_err = |cause: WriteCause| OutputError::write(&path, cause);
        let mut ds = self
            .ds
            .take()
            .ok_or_else(|| write_err("writer already finalized".into()))?;
        // GDAL reports failed block writes (a full disk, a size limit) only through its
        // error state, not through FlushCache's or Close's result.
        // SAFETY: resets this thread's GDAL error state.
        unsafe { gdal_sys::CPLErrorReset() };
        ds.flush_cache().map_err(|e| write_err(e.into()))?;
        let done = match self.spec.format {
            OutputFormat::Gtiff => {
                ds.close().map_err(|e| write_err(e.into()))?;
                // SAFETY: reads this thread's GDAL error state.
                if unsafe { gdal_sys::CPLGetLastErrorType() } >= gdal_sys::CPLErr::CE_Failure {
                    return Err(write_err(last_gdal_error().into()));
                }
                self.staging.clone()
            }
            OutputFormat::Cog => {
                let tile = self.geometry.tile();
                let mut pairs = self.spec.codec().gdal_options(true);
                pairs.extend([
                    ("BLOCKSIZE", tile.to_string()),
                    ("OVERVIEWS", "AUTO".to_string()),
                    // Masked pixels are nodata: average the valid ones only.
                    ("RESAMPLING", "AVERAGE".to_string()),
                    ("NUM_THREADS", threads.max(1).to_string()),
                    ("BIGTIFF", "IF_SAFER".to_string()),
                ]);
                self.cog_copy(&ds, &pairs).map_err(|reason| {
                    if self.cancel.is_cancelled() {
                        OutputError::Cancelled
                    } else {
                        write_err(WriteCause::CogCopy(reason))
                    }
                })?;
                drop(ds);
                self.partial.clone()
            }
        };
        if self.cancel.is_cancelled() {
            return Err(OutputError::Cancelled);
        }
        let expect = Expected {
            cols: self.geometry.cols,
            rows: self.geometry.rows,
            bands: self.geometry.bands,
            overviews: match self.spec.format {
                OutputFormat::Gtiff => Some(0),
                OutputFormat::Cog => None,
            },
        };
        verify(&done, expect).map_err(|e| write_err(WriteCause::ReadBack(e)))?;
        // Reading back takes a moment: a cancel during it still leaves nothing (the partial
        // file is removed when the writer is dropped).
        if self.cancel.is_cancelled() {
            return Err(OutputError::Cancelled);
        }
        std::fs::rename(&done, &self.spec.path).map_err(|source| {
            write_err(WriteCause::Move {
                said: source.to_string(),
                source,
            })
        })?;
        self.cleanup();
        Ok(self.spec.path.clone())
    }

    /// GDAL's COG CreateCopy into the partial file, with a progress callback that answers
    /// "stop" once the run is cancelled.
    fn cog_copy(&self, ds: &Dataset, pairs: &[(&str, String)]) -> Result<(), CogCopyError> {
        let driver = DriverManager::get_driver_by_name("COG")?;
        let mut options = RasterCreationOptions::new();
        for (k, v) in pairs {
            options.set_name_value(k, v)?;
        }
        let dest = CString::new(self.partial.to_string_lossy().as_bytes())
            .map_err(|_| CogCopyError::Said("NUL in the output path".to_string()))?;
        let flag: &AtomicBool = self.cancel.as_atomic();
        // SAFETY: every pointer outlives the call; the callback reads the flag through the
        // pointer it is given, which points at `flag`, alive for the whole call.
        let out = unsafe {
            gdal_sys::GDALCreateCopy(
                driver.c_driver(),
                dest.as_ptr(),
                ds.c_dataset(),
                0,
                options.as_ptr(),
                Some(continue_unless_cancelled),
                flag as *const AtomicBool as *mut c_void,
            )
        };
        if out.is_null() {
            return Err(CogCopyError::Said(last_gdal_error()));
        }
        // SAFETY: a dataset handle GDAL just returned and nobody else holds. Closing flushes
        // the last blocks; a failure there (a full disk) is only seen in the error state.
        let failed = unsafe {
            gdal_sys::CPLErrorReset();
            gdal_sys::GDALClose(out);
            gdal_sys::CPLGetLastErrorType() >= gdal_sys::CPLErr::CE_Failure
        };
        if failed {
            return Err(CogCopyError::Said(last_gdal_error()));
        }
        Ok(())
    }

    fn cleanup(&mut self) {
        self.ds = None;
        let ovr = PathBuf::from(format!("{}.ovr.tmp", self.partial.display()));
        for p in [&self.staging, &self.partial, &ovr] {
            if p.exists() {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

/// Why GDAL's COG driver could not copy the finished image.
#[derive(Debug, thiserror::Error)]
pub enum CogCopyError {
    /// A call through the gdal crate failed.
    #[error("{0}")]
    Gdal(#[source] Box<gdal::errors::GdalError>),
    /// GDAL's last message after a call through gdal-sys (which gives no error value), or
    /// a check of the writer's own: one-off text.
    #[error("{0}")]
    Said(String),
}

impl From<gdal::errors::GdalError> for CogCopyError {
    fn from(e: gdal::errors::GdalError) -> Self {
        CogCopyError::Gdal(Box::new(e))
    }
}

/// GDAL progress callback: non-zero to go on, 0 to stop.
unsafe extern "C" fn continue_unless_cancelled(
    _complete: f64,
    _message: *const std::ffi::c_char,
    data: *mut c_void,
) -> i32 {
    // SAFETY: `data` is the `&AtomicBool` passed to GDALCreateCopy above.
    let flag = unsafe { &*(data as *const AtomicBool) };
    i32::from(!flag.load(Ordering::Relaxed))
}

impl Drop for GdalWriter {
    fn drop(&mut self) {
        // A run that failed or was cancelled leaves nothing behind, final name included
        // (it was never created).
        self.cleanup();
    }
}
