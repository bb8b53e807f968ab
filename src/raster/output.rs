//! The pipeline's output: a staging GeoTIFF that chunks are written into, then either the
//! COG copy (GDAL's COG driver only supports CreateCopy) or a rename. Nothing ever stands
//! under the final name until the file is complete; dropping an unfinished writer removes
//! its temporary files.

use std::path::{Path, PathBuf};

use gdal::raster::RasterCreationOptions;
use gdal::spatial_ref::SpatialRef;
use gdal::{Dataset, DriverManager};
use ndarray::Array3;

use super::{RasterError, last_gdal_error};

/// What file format the masked image is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// Cloud-Optimized GeoTIFF: compressed, tiled, with overviews (finalize copies).
    Cog,
    /// Tiled GeoTIFF, uncompressed unless asked: the lesson's `to_raster(tiled=True)`.
    Gtiff,
}

/// Where and how to write the output.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OutputSpec {
    pub path: PathBuf,
    pub format: OutputFormat,
    /// GDAL codec name (`DEFLATE`, `LZW`, `ZSTD`, `NONE`, ...); `None` picks the format's
    /// default: DEFLATE for COG, NONE for GeoTIFF.
    pub compress: Option<String>,
}

impl OutputSpec {
    pub fn codec(&self) -> &str {
        match (&self.compress, self.format) {
            (Some(c), _) => c,
            (None, OutputFormat::Cog) => "DEFLATE",
            (None, OutputFormat::Gtiff) => "NONE",
        }
    }
}

/// Georeferencing and layout the output takes over from its source.
#[derive(Debug, Clone)]
pub struct OutputGeometry {
    pub rows: usize,
    pub cols: usize,
    pub bands: usize,
    pub block: usize,
    pub geo_transform: Option<[f64; 6]>,
    pub srs_wkt: Option<String>,
}

/// Writes uint8 windows into the staging file; one per run, used by one thread at a time.
pub struct OutputWriter {
    spec: OutputSpec,
    geometry: OutputGeometry,
    staging: PathBuf,
    partial: PathBuf,
    ds: Option<Dataset>,
}

impl OutputWriter {
    /// Creates the staging file beside the final path (same folder, so the last rename is
    /// atomic and an unwritable folder is reported before any work is done).
    pub fn create(spec: OutputSpec, geometry: OutputGeometry) -> Result<Self, RasterError> {
        let write_err = |reason: String| RasterError::Write {
            path: spec.path.display().to_string(),
            reason,
        };
        let dir = parent_dir(&spec.path);
        if !dir.is_dir() {
            return Err(write_err(format!(
                "the folder \"{}\" does not exist; create it or pick another --out",
                dir.display()
            )));
        }
        if spec.path.is_dir() {
            return Err(write_err(
                "is a folder; give a file name such as masked.tif".into(),
            ));
        }
        let name = spec
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "output.tif".into());
        let pid = std::process::id();
        let staging = dir.join(format!(".{name}.{pid}.staging.tif"));
        let partial = dir.join(format!(".{name}.{pid}.partial.tif"));

