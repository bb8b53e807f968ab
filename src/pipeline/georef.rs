//! Whether the SCL lies on the image's grid: the same coordinate system, and the same
//! extent within half an SCL pixel. The sizes alone (checked in [`super::prepare`]) let an
//! SCL shifted by 100 m, 300 km away, with 30 m pixels or labelled in another system mask
//! the image with the wrong pixels, silently.

use crate::raster::RasterInfo;

/// Refuses a geotransform with a non-finite term or a zero pixel size: it would place the
/// pixels nowhere, and be copied into the output as it is.
pub(crate) fn check_geotransform(info: &RasterInfo) -> Result<(), String> {
    match info.geo_transform {
        Some(gt) if gt.iter().any(|v| !v.is_finite()) || gt[1] == 0.0 || gt[5] == 0.0 => {
            Err(format!(
                "has an unusable geotransform {gt:?} (non-finite terms or a zero pixel size); \
                 fix the file's georeferencing"
            ))
        }
        _ => Ok(()),
    }
}

/// The coordinate system in words, for comparing and for messages.
fn crs_label(info: &RasterInfo) -> String {
    match (info.epsg, &info.crs) {
        (Some(code), _) => format!("EPSG:{code}"),
        (None, Some(crate::raster::Crs::Wkt(wkt))) => wkt.clone(),
        (None, Some(_)) => "a user-defined coordinate system".to_string(),
        (None, None) => "no coordinate system".to_string(),
    }
}

/// `[west, east, north, south]` of a raster from its geotransform (rotation ignored: the
/// terms are compared as well).
fn extent(gt: &[f64; 6], rows: usize, cols: usize) -> [f64; 4] {
    [
        gt[0],
        gt[0] + cols as f64 * gt[1],
        gt[3],
        gt[3] + rows as f64 * gt[5],
    ]
}

/// Checks that `scl` shares `image`'s coordinate system and covers its extent within half
/// an SCL pixel; the reason names both when it does not. `image_name` says which file the
/// image is, for the message.
pub(crate) fn check_same_grid(
    image: &RasterInfo,
    scl: &RasterInfo,
    image_name: &str,
) -> Result<(), String> {
    let (theirs, ours) = (crs_label(image), crs_label(scl));
    if theirs != ours {
        return Err(format!(
            "is in {ours}, but the image {image_name} is in {theirs}: the SCL must share the \
             image's coordinate system"
        ));
    }
    let (igt, sgt) = match (image.geo_transform, scl.geo_transform) {
        (Some(i), Some(s)) => (i, s),
        (None, None) => return Ok(()),
        (Some(_), None) => {
            return Err(format!(
                "has no georeferencing, but the image {image_name} has: the SCL must lie on \
                 the image's grid"
            ));
        }
        (None, Some(_)) => {
            return Err(format!(
                "has georeferencing, but the image {image_name} has none: the SCL must lie \
                 on the image's grid"
            ));
        }
    };
    let half = [sgt[1].abs() / 2.0, sgt[5].abs() / 2.0];
    let tolerance = |axis: usize| half[axis] * (1.0 + 1e-9);
    let (ie, se) = (
        extent(&igt, image.rows, image.cols),
        extent(&sgt, scl.rows, scl.cols),
    );
    let off = (0..4).any(|k| (ie[k] - se[k]).abs() > tolerance(k / 2))
        || (igt[2] != 0.0 || igt[4] != 0.0 || sgt[2] != 0.0 || sgt[4] != 0.0)
            && (igt[2] - sgt[2]).abs() + (igt[4] - sgt[4]).abs() > 1e-9;
    if off {
        let show = |e: [f64; 4]| format!("x {}..{}, y {}..{}", e[0], e[1], e[3], e[2]);
        return Err(format!(
            "covers {} ({}x{} m pixels), but the image {image_name} covers {}: the SCL must \
             cover the image's extent within half an SCL pixel",
            show(se),
            sgt[1].abs(),
            sgt[5].abs(),
            show(ie)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(gt: [f64; 6], rows: usize, cols: usize, epsg: Option<i32>) -> RasterInfo {
        RasterInfo {
            path: "x.tif".into(),
            rows,
            cols,
            bands: 1,
            dtype: "Byte".into(),
            dtype_bytes: 1,
            block_shapes: vec![[256, 256]],
            overviews: vec![],
            overview_blocks: vec![],
            compression: None,
            interleave: crate::chunks::Interleave::Band,
            tiled: true,
            cog: true,
            geo_transform: Some(gt),
            resolution: None,
            epsg,
            nodata: None,
            crs: None,
        }
    }

    #[test]
    fn an_scl_off_the_image_grid_is_refused() {
        let image = info([6e5, 10.0, 0.0, 5e6, 0.0, -10.0], 1000, 1000, Some(32631));
        let scl = |gt, rows, cols, epsg| info(gt, rows, cols, epsg);
        let same = scl([6e5, 20.0, 0.0, 5e6, 0.0, -20.0], 500, 500, Some(32631));
        assert!(check_same_grid(&image, &same, "\"v\"").is_ok());
        // Odd sizes: the last SCL pixel reaches half a pixel past the image.
        let odd_image = info([6e5, 10.0, 0.0, 5e6, 0.0, -10.0], 999, 999, Some(32631));
        assert!(check_same_grid(&odd_image, &same, "\"v\"").is_ok());
        for (bad, why) in [
            (
                scl(
                    [6e5 + 100.0, 20.0, 0.0, 5e6, 0.0, -20.0],
                    500,
                    500,
                    Some(32631),
                ),
                "covers",
            ),
            (
                scl([9e5, 20.0, 0.0, 5e6, 0.0, -20.0], 500, 500, Some(32631)),
                "covers",
            ),
            (
                scl([6e5, 30.0, 0.0, 5e6, 0.0, -30.0], 500, 500, Some(32631)),
                "covers",
            ),
            (
                scl([6e5, 20.0, 0.0, 5e6, 0.0, -20.0], 500, 500, Some(4326)),
                "EPSG:4326",
            ),
        ] {
            let err = check_same_grid(&image, &bad, "\"v\"").unwrap_err();
            assert!(err.contains(why) && err.contains("\"v\""), "{err}");
        }
        let nan = info([f64::NAN, 10.0, 0.0, 5e6, 0.0, -10.0], 10, 10, None);
        assert!(check_geotransform(&nan).is_err());
        assert!(check_geotransform(&image).is_ok());
    }
}
