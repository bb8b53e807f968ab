//! Saving what the Results and Sweep screens show: the runs as JSON (an array of run
//! reports, the report schema) and CSV (one row per run), or the sweep as its JSON and CSV,
//! and the screen as SVG, into one folder under one timestamp. Every file is written under a
//! temporary name and renamed when complete, so a reader never sees half a file. Runs on the
//! UI thread when the session executes [`super::app::Cmd::Export`].

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use chunkscope::pipeline::RunReport;
use chunkscope::profile::history;
use chunkscope::profile::sweep::SweepResult;

/// What to save.
pub enum Content<'a> {
    /// The session's runs (`results-STAMP.*`).
    Runs(&'a [RunReport]),
    /// A sweep (`sweep-STAMP.*`).
    Sweep(&'a SweepResult),
}

/// Writes `content` as JSON and CSV and `svg` beside them in `dir` (created if needed), named
/// `results-YYYYMMDD-HHMMSS` (UTC) or `sweep-...`, with `-2`, `-3`... when a name is taken.
/// Returns the files written, in the order json, csv, svg.
pub fn save(
    dir: &Path,
    content: Content<'_>,
    svg: &str,
    now: SystemTime,
) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create the folder \"{}\": {e}", dir.display()))?;
    let (kind, json, csv) = match content {
        Content::Runs(runs) => {
            if runs.is_empty() {
                return Err("no finished run to save yet".into());
            }
            let json = serde_json::to_string_pretty(runs).map_err(|e| e.to_string())?;
            let mut csv = Vec::new();
            history::write_csv(runs, &mut csv).map_err(|e| e.to_string())?;
            ("results", json, csv)
        }
        Content::Sweep(sweep) => {
            let json = serde_json::to_string_pretty(sweep).map_err(|e| e.to_string())?;
            let mut csv = Vec::new();
            sweep.write_csv(&mut csv).map_err(|e| e.to_string())?;
            ("sweep", json, csv)
        }
    };
    let stamp = timestamp(now);
    let base = (1..1000)
        .map(|n| match n {
            1 => format!("{kind}-{stamp}"),
            n => format!("{kind}-{stamp}-{n}"),
        })
        .find(|b| {
            ["json", "csv", "svg"]
                .iter()
                .all(|ext| !dir.join(format!("{b}.{ext}")).exists())
        })
        .ok_or_else(|| {
            format!(
                "too many saves named {kind}-{stamp} in \"{}\"",
                dir.display()
            )
        })?;
    let mut written = Vec::new();
    for (ext, bytes) in [
        ("json", (json + "\n").into_bytes()),
        ("csv", csv),
        ("svg", svg.as_bytes().to_vec()),
    ] {
        let path = dir.join(format!("{base}.{ext}"));
        write_atomic(&path, &bytes)?;
        written.push(path);
    }
    Ok(written)
}

/// Writes `bytes` to a temporary file beside `path`, then renames it into place.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let result = std::fs::File::create(&tmp)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write \"{}\": {e}", path.display())
    })
}

/// `YYYYMMDD-HHMMSS` in UTC.
pub fn timestamp(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian: Howard Hinnant's
/// `civil_from_days` (https://howardhinnant.github.io/date_algorithms.html).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        assert_eq!(timestamp(UNIX_EPOCH), "19700101-000000");
        // 2000-02-29 12:34:56 UTC: a leap day in a century leap year.
        let t = UNIX_EPOCH + Duration::from_secs(951_827_696);
        assert_eq!(timestamp(t), "20000229-123456");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        assert_eq!(timestamp(t), "20261118-110640");
    }

    #[test]
    fn nothing_to_save_is_an_error_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let err = save(dir.path(), Content::Runs(&[]), "<svg/>", UNIX_EPOCH).unwrap_err();
        assert!(err.contains("no finished run"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
