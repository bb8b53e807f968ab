//! The pipeline's output file. Two writers, chosen per run:
//! - **chunked** (the default): the write stage is part of the chunk graph. Each write task
//!   turns its chunk into finished output tiles (pixel interleaving, compression, its share
//!   of every overview level) on the pool; one appender puts the bytes into the file; a
//!   short closing assembly lays out the COG (or closes the GeoTIFF).
//! - **gdal**: chunks written through GDAL into a staging GeoTIFF under a lock, then GDAL's
//!   COG driver copies it (one opaque step): what the lesson's `to_raster` does, kept to
//!   compare against.
//!
//! Either way nothing stands under the final name until the file is complete and has been
//! read back, and a failed or cancelled run leaves no file behind.

mod chunked;
mod codec;
mod gdal;
mod geotags;
pub mod guard;
mod interleave;
pub mod pyramid;
pub mod scratch;
pub mod staging;
pub mod target;
mod tiff;

use std::path::{Path, PathBuf};

pub use chunked::{ChunkedWriter, TileQueue, WriteStats};
pub use codec::{CODEC_NAMES, Codec, CodecError, EncodeError};
pub use gdal::{CogCopyError, GdalWriter};
pub use geotags::GeotagError;

use crate::task::CancelFlag;

/// What file format the masked image is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// Cloud-Optimized GeoTIFF: compressed, tiled, with overviews.
    Cog,
    /// Tiled GeoTIFF, uncompressed unless asked: the lesson's `to_raster(tiled=True)`.
    Gtiff,
}

impl OutputFormat {
    /// As the command line and the report spell it.
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Cog => "cog",
            OutputFormat::Gtiff => "gtiff",
        }
    }
}

/// Which writer produces the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WriterKind {
    /// Tiles and overviews encoded by the chunk tasks (this crate's writer).
    #[default]
    Chunked,
    /// GDAL's GTiff writer and COG copy.
    Gdal,
}

impl WriterKind {
    pub fn name(self) -> &'static str {
        match self {
            WriterKind::Chunked => "chunked",
            WriterKind::Gdal => "gdal",
        }
    }
}

/// Where and how to write the output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputSpec {
    pub path: PathBuf,
    pub format: OutputFormat,
    /// `None` picks the format's default: DEFLATE for COG, NONE for GeoTIFF.
    pub codec: Option<Codec>,
    pub writer: WriterKind,
}

impl OutputSpec {
    /// The chunked writer with the format's default codec.
    pub fn new(path: impl Into<PathBuf>, format: OutputFormat) -> Self {
        Self {
            path: path.into(),
            format,
            codec: None,
            writer: WriterKind::Chunked,
        }
    }

    pub fn codec(&self) -> Codec {
        match (self.codec, self.format) {
            (Some(c), _) => c,
            (None, OutputFormat::Cog) => Codec::DEFLATE,
            (None, OutputFormat::Gtiff) => Codec::None,
        }
    }
}

/// Georeferencing and layout the output takes over from its source.
#[derive(Debug, Clone)]
pub struct OutputGeometry {
    pub rows: usize,
    pub cols: usize,
    pub bands: usize,
    /// The source's block side; the output's tiles are this size (a multiple of 16).
    pub block: usize,
    pub geo_transform: Option<[f64; 6]>,
    pub crs: Option<crate::raster::Crs>,
}

impl OutputGeometry {
    /// The output's tile side: the source block, as TIFF wants it (16..4096, multiple of 16).
    pub fn tile(&self) -> usize {
        self.block.clamp(16, 4096) / 16 * 16
    }
}

/// Why the output could not be written; the path is the file asked for. What went wrong is
/// the source: show it with [`crate::error::chain`] (`to_string()` leaves it out).
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("writing \"{path}\"")]
    Write {
        path: String,
        #[source]
        cause: WriteCause,
    },
    /// The cancel flag was seen while writing.
    #[error("the write was cancelled")]
    Cancelled,
}

impl OutputError {
    pub(crate) fn write(path: &Path, cause: impl Into<WriteCause>) -> Self {
        OutputError::Write {
            path: path.display().to_string(),
            cause: cause.into(),
        }
    }
}

