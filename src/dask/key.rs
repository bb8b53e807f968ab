//! Dask task keys: their shape (a name, or a name with chunk indices), the name without
//! Dask's tokens, and which of the lesson's stages a name belongs to. Pure functions over
//! strings, used while a stream is read.

use serde::Serialize;

use crate::task::Stage;

/// Where a task sits on the chunk grid, from the indices of its key. Dask numbers a
/// chunk by its block index along each axis of the array the task produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ChunkIndex {
    /// Block index along the band axis, for keys of 3-D arrays (`[name, band, row, col]`);
    /// `None` for 2-D ones (`[name, row, col]`, e.g. a single band selected).
    pub band: Option<u32>,
    pub row: u32,
    pub col: u32,
}

/// A key as Dask gives it: a plain name (`"finalize-hlgfinalizecompute-<token>"`) or a
/// list of a name and block indices (`["store-map-<token>", 0, 3, 2]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub name: String,
    pub indices: Vec<u32>,
}

impl Key {
    /// Reads a key from the stream's JSON; `None` when it has neither shape: not a string,
    /// an empty list, a list whose first item is not a string, or indices that are not
    /// non-negative integers that fit in 32 bits.
    pub fn from_json(value: &serde_json::Value) -> Option<Self> {
        match value {
            serde_json::Value::String(name) => Some(Self {
                name: name.clone(),
                indices: Vec::new(),
            }),
            serde_json::Value::Array(items) => {
                let (first, rest) = items.split_first()?;
                let name = first.as_str()?.to_owned();
                let indices = rest
                    .iter()
                    .map(|i| i.as_u64().and_then(|i| u32::try_from(i).ok()))
                    .collect::<Option<Vec<u32>>>()?;
                Some(Self { name, indices })
            }
            _ => None,
        }
    }

    /// The chunk the task belongs to: keys with two indices are (row, col), with three
    /// (band, row, col). Other shapes (a plain name, a 1-D array's `[name, i]`, arrays of
    /// more dimensions) are not on the raster's chunk grid.
    pub fn chunk(&self) -> Option<ChunkIndex> {
        match self.indices[..] {
            [row, col] => Some(ChunkIndex {
                band: None,
                row,
                col,
            }),
            [band, row, col] => Some(ChunkIndex {
                band: Some(band),
                row,
                col,
            }),
            _ => None,
        }
    }
}

/// A key's name without Dask's tokens and xarray's `<this-array>` tags, the part that says
/// what the task does: `open_rasterio-e0012a…163<this-array>-037b…d90` → `open_rasterio`,
/// `any-any-aggregate-3da7…edc0` → `any-any-aggregate`.
pub fn label(name: &str) -> String {
    // Tags in angle brackets hold dashes of their own (`<this-array>`): drop them first.
    let mut untagged = String::with_capacity(name.len());
    let mut depth = 0usize;
    for c in name.chars() {
        match c {
            '<' => depth += 1,
            '>' if depth > 0 => depth -= 1,
            _ if depth == 0 => untagged.push(c),
            _ => {}
        }
    }
    let kept: Vec<&str> = untagged
        .split('-')
        .filter(|part| !part.is_empty() && !is_token(part))
        .collect();
    if kept.is_empty() {
        name.to_owned()
    } else {
        kept.join("-")
    }
}

