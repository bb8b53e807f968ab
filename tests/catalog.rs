//! Catalog reading against the real earth-search fixtures (no network: hrefs are only
//! resolved, never opened) and against broken catalogs written to a temporary folder.

use std::path::{Path, PathBuf};

use chunkscope::catalog::{AssetRole, Catalog, CatalogError, resolve_href};

const V0: &str = "tests/fixtures/stac/earth-search-v0-sentinel-s2-l2a-cogs.json";
const V1: &str = "tests/fixtures/stac/earth-search-v1-sentinel-2-l2a-rhodes.json";

/// Fixture paths are relative to the crate root, which is where cargo runs tests.
fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Writes `text` as `search.json` in a fresh temporary folder.
fn write_catalog(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("search.json");
    std::fs::write(&path, text).expect("write test catalog");
    (dir, path)
}

fn load_err(text: &str) -> (tempfile::TempDir, CatalogError, String) {
    let (dir, path) = write_catalog(text);
    let err = Catalog::load(&path).expect_err("a broken catalog must not load");
    let message = err.to_string();
    assert!(
        message.contains(&format!("\"{}\"", path.display())),
        "message names the file in quotes: {message}"
    );
    (dir, err, message)
}

/// A one-item collection; `assets` is the JSON of the item's assets object.
fn one_item(assets: &str) -> String {
    format!(
        r#"{{"type": "FeatureCollection", "features": [{{
            "type": "Feature", "stac_version": "1.0.0", "id": "scene-1",
            "geometry": null, "properties": {{"datetime": "2020-05-30T10:56:29Z"}},
            "links": [], "assets": {assets}
        }}]}}"#
    )
}

#[test]
fn v0_fixture_items_and_assets() {
    let catalog = Catalog::load(&fixture(V0)).expect("v0 fixture loads");
    assert_eq!(catalog.items.len(), 1);
    let item = catalog.item(None).expect("first item");
    assert_eq!(item.id, "S2A_31UFU_20200530_0_L2A");
    // The lesson's `items[-1]`: with one item, that item.
    assert_eq!(catalog.lesson_index(), Some(0));
    assert_eq!(item.datetime.as_deref(), Some("2020-05-30T10:56:29Z"));
    assert_eq!(item.cloud_cover, Some(2.8));
    assert_eq!(item.platform.as_deref(), Some("sentinel-2a"));
    assert_eq!(
        catalog
            .item(Some("S2A_31UFU_20200530_0_L2A"))
            .ok()
            .map(|i| &i.id),
        Some(&item.id)
    );

    let base = "https://sentinel-cogs.s3.us-west-2.amazonaws.com/sentinel-s2-l2a-cogs/31/U/FU/\
                2020/5/S2A_31UFU_20200530_0_L2A";
    for (role, key, file) in [
        (AssetRole::Visual, "visual", "TCI.tif"),
        (AssetRole::Scl, "SCL", "SCL.tif"),
        (AssetRole::Blue, "B02", "B02.tif"),
    ] {
        let asset = item.asset(role).expect("v0 role present");
        assert_eq!(asset.key, key);
        assert_eq!(asset.href, format!("{base}/{file}"));
        assert_eq!(asset.gdal_path, format!("/vsicurl/{base}/{file}"));
        assert_eq!(
            asset.media_type.as_deref(),
            Some("image/tiff; application=geotiff; profile=cloud-optimized")
        );
    }
    let scl = item.asset(AssetRole::Scl).expect("SCL");
    assert_eq!(scl.proj_shape, Some([5490, 5490]));
    assert_eq!(
        scl.proj_transform.as_deref(),
        Some(&[20.0, 0.0, 600000.0, 0.0, -20.0, 5900040.0, 0.0, 0.0, 1.0][..])
    );
    let visual = item.asset(AssetRole::Visual).expect("visual");
    assert_eq!(visual.proj_shape, Some([10980, 10980]));
}

