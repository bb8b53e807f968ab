//! Each step's result from fixed figures, of the shape the full demo gives on 2 threads,
//! worded by the steps' own describing functions: for drawing the lesson's screens
//! without running anything (screen tests, screenshots). Its item says the figures are
//! fixed, so they cannot pass for a measurement.

use crate::chunks::{ChunkShape, Interleave, RasterLayout};
use crate::experiment::rounds::PlanFigures;
use crate::profile::memory::{MemoryRow, Spread};
use crate::profile::stats::Timing;
use crate::task::{Stage, TaskRecord};

use super::super::dask::{self, RECORDED_GRID};
use super::super::verdict::Comparison;
use super::super::{GraphCounts, NamedTiming, Step, StepResult, WriterLock, lock::LockHolder};
use super::{alignment, auto, graph, load, mask_write, memory, scene, tiny};

/// What the example's item is called on screen.
pub const ITEM: &str = "fixed example figures, not measured";

fn ms(values: &[u64]) -> Timing {
    Timing::from_ns(&values.iter().map(|m| m * 1_000_000).collect::<Vec<_>>())
        .unwrap_or_else(|| Timing::from_ns(&[1]).expect("one value"))
}

fn cmp(a: &str, at: &Timing, b: &str, bt: &Timing) -> Comparison {
    Comparison::of(a, at, b, bt).expect("medians above 0")
}

fn plan(side: usize, chunks: usize, aligned: bool, amplification: f64) -> PlanFigures {
    PlanFigures {
        shape: ChunkShape {
            bands: 3,
            rows: side,
            cols: side,
        },
        chunk_count: chunks,
        chunk_bytes: (3 * side * side) as u64,
        aligned,
        read_amplification: amplification,
        blocks_touched_mean: amplification,
        notices: Vec::new(),
    }
}

fn lock(held_ms: u64, waited_ms: u64, wall_ms: u64) -> WriterLock {
    let holder = |worker| LockHolder {
        worker,
        writes: if worker == 0 { 5 } else { 4 },
        held_ns: held_ms * 500_000,
        waited_ns: waited_ms * 500_000,
    };
    WriterLock {
        holders: vec![holder(0), holder(1)],
        held_ns: held_ms * 1_000_000,
        waited_ns: waited_ms * 1_000_000,
        write_wall_ns: wall_ms * 1_000_000,
    }
}

