//! GDAL access: opening rasters with errors a user can act on, inspecting a COG's layout
//! (the lesson's `r.block_shapes` exercise) and windowed multi-band reads into ndarray; the
//! output file is [`crate::output`]'s. Handles here are not thread-safe: each worker thread
//! opens its own.

mod crs;
mod drivers;
mod error;
mod inspect;
mod read;
pub(crate) mod tiff_tags;

pub use crs::{Crs, GEO_KEY_TAGS};
pub use drivers::register_few as register_few_drivers;
pub use drivers::{SOURCE_DRIVERS, allow_drivers, extra_drivers};
pub use error::{GdalMessage, OpenCause, RasterError, ReadCause, Refusal};
pub use inspect::{RasterInfo, inspect, inspect_dataset};
pub use read::{
    Window, read_band_u8, read_bands_u8, read_u8_into, read_u8_into_by_block, read_u8_part,
};

use std::ffi::CStr;
use std::fmt;

use gdal::{Dataset, DatasetOptions, GdalOpenFlags};

/// A raster as the pipeline names it: which asset of which item, and where GDAL finds it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RasterSource {
    /// For messages, e.g. `asset "SCL" of item "S2A_..."`.
    pub what: String,
    pub path: String,
}

impl RasterSource {
    /// Whether GDAL reads it from a local file (not over HTTP or from a cloud bucket).
    pub fn is_local(&self) -> bool {
        !crate::network::remote::is_remote(&self.path)
    }

    pub fn new(what: impl Into<String>, path: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            path: path.into(),
        }
    }

    /// Opens read-only, at full resolution or at overview level `overview`, which then reads
    /// as if it were the full image. Callers check with [`inspect`] first that the level
    /// exists.
    pub fn open(&self, overview: Option<usize>) -> Result<OpenRaster, RasterError> {
        let main = self.open_dataset(None)?;
        let Some(level) = overview else {
            return Ok(OpenRaster { main, level: None });
        };
        // The level's own dataset inside the file's, when GDAL has one with every band: read
        // through it, flushing frees all GDAL decoded. Opened with `OVERVIEW_LEVEL`, the
        // level comes wrapped, and a flush of the wrapper leaves the pixel-interleaved block
        // buffer of the dataset inside (3 MiB for 1024-pixel RGB blocks) held by every
        // worker for the whole run.
        if let Some(inner) = overview_dataset(&main, level) {
            return Ok(OpenRaster {
                main,
                level: Some(inner),
            });
        }
        drop(main);
        Ok(OpenRaster {
            main: self.open_dataset(Some(level))?,
            level: None,
        })
    }

    /// Opens the file's dataset; with `overview`, that level as a dataset of its own
    /// (GDAL's `OVERVIEW_LEVEL` open option; GDAL ignores a missing level).
    fn open_dataset(&self, overview: Option<usize>) -> Result<Dataset, RasterError> {
        if let Some(cause) = drivers::refused_path(&self.path) {
            return Err(RasterError::Refused {
                what: self.what.clone(),
                path: self.path.clone(),
                cause,
            });
        }
        let level = overview.map(|l| format!("OVERVIEW_LEVEL={l}"));
        let open_options: Vec<&str> = level.iter().map(String::as_str).collect();
        if crate::network::remote::is_remote(&self.path) {
            crate::network::remote::configure();
        }
        // Only the drivers a scene's asset may use, never VRT and the like (see
        // `drivers::SOURCE_DRIVERS`).
        let allowed = drivers::source_drivers();
        let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
        let options = || DatasetOptions {
            open_flags: GdalOpenFlags::GDAL_OF_RASTER | GdalOpenFlags::GDAL_OF_READONLY,
            allowed_drivers: Some(&allowed),
            open_options: if open_options.is_empty() {
                None
            } else {
                Some(&open_options)
            },
            ..Default::default()
        };
        let opened = Dataset::open_ex(&self.path, options());
        let opened = match opened {
            // Not a format of the few drivers registered at start: try the other source
            // drivers.
            Err(e) if unrecognised(&e) && drivers::register_rest() => {
                Dataset::open_ex(&self.path, options())
            }
            other => other,
        };
        opened.map_err(|e| RasterError::Open {
            what: self.what.clone(),
            path: self.path.clone(),
            cause: open_cause(&self.path, e),
        })
    }
}

