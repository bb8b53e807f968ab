//! The demo scene's items (ids, dates, platforms, weather) and its `search.json`: a STAC
//! 1.0.0 ItemCollection shaped like an earth-search v0 result, with relative hrefs.
//!
//! Pure data; runs on the generating thread.

use serde_json::{Value, json};

use super::DemoSpec;
use crate::convert;

/// Upper-left corner of the Sentinel-2 tile 31UFU, the lesson's tile (UTM 31N, metres).
pub const ORIGIN: (f64, f64) = (600_000.0, 5_900_040.0);
/// EPSG code of the scene's coordinate system (WGS 84 / UTM zone 31N).
pub const EPSG: u32 = 32631;
/// The media type of every asset.
pub const COG_MEDIA_TYPE: &str = "image/tiff; application=geotiff; profile=cloud-optimized";

/// One date of the scene, before it is generated.
#[derive(Debug, Clone)]
pub struct ItemPlan {
    pub index: usize,
    /// e.g. `DEMO_31UFU_20230601_0_L2A`; also the item's folder name.
    pub id: String,
    /// RFC 3339, e.g. `2023-06-01T10:56:29Z`.
    pub datetime: String,
    /// `sentinel-2a` or `sentinel-2b`, alternating as the two satellites do.
    pub platform: &'static str,
    /// Seed of this date's weather and sensor noise.
    pub seed: u32,
    /// Share of SCL pixels that are cloud (classes 8, 9): between 0.16 and 0.24.
    pub cloud_share: f64,
    /// Approximate share of SCL pixels under thin cirrus (10), before clouds hide some.
    pub cirrus_share: f64,
    /// Share of cereal parcels harvested by this date.
    pub harvested: f32,
}

impl ItemPlan {
    /// Item `index`: dates five days apart from 1 June 2023 (Sentinel-2's revisit with two
    /// satellites), cloud shares spread by the golden ratio so that each date differs.
    pub fn new(index: usize) -> ItemPlan {
        let (month, day) = june_first_plus(convert::clamp_u32(5 * index));
        let golden = |k: f64| (k * 0.618_033_988_75).fract();
        let i = index as f64 + 1.0;
        ItemPlan {
            index,
            id: format!("DEMO_31UFU_2023{month:02}{day:02}_0_L2A"),
            datetime: format!("2023-{month:02}-{day:02}T10:56:29Z"),
            platform: if index & 1 == 0 {
                "sentinel-2a"
            } else {
                "sentinel-2b"
            },
            seed: 0x5EED_0000 ^ convert::clamp_u32(index).wrapping_mul(0x9E37_79B9),
            cloud_share: 0.16 + 0.08 * golden(i),
            cirrus_share: 0.015 + 0.025 * golden(i + 0.5),
            harvested: (index as f32 * 0.12).min(0.95),
        }
    }
}

/// (month, day) of 1 June 2023 plus `days` (at most a few months ahead).
fn june_first_plus(days: u32) -> (u32, u32) {
    const MONTHS: [(u32, u32); 5] = [(6, 30), (7, 31), (8, 31), (9, 30), (10, 31)];
    let mut day = days + 1;
    for (month, len) in MONTHS {
        if day <= len {
            return (month, day);
        }
        day -= len;
    }
    (11, day.min(30))
}

/// What the generator measured for one item.
#[derive(Debug, Clone)]
pub struct ItemResult {
    pub plan: ItemPlan,
    /// Percentage of SCL pixels in classes 8, 9, 10 (medium, high cloud, thin cirrus).
    pub cloud_cover_pct: f64,
}

/// The ItemCollection for the generated items.
pub fn item_collection(spec: DemoSpec, items: &[ItemResult]) -> Value {
    json!({
        "type": "FeatureCollection",
        "features": items.iter().map(|item| feature(spec, item)).collect::<Vec<_>>(),
        "links": [],
    })
}

fn feature(spec: DemoSpec, item: &ItemResult) -> Value {
    let (x0, y0) = ORIGIN;
    let extent = spec.size as f64 * 10.0;
    let corners = [
        (x0, y0 - extent),
        (x0 + extent, y0 - extent),
        (x0 + extent, y0),
        (x0, y0),
    ];
    let ring: Vec<[f64; 2]> = corners
        .iter()
        .chain(corners.first())
        .map(|&(e, n)| {
            let (lon, lat) = utm_to_lon_lat(31, e, n);
            [round(lon, 9), round(lat, 9)]
        })
        .collect();
    let lons = ring.iter().map(|p| p[0]);
    let lats = ring.iter().map(|p| p[1]);
    let bbox = [
        lons.clone().fold(f64::INFINITY, f64::min),
        lats.clone().fold(f64::INFINITY, f64::min),
        lons.fold(f64::NEG_INFINITY, f64::max),
        lats.fold(f64::NEG_INFINITY, f64::max),
    ];
    let id = &item.plan.id;
    let asset = |file: &str, title: &str, role: &str, pixel_m: f64, side: usize| {
        json!({
            "href": format!("./{id}/{file}"),
            "type": COG_MEDIA_TYPE,
            "title": title,
            "roles": [role],
            "proj:shape": [side, side],
            "proj:transform": [pixel_m, 0.0, x0, 0.0, -pixel_m, y0, 0.0, 0.0, 1.0],
        })
    };
    json!({
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": [
            "https://stac-extensions.github.io/eo/v1.0.0/schema.json",
            "https://stac-extensions.github.io/projection/v1.0.0/schema.json",
        ],
        "id": id,
        "geometry": { "type": "Polygon", "coordinates": [ring] },
        "bbox": bbox,
        "properties": {
            "datetime": item.plan.datetime,
            "platform": item.plan.platform,
            "constellation": "sentinel-2",
            "instruments": ["msi"],
            "gsd": 10,
            "eo:cloud_cover": round(item.cloud_cover_pct, 3),
            "proj:epsg": EPSG,
            "sentinel:utm_zone": 31,
            "sentinel:latitude_band": "U",
            "sentinel:grid_square": "FU",
            "chunkscope:demo": true,
            "chunkscope:demo_size": spec.size,
        },
        "links": [],
        "assets": {
            "visual": asset("visual.tif", "True color image", "visual", 10.0, spec.size),
            "SCL": asset("SCL.tif", "Scene Classification Map (SCL)", "data", 20.0, spec.scl_size()),
            "B02": asset("B02.tif", "Band 2 (blue)", "data", 10.0, spec.size),
        },
    })
}

