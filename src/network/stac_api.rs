//! The simulated server's STAC API: the served folder's `search.json` answered as a STAC
//! API, so that the lesson's own first step (`pystac_client.Client.open(url).search(...)`)
//! and `chunkscope search` run offline against the demo scene.
//!
//! - `GET /`: the landing page (a catalog with `conformsTo`, links to the rest);
//! - `GET /conformance`, `GET /collections`, `GET /collections/{id}`,
//!   `GET /collections/{id}/items[/{item}]`;
//! - `GET` and `POST /search`: `collections`, `ids`, `bbox`, `intersects`, `datetime`, the
//!   query extension (`query={"eo:cloud_cover": {"lt": 5}}`), `sortby`, `limit` (10 by
//!   default, at most 10 000) and paging by `next` links that carry a `skip` count.
//!
//! The request and answer types are the stac crate's (`Search`, `GetSearch`, `Root`,
//! `Conformance`, `Collections`, `ItemCollection`, `Link`), and so are the bbox,
//! intersects and datetime tests (`Search::intersects_matches` and the rest, with its
//! `geo` feature). The query extension and `sortby` are done here: the stac crate leaves
//! `query` unimplemented (its `matches` fails on one), and rustac's `stac-server` in-memory
//! backend, built on it, finds nothing for the lesson's query.
//!
//! Items are the catalog's features as served (local hrefs pointing at the server, see
//! [`super::rewrite_catalog`]), read from the file on each request as the catalog file
//! itself is; items without a `collection` are in [`DEFAULT_COLLECTION`], the lesson's, so
//! the lesson's `collections=["sentinel-2-l2a"]` finds the demo scene. Pure functions of
//! the request and the folder: the server thread calls them; timing, pacing and counting
//! stay in [`super::server`].

use std::cmp::Ordering;
use std::path::Path;

use bytes::Bytes;
use http::{Method, StatusCode};
use serde_json::{Map, Value, json};
use stac::api::{Collections, Conformance, GetSearch, ItemCollection, Root, Search};
use stac::{Bbox, Catalog, Collection, Item, Link};

use crate::catalog::search::DEFAULT_COLLECTION;

/// Items per page when a search gives no `limit` (earth-search's default too).
const DEFAULT_LIMIT: u64 = 10;

/// Largest `limit` answered (pystac-client refuses larger ones itself).
const MAX_LIMIT: u64 = 10_000;

/// Largest search body taken, bytes: a search is a few hundred; a detailed polygon a few
/// hundred KB.
pub(super) const MAX_BODY_BYTES: usize = 1 << 20;

/// The query extension's conformance class, and the sort extension's.
const QUERY_URI: &str = "https://api.stacspec.org/v1.0.0/item-search#query";
const SORT_URI: &str = "https://api.stacspec.org/v1.0.0/item-search#sort";

/// A path the STAC API answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Endpoint {
    Landing,
    Conformance,
    Collections,
    Collection(String),
    Items(String),
    Item(String, String),
    Search,
}

impl Endpoint {
    /// The endpoint at `path` (already without its query), or `None` for a file path.
    /// These names shadow files of the same name in the served folder.
    pub(super) fn at(path: &str) -> Option<Endpoint> {
        let decoded = crate::catalog::percent_decode(path);
        let parts: Vec<&str> = decoded.split('/').filter(|p| !p.is_empty()).collect();
        Some(match parts.as_slice() {
            [] => Endpoint::Landing,
            ["conformance"] => Endpoint::Conformance,
            ["collections"] => Endpoint::Collections,
            ["collections", id] => Endpoint::Collection((*id).to_owned()),
            ["collections", id, "items"] => Endpoint::Items((*id).to_owned()),
            ["collections", id, "items", item] => {
                Endpoint::Item((*id).to_owned(), (*item).to_owned())
            }
            ["search"] => Endpoint::Search,
            _ => return None,
        })
    }

    /// The methods it answers, as an `Allow` header lists them.
    pub(super) fn allow(&self) -> &'static str {
        match self {
            Endpoint::Search => "GET, HEAD, POST",
            _ => "GET, HEAD",
        }
    }

    pub(super) fn allows(&self, method: &Method) -> bool {
        matches!(*method, Method::GET | Method::HEAD)
            || (*self == Endpoint::Search && *method == Method::POST)
    }
}

