//! A STAC API item search, as the Carpentries lesson does it with pystac-client before
//! chunkscope's part starts: `Client.open(url).search(collections=..., intersects=point,
//! query={"eo:cloud_cover": {"lt": 5}}).item_collection().save_object("search.json")`.
//!
//! The request and its parts are the stac crate's API types ([`stac::api::Search`],
//! [`stac::api::GetSearch`], [`stac::api::Sortby`]); the semantics are pystac-client's:
//! the landing page first, then `POST /search` (or `GET` when the landing page offers only
//! that, or when a `POST` answers 405), pages followed through their `next` links (with
//! the link's method, body and `merge`), until there is no `next` link, a page is empty,
//! or `max_items` items are in. Unlike pystac-client, paging is bounded: a server that
//! always has another page, or sends the same `next` link twice, is an error rather than a
//! loop.
//!
//! Blocking HTTP (ureq, rustls with the Mozilla roots, proxies from the environment); runs
//! on whichever thread asks (the CLI's main thread, a TUI job thread). Nothing here knows
//! about a terminal.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value, json};
use stac::api::{GetSearch, Search, Sortby};

use super::{Catalog, CatalogError};
use crate::task::CancelFlag;

/// The lesson's STAC API: earth-search v1, by Element 84.
pub const DEFAULT_API_URL: &str = "https://earth-search.aws.element84.com/v1";

/// The lesson's collection: Sentinel-2 level 2A on earth-search v1.
pub const DEFAULT_COLLECTION: &str = "sentinel-2-l2a";

/// Pages followed at most, by default: a search of the lesson's size takes one.
pub const DEFAULT_MAX_PAGES: usize = 100;

/// Most bytes one answer may have; an earth-search page of 100 items is about 1 MB.
const MAX_ANSWER_BYTES: u64 = 64 << 20;

/// How long a connection may take to open, and a whole request to finish.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The start of an answer quoted in an error message.
const QUOTED_CHARS: usize = 160;

/// A value the user wrote that is not a bbox, point, geometry, date range or query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{value}\" is not {what}: {hint}")]
pub struct ParamError {
    value: String,
    what: &'static str,
    hint: String,
}

fn param_error(value: &str, what: &'static str, hint: impl Into<String>) -> ParamError {
    ParamError {
        value: value.to_owned(),
        what,
        hint: hint.into(),
    }
}

/// Where to search: one of the three ways pystac-client takes an area.
#[derive(Debug, Clone, PartialEq)]
pub enum Area {
    /// `--point LON,LAT`: the lesson's `intersects=Point(lon, lat)`.
    Point { lon: f64, lat: f64 },
    /// `--bbox W,S,E,N` in degrees.
    Bbox([f64; 4]),
    /// `--intersects GEOJSON`: any GeoJSON geometry, checked to be one.
    Intersects(Value),
}

impl fmt::Display for Area {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Area::Point { lon, lat } => write!(f, "point {lon},{lat}"),
            Area::Bbox([w, s, e, n]) => write!(f, "bbox {w},{s},{e},{n}"),
            Area::Intersects(g) => write!(
                f,
                "a {} geometry",
                g.get("type").and_then(Value::as_str).unwrap_or("GeoJSON")
            ),
        }
    }
}

/// Numbers separated by commas, exactly `N` of them.
fn numbers<const N: usize>(s: &str) -> Option<[f64; N]> {
    let parts: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>().ok().filter(|v| v.is_finite()))
        .collect::<Option<_>>()?;
    parts.try_into().ok()
}

/// `W,S,E,N` in degrees: west, south, east, north. A box across the antimeridian (west
/// above east) is refused, as the stac crate's validation refuses it: search two boxes.
pub fn parse_bbox(s: &str) -> Result<Area, ParamError> {
    const WHAT: &str = "a bounding box";
    let [w, south, e, north] = numbers::<4>(s).ok_or_else(|| {
        param_error(
            s,
            WHAT,
            "give four numbers W,S,E,N in degrees, e.g. 27.0,36.0,28.3,37.1",
        )
    })?;
    if !(-180.0..=180.0).contains(&w) || !(-180.0..=180.0).contains(&e) {
        return Err(param_error(s, WHAT, "longitudes lie between -180 and 180"));
    }
    if !(-90.0..=90.0).contains(&south) || !(-90.0..=90.0).contains(&north) {
        return Err(param_error(s, WHAT, "latitudes lie between -90 and 90"));
    }
    if w > e {
        return Err(param_error(
            s,
            WHAT,
            "west (the 1st number) is east of east (the 3rd): the order is W,S,E,N; a box \
             across the antimeridian needs two searches",
        ));
    }
    if south > north {
        return Err(param_error(
            s,
            WHAT,
            "south (the 2nd number) is above north (the 4th): the order is W,S,E,N",
        ));
    }
    Ok(Area::Bbox([w, south, e, north]))
}