#[test]
fn v1_fixture_items_and_assets() {
    let catalog = Catalog::load(&fixture(V1)).expect("v1 fixture loads");
    assert_eq!(catalog.items.len(), 11);
    let first = catalog.item(None).expect("first item");
    assert_eq!(first.id, "S2A_35SNA_20230827_0_L2A");
    // As written, not re-formatted by a date library.
    assert_eq!(
        first.datetime.as_deref(),
        Some("2023-08-27T09:00:21.327000Z")
    );
    assert_eq!(first.cloud_cover, Some(0.955362));
    assert_eq!(first.platform.as_deref(), Some("sentinel-2a"));
    assert_eq!(catalog.items[10].id, "S2A_35SNA_20230708_0_L2A");

    let other = catalog
        .item(Some("S2B_35SNA_20230822_0_L2A"))
        .expect("item by id");
    assert_eq!(other.platform.as_deref(), Some("sentinel-2b"));
    assert_eq!(other.cloud_cover, Some(0.006306));

    let base = "https://sentinel-cogs.s3.us-west-2.amazonaws.com/sentinel-s2-l2a-cogs/35/S/NA/\
                2023/8/S2A_35SNA_20230827_0_L2A";
    for (role, key, file) in [
        (AssetRole::Visual, "visual", "TCI.tif"),
        (AssetRole::Scl, "scl", "SCL.tif"),
        (AssetRole::Blue, "blue", "B02.tif"),
    ] {
        let asset = first.asset(role).expect("v1 role present");
        assert_eq!(asset.key, key, "not the -jp2 twin");
        assert_eq!(asset.gdal_path, format!("/vsicurl/{base}/{file}"));
        assert_eq!(
            catalog.asset(None, role).ok().map(|a| &a.key),
            Some(&asset.key),
            "Catalog::asset agrees with Item::asset"
        );
    }
    let scl = first.asset(AssetRole::Scl).expect("scl");
    assert_eq!(scl.proj_shape, Some([5490, 5490]));
    // Every item of the search has the three roles.
    for item in &catalog.items {
        for role in AssetRole::ALL {
            assert!(item.find_role(role).is_some(), "{} lacks {role}", item.id);
        }
    }
}

#[test]
fn role_keys_and_display() {
    assert_eq!(AssetRole::Visual.keys(), ["visual"]);
    assert_eq!(AssetRole::Scl.keys(), ["SCL", "scl"]);
    assert_eq!(AssetRole::Blue.keys(), ["B02", "blue"]);
    let names: Vec<String> = AssetRole::ALL.iter().map(|r| r.to_string()).collect();
    assert_eq!(names, ["visual", "SCL", "B02"]);
}

#[test]
fn resolve_href_cases() {
    let base = Path::new("/data/searches");
    assert_eq!(
        resolve_href("https://example.com/a/TCI.tif", base),
        "/vsicurl/https://example.com/a/TCI.tif"
    );
    assert_eq!(
        resolve_href("http://example.com/a.tif", base),
        "/vsicurl/http://example.com/a.tif"
    );
    assert_eq!(
        resolve_href("s3://sentinel-cogs/sentinel-s2-l2a-cogs/SCL.tif", base),
        "/vsis3/sentinel-cogs/sentinel-s2-l2a-cogs/SCL.tif"
    );
    assert_eq!(
        resolve_href("file:///tmp/x/SCL.tif", base),
        "/tmp/x/SCL.tif"
    );
    assert_eq!(
        resolve_href("file:///tmp/my%20dir/a.tif", base),
        "/tmp/my dir/a.tif"
    );
    assert_eq!(resolve_href("/abs/SCL.tif", base), "/abs/SCL.tif");
    assert_eq!(resolve_href("/vsis3/b/k.tif", base), "/vsis3/b/k.tif");
    assert_eq!(resolve_href("SCL.tif", base), "/data/searches/SCL.tif");
    assert_eq!(
        resolve_href("./scene/SCL.tif", base),
        "/data/searches/scene/SCL.tif"
    );
    assert_eq!(
        resolve_href("../other/SCL.tif", base),
        "/data/searches/../other/SCL.tif"
    );
}

