//! Reading a task stream: the JSON a Dask user saved from `Client.get_task_stream()`
//! (bare, or under `task_stream` beside a header) into typed tasks on lanes, with times in
//! ns from the earliest start. Runs on whichever thread asks; it only reads text.
//!
//! The JSON is read as a stream: each record is typed as it is read (only the fields
//! chunkscope uses, each a small value), never as one tree of the whole text, so memory
//! follows the tasks kept, not the file's size (Dask's records carry pickled types and
//! metadata that chunkscope skips unread).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::error::Category;

use super::key::{self, ChunkIndex, Key};
use crate::task::{Stage, TaskRecord};

/// What can be wrong with a task stream file, said so that its owner can fix it.
#[derive(Debug, thiserror::Error)]
pub enum DaskError {
    #[error("cannot read \"{path}\"")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "this is not JSON (line {line}, column {column}: {reason}); save the task stream with \
         Python's json.dump(client.get_task_stream(), f, default=str)"
    )]
    NotJson {
        line: usize,
        column: usize,
        /// serde_json's words without its position, which the sentence gives before saying
        /// how to save a stream (so its error is not kept as a source, to be said again).
        reason: String,
    },
    #[error(
        "line {line}, column {column} holds \"{token}\": Python's json writes non-finite numbers, \
         which JSON does not allow, and every start and stop of a task stream must be a finite time"
    )]
    NonFiniteNumber {
        line: usize,
        column: usize,
        token: &'static str,
    },
    #[error(
        "the JSON is {found}, not a task stream: expected the list Client.get_task_stream() \
         returns, or an object holding it under \"task_stream\""
    )]
    NotAStream { found: String },
    #[error(
        "the task stream holds no tasks: was the computation run inside \
         `with get_task_stream()`?"
    )]
    NoTasks,
    /// `reason` is one-off text: what the field holds instead of what a recording writes.
    #[error("header field \"{field}\" {reason}")]
    BadHeader { field: &'static str, reason: String },
    #[error(
        "task {index} is {found}, not a task record (an object with key, worker, thread and \
         startstops)"
    )]
    NotARecord { index: usize, found: String },
    #[error(
        "task {index} has no \"{field}\"; every record of a task stream has key, worker, thread \
         and startstops"
    )]
    MissingField { index: usize, field: &'static str },
    #[error(
        "task {index} has the key {key}, of a shape chunkscope does not know: expected a name \
         (a string) or a list of a name and chunk indices (non-negative integers), such as \
         [\"store-map-…\", 0, 3, 2]"
    )]
    UnknownKey { index: usize, key: String },
    #[error("task {index} ({key}): \"{field}\" {reason}")]
    BadField {
        index: usize,
        key: String,
        field: &'static str,
        reason: String,
    },
    #[error(
        "task {index} ({key}) stops before it starts: {action} from {start} to {stop} (epoch \
         seconds); the stream is damaged, record it again"
    )]
    NegativeDuration {
        index: usize,
        key: String,
        action: String,
        start: f64,
        stop: f64,
    },
    #[error(
        "task {index} ({key}): the time {value} is too far from the stream's first start to be \
         a time of the same run"
    )]
    TimeOutOfRange {
        index: usize,
        key: String,
        value: f64,
    },
    #[error(
        "task {index} ({key}): chunk index ({row}, {col}) lies beyond any chunk grid the \
         stream's {tasks} tasks can cover; the stream is damaged"
    )]
    ChunkOffGrid {
        index: usize,
        key: String,
        row: u32,
        col: u32,
        tasks: usize,
    },
    #[error(
        "the tasks' times add up to more than 584 years, which no run takes; the stream's \
         times are damaged"
    )]
    TotalTimeOverflow,
    #[error("the stream has {lanes} worker threads, more than chunkscope's {max} lanes")]
    TooManyLanes { lanes: usize, max: usize },
}

/// What the task did during one of its intervals, as Dask names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Compute,
    /// Fetching a dependency from another worker.
    Transfer,
    /// Reading a spilled dependency back from disk.
    DiskRead,
    /// Spilling to disk.
    DiskWrite,
    /// A name this version of chunkscope does not know, kept as given.
    #[serde(untagged)]
    Other(String),
}

impl Action {
    fn parse(name: &str) -> Self {
        match name {
            "compute" => Self::Compute,
            "transfer" => Self::Transfer,
            "disk-read" => Self::DiskRead,
            "disk-write" => Self::DiskWrite,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Self::Compute => "compute",
            Self::Transfer => "transfer",
            Self::DiskRead => "disk-read",
            Self::DiskWrite => "disk-write",
            Self::Other(name) => name,
        }
    }
}