/// `LON,LAT` in degrees, longitude first as in GeoJSON (and the lesson's `Point(lon, lat)`).
pub fn parse_point(s: &str) -> Result<Area, ParamError> {
    const WHAT: &str = "a point";
    let [lon, lat] = numbers::<2>(s).ok_or_else(|| {
        param_error(
            s,
            WHAT,
            "give LON,LAT in degrees, longitude first, e.g. 27.95,36.33",
        )
    })?;
    if !(-180.0..=180.0).contains(&lon) {
        return Err(param_error(
            s,
            WHAT,
            "the longitude (first) lies between -180 and 180",
        ));
    }
    if !(-90.0..=90.0).contains(&lat) {
        return Err(param_error(
            s,
            WHAT,
            "the latitude (second) lies between -90 and 90; longitude comes first",
        ));
    }
    Ok(Area::Point { lon, lat })
}

/// A GeoJSON geometry, written inline (`{"type": "Polygon", ...}`) or as the path of a
/// file holding one (or a Feature, whose geometry is taken).
pub fn parse_intersects(s: &str) -> Result<Area, ParamError> {
    const WHAT: &str = "a GeoJSON geometry";
    let text = if s.trim_start().starts_with('{') {
        s.to_owned()
    } else {
        std::fs::read_to_string(s).map_err(|e| {
            param_error(
                s,
                WHAT,
                format!("it is not inline JSON and cannot be read as a file ({e})"),
            )
        })?
    };
    let mut value: Value = serde_json::from_str(&text)
        .map_err(|e| param_error(s, WHAT, format!("it is not valid JSON ({e})")))?;
    if value.get("type").and_then(Value::as_str) == Some("Feature") {
        value = value.get("geometry").cloned().unwrap_or(Value::Null);
    }
    // The stac crate's own geometry type decides what a geometry is.
    let search: Result<Search, _> = serde_json::from_value(json!({ "intersects": value }));
    match search {
        Ok(s) if s.intersects.is_some() => Ok(Area::Intersects(value)),
        Ok(_) => Err(param_error(s, WHAT, "it holds no geometry")),
        Err(e) => Err(param_error(
            s,
            WHAT,
            format!("GeoJSON needs a \"type\" and \"coordinates\" ({e})"),
        )),
    }
}

/// A date, date-time or range as pystac-client takes them (`2023-07-01/2023-08-31`,
/// `2023-07`, `2023-07-01T00:00:00Z/..`), returned as the RFC 3339 range a server is sent:
/// partial dates become the whole day, month or year, as pystac-client expands them.
pub fn parse_datetime(s: &str) -> Result<String, ParamError> {
    const WHAT: &str = "a date or date range";
    const HINT: &str = "use e.g. 2023-07-01/2023-08-31, 2023-07, 2023 or \
         2023-07-01T00:00:00Z/.. (RFC 3339 dates, `..` for an open end)";
    let search = Search::new().datetime(s.trim());
    let normalized = search
        .normalize_datetimes()
        .and_then(Search::valid)
        .map_err(|e| param_error(s, WHAT, format!("{e}; {HINT}")))?;
    normalized
        .items
        .datetime
        .clone()
        .ok_or_else(|| param_error(s, WHAT, HINT))
}

/// One condition of the query extension (`query={"eo:cloud_cover": {"lt": 5}}`), written
/// `eo:cloud_cover<5` as pystac-client accepts it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryTerm {
    pub property: String,
    /// The extension's operator name: `lt`, `lte`, `gt`, `gte`, `eq`, `neq`.
    pub op: &'static str,
    /// A number when it reads as one, else a string.
    pub value: Value,
}

impl fmt::Display for QueryTerm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = OPERATORS
            .iter()
            .find(|(_, name)| *name == self.op)
            .map_or(self.op, |(sign, _)| sign);
        let value = match &self.value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        write!(f, "{}{sign}{value}", self.property)
    }
}

/// Signs and the query extension's names, longest sign first so `<=` is not read as `<`.
const OPERATORS: [(&str, &str); 6] = [
    ("<=", "lte"),
    (">=", "gte"),
    ("!=", "neq"),
    ("<", "lt"),
    (">", "gt"),
    ("=", "eq"),
];

