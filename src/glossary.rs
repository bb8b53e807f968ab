//! The words the screens, the reports and the README use, each defined once in one line:
//! the TUI's `?` overlay lists them, and a test keeps the README's "Terms" section the
//! same text. The definitions follow how the engine measures (see `profile::overhead`,
//! `profile::stats`, `chunks`). Plain data; no I/O.

/// One term and what it means, in our own words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Term {
    pub term: &'static str,
    pub meaning: &'static str,
}

const fn t(term: &'static str, meaning: &'static str) -> Term {
    Term { term, meaning }
}

/// Every term, grouped: the data, the work, time, overhead parts, memory, statistics.
pub const TERMS: &[Term] = &[
    // The data and its chunks.
    t(
        "block",
        "the COG's internal tile (e.g. 1024 x 1024), the unit GDAL decodes",
    ),
    t(
        "overview level",
        "a smaller copy stored in the COG; level 0 halves each side (visual 10 m -> 20 m)",
    ),
    t(
        "chunk",
        "the window (bands, rows, cols) chunkscope schedules as one task per stage",
    ),
    t(
        "aligned",
        "chunk rows and cols are whole blocks (the last row and column excepted)",
    ),
    t(
        "blocks touched",
        "the blocks a chunk's window overlaps; GDAL decodes each of them for it",
    ),
    t(
        "read amplification",
        "decoded block samples / chunk samples; above 1 when chunks straddle blocks or split a pixel-interleaved block's bands. *Planned*: what a reader that decodes per task pays (the plan's figure); *measured*: what the run decoded (1.00 with shared blocks)",
    ),
    t(
        "block store",
        "the decoded blocks that shared-blocks runs keep for chunks still to come (`--blocks shared`, the default); each is let go after its last chunk",
    ),
    // The work.
    t(
        "task",
        "one stage (load, mask or write) applied to one chunk",
    ),
    t(
        "help",
        "an idle worker encoding tiles another worker's write task completed: busy time, drawn ▚ on its lane, not a task",
    ),
    t(
        "finalize",
        "the closing step: the COG laid out from encoded tiles (or GDAL's COG copy)",
    ),
    t(
        "serial",
        "whole-array reads on one thread, like the lesson's .load()",
    ),
    t(
        "chunked x N",
        "the chunks on a pool of N threads, each with its own GDAL handles (the lesson's lock=False)",
    ),
    t(
        "staged",
        "all loads, a barrier, all masks, a barrier, all writes (persist, then compute)",
    ),
    t(
        "fused",
        "each chunk goes load -> mask -> write on one worker, with no barrier",
    ),
    t(
        "barrier",
        "no task of the next stage starts before every task of this stage has ended",
    ),
    t(
        "task graph",
        "the tasks a run will execute and what each waits for, known before it runs",
    ),
    t(
        "writer lock",
        "the output's one writer (the lesson's Lock()): GDAL's writes hold it in turn; chunked writes append under it",
    ),
    // Time.
    t(
        "wall",
        "time on the run's clock; per stage, from its first task's start to its last task's end",
    ),
    t("busy", "time inside a stage's tasks, summed over workers"),
    t(
        "capacity",
        "wall x threads: the worker time a run had, up to its last load, mask or write",
    ),
    t(
        "overhead",
        "capacity minus time inside load, mask and write tasks, split into the parts below",
    ),
    // Overhead parts, as `profile::overhead` accounts them.
    t(
        "handle open",
        "a worker opening its own GDAL datasets before its first task",
    ),
    t(
        "start-up",
        "before a worker's first task, other than opening handles (pool start, dispatch)",
    ),
    t(
        "writer wait",
        "time waiting for the writer lock, not counted as write work",
    ),
    t(
        "buffers",
        "allocating a chunk's pixel buffers and touching their pages before its load; buffers peak: most bytes held at once",
    ),
    t(
        "barrier idle",
        "workers waiting at a staged barrier for the stage's last tasks",
    ),
    t(
        "tail idle",
        "workers with nothing left to do while the last tasks finish (waiting for tiles to help with included)",
    ),
    t(
        "scheduling",
        "gaps between a worker's consecutive tasks: taking work off the queue, bookkeeping, the rest",
    ),
    // Rates and ratios.
    t(
        "utilisation",
        "CPU time / (wall x threads); per core, the share of time the core was busy",
    ),
    t(
        "others",
        "cores other processes held on average during a run: all cores' busy time (steal included) less this process's CPU time, over wall",
    ),
    t(
        "disturbed",
        "a run during which others held over a quarter of a core: marked ⚠ on every screen, and verdicts built on it say so",
    ),
    t(
        "speedup",
        "serial wall / chunked wall, against the latest serial run with the same settings",
    ),
    t(
        "efficiency",
        "speedup / threads; above 100 % is marked ↑ (superlinear), never shown as normal",
    ),
    t(
        "MB/s",
        "decoded pixel megabytes per second of the stage's wall",
    ),
    t(
        "heat",
        "a done chunk's shade on the map: its busy time, log scale from fastest to slowest",
    ),
    // Memory.
    t(
        "RSS",
        "resident memory of the process: chunk buffers, GDAL's block cache, output tiles",
    ),
    t(
        "GDAL cache",
        "GDAL's block cache (GDAL_CACHEMAX) of decoded blocks; bounded by g or --gdal-cache",
    ),
    // Statistics.
    t(
        "p50 / p90 / p99",
        "task durations that 50, 90 or 99 % of a stage's tasks stayed under",
    ),
    t(
        "median ± σ",
        "over repeated runs: the middle run and the standard deviation, with min…max and n",
    ),
    t(
        "ETA",
        "an estimate from the task rate so far, never a measurement",
    ),
];

/// The terms as the README's "Terms" section lists them, one `- **term**: meaning.` line
/// each.
pub fn markdown() -> String {
    TERMS
        .iter()
        .map(|t| format!("- **{}**: {}.\n", t.term, t.meaning))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_term_the_issue_names_is_defined_once() {
        let named = [
            "capacity",
            "utilisation",
            "efficiency",
            "barrier idle",
            "tail idle",
            "buffers",
            "writer wait",
            "scheduling",
            "heat",
            "read amplification",
            "staged",
            "fused",
            "overview level",
        ];
        for n in named {
            assert_eq!(TERMS.iter().filter(|t| t.term == n).count(), 1, "{n}");
        }
        let mut seen = std::collections::HashSet::new();
        for t in TERMS {
            assert!(seen.insert(t.term), "{} twice", t.term);
            assert!(
                !t.meaning.ends_with('.'),
                "{}: markdown() adds the stop",
                t.term
            );
        }
        // The overhead parts are the engine's own names.
        let parts = crate::profile::overhead::OverheadParts::default().named();
        for (name, _) in parts {
            assert!(seen.contains(name), "overhead part {name:?} has no term");
        }
    }

    #[test]
    fn the_readme_terms_are_these_terms() {
        let readme = include_str!("../README.md");
        let start = readme
            .find("## Terms\n")
            .expect("README has a Terms section");
        let section = &readme[start..];
        let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 4)];
        assert!(
            section.contains(&markdown()),
            "the README's Terms section must list exactly these lines:\n{}",
            markdown()
        );
    }
}
