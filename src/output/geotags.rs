//! GeoTIFF tags (geotransform, coordinate system keys) exactly as GDAL's GTiff driver
//! writes them: GDAL writes a one-pixel GeoTIFF in memory with the output's georeferencing
//! and the tags are read back out of it, so every coordinate system GDAL knows comes out as
//! GDAL would encode it, with no GeoKey tables kept here. The reader is just enough TIFF
//! for that file: classic, little-endian, one IFD.

use gdal::DriverManager;
use gdal::spatial_ref::SpatialRef;
use tiff_core::{Tag, TagValue};

/// ModelPixelScale, ModelTiepoint, ModelTransformation, GeoKeyDirectory, GeoDoubleParams,
/// GeoAsciiParams.
const GEO_TAGS: [u16; 6] = [33550, 33922, 34264, 34735, 34736, 34737];

/// The GeoTIFF tags for an image with this geotransform and coordinate system (WKT).
pub fn geotiff_tags(
    geo_transform: Option<[f64; 6]>,
    srs_wkt: Option<&str>,
) -> Result<Vec<Tag>, String> {
    if geo_transform.is_none() && srs_wkt.is_none() {
        return Ok(Vec::new());
    }
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let path = format!(
        "/vsimem/chunkscope-geotags-{}-{}.tif",
        std::process::id(),
        SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let bytes = (|| -> Result<Vec<u8>, gdal::errors::GdalError> {
        let driver = DriverManager::get_driver_by_name("GTiff")?;
        let mut ds = driver.create_with_band_type::<u8, _>(&path, 1, 1, 1)?;
        if let Some(gt) = geo_transform {
            ds.set_geo_transform(&gt)?;
        }
        if let Some(wkt) = srs_wkt {
            ds.set_spatial_ref(&SpatialRef::from_wkt(wkt)?)?;
        }
        ds.close()?;
        Ok(take_vsimem(&path))
    })()
    .map_err(|e| format!("GDAL could not encode the georeferencing: {e}"))?;
    let tags = read_tags(&bytes, &GEO_TAGS)?;
    Ok(tags)
}

/// The bytes of a /vsimem/ file, which is then removed.
fn take_vsimem(path: &str) -> Vec<u8> {
    let Ok(c) = std::ffi::CString::new(path) else {
        return Vec::new();
    };
    let mut len: gdal_sys::vsi_l_offset = 0;
    // SAFETY: GDAL returns a pointer to its own buffer of `len` bytes (not taken over: the
    // last argument is FALSE), valid until the file is unlinked just after the copy.
    unsafe {
        let ptr = gdal_sys::VSIGetMemFileBuffer(c.as_ptr(), &mut len, 0);
        let bytes = if ptr.is_null() {
            Vec::new()
        } else {
            std::slice::from_raw_parts(ptr, len as usize).to_vec()
        };
        gdal_sys::VSIUnlink(c.as_ptr());
        bytes
    }
}

/// Reads the tags `wanted` from the first IFD of a classic little-endian TIFF.
fn read_tags(bytes: &[u8], wanted: &[u16]) -> Result<Vec<Tag>, String> {
    let bad = |what: &str| format!("the georeferencing GDAL wrote is not readable: {what}");
    let u16_at = |o: usize| -> Result<u16, String> {
        bytes
            .get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .ok_or_else(|| bad("truncated"))
    };
    let u32_at = |o: usize| -> Result<u32, String> {
        bytes
            .get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| bad("truncated"))
    };
    if bytes.get(0..4) != Some(b"II*\0") {
        return Err(bad("not a classic little-endian TIFF"));
    }
    let ifd = u32_at(4)? as usize;
    let count = u16_at(ifd)? as usize;
    let mut tags = Vec::new();
    for i in 0..count {
        let e = ifd + 2 + i * 12;
        let (code, kind, n) = (u16_at(e)?, u16_at(e + 2)?, u32_at(e + 4)? as usize);
        if !wanted.contains(&code) {
            continue;
        }
        let size = match kind {
            2 => 1,  // ASCII
            3 => 2,  // SHORT
            12 => 8, // DOUBLE
            _ => return Err(bad(&format!("tag {code} has type {kind}"))),
        };
        let at = if n * size <= 4 {
            e + 8
        } else {
            u32_at(e + 8)? as usize
        };
        let raw = bytes
            .get(at..at + n * size)
            .ok_or_else(|| bad("truncated"))?;
        let value = match kind {
            2 => TagValue::Ascii(
                String::from_utf8_lossy(raw)
                    .trim_end_matches('\0')
                    .to_string(),
            ),
            3 => TagValue::Short(
                raw.chunks_exact(2)
                    .map(|b| u16::from_le_bytes([b[0], b[1]]))
                    .collect(),
            ),
            _ => TagValue::Double(
                raw.chunks_exact(8)
                    .map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
                    .collect(),
            ),
        };
        tags.push(Tag::new(code, value));
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utm_georeferencing_comes_back_as_gdal_writes_it() {
        let srs = SpatialRef::from_epsg(32631).unwrap().to_wkt().unwrap();
        let gt = [600000.0, 20.0, 0.0, 5900040.0, 0.0, -20.0];
        let tags = geotiff_tags(Some(gt), Some(&srs)).unwrap();
        let codes: Vec<u16> = tags.iter().map(|t| t.code).collect();
        assert!(codes.contains(&33550) && codes.contains(&33922) && codes.contains(&34735));
        let scale = tags.iter().find(|t| t.code == 33550).unwrap();
        assert_eq!(scale.value, TagValue::Double(vec![20.0, 20.0, 0.0]));
        let keys = tags.iter().find(|t| t.code == 34735).unwrap();
        let TagValue::Short(keys) = &keys.value else {
            panic!("GeoKeyDirectory is SHORT")
        };
        // ProjectedCSTypeGeoKey (3072) = 32631.
        assert!(
            keys.chunks(4).any(|k| k[0] == 3072 && k[3] == 32631),
            "{keys:?}"
        );
    }

    #[test]
    fn nothing_to_say_gives_no_tags() {
        assert!(geotiff_tags(None, None).unwrap().is_empty());
    }
}