/// `PROPERTY<VALUE` (also `<=`, `>`, `>=`, `=`, `!=`), e.g. `eo:cloud_cover<5`.
pub fn parse_query(s: &str) -> Result<QueryTerm, ParamError> {
    const WHAT: &str = "a query";
    const HINT: &str = "write PROPERTY<VALUE (or <=, >, >=, =, !=), e.g. 'eo:cloud_cover<5'";
    let (at, sign, op) = OPERATORS
        .iter()
        .filter_map(|(sign, op)| s.find(sign).map(|at| (at, *sign, *op)))
        // The first sign in the text; at one place, the longest (`<=` before `<`).
        .min_by_key(|(at, sign, _)| (*at, usize::MAX - sign.len()))
        .ok_or_else(|| param_error(s, WHAT, HINT))?;
    let property = s[..at].trim();
    let raw = s[at + sign.len()..].trim();
    if property.is_empty() || raw.is_empty() || raw.starts_with(['<', '>', '=', '!']) {
        return Err(param_error(s, WHAT, HINT));
    }
    // A number as written (5 stays 5, as the lesson's `{"lt": 5}`), else a string.
    let value = match serde_json::from_str::<serde_json::Number>(raw) {
        Ok(n) => Value::Number(n),
        _ => Value::String(raw.trim_matches(['"', '\'']).to_owned()),
    };
    Ok(QueryTerm {
        property: property.to_owned(),
        op,
        value,
    })
}

/// Which HTTP method pages are asked for with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Get => "GET",
            Method::Post => "POST",
        })
    }
}

/// Everything a search needs; build it with the parsers above, so each part is valid.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    /// The API's landing page, `http(s)://...`.
    pub url: String,
    pub collections: Vec<String>,
    pub area: Option<Area>,
    /// An RFC 3339 range from [`parse_datetime`].
    pub datetime: Option<String>,
    pub query: Vec<QueryTerm>,
    pub sortby: Vec<Sortby>,
    /// Items per page asked of the server (`limit`); `None`: the server's default.
    pub limit: Option<u64>,
    /// Stop once this many items are in (pystac-client's `max_items`); `None`: all.
    pub max_items: Option<usize>,
    /// Pages followed at most; a `next` link beyond them is an error.
    pub max_pages: usize,
    /// Ask with this method only; `None`: pystac-client's choice (POST, GET on a 405).
    pub method: Option<Method>,
}

impl SearchRequest {
    /// The lesson's search without an area: earth-search v1, Sentinel-2 L2A.
    pub fn new(url: impl Into<String>) -> SearchRequest {
        SearchRequest {
            url: url.into(),
            collections: vec![DEFAULT_COLLECTION.to_owned()],
            area: None,
            datetime: None,
            query: Vec::new(),
            sortby: Vec::new(),
            limit: None,
            max_items: None,
            max_pages: DEFAULT_MAX_PAGES,
            method: None,
        }
    }

    /// The request as the stac crate's [`Search`] (the body of `POST /search`).
    pub fn to_search(&self) -> Search {
        let mut body = Map::new();
        if !self.collections.is_empty() {
            body.insert("collections".into(), json!(self.collections));
        }
        match &self.area {
            Some(Area::Point { lon, lat }) => {
                body.insert(
                    "intersects".into(),
                    json!({"type": "Point", "coordinates": [lon, lat]}),
                );
            }
            Some(Area::Bbox(b)) => {
                body.insert("bbox".into(), json!(b));
            }
            Some(Area::Intersects(g)) => {
                body.insert("intersects".into(), g.clone());
            }
            None => {}
        }
        if let Some(d) = &self.datetime {
            body.insert("datetime".into(), json!(d));
        }
        if !self.query.is_empty() {
            body.insert("query".into(), Value::Object(self.query_object()));
        }
        if !self.sortby.is_empty() {
            body.insert("sortby".into(), json!(self.sortby));
        }
        if let Some(limit) = self.limit {
            body.insert("limit".into(), json!(limit));
        }
        // Every part was checked by its parser, so the stac crate takes the whole.
        serde_json::from_value(Value::Object(body)).unwrap_or_default()
    }

    /// `{"eo:cloud_cover": {"lt": 5}, ...}`: terms on one property merge, as pystac-client
    /// merges them.
    fn query_object(&self) -> Map<String, Value> {
        let mut query = Map::new();
        for term in &self.query {
            let entry = query
                .entry(term.property.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(ops) = entry {
                ops.insert(term.op.to_owned(), term.value.clone());
            }
        }
        query
    }

    /// `sentinel-2-l2a, point 27.95,36.33, 2023-07-01/2023-08-31, eo:cloud_cover<5`: the
    /// search in a line, for messages.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.collections.is_empty() {
            parts.push(self.collections.join(","));
        }
        if let Some(a) = &self.area {
            parts.push(a.to_string());
        }
        if let Some(d) = &self.datetime {
            parts.push(d.clone());
        }
        parts.extend(self.query.iter().map(QueryTerm::to_string));
        if parts.is_empty() {
            "everything".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

/// A page arrived: what front ends show while a search goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageProgress {
    /// Pages received so far (1 for the first).
    pub pages: usize,
    /// Items kept so far.
    pub items: usize,
    /// The server's `numberMatched` (or `context.matched`), when it says.
    pub matched: Option<u64>,
}

/// A finished search: the ItemCollection to save, and how it was obtained.
#[derive(Debug, Clone)]
pub struct SearchOutcome {
    /// `{"type": "FeatureCollection", "features": [...]}`, the items as the server sent
    /// them (as pystac-client's `item_collection().save_object()` writes them).
    pub collection: Value,
    pub items: usize,
    pub pages: usize,
    /// The method the pages were asked with (GET after a 405 to POST).
    pub method: Method,
    pub matched: Option<u64>,
    /// Whether `max_items` stopped the search while the server had more.
    pub truncated: bool,
}

impl SearchOutcome {
    /// The ItemCollection as text, pretty-printed.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.collection).unwrap_or_default()
    }

