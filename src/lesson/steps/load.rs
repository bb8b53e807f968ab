//! Load: serial vs chunked, from the local disk or through a (simulated) network.

use crate::network::NetworkSim;
use crate::profile::stats::Timing;
use crate::profile::units;
use crate::task::Stage;

use super::super::chart::{Bar, Bars, Chart, Unit};
use super::super::dask::{self, DaskFigures, Origin};
use super::super::verdict::{Comparison, noise_words, with_spread};
use super::{
    CHUNKSCOPE, Context, Figure, LessonError, StepResult, Trial, Words, named, no_time, timing,
};

/// Where the load read from.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Source {
    LocalDisk,
    /// The catalog itself is remote.
    Remote,
    /// The lesson's simulated network, started for the step; its settings as shown.
    Simulated(String),
}

impl Source {
    fn how(&self) -> String {
        match self {
            Source::LocalDisk => "from the local disk".into(),
            Source::Remote => "through the network the catalog is read through".into(),
            Source::Simulated(spec) => format!("through a simulated network ({spec})"),
        }
    }

    fn networked(&self) -> bool {
        !matches!(self, Source::LocalDisk)
    }
}

/// What the load step measured.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct LoadFigures {
    pub source: Source,
    pub threads: usize,
    pub cores: usize,
    /// The chunk request, as written (`blocks:2`).
    pub chunks: String,
    pub chunk_count: usize,
    /// Bytes the load decodes.
    pub decoded_bytes: u64,
    pub serial_load: Timing,
    /// Chunked on one thread: chunking apart from the threads.
    pub one_load: Timing,
    pub chunked_load: Timing,
    pub serial_total: Timing,
    pub chunked_total: Timing,
    /// Chunked x N against serial: the conclusion's.
    pub load: Comparison,
    /// Its two parts: chunked x 1 against serial (the chunked path itself), chunked x N
    /// against chunked x 1 (the threads).
    pub one: Comparison,
    pub threads_gain: Comparison,
    /// Dask's load recorded on the full demo, where this is it (local disk only).
    pub dask: Option<DaskFigures>,
}

pub(super) fn run(
    ctx: &Context<'_>,
    out: &mut StepResult,
    network: bool,
) -> Result<(), LessonError> {
    let f = measure(ctx, network)?;
    out.say(describe(&f));
    let label = format!("chunked x {}", f.threads);
    out.timings = vec![
        named("serial load", f.serial_load),
        named(format!("{label} load"), f.chunked_load),
        named("chunked x 1 load", f.one_load),
    ];
    out.comparisons = vec![f.load, f.one, f.threads_gain];
    Ok(())
}

fn measure(ctx: &Context<'_>, network: bool) -> Result<LoadFigures, LessonError> {
    // The simulated server lives as long as this step's runs.
    let mut _sim: Option<NetworkSim> = None;
    let (scene, source) = if ctx.scene.is_remote() {
        (ctx.scene.clone(), Source::Remote)
    } else if !network {
        (ctx.scene.clone(), Source::LocalDisk)
    } else {
        let (sim, scene) = ctx.serve()?;
        _sim = Some(sim);
        (scene, Source::Simulated(ctx.lesson.network.to_string()))
    };
    let chunks = ctx.lesson.chunks();
    // Chunked on one thread too, so that the speedup splits into what chunking does on its
    // own and what the threads add.
    let one_thread = Trial::chunked(
        chunks.clone(),
        std::num::NonZeroUsize::MIN,
        super::Schedule::Staged,
    );
    let trials = [Trial::serial(), one_thread, ctx.chunked(chunks.clone())];
    let (samples, _) = ctx.rounds(&scene, &trials)?;
    let n = ctx.threads().get();
    let serial_load = timing(&samples[0], Some(Stage::Load))?;
    let one_load = timing(&samples[1], Some(Stage::Load))?;
    let chunked_load = timing(&samples[2], Some(Stage::Load))?;
    let label = format!("chunked x {n}");
    let load = Comparison::of("serial", &serial_load, &label, &chunked_load).ok_or_else(no_time)?;
    let one =
        Comparison::of("serial", &serial_load, "chunked x 1", &one_load).ok_or_else(no_time)?;
    let threads_gain =
        Comparison::of("chunked x 1", &one_load, &label, &chunked_load).ok_or_else(no_time)?;
    let dask = match source {
        Source::LocalDisk => ctx.dask_figures(&chunks, &ctx.plan(&chunks)?, dask::LESSON_SIDE)?,
        _ => None,
    };
    Ok(LoadFigures {
        source,
        threads: n,
        cores: std::thread::available_parallelism().map_or(1, |c| c.get()),
        chunks: chunks.to_string(),
        chunk_count: samples[2]
            .first()
            .and_then(|r| r.plan.as_ref())
            .map_or(0, |p| p.chunk_count),
        decoded_bytes: samples[0].first().map_or(0, |r| r.load_bytes),
        serial_total: timing(&samples[0], None)?,
        chunked_total: timing(&samples[2], None)?,
        serial_load,
        one_load,
        chunked_load,
        load,
        one,
        threads_gain,
        dask,
    })
}