#[test]
fn relative_hrefs_resolve_against_the_catalog_folder() {
    let (dir, path) = write_catalog(&one_item(
        r#"{
            "visual": {"href": "./scene/TCI.tif", "type": "image/tiff; application=geotiff"},
            "SCL": {"href": "scene/SCL.tif", "proj:shape": [64, 32]},
            "B02": {"href": "file:///elsewhere/B02.tif"}
        }"#,
    ));
    let catalog = Catalog::load(&path).expect("temp catalog loads");
    let item = catalog.item(None).expect("item");
    let folder = dir.path();
    assert_eq!(
        item.asset(AssetRole::Visual)
            .ok()
            .map(|a| a.gdal_path.clone()),
        Some(folder.join("scene/TCI.tif").display().to_string())
    );
    let scl = item.asset(AssetRole::Scl).expect("SCL");
    assert_eq!(
        scl.gdal_path,
        folder.join("scene/SCL.tif").display().to_string()
    );
    assert_eq!(scl.proj_shape, Some([64, 32]));
    assert_eq!(scl.media_type, None);
    assert_eq!(
        item.asset(AssetRole::Blue)
            .ok()
            .map(|a| a.gdal_path.clone()),
        Some("/elsewhere/B02.tif".to_owned())
    );
}

#[test]
fn proj_fields_fall_back_to_item_properties() {
    let text = r#"{"type": "FeatureCollection", "features": [{
        "type": "Feature", "stac_version": "1.0.0", "id": "p",
        "geometry": null, "links": [],
        "properties": {"datetime": null, "proj:shape": [100, 200],
                       "proj:transform": [1, 0, 0, 0, -1, 0]},
        "assets": {"visual": {"href": "v.tif"}, "SCL": {"href": "s.tif", "proj:shape": [50, 100]}}
    }]}"#;
    let catalog = Catalog::from_json_str(text, Path::new("/x/search.json")).expect("loads");
    let item = catalog.item(None).expect("item");
    assert_eq!(item.datetime, None);
    assert_eq!(item.cloud_cover, None);
    let visual = item.asset(AssetRole::Visual).expect("visual");
    assert_eq!(visual.proj_shape, Some([100, 200]));
    assert_eq!(visual.proj_transform.as_ref().map(Vec::len), Some(6));
    assert_eq!(visual.gdal_path, "/x/v.tif");
    assert_eq!(
        item.asset(AssetRole::Scl).ok().map(|a| a.proj_shape),
        Some(Some([50, 100]))
    );
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("nothing-here.json");
    let err = Catalog::load(&path).expect_err("missing file");
    assert!(matches!(err, CatalogError::Read { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("nothing-here.json\""), "{message}");
    assert!(message.contains("cannot read catalog"), "{message}");
}

#[test]
fn not_json() {
    let (_dir, err, message) =
        load_err("{\n  \"type\": \"FeatureCollection\",\n  \"features\": [\n");
    assert!(
        matches!(err, CatalogError::NotJson { line: 4, .. }),
        "{err:?}"
    );
    assert!(message.contains("search.json"), "{message}");
    assert!(message.contains("not valid JSON"), "{message}");
    assert!(message.contains("line 4, column"), "{message}");

    let (_dir, err, message) = load_err("<html>Forbidden</html>");
    assert!(
        matches!(
            err,
            CatalogError::NotJson {
                line: 1,
                column: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(message.contains("line 1, column 1"), "{message}");
}

#[test]
fn not_a_feature_collection() {
    let (_dir, err, message) = load_err(
        r#"{"type": "Feature", "stac_version": "1.0.0", "id": "x", "geometry": null,
            "properties": {"datetime": null}, "links": [], "assets": {}}"#,
    );
    assert!(
        matches!(err, CatalogError::NotItemCollection { .. }),
        "{err:?}"
    );
    assert!(message.contains("\"type\": \"Feature\""), "{message}");
    assert!(message.contains("FeatureCollection"), "{message}");
    assert!(
        message.contains("save_object"),
        "says how to make one: {message}"
    );

    let (_dir, _err, message) = load_err(r#"{"type": "Collection", "id": "sentinel-2-l2a"}"#);
    assert!(message.contains("\"type\": \"Collection\""), "{message}");

    let (_dir, _err, message) = load_err("[1, 2, 3]");
    assert!(message.contains("a JSON array"), "{message}");

    let (_dir, _err, message) = load_err(r#"{"items": []}"#);
    assert!(message.contains("without \"type\""), "{message}");
}

#[test]
fn feature_collection_with_bad_items() {
    let (_dir, err, message) =
        load_err(r#"{"type": "FeatureCollection", "features": [{"type": "Polygon"}]}"#);
    assert!(matches!(err, CatalogError::InvalidStac { .. }), "{err:?}");
    assert!(message.contains("not valid STAC"), "{message}");
    assert!(message.contains("line 1, column"), "{message}");
}

#[test]
fn empty_features() {
    let (_dir, err, message) = load_err(r#"{"type": "FeatureCollection", "features": []}"#);
    assert!(matches!(err, CatalogError::Empty { .. }), "{err:?}");
    assert!(message.contains("no items"), "{message}");
}

#[test]
fn unknown_item_id() {
    let catalog = Catalog::load(&fixture(V1)).expect("v1 fixture loads");
    let err = catalog
        .item(Some("S2A_35SNA_20990101_0_L2A"))
        .expect_err("unknown id");
    assert!(matches!(err, CatalogError::ItemNotFound { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("earth-search-v1-sentinel-2-l2a-rhodes.json\""),
        "{message}"
    );
    assert!(
        message.contains("\"S2A_35SNA_20990101_0_L2A\""),
        "{message}"
    );
    // Ten of the eleven ids are listed, and the rest counted.
    assert!(
        message.contains("\"S2A_35SNA_20230827_0_L2A\""),
        "{message}"
    );
    assert!(
        message.contains("\"S2B_35SNA_20230713_0_L2A\""),
        "{message}"
    );
    assert!(
        !message.contains("\"S2A_35SNA_20230708_0_L2A\""),
        "{message}"
    );
    assert!(message.contains("and 1 more"), "{message}");
}

#[test]
fn item_lacking_scl() {
    let (_dir, path) = write_catalog(&one_item(
        r#"{"visual": {"href": "TCI.tif"}, "scl-jp2": {"href": "SCL.jp2"}, "B02": {"href": "B02.tif"}}"#,
    ));
    let catalog = Catalog::load(&path).expect("loads: the asset is only needed later");
    let item = catalog.item(None).expect("item");
    assert!(item.asset(AssetRole::Visual).is_ok());

    let err = catalog
        .asset(None, AssetRole::Scl)
        .expect_err("no SCL, and the jp2 twin is not taken");
    assert!(
        matches!(
            &err,
            CatalogError::AssetNotFound {
                role: AssetRole::Scl,
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains(&format!("\"{}\"", path.display())),
        "{message}"
    );
    assert!(message.contains("item \"scene-1\""), "{message}");
    assert!(message.contains("no SCL asset"), "{message}");
    assert!(message.contains("looked for \"SCL\", \"scl\""), "{message}");
    assert!(
        message.contains("its assets are: \"visual\", \"scl-jp2\", \"B02\""),
        "{message}"
    );

    // Item::asset says the same, without the file it cannot know.
    let message = item.asset(AssetRole::Scl).expect_err("no SCL").to_string();
    assert!(
        message.starts_with("item \"scene-1\" has no SCL asset"),
        "{message}"
    );
}