    /// The result read as chunkscope reads a `search.json` saved at `path`: the same
    /// checks (a STAC ItemCollection with items) before anything is written.
    pub fn to_catalog(&self, path: &Path) -> Result<Catalog, CatalogError> {
        Catalog::from_json_str(&self.to_json(), path)
    }
}

/// Why a search failed. Every message names the API and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error(
        "\"{url}\" is not an http:// or https:// URL; give a STAC API's landing page, e.g. \
         {DEFAULT_API_URL}"
    )]
    BadUrl { url: String },

    /// The reason is said inside the sentence, before what to do ([`crate::error::chain`]
    /// does not repeat it).
    #[error(
        "cannot reach the STAC API at \"{url}\": {reason}; check the URL and the connection \
         (or a proxy in HTTPS_PROXY), or search the demo scene offline: run `chunkscope \
         serve` and give --url http://127.0.0.1:8080"
    )]
    Unreachable {
        url: String,
        #[source]
        reason: Transport,
    },

    #[error(
        "the STAC API at \"{url}\" answered HTTP {status}{detail}",
        detail = if .detail.is_empty() { String::new() } else { format!(": {}", .detail) }
    )]
    Http {
        url: String,
        status: u16,
        detail: String,
    },

    #[error("\"{url}\" is not a STAC API: {found}; {hint}")]
    NotStac {
        url: String,
        found: String,
        hint: &'static str,
    },

    #[error(
        "page {page} from \"{url}\" is not a STAC ItemCollection: {found}; the server is not \
         answering as a STAC API search should"
    )]
    BadPage {
        url: String,
        page: usize,
        found: String,
    },

    #[error(
        "the search found no items ({request}) at \"{url}\"; widen the area, the dates or the \
         cloud-cover limit, or check the collection name (earth-search v1: sentinel-2-l2a)"
    )]
    NoResults { url: String, request: String },

    #[error(
        "the server at \"{url}\" still had a next page after {pages} pages ({items} items), \
         the most chunkscope follows; give --max-items N to keep the first N items, or \
         --max-pages to follow more"
    )]
    TooManyPages {
        url: String,
        pages: usize,
        items: usize,
    },

    #[error(
        "the server at \"{url}\" sent the same next link again on page {page}: it would \
         page forever; stopped ({items} items so far); give --max-items to keep what comes \
         before"
    )]
    RepeatedPage {
        url: String,
        page: usize,
        items: usize,
    },

    #[error("the search was cancelled")]
    Cancelled,
}

/// One request of a page.
#[derive(Debug, Clone, PartialEq)]
struct PageRequest {
    url: String,
    method: Method,
    /// POST: the JSON body. GET: the query pairs (added to `url`'s own).
    body: Map<String, Value>,
}

impl PageRequest {
    /// What identifies a page: the same twice means a loop.
    fn key(&self) -> String {
        format!(
            "{} {} {}",
            self.method,
            self.url,
            Value::Object(self.body.clone())
        )
    }
}

/// A response read whole.
struct Answer {
    status: u16,
    content_type: String,
    text: String,
}

/// The HTTP side, over one agent (its connections are reused from page to page).
struct Http {
    agent: ureq::Agent,
}

impl Http {
    fn new() -> Http {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(REQUEST_TIMEOUT))
            .user_agent(concat!("chunkscope/", env!("CARGO_PKG_VERSION")))
            .build();
        Http {
            agent: ureq::Agent::new_with_config(config),
        }
    }

    fn send(&self, request: &PageRequest) -> Result<Answer, SearchError> {
        let response = match request.method {
            Method::Get => self
                .agent
                .get(&request.url)
                .header("Accept", "application/geo+json, application/json")
                .query_pairs(get_pairs(&request.body))
                .call(),
            Method::Post => self
                .agent
                .post(&request.url)
                .header("Accept", "application/geo+json, application/json")
                .content_type("application/json")
                .send(Value::Object(request.body.clone()).to_string()),
        };
        let response = response.map_err(|e| SearchError::Unreachable {
            url: request.url.clone(),
            reason: Transport::new(false, e),
        })?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let text = response
            .into_body()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_string()
            .map_err(|e| SearchError::Unreachable {
                url: request.url.clone(),
                reason: Transport::new(true, e),
            })?;
        Ok(Answer {
            status,
            content_type,
            text,
        })
    }
}