/// An answer to send: status, media type and body.
#[derive(Debug)]
pub(super) struct Answer {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: Bytes,
}

impl Answer {
    fn json(status: StatusCode, content_type: &'static str, value: &Value) -> Answer {
        Answer {
            status,
            content_type,
            body: Bytes::from(serde_json::to_vec_pretty(value).unwrap_or_default()),
        }
    }

    /// A STAC API error: `{"code": ..., "description": ...}`, as stac-fastapi sends them.
    pub(super) fn error(status: StatusCode, description: impl Into<String>) -> Answer {
        let code = status
            .canonical_reason()
            .unwrap_or("Error")
            .replace(' ', "");
        Answer::json(
            status,
            "application/json",
            &json!({ "code": code, "description": description.into() }),
        )
    }
}

/// A request to the API, as the server thread received it.
pub(super) struct ApiRequest<'a> {
    pub endpoint: &'a Endpoint,
    pub method: &'a Method,
    /// The raw query string, if any.
    pub query: Option<&'a str>,
    pub body: &'a [u8],
    /// The served folder, holding `search.json`.
    pub root: &'a Path,
    /// `http://127.0.0.1:PORT`.
    pub base_url: &'a str,
}

/// Answers `request`.
pub(super) fn answer(request: &ApiRequest<'_>) -> Answer {
    let items = match ServedItems::load(request.root, request.base_url) {
        Ok(items) => items,
        Err(reason) => {
            return Answer::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "the served folder's search.json cannot be answered as a STAC API: {reason}"
                ),
            );
        }
    };
    let api = Api {
        base: request.base_url.trim_end_matches('/'),
        items,
    };
    let result = match request.endpoint {
        Endpoint::Landing => Ok(api.landing_page()),
        Endpoint::Conformance => Ok(json_ok(&conformance())),
        Endpoint::Collections => Ok(api.collections()),
        Endpoint::Collection(id) => api.collection(id),
        Endpoint::Items(id) => api.collection(id).and_then(|_| {
            let mut search = parse_get(request.query)?;
            search.collections = vec![id.clone()];
            api.search(search, request.query, None)
        }),
        Endpoint::Item(collection, id) => api.item(collection, id),
        Endpoint::Search if *request.method == Method::POST => {
            parse_post(request.body).and_then(|body| {
                match serde_json::from_value::<Search>(Value::Object(body.clone())) {
                    Ok(search) => api.search(search, None, Some(body)),
                    Err(e) => Err(bad_request(format!(
                        "the body is not a STAC item search: {e}"
                    ))),
                }
            })
        }
        Endpoint::Search => {
            parse_get(request.query).and_then(|s| api.search(s, request.query, None))
        }
    };
    result.unwrap_or_else(|e| e)
}

/// `?` for handlers: a request the API refuses is an [`Answer`] too.
type Handled = Result<Answer, Answer>;

fn bad_request(description: impl Into<String>) -> Answer {
    Answer::error(StatusCode::BAD_REQUEST, description)
}

fn json_ok<T: serde::Serialize>(value: &T) -> Answer {
    Answer::json(
        StatusCode::OK,
        "application/json",
        &serde_json::to_value(value).unwrap_or(Value::Null),
    )
}

fn conformance() -> Conformance {
    let mut c = Conformance::new().ogcapi_features().item_search();
    c.conforms_to.push(QUERY_URI.to_owned());
    c.conforms_to.push(SORT_URI.to_owned());
    c
}

/// One served item: the stac crate's view (for its tests) and the feature as served.
struct ServedItem {
    item: Item,
    raw: Map<String, Value>,
}

impl ServedItem {
    fn collection(&self) -> &str {
        self.item
            .collection
            .as_deref()
            .unwrap_or(DEFAULT_COLLECTION)
    }
}

/// The items of the served catalog, in file order.
struct ServedItems(Vec<ServedItem>);

