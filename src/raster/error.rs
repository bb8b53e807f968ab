//! What can go wrong opening and reading a raster, as values a caller can match on: each
//! error names the file (and the asset), and keeps what caused it as its source.

use std::fmt;

use gdal::errors::GdalError;

use super::Window;

/// What a user can do about a local file GDAL cannot open.
const FIX: &str = "check the catalog's href, or generate the demo again with `chunkscope demo`";

/// Errors of the raster layer; each names the file (and the asset, when known). GDAL's
/// errors are boxed: they are large, and a raster error travels in every read's result.
///
/// The message says what was being done to which file; why is its source, so show these
/// with [`crate::error::chain`] (`to_string()` leaves the reason out).
#[derive(Debug, thiserror::Error)]
pub enum RasterError {
    #[error("cannot open {what} \"{path}\"")]
    Open {
        what: String,
        path: String,
        #[source]
        cause: OpenCause,
    },
    #[error("refusing to read {what} \"{path}\"")]
    Refused {
        what: String,
        path: String,
        #[source]
        cause: Refusal,
    },
    #[error("{what} \"{path}\": has no raster bands")]
    NoBands { what: String, path: String },
    /// GDAL could not give a band of an open file.
    #[error("{what} \"{path}\"")]
    Band {
        what: String,
        path: String,
        #[source]
        source: Box<GdalError>,
    },
    #[error("reading {what} \"{path}\" at {window}")]
    Read {
        what: String,
        path: String,
        window: Window,
        #[source]
        cause: ReadCause,
    },
}

/// Why GDAL could not open a file, found by looking at the file (or asking its server):
/// GDAL says nothing at all when no driver recognises a file (an empty one, or text).
#[derive(Debug, thiserror::Error)]
pub enum OpenCause {
    #[error("no such file; {FIX}")]
    Missing,
    #[error("it is a folder, not a raster file; {FIX}")]
    Folder,
    #[error("cannot read it: {0}")]
    Unreadable(#[source] std::io::Error),
    #[error("not a raster GDAL can read: the file is empty (0 bytes); {FIX}")]
    Empty,
    /// No driver of `drivers` (the source drivers, comma-separated) took the file.
    #[error(
        "not a raster GDAL can read: no driver chunkscope reads assets with ({drivers}) \
         recognises its content (`--allow-driver NAME` allows another GDAL driver for a \
         catalog you trust); {FIX}"
    )]
    Unrecognised { drivers: String },
    /// A driver took the file and failed on it.
    #[error("not a raster GDAL can read: {gdal}; {FIX}")]
    NotRaster {
        #[source]
        gdal: GdalMessage,
    },
    /// A file over the network: `explanation` is what the server's answer means for the
    /// user, worded from GDAL's message and, when that says nothing, from asking the server
    /// (see `network::remote::explain`); one-off text by nature.
    #[error("{explanation}")]
    Remote {
        explanation: String,
        #[source]
        gdal: GdalMessage,
    },
    /// A path in one of GDAL's virtual file systems (`/vsis3/`, ...): GDAL's word alone.
    #[error("{}", said_or_not(.gdal))]
    Virtual {
        #[source]
        gdal: GdalMessage,
    },
}

/// Why an asset path is refused before GDAL sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "GDAL virtual file systems are not read from a catalog (they can reach any file, \
         archive or address); give the asset as a local path or an http(s), s3 or gs URL"
    )]
    VirtualFileSystem,
    #[error("inline XML is not a raster file; give the asset as a path or a URL")]
    InlineXml,
}

/// Why a window could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadCause {
    /// GDAL could not give a band of the file.
    #[error("{0}")]
    Band(#[source] Box<GdalError>),
    /// A read through gdal-sys failed: GDAL's last message on the thread (there is no error
    /// value), explained when the file is remote.
    #[error("{message}")]
    Gdal { message: String },
    #[error("outside the raster ({rows} rows x {cols} cols, {bands} bands)")]
    Outside {
        rows: usize,
        cols: usize,
        bands: usize,
    },
    /// The caller asked for something the reader cannot do with its buffer or window (a
    /// bug of the caller, not the file's): the text says which, one-off by nature.
    #[error("{reason}")]
    Request { reason: String },
    #[error("{0}")]
    Shape(#[source] ndarray::ShapeError),
}

/// GDAL's message, or that it gave none.
fn said_or_not(gdal: &GdalMessage) -> &str {
    if gdal.message().is_empty() {
        "GDAL cannot open it (it gave no reason)"
    } else {
        gdal.message()
    }
}

/// GDAL's error for a call that failed, said as GDAL's own message: the error's `Display`
/// wraps it in the C method and error class ("GDAL method 'GDALOpenEx' returned a NULL
/// pointer"), which tells a user nothing. The error itself is [`GdalMessage::error`].
#[derive(Debug)]
pub struct GdalMessage(String, Box<GdalError>);

impl GdalMessage {
    pub(crate) fn new(error: GdalError) -> Self {
        let message = match &error {
            GdalError::NullPointer { msg, .. } | GdalError::CplError { msg, .. } => msg.clone(),
            other => other.to_string(),
        };
        Self(message, Box::new(error))
    }

    /// GDAL's message, empty when GDAL gave none.
    pub fn message(&self) -> &str {
        &self.0
    }

    /// The error GDAL returned.
    pub fn error(&self) -> &GdalError {
        &self.1
    }
}

impl fmt::Display for GdalMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GdalMessage {}
