//! Mask and write, serial vs chunked, and the output's lock.

use crate::profile::stats::Timing;
use crate::profile::units;
use crate::task::Stage;

use super::super::verdict::{Comparison, with_spread};
use super::{
    Context, Figure, LessonError, StepResult, Trial, Words, WriterLock, named, no_time, timing,
};

/// One stage, serial and chunked.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct StagePair {
    pub stage: Stage,
    pub serial: Timing,
    pub chunked: Timing,
    /// Chunked against serial.
    pub comparison: Comparison,
}

/// What the mask-and-write step measured.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct MaskWriteFigures {
    pub threads: usize,
    pub mask: StagePair,
    pub write: StagePair,
    /// The lock of the chunked run whose write stage took the median time.
    pub lock: WriterLock,
}

pub(super) fn run(ctx: &Context<'_>, out: &mut StepResult) -> Result<(), LessonError> {
    let f = measure(ctx)?;
    out.say(describe(&f));
    let label = format!("chunked x {}", f.threads);
    for p in [&f.mask, &f.write] {
        let name = p.stage.name();
        out.timings
            .push(named(format!("{name} serial"), p.serial.clone()));
        out.timings
            .push(named(format!("{name} {label}"), p.chunked.clone()));
    }
    // The conclusion's comparison (write) first, as in every step.
    out.comparisons = vec![f.write.comparison, f.mask.comparison];
    out.lock = Some(f.lock);
    Ok(())
}

fn measure(ctx: &Context<'_>) -> Result<MaskWriteFigures, LessonError> {
    let n = ctx.threads().get();
    let label = format!("chunked x {n}");
    let trials = [Trial::serial(), ctx.chunked(ctx.lesson.chunks())];
    let (samples, extra) = ctx.rounds(&ctx.scene, &trials)?;
    let pair = |stage: Stage| -> Result<StagePair, LessonError> {
        let serial = timing(&samples[0], Some(stage))?;
        let chunked = timing(&samples[1], Some(stage))?;
        let comparison = Comparison::of("serial", &serial, &label, &chunked).ok_or_else(no_time)?;
        Ok(StagePair {
            stage,
            serial,
            chunked,
            comparison,
        })
    };
    let mut locks = extra[1].locks.clone();
    locks.sort_by_key(|l| l.write_wall_ns);
    let lock = locks
        .get(locks.len() / 2)
        .cloned()
        .ok_or_else(|| LessonError::Failed {
            what: "the write stage".into(),
            reason: "the chunked runs had no write tasks".into(),
        })?;
    Ok(MaskWriteFigures {
        threads: n,
        mask: pair(Stage::Mask)?,
        write: pair(Stage::Write)?,
        lock,
    })
}

pub(super) fn describe(f: &MaskWriteFigures) -> Words {
    let label = format!("chunked x {}", f.threads);
    let lock = &f.lock;
    let mut figures = Vec::new();
    for p in [&f.mask, &f.write] {
        let name = p.stage.name();
        figures.push(Figure::new(
            format!("{name} serial"),
            with_spread(&p.serial),
        ));
        figures.push(Figure::new(
            format!("{name} {label}"),
            with_spread(&p.chunked),
        ));
    }
    figures.push(Figure::new(
        "lock",
        format!(
            "held {} in all ({} of the write stage's {}), waited for {} (median run)",
            units::duration_ns(lock.held_ns),
            units::share(lock.held_share()),
            units::duration_ns(lock.write_wall_ns),
            units::duration_ns(lock.waited_ns)
        ),
    ));
    for h in &lock.holders {
        figures.push(Figure::new(
            format!("  worker {}", h.worker),
            format!(
                "{} writes, held the lock {}, waited {}",
                h.writes,
                units::duration_ns(h.held_ns),
                units::duration_ns(h.waited_ns)
            ),
        ));
    }
    let (mask, write) = (&f.mask.comparison, &f.write.comparison);
    let serialised = lock.held_share() >= 0.5;
    Words {
        big: vec![
            Figure::new("mask speedup", units::ratio(mask.speedup.value)),
            Figure::new("write speedup", units::ratio(write.speedup.value)),
            Figure::new("lock held", units::share(lock.held_share())),
        ],
        figures,
        conclusion: format!("write: {}", write.verdict),
        explanation: vec![
            format!(
                "Masking is arithmetic on each chunk, independent of the others: {}.",
                mask.verdict
            ),
            format!(
                "Every write takes the output's one lock (the lesson's Lock()): it was held {} \
                 of the write stage, and workers waited {} in all to take it.",
                units::share(lock.held_share()),
                units::duration_ns(lock.waited_ns)
            ),
            if serialised {
                "Most of the write stage ran under the lock: writes were serialised, one \
                 worker at a time."
                    .to_string()
            } else {
                "Tiles are compressed outside the lock and only placing them in the file is \
                 serialised, so writes overlap; with GDAL's writer (w in the setup) the whole \
                 write holds it."
                    .to_string()
            },
        ],
        decided: Some(write.decided()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::ms;
    use super::*;
    use crate::lesson::lock::LockHolder;

    fn pair(stage: Stage, serial: &[u64], chunked: &[u64]) -> StagePair {
        let (s, c) = (ms(serial), ms(chunked));
        StagePair {
            stage,
            comparison: Comparison::of("serial", &s, "chunked x 2", &c).unwrap(),
            serial: s,
            chunked: c,
        }
    }

    fn figures(held_ms: u64) -> MaskWriteFigures {
        let holder = |worker| LockHolder {
            worker,
            writes: 2,
            held_ns: held_ms * 500_000,
            waited_ns: 3_000_000,
        };
        MaskWriteFigures {
            threads: 2,
            mask: pair(Stage::Mask, &[100, 101, 102], &[50, 51, 52]),
            write: pair(Stage::Write, &[900, 910, 905], &[600, 610, 605]),
            lock: WriterLock {
                holders: vec![holder(0), holder(1)],
                held_ns: held_ms * 1_000_000,
                waited_ns: 6_000_000,
                write_wall_ns: 600_000_000,
            },
        }
    }

    #[test]
    fn writes_overlap_when_the_lock_is_held_briefly() {
        let w = describe(&figures(60));
        assert!(
            w.conclusion
                .starts_with("write: chunked x 2 is 1.50x faster than serial, beyond the noise"),
            "{}",
            w.conclusion
        );
        assert_eq!(
            w.explanation[1],
            "Every write takes the output's one lock (the lesson's Lock()): it was held 10 % of \
             the write stage, and workers waited 6.00 ms in all to take it."
        );
        assert!(w.explanation[2].starts_with("Tiles are compressed outside the lock"));
        assert_eq!(w.figures[5].label, "  worker 0");
        assert_eq!(w.big[2].value, "10 %");
    }

    #[test]
    fn writes_are_serialised_when_the_lock_is_held_most_of_the_stage() {
        let w = describe(&figures(450));
        assert!(w.explanation[2].starts_with("Most of the write stage ran under the lock"));
    }
}
