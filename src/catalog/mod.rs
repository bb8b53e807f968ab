//! STAC catalogs: reads a `search.json` ItemCollection, resolves asset hrefs to paths GDAL
//! can open and finds the pipeline's assets by key (earth-search v0 and v1 names).
//!
//! Pure data and file reading, no GDAL: it runs on whichever thread asks (the front end,
//! before a run starts). A catalog at an `http(s)://` URL is fetched by
//! [`crate::network::load_catalog`] and parsed here, its relative hrefs resolved against
//! the URL. The files are the ones the Carpentries lesson saves with
//! `pystac_client`: `search.item_collection().save_object("search.json")`; [`search`] makes
//! one from a STAC API, as the lesson's first step does.

pub mod search;

use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value};

/// At most this many item ids are listed when an id is not found.
const MAX_IDS_LISTED: usize = 10;

/// What every "wrong kind of file" message suggests.
const HOW_TO_MAKE: &str = "save the result of a STAC API search as an ItemCollection, \
     as the lesson does with pystac_client: `search.item_collection().save_object(\"search.json\")`";

/// The assets the pipeline needs, under whichever key a catalog version uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AssetRole {
    /// True-colour image (`visual` in v0 and v1).
    Visual,
    /// Scene classification layer (`SCL` in v0, `scl` in v1).
    Scl,
    /// Blue band (`B02` in v0, `blue` in v1).
    Blue,
}

impl AssetRole {
    /// Every role, in the order the pipeline uses them.
    pub const ALL: [AssetRole; 3] = [AssetRole::Visual, AssetRole::Scl, AssetRole::Blue];

    /// Asset keys that hold this role, tried in this order: earth-search v0 first, then v1.
    ///
    /// Matching is exact, so the v1 `*-jp2` twins (JPEG 2000, not COGs) are never picked.
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            AssetRole::Visual => &["visual"],
            AssetRole::Scl => &["SCL", "scl"],
            AssetRole::Blue => &["B02", "blue"],
        }
    }
}

/// The role's first key, as the lesson names it: "visual", "SCL", "B02".
impl fmt::Display for AssetRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keys()[0])
    }
}

/// One asset of an item, with its href resolved for GDAL.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Asset {
    /// The asset's key in the item (`visual`, `SCL`, `scl`, ...).
    pub key: String,
    /// The href as written in the catalog.
    pub href: String,
    /// What GDAL opens: a local path, `/vsicurl/https://...` or `/vsis3/...`.
    pub gdal_path: String,
    /// The asset's `type` (a media type such as
    /// `image/tiff; application=geotiff; profile=cloud-optimized`).
    pub media_type: Option<String>,
    /// `proj:shape` as [rows, cols], from the asset or else from the item's properties.
    pub proj_shape: Option<[usize; 2]>,
    /// `proj:transform` (6 or 9 numbers, GDAL order is not implied), from the asset or else
    /// from the item's properties.
    pub proj_transform: Option<Vec<f64>>,
}

/// One STAC item (a scene) with the fields chunkscope shows and the assets it may read.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Item {
    pub id: String,
    /// `datetime` exactly as written in the catalog (RFC 3339).
    pub datetime: Option<String>,
    /// `eo:cloud_cover`, in percent.
    pub cloud_cover: Option<f64>,
    /// `platform`, e.g. `sentinel-2a`.
    pub platform: Option<String>,
    /// Assets in catalog order.
    pub assets: Vec<Asset>,
}

/// A loaded `search.json`: its items in file order (earth-search returns newest first).
#[derive(Debug, Clone)]
pub struct Catalog {
    /// The catalog file as the user named it; every error message quotes it.
    pub path: PathBuf,
    /// At least one item: loading fails on an empty collection.
    pub items: Vec<Item>,
}