impl ServedItems {
    /// `root/search.json` as served (hrefs rewritten); no items without one.
    fn load(root: &Path, base_url: &str) -> Result<ServedItems, String> {
        let path = root.join("search.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(ServedItems(Vec::new()));
            }
            Err(e) => return Err(format!("cannot read it: {e}")),
        };
        let (text, _) =
            super::rewrite_catalog(&text, &path, root, base_url).map_err(|e| e.to_string())?;
        let value: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        let features = value
            .get("features")
            .and_then(Value::as_array)
            .ok_or("it has no \"features\" list")?;
        let mut items = Vec::with_capacity(features.len());
        for (i, feature) in features.iter().enumerate() {
            let Value::Object(mut raw) = feature.clone() else {
                return Err(format!("feature {i} is not a JSON object"));
            };
            raw.entry("collection")
                .or_insert_with(|| json!(DEFAULT_COLLECTION));
            let item: Item = serde_json::from_value(Value::Object(raw.clone()))
                .map_err(|e| format!("feature {i} is not a STAC item: {e}"))?;
            items.push(ServedItem { item, raw });
        }
        Ok(ServedItems(items))
    }

    /// Collection ids in order of first appearance.
    fn collection_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for served in &self.0 {
            if !ids.iter().any(|id| id == served.collection()) {
                ids.push(served.collection().to_owned());
            }
        }
        ids
    }
}

struct Api<'a> {
    base: &'a str,
    items: ServedItems,
}