/// What went wrong writing the output. GDAL's errors are boxed, as they are large.
#[derive(Debug, thiserror::Error)]
pub enum WriteCause {
    /// An I/O error, said the way a user can act on it (see [`WriteCause::io`]).
    #[error("{said}")]
    Io {
        said: String,
        #[source]
        source: std::io::Error,
    },
    /// The finished file could not take its final name.
    #[error("cannot move the finished file into place: {said}")]
    Move {
        said: String,
        #[source]
        source: std::io::Error,
    },
    /// GDAL could not create the file it writes first.
    #[error(
        "cannot create a file in \"{}\" ({source}); check that the folder is writable and \
         has space",
        .dir.display()
    )]
    Create {
        dir: PathBuf,
        #[source]
        source: Box<::gdal::errors::GdalError>,
    },
    /// A call through the gdal crate failed.
    #[error("{0}")]
    Gdal(#[source] Box<::gdal::errors::GdalError>),
    /// The finished file fails [`verify`].
    #[error("the written file does not read back")]
    ReadBack(#[source] ReadBack),
    /// A tile could not be compressed.
    #[error("{0}")]
    Encode(#[source] EncodeError),
    /// The georeferencing could not be turned into GeoTIFF tags.
    #[error("{0}")]
    Georef(#[source] GeotagError),
    /// GDAL's COG driver could not copy the finished image (`--writer gdal`).
    #[error("COG copy failed")]
    CogCopy(#[source] CogCopyError),
    /// One-off text: GDAL's last message after a call through gdal-sys (which gives no
    /// error value), a codec's complaint, or a check of the writer's own.
    #[error("{0}")]
    Other(String),
}

impl WriteCause {
    /// An I/O error in `dir`, said the way a user can act on it.
    pub(crate) fn io(source: std::io::Error, dir: &Path) -> Self {
        WriteCause::Io {
            said: io_reason(&source, dir),
            source,
        }
    }

    /// The finished file's move to its final name, in `dir`, failed.
    pub(crate) fn moving(source: std::io::Error, dir: &Path) -> Self {
        WriteCause::Move {
            said: io_reason(&source, dir),
            source,
        }
    }
}

impl From<String> for WriteCause {
    fn from(text: String) -> Self {
        WriteCause::Other(text)
    }
}

impl From<&str> for WriteCause {
    fn from(text: &str) -> Self {
        WriteCause::Other(text.to_string())
    }
}

impl From<EncodeError> for WriteCause {
    fn from(e: EncodeError) -> Self {
        WriteCause::Encode(e)
    }
}

impl From<GeotagError> for WriteCause {
    fn from(e: GeotagError) -> Self {
        WriteCause::Georef(e)
    }
}

impl From<::gdal::errors::GdalError> for WriteCause {
    fn from(e: ::gdal::errors::GdalError) -> Self {
        WriteCause::Gdal(Box::new(e))
    }
}

/// An I/O error said the way a user can act on it, naming the folder where it matters.
fn io_reason(e: &std::io::Error, dir: &Path) -> String {
    match e.raw_os_error() {
        Some(libc::ENOSPC) => format!(
            "no space left on the device that holds \"{}\"; free some space or pick another --out",
            dir.display()
        ),
        Some(libc::EDQUOT) => format!("disk quota exceeded in \"{}\"", dir.display()),
        Some(libc::EFBIG) => {
            "the file grew past the largest size allowed (the file system's, or this process's file-size limit)".to_string()
        }
        Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EROFS) => format!(
            "cannot write in \"{}\" ({e}); check that the folder is writable",
            dir.display()
        ),
        _ => format!("{e} (in \"{}\")", dir.display()),
    }
}

/// What a finished file must show when GDAL reads it back.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expected {
    pub cols: usize,
    pub rows: usize,
    pub bands: usize,
    /// `None`: whatever GDAL's own COG driver chose.
    pub overviews: Option<usize>,
}

/// What a finished file shows when GDAL reads it back, where that is not what was written.
#[derive(Debug, thiserror::Error)]
pub enum ReadBack {
    /// Columns, rows and bands: as GDAL sees them, and as they were written.
    #[error(
        "GDAL sees {}x{} pixels in {} band(s) where {}x{} in {} were written",
        .seen[0], .seen[1], .seen[2], .written[0], .written[1], .written[2]
    )]
    Size {
        seen: [usize; 3],
        written: [usize; 3],
    },
    #[error("{seen} overview(s) where {want} were written")]
    Overviews { seen: usize, want: usize },
    /// GDAL could not open the file or give a band or level of it.
    #[error("{0}")]
    Gdal(#[source] Box<::gdal::errors::GdalError>),
    /// The last tile of a level does not decode.
    #[error("band {band}, level {level}")]
    Tile {
        band: usize,
        level: usize,
        #[source]
        source: Box<::gdal::errors::GdalError>,
    },
}

impl From<::gdal::errors::GdalError> for ReadBack {
    fn from(e: ::gdal::errors::GdalError) -> Self {
        ReadBack::Gdal(Box::new(e))
    }
}

/// Opens a finished file with GDAL, checks its size, bands and overviews, and decodes the
/// last tile of every level: a file cut short by a failed write does not pass.
pub(crate) fn verify(path: &Path, expect: Expected) -> Result<(), ReadBack> {
    let ds = ::gdal::Dataset::open(path)?;
    let (w, h) = ds.raster_size();
    if (w, h, ds.raster_count()) != (expect.cols, expect.rows, expect.bands) {
        return Err(ReadBack::Size {
            seen: [w, h, ds.raster_count()],
            written: [expect.cols, expect.rows, expect.bands],
        });
    }
    let first = ds.rasterband(1)?;
    let overviews = usize::try_from(first.overview_count()?).unwrap_or(0);
    if let Some(want) = expect.overviews
        && overviews != want
    {
        return Err(ReadBack::Overviews {
            seen: overviews,
            want,
        });
    }
    for b in 1..=ds.raster_count() {
        let band = ds.rasterband(b)?;
        for level in 0..=overviews {
            let l = if level == 0 {
                ds.rasterband(b)?
            } else {
                band.overview(level - 1)?
            };
            let (lw, lh) = l.size();
            l.read_as::<u8>(
                ((lw - 1).cast_signed(), (lh - 1).cast_signed()),
                (1, 1),
                (1, 1),
                None,
            )
            .map_err(|e| ReadBack::Tile {
                band: b,
                level,
                source: Box::new(e),
            })?;
        }
    }
    Ok(())
}

/// The run's writer, either kind.
pub enum OutputWriter {
    Chunked(ChunkedWriter),
    Gdal(GdalWriter),
}

/// A writer and what preparing it found.
pub struct Created {
    pub writer: OutputWriter,
    /// Staging files of earlier runs that died, removed from the output folder.
    pub removed_stale: Vec<String>,
}

impl OutputWriter {
    /// Checks the destination and creates the writer, before any pixel is read: an
    /// unwritable folder fails first. Also removes staging files that runs which died left
    /// in that folder.
    pub fn create(
        spec: OutputSpec,
        geometry: OutputGeometry,
        cancel: CancelFlag,
    ) -> Result<Created, OutputError> {
        let dir = staging::parent_dir(&spec.path);
        if !dir.is_dir() {
            return Err(OutputError::write(
                &spec.path,
                format!(
                    "the folder \"{}\" does not exist; create it or pick another --out",
                    dir.display()
                ),
            ));
        }
        if spec.path.is_dir() {
            return Err(OutputError::write(
                &spec.path,
                "is a folder; give a file name such as masked.tif",
            ));
        }
        let removed_stale = staging::remove_stale(&dir);
        let writer = match spec.writer {
            WriterKind::Chunked => {
                OutputWriter::Chunked(ChunkedWriter::create(spec, &geometry, cancel)?)
            }
            WriterKind::Gdal => OutputWriter::Gdal(GdalWriter::create(spec, geometry, cancel)?),
        };
        Ok(Created {
            writer,
            removed_stale,
        })
    }

    pub fn spec(&self) -> &OutputSpec {
        match self {
            OutputWriter::Chunked(w) => w.spec(),
            OutputWriter::Gdal(w) => w.spec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A full disk is said with what to do, and the system's error stays reachable under it.
    #[test]
    fn a_full_disk_keeps_the_io_error_as_its_source() {
        let dir = Path::new("out");
        let full = std::io::Error::from_raw_os_error(libc::ENOSPC);
        let err = OutputError::write(&dir.join("m.tif"), WriteCause::io(full, dir));
        let text = crate::error::chain(&err);
        assert!(
            text.starts_with(
                "writing \"out/m.tif\": no space left on the device that holds \"out\"; free \
                 some space or pick another --out: "
            ),
            "{text}"
        );
        let io = std::error::Error::source(&err)
            .and_then(|cause| cause.source())
            .and_then(|e| e.downcast_ref::<std::io::Error>())
            .expect("the io error is under the cause");
        assert_eq!(io.raw_os_error(), Some(libc::ENOSPC));
        // A message that already says the system's words does not say them twice.
        let denied = std::io::Error::from_raw_os_error(libc::EACCES);
        let said = denied.to_string();
        let err = OutputError::write(&dir.join("m.tif"), WriteCause::io(denied, dir));
        assert_eq!(crate::error::chain(&err).matches(&said).count(), 1);
    }
}