/// Why a catalog could not be read, or lacks what the pipeline needs.
///
/// Every message names the catalog file and says what to do; front ends show it as is.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The file is missing or unreadable (the I/O error is part of the message).
    #[error(
        "cannot read catalog \"{path}\": {io}; check the path (a `search.json` saved from a \
         STAC search), or run without a catalog to use the generated demo scene",
        path = .path.display()
    )]
    Read { path: PathBuf, io: std::io::Error },

    /// Not JSON at all (or truncated).
    #[error(
        "catalog \"{path}\" is not valid JSON: {message} at line {line}, column {column}; \
         fix the file or save the search again",
        path = .path.display()
    )]
    NotJson {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    /// JSON, but not a GeoJSON FeatureCollection of STAC items.
    #[error(
        "catalog \"{path}\" is {found}, not a STAC ItemCollection (\"type\": \"FeatureCollection\"); \
         {HOW_TO_MAKE}",
        path = .path.display()
    )]
    NotItemCollection {
        path: PathBuf,
        /// What the file is instead, e.g. `a JSON object with "type": "Feature"`.
        found: String,
    },

    /// A FeatureCollection whose content the STAC reader rejects (a field of the wrong
    /// kind, an item that is not a Feature, ...).
    #[error(
        "catalog \"{path}\" is a FeatureCollection but not valid STAC: {message} at line {line}, \
         column {column}; fix the file or save the search again",
        path = .path.display()
    )]
    InvalidStac {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    /// `features` is empty: the search found nothing.
    #[error(
        "catalog \"{path}\" has no items (its \"features\" list is empty); the search found no \
         scene: widen the area, the dates or the cloud-cover limit and save it again",
        path = .path.display()
    )]
    Empty { path: PathBuf },

    /// The requested item id is not in the catalog.
    #[error(
        "catalog \"{path}\" has no item \"{id}\"; its items are: {}; pick one of these, or \
         give no item to use the first",
        list_ids(.available),
        path = .path.display()
    )]
    ItemNotFound {
        path: PathBuf,
        id: String,
        /// Every id in the catalog (the message lists the first few).
        available: Vec<String>,
    },

    /// The item has none of the keys that hold a role.
    #[error(
        "item \"{item}\"{} has no {role} asset (looked for {}); its assets are: {}; pick \
         another item, or a Sentinel-2 L2A catalog from earth-search v0 (sentinel-s2-l2a-cogs) \
         or v1 (sentinel-2-l2a)",
        in_catalog(.path.as_deref()),
        quote_all(.tried),
        quote_all(.available)
    )]
    AssetNotFound {
        /// The catalog file; `None` only from [`Item::asset`], which cannot know it.
        path: Option<PathBuf>,
        item: String,
        role: AssetRole,
        /// The keys looked for, from [`AssetRole::keys`].
        tried: Vec<String>,
        /// The keys the item has, in catalog order.
        available: Vec<String>,
    },
}

/// ` in catalog "path"`, or nothing when the catalog is not known.
fn in_catalog(path: Option<&Path>) -> String {
    path.map(|p| format!(" in catalog \"{}\"", p.display()))
        .unwrap_or_default()
}

