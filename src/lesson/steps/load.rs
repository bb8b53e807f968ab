//! Load: serial vs chunked, from the local disk or through a (simulated) network.

use crate::network::NetworkSim;
use crate::profile::stats::Timing;
use crate::profile::units;
use crate::task::Stage;

use super::super::verdict::{Comparison, with_spread};
use super::{Context, Figure, LessonError, StepResult, Trial, Words, named, no_time, timing};

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
    pub chunked_load: Timing,
    pub serial_total: Timing,
    pub chunked_total: Timing,
    /// Chunked load against serial load.
    pub load: Comparison,
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
    ];
    out.comparisons = vec![f.load];
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
    let trials = [Trial::serial(), ctx.chunked(chunks.clone())];
    let (samples, _) = ctx.rounds(&scene, &trials)?;
    let n = ctx.threads().get();
    let serial_load = timing(&samples[0], Some(Stage::Load))?;
    let chunked_load = timing(&samples[1], Some(Stage::Load))?;
    let load = Comparison::of(
        "serial",
        &serial_load,
        &format!("chunked x {n}"),
        &chunked_load,
    )
    .ok_or_else(no_time)?;
    Ok(LoadFigures {
        source,
        threads: n,
        cores: std::thread::available_parallelism().map_or(1, |c| c.get()),
        chunks: chunks.to_string(),
        chunk_count: samples[1]
            .first()
            .and_then(|r| r.plan.as_ref())
            .map_or(0, |p| p.chunk_count),
        decoded_bytes: samples[0].first().map_or(0, |r| r.load_bytes),
        serial_total: timing(&samples[0], None)?,
        chunked_total: timing(&samples[1], None)?,
        serial_load,
        chunked_load,
        load,
    })
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
            format!(
                "The lesson measured 40.5 s -> 12.6 s (3.2x) on 4 Dask workers against a real \
                 server; here the load went {serial} -> {chunked} ({speedup}) on {n} threads."
            ),
        ]
    } else {
        vec![
            format!(
                "From the local disk loading is decompression on the CPU: {n} threads on {} \
                 core(s) took it from {serial} to {chunked} ({speedup}).",
                f.cores
            ),
            if c.decided() {
                // Which side won is the conclusion's to say (one sentence, from the
                // verdict); this line only says why it can be trusted.
                "The difference is larger than the spread of the runs: no run of the slower \
                 one beat a run of the faster."
                    .to_string()
            } else {
                "The runs overlap, so this machine cannot tell the two apart: more cores or a \
                 slower source (next step) make the difference."
                    .to_string()
            },
        ]
    };
    Words {
        big: vec![
            Figure::new("serial load", serial),
            Figure::new(format!("x{n} load"), chunked),
            Figure::new("speedup", speedup),
        ],
        figures: vec![
            Figure::new("read", how),
            Figure::new("serial load", with_spread(&f.serial_load)),
            Figure::new(
                format!("{label} load ({})", f.chunks),
                with_spread(&f.chunked_load),
            ),
            Figure::new(
                "load speedup",
                units::speedup(c.speedup.value, c.speedup.error),
            ),
            Figure::new("serial total", with_spread(&f.serial_total)),
            Figure::new(format!("{label} total"), with_spread(&f.chunked_total)),
        ],
        conclusion: format!("load: {}", c.verdict),
        explanation,
        decided: Some(c.decided()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::ms;
    use super::*;

    fn figures(source: Source, serial: &[u64], chunked: &[u64]) -> LoadFigures {
        let (s, c) = (ms(serial), ms(chunked));
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
            serial_load: s,
            chunked_load: c,
        }
    }

    #[test]
    fn local_and_beyond_the_noise() {
        let w = describe(&figures(
            Source::LocalDisk,
            &[400, 410, 405],
            &[200, 210, 205],
        ));
        assert_eq!(w.decided, Some(true));
        assert!(
            w.conclusion
                .starts_with("load: chunked x 2 is 1.98x faster than serial, beyond the noise"),
            "{}",
            w.conclusion
        );
        assert_eq!(
            w.explanation[0],
            "From the local disk loading is decompression on the CPU: 2 threads on 2 core(s) \
             took it from 405 ms to 205 ms (1.98x)."
        );
        assert!(w.explanation[1].starts_with("The difference is larger than the spread"));
        assert_eq!(w.big[2].value, "1.98x");
    }

    #[test]
    fn local_and_inside_the_noise() {
        let w = describe(&figures(
            Source::LocalDisk,
            &[400, 410, 405],
            &[390, 420, 400],
        ));
        assert_eq!(w.decided, Some(false));
        assert!(
            w.conclusion.contains("inside the noise"),
            "{}",
            w.conclusion
        );
        assert!(w.explanation[1].starts_with("The runs overlap, so this machine cannot tell"));
    }

    #[test]
    fn through_a_network_and_faster() {
        let sim = Source::Simulated("50 ms, 25 MiB/s".into());
        let w = describe(&figures(sim, &[4000, 4100, 4050], &[1500, 1510, 1505]));
        assert!(w.explanation[0].starts_with(
            "Read through a simulated network (50 ms, 25 MiB/s), serial loading is one long \
             download"
        ));
        assert_eq!(
            w.explanation[1],
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
        let w = describe(&figures(Source::Remote, &[400, 410, 405], &[390, 420, 400]));
        assert_eq!(
            w.explanation[0],
            "Read through the network the catalog is read through, chunks were not faster \
             here: this scene decodes to only 114 MiB, so its 9 chunks wait out the latency of \
             each request more than the bandwidth; a full-size scene is download-bound."
        );
    }
}
