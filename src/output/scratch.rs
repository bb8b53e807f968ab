//! Scratch folders in the temp folder (the runs' outputs of sweep, compare, bench, memory
//! and screenshot), named after their owner so that a later run can tell a dead owner's
//! and remove it: `chunkscope-COMMAND-pPID-tSTART`, START being the process's start time in
//! clock ticks since boot (field 22 of `/proc/PID/stat`). A folder is removed when its
//! process is gone or when its PID now belongs to a process that started at another time.
//! A folder is removed when dropped; after a SIGKILL, by the next command that makes one.

use std::io;
use std::path::{Path, PathBuf};

const PREFIX: &str = "chunkscope-";

/// Commands whose folders, named `chunkscope-COMMAND-PID` before the start time was part of
/// the name, are removed too once their process is gone.
const LEGACY: [&str; 5] = ["sweep", "compare", "bench", "memory", "screenshot"];

/// A scratch folder owned by this process, removed when dropped.
#[derive(Debug)]
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// Removes stale scratch folders (see the module docs), then makes this process's for
    /// `command` in the temp folder.
    pub fn create(command: &str) -> io::Result<Self> {
        let base = std::env::temp_dir();
        remove_stale(&base);
        let dir = base.join(name(command, std::process::id(), own_start()));
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The name of a scratch folder of `command` owned by process `pid` started at `start`.
fn name(command: &str, pid: u32, start: Option<u64>) -> String {
    format!(
        "{PREFIX}{command}-p{pid}-t{}",
        start.map_or("0".to_string(), |s| s.to_string())
    )
}

/// The owner a scratch folder's name states: (pid, start time, 0 when unknown), or
/// `None` when the name is not a scratch folder's.
fn owner(name: &str) -> Option<(u32, Option<u64>)> {
    let rest = name.strip_prefix(PREFIX)?;
    let mut parts = rest.rsplitn(3, '-');
    let (last, middle) = (parts.next()?, parts.next()?);
    if let (Some(t), Some(p), Some(_command)) = (
        last.strip_prefix('t'),
        middle.strip_prefix('p'),
        parts.next(),
    ) && let (Ok(start), Ok(pid)) = (t.parse::<u64>(), p.parse::<u32>())
    {
        return Some((pid, (start != 0).then_some(start)));
    }
    // `chunkscope-COMMAND-PID`, as earlier versions named them.
    let (command, pid) = rest.rsplit_once('-')?;
    LEGACY
        .contains(&command)
        .then(|| pid.parse().ok().map(|pid| (pid, None)))?
}

/// Whether the owner `(pid, start)` is still running.
fn owner_alive(pid: u32, start: Option<u64>) -> bool {
    match (start_time(pid), start) {
        (Some(now), Some(then)) => now == then,
        (Some(_), None) => true,
        (None, _) => {
            // No /proc (or no such process): ask the kernel whether the PID exists.
            let Ok(pid) = libc::pid_t::try_from(pid) else {
                return false;
            };
            // SAFETY: signal 0 only checks that the process exists.
            let rc = unsafe { libc::kill(pid, 0) };
            rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
        }
    }
}

/// This process's start time, if the system says.
fn own_start() -> Option<u64> {
    start_time(std::process::id())
}

/// Field 22 of `/proc/PID/stat` (start time in clock ticks since boot). The command name
/// (field 2) may hold spaces and parentheses, so fields are counted after its last `)`.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    // Fields 3.. follow; field 22 is the 20th of them.
    after.split_whitespace().nth(19)?.parse().ok()
}

/// Removes the scratch folders in `base` whose owner is gone, and only folders this user
/// owns; returns their names.
pub fn remove_stale(base: &Path) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(base) else {
        return Vec::new();
    };
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((pid, start)) = owner(&name) else {
            continue;
        };
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != uid || pid == std::process::id() {
            continue;
        }
        if !owner_alive(pid, start) && std::fs::remove_dir_all(entry.path()).is_ok() {
            removed.push(name);
        }
    }
    removed.sort();
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_pid_and_start_time() {
        assert_eq!(owner(&name("sweep", 42, Some(7))), Some((42, Some(7))));
        assert_eq!(owner(&name("my-cmd", 42, None)), Some((42, None)));
        assert_eq!(owner("chunkscope-memory-123"), Some((123, None)));
        assert_eq!(owner("chunkscope-out"), None);
        assert_eq!(owner("chunkscope-demo-7"), None);
        assert!(owner_alive(std::process::id(), own_start()));
        // Start times come from /proc (Linux); elsewhere only the PID is checked.
        #[cfg(target_os = "linux")]
        {
            assert!(own_start().is_some());
            let wrong_start = own_start().map(|s| s + 1);
            assert!(!owner_alive(std::process::id(), wrong_start));
        }
    }

    #[test]
    fn stale_folders_are_removed_live_ones_kept() {
        let base = tempfile::tempdir().unwrap();
        // PID 1 runs for good: a folder naming it with another start time is a dead
        // owner's whose PID was reused; with its real start time, a live owner's.
        let reused = base.path().join(name("bench", 1, Some(u64::MAX)));
        let live = base.path().join(name("memory", 1, start_time(1)));
        let not_ours = base.path().join("chunkscope-out");
        for d in [&reused, &live, &not_ours] {
            std::fs::create_dir_all(d.join("x")).unwrap();
        }
        let removed = remove_stale(base.path());
        assert!(
            !reused.exists() && live.exists() && not_ours.exists(),
            "{removed:?}"
        );
    }
}
