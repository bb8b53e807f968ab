//! The catalog as the simulated server serves it: a `search.json` whose local asset hrefs
//! point at the server (`http://127.0.0.1:PORT/...`), so that every pixel a run reads
//! crosses the simulated network. Pure text processing; runs on whichever thread asks.

use std::path::{Component, Path, PathBuf};

use serde_json::Value;

/// Why a catalog cannot be served by the simulated server.
#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    #[error("cannot read catalog \"{path}\": {io}", path = .path.display())]
    Read { path: PathBuf, io: std::io::Error },
    #[error("catalog \"{path}\" is not valid JSON: {message}", path = .path.display())]
    NotJson { path: PathBuf, message: String },
    #[error(
        "asset \"{asset}\" of item \"{item}\" in catalog \"{path}\" points at \"{href}\", \
         outside the served folder \"{root}\"; serve a folder that holds every asset",
        path = .path.display(),
        root = .root.display()
    )]
    OutsideRoot {
        path: PathBuf,
        item: String,
        asset: String,
        href: String,
        root: PathBuf,
    },
}

/// Rewrites the local asset hrefs of the ItemCollection in `text` (read from `catalog`, a
/// file under `root`) to URLs under `base_url` (e.g. `http://127.0.0.1:8080`). Hrefs that
/// are already URLs (`https://`, `s3://`, ...) stay as written: they are not served here.
///
/// Returns the new text and how many hrefs were rewritten.
pub fn rewrite_catalog(
    text: &str,
    catalog: &Path,
    root: &Path,
    base_url: &str,
) -> Result<(String, usize), RewriteError> {
    let mut value: Value = serde_json::from_str(text).map_err(|e| RewriteError::NotJson {
        path: catalog.to_owned(),
        message: e.to_string(),
    })?;
    let root = std::path::absolute(root).unwrap_or_else(|_| root.to_owned());
    let catalog_abs = std::path::absolute(catalog).unwrap_or_else(|_| catalog.to_owned());
    let base_dir = catalog_abs.parent().unwrap_or(&root).to_owned();
    let mut rewritten = 0;
    let features = value
        .get_mut("features")
        .and_then(Value::as_array_mut)
        .map(|f| f.as_mut_slice())
        .unwrap_or_default();
    for feature in features {
        let item = feature
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string();
        let Some(assets) = feature.get_mut("assets").and_then(Value::as_object_mut) else {
            continue;
        };
        for (key, asset) in assets.iter_mut() {
            let Some(href) = asset.get("href").and_then(Value::as_str) else {
                continue;
            };
            let Some(local) = local_path(href, &base_dir) else {
                continue;
            };
            let relative = relative_to(&local, &root).ok_or_else(|| RewriteError::OutsideRoot {
                path: catalog.to_owned(),
                item: item.clone(),
                asset: key.clone(),
                href: href.to_string(),
                root: root.clone(),
            })?;
            let url = format!(
                "{}/{}",
                base_url.trim_end_matches('/'),
                percent_encode_path(&relative)
            );
            asset["href"] = Value::String(url);
            rewritten += 1;
        }
    }
    let text = serde_json::to_string_pretty(&value).map_err(|e| RewriteError::NotJson {
        path: catalog.to_owned(),
        message: e.to_string(),
    })?;
    Ok((text, rewritten))
}

/// The local file an href names, or `None` for a URL of another scheme.
fn local_path(href: &str, base_dir: &Path) -> Option<PathBuf> {
    if let Some(rest) = href.strip_prefix("file://") {
        return Some(PathBuf::from(
            rest.strip_prefix("localhost").unwrap_or(rest),
        ));
    }
    if href.contains("://") || href.starts_with("/vsi") {
        return None;
    }
    let path = Path::new(href);
    Some(if path.is_absolute() {
        path.to_owned()
    } else {
        base_dir.join(path)
    })
}

/// `path` relative to `root` as `/`-separated segments, with `.` and `..` resolved
/// lexically; `None` when it leaves `root`.
fn relative_to(path: &Path, root: &Path) -> Option<String> {
    let normal = |p: &Path| -> Option<Vec<String>> {
        let mut parts: Vec<String> = Vec::new();
        for c in p.components() {
            match c {
                Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
                Component::ParentDir => {
                    parts.pop()?;
                }
                Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
            }
        }
        Some(parts)
    };
    let path = normal(path)?;
    let root = normal(root)?;
    let rest = path.strip_prefix(root.as_slice())?;
    (!rest.is_empty()).then(|| rest.join("/"))
}

/// Escapes what may not stand in a URL path (RFC 3986 unreserved characters and `/` stay).
fn percent_encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs_point_at_the_server() {
        let text = r#"{"type":"FeatureCollection","features":[{"id":"A","assets":{
            "visual":{"href":"./A/visual.tif"},
            "SCL":{"href":"/data/cat/A/my scl.tif"},
            "remote":{"href":"https://example.com/x.tif"}}}]}"#;
        let (out, n) = rewrite_catalog(
            text,
            Path::new("/data/cat/search.json"),
            Path::new("/data/cat"),
            "http://127.0.0.1:9/",
        )
        .unwrap();
        assert_eq!(n, 2);
        let v: Value = serde_json::from_str(&out).unwrap();
        let assets = &v["features"][0]["assets"];
        assert_eq!(assets["visual"]["href"], "http://127.0.0.1:9/A/visual.tif");
        assert_eq!(assets["SCL"]["href"], "http://127.0.0.1:9/A/my%20scl.tif");
        assert_eq!(assets["remote"]["href"], "https://example.com/x.tif");
    }

    #[test]
    fn hrefs_outside_the_root_are_refused() {
        let text = r#"{"features":[{"id":"A","assets":{"visual":{"href":"../x.tif"}}}]}"#;
        let e = rewrite_catalog(
            text,
            Path::new("/data/cat/search.json"),
            Path::new("/data/cat"),
            "http://127.0.0.1:9",
        )
        .unwrap_err();
        assert!(e.to_string().contains("outside the served folder"), "{e}");
    }
}