fn round(v: f64, decimals: i32) -> f64 {
    let k = 10f64.powi(decimals);
    (v * k).round() / k
}

/// WGS 84 UTM (northern hemisphere) to longitude, latitude in degrees.
///
/// The inverse transverse Mercator series of Snyder, "Map Projections: A Working Manual"
/// (USGS PP 1395, 1987), eqs. 8-18 to 8-25; better than a metre inside a UTM zone.
fn utm_to_lon_lat(zone: i32, easting: f64, northing: f64) -> (f64, f64) {
    let a: f64 = 6_378_137.0;
    let f: f64 = 1.0 / 298.257_223_563;
    let k0 = 0.9996;
    let e2 = f * (2.0 - f);
    let ep2 = e2 / (1.0 - e2);
    let x = easting - 500_000.0;
    let m = northing / k0;
    let mu = m / (a * (1.0 - e2 / 4.0 - 3.0 * e2 * e2 / 64.0 - 5.0 * e2.powi(3) / 256.0));
    let e1 = (1.0 - (1.0 - e2).sqrt()) / (1.0 + (1.0 - e2).sqrt());
    let phi1 = mu
        + (3.0 * e1 / 2.0 - 27.0 * e1.powi(3) / 32.0) * (2.0 * mu).sin()
        + (21.0 * e1 * e1 / 16.0 - 55.0 * e1.powi(4) / 32.0) * (4.0 * mu).sin()
        + (151.0 * e1.powi(3) / 96.0) * (6.0 * mu).sin()
        + (1097.0 * e1.powi(4) / 512.0) * (8.0 * mu).sin();
    let (sin1, cos1) = phi1.sin_cos();
    let tan1 = sin1 / cos1;
    let n1 = a / (1.0 - e2 * sin1 * sin1).sqrt();
    let t1 = tan1 * tan1;
    let c1 = ep2 * cos1 * cos1;
    let r1 = a * (1.0 - e2) / (1.0 - e2 * sin1 * sin1).powf(1.5);
    let d = x / (n1 * k0);
    let lat = phi1
        - (n1 * tan1 / r1)
            * (d * d / 2.0
                - (5.0 + 3.0 * t1 + 10.0 * c1 - 4.0 * c1 * c1 - 9.0 * ep2) * d.powi(4) / 24.0
                + (61.0 + 90.0 * t1 + 298.0 * c1 + 45.0 * t1 * t1 - 252.0 * ep2 - 3.0 * c1 * c1)
                    * d.powi(6)
                    / 720.0);
    let lon0 = f64::from(zone * 6 - 183).to_radians();
    let lon = lon0
        + (d - (1.0 + 2.0 * t1 + c1) * d.powi(3) / 6.0
            + (5.0 - 2.0 * c1 + 28.0 * t1 - 3.0 * c1 * c1 + 8.0 * ep2 + 24.0 * t1 * t1)
                * d.powi(5)
                / 120.0)
            / cos1;
    (lon.to_degrees(), lat.to_degrees())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utm_corners_match_earth_search_footprint_of_31ufu() {
        // From the earth-search v0 item S2A_31UFU_20200530_0_L2A (tests/fixtures/stac).
        let (lon, lat) = utm_to_lon_lat(31, 600_000.0, 5_900_040.0);
        assert!(
            (lon - 4.498_475).abs() < 1e-4 && (lat - 53.240_199).abs() < 1e-4,
            "{lon} {lat}"
        );
        let (lon, lat) = utm_to_lon_lat(31, 709_800.0, 5_790_240.0);
        assert!(
            (lon - 6.071_664).abs() < 1e-4 && (lat - 52.222_575).abs() < 1e-4,
            "{lon} {lat}"
        );
    }

    #[test]
    fn items_differ_in_date_platform_and_clouds() {
        let a = ItemPlan::new(0);
        let b = ItemPlan::new(1);
        assert_eq!(a.id, "DEMO_31UFU_20230601_0_L2A");
        assert_eq!(b.id, "DEMO_31UFU_20230606_0_L2A");
        assert_eq!(ItemPlan::new(6).datetime, "2023-07-01T10:56:29Z");
        assert_ne!(a.platform, b.platform);
        for i in 0..9 {
            let s = ItemPlan::new(i).cloud_share;
            assert!((0.16..=0.24).contains(&s));
        }
        assert!((a.cloud_share - b.cloud_share).abs() > 0.01);
    }
}