        let block = geometry.block.clamp(16, 4096) / 16 * 16;
        let mut options = RasterCreationOptions::new();
        let codec = match spec.format {
            // Staging for a COG stays uncompressed: the COG copy compresses once.
            OutputFormat::Cog => "NONE".to_string(),
            OutputFormat::Gtiff => spec.codec().to_string(),
        };
        for (k, v) in [
            ("TILED", "YES".to_string()),
            ("BLOCKXSIZE", block.to_string()),
            ("BLOCKYSIZE", block.to_string()),
            ("INTERLEAVE", "PIXEL".to_string()),
            ("COMPRESS", codec),
            ("BIGTIFF", "IF_SAFER".to_string()),
        ] {
            options
                .set_name_value(k, &v)
                .map_err(|e| write_err(e.to_string()))?;
        }
        let driver =
            DriverManager::get_driver_by_name("GTiff").map_err(|e| write_err(e.to_string()))?;
        let mut ds = driver
            .create_with_band_type_with_options::<u8, _>(
                &staging,
                geometry.cols,
                geometry.rows,
                geometry.bands,
                &options,
            )
            .map_err(|e| {
                write_err(format!(
                    "cannot create a file in \"{}\" ({e}); check that the folder is writable and has space",
                    dir.display()
                ))
            })?;
        let mut writer = Self {
            spec,
            geometry,
            staging,
            partial,
            ds: None,
        };
        let setup = (|| -> Result<(), gdal::errors::GdalError> {
            if let Some(gt) = writer.geometry.geo_transform {
                ds.set_geo_transform(&gt)?;
            }
            if let Some(wkt) = &writer.geometry.srs_wkt {
                ds.set_spatial_ref(&SpatialRef::from_wkt(wkt)?)?;
            }
            for b in 1..=writer.geometry.bands {
                ds.rasterband(b)?.set_no_data_value(Some(0.0))?;
            }
            Ok(())
        })();
        writer.ds = Some(ds);
        setup.map_err(|e| RasterError::Write {
            path: writer.spec.path.display().to_string(),
            reason: e.to_string(),
        })?;
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
        data: &Array3<u8>,
    ) -> Result<(), RasterError> {
        let path = self.spec.path.display().to_string();
        let write_err = |reason: String| RasterError::Write {
            path: path.clone(),
            reason,
        };
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
            )));
        }
        let slice = data
            .as_slice()
            .ok_or_else(|| write_err("buffer not contiguous".into()))?;
        let mut band_map: Vec<i32> = (band0..band0 + bands).map(|b| b as i32 + 1).collect();
        // SAFETY: `slice` is a contiguous band-sequential bands x rows x cols u8 buffer, as the
        // spacing arguments say; GDAL only reads from it for GF_Write; the window was checked.
        let rv = unsafe {
            gdal_sys::GDALDatasetRasterIO(
                ds.c_dataset(),
                gdal_sys::GDALRWFlag::GF_Write,
                col0 as i32,
                row0 as i32,
                cols as i32,
                rows as i32,
                slice.as_ptr() as *mut std::ffi::c_void,
                cols as i32,
                rows as i32,
                gdal_sys::GDALDataType::GDT_Byte,
                bands as i32,
                band_map.as_mut_ptr(),
                1,
                cols as i32,
                (rows * cols) as i32,
            )
        };
        if rv != gdal_sys::CPLErr::CE_None {
            return Err(write_err(last_gdal_error()));
        }
        Ok(())
    }

    /// Completes the file and moves it to its final name. For a COG this is the CreateCopy
    /// that compresses and builds overviews, on `threads` threads.
    pub fn finalize(mut self, threads: usize) -> Result<PathBuf, RasterError> {
        let path = self.spec.path.display().to_string();
        let write_err = |reason: String| RasterError::Write {
            path: path.clone(),
            reason,
        };
        let mut ds = self
            .ds
            .take()
            .ok_or_else(|| write_err("writer already finalized".into()))?;
        ds.flush_cache().map_err(|e| write_err(e.to_string()))?;
        let done = match self.spec.format {
            OutputFormat::Gtiff => {
                ds.close().map_err(|e| write_err(e.to_string()))?;
                self.staging.clone()
            }
            OutputFormat::Cog => {
                let block = self.geometry.block.clamp(16, 4096) / 16 * 16;
                let mut options = RasterCreationOptions::new();
                for (k, v) in [
                    ("COMPRESS", self.spec.codec().to_string()),
                    ("BLOCKSIZE", block.to_string()),
                    ("OVERVIEWS", "AUTO".to_string()),
                    // Masked pixels are nodata: average the valid ones only.
                    ("RESAMPLING", "AVERAGE".to_string()),
                    ("NUM_THREADS", threads.max(1).to_string()),
                    ("BIGTIFF", "IF_SAFER".to_string()),
                ] {
                    options
                        .set_name_value(k, &v)
                        .map_err(|e| write_err(e.to_string()))?;
                }
                let driver = DriverManager::get_driver_by_name("COG")
                    .map_err(|e| write_err(e.to_string()))?;
                let cog = ds
                    .create_copy(&driver, &self.partial, &options)
                    .map_err(|e| write_err(format!("COG copy failed: {e}")))?;
                cog.close().map_err(|e| write_err(e.to_string()))?;
                drop(ds);
                self.partial.clone()
            }
        };
        std::fs::rename(&done, &self.spec.path)
            .map_err(|e| write_err(format!("cannot move the finished file into place: {e}")))?;
        self.cleanup();
        Ok(self.spec.path.clone())
    }

    fn cleanup(&mut self) {
        self.ds = None;
        for p in [&self.staging, &self.partial] {
            if p.exists() {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

impl Drop for OutputWriter {
    fn drop(&mut self) {
        // A run that failed or was cancelled leaves nothing behind, final name included
        // (it was never created).
        self.cleanup();
    }
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