/// One interval of a task, in ns from the stream's earliest start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Span {
    pub action: Action,
    pub start_ns: u64,
    pub stop_ns: u64,
}

/// The stage a task belongs to: one of the lesson's, or another name, kept and shown.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TaskStage {
    Pipeline(Stage),
    /// A key whose name says no stage; holds the name's [`key::label`].
    Other(String),
}

impl TaskStage {
    /// `load`, `mask`, `write`, `finalize` or `other`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Pipeline(stage) => stage.name(),
            Self::Other(_) => "other",
        }
    }
}

impl Serialize for TaskStage {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// A worker thread: each is one lane of the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Lane {
    /// The worker's address, e.g. `tcp://127.0.0.1:40123` or `inproc://…`.
    pub worker: String,
    /// The thread's identifier as Dask gives it (a number for Python threads).
    pub thread: String,
}

/// One record of the stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DaskTask {
    /// Position in the stream as saved (the order Dask reported tasks finishing).
    pub index: usize,
    /// The key's name, tokens included (`store-map-7f5a…`): tasks of one array share it.
    pub name: String,
    /// The name without tokens (`store-map`).
    pub label: String,
    pub stage: TaskStage,
    pub chunk: Option<ChunkIndex>,
    pub lane: u16,
    /// The task's run on its lane: its compute intervals, or all its intervals when it has
    /// none (a task that only transferred), in ns from the earliest start.
    pub start_ns: u64,
    pub stop_ns: u64,
    pub spans: Vec<Span>,
    /// Dask's status, `OK` or `error`.
    pub status: String,
    pub erred: bool,
    /// Size of the task's result as Dask measured it.
    pub nbytes: u64,
    pub typename: Option<String>,
}

impl DaskTask {
    pub fn duration_ns(&self) -> u64 {
        self.stop_ns.saturating_sub(self.start_ns)
    }
}

/// The cluster the stream was recorded on, as the header says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Cluster {
    pub n_workers: Option<u64>,
    pub threads_per_worker: Option<u64>,
    pub processes: Option<bool>,
}

/// What a recording script wrote beside the stream (every field optional: a bare list has
/// none of them).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Header {
    pub dask_version: Option<String>,
    pub distributed_version: Option<String>,
    pub cluster: Option<Cluster>,
    /// The chunk shape asked for, (bands, rows, cols).
    pub chunks: Option<Vec<u64>>,
    pub scene_item: Option<String>,
    /// Wall times measured around the calls, in seconds, by phase (`load`, `mask_write`).
    pub wall_s: BTreeMap<String, f64>,
    /// The recording script's clock at its start (epoch seconds).
    pub t0_epoch_s: Option<f64>,
    /// When each timed call (`load`, `mask_write`) began, epoch seconds on the clock of
    /// the task times: what a call spent before its first task and after its last one
    /// (building the graph, the scheduler's dispatch, results coming back) is seen against
    /// `wall_s`. Written by scripts chunkscope exports; empty otherwise.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub calls_epoch_s: BTreeMap<String, f64>,
}

/// A task stream, read and typed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DaskStream {
    pub header: Header,
    /// Every record, in the order saved.
    pub tasks: Vec<DaskTask>,
    /// Lane `i` is `lanes[i]`, numbered in order of first appearance in the stream.
    pub lanes: Vec<Lane>,
    /// The earliest start, epoch seconds: time 0 of every `*_ns` here.
    pub origin_epoch_s: f64,
    /// Chunk rows and columns: one more than the largest index seen.
    pub grid: (u32, u32),
}

impl DaskStream {
    /// Reads the file at `path`, streaming: the JSON text is never held whole, and each
    /// record is typed as it is read, so memory follows the tasks kept, not the file.
    pub fn read(path: &Path) -> Result<Self, DaskError> {
        let read_error = |source| DaskError::Read {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(read_error)?;
        let mut de = serde_json::Deserializer::from_reader(BufReader::new(file));
        let document = read_document(&mut de).map_err(|e| match e.classify() {
            Category::Io => read_error(e.into()),
            _ => not_json_in_file(path, &e),
        })?;
        Self::from_document(document)
    }

    /// Reads a stream from its JSON text.
    pub fn parse(text: &str) -> Result<Self, DaskError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let document = read_document(&mut de).map_err(|e| not_json(text, &e))?;
        Self::from_document(document)
    }