/// ureq's error in words a user can act on.
/// Why a request got no answer, in words a user can act on; ureq's error itself is
/// [`Transport::error`] (not a source: its text says again what the words say).
#[derive(Debug)]
pub struct Transport {
    /// The answer started but could not be read to its end.
    pub reading_answer: bool,
    error: ureq::Error,
}

impl Transport {
    fn new(reading_answer: bool, error: ureq::Error) -> Self {
        Self {
            reading_answer,
            error,
        }
    }

    /// The error ureq returned.
    pub fn error(&self) -> &ureq::Error {
        &self.error
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reading_answer {
            f.write_str("the answer could not be read: ")?;
        }
        f.write_str(&describe_transport_error(&self.error))
    }
}

impl std::error::Error for Transport {}

fn describe_transport_error(e: &ureq::Error) -> String {
    match e {
        ureq::Error::HostNotFound => "the host name is not known (DNS)".to_owned(),
        ureq::Error::ConnectionFailed => "the connection was refused or failed".to_owned(),
        ureq::Error::Timeout(_) => "it did not answer in time".to_owned(),
        ureq::Error::BodyExceedsLimit(limit) => {
            format!("the answer is larger than {limit} bytes")
        }
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "the connection was refused (is the server running?)".to_owned()
        }
        ureq::Error::Io(io) if io.to_string().contains("lookup address") => {
            format!("the host name could not be resolved (DNS: {io})")
        }
        other => other.to_string(),
    }
}

/// The query pairs of a GET search: the stac crate's [`GetSearch`] for the standard
/// parameters; `query` (which it does not convert) as JSON text, as pystac-client sends it.
fn get_pairs(body: &Map<String, Value>) -> Vec<(String, String)> {
    let mut body = body.clone();
    let query = body.remove("query");
    let mut pairs = Vec::new();
    let get = serde_json::from_value::<Search>(Value::Object(body.clone()))
        .ok()
        .and_then(|s| GetSearch::try_from(s).ok())
        .and_then(|g| serde_json::to_value(g).ok());
    match get {
        Some(Value::Object(fields)) => {
            for (key, value) in fields {
                match value {
                    Value::String(s) => pairs.push((key, s)),
                    Value::Null => {}
                    other => pairs.push((key, other.to_string())),
                }
            }
        }
        // Not a search the stac crate reads (a server's own next-link body): as it is.
        _ => {
            for (key, value) in body {
                match value {
                    Value::String(s) => pairs.push((key, s)),
                    other => pairs.push((key, other.to_string())),
                }
            }
        }
    }
    if let Some(q) = query {
        pairs.push(("query".to_owned(), q.to_string()));
    }
    pairs
}

/// The start of `text` on one line, for a message.
fn excerpt(text: &str) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= QUOTED_CHARS {
        return line;
    }
    let cut: String = line.chars().take(QUOTED_CHARS).collect();
    format!("{cut}…")
}

/// What an answer that is not the JSON expected is, in words.
fn what_it_is(answer: &Answer) -> String {
    let kind = if answer.content_type.is_empty() {
        "an answer without a content type".to_owned()
    } else {
        format!("a {} answer", answer.content_type)
    };
    if answer.text.trim().is_empty() {
        format!("{kind} with no body")
    } else {
        format!("{kind} starting \"{}\"", excerpt(&answer.text))
    }
}

/// The server's own words on a refused request: a STAC error's `description`, else the
/// start of the body.
fn error_detail(answer: &Answer) -> String {
    serde_json::from_str::<Value>(&answer.text)
        .ok()
        .and_then(|v| {
            ["description", "detail", "message"]
                .iter()
                .find_map(|k| v.get(*k).and_then(Value::as_str).map(str::to_owned))
        })
        .map_or_else(|| excerpt(&answer.text), |d| excerpt(&d))
}

/// Where a landing page says to search, and with which methods.
struct SearchEndpoint {
    url: String,
    get: bool,
    post: bool,
}