/// `"a", "b", "c"`, or `none` for an empty list.
fn quote_all<S: AsRef<str>>(values: &[S]) -> String {
    if values.is_empty() {
        return "none".to_owned();
    }
    values
        .iter()
        .map(|v| format!("\"{}\"", v.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Like [`quote_all`], but at most [`MAX_IDS_LISTED`] and a count of the rest.
fn list_ids(ids: &[String]) -> String {
    if ids.len() <= MAX_IDS_LISTED {
        return quote_all(ids);
    }
    format!(
        "{} and {} more",
        quote_all(&ids[..MAX_IDS_LISTED]),
        ids.len() - MAX_IDS_LISTED
    )
}

impl Catalog {
    /// Reads a STAC ItemCollection (`search.json`).
    ///
    /// Relative asset hrefs are resolved against the file's folder, so the result does not
    /// depend on the current directory.
    pub fn load(path: &Path) -> Result<Catalog, CatalogError> {
        let text = std::fs::read_to_string(path).map_err(|io| CatalogError::Read {
            path: path.to_owned(),
            io,
        })?;
        Catalog::from_json_str(&text, path)
    }

    /// Parses the text of an ItemCollection as if it were read from `path`: `path` appears
    /// in error messages and its folder is the base for relative hrefs. The file need not
    /// exist.
    pub fn from_json_str(text: &str, path: &Path) -> Result<Catalog, CatalogError> {
        // A UTF-8 byte order mark (Windows editors write one) is no part of the JSON.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        // Two passes over the text: a generic one to tell "not JSON" and "wrong kind of
        // JSON" apart (and to keep `datetime` as written: stac parses it into a chrono
        // value), then the stac crate's own, from the text so its errors keep line:column.
        let value: Value = serde_json::from_str(text).map_err(|e| CatalogError::NotJson {
            path: path.to_owned(),
            line: e.line(),
            column: e.column(),
            message: error_message(&e),
        })?;
        check_feature_collection(&value, path)?;
        let collection: stac::ItemCollection =
            serde_json::from_str(text).map_err(|e| CatalogError::InvalidStac {
                path: path.to_owned(),
                line: e.line(),
                column: e.column(),
                message: error_message(&e),
            })?;
        if collection.items.is_empty() {
            return Err(CatalogError::Empty {
                path: path.to_owned(),
            });
        }
        let base_dir = base_dir_of(path);
        let raw_features = value.get("features").and_then(Value::as_array);
        let items = collection
            .items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let raw_datetime = raw_features
                    .and_then(|features| features.get(i))
                    .and_then(|feature| feature.get("properties"))
                    .and_then(|properties| properties.get("datetime"))
                    .and_then(Value::as_str);
                convert_item(item, raw_datetime, &base_dir)
            })
            .collect();
        Ok(Catalog {
            path: path.to_owned(),
            items,
        })
    }

    /// The item with this id, or the first item (the newest, in an earth-search result)
    /// when `id` is `None`.
    /// Index of the item the lesson works on: the collection's last, `items[-1]` in its
    /// notebook. `None` only for a catalog built by hand with no items.
    pub fn lesson_index(&self) -> Option<usize> {
        self.items.len().checked_sub(1)
    }

    pub fn item(&self, id: Option<&str>) -> Result<&Item, CatalogError> {
        let found = match id {
            None => self.items.first(),
            Some(id) => self.items.iter().find(|item| item.id == id),
        };
        found.ok_or_else(|| match id {
            Some(id) => CatalogError::ItemNotFound {
                path: self.path.clone(),
                id: id.to_owned(),
                available: self.items.iter().map(|item| item.id.clone()).collect(),
            },
            // Only reachable for a Catalog built by hand: `from_json_str` refuses empty ones.
            None => CatalogError::Empty {
                path: self.path.clone(),
            },
        })
    }

    /// The asset holding `role` in item `id` (or the first item), with errors that name
    /// the catalog file.
    pub fn asset(&self, id: Option<&str>, role: AssetRole) -> Result<&Asset, CatalogError> {
        let item = self.item(id)?;
        item.find_role(role)
            .ok_or_else(|| CatalogError::AssetNotFound {
                path: Some(self.path.clone()),
                item: item.id.clone(),
                role,
                tried: role.keys().iter().map(|k| (*k).to_owned()).collect(),
                available: item.assets.iter().map(|a| a.key.clone()).collect(),
            })
    }
}

impl Item {
    /// The asset holding `role`, under its v0 or v1 key.
    ///
    /// The error cannot name the catalog file (an item does not know it); prefer
    /// [`Catalog::asset`] where the catalog is at hand.
    pub fn asset(&self, role: AssetRole) -> Result<&Asset, CatalogError> {
        self.find_role(role)
            .ok_or_else(|| CatalogError::AssetNotFound {
                path: None,
                item: self.id.clone(),
                role,
                tried: role.keys().iter().map(|k| (*k).to_owned()).collect(),
                available: self.assets.iter().map(|a| a.key.clone()).collect(),
            })
    }

    /// The asset under exactly this key.
    pub fn asset_by_key(&self, key: &str) -> Option<&Asset> {
        self.assets.iter().find(|a| a.key == key)
    }

    /// The asset holding `role`, if any key of the role is present.
    pub fn find_role(&self, role: AssetRole) -> Option<&Asset> {
        role.keys().iter().find_map(|key| self.asset_by_key(key))
    }
}

/// serde_json's message without its trailing " at line L column C" (we say it our way).
fn error_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_owned()
}

/// Refuses JSON that is not a FeatureCollection, saying what it is instead.
///
/// A missing `type` with a `features` list is accepted, as the stac crate does.
fn check_feature_collection(value: &Value, path: &Path) -> Result<(), CatalogError> {
    let found = match value {
        Value::Object(object) => match object.get("type") {
            Some(Value::String(t)) if t == "FeatureCollection" => return Ok(()),
            None if object.get("features").is_some_and(Value::is_array) => return Ok(()),
            Some(Value::String(t)) => {
                let hint = match t.as_str() {
                    "Feature" => " (a single STAC item)",
                    "Collection" => " (a STAC collection description, without items)",
                    "Catalog" => " (a STAC catalog, without items)",
                    _ => "",
                };
                format!("a JSON object with \"type\": \"{t}\"{hint}")
            }
            Some(other) => format!("a JSON object whose \"type\" is {}", json_kind(other)),
            None => "a JSON object without \"type\"".to_owned(),
        },
        other => json_kind(other).to_owned(),
    };
    Err(CatalogError::NotItemCollection {
        path: path.to_owned(),
        found,
    })
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a JSON array",
        Value::Object(_) => "a JSON object",
    }
}

