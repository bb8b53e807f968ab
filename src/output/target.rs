//! Where a run may write its output: the checks made before anything is written, and the
//! default output name. Pure std, no GDAL; runs on the front end's thread.
//!
//! The writer builds the output under a temporary name and renames it over the target, so
//! whatever stands at the target path is replaced. [`check_output`] therefore refuses:
//!
//! - anything that is not a regular file (a device such as `/dev/null`, a FIFO, a socket,
//!   a folder): a rename would put a regular file in its place;
//! - a file the run reads (an input asset) or the catalog it came from, compared by
//!   device and inode, so another name for the same file (a hard link, `..` in the path)
//!   is caught too.
//!
//! Symbolic links are **followed**: a link at the target path is left as it is and the file
//! it points to receives the output, as a shell's `>` would write through it. The checks
//! above apply to the file the link leads to, so a link to an input or to `/dev/null` is
//! refused like the file itself. Replacing an existing regular file (an earlier output) is
//! allowed; [`OutputTarget::replaces`] says so, for the front ends to tell the user.

use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Most links followed from the target path before giving up (Linux's own limit).
const MAX_LINKS: usize = 40;

/// Longest item id kept in a file name, in bytes; file systems allow 255 per name.
const MAX_ID_BYTES: usize = 200;

/// A file the output must never replace, named for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protected {
    /// What the file is, e.g. `asset "visual" of item "S2A_..."` or `the catalog`.
    pub what: String,
    pub path: PathBuf,
}

impl Protected {
    pub fn new(what: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        Self {
            what: what.into(),
            path: path.into(),
        }
    }
}

/// Where the output goes, after links are followed and the checks passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputTarget {
    /// The file the writer should produce (the link's target when the path was a link).
    pub path: PathBuf,
    /// The path as asked, when it was a symbolic link (`path` is where it leads).
    pub via_link: Option<PathBuf>,
    /// Whether a regular file already stands at `path` and will be replaced.
    pub replaces: bool,
}

/// Why the output may not be written where asked. Messages quote the path and say what
/// to do instead.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error(
        "refusing to write the output to \"{path}\": it is {kind}, not a regular file, and \
         the output would replace it; choose a file path for the output",
        path = .path.display()
    )]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error(
        "refusing to write the output to \"{path}\": it is {what}, which this run reads, and \
         the output would replace it; choose another output path",
        path = .path.display()
    )]
    Protected { path: PathBuf, what: String },
    #[error(
        "refusing to write the output to \"{path}\": its file name is {bytes} bytes long, \
         more than the 255 file systems allow; choose a shorter name",
        path = .path.display()
    )]
    NameTooLong { path: PathBuf, bytes: usize },
    #[error(
        "cannot check the output path \"{path}\": {io}; choose another output path",
        path = .path.display()
    )]
    Io { path: PathBuf, io: io::Error },
}

/// Checks that the output may be written to `out` (see the module docs) and returns where
/// it goes. `protected` lists the run's inputs and its catalog; entries that do not exist
/// as local files (remote assets, a catalog URL) are skipped.
pub fn check_output(out: &Path, protected: &[Protected]) -> Result<OutputTarget, TargetError> {
    if let Some(name) = out.file_name()
        && name.len() > super::staging::NAME_MAX
    {
        return Err(TargetError::NameTooLong {
            path: out.to_path_buf(),
            bytes: name.len(),
        });
    }
    let resolved = follow_links(out)?;
    let via_link = (resolved != out).then(|| out.to_path_buf());
    let meta = match std::fs::metadata(&resolved) {
        Ok(meta) => meta,
        // Nothing stands there yet: nothing can be replaced. (The folder is checked by the
        // writer, which says what to do when it is missing or is a file.)
        Err(e) if nothing_there(&e) => {
            return Ok(OutputTarget {
                path: resolved,
                via_link,
                replaces: false,
            });
        }
        Err(io) => return Err(TargetError::Io { path: resolved, io }),
    };
    if let Some(kind) = non_regular_kind(&meta.file_type()) {
        return Err(TargetError::NotRegular {
            path: out.to_path_buf(),
            kind,
        });
    }
    for p in protected {
        let Ok(theirs) = std::fs::metadata(&p.path) else {
            continue;
        };
        if (theirs.dev(), theirs.ino()) == (meta.dev(), meta.ino()) {
            return Err(TargetError::Protected {
                path: out.to_path_buf(),
                what: p.what.clone(),
            });
        }
    }
    Ok(OutputTarget {
        path: resolved,
        via_link,
        replaces: true,
    })
}

/// `path` with symbolic links at its end followed (a dangling link gives the path it
/// points to). Links inside the folders above are left to the OS: they change where the
/// file is, not what stands at its name.
fn follow_links(path: &Path) -> Result<PathBuf, TargetError> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&current).map_err(|io| TargetError::Io {
                    path: current.clone(),
                    io,
                })?;
                current = match current.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            Ok(_) => return Ok(current),
            Err(e) if nothing_there(&e) => return Ok(current),
            Err(io) => return Err(TargetError::Io { path: current, io }),
        }
    }
    Err(TargetError::Io {
        path: path.to_path_buf(),
        io: io::Error::other(format!("more than {MAX_LINKS} symbolic links in a row")),
    })
}