/// Reads the landing page: a STAC API's has `links` (one with `rel: search`) and, for item
/// search, a `conformsTo` naming it. pystac-client refuses an API without item search.
fn landing_page(http: &Http, url: &str) -> Result<SearchEndpoint, SearchError> {
    let request = PageRequest {
        url: url.to_owned(),
        method: Method::Get,
        body: Map::new(),
    };
    let answer = http.send(&request)?;
    if !(200..300).contains(&answer.status) {
        return Err(SearchError::Http {
            url: url.to_owned(),
            status: answer.status,
            detail: format!(
                "{} (fetching the landing page; give the API's root URL, e.g. {DEFAULT_API_URL})",
                error_detail(&answer)
            ),
        });
    }
    let not_stac = |found: String, hint: &'static str| SearchError::NotStac {
        url: url.to_owned(),
        found,
        hint,
    };
    const ROOT_HINT: &str = "give the API's landing page (its root URL, e.g. \
         https://earth-search.aws.element84.com/v1), not a file or a web page";
    let value: Value = serde_json::from_str(&answer.text)
        .map_err(|_| not_stac(format!("it sent {}", what_it_is(&answer)), ROOT_HINT))?;
    let Some(object) = value.as_object() else {
        return Err(not_stac(
            "it sent JSON that is not an object".into(),
            ROOT_HINT,
        ));
    };
    if object.get("type").and_then(Value::as_str) == Some("FeatureCollection") {
        return Err(not_stac(
            "it is an ItemCollection (a saved search), not an API".into(),
            "open it as the catalog (`--catalog` or the TUI's CATALOG argument) instead of \
             searching it",
        ));
    }
    let links = object.get("links").and_then(Value::as_array);
    let conforms = object
        .get("conformsTo")
        .and_then(Value::as_array)
        .is_some_and(|c| {
            c.iter()
                .filter_map(Value::as_str)
                .any(|u| u.contains("/item-search"))
        });
    let search_links: Vec<&Value> = links
        .into_iter()
        .flatten()
        .filter(|l| l.get("rel").and_then(Value::as_str) == Some("search"))
        .collect();
    if links.is_none() && !conforms {
        return Err(not_stac(
            "its JSON has neither \"links\" nor \"conformsTo\"".into(),
            ROOT_HINT,
        ));
    }
    if search_links.is_empty() && !conforms {
        return Err(not_stac(
            "its landing page offers no item search (no \"search\" link, no item-search \
             conformance class)"
                .into(),
            "use an API that supports item search, such as earth-search v1",
        ));
    }
    let method_of = |l: &&Value| {
        l.get("method")
            .and_then(Value::as_str)
            .unwrap_or("GET")
            .to_ascii_uppercase()
    };
    let href = search_links
        .iter()
        .find_map(|l| l.get("href").and_then(Value::as_str))
        .map(|h| join_href(url, h))
        .unwrap_or_else(|| format!("{}/search", url.trim_end_matches('/')));
    let get = search_links.is_empty() || search_links.iter().any(|l| method_of(l) == "GET");
    let post = search_links.is_empty() || search_links.iter().any(|l| method_of(l) == "POST");
    Ok(SearchEndpoint {
        url: href,
        get,
        post,
    })
}

/// `href` of a link on the page at `base`, resolved as a browser (and pystac) resolves it.
fn join_href(base: &str, href: &str) -> String {
    url::Url::parse(base)
        .and_then(|b| b.join(href))
        .map_or_else(|_| href.to_owned(), String::from)
}