/// The speedup split into chunking on one thread and the threads, each with its noise.
fn split(f: &LoadFigures) -> String {
    format!(
        "Of the {}: chunked x 1 against serial {} ({}), {} threads against one {} ({}).",
        units::ratio(f.load.speedup.value),
        units::ratio(f.one.speedup.value),
        noise_words(&f.one),
        f.threads,
        units::ratio(f.threads_gain.speedup.value),
        noise_words(&f.threads_gain)
    )
}

/// Why the local load went as it did, from the split.
fn local_cause(f: &LoadFigures) -> String {
    let n = f.threads;
    let beyond_threads = f.load.decided() && f.load.speedup.value > n as f64;
    let chunking_helped = f.one.decided() && f.one.speedup.value > 1.0;
    if beyond_threads && chunking_helped {
        format!(
            "More than {n}x on {n} threads: chunk by chunk on one thread already beat serial's \
             one whole-array read, so part of the gain is not the threads'. Why is not measured \
             here (possibly the whole read's large buffer, or GDAL's block cache)."
        )
    } else if beyond_threads {
        format!(
            "More than {n}x on {n} threads is more than threads give, and one thread chunk by \
             chunk did not beat serial beyond the noise: the excess is in the runs' spread or \
             the machine's load."
        )
    } else if f.load.decided() {
        format!(
            "From the local disk loading is decompression on the CPU, which {n} threads on {} \
             core(s) share: no run of the slower side beat a run of the faster.",
            f.cores
        )
    } else {
        "The runs overlap, so this machine cannot tell the two apart: more cores or a slower \
         source (next step) make the difference."
            .to_string()
    }
}

fn dask_line(d: &DaskFigures, load_ns: u64) -> String {
    let chunks = match d.origin {
        Origin::Recorded => "other chunks than above",
        Origin::Live { .. } => "the same chunks as above",
    };
    format!(
        "Dask, {}: load {} around persist() at {} px chunks (graph and scheduling included; \
         {}, {chunks}).",
        d.label,
        units::duration_ns(load_ns),
        d.side,
        d.basis()
    )
}