    /// The stream from a document read whole. Errors come in the order a reader fixes
    /// them: the document's shape, then the header, then the first bad record.
    fn from_document(document: Document) -> Result<Self, DaskError> {
        let (header, records) = match document {
            Document::Bare(records) => (Header::default(), records),
            Document::Object {
                header: map,
                stream: Some(TaskStream::Records(records)),
            } => (header(&map)?, records),
            Document::Object {
                stream: Some(TaskStream::Not(found)),
                ..
            } => {
                return Err(DaskError::NotAStream {
                    found: format!("an object whose \"task_stream\" is {found}"),
                });
            }
            Document::Object { stream: None, .. } => {
                return Err(DaskError::NotAStream {
                    found: "an object without \"task_stream\"".into(),
                });
            }
            Document::Other(found) => return Err(DaskError::NotAStream { found }),
        };
        if let Some(error) = records.error {
            return Err(error);
        }
        let raw = records.raw;
        let Some(origin) = raw
            .iter()
            .flat_map(|t| t.spans.iter().map(|s| s.1))
            .min_by(f64::total_cmp)
        else {
            return Err(DaskError::NoTasks);
        };
        let mut lanes: Vec<Lane> = Vec::new();
        // Lane numbers by lane: a lookup per task, not a scan of the lanes so far.
        let mut lane_of: HashMap<Lane, usize> = HashMap::new();
        let mut tasks = Vec::with_capacity(raw.len());
        let count = raw.len();
        for (index, r) in raw.into_iter().enumerate() {
            let lane = match lane_of.get(&r.lane) {
                Some(&i) => i,
                None => {
                    lanes.push(r.lane.clone());
                    lane_of.insert(r.lane.clone(), lanes.len() - 1);
                    lanes.len() - 1
                }
            };
            let lane = u16::try_from(lane).map_err(|_| DaskError::TooManyLanes {
                lanes: lane + 1,
                max: usize::from(u16::MAX) + 1,
            })?;
            tasks.push(r.into_task(index, lane, origin)?);
        }
        let grid = grid_of(&tasks, count)?;
        check_total_time(&tasks)?;
        Ok(Self {
            header,
            tasks,
            lanes,
            origin_epoch_s: origin,
            grid,
        })
    }

    /// Erred tasks (kept among `tasks`, counted here).
    pub fn erred(&self) -> usize {
        self.tasks.iter().filter(|t| t.erred).count()
    }

    /// The time the stream covers: earliest start to latest stop.
    pub fn wall_ns(&self) -> u64 {
        self.tasks.iter().map(|t| t.stop_ns).max().unwrap_or(0)
    }

    /// The tasks of the lesson's stages as chunkscope's own task records, so that the
    /// engine's statistics (latency per stage, overhead) apply unchanged: `worker` is the
    /// lane, `bytes` Dask's `nbytes` of the result for the load and mask (a chunk of
    /// pixels) and 0 for the write and finalize, whose results are placeholders, not the
    /// bytes written (so no rate is shown for them), `chunk` the row-major number on
    /// [`DaskStream::grid`] (`u32::MAX` for tasks off the grid, such as the finalize).
    /// Tasks of other names are left out: they are no stage's work.
    pub fn records(&self) -> Vec<TaskRecord> {
        let cols = self.grid.1;
        self.tasks
            .iter()
            .filter_map(|t| {
                let TaskStage::Pipeline(stage) = t.stage else {
                    return None;
                };
                Some(TaskRecord {
                    chunk: t
                        .chunk
                        .and_then(|c| c.row.checked_mul(cols)?.checked_add(c.col))
                        .unwrap_or(u32::MAX),
                    stage,
                    worker: t.lane,
                    start_ns: t.start_ns,
                    end_ns: t.stop_ns,
                    bytes: match stage {
                        Stage::Load | Stage::Mask => t.nbytes,
                        Stage::Write | Stage::Finalize => 0,
                    },
                    wait_ns: 0,
                    alloc_ns: 0,
                    append_wait_ns: 0,
                    tiles: 0,
                    lock_hold_ns: 0,
                    helping: false,
                })
            })
            .collect()
    }
}

