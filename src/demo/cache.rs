//! The demo scene the app uses when the user names no catalog: one full-size scene in the
//! user's cache folder (or `$CHUNKSCOPE_DEMO_DIR`), generated on first use.
//!
//! Generation is atomic: the scene is written into a hidden sibling folder
//! `.<name>.partial-<pid>` and renamed into place when complete, so an interrupted run never
//! leaves a folder that looks complete; partial folders of processes that are gone are
//! removed on the next run. Runs on the caller's thread.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{CATALOG_FILE, DemoError, DemoProgress, DemoSpec, MARKER_FILE, generate, marker_text};

/// Environment variable naming the folder of the default demo scene.
pub const DEMO_DIR_ENV: &str = "CHUNKSCOPE_DEMO_DIR";

/// Version of the scene's content; part of the default folder's name, so that a changed
/// generator never reuses an old scene.
pub(crate) const GENERATOR_VERSION: u32 = 1;

/// The folder of the default demo scene: `$CHUNKSCOPE_DEMO_DIR` if set, else
/// `<cache dir>/chunkscope/demo-10980-v1/` (e.g. `~/.cache/chunkscope/...` on Linux), or the
/// same under the temporary folder on systems without a cache folder.
pub fn default_dir() -> PathBuf {
    dir_from(std::env::var_os(DEMO_DIR_ENV), dirs::cache_dir())
}

/// [`default_dir`] from the variable's value and the platform's cache folder, apart so that
/// the rule is testable without changing the test process's environment.
fn dir_from(env: Option<std::ffi::OsString>, cache: Option<PathBuf>) -> PathBuf {
    if let Some(dir) = env.filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    cache
        .unwrap_or_else(std::env::temp_dir)
        .join("chunkscope")
        .join(format!("demo-{}-v{GENERATOR_VERSION}", DemoSpec::FULL_SIZE))
}

/// The `search.json` of the default demo scene (full size, three items) in [`default_dir`],
/// generated there first if it is missing or incomplete (about a minute; `progress` is only
/// called when generating).
pub fn default_catalog(progress: &(dyn Fn(DemoProgress) + Sync)) -> Result<PathBuf, DemoError> {
    ensure(DemoSpec::full(), &default_dir(), progress)
}

/// The `search.json` of scene `spec` in `dir`: returned at once if `dir` holds that scene
/// complete, else generated atomically (see the module notes). An existing `dir` is only
/// replaced when it is empty or an older chunkscope demo scene.
pub fn ensure(
    spec: DemoSpec,
    dir: &Path,
    progress: &(dyn Fn(DemoProgress) + Sync),
) -> Result<PathBuf, DemoError> {
    let spec = DemoSpec::new(spec.size, spec.items)?;
    if let Some(catalog) = complete(spec, dir) {
        return Ok(catalog);
    }
    if state(dir) == State::Foreign {
        return Err(DemoError::NotADemoDir {
            path: dir.to_path_buf(),
        });
    }
    let (parent, name) = match (dir.parent(), dir.file_name()) {
        (Some(parent), Some(name)) => (parent, name.to_string_lossy().into_owned()),
        _ => {
            return Err(DemoError::NotADemoDir {
                path: dir.to_path_buf(),
            });
        }
    };
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    fs::create_dir_all(parent)
        .map_err(|e| DemoError::io("create the folder", parent, Some(spec), e))?;
    let prefix = format!(".{name}.partial-");
    remove_stale_partials(parent, &prefix);

    let partial = parent.join(format!("{prefix}{}", std::process::id()));
    if partial.exists() {
        fs::remove_dir_all(&partial)
            .map_err(|e| DemoError::io("clean", &partial, Some(spec), e))?;
    }
    if let Err(e) = generate(spec, &partial, progress) {
        let _ = fs::remove_dir_all(&partial);
        return Err(e);
    }
    install(spec, &partial, dir)
}

/// Moves the complete scene in `partial` to `dir`.
fn install(spec: DemoSpec, partial: &Path, dir: &Path) -> Result<PathBuf, DemoError> {
    if fs::rename(partial, dir).is_ok() {
        return Ok(dir.join(CATALOG_FILE));
    }
    // `dir` exists and is not empty: another process may have finished first, or it holds
    // an older scene of ours.
    if let Some(catalog) = complete(spec, dir) {
        let _ = fs::remove_dir_all(partial);
        return Ok(catalog);
    }
    if state(dir) == State::Foreign {
        let _ = fs::remove_dir_all(partial);
        return Err(DemoError::NotADemoDir {
            path: dir.to_path_buf(),
        });
    }
    let replace = fs::remove_dir_all(dir).and_then(|()| fs::rename(partial, dir));
    replace.map_err(|e| {
        let _ = fs::remove_dir_all(partial);
        DemoError::io("replace", dir, Some(spec), e)
    })?;
    Ok(dir.join(CATALOG_FILE))
}