pub(super) fn describe(f: &LoadFigures) -> Words {
    let n = f.threads;
    let c = &f.load;
    let label = format!("chunked x {n}");
    let how = f.source.how();
    let (serial, chunked) = (
        units::duration_ns(f.serial_load.median_ns),
        units::duration_ns(f.chunked_load.median_ns),
    );
    let speedup = units::ratio(c.speedup.value);
    let faster = c.decided() && c.speedup.value > 1.0;
    let dask = f.dask.as_ref().and_then(|d| Some((d, d.load_wall_ns?)));
    let explanation = if f.source.networked() {
        vec![
            if faster {
                format!(
                    "Read {how}, serial loading is one long download per file at one \
                     connection's pace; {n} threads keep {n} requests in flight, so they wait \
                     for the network together."
                )
            } else {
                format!(
                    "Read {how}, chunks were not faster here: this scene decodes to only {}, \
                     so its {} chunks wait out the latency of each request more than the \
                     bandwidth; a full-size scene is download-bound.",
                    units::bytes(f.decoded_bytes),
                    f.chunk_count
                )
            },
            split(f),
            format!(
                "The lesson measured 40.5 s -> 12.6 s (3.2x) on 4 Dask workers against a real \
                 server; here the load went {serial} -> {chunked} ({speedup}) on {n} threads."
            ),
        ]
    } else {
        let mut lines = vec![local_cause(f), split(f)];
        lines.extend(dask.map(|(d, ns)| dask_line(d, ns)));
        lines
    };
    let mut figures = vec![
        Figure::new("read", how),
        Figure::new("serial load", with_spread(&f.serial_load)).charted(),
        Figure::new("chunked x 1 load", with_spread(&f.one_load)).charted(),
        Figure::new(
            format!("{label} load ({})", f.chunks),
            with_spread(&f.chunked_load),
        )
        .charted(),
        Figure::new(
            "load speedup",
            units::speedup(c.speedup.value, c.speedup.error),
        ),
        Figure::new("serial total", with_spread(&f.serial_total)),
        Figure::new(format!("{label} total"), with_spread(&f.chunked_total)),
    ];
    let mut bars = vec![
        Bar::timing("load", "serial", &f.serial_load),
        Bar::timing("", "chunked x 1", &f.one_load),
        Bar::timing("", format!("chunked x {n}"), &f.chunked_load),
    ];
    if let Some((d, ns)) = dask {
        figures.push(
            Figure::new(
                format!("Dask {} px, {}", d.side, d.origin_word()),
                format!(
                    "load {} around persist(), {}",
                    units::duration_ns(ns),
                    d.basis()
                ),
            )
            .charted(),
        );
        let short = match d.origin {
            Origin::Recorded => "rec.",
            Origin::Live { .. } => "live",
        };
        bars.push(Bar::single("", format!("Dask {short} {} px", d.side), ns));
    }
    Words {
        big: vec![
            Figure::new("serial load", serial),
            Figure::new(format!("x{n} load"), chunked),
            Figure::new("speedup", speedup),
        ],
        figures,
        conclusion: format!("{CHUNKSCOPE}, load: {}", c.verdict),
        explanation,
        decided: Some(c.decided()),
        chart: Some(Chart::Bars(Bars {
            title: format!(
                "load, {} runs each: median, fastest…slowest",
                f.serial_load.n
            ),
            unit: Unit::Nanoseconds,
            bars,
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::super::ms;
    use super::*;

    fn figures(source: Source, serial: &[u64], one: &[u64], chunked: &[u64]) -> LoadFigures {
        let (s, o, c) = (ms(serial), ms(one), ms(chunked));
        LoadFigures {
            source,
            threads: 2,
            cores: 2,
            chunks: "blocks:2".into(),
            chunk_count: 9,
            decoded_bytes: 120_000_000,
            serial_total: ms(&[3000, 3100, 3050]),
            chunked_total: ms(&[2000, 2100, 2050]),
            load: Comparison::of("serial", &s, "chunked x 2", &c).unwrap(),
            one: Comparison::of("serial", &s, "chunked x 1", &o).unwrap(),
            threads_gain: Comparison::of("chunked x 1", &o, "chunked x 2", &c).unwrap(),
            serial_load: s,
            one_load: o,
            chunked_load: c,
            dask: None,
        }
    }

    #[test]
    fn local_and_beyond_the_noise_by_the_threads() {
        let w = describe(&figures(
            Source::LocalDisk,
            &[400, 410, 405],
            &[395, 415, 405],
            &[200, 210, 205],
        ));
        assert_eq!(w.decided, Some(true));
        assert!(
            w.conclusion.starts_with(
                "chunkscope's engine, load: chunked x 2 is 1.98x faster than serial, beyond \
                 the noise"
            ),
            "{}",
            w.conclusion
        );
        assert_eq!(
            w.explanation[0],
            "From the local disk loading is decompression on the CPU, which 2 threads on 2 \
             core(s) share: no run of the slower side beat a run of the faster."
        );
        assert_eq!(
            w.explanation[1],
            "Of the 1.98x: chunked x 1 against serial 1.00x (inside the noise), 2 threads \
             against one 1.98x (beyond the noise)."
        );
        assert_eq!(w.big[2].value, "1.98x");
        let Some(Chart::Bars(bars)) = &w.chart else {
            panic!("{:?}", w.chart)
        };
        assert_eq!(bars.bars.len(), 3);
        assert_eq!(
            (bars.bars[0].min, bars.bars[0].max),
            (400_000_000, 410_000_000)
        );
    }

    #[test]
    fn more_than_n_times_on_n_threads_is_split_into_chunking_and_threads() {
        let w = describe(&figures(
            Source::LocalDisk,
            &[500, 505, 510],
            &[350, 355, 360],
            &[200, 205, 210],
        ));
        assert!(w.conclusion.contains("2.46x faster"), "{}", w.conclusion);
        assert!(
            w.explanation[0].starts_with(
                "More than 2x on 2 threads: chunk by chunk on one thread already beat serial's"
            ),
            "{}",
            w.explanation[0]
        );
        assert!(w.explanation[0].contains("Why is not measured here (possibly"));
        assert!(w.explanation[1].contains("chunked x 1 against serial 1.42x (beyond the noise)"));
    }

    #[test]
    fn more_than_n_times_without_chunking_helping_is_put_down_to_the_noise() {
        let w = describe(&figures(
            Source::LocalDisk,
            &[450, 500, 505],
            &[420, 480, 520],
            &[200, 205, 210],
        ));
        assert!(
            w.explanation[0].starts_with("More than 2x on 2 threads is more than threads give"),
            "{}",
            w.explanation[0]
        );
    }

    #[test]
    fn local_and_inside_the_noise() {
        let w = describe(&figures(
            Source::LocalDisk,
            &[400, 410, 405],
            &[400, 410, 405],
            &[390, 420, 400],
        ));
        assert_eq!(w.decided, Some(false));
        assert!(
            w.conclusion.contains("inside the noise"),
            "{}",
            w.conclusion
        );
        assert!(w.explanation[0].starts_with("The runs overlap, so this machine cannot tell"));
    }

    #[test]
    fn dask_recorded_load_is_labelled_as_recorded() {
        let mut f = figures(
            Source::LocalDisk,
            &[400, 410, 405],
            &[395, 415, 405],
            &[200, 210, 205],
        );
        f.dask = dask::recorded(1024, dask::RECORDED_GRID, dask::RECORDED_GRID);
        let w = describe(&f);
        assert!(
            w.explanation[2].starts_with("Dask, recorded (dask 2026.8.0, 2 threads"),
            "{}",
            w.explanation[2]
        );
        assert!(w.explanation[2].contains("load 694 ms around persist() at 1024 px chunks"));
        let Some(Chart::Bars(bars)) = &w.chart else {
            panic!()
        };
        assert_eq!(bars.bars[3].label, "Dask rec. 1024 px");
    }

    #[test]
    fn dask_live_load_says_it_ran_here_on_the_same_chunks() {
        let mut f = figures(
            Source::LocalDisk,
            &[400, 410, 405],
            &[395, 415, 405],
            &[200, 210, 205],
        );
        let rec = dask::recorded(1024, dask::RECORDED_GRID, dask::RECORDED_GRID);
        f.dask = rec.map(|d| dask::as_live(d, 2048, 3));
        let w = describe(&f);
        let line = &w.explanation[2];
        assert!(
            line.starts_with("Dask, live (dask 2026.8.0, 2 threads"),
            "{line}"
        );
        assert!(
            line.ends_with(
                "(graph and scheduling included; median of 3 live runs, the same chunks as above)."
            ),
            "{line}"
        );
        assert!(!line.contains("recording"), "{line}");
        assert!(w.figures.iter().any(|f| f.label == "Dask 2048 px, live"
            && f.value.ends_with("around persist(), median of 3 live runs")));
        let Some(Chart::Bars(bars)) = &w.chart else {
            panic!()
        };
        assert_eq!(bars.bars[3].label, "Dask live 2048 px");
    }

    #[test]
    fn through_a_network_and_faster() {
        let sim = Source::Simulated("50 ms, 25 MiB/s".into());
        let w = describe(&figures(
            sim,
            &[4000, 4100, 4050],
            &[3000, 3010, 3020],
            &[1500, 1510, 1505],
        ));
        assert!(w.explanation[0].starts_with(
            "Read through a simulated network (50 ms, 25 MiB/s), serial loading is one long \
             download"
        ));
        assert!(w.explanation[1].starts_with("Of the 2.69x: chunked x 1 against serial"));
        assert_eq!(
            w.explanation[2],
            "The lesson measured 40.5 s -> 12.6 s (3.2x) on 4 Dask workers against a real \
             server; here the load went 4.05 s -> 1.50 s (2.69x) on 2 threads."
        );
        assert_eq!(
            w.figures[0].value,
            "through a simulated network (50 ms, 25 MiB/s)"
        );
    }

    #[test]
    fn through_a_network_and_not_faster() {
        let w = describe(&figures(
            Source::Remote,
            &[400, 410, 405],
            &[400, 410, 405],
            &[390, 420, 400],
        ));
        assert_eq!(
            w.explanation[0],
            "Read through the network the catalog is read through, chunks were not faster \
             here: this scene decodes to only 114 MiB, so its 9 chunks wait out the latency of \
             each request more than the bandwidth; a full-size scene is download-bound."
        );
    }
}