/// Dask's tokens (`dask.base.tokenize`) are 32 lowercase hex digits, an MD5 digest.
fn is_token(part: &str) -> bool {
    part.len() == 32 && part.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The stage a task belongs to, decided from its [`label`]. Read from the real streams of
/// the lesson (dask 2026.8, rioxarray 0.19; `tests/fixtures/dask/`),
/// where every chunk yields the same handful of names:
///
/// | label (example key)                                        | stage    | what it is |
/// |------------------------------------------------------------|----------|------------|
/// | `original-open_rasterio` (`"original-open_rasterio-e001…<this-array>-037b…"`) | load | the lazily indexed file array, once per asset |
/// | `open_rasterio` (`["open_rasterio-e001…<this-array>-037b…", 0, 3, 2]`) | load | one chunk read from one asset (SCL, visual) |
/// | `getitem` (`["getitem-d00f…", 0, 0]`)                      | load     | the SCL band selected from its persisted chunk |
/// | `any-any-aggregate`, `any-aggregate` (`["any-aggregate-3da7…", 3, 3]`) | mask | `isin(cloud classes)`: Dask's `isin` is a kernel reduced with `any` |
/// | `store-map` (`["store-map-7f5a…", 0, 3, 3]`)               | write    | `where(~mask, 0)` fused with the store of `to_raster` |
/// | `finalize-hlgfinalizecompute` (`"finalize-hlgfinalizecompute-3acc…"`) | finalize | the closing task of `.compute()` |
/// | `array` (`["array-54f2…", 0]`)                             | other    | the cloud classes `[8, 9]` as a one-chunk array |
///
/// `isin`, `where` and `invert` (`~mask`) are mask names too, for graphs where Dask did not
/// fuse them away. `array` stays "other": Dask gives that name to any constant array, so
/// the name alone does not say which stage it serves. Every name not in this table is
/// "other" as well, and shown under its label rather than dropped.
pub fn stage_of(label: &str) -> Option<Stage> {
    let mut parts = label.split('-');
    let first = parts.next().unwrap_or_default();
    let any_part = |wanted: &str| label.split('-').any(|p| p == wanted);
    match first {
        "finalize" => Some(Stage::Finalize),
        "store" => Some(Stage::Write),
        "getitem" => Some(Stage::Load),
        _ if any_part("open_rasterio") => Some(Stage::Load),
        "isin" | "where" | "any" | "invert" => Some(Stage::Mask),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every name of the lesson's three recorded streams, as recorded.
    const REAL: [(&str, Option<Stage>); 9] = [
        (
            "original-open_rasterio-e0012a1928f059240faac5577554e163<this-array>-037becdbabcf88d725a812ff40c49d90",
            Some(Stage::Load),
        ),
        (
            "open_rasterio-e0012a1928f059240faac5577554e163<this-array>-037becdbabcf88d725a812ff40c49d90",
            Some(Stage::Load),
        ),
        (
            "getitem-d00fe24ecf3e4ab2a3b8caffed7e7b8d",
            Some(Stage::Load),
        ),
        (
            "any-any-aggregate-3da75fabf72485c3b0f82fa8ec84edc0",
            Some(Stage::Mask),
        ),
        (
            "any-aggregate-3da75fabf72485c3b0f82fa8ec84edc0",
            Some(Stage::Mask),
        ),
        (
            "store-map-7f5aa310f44a23462f9857c1d7b0f915",
            Some(Stage::Write),
        ),
        (
            "finalize-hlgfinalizecompute-3acc3d3eea564542865592d380f87e02",
            Some(Stage::Finalize),
        ),
        ("array-54f2beb01c4a42a95c744196af7b0ae7", None),
        ("rechunk-merge-54f2beb01c4a42a95c744196af7b0ae7", None),
    ];

    #[test]
    fn labels_drop_tokens_and_tags() {
        let labels: Vec<String> = REAL.iter().map(|(name, _)| label(name)).collect();
        assert_eq!(
            labels,
            [
                "original-open_rasterio",
                "open_rasterio",
                "getitem",
                "any-any-aggregate",
                "any-aggregate",
                "store-map",
                "finalize-hlgfinalizecompute",
                "array",
                "rechunk-merge",
            ]
        );
        assert_eq!(label("plain"), "plain");
        assert_eq!(
            label("0123456789abcdef0123456789abcdef"),
            "0123456789abcdef0123456789abcdef",
            "a name that is only a token keeps it, rather than becoming empty"
        );
    }

    #[test]
    fn real_names_map_to_the_lesson_stages() {
        for (name, stage) in REAL {
            assert_eq!(stage_of(&label(name)), stage, "{name}");
        }
    }

    #[test]
    fn unfused_mask_names_are_mask_and_lookalikes_are_not() {
        for name in ["isin", "where", "invert", "any"] {
            assert_eq!(stage_of(name), Some(Stage::Mask), "{name}");
        }
        for name in [
            "anything",
            "storey",
            "getitems",
            "finalizer",
            "open_rasterio_x",
        ] {
            assert_eq!(stage_of(name), None, "{name}");
        }
        assert_eq!(stage_of("store"), Some(Stage::Write));
    }

    #[test]
    fn key_shapes() {
        use serde_json::json;
        let key = |v| Key::from_json(&v);
        assert_eq!(key(json!("finalize-x")).unwrap().chunk(), None);
        assert_eq!(
            key(json!(["open_rasterio-x", 0, 3, 2])).unwrap().chunk(),
            Some(ChunkIndex {
                band: Some(0),
                row: 3,
                col: 2
            })
        );
        assert_eq!(
            key(json!(["getitem-x", 1, 2])).unwrap().chunk(),
            Some(ChunkIndex {
                band: None,
                row: 1,
                col: 2
            })
        );
        assert_eq!(key(json!(["array-x", 0])).unwrap().chunk(), None);
        assert_eq!(key(json!(["five-d", 0, 0, 0, 0])).unwrap().chunk(), None);
        for bad in [
            json!([1, 2]),
            json!([]),
            json!(["name", -1]),
            json!(["name", 1.5]),
            json!(["name", 4_294_967_296u64]),
            json!(["name", [0, 1]]),
            json!(7),
            json!(null),
            json!({"name": "x"}),
        ] {
            assert_eq!(Key::from_json(&bad), None, "{bad}");
        }
    }
}