/// Runs `request`: landing page, then pages until done. `on_page` hears of each page;
/// `cancel` is checked between pages.
pub fn search(
    request: &SearchRequest,
    cancel: &CancelFlag,
    mut on_page: impl FnMut(PageProgress),
) -> Result<SearchOutcome, SearchError> {
    let root = request.url.trim().to_owned();
    if !super::is_http_url(&root) {
        return Err(SearchError::BadUrl { url: root });
    }
    let http = Http::new();
    let endpoint = landing_page(&http, &root)?;
    if cancel.is_cancelled() {
        return Err(SearchError::Cancelled);
    }
    let mut method = match request.method {
        Some(m) => m,
        None if endpoint.post => Method::Post,
        None if endpoint.get => Method::Get,
        None => Method::Post,
    };
    let mut search = request.to_search();
    // As pystac-client: no page larger than the items wanted.
    if let Some(max) = request.max_items {
        let max = u64::try_from(max).unwrap_or(u64::MAX).max(1);
        search.items.limit = Some(search.items.limit.map_or(max, |l| l.min(max)));
    }
    let body = match serde_json::to_value(&search) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let mut next = Some(PageRequest {
        url: endpoint.url.clone(),
        method,
        body,
    });
    let mut seen = HashSet::new();
    let mut features: Vec<Value> = Vec::new();
    let mut pages = 0;
    let mut matched = None;
    let mut truncated = false;
    let max_items = request.max_items.unwrap_or(usize::MAX);
    while let Some(page_request) = next.take() {
        if pages == request.max_pages {
            return Err(SearchError::TooManyPages {
                url: root,
                pages,
                items: features.len(),
            });
        }
        if !seen.insert(page_request.key()) {
            return Err(SearchError::RepeatedPage {
                url: root,
                page: pages + 1,
                items: features.len(),
            });
        }
        let mut answer = http.send(&page_request)?;
        let mut page_request = page_request;
        // pystac-client's fallback: a server that refuses POST is asked with GET from then on.
        if answer.status == 405 && page_request.method == Method::Post && request.method.is_none() {
            method = Method::Get;
            page_request.method = Method::Get;
            answer = http.send(&page_request)?;
        }
        pages += 1;
        if !(200..300).contains(&answer.status) {
            return Err(SearchError::Http {
                url: page_request.url,
                status: answer.status,
                detail: error_detail(&answer),
            });
        }
        let bad_page = |found: String| SearchError::BadPage {
            url: page_request.url.clone(),
            page: pages,
            found,
        };
        let value: Value = serde_json::from_str(&answer.text)
            .map_err(|_| bad_page(format!("it is {}", what_it_is(&answer))))?;
        let page_features = value
            .get("features")
            .and_then(Value::as_array)
            .ok_or_else(|| bad_page("its JSON has no \"features\" list".into()))?;
        matched = matched.or_else(|| {
            value
                .get("numberMatched")
                .or_else(|| value.pointer("/context/matched"))
                .and_then(Value::as_u64)
        });
        let room = max_items - features.len();
        features.extend(page_features.iter().take(room).cloned());
        on_page(PageProgress {
            pages,
            items: features.len(),
            matched,
        });
        if cancel.is_cancelled() {
            return Err(SearchError::Cancelled);
        }
        let link = next_link(&value);
        if features.len() >= max_items {
            truncated = link.is_some() || page_features.len() > room;
            break;
        }
        // An empty page ends the search, as in pystac-client, whatever its links say.
        if page_features.is_empty() {
            break;
        }
        next = link.map(|l| follow(&l, &page_request, method));
    }
    if features.is_empty() {
        return Err(SearchError::NoResults {
            url: root,
            request: request.describe(),
        });
    }
    let items = features.len();
    Ok(SearchOutcome {
        collection: json!({ "type": "FeatureCollection", "features": features }),
        items,
        pages,
        method,
        matched,
        truncated,
    })
}

/// The page's `rel: next` link, if any.
fn next_link(page: &Value) -> Option<Value> {
    page.get("links")?
        .as_array()?
        .iter()
        .find(|l| l.get("rel").and_then(Value::as_str) == Some("next"))
        .cloned()
}