/// Chunk rows and columns from the tasks' chunk indices. Every chunk has a task of its
/// own, so no grid has more rows or columns than the stream has tasks: an index beyond that
/// (such as 4294967295, which wrapped the grid to 0) is refused, naming the task; so is a
/// grid whose chunks cannot be numbered in a u32.
fn grid_of(tasks: &[DaskTask], count: usize) -> Result<(u32, u32), DaskError> {
    let (mut rows, mut cols) = (0u32, 0u32);
    for t in tasks {
        let Some(c) = t.chunk else { continue };
        let (r, k) = (u64::from(c.row) + 1, u64::from(c.col) + 1);
        if r.max(k) > count as u64 {
            return Err(DaskError::ChunkOffGrid {
                index: t.index,
                key: t.name.clone(),
                row: c.row,
                col: c.col,
                tasks: count,
            });
        }
        rows = rows.max(u32::try_from(r).unwrap_or(u32::MAX));
        cols = cols.max(u32::try_from(k).unwrap_or(u32::MAX));
    }
    if u64::from(rows).saturating_mul(u64::from(cols)) >= u64::from(u32::MAX) {
        return Err(DaskError::ChunkOffGrid {
            index: 0,
            key: "the whole grid".into(),
            row: rows.saturating_sub(1),
            col: cols.saturating_sub(1),
            tasks: count,
        });
    }
    Ok((rows, cols))
}

/// Refuses a stream whose task times add up to more than a u64 of nanoseconds holds
/// (584 years): the summaries add them up.
fn check_total_time(tasks: &[DaskTask]) -> Result<(), DaskError> {
    let mut total: u64 = 0;
    for t in tasks {
        for s in &t.spans {
            total = total
                .checked_add(s.stop_ns.saturating_sub(s.start_ns))
                .ok_or(DaskError::TotalTimeOverflow)?;
        }
    }
    Ok(())
}

/// A record as read, times still in epoch seconds.
struct RawTask {
    key: String,
    name: String,
    chunk: Option<ChunkIndex>,
    lane: Lane,
    /// (action, start, stop) in epoch seconds.
    spans: Vec<(Action, f64, f64)>,
    status: String,
    nbytes: u64,
    typename: Option<String>,
}