/// Whether GDAL failed to open a file because no registered driver took it (it says so, or
/// says nothing at all), not because the file could not be read.
fn unrecognised(err: &gdal::errors::GdalError) -> bool {
    use gdal::errors::GdalError;
    match err {
        GdalError::NullPointer { msg, .. } | GdalError::CplError { msg, .. } => {
            msg.trim().is_empty() || msg.contains("not recognized")
        }
        _ => false,
    }
}

/// An open raster: a file's dataset, read at full resolution or at one overview level.
pub struct OpenRaster {
    main: Dataset,
    /// The overview level's dataset, which `main` owns (never closed here).
    level: Option<std::mem::ManuallyDrop<Dataset>>,
}

impl std::ops::Deref for OpenRaster {
    type Target = Dataset;

    /// The dataset reads go to: the overview level's, or the file's.
    fn deref(&self) -> &Dataset {
        match &self.level {
            Some(level) => level,
            None => &self.main,
        }
    }
}

impl fmt::Debug for OpenRaster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (cols, rows) = self.raster_size();
        write!(
            f,
            "OpenRaster({rows} x {cols}, overview: {})",
            self.level.is_some()
        )
    }
}

/// The dataset of overview `level` inside `main`, if GDAL has one holding every band at
/// the level's size (GeoTIFF does; other drivers may not).
fn overview_dataset(main: &Dataset, level: usize) -> Option<std::mem::ManuallyDrop<Dataset>> {
    let level = i32::try_from(level).ok()?;
    let band = main.rasterband(1).ok()?;
    // SAFETY: `band` is a valid band of `main`; GDAL returns its overview band and that
    // band's dataset (or null), both owned by `main` and valid while it is open. The
    // dataset is wrapped in ManuallyDrop: it is never closed here, only with `main`, which
    // `OpenRaster` keeps alive as long as the wrapper.
    unsafe {
        let ov = gdal_sys::GDALGetOverview(band.c_rasterband(), level);
        if ov.is_null() {
            return None;
        }
        let ds = gdal_sys::GDALGetBandDataset(ov);
        if ds.is_null()
            || gdal_sys::GDALGetRasterCount(ds) != gdal_sys::GDALGetRasterCount(main.c_dataset())
            || gdal_sys::GDALGetRasterXSize(ds) != gdal_sys::GDALGetRasterBandXSize(ov)
            || gdal_sys::GDALGetRasterYSize(ds) != gdal_sys::GDALGetRasterBandYSize(ov)
        {
            return None;
        }
        Some(std::mem::ManuallyDrop::new(Dataset::from_c_dataset(ds)))
    }
}

/// Why GDAL could not open `path`, from its error `err` and, for a local file, a look at
/// the file.
fn open_cause(path: &str, err: gdal::errors::GdalError) -> OpenCause {
    let gdal = GdalMessage::new(err);
    if crate::network::remote::is_remote(path) {
        // An empty message is common here; `explain` then asks the server itself.
        return OpenCause::Remote {
            explanation: crate::network::remote::explain(gdal.message(), path),
            gdal,
        };
    }
    if path.starts_with("/vsi") {
        return OpenCause::Virtual { gdal };
    }
    local_open_cause(std::path::Path::new(path), gdal)
}

/// Why GDAL could not open a local file, found by looking at the file: GDAL says nothing
/// at all when no driver recognises a file (an empty one, or text).
fn local_open_cause(path: &std::path::Path, gdal: GdalMessage) -> OpenCause {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return OpenCause::Missing,
        Err(e) => return OpenCause::Unreadable(e),
    };
    if meta.is_dir() {
        return OpenCause::Folder;
    }
    if let Err(e) = std::fs::File::open(path) {
        return OpenCause::Unreadable(e);
    }
    let message = gdal.message();
    if meta.len() == 0 {
        OpenCause::Empty
    } else if message.is_empty() || message.contains("not recognized") {
        OpenCause::Unrecognised {
            drivers: drivers::source_drivers().join(", "),
        }
    } else {
        OpenCause::NotRaster { gdal }
    }
}