impl Api<'_> {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn landing_page(&self) -> Answer {
        let mut catalog = Catalog::new(
            "chunkscope",
            "chunkscope's simulated server: the served folder's search.json as a STAC API",
        );
        catalog.title = Some("chunkscope serve".to_owned());
        let root = self.url("/");
        catalog.links = vec![
            Link::self_(&root).json(),
            Link::root(&root).json(),
            Link::new(self.url("/conformance"), "conformance").json(),
            Link::new(self.url("/collections"), "data").json(),
            Link::new(self.url("/search"), "search")
                .geojson()
                .method("GET"),
            Link::new(self.url("/search"), "search")
                .geojson()
                .method("POST"),
        ];
        for id in self.items.collection_ids() {
            catalog
                .links
                .push(Link::child(self.url(&format!("/collections/{id}"))).json());
        }
        json_ok(&Root {
            catalog,
            conformance: conformance(),
        })
    }

    /// The collection `id`, its extents those of its items.
    fn collection_value(&self, id: &str) -> Option<Collection> {
        let members: Vec<&Item> = self
            .items
            .0
            .iter()
            .filter(|s| s.collection() == id)
            .map(|s| &s.item)
            .collect();
        let first = members.first()?;
        let mut collection = Collection::new(
            id,
            format!("{} item(s) of the catalog chunkscope serves", members.len()),
        );
        let mut bbox: Option<Bbox> = first.bbox;
        let (mut start, mut end) = (None, None);
        for item in &members {
            if let (Some(b), Some(other)) = (bbox.as_mut(), item.bbox) {
                b.update(other);
            }
            let p = &item.properties;
            for t in [p.datetime, p.start_datetime, p.end_datetime]
                .into_iter()
                .flatten()
            {
                start = Some(start.map_or(t, |s| t.min(s)));
                end = Some(end.map_or(t, |e| t.max(e)));
            }
        }
        if let Some(b) = bbox {
            collection.extent.spatial.bbox = vec![b];
        }
        collection.extent.temporal.interval = vec![[start, end]];
        let url = self.url(&format!("/collections/{id}"));
        collection.links = vec![
            Link::self_(&url).json(),
            Link::root(self.url("/")).json(),
            Link::parent(self.url("/")).json(),
            Link::new(format!("{url}/items"), "items").geojson(),
        ];
        Some(collection)
    }

    fn collections(&self) -> Answer {
        let list: Vec<Collection> = self
            .items
            .collection_ids()
            .iter()
            .filter_map(|id| self.collection_value(id))
            .collect();
        let mut collections = Collections::from(list);
        collections.links = vec![
            Link::self_(self.url("/collections")).json(),
            Link::root(self.url("/")).json(),
        ];
        json_ok(&collections)
    }

    fn collection(&self, id: &str) -> Handled {
        self.collection_value(id)
            .map(|c| json_ok(&c))
            .ok_or_else(|| {
                Answer::error(
                    StatusCode::NOT_FOUND,
                    format!(
                        "no collection \"{id}\"; this server has: {}",
                        self.items.collection_ids().join(", ")
                    ),
                )
            })
    }

    fn item(&self, collection: &str, id: &str) -> Handled {
        self.items
            .0
            .iter()
            .find(|s| s.collection() == collection && s.item.id == id)
            .map(|s| {
                Answer::json(
                    StatusCode::OK,
                    "application/geo+json",
                    &Value::Object(s.raw.clone()),
                )
            })
            .ok_or_else(|| {
                Answer::error(
                    StatusCode::NOT_FOUND,
                    format!("no item \"{id}\" in collection \"{collection}\""),
                )
            })
    }

    /// One page of `search`. The next page's link repeats the request with `skip` set:
    /// for GET, the `query` string; for POST, the `body`.
    fn search(
        &self,
        search: Search,
        raw_query: Option<&str>,
        body: Option<Map<String, Value>>,
    ) -> Handled {
        let mut search = search
            .normalize_datetimes()
            .and_then(Search::valid)
            .map_err(|e| bad_request(format!("invalid search: {e}")))?;
        if search.items.filter.is_some() {
            return Err(bad_request(
                "CQL2 filters are not supported by this server; use the query extension \
                 (query={\"eo:cloud_cover\": {\"lt\": 5}})",
            ));
        }
        let skip = take_count(&mut search, "skip")?.unwrap_or(0);
        let limit = search.items.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(bad_request(format!(
                "limit {limit} is out of range: give 1 to {MAX_LIMIT}"
            )));
        }
        let query_ext = search.items.query.take();
        let mut matched = Vec::new();
        for served in &self.items.0 {
            if matches(&search, query_ext.as_ref(), served)? {
                matched.push(served);
            }
        }
        sort(&mut matched, &search.items.sortby);
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let page: Vec<stac::api::Item> = matched
            .iter()
            .skip(skip)
            .take(limit)
            .map(|s| s.raw.clone())
            .collect();
        let returned = page.len();
        let mut collection = ItemCollection::new(page)
            .map_err(|e| Answer::error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        collection.number_matched = u64::try_from(matched.len()).ok();
        collection.links = vec![Link::root(self.url("/")).json()];
        let next_skip = skip + returned;
        if returned > 0 && next_skip < matched.len() {
            collection
                .links
                .push(self.next_link(raw_query, body, next_skip)?);
        }
        Ok(Answer::json(
            StatusCode::OK,
            "application/geo+json",
            &serde_json::to_value(&collection).unwrap_or(Value::Null),
        ))
    }

    fn next_link(
        &self,
        query: Option<&str>,
        body: Option<Map<String, Value>>,
        skip: usize,
    ) -> Result<Link, Answer> {
        let search_url = self.url("/search");
        match body {
            Some(mut body) => {
                body.insert("skip".to_owned(), json!(skip));
                Link::new(search_url, "next")
                    .geojson()
                    .method("POST")
                    .body(body)
                    .map_err(|e| Answer::error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
            }
            None => {
                let mut pairs: Vec<&str> = query
                    .unwrap_or("")
                    .split('&')
                    .filter(|p| !p.is_empty() && !p.starts_with("skip="))
                    .collect();
                let skip = format!("skip={skip}");
                pairs.push(&skip);
                Ok(
                    Link::new(format!("{search_url}?{}", pairs.join("&")), "next")
                        .geojson()
                        .method("GET"),
                )
            }
        }
    }
}

/// A whole-number parameter from the search's other fields (`skip`), as a number or as
/// text (a GET parameter).
fn take_count(search: &mut Search, key: &str) -> Result<Option<usize>, Answer> {
    let Some(value) = search.items.additional_fields.remove(key) else {
        return Ok(None);
    };
    let n = value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| bad_request(format!("{key} must be a whole number, not {value}")))?;
    Ok(Some(n))
}

/// The body of a POST search: a JSON object.
fn parse_post(body: &[u8]) -> Result<Map<String, Value>, Answer> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(bad_request("the search body must be a JSON object")),
        Err(e) => Err(bad_request(format!("the search body is not JSON: {e}"))),
    }
}