impl RawTask {
    fn read(index: usize, record: &RecordIn) -> Result<Self, DaskError> {
        let map = record;
        let field = |name: &'static str| {
            map.get(name)
                .ok_or(DaskError::MissingField { index, field: name })
        };
        let key_value = field("key")?;
        let key_text = compact(key_value);
        let key = Key::from_json(key_value).ok_or_else(|| DaskError::UnknownKey {
            index,
            key: key_text.clone(),
        })?;
        let bad = |field: &'static str, reason: String| DaskError::BadField {
            index,
            key: key_text.clone(),
            field,
            reason,
        };
        let lane = Lane {
            worker: field("worker")?
                .as_str()
                .ok_or_else(|| bad("worker", "is not a string".into()))?
                .to_owned(),
            thread: match field("thread")? {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.clone(),
                other => return Err(bad("thread", format!("is {}", describe(other)))),
            },
        };
        let Value::Array(entries) = field("startstops")? else {
            return Err(bad("startstops", "is not a list".into()));
        };
        if entries.is_empty() {
            return Err(bad(
                "startstops",
                "is empty: the task has no time to place it by".into(),
            ));
        }
        let mut spans = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            let at = |what: &str| format!("entry {i} {what}");
            let action = entry
                .get("action")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("startstops", at("has no \"action\" name")))?;
            let time = |name: &str| {
                entry
                    .get(name)
                    .and_then(Value::as_f64)
                    .filter(|t| t.is_finite())
                    .ok_or_else(|| bad("startstops", at(&format!("has no finite \"{name}\""))))
            };
            let (start, stop) = (time("start")?, time("stop")?);
            if stop < start {
                return Err(DaskError::NegativeDuration {
                    index,
                    key: key_text.clone(),
                    action: action.to_owned(),
                    start,
                    stop,
                });
            }
            spans.push((Action::parse(action), start, stop));
        }
        let status = match map.get("status") {
            None => "OK".to_owned(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => return Err(bad("status", format!("is {}", describe(other)))),
        };
        let nbytes = match map.get("nbytes") {
            None | Some(Value::Null) => 0,
            Some(v) => v
                .as_u64()
                .ok_or_else(|| bad("nbytes", "is not a non-negative integer".into()))?,
        };
        Ok(Self {
            chunk: key.chunk(),
            name: key.name,
            key: key_text,
            lane,
            spans,
            status,
            nbytes,
            typename: map
                .get("typename")
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }

    fn into_task(self, index: usize, lane: u16, origin: f64) -> Result<DaskTask, DaskError> {
        let mut spans = Vec::with_capacity(self.spans.len());
        for (action, start, stop) in self.spans {
            let ns = |t: f64| {
                // Epoch seconds in a double resolve about 0.2 µs today: finer than any task.
                let ns = ((t - origin) * 1e9).round();
                if ns.is_finite() && (0.0..u64::MAX as f64).contains(&ns) {
                    Ok(crate::convert::round_u64(ns))
                } else {
                    Err(DaskError::TimeOutOfRange {
                        index,
                        key: self.key.clone(),
                        value: t,
                    })
                }
            };
            spans.push(Span {
                action,
                start_ns: ns(start)?,
                stop_ns: ns(stop)?,
            });
        }
        let computes: Vec<&Span> = spans
            .iter()
            .filter(|s| s.action == Action::Compute)
            .collect();
        let run: Vec<&Span> = if computes.is_empty() {
            spans.iter().collect()
        } else {
            computes
        };
        let start_ns = run.iter().map(|s| s.start_ns).min().unwrap_or(0);
        let stop_ns = run.iter().map(|s| s.stop_ns).max().unwrap_or(start_ns);
        let label = key::label(&self.name);
        let stage = match key::stage_of(&label) {
            Some(stage) => TaskStage::Pipeline(stage),
            None => TaskStage::Other(label.clone()),
        };
        Ok(DaskTask {
            index,
            erred: matches!(self.status.as_str(), "error" | "erred"),
            name: self.name,
            label,
            stage,
            chunk: self.chunk,
            lane,
            start_ns,
            stop_ns,
            spans,
            status: self.status,
            nbytes: self.nbytes,
            typename: self.typename,
        })
    }
}

fn header(map: &serde_json::Map<String, Value>) -> Result<Header, DaskError> {
    fn text(
        map: &serde_json::Map<String, Value>,
        field: &'static str,
    ) -> Result<Option<String>, DaskError> {
        match map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(DaskError::BadHeader {
                field,
                reason: format!("is {}, not a string", describe(other)),
            }),
        }
    }
    let parsed = |field: &'static str| {
        move |e: serde_json::Error| DaskError::BadHeader {
            field,
            reason: format!("is not what a recording writes: {e}"),
        }
    };
    let cluster = map
        .get("cluster")
        .filter(|v| !v.is_null())
        .map(|v| serde_json::from_value::<Cluster>(v.clone()).map_err(parsed("cluster")))
        .transpose()?;
    let chunks = map
        .get("chunks")
        .filter(|v| !v.is_null())
        .map(|v| serde_json::from_value::<Vec<u64>>(v.clone()).map_err(parsed("chunks")))
        .transpose()?;
    let wall_s = map
        .get("wall_s")
        .filter(|v| !v.is_null())
        .map(|v| {
            serde_json::from_value::<BTreeMap<String, f64>>(v.clone()).map_err(parsed("wall_s"))
        })
        .transpose()?
        .unwrap_or_default();
    let calls_epoch_s = map
        .get("calls_epoch_s")
        .filter(|v| !v.is_null())
        .map(|v| {
            serde_json::from_value::<BTreeMap<String, f64>>(v.clone())
                .map_err(parsed("calls_epoch_s"))
        })
        .transpose()?
        .unwrap_or_default();
    let t0_epoch_s = match map.get("t0_epoch_s") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_f64().ok_or_else(|| DaskError::BadHeader {
            field: "t0_epoch_s",
            reason: format!("is {}, not a number", describe(v)),
        })?),
    };
    Ok(Header {
        dask_version: text(map, "dask_version")?,
        distributed_version: text(map, "distributed_version")?,
        cluster,
        chunks,
        scene_item: text(map, "scene_item")?,
        wall_s,
        t0_epoch_s,
        calls_epoch_s,
    })
}

/// A parse error, told apart: Python's `NaN` and `Infinity` (not JSON) get their own message.
fn not_json(text: &str, e: &serde_json::Error) -> DaskError {
    let rest = text
        .lines()
        .nth(e.line().saturating_sub(1))
        .and_then(|l| l.get(e.column().saturating_sub(1)..))
        .unwrap_or_default();
    json_error(rest.as_bytes(), e)
}

/// [`not_json`] for a file read as a stream: the few bytes at the error's position are read
/// again from the file (a saved stream is often one line of many megabytes).
fn not_json_in_file(path: &Path, e: &serde_json::Error) -> DaskError {
    let rest = bytes_at(path, e.line(), e.column(), "-Infinity".len()).unwrap_or_default();
    json_error(&rest, e)
}