/// Whether a failed lookup means that nothing stands at the path: it is missing, or a
/// folder above it is a file.
fn nothing_there(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

/// What a file type is in words, or `None` for a regular file.
fn non_regular_kind(t: &std::fs::FileType) -> Option<&'static str> {
    if t.is_file() {
        None
    } else if t.is_dir() {
        Some("a folder")
    } else if t.is_char_device() {
        Some("a character device")
    } else if t.is_block_device() {
        Some("a block device")
    } else if t.is_fifo() {
        Some("a named pipe (FIFO)")
    } else if t.is_socket() {
        Some("a socket")
    } else {
        Some("not a regular file")
    }
}

/// An item id as a file-name part: ASCII letters, digits, `-`, `_` and `.` kept, anything
/// else (path separators, spaces, control characters) replaced by `_`; no leading dot (so
/// neither a hidden file nor `..`); at most 200 bytes; `unnamed` for an empty id.
///
/// Catalogs come from elsewhere: an id is data, never a path.
pub fn file_safe(id: &str) -> String {
    let mut out: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with('.') {
        out.replace_range(..1, "_");
    }
    out.truncate(MAX_ID_BYTES);
    if out.is_empty() {
        "unnamed".to_string()
    } else {
        out
    }
}

/// The output's default file name for an item: `masked-<item>.tif`, the id made safe with
/// [`file_safe`].
pub fn default_output_name(item_id: &str) -> String {
    format!("masked-{}.tif", file_safe(item_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_become_safe_file_names() {
        assert_eq!(
            default_output_name("S2A_31UFU_20230601_0_L2A"),
            "masked-S2A_31UFU_20230601_0_L2A.tif"
        );
        assert_eq!(default_output_name(""), "masked-unnamed.tif");
        assert_eq!(file_safe("../../etc/x"), "_._.._etc_x");
        assert_eq!(file_safe(".hidden"), "_hidden");
        assert_eq!(file_safe("a b/c\\d\u{0}é"), "a_b_c_d__");
        assert_eq!(file_safe(&"x".repeat(300)).len(), MAX_ID_BYTES);
        for id in ["..", ".", "/", "a/../../b"] {
            let name = file_safe(id);
            assert!(
                !name.contains('/') && !name.starts_with('.'),
                "{id} -> {name}"
            );
        }
    }

    #[test]
    fn refuses_devices_folders_and_protected_files() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("visual.tif");
        std::fs::write(&input, b"pixels").unwrap();
        let protected = [Protected::new("asset \"visual\"", &input)];

        let err = check_output(Path::new("/dev/null"), &protected).unwrap_err();
        assert!(err.to_string().contains("a character device"), "{err}");
        let err = check_output(dir.path(), &protected).unwrap_err();
        assert!(err.to_string().contains("it is a folder"), "{err}");

        let err = check_output(&input, &protected).unwrap_err();
        assert!(err.to_string().contains("asset \"visual\""), "{err}");
        // Another name for the same file.
        let dotted = dir.path().join(".").join("visual.tif");
        assert!(check_output(&dotted, &protected).is_err());
        let hard = dir.path().join("hard.tif");
        std::fs::hard_link(&input, &hard).unwrap();
        assert!(check_output(&hard, &protected).is_err());

        let earlier = dir.path().join("masked.tif");
        std::fs::write(&earlier, b"old output").unwrap();
        let t = check_output(&earlier, &protected).unwrap();
        assert!(t.replaces);
        let fresh = check_output(&dir.path().join("new.tif"), &protected).unwrap();
        assert!(!fresh.replaces && fresh.via_link.is_none());
        // Under a file: left to the writer, which names the missing folder.
        let under_file = check_output(&input.join("x.tif"), &protected).unwrap();
        assert!(!under_file.replaces);
    }

    #[test]
    fn links_are_followed_and_checked_at_their_target() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("visual.tif");
        std::fs::write(&input, b"pixels").unwrap();
        let protected = [Protected::new("asset \"visual\"", &input)];

        let to_input = dir.path().join("to-input.tif");
        std::os::unix::fs::symlink("visual.tif", &to_input).unwrap();
        assert!(check_output(&to_input, &protected).is_err());
        let to_null = dir.path().join("to-null.tif");
        std::os::unix::fs::symlink("/dev/null", &to_null).unwrap();
        assert!(check_output(&to_null, &protected).is_err());

        let dangling = dir.path().join("later.tif");
        std::os::unix::fs::symlink("real/out.tif", &dangling).unwrap();
        let t = check_output(&dangling, &protected).unwrap();
        assert_eq!(t.path, dir.path().join("real/out.tif"));
        assert_eq!(t.via_link.as_deref(), Some(dangling.as_path()));

        let looped = dir.path().join("loop.tif");
        std::os::unix::fs::symlink("loop.tif", &looped).unwrap();
        let err = check_output(&looped, &protected).unwrap_err();
        assert!(err.to_string().contains("symbolic links"), "{err}");
    }
}