/// The catalog in `dir` if `dir` holds scene `spec` complete: the marker matches, the
/// catalog parses and lists `spec.items` items, and every asset it names is a file.
fn complete(spec: DemoSpec, dir: &Path) -> Option<PathBuf> {
    if fs::read_to_string(dir.join(MARKER_FILE)).ok()? != marker_text(spec) {
        return None;
    }
    let catalog = dir.join(CATALOG_FILE);
    let json: Value = serde_json::from_slice(&fs::read(&catalog).ok()?).ok()?;
    let features = json.get("features")?.as_array()?;
    if features.len() != spec.items {
        return None;
    }
    for feature in features {
        for asset in feature.get("assets")?.as_object()?.values() {
            let href = asset.get("href")?.as_str()?;
            let size = fs::metadata(dir.join(href.trim_start_matches("./")))
                .ok()?
                .len();
            if size == 0 {
                return None;
            }
        }
    }
    Some(catalog)
}

#[derive(Debug, PartialEq, Eq)]
enum State {
    Missing,
    Empty,
    /// Made by chunkscope (has the marker), maybe incomplete or of another spec.
    Ours,
    /// Anything else: never deleted.
    Foreign,
}

fn state(dir: &Path) -> State {
    if !dir.exists() {
        return State::Missing;
    }
    if !dir.is_dir() {
        return State::Foreign;
    }
    if dir.join(MARKER_FILE).is_file() {
        return State::Ours;
    }
    match fs::read_dir(dir).map(|mut entries| entries.next().is_none()) {
        Ok(true) => State::Empty,
        _ => State::Foreign,
    }
}

/// Removes `<parent>/<prefix><pid>` folders left by processes that no longer run.
fn remove_stale_partials(parent: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(prefix)) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if pid != std::process::id() && !process_alive(pid, &entry.path()) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Whether process `pid` still runs (and may be writing `path`).
#[cfg(unix)]
fn process_alive(pid: u32, _path: &Path) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    if unsafe { libc::kill(pid, 0) } == 0 {
        return true;
    }
    io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Without a cheap liveness check, a partial folder untouched for a day is taken as stale.
#[cfg(not(unix))]
fn process_alive(_pid: u32, path: &Path) -> bool {
    let age = fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok());
    age.is_none_or(|age| age.as_secs() < 24 * 3600)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_folder_is_the_variable_else_a_versioned_name_in_the_cache() {
        let cache = Some(PathBuf::from("cache"));
        assert_eq!(
            dir_from(Some("elsewhere".into()), cache.clone()),
            PathBuf::from("elsewhere")
        );
        let versioned = Path::new("cache/chunkscope/demo-10980-v1");
        assert_eq!(
            dir_from(Some("".into()), cache.clone()),
            versioned,
            "empty is unset"
        );
        assert_eq!(dir_from(None, cache), versioned);
        assert_eq!(
            dir_from(None, None),
            std::env::temp_dir().join("chunkscope/demo-10980-v1")
        );
    }

    use super::*;

    #[test]
    fn default_dir_names_size_and_version() {
        let dir = default_dir();
        if std::env::var_os(DEMO_DIR_ENV).is_none() {
            assert!(
                dir.ends_with("chunkscope/demo-10980-v1"),
                "{}",
                dir.display()
            );
        }
    }

    #[test]
    fn stale_partials_of_dead_processes_are_removed() {
        let tmp =
            std::env::temp_dir().join(format!("chunkscope-demo-stale-{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        // PID 0x7FFF_FFF0 is beyond any pid_max; our own PID is alive.
        let dead = tmp.join(".scene.partial-2147483632");
        let alive = tmp.join(format!(".scene.partial-{}", std::process::id()));
        let other = tmp.join(".other.partial-2147483632");
        for d in [&dead, &alive, &other] {
            fs::create_dir_all(d).unwrap();
        }
        remove_stale_partials(&tmp, ".scene.partial-");
        assert!(!dead.exists());
        assert!(alive.exists());
        assert!(other.exists());
        let _ = fs::remove_dir_all(&tmp);
    }
}