/// Up to `n` bytes of the file from `line`, `column` (both from 1; columns in bytes, as
/// serde_json counts them).
fn bytes_at(path: &Path, line: usize, column: usize, n: usize) -> io::Result<Vec<u8>> {
    let mut reader = BufReader::new(File::open(path)?);
    for _ in 1..line {
        if reader.skip_until(b'\n')? == 0 {
            return Ok(Vec::new());
        }
    }
    let skip = column.saturating_sub(1) as u64;
    io::copy(&mut (&mut reader).take(skip), &mut io::sink())?;
    let mut rest = Vec::with_capacity(n);
    reader.take(n as u64).read_to_end(&mut rest)?;
    Ok(rest)
}

/// The error for `e`, given the text from its position on.
fn json_error(rest: &[u8], e: &serde_json::Error) -> DaskError {
    let (line, column) = (e.line(), e.column());
    for token in ["NaN", "Infinity", "-Infinity"] {
        if rest.starts_with(token.as_bytes()) {
            return DaskError::NonFiniteNumber {
                line,
                column,
                token,
            };
        }
    }
    DaskError::NotJson {
        line,
        column,
        reason: strip_position(&e.to_string()),
    }
}

/// serde_json's message without its " at line L column C", which the error says itself.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// What a JSON value is, for messages: `a number (7)`, `a list of 3`, `an object`.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::String(s) => format!("a string (\"{}\")", shorten(s)),
        Value::Array(items) => format!("a list of {}", items.len()),
        Value::Object(_) => "an object".into(),
    }
}

/// A value as compact JSON, shortened for a message.
fn compact(value: &Value) -> String {
    shorten(&value.to_string())
}

fn shorten(text: &str) -> String {
    const MAX: usize = 120;
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

// ---- Reading the JSON, one record at a time ----

/// A file's top level, read with its task records already typed.
enum Document {
    /// A bare list of records, as `Client.get_task_stream()` returns it.
    Bare(Records),
    /// An object: the header's fields (small values) and what its `task_stream` holds.
    Object {
        header: serde_json::Map<String, Value>,
        stream: Option<TaskStream>,
    },
    /// Anything else, described for the message.
    Other(String),
}

/// What an object's `task_stream` holds.
enum TaskStream {
    Records(Records),
    /// Not a list: described for the message.
    Not(String),
}

/// The records of a list, typed as they are read. The first bad record is kept as the
/// error and the rest are only read through, not kept: a syntax error further on still
/// wins, as it did when the whole text was parsed first.
#[derive(Default)]
struct Records {
    raw: Vec<RawTask>,
    error: Option<DaskError>,
}

/// The header fields [`header`] reads; the others are skipped unread.
const HEADER_FIELDS: [&str; 8] = [
    "dask_version",
    "distributed_version",
    "cluster",
    "chunks",
    "scene_item",
    "wall_s",
    "t0_epoch_s",
    "calls_epoch_s",
];

/// The fields of a record that [`RawTask::read`] reads, each a small JSON value so that a
/// value of the wrong type is described in the message as it is.
#[derive(Default)]
struct RecordIn {
    key: Option<Value>,
    worker: Option<Value>,
    thread: Option<Value>,
    startstops: Option<Value>,
    status: Option<Value>,
    nbytes: Option<Value>,
    typename: Option<Value>,
}

impl RecordIn {
    fn get(&self, name: &str) -> Option<&Value> {
        match name {
            "key" => self.key.as_ref(),
            "worker" => self.worker.as_ref(),
            "thread" => self.thread.as_ref(),
            "startstops" => self.startstops.as_ref(),
            "status" => self.status.as_ref(),
            "nbytes" => self.nbytes.as_ref(),
            "typename" => self.typename.as_ref(),
            _ => None,
        }
    }

    fn slot(&mut self, field: RecordField) -> Option<&mut Option<Value>> {
        match field {
            RecordField::Key => Some(&mut self.key),
            RecordField::Worker => Some(&mut self.worker),
            RecordField::Thread => Some(&mut self.thread),
            RecordField::Startstops => Some(&mut self.startstops),
            RecordField::Status => Some(&mut self.status),
            RecordField::Nbytes => Some(&mut self.nbytes),
            RecordField::Typename => Some(&mut self.typename),
            RecordField::Other => None,
        }
    }
}

/// A record's field name, read without allocating.
#[derive(Clone, Copy, Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum RecordField {
    Key,
    Worker,
    Thread,
    Startstops,
    Status,
    Nbytes,
    Typename,
    #[serde(other)]
    Other,
}