/// Routes GDAL's own messages to `sink` instead of stderr, where they would interleave
/// with our output (or draw over a TUI). Errors still reach callers through the error
/// values; the sink sees warnings and debug lines too.
pub fn route_gdal_messages(sink: impl Fn(&str) + Send + Sync + 'static) {
    gdal::config::set_error_handler(move |class, _number, msg| {
        use gdal::errors::CplErrType;
        match class {
            CplErrType::Warning => sink(&format!("GDAL warning: {msg}")),
            CplErrType::Debug => sink(&format!("GDAL: {msg}")),
            // Failures come back as error values with the same text.
            _ => {}
        }
    });
}

/// GDAL's last error message for a failed call on `path`, explained when `path` is remote.
pub(crate) fn gdal_error_on(path: &str) -> String {
    let message = last_gdal_error();
    if crate::network::remote::is_remote(path) {
        crate::network::remote::explain(&message, path)
    } else {
        message
    }
}

/// GDAL's last error message on this thread, for calls made through gdal-sys.
pub(crate) fn last_gdal_error() -> String {
    // SAFETY: CPLGetLastErrorMsg returns a pointer to a thread-local, NUL-terminated string
    // that stays valid until the next CPL call on this thread; we copy it at once.
    let msg = unsafe { CStr::from_ptr(gdal_sys::CPLGetLastErrorMsg()) };
    let msg = msg.to_string_lossy().trim().to_string();
    if msg.is_empty() {
        "GDAL reported an error without a message".to_string()
    } else {
        msg
    }
}

/// Drops the blocks GDAL's cache holds for this dataset (a read-only handle has no dirty
/// blocks: flushing only frees).
pub fn release_blocks(ds: &Dataset) {
    // SAFETY: a valid handle owned by the caller's thread; GDALFlushCache only touches the
    // dataset's own block cache.
    unsafe {
        gdal_sys::GDALFlushCache(ds.c_dataset());
    }
}

/// GDAL's block cache limit, in bytes (GDAL_CACHEMAX, default 5 % of RAM).
pub fn cache_max_bytes() -> u64 {
    // SAFETY: reads a process-wide setting.
    let v = unsafe { gdal_sys::GDALGetCacheMax64() };
    u64::try_from(v).unwrap_or(0)
}

/// Sets GDAL's block cache limit for as long as the guard lives, then puts the previous
/// limit back. The limit is process-wide: the runs that set it take turns (one run at a
/// time), as every front end does.
pub struct CacheLimit {
    previous: u64,
}

impl CacheLimit {
    pub fn set(bytes: u64) -> Self {
        let previous = cache_max_bytes();
        set_cache_max(bytes);
        Self { previous }
    }
}

impl Drop for CacheLimit {
    fn drop(&mut self) {
        set_cache_max(self.previous);
    }
}