/// The folder relative hrefs are resolved against: the catalog file's folder, made
/// absolute so that a later change of directory does not matter; for a catalog read from
/// a URL, the URL's folder (`https://host/dir` for `https://host/dir/search.json`).
fn base_dir_of(path: &Path) -> PathBuf {
    let text = path.to_string_lossy();
    if is_http_url(&text) {
        let url = text.split(['?', '#']).next().unwrap_or(&text);
        let folder = url.rsplit_once('/').map_or(url, |(folder, _)| folder);
        return PathBuf::from(folder);
    }
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    match absolute.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    }
}

fn convert_item(item: &stac::Item, raw_datetime: Option<&str>, base_dir: &Path) -> Item {
    let properties = &item.properties.additional_fields;
    let datetime = raw_datetime
        .map(str::to_owned)
        // Only if the generic pass lost it; does not happen for the same text.
        .or_else(|| item.properties.datetime.map(|d| d.to_rfc3339()));
    let assets = item
        .assets
        .iter()
        .map(|(key, asset)| {
            let fields = &asset.additional_fields;
            Asset {
                key: key.clone(),
                href: asset.href.clone(),
                gdal_path: resolve_href(&asset.href, base_dir),
                media_type: asset.r#type.clone(),
                proj_shape: proj_shape(fields).or_else(|| proj_shape(properties)),
                proj_transform: proj_transform(fields).or_else(|| proj_transform(properties)),
            }
        })
        .collect();
    Item {
        id: item.id.clone(),
        datetime,
        cloud_cover: properties.get("eo:cloud_cover").and_then(Value::as_f64),
        platform: properties
            .get("platform")
            .and_then(Value::as_str)
            .map(str::to_owned),
        assets,
    }
}

/// `proj:shape` as [rows, cols] (the projection extension's order: Y, X), if well formed.
fn proj_shape(fields: &Map<String, Value>) -> Option<[usize; 2]> {
    let shape = fields.get("proj:shape")?.as_array()?;
    let [rows, cols] = shape.as_slice() else {
        return None;
    };
    Some([count(rows)?, count(cols)?])
}

/// A non-negative whole number, also when written as `10980.0`.
fn count(value: &Value) -> Option<usize> {
    if let Some(n) = value.as_u64() {
        return usize::try_from(n).ok();
    }
    let f = value.as_f64()?;
    // The bound keeps the cast exact; no raster has 2^53 rows.
    (f >= 0.0 && f.fract() == 0.0 && f < 9_007_199_254_740_992.0)
        .then_some(crate::convert::floor_usize(f))
}

/// `proj:transform`: 6 or 9 numbers, if well formed.
fn proj_transform(fields: &Map<String, Value>) -> Option<Vec<f64>> {
    let numbers = fields
        .get("proj:transform")?
        .as_array()?
        .iter()
        .map(Value::as_f64)
        .collect::<Option<Vec<f64>>>()?;
    matches!(numbers.len(), 6 | 9).then_some(numbers)
}

/// What GDAL opens for an asset href:
///
/// - `https://...`, `http://...` → `/vsicurl/<url>`;
/// - `s3://bucket/key` → `/vsis3/bucket/key`, `gs://bucket/key` → `/vsigs/bucket/key`;
/// - `file:///path` (or `file://localhost/path`) → `/path`, percent-escapes decoded;
/// - GDAL virtual paths (`/vsi...`) and absolute local paths → as they are;
/// - relative paths → joined to `base_dir` (the catalog file's folder), `.` parts dropped;
/// - any other URL scheme → as written, for GDAL to judge.
pub fn resolve_href(href: &str, base_dir: &Path) -> String {
    if href.starts_with("/vsi") {
        return href.to_owned();
    }
    if let Some((scheme, rest)) = split_scheme(href) {
        return match scheme.to_ascii_lowercase().as_str() {
            "https" | "http" => format!("/vsicurl/{href}"),
            "s3" => format!("/vsis3/{rest}"),
            "gs" => format!("/vsigs/{rest}"),
            "file" => file_url_to_path(rest),
            _ => href.to_owned(),
        };
    }
    let base_text = base_dir.to_string_lossy();
    if is_http_url(&base_text) {
        // A relative href in a catalog read from a URL is relative to that URL.
        return format!("/vsicurl/{}", join_url(&base_text, href));
    }
    let path = Path::new(href);
    if path.is_absolute() {
        return href.to_owned();
    }
    let mut joined = base_dir.to_path_buf();
    for component in path.components() {
        // `..` is kept: removing it lexically is wrong when the folder is a symlink.
        if component != Component::CurDir {
            joined.push(component);
        }
    }
    joined.to_string_lossy().into_owned()
}

/// Whether `text` is an `http://` or `https://` URL (any case of the scheme).
pub fn is_http_url(text: &str) -> bool {
    split_scheme(text).is_some_and(|(scheme, _)| {
        scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")
    })
}