/// The example result of `step`.
pub(in crate::lesson) fn result(step: Step) -> StepResult {
    let mut out = StepResult {
        step,
        title: step.title().into(),
        claim: step.claim().into(),
        item: ITEM.into(),
        item_is_last: false,
        big: Vec::new(),
        figures: Vec::new(),
        conclusion: String::new(),
        explanation: Vec::new(),
        decided: None,
        comparisons: Vec::new(),
        timings: Vec::new(),
        plans: Vec::new(),
        lock: None,
        memory: Vec::new(),
        graph: None,
        chart: None,
        repeat: 3,
        threads: 2,
    };
    let timed = |out: &mut StepResult, t: &Timing| {
        out.timings.push(NamedTiming {
            label: "example".into(),
            timing: t.clone(),
        })
    };
    let grid = RECORDED_GRID;
    match step {
        Step::Scene => {
            let asset = |name: &str, side: usize, bands: usize, res: f64| scene::Asset {
                name: name.into(),
                cols: side,
                rows: side,
                bands,
                dtype: "uint8".into(),
                resolution_m: Some(res),
                block: Some([1024, 1024]),
                overviews: 4,
                cog: true,
            };
            out.say(scene::describe(&scene::SceneFigures {
                visual: asset("visual", 10980, 3, 10.0),
                scl: asset("SCL", 5490, 1, 20.0),
                blue: Some(asset("B02", 10980, 1, 10.0)),
                grid: (grid, grid),
                visual_overview: Some(0),
                visual_block: [1024, 1024],
                chunks: "blocks:2".into(),
                chunk: (2048, 2048),
            }));
        }
        Step::LoadLocal | Step::LoadNetwork => {
            let network = step == Step::LoadNetwork;
            let (s, o, c) = if network {
                (
                    ms(&[4100, 4180, 4250]),
                    ms(&[4000, 4090, 4150]),
                    ms(&[1500, 1530, 1580]),
                )
            } else {
                (
                    ms(&[410, 430, 455]),
                    ms(&[300, 310, 330]),
                    ms(&[185, 195, 205]),
                )
            };
            let f = load::LoadFigures {
                source: if network {
                    load::Source::Simulated("latency 50 ms, 25 MiB/s a connection".into())
                } else {
                    load::Source::LocalDisk
                },
                threads: 2,
                cores: 2,
                chunks: "blocks:2".into(),
                chunk_count: 9,
                decoded_bytes: 120_560_400,
                serial_total: ms(&[3100, 3200, 3300]),
                chunked_total: ms(&[2200, 2300, 2400]),
                load: cmp("serial", &s, "chunked x 2", &c),
                one: cmp("serial", &s, "chunked x 1", &o),
                threads_gain: cmp("chunked x 1", &o, "chunked x 2", &c),
                serial_load: s,
                one_load: o,
                chunked_load: c,
                dask: (!network)
                    .then(|| dask::recorded(dask::LESSON_SIDE, grid, grid))
                    .flatten(),
            };
            out.say(load::describe(&f));
            timed(&mut out, &f.serial_load);
            out.comparisons = vec![f.load];
        }
        Step::MaskWrite => {
            let pair = |name, s: &[u64], c: &[u64]| {
                let (s, c) = (ms(s), ms(c));
                mask_write::StagePair {
                    name,
                    comparison: cmp("serial", &s, "chunked x 2", &c),
                    serial: s,
                    chunked: c,
                }
            };
            let write = pair("write+close", &[2400, 2460, 2550], &[1400, 1450, 1500]);
            let gdal_write = ms(&[2000, 2080, 2150]);
            let f = mask_write::MaskWriteFigures {
                threads: 2,
                mask: pair("mask", &[100, 107, 150], &[52, 55, 60]),
                writers: cmp(
                    "GDAL's writer",
                    &gdal_write,
                    "chunkscope's writer",
                    &write.chunked,
                ),
                write,
                gdal_write,
                own_lock: lock(160, 12, 1450),
                gdal_lock: lock(1980, 54, 2080),
                dask: dask::recorded(dask::LESSON_SIDE, grid, grid),
            };
            out.say(mask_write::describe(&f));
            timed(&mut out, &f.gdal_write);
            out.comparisons = vec![f.writers];
            out.lock = Some(f.own_lock);
        }
        Step::Graph => {
            let counts = |order, nodes, tasks, barriers, edges| GraphCounts {
                order,
                nodes,
                tasks,
                barriers,
                edges,
            };
            let (build, execute) = (ms(&[2, 2, 3]), ms(&[2700, 2800, 2950]));
            // Nine chunks on two workers: loads, a barrier, masks, a barrier, writes.
            let mut tasks = Vec::new();
            for (k, (stage, each)) in [(Stage::Load, 80), (Stage::Mask, 12), (Stage::Write, 220)]
                .into_iter()
                .enumerate()
            {
                let t0 = [0u64, 400, 520][k];
                for chunk in 0..9u32 {
                    let worker = (chunk % 2) as u16;
                    let start = t0 + u64::from(chunk / 2) * each;
                    tasks.push(TaskRecord::span(
                        chunk,
                        stage,
                        worker,
                        start * 1_000_000,
                        (start + each) * 1_000_000,
                    ));
                }
            }
            let f = graph::GraphFigures {
                threads: 2,
                chunks: "blocks:2".into(),
                shape: (3, 2048, 2048),
                grid: (1, 3, 3),
                staged: counts("staged", 30, 28, 2, 9 * 2 + 9 * 4 + 9),
                fused: counts("fused", 28, 28, 0, 27),
                vs: cmp("building", &build, "executing", &execute),
                build,
                execute,
                tasks,
            };
            out.say(graph::describe(&f));
            timed(&mut out, &f.execute);
            out.comparisons = vec![f.vs];
        }
        Step::TinyChunks => {
            let side = |label: &str, plan, total: &[u64], sched, wait, per_task| tiny::Side {
                label: label.into(),
                plan,
                total: ms(total),
                load: ms(&[700, 720, 760]),
                scheduling_ns: sched,
                write_wait_ns: wait,
                per_task_us: per_task,
                decoded: 1.0,
            };
            let serial = ms(&[3100, 3200, 3300]);
            let t = side(
                "256 px x 2",
                plan(256, 484, true, 1.0),
                &[3900, 4000, 4150],
                90_000_000,
                450_000_000,
                3.1,
            );
            let g = side(
                "blocks:2 x 2",
                plan(2048, 9, true, 1.0),
                &[2200, 2300, 2400],
                1_000_000,
                40_000_000,
                2.0,
            );
            let f = tiny::TinyFigures {
                side: 256,
                block: 1024,
                good_chunks: "blocks:2".into(),
                vs_good: cmp(&g.label, &g.total, &t.label, &t.total),
                vs_serial: cmp("serial", &serial, &t.label, &t.total),
                serial,
                tiny: t,
                good: g,
                dask: dask::recorded(256, grid, grid),
                dask_good: None,
            };
            out.say(tiny::describe(&f));
            timed(&mut out, &f.serial);
            out.comparisons = vec![f.vs_good];
        }
        Step::Alignment => {
            let side = |side, plan, load: &[u64], total: &[u64], decoded| alignment::Side {
                side,
                plan,
                load: ms(load),
                total: ms(total),
                decoded,
            };
            let a = side(
                1024,
                plan(1024, 36, true, 1.0),
                &[300, 310, 330],
                &[2300, 2350, 2400],
                Some(1.0),
            );
            let m = side(
                1000,
                plan(1000, 36, false, 1.96),
                &[520, 540, 560],
                &[2500, 2560, 2600],
                Some(1.96),
            );
            let f = alignment::AlignmentFigures {
                load: cmp("1000 px", &m.load, "1024 px", &a.load),
                total: cmp("1000 px", &m.total, "1024 px", &a.total),
                aligned: a,
                misaligned: m,
            };
            out.say(alignment::describe(&f));
            timed(&mut out, &f.aligned.load);
            out.comparisons = vec![f.load];
        }
        Step::AutoChunks => {
            let timed_pair = |name, s: &[u64], a: &[u64]| {
                let (s, a) = (ms(s), ms(a));
                auto::Timed {
                    name,
                    comparison: cmp("serial", &s, "auto x 2", &a),
                    serial: s,
                    auto: a,
                }
            };
            let mut blue = plan(8192, 4, true, 1.0);
            blue.shape.bands = 1;
            blue.chunk_bytes = 8192 * 8192 * 2;
            let f = auto::AutoFigures {
                threads: 2,
                visual: plan(grid, 1, true, 1.0),
                blue: Some(auto::Blue {
                    key: "B02".into(),
                    layout: RasterLayout {
                        bands: 1,
                        rows: 10980,
                        cols: 10980,
                        block_rows: 1024,
                        block_cols: 1024,
                        dtype_bytes: 2,
                        interleave: Interleave::Band,
                    },
                    plan: blue,
                }),
                stages: [
                    timed_pair("load", &[410, 430, 455], &[400, 425, 450]),
                    timed_pair("mask", &[100, 107, 150], &[98, 105, 140]),
                    timed_pair("write", &[2400, 2460, 2550], &[1200, 1250, 1300]),
                ],
                total: timed_pair("total", &[3100, 3200, 3300], &[2000, 2090, 2150]),
                helping_ns: 1_100_000_000,
                dask: dask::recorded(dask::LESSON_SIDE, grid, grid),
            };
            out.say(auto::describe(&f));
            timed(&mut out, &f.total.serial);
            out.comparisons = vec![f.total.comparison];
        }
        Step::Memory => {
            const MIB: u64 = 1024 * 1024;
            let spread = |m: [u64; 3]| Spread {
                median: m[1] * MIB,
                min: m[0] * MIB,
                max: m[2] * MIB,
            };
            let row = |label: &str, buffers, growth| MemoryRow {
                label: label.into(),
                runs: 3,
                buffers_peak_bytes: spread(buffers),
                process_max_rss_bytes: spread([300, 310, 320]),
                rss_growth_bytes: spread(growth),
                wall_ns: spread([3000, 3100, 3200]),
                series: Vec::new(),
                pipeline_end_ns: 0,
            };
            let f = memory::MemoryFigures {
                cache_mb: 64,
                serial: row("serial", [201, 201, 201], [230, 240, 250]),
                staged: row("staged x 2 @ blocks:2", [201, 201, 201], [225, 235, 250]),
                fused: row("fused x 2 @ blocks:2", [44, 45, 50], [90, 100, 110]),
                own_process: true,
            };
            out.say(memory::describe(&f));
            out.memory = vec![f.serial, f.staged, f.fused];
        }
    }
    out
}