/// A GET search from its query string, through the stac crate's [`GetSearch`]; `query`
/// (the query extension, sent as JSON text) is read here, as the stac crate does not.
fn parse_get(query: Option<&str>) -> Result<Search, Answer> {
    let mut fields = Map::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        fields.insert(form_decode(key), Value::String(form_decode(value)));
    }
    let query_ext = fields.remove("query");
    let get: GetSearch = serde_json::from_value(Value::Object(fields))
        .map_err(|e| bad_request(format!("invalid search parameters: {e}")))?;
    let mut search = Search::try_from(get)
        .map_err(|e| bad_request(format!("invalid search parameters: {e}")))?;
    if let Some(Value::String(text)) = query_ext {
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(q)) => search.items.query = Some(q),
            _ => {
                return Err(bad_request(format!(
                    "query must be a JSON object such as {{\"eo:cloud_cover\":{{\"lt\":5}}}}, \
                     not {text}"
                )));
            }
        }
    }
    Ok(search)
}

/// `application/x-www-form-urlencoded` text: `+` is a space, then percent-escapes.
fn form_decode(s: &str) -> String {
    crate::catalog::percent_decode(&s.replace('+', " "))
}

/// Whether `served` answers `search` (its `query` taken out into `query`).
fn matches(
    search: &Search,
    query: Option<&Map<String, Value>>,
    served: &ServedItem,
) -> Result<bool, Answer> {
    let item = &served.item;
    let geometry_error = |e: stac::Error| bad_request(format!("cannot compare geometries: {e}"));
    Ok(search.collection_matches(item)
        && search.id_matches(item)
        && search.intersects_matches(item).map_err(geometry_error)?
        && search.items.bbox_matches(item).map_err(geometry_error)?
        && search
            .items
            .datetime_matches(item)
            .map_err(|e| bad_request(format!("invalid datetime: {e}")))?
        && match query {
            Some(q) => query_matches(q, &served.raw)?,
            None => true,
        })
}

