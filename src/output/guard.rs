//! One guard for every file chunkscope writes: the raster of `run`, the tables and JSON of
//! `sweep`, `bench` and `compare`, the script of `export dask`, screenshots and the TUI's
//! saves. Each front-end site builds a [`WriteGuard`] (usually from the catalog it works
//! on) and asks it before writing, so the rules live here once:
//!
//! - never over a file of the catalog: any asset of any item (also through the simulated
//!   network, where the file behind the URL counts) or the catalog itself;
//! - never over anything but a regular file (a device, a FIFO, a socket, a folder); a FIFO
//!   is refused from its metadata, before anything opens it (opening one blocks);
//! - symbolic links are followed and the file they lead to is checked like the path itself.
//!
//! [`WriteGuard::write`] then writes small files whole under a temporary name
//! ([`super::staging::write_atomic`]), so a half-written file never stands under the name.

use std::path::{Path, PathBuf};

use super::target::{self, OutputTarget, Protected, TargetError};
use crate::catalog::Catalog;
use crate::network::Probe;

/// The files a command must not write over (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct WriteGuard {
    protected: Vec<Protected>,
}

/// Why a file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error("{0}")]
    Io(String),
}

impl WriteGuard {
    /// A guard that protects no file of its own: special files and links are still checked.
    pub fn new() -> Self {
        Self::default()
    }

    /// Protects every local file of `catalog`: each asset of each item and the catalog
    /// itself. With `server` (the simulated network the catalog is read through), the
    /// local files behind its URLs. Remote assets have no local file and are skipped.
    pub fn for_catalog(catalog: &Catalog, server: Option<&Probe>) -> Self {
        let local = |gdal_path: &str| -> Option<PathBuf> {
            server
                .and_then(|s| s.local_file_for(gdal_path))
                .or_else(|| {
                    (!gdal_path.starts_with("/vsi") && !crate::catalog::is_http_url(gdal_path))
                        .then(|| PathBuf::from(gdal_path))
                })
        };
        let mut protected = Vec::new();
        for item in &catalog.items {
            for asset in &item.assets {
                if let Some(path) = local(&asset.gdal_path) {
                    protected.push(Protected::new(
                        format!("asset \"{}\" of item \"{}\"", asset.key, item.id),
                        path,
                    ));
                }
            }
        }
        let catalog_text = catalog.path.to_string_lossy();
        if let Some(path) = local(&catalog_text) {
            protected.push(Protected::new(
                format!("the catalog \"{catalog_text}\""),
                path,
            ));
        }
        Self { protected }
    }

    /// Where a STAC search may be saved as `out`: never over the demo scene's catalog, nor
    /// over a catalog whose assets are files here (a scene someone serves or generated); a
    /// previous search result (remote assets only) may be replaced, as re-running the
    /// lesson's search cell replaces it.
    pub fn for_search_result(out: &Path) -> Self {
        let local_assets = |catalog: &Catalog| {
            catalog.items.iter().flat_map(|i| &i.assets).any(|a| {
                !a.gdal_path.starts_with("/vsi") && !crate::catalog::is_http_url(&a.gdal_path)
            })
        };
        let guard = match Catalog::load(out) {
            Ok(existing) if local_assets(&existing) => Self::for_catalog(&existing, None),
            _ => Self::new(),
        };
        guard.protect(
            "the demo scene's catalog",
            crate::demo::default_dir().join("search.json"),
        )
    }

    /// Also protects `path`, named `what` in messages.
    pub fn protect(mut self, what: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        self.protected.push(Protected::new(what, path));
        self
    }

    /// Checks that `out` may be written and returns where the bytes go (the file a link
    /// leads to). Touches nothing; opens nothing.
    pub fn check(&self, out: &Path) -> Result<OutputTarget, TargetError> {
        target::check_output(out, &self.protected)
    }

    /// Checks `out`, then writes `bytes` there whole (through a temporary name in the same
    /// folder). Returns the path written, the link's target when `out` was a link.
    pub fn write(&self, out: &Path, bytes: &[u8]) -> Result<PathBuf, WriteError> {
        let target = self.check(out)?;
        super::staging::write_atomic(&target.path, bytes).map_err(WriteError::Io)?;
        Ok(target.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifos_are_refused_without_opening_them() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("table.csv");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo reads the NUL-terminated path only.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // Opening a FIFO with no reader would block this test forever.
        let err = WriteGuard::new().write(&fifo, b"x").unwrap_err();
        assert!(err.to_string().contains("FIFO"), "{err}");
    }

    #[test]
    fn writes_through_links_and_never_over_protected_files() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("scl.tif");
        std::fs::write(&input, b"pixels").unwrap();
        let guard = WriteGuard::new().protect("asset \"scl\"", &input);
        assert!(guard.write(&input, b"x").is_err());
        assert_eq!(std::fs::read(&input).unwrap(), b"pixels");
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink("real.json", &link).unwrap();
        let written = guard.write(&link, b"{}").unwrap();
        assert_eq!(written, dir.path().join("real.json"));
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(std::fs::read(&link).unwrap(), b"{}");
    }
}
