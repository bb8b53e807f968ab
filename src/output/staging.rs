//! Files that stand under no name until they are complete. On Linux an output is written
//! through an unnamed file (`O_TMPFILE`) in the output's folder and linked into place at
//! the end, so a process that dies, even by SIGKILL, leaves nothing behind. Where that is
//! not possible a dot-named staging file (`.NAME.PID.staging.tif`) is used, removed on
//! error or cancel, and removed by a later run in that folder if its process died. Small
//! files (results, screenshots) are written whole under a temporary name and renamed
//! ([`write_atomic`]).

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The folder a path's file goes into (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Longest file name most file systems allow, in bytes.
pub const NAME_MAX: usize = 255;

/// A dot-named sibling of `final_path` that names this process: `.NAME.PID.KIND.tif`, NAME
/// shortened so that the sibling, and GDAL's `.ovr.tmp` beside it, fit in [`NAME_MAX`]: an
/// output name of 230 bytes is valid, its staging name would not be.
pub fn sibling(final_path: &Path, kind: &str) -> PathBuf {
    let name = final_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output.tif".into());
    let tail = format!(".{}.{kind}.tif", std::process::id());
    let name = shortened(&name, NAME_MAX - ".ovr.tmp".len() - 1 - tail.len());
    parent_dir(final_path).join(format!(".{name}{tail}"))
}

/// `name` cut to at most `max` bytes, on a character boundary.
fn shortened(name: &str, max: usize) -> &str {
    let mut end = name.len().min(max);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// An output file being written: unnamed while it is, named by `persist`.
pub struct StagedFile {
    file: File,
    final_path: PathBuf,
    /// The visible staging name when the file could not be created unnamed.
    named: Option<PathBuf>,
}

impl StagedFile {
    /// A new, empty file in `final_path`'s folder.
    pub fn create(final_path: &Path) -> io::Result<Self> {
        let dir = parent_dir(final_path);
        if let Some(file) = unnamed_in(&dir)? {
            return Ok(Self {
                file,
                final_path: final_path.to_path_buf(),
                named: None,
            });
        }
        let named = sibling(final_path, "staging");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&named)?;
        Ok(Self {
            file,
            final_path: final_path.to_path_buf(),
            named: Some(named),
        })
    }

    pub fn file(&self) -> &File {
        &self.file
    }

    /// A path GDAL can open the file by while it has no name.
    pub fn gdal_path(&self) -> PathBuf {
        match &self.named {
            Some(p) => p.clone(),
            None => PathBuf::from(format!("/proc/self/fd/{}", self.file.as_raw_fd())),
        }
    }

    /// Gives the complete file its final name, replacing what stood there.
    /// Not synced to disk first: the name is atomic against the process dying, as the
    /// lesson's writes are, not against the machine losing power.
    pub fn persist(mut self) -> io::Result<PathBuf> {
        let named = match self.named.take() {
            Some(p) => p,
            None => {
                // An unnamed file cannot be linked over an existing name: link it beside,
                // then rename, which replaces atomically.
                let link = sibling(&self.final_path, "link");
                let _ = std::fs::remove_file(&link);
                link_unnamed(&self.file, &link)?;
                link
            }
        };
        // An earlier output is first moved aside, then dropped on a thread of its own:
        // renaming over it would have ext4 start writing the new file back at once
        // (auto_da_alloc, tens of ms for 90 MB) and free the old file's blocks on the
        // run's path. Neither is this run's write work. The final name is missing only
        // between the two renames; a run that dies there leaves the earlier output aside,
        // under a name the next run in the folder removes.
        let aside = sibling(&self.final_path, "replaced");
        let previous = match std::fs::symlink_metadata(&self.final_path) {
            Ok(m) if m.is_file() => {
                let held = File::open(&self.final_path).ok();
                std::fs::rename(&self.final_path, &aside)
                    .ok()
                    .map(|()| held)
            }
            _ => None,
        };
        if let Err(e) = std::fs::rename(&named, &self.final_path) {
            let _ = std::fs::remove_file(&named);
            if previous.is_some() {
                let _ = std::fs::rename(&aside, &self.final_path);
            }
            return Err(e);
        }
        if let Some(held) = previous {
            let _ = std::fs::remove_file(&aside);
            let _ = std::thread::Builder::new()
                .name("chunkscope-release".into())
                .spawn(move || drop(held));
        }
        Ok(self.final_path.clone())
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if let Some(p) = self.named.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Writes a small file whole: `bytes` go to a dot-named temporary file beside `path`, which
/// is renamed into place once complete, so a reader never sees half a file. For results and
/// screenshots (JSON, CSV, SVG); a raster output goes through [`StagedFile`].
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tail = format!(".tmp-{}", std::process::id());
    let short = shortened(&name, NAME_MAX - 1 - tail.len());
    let tmp = path.with_file_name(format!(".{short}{tail}"));
    let result = File::create(&tmp)
        .and_then(|mut f| {
            io::Write::write_all(&mut f, bytes)?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write \"{}\": {e}", path.display())
    })
}