/// The request a `next` link asks for (STAC API paging): its `href`, its `method` (GET if
/// none), and for POST its `body`, merged over the previous body when `merge` is true.
fn follow(link: &Value, previous: &PageRequest, method: Method) -> PageRequest {
    let href = link
        .get("href")
        .and_then(Value::as_str)
        .map_or_else(|| previous.url.clone(), |h| join_href(&previous.url, h));
    let link_method = match link.get("method").and_then(Value::as_str) {
        Some(m) if m.eq_ignore_ascii_case("POST") => Method::Post,
        Some(_) => Method::Get,
        // No method: GET, unless the search itself is POST and the link brings a body.
        None if method == Method::Post && link.get("body").is_some() => Method::Post,
        None => Method::Get,
    };
    let link_body = link
        .get("body")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let body = match link_method {
        // A GET link's href carries the whole query.
        Method::Get => Map::new(),
        Method::Post if link.get("merge").and_then(Value::as_bool) == Some(true) => {
            let mut merged = previous.body.clone();
            merged.extend(link_body);
            merged
        }
        Method::Post if link_body.is_empty() => previous.body.clone(),
        Method::Post => link_body,
    };
    PageRequest {
        url: href,
        method: link_method,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bboxes_points_and_their_mistakes() {
        assert_eq!(
            parse_bbox("27,36, 28.3,37.1").unwrap(),
            Area::Bbox([27.0, 36.0, 28.3, 37.1])
        );
        let e = parse_bbox("27,37,28,36").unwrap_err().to_string();
        assert!(
            e.starts_with("\"27,37,28,36\" is not a bounding box: south"),
            "{e}"
        );
        assert!(parse_bbox("1,2,3").is_err());
        assert!(parse_bbox("200,0,10,10").is_err());
        assert!(parse_bbox("a,b,c,d").is_err());
        assert_eq!(
            parse_point("27.95,36.33").unwrap(),
            Area::Point {
                lon: 27.95,
                lat: 36.33
            }
        );
        let e = parse_point("200,36").unwrap_err().to_string();
        assert!(e.contains("longitude (first)"), "{e}");
        assert!(
            parse_point("1,95")
                .unwrap_err()
                .to_string()
                .contains("latitude")
        );
    }

    #[test]
    fn geometries() {
        let a = parse_intersects(r#"{"type": "Point", "coordinates": [27.9, 36.3]}"#).unwrap();
        assert_eq!(a.to_string(), "a Point geometry");
        let feature = r#"{"type": "Feature", "properties": {},
            "geometry": {"type": "Point", "coordinates": [1, 2]}}"#;
        assert!(parse_intersects(feature).is_ok());
        assert!(parse_intersects(r#"{"type": "Blob"}"#).is_err());
        assert!(parse_intersects("{not json").is_err());
        let e = parse_intersects("no-such-file.geojson")
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot be read as a file"), "{e}");
    }

    #[test]
    fn dates_expand_as_pystac_client_expands_them() {
        assert_eq!(
            parse_datetime("2023-07-01/2023-08-31").unwrap(),
            "2023-07-01T00:00:00+00:00/2023-08-31T23:59:59+00:00"
        );
        assert!(
            parse_datetime("2023-07")
                .unwrap()
                .starts_with("2023-07-01T00:00:00")
        );
        assert!(parse_datetime("2023-07-01T00:00:00Z/..").is_ok());
        let e = parse_datetime("July 2023").unwrap_err().to_string();
        assert!(
            e.starts_with("\"July 2023\" is not a date or date range"),
            "{e}"
        );
        assert!(
            parse_datetime("2023-08-31/2023-07-01").is_err(),
            "end before start"
        );
    }

    #[test]
    fn queries_as_pystac_client_writes_them() {
        let q = parse_query("eo:cloud_cover<5").unwrap();
        assert_eq!(
            (q.property.as_str(), q.op, q.value.clone()),
            ("eo:cloud_cover", "lt", json!(5))
        );
        assert_eq!(q.to_string(), "eo:cloud_cover<5");
        assert_eq!(parse_query("eo:cloud_cover <= 10").unwrap().op, "lte");
        assert_eq!(
            parse_query("platform=sentinel-2a").unwrap().value,
            json!("sentinel-2a")
        );
        assert_eq!(parse_query("platform!=sentinel-2a").unwrap().op, "neq");
        assert!(parse_query("eo:cloud_cover").is_err());
        assert!(parse_query("<5").is_err());
        assert!(parse_query("eo:cloud_cover<").is_err());
        let mut r = SearchRequest::new("http://x");
        r.query = vec![
            parse_query("eo:cloud_cover<5").unwrap(),
            parse_query("eo:cloud_cover>=1").unwrap(),
        ];
        assert_eq!(
            Value::Object(r.query_object()),
            json!({"eo:cloud_cover": {"lt": 5, "gte": 1}})
        );
    }

    #[test]
    fn the_request_is_a_stac_search_and_its_get_form() {
        let mut r = SearchRequest::new("http://x");
        r.area = Some(parse_bbox("1,2,3,4").unwrap());
        r.datetime = Some(parse_datetime("2023").unwrap());
        r.query = vec![parse_query("eo:cloud_cover<5").unwrap()];
        r.sortby = vec!["-properties.datetime".parse().unwrap()];
        r.limit = Some(7);
        let s = r.to_search();
        assert_eq!(s.collections, vec!["sentinel-2-l2a"]);
        assert_eq!(s.items.limit, Some(7));
        assert!(s.items.query.is_some());
        let body = match serde_json::to_value(&s).unwrap() {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        let pairs = get_pairs(&body);
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("bbox"), Some("1,2,3,4"));
        assert_eq!(get("collections"), Some("sentinel-2-l2a"));
        assert_eq!(get("sortby"), Some("-properties.datetime"));
        assert_eq!(get("limit"), Some("7"));
        assert_eq!(get("query"), Some(r#"{"eo:cloud_cover":{"lt":5}}"#));
    }

    #[test]
    fn next_links_are_followed_as_the_spec_says() {
        let previous = PageRequest {
            url: "http://h/api/search".into(),
            method: Method::Post,
            body: json!({"limit": 2, "collections": ["c"]})
                .as_object()
                .unwrap()
                .clone(),
        };
        let merged = follow(
            &json!({"rel": "next", "href": "/api/search", "method": "POST", "merge": true, "body": {"token": "t2"}}),
            &previous,
            Method::Post,
        );
        assert_eq!(merged.url, "http://h/api/search");
        assert_eq!(merged.body.get("limit"), Some(&json!(2)));
        assert_eq!(merged.body.get("token"), Some(&json!("t2")));
        let replaced = follow(
            &json!({"rel": "next", "href": "http://h/api/search", "method": "POST", "body": {"token": "t2"}}),
            &previous,
            Method::Post,
        );
        assert_eq!(replaced.body.len(), 1);
        let get = follow(
            &json!({"rel": "next", "href": "search?token=t2"}),
            &previous,
            Method::Post,
        );
        assert_eq!(
            (get.method, get.url.as_str()),
            (Method::Get, "http://h/api/search?token=t2")
        );
        assert!(get.body.is_empty());
    }
}