/// `href` (relative, or absolute on the host) resolved against the folder URL `base`
/// (without a trailing slash), as a browser resolves a link: `./` dropped, `../` going up
/// at most to the host.
fn join_url(base: &str, href: &str) -> String {
    let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
    let (host, folder) = rest.split_once('/').unwrap_or((rest, ""));
    let mut parts: Vec<&str> = if href.starts_with('/') {
        Vec::new()
    } else {
        folder.split('/').filter(|p| !p.is_empty()).collect()
    };
    for part in href.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("{scheme}://{host}/{}", parts.join("/"))
}

/// `("https", "host/path")` for `https://host/path`; `None` for a path.
///
/// A scheme is letters, digits, `+`, `-`, `.` starting with a letter (RFC 3986, 3.1); one
/// letter is not taken as a scheme, so that `C://...` stays a Windows path.
fn split_scheme(href: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = href.split_once("://")?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    let valid = first.is_ascii_alphabetic()
        && scheme.len() > 1
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some((scheme, rest))
}

/// The path of a `file://` URL, given what follows `file://`.
fn file_url_to_path(rest: &str) -> String {
    let path = rest.strip_prefix("localhost").unwrap_or(rest);
    let decoded = percent_decode(path);
    // `file:///C:/data/x.tif` names `C:/data/x.tif` on Windows.
    let bytes = decoded.as_bytes();
    if bytes.len() >= 3 && bytes[0] == b'/' && bytes[1].is_ascii_alphabetic() && bytes[2] == b':' {
        return decoded[1..].to_owned();
    }
    decoded
}

/// Decodes `%XX` escapes; malformed escapes stay as written.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(byte) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_keys_and_names() {
        assert_eq!(AssetRole::Scl.keys(), ["SCL", "scl"]);
        assert_eq!(AssetRole::Blue.to_string(), "B02");
        assert_eq!(AssetRole::Visual.to_string(), "visual");
    }

    #[test]
    fn scheme_detection() {
        assert_eq!(split_scheme("https://a/b"), Some(("https", "a/b")));
        assert_eq!(split_scheme("C://x"), None);
        assert_eq!(split_scheme("data/x.tif"), None);
        assert_eq!(split_scheme("a b://x"), None);
    }

    #[test]
    fn relative_hrefs_of_a_catalog_read_from_a_url() {
        let base = base_dir_of(Path::new("http://127.0.0.1:8080/demo/search.json?x=1"));
        assert_eq!(base, PathBuf::from("http://127.0.0.1:8080/demo"));
        assert_eq!(
            resolve_href("./S2/visual.tif", &base),
            "/vsicurl/http://127.0.0.1:8080/demo/S2/visual.tif"
        );
        assert_eq!(
            resolve_href("../other/B02.tif", &base),
            "/vsicurl/http://127.0.0.1:8080/other/B02.tif"
        );
        assert_eq!(
            resolve_href("/data/x.tif", &base),
            "/vsicurl/http://127.0.0.1:8080/data/x.tif"
        );
        assert_eq!(
            resolve_href("https://e.com/a.tif", &base),
            "/vsicurl/https://e.com/a.tif"
        );
        assert!(is_http_url("HTTPS://e.com/search.json"));
        assert!(!is_http_url("s3://bucket/search.json"));
        assert!(!is_http_url("search.json"));
    }

    #[test]
    fn file_urls() {
        assert_eq!(
            file_url_to_path("/data/my%20scene.tif"),
            "/data/my scene.tif"
        );
        assert_eq!(file_url_to_path("localhost/data/x.tif"), "/data/x.tif");
        assert_eq!(file_url_to_path("/C:/data/x.tif"), "C:/data/x.tif");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn shapes_and_transforms() {
        let fields: Map<String, Value> = serde_json::from_str(
            r#"{"proj:shape": [5490.0, 10980], "proj:transform": [20, 0, 1, 0, -20, 2]}"#,
        )
        .unwrap();
        assert_eq!(proj_shape(&fields), Some([5490, 10980]));
        assert_eq!(proj_transform(&fields).map(|t| t.len()), Some(6));
        let bad: Map<String, Value> =
            serde_json::from_str(r#"{"proj:shape": [1, -2], "proj:transform": [1, 2]}"#).unwrap();
        assert_eq!(proj_shape(&bad), None);
        assert_eq!(proj_transform(&bad), None);
    }

    #[test]
    fn id_list_is_capped() {
        let ids: Vec<String> = (0..13).map(|i| format!("id{i}")).collect();
        let listed = list_ids(&ids);
        assert!(listed.ends_with("\"id9\" and 3 more"), "{listed}");
    }
}