/// The query extension: every `{property: {op: value}}` holds of the item's properties.
/// Operators: `eq`, `neq`, `lt`, `lte`, `gt`, `gte`, `startsWith`, `endsWith`,
/// `contains`, `in`. A missing property matches nothing.
fn query_matches(query: &Map<String, Value>, raw: &Map<String, Value>) -> Result<bool, Answer> {
    let properties = raw.get("properties").and_then(Value::as_object);
    for (property, ops) in query {
        let Some(ops) = ops.as_object() else {
            return Err(bad_request(format!(
                "query on \"{property}\" must map operators to values, e.g. {{\"lt\": 5}}"
            )));
        };
        let actual = properties.and_then(|p| p.get(property));
        for (op, expected) in ops {
            let holds = match actual {
                None => false,
                Some(actual) => apply(op, actual, expected).ok_or_else(|| {
                    bad_request(format!(
                        "query operator \"{op}\" is not one of eq, neq, lt, lte, gt, gte, \
                         startsWith, endsWith, contains, in"
                    ))
                })?,
            };
            if !holds {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// `actual op expected`; `None` for an unknown operator.
fn apply(op: &str, actual: &Value, expected: &Value) -> Option<bool> {
    let order = || compare(actual, expected);
    let text = |f: fn(&str, &str) -> bool| match (actual.as_str(), expected.as_str()) {
        (Some(a), Some(e)) => f(a, e),
        _ => false,
    };
    Some(match op {
        "eq" => order() == Some(Ordering::Equal),
        "neq" => order() != Some(Ordering::Equal),
        "lt" => order() == Some(Ordering::Less),
        "lte" => matches!(order(), Some(Ordering::Less | Ordering::Equal)),
        "gt" => order() == Some(Ordering::Greater),
        "gte" => matches!(order(), Some(Ordering::Greater | Ordering::Equal)),
        "startsWith" => text(|a, e| a.starts_with(e)),
        "endsWith" => text(|a, e| a.ends_with(e)),
        "contains" => text(|a, e| a.contains(e)),
        "in" => expected.as_array().is_some_and(|values| {
            values
                .iter()
                .any(|v| compare(actual, v) == Some(Ordering::Equal))
        }),
        _ => return None,
    })
}

/// Numbers by value, strings by text (RFC 3339 times in UTC order as text), booleans as
/// equal or not; other pairs do not compare. A number compares with a string that reads
/// as one: pystac-client sends `query=["eo:cloud_cover<5"]` as `{"lt": "5"}`.
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    let number = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match (a, b) {
        (Value::Number(_), _) | (_, Value::Number(_)) => number(a)?.partial_cmp(&number(b)?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// `sortby`: by each field in turn (`properties.eo:cloud_cover`, `datetime`, `id`), items
/// without the field last; a stable sort, so ties keep file order.
fn sort(items: &mut [&ServedItem], sortby: &[stac::api::Sortby]) {
    if sortby.is_empty() {
        return;
    }
    let field = |s: &ServedItem, name: &str| -> Option<Value> {
        match name {
            "id" | "collection" => s.raw.get(name).cloned(),
            _ => {
                let key = name.strip_prefix("properties.").unwrap_or(name);
                s.raw.get("properties")?.get(key).cloned()
            }
        }
    };
    items.sort_by(|a, b| {
        for key in sortby {
            let (x, y) = (field(a, &key.field), field(b, &key.field));
            let order = match (&x, &y) {
                (Some(x), Some(y)) => {
                    let o = compare(x, y).unwrap_or(Ordering::Equal);
                    match key.direction {
                        stac::api::Direction::Ascending => o,
                        stac::api::Direction::Descending => o.reverse(),
                    }
                }
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            };
            if order != Ordering::Equal {
                return order;
            }
        }
        Ordering::Equal
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_methods() {
        assert_eq!(Endpoint::at("/"), Some(Endpoint::Landing));
        assert_eq!(Endpoint::at("/search"), Some(Endpoint::Search));
        assert_eq!(Endpoint::at("/search.json"), None);
        assert_eq!(
            Endpoint::at("/collections/sentinel-2-l2a/items/X"),
            Some(Endpoint::Item("sentinel-2-l2a".into(), "X".into()))
        );
        assert_eq!(Endpoint::at("/DEMO/visual.tif"), None);
        assert!(Endpoint::Search.allows(&Method::POST));
        assert!(!Endpoint::Landing.allows(&Method::POST));
        assert!(!Endpoint::Search.allows(&Method::DELETE));
    }

    #[test]
    fn the_query_extension() {
        let raw: Map<String, Value> = serde_json::from_value(json!({
            "properties": {"eo:cloud_cover": 3.5, "platform": "sentinel-2a"}
        }))
        .unwrap();
        let q = |v: Value| query_matches(v.as_object().unwrap(), &raw);
        assert!(q(json!({"eo:cloud_cover": {"lt": 5}})).unwrap());
        assert!(
            q(json!({"eo:cloud_cover": {"lt": "5"}})).unwrap(),
            "as pystac-client sends it"
        );
        assert!(!q(json!({"eo:cloud_cover": {"lt": 5, "gt": 4}})).unwrap());
        assert!(q(json!({"platform": {"eq": "sentinel-2a"}})).unwrap());
        assert!(q(json!({"platform": {"in": ["sentinel-2b", "sentinel-2a"]}})).unwrap());
        assert!(q(json!({"platform": {"startsWith": "sentinel"}})).unwrap());
        assert!(!q(json!({"gsd": {"lt": 20}})).unwrap(), "missing property");
        assert!(q(json!({"eo:cloud_cover": {"below": 5}})).is_err());
    }

    #[test]
    fn get_parameters_are_form_decoded() {
        let s = parse_get(Some(
            "collections=sentinel-2-l2a&bbox=1%2C2%2C3%2C4&limit=2&skip=4\
             &query=%7B%22eo%3Acloud_cover%22%3A+%7B%22lt%22%3A+5%7D%7D",
        ))
        .unwrap();
        assert_eq!(s.collections, vec!["sentinel-2-l2a"]);
        assert_eq!(s.items.limit, Some(2));
        assert_eq!(
            s.items.query,
            json!({"eo:cloud_cover": {"lt": 5}}).as_object().cloned()
        );
        assert_eq!(s.items.additional_fields.get("skip"), Some(&json!("4")));
        assert!(parse_get(Some("limit=ten")).is_err());
        assert!(parse_get(Some("query=lt5")).is_err());
    }
}