/// Reads a whole document: every record typed, then nothing but whitespace.
fn read_document<'de, R: serde_json::de::Read<'de>>(
    de: &mut serde_json::Deserializer<R>,
) -> Result<Document, serde_json::Error> {
    let document = Document::deserialize(&mut *de)?;
    de.end()?;
    Ok(document)
}

/// Visitor methods for every JSON value but lists and objects: each is described as
/// [`describe`] says and handed to the visitor's `found`.
macro_rules! found_scalars {
    () => {
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(self.found(describe(&Value::Bool(v))))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(self.found(describe(&Value::from(v))))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(self.found(describe(&Value::from(v))))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(self.found(describe(&Value::from(v))))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(self.found(describe(&Value::String(v.to_owned()))))
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(self.found(describe(&Value::Null)))
        }
    };
}

/// Reads through a list, counting its items.
fn count_items<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<usize, A::Error> {
    let mut n = 0;
    while seq.next_element::<IgnoredAny>()?.is_some() {
        n += 1;
    }
    Ok(n)
}

fn skip_object<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

fn read_records<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<Records, A::Error> {
    let mut records = Records::default();
    let mut index = 0;
    loop {
        if records.error.is_some() {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                break;
            }
            continue;
        }
        match seq.next_element_seed(RecordSeed { index })? {
            None => break,
            Some(Ok(raw)) => records.raw.push(raw),
            Some(Err(error)) => {
                records.error = Some(error);
                records.raw = Vec::new();
            }
        }
        index += 1;
    }
    Ok(records)
}

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DocumentVisitor)
    }
}

struct DocumentVisitor;

impl DocumentVisitor {
    fn found(self, found: String) -> Document {
        Document::Other(found)
    }
}

impl<'de> Visitor<'de> for DocumentVisitor {
    type Value = Document;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a task stream")
    }

    found_scalars!();

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Document, A::Error> {
        read_records(seq).map(Document::Bare)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
        let mut header = serde_json::Map::new();
        let mut stream = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "task_stream" {
                stream = Some(map.next_value::<TaskStream>()?);
            } else if HEADER_FIELDS.contains(&key.as_str()) {
                header.insert(key, map.next_value()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Document::Object { header, stream })
    }
}

impl<'de> Deserialize<'de> for TaskStream {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TaskStreamVisitor)
    }
}

struct TaskStreamVisitor;

impl TaskStreamVisitor {
    fn found(self, found: String) -> TaskStream {
        TaskStream::Not(found)
    }
}

impl<'de> Visitor<'de> for TaskStreamVisitor {
    type Value = TaskStream;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of task records")
    }

    found_scalars!();

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<TaskStream, A::Error> {
        read_records(seq).map(TaskStream::Records)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TaskStream, A::Error> {
        skip_object(map)?;
        Ok(self.found("an object".into()))
    }
}

/// Reads record `index` straight into a [`RawTask`], or the reason it is not one.
struct RecordSeed {
    index: usize,
}

impl<'de> DeserializeSeed<'de> for RecordSeed {
    type Value = Result<RawTask, DaskError>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl RecordSeed {
    fn found(self, found: String) -> Result<RawTask, DaskError> {
        Err(DaskError::NotARecord {
            index: self.index,
            found,
        })
    }
}

impl<'de> Visitor<'de> for RecordSeed {
    type Value = Result<RawTask, DaskError>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a task record")
    }

