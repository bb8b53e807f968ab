//! The file layer: what a request path may reach (inside the served folder, nothing
//! hidden, links resolved) and the files `hyper-staticfile` reads, opened and read with
//! std in small pieces on the server's own thread.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper_staticfile::vfs::{FileAccess, FileOpener, FileWithMetadata, IntoFileAccess};
use tokio::io::AsyncSeek;

/// `path` with its links resolved, if it exists, lies under `real_root` and has no hidden
/// part below it (a visible link to a hidden file counts as hidden).
pub(super) fn inside(real_root: &Path, path: &Path) -> Option<PathBuf> {
    let real = std::fs::canonicalize(path).ok()?;
    let below = real.strip_prefix(real_root).ok()?;
    let hidden = below
        .components()
        .any(|c| c.as_os_str().to_string_lossy().starts_with('.'));
    (!hidden).then_some(real)
}

/// Opens files under the root with std: reads then happen on the server's own thread.
pub(super) struct SyncOpener {
    pub(super) real_root: PathBuf,
    pub(super) piece: usize,
}

impl FileOpener for SyncOpener {
    type File = SyncFile;
    type Future = std::future::Ready<io::Result<FileWithMetadata<SyncFile>>>;

    fn open(&self, path: &Path) -> Self::Future {
        // hyper-staticfile has sanitized `path` (no `..`, relative); `handle` has checked
        // the request path, and this checks again what is really opened (an index file
        // hyper-staticfile looks for in a folder, for one).
        let open = || -> io::Result<FileWithMetadata<SyncFile>> {
            let real = inside(&self.real_root, &self.real_root.join(path))
                .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
            let file = std::fs::File::open(real)?;
            let meta = file.metadata()?;
            Ok(FileWithMetadata {
                handle: SyncFile {
                    file,
                    piece: self.piece,
                    position: 0,
                },
                size: meta.len(),
                modified: meta.modified().ok(),
                is_dir: meta.is_dir(),
            })
        };
        std::future::ready(open())
    }
}

pub(super) struct SyncFile {
    file: std::fs::File,
    piece: usize,
    position: u64,
}

impl IntoFileAccess for SyncFile {
    type Output = SyncFile;

    fn into_file_access(self) -> SyncFile {
        self
    }
}

impl AsyncSeek for SyncFile {
    fn start_seek(self: Pin<&mut Self>, pos: SeekFrom) -> io::Result<()> {
        let this = self.get_mut();
        this.position = this.file.seek(pos)?;
        Ok(())
    }

    fn poll_complete(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        Poll::Ready(Ok(self.position))
    }
}

impl FileAccess for SyncFile {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        len: usize,
    ) -> Poll<io::Result<Bytes>> {
        let this = self.get_mut();
        let mut buf = vec![0; len.min(this.piece)];
        let n = this.file.read(&mut buf)?;
        buf.truncate(n);
        this.position += n as u64;
        Poll::Ready(Ok(Bytes::from(buf)))
    }
}