/// A scratch file in `dir` that vanishes when closed (or when the process dies).
/// Allocates the disk blocks of the first `len` bytes of `file` up front, without changing
/// its size. Writing into allocated blocks is cheaper than letting the file system find
/// them page by page (a third less for the uncompressed GeoTIFF's 90 MB here), and a disk
/// too small fails before any pixel is read. File systems that cannot do it are left to
/// allocate as the bytes come.
pub fn reserve(file: &File, len: u64) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let Ok(len) = libc::off_t::try_from(len) else {
            return Ok(());
        };
        // SAFETY: fallocate only acts on the open descriptor; KEEP_SIZE leaves its length.
        let rc = unsafe { libc::fallocate(file.as_raw_fd(), libc::FALLOC_FL_KEEP_SIZE, 0, len) };
        if rc != 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EOPNOTSUPP | libc::ENOSYS | libc::EINVAL) => Ok(()),
                _ => Err(e),
            };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, len);
    Ok(())
}

pub fn scratch_in(dir: &Path) -> io::Result<File> {
    if let Some(file) = unnamed_in(dir)? {
        return Ok(file);
    }
    let path = dir.join(format!(".chunkscope.{}.scratch.tif", std::process::id()));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(file)
}

/// `Ok(None)` where the file system or kernel has no unnamed files.
fn unnamed_in(dir: &Path) -> io::Result<Option<File>> {
    #[cfg(target_os = "linux")]
    {
        let c = CString::new(dir.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in folder name"))?;
        // SAFETY: a valid C string; the returned descriptor is owned by the File below.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_TMPFILE | libc::O_RDWR | libc::O_CLOEXEC,
                0o666 as libc::c_uint,
            )
        };
        if fd >= 0 {
            // SAFETY: `fd` is a fresh descriptor nobody else owns.
            return Ok(Some(unsafe { File::from_raw_fd(fd) }));
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EOPNOTSUPP) | Some(libc::EISDIR) | Some(libc::EINVAL) => Ok(None),
            _ => Err(err),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = dir;
        Ok(None)
    }
}

#[cfg(target_os = "linux")]
fn link_unnamed(file: &File, to: &Path) -> io::Result<()> {
    let to_c = CString::new(to.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in file name"))?;
    let proc_path = CString::new(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .map_err(|_| io::Error::other("descriptor path"))?;
    // SAFETY: valid C strings; linkat only reads them.
    let rv = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            proc_path.as_ptr(),
            libc::AT_FDCWD,
            to_c.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    if rv == 0 {
        return Ok(());
    }
    let first = io::Error::last_os_error();
    // Without /proc, AT_EMPTY_PATH links the descriptor itself (needs privilege).
    // SAFETY: as above; the empty path with AT_EMPTY_PATH names `file`'s descriptor.
    let rv = unsafe {
        libc::linkat(
            file.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            to_c.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    if rv == 0 { Ok(()) } else { Err(first) }
}

#[cfg(not(target_os = "linux"))]
fn link_unnamed(_file: &File, _to: &Path) -> io::Result<()> {
    Err(io::Error::other("unnamed files are Linux-only"))
}

/// Removes dot-named staging files in `dir` whose process is gone (`.NAME.PID.KIND.tif`,
/// and GDAL's `.ovr.tmp` beside them); returns the names removed.
pub fn remove_stale(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = staging_pid(&name) else {
            continue;
        };
        if pid != std::process::id()
            && !process_alive(pid)
            && std::fs::remove_file(entry.path()).is_ok()
        {
            removed.push(name);
        }
    }
    removed.sort();
    removed
}

/// The PID in a staging file's name, if it is one.
fn staging_pid(name: &str) -> Option<u32> {
    if !name.starts_with('.') {
        return None;
    }
    let stem = name.strip_suffix(".ovr.tmp").unwrap_or(name);
    let parts: Vec<&str> = stem.rsplitn(4, '.').collect();
    // [ "tif", KIND, PID, ".NAME" ]
    match parts.as_slice() {
        [
            "tif",
            "staging" | "partial" | "link" | "scratch" | "replaced",
            pid,
            _,
        ] => pid.parse().ok(),
        _ => None,
    }
}

fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists.
    let rv = unsafe { libc::kill(pid, 0) };
    rv == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn staging_names_carry_their_pid() {
        assert_eq!(staging_pid(".out.tif.123.staging.tif"), Some(123));
        assert_eq!(staging_pid(".out.tif.77.partial.tif.ovr.tmp"), Some(77));
        assert_eq!(staging_pid(".a.b.tif.9.link.tif"), Some(9));
        assert_eq!(staging_pid("out.tif"), None);
        assert_eq!(staging_pid(".hidden.tif"), None);
        assert_eq!(staging_pid(".x.abc.staging.tif"), None);
    }

    #[test]
    fn nothing_has_the_final_name_until_persist() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.tif");
        let staged = StagedFile::create(&out).unwrap();
        staged.file().write_all(b"complete").unwrap();
        staged.file.sync_data().unwrap();
        assert!(!out.exists());
        let listed: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(listed.is_empty(), "an unnamed file lists nothing");
        staged.persist().unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"complete");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_dropped_file_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let staged = StagedFile::create(&dir.path().join("out.tif")).unwrap();
        drop(staged);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn stale_files_of_dead_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        // PID 0x7ffffff0 is above Linux's pid_max, so no such process exists.
        let dead = ".out.tif.2147483632.staging.tif";
        let mine = format!(".out.tif.{}.staging.tif", std::process::id());
        for n in [dead, mine.as_str(), "keep.tif"] {
            std::fs::write(dir.path().join(n), b"x").unwrap();
        }
        assert_eq!(remove_stale(dir.path()), vec![dead.to_string()]);
        assert!(dir.path().join(&mine).exists());
        assert!(dir.path().join("keep.tif").exists());
    }
}