    found_scalars!();

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let n = count_items(seq)?;
        Ok(self.found(format!("a list of {n}")))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = RecordIn::default();
        while let Some(field) = map.next_key::<RecordField>()? {
            match fields.slot(field) {
                // A repeated field keeps its last value, as a JSON object read whole does.
                Some(slot) => *slot = Some(map.next_value()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(RawTask::read(self.index, &fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: Value, thread: u64, start: f64, stop: f64) -> Value {
        serde_json::json!({
            "key": key, "worker": "tcp://w", "thread": thread, "status": "OK", "nbytes": 8,
            "startstops": [{"action": "compute", "start": start, "stop": stop}],
        })
    }

    #[test]
    fn bare_list_with_lanes_in_order_of_first_appearance() {
        let text = Value::Array(vec![
            record(
                serde_json::json!(["store-map-x", 0, 1, 2]),
                9,
                100.5,
                100.75,
            ),
            record(serde_json::json!("finalize-x"), 3, 100.0, 100.25),
            record(serde_json::json!(["getitem-x", 0, 0]), 9, 101.0, 101.5),
        ])
        .to_string();
        let s = DaskStream::parse(&text).unwrap();
        assert_eq!(s.header, Header::default());
        assert_eq!(s.origin_epoch_s, 100.0);
        assert_eq!(s.lanes.len(), 2);
        assert_eq!(s.lanes[0].thread, "9");
        let t: Vec<(u16, u64, u64)> = s
            .tasks
            .iter()
            .map(|t| (t.lane, t.start_ns, t.stop_ns))
            .collect();
        assert_eq!(
            t,
            [
                (0, 500_000_000, 750_000_000),
                (1, 0, 250_000_000),
                (0, 1_000_000_000, 1_500_000_000)
            ]
        );
        assert_eq!(s.grid, (2, 3));
        assert_eq!(s.wall_ns(), 1_500_000_000);
        let records = s.records();
        assert_eq!(records[0].chunk, 5);
        assert_eq!(records[1].chunk, u32::MAX);
        assert_eq!(records[1].stage, Stage::Finalize);
        // A load's nbytes is its chunk; a store's result is a placeholder, not the bytes
        // written, so it gives no rate.
        assert_eq!((records[2].stage, records[2].bytes), (Stage::Load, 8));
        assert_eq!((records[0].stage, records[0].bytes), (Stage::Write, 0));
        assert_eq!(records[1].bytes, 0);
    }

    #[test]
    fn transfers_are_kept_but_the_task_runs_from_its_compute() {
        let text = serde_json::json!([{
            "key": ["any-aggregate-x", 0, 0], "worker": "a", "thread": 1, "status": "error",
            "startstops": [
                {"action": "transfer", "start": 10.0, "stop": 10.5},
                {"action": "disk-read", "start": 10.5, "stop": 10.75},
                {"action": "compute", "start": 11.0, "stop": 12.0}
            ]
        }])
        .to_string();
        let s = DaskStream::parse(&text).unwrap();
        let t = &s.tasks[0];
        assert_eq!((t.start_ns, t.stop_ns), (1_000_000_000, 2_000_000_000));
        assert_eq!(t.spans.len(), 3);
        assert_eq!(t.spans[1].action, Action::DiskRead);
        assert!(t.erred);
        assert_eq!(s.erred(), 1);
        assert_eq!(t.stage, TaskStage::Pipeline(Stage::Mask));
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let err = |text: &str| DaskStream::parse(text).unwrap_err().to_string();
        assert!(err("{not json").contains("not JSON (line 1, column 2"));
        assert!(err("[{\"key\": \"a\", \"start\": NaN}]").contains("holds \"NaN\""));
        assert!(err("{\"tasks\": []}").contains("an object without \"task_stream\""));
        assert!(err("{\"task_stream\": 3}").contains("\"task_stream\" is a number (3)"));
        assert!(err("\"x\"").contains("the JSON is a string (\"x\")"));
        assert!(err("[1, 2]").contains("task 0 is a number (1), not a task record"));
        assert!(err("[]").contains("holds no tasks"));
        assert!(err("[{\"worker\": \"w\"}]").contains("task 0 has no \"key\""));
        let no_times = serde_json::json!([{"key": "a", "worker": "w", "thread": 1}]).to_string();
        assert!(err(&no_times).contains("task 0 has no \"startstops\""));
        let bad_key = record(serde_json::json!([1, 2]), 1, 1.0, 2.0);
        assert!(err(&format!("[{bad_key}]")).contains("task 0 has the key [1,2], of a shape"));
        let backwards = record(serde_json::json!("a"), 1, 2.0, 1.0);
        assert!(err(&format!("[{backwards}]")).contains("task 0 (\"a\") stops before it starts"));
        let huge = record(serde_json::json!("b"), 1, 1e300, 1e300);
        let small = record(serde_json::json!("a"), 1, 1.0, 2.0);
        assert!(err(&format!("[{small}, {huge}]")).contains("too far"));
        let text_time = serde_json::json!([{"key": "a", "worker": "w", "thread": 1,
            "startstops": [{"action": "compute", "start": "soon", "stop": 2.0}]}]);
        assert!(err(&text_time.to_string()).contains("entry 0 has no finite \"start\""));
        let bad_header = serde_json::json!({"chunks": "big", "task_stream": [small]});
        assert!(err(&bad_header.to_string()).contains("header field \"chunks\""));
    }
}