fn set_cache_max(bytes: u64) {
    // SAFETY: sets a process-wide setting; GDAL flushes blocks above the new limit.
    unsafe { gdal_sys::GDALSetCacheMax64(i64::try_from(bytes).unwrap_or(i64::MAX)) };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file a driver takes and fails on keeps GDAL's error under the cause, and the
    /// message says GDAL's words once, before what to do.
    #[test]
    fn a_broken_tiff_keeps_gdals_error_as_a_source() {
        register_few_drivers();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broken.tif");
        // A little-endian TIFF header whose first directory lies past the end of the file.
        std::fs::write(&path, b"II*\0\xff\xff\x00\x00 not a directory").unwrap();
        let source = RasterSource::new("asset \"visual\"", path.display().to_string());
        let err = source.open(None).unwrap_err();
        let RasterError::Open { cause, .. } = &err else {
            panic!("not an open error: {err:?}");
        };
        let OpenCause::NotRaster { gdal } = cause else {
            panic!("not GDAL's failure: {cause:?}");
        };
        assert!(!gdal.message().is_empty());
        let below = std::error::Error::source(&err).expect("the cause is the source");
        let gdal_below = below
            .source()
            .and_then(|e| e.downcast_ref::<GdalMessage>())
            .expect("GDAL's error is the cause's source");
        assert!(matches!(
            gdal_below.error(),
            gdal::errors::GdalError::NullPointer { .. } | gdal::errors::GdalError::CplError { .. }
        ));
        // The message says what failed on which file; GDAL's words are the chain's, once.
        assert!(!err.to_string().contains(gdal.message()), "{err}");
        let text = crate::error::chain(&err);
        assert_eq!(text.matches(gdal.message()).count(), 1, "{text}");
        assert!(
            text.ends_with("generate the demo again with `chunkscope demo`"),
            "{text}"
        );
        assert!(!text.contains("NULL pointer"), "{text}");
    }

    /// The causes found by looking at the file are values a caller can match on.
    #[test]
    fn open_failures_name_their_cause() {
        register_few_drivers();
        let dir = tempfile::tempdir().unwrap();
        let open = |path: &std::path::Path| {
            let source = RasterSource::new("asset \"visual\"", path.display().to_string());
            match source.open(None).unwrap_err() {
                RasterError::Open { cause, .. } => cause,
                other => panic!("not an open error: {other:?}"),
            }
        };
        assert!(matches!(
            open(&dir.path().join("missing.tif")),
            OpenCause::Missing
        ));
        assert!(matches!(open(dir.path()), OpenCause::Folder));
        let empty = dir.path().join("empty.tif");
        std::fs::write(&empty, b"").unwrap();
        assert!(matches!(open(&empty), OpenCause::Empty));
        let text = dir.path().join("text.tif");
        std::fs::write(&text, b"<html>not a TIFF</html>").unwrap();
        assert!(matches!(open(&text), OpenCause::Unrecognised { .. }));
        let refused = RasterSource::new("asset \"visual\"", "/vsizip/a.zip/b.tif")
            .open(None)
            .unwrap_err();
        assert!(matches!(
            refused,
            RasterError::Refused {
                cause: Refusal::VirtualFileSystem,
                ..
            }
        ));
    }

    /// An overview level is read through the file's own overview dataset, and gives the
    /// pixels GDAL's `OVERVIEW_LEVEL` wrapper gives.
    #[test]
    fn an_overview_level_reads_through_the_files_own_overview_dataset() {
        use gdal::raster::{Buffer, RasterCreationOptions};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rgb.tif");
        let options = RasterCreationOptions::from_iter([
            "TILED=YES",
            "BLOCKXSIZE=64",
            "BLOCKYSIZE=64",
            "INTERLEAVE=PIXEL",
        ]);
        let driver = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
        let mut ds = driver
            .create_with_band_type_with_options::<u8, _>(&path, 256, 256, 3, &options)
            .unwrap();
        for b in 1..=3 {
            let pixels = (0..256 * 256)
                .map(|i| u8::try_from((i * 7 + b * 31) % 251).unwrap())
                .collect();
            let mut buf = Buffer::new((256, 256), pixels);
            ds.rasterband(b)
                .unwrap()
                .write((0, 0), (256, 256), &mut buf)
                .unwrap();
        }
        ds.build_overviews("AVERAGE", &[2, 4], &[]).unwrap();
        ds.close().unwrap();
        let source = RasterSource::new("visual", path.display().to_string());
        let window = Window {
            row0: 0,
            col0: 0,
            rows: 64,
            cols: 64,
        };
        for level in [0, 1] {
            let own = source.open(Some(level)).unwrap();
            assert!(format!("{own:?}").contains("overview: true"), "{own:?}");
            let wrapped = source.open_dataset(Some(level)).unwrap();
            assert_eq!(own.raster_size(), wrapped.raster_size());
            assert_eq!(own.raster_size(), (128 >> level, 128 >> level));
            let a = read_bands_u8(&own, &source, 0, 3, window).unwrap();
            let b = read_bands_u8(&wrapped, &source, 0, 3, window).unwrap();
            assert!(a.iter().any(|&v| v != 0));
            assert_eq!(a, b, "level {level}");
        }
    }

    #[test]
    fn unreadable_local_files_are_named_for_what_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.tif");
        std::fs::write(&empty, b"").unwrap();
        let text = dir.path().join("text.tif");
        std::fs::write(&text, b"hello, not a TIFF").unwrap();
        for (path, expect) in [
            (
                &empty,
                "not a raster GDAL can read: the file is empty (0 bytes)",
            ),
            (
                &text,
                "not a raster GDAL can read: no driver chunkscope reads assets with (GTiff",
            ),
            (&dir.path().to_path_buf(), "it is a folder"),
            (&dir.path().join("missing.tif"), "no such file"),
        ] {
            let source = RasterSource::new("asset \"visual\"", path.display().to_string());
            let err = crate::error::chain(&source.open(None).unwrap_err());
            assert!(err.contains(expect), "{err}");
            assert!(err.contains(&format!("\"{}\"", path.display())), "{err}");
            assert!(!err.contains("NULL pointer"), "{err}");
        }
    }
}
