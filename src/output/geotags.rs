//! GeoTIFF tags (geotransform, coordinate system keys) as GDAL's GTiff driver writes them:
//! GDAL writes a one-pixel GeoTIFF in memory with the output's geotransform and the tags
//! are read back out of it, so no tag encoding is kept here. A GeoTIFF source's coordinate
//! system is its own GeoKeys, passed on as read (see [`Crs`]); another source's is WKT,
//! which GDAL encodes into the same one-pixel file.

use gdal::DriverManager;
use gdal::spatial_ref::SpatialRef;
use tiff_core::Tag;

use crate::raster::{Crs, GEO_KEY_TAGS, tiff_tags};

/// ModelPixelScale, ModelTiepoint, ModelTransformation.
const TRANSFORM_TAGS: [u16; 3] = [33550, 33922, 34264];

/// The GeoTIFF tags for an image with this geotransform and coordinate system, in tag
/// order.
pub fn geotiff_tags(
    geo_transform: Option<[f64; 6]>,
    crs: Option<&Crs>,
) -> Result<Vec<Tag>, GeotagError> {
    if geo_transform.is_none() && crs.is_none() {
        return Ok(Vec::new());
    }
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let path = format!(
        "/vsimem/chunkscope-geotags-{}-{}.tif",
        std::process::id(),
        SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let wkt = match crs {
        Some(Crs::Wkt(wkt)) => Some(wkt.as_str()),
        _ => None,
    };
    let bytes = (|| -> Result<Vec<u8>, gdal::errors::GdalError> {
        let driver = DriverManager::get_driver_by_name("GTiff")?;
        let mut ds = driver.create_with_band_type::<u8, _>(&path, 1, 1, 1)?;
        if let Some(gt) = geo_transform {
            ds.set_geo_transform(&gt)?;
        }
        if let Some(wkt) = wkt {
            ds.set_spatial_ref(&SpatialRef::from_wkt(wkt)?)?;
        }
        ds.close()?;
        Ok(take_vsimem(&path))
    })()
    .map_err(|e| GeotagError::Encode(Box::new(e)))?;
    let read = |codes: &[u16]| {
        tiff_tags::first_ifd_tags(&mut tiff_tags::in_memory(&bytes), codes)
            .map_err(GeotagError::Unreadable)
    };
    match crs.and_then(Crs::geokey_tags) {
        Some(keys) => {
            let mut tags = read(&TRANSFORM_TAGS)?;
            tags.extend(keys);
            Ok(tags)
        }
        None => read(&[TRANSFORM_TAGS, GEO_KEY_TAGS].concat()),
    }
}

/// Why the georeferencing could not be turned into GeoTIFF tags.
#[derive(Debug, thiserror::Error)]
pub enum GeotagError {
    #[error("GDAL could not encode the georeferencing")]
    Encode(#[source] Box<gdal::errors::GdalError>),
    /// chunkscope's own TIFF reader could not find the tags; its words, one-off text.
    #[error("the georeferencing GDAL wrote is not readable: {0}")]
    Unreadable(String),
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
            std::slice::from_raw_parts(ptr, crate::convert::clamp_usize(len)).to_vec()
        };
        gdal_sys::VSIUnlink(c.as_ptr());
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tiff_core::TagValue;

    #[test]
    fn utm_georeferencing_comes_back_as_gdal_writes_it() {
        let srs = SpatialRef::from_epsg(32631).unwrap().to_wkt().unwrap();
        let gt = [600000.0, 20.0, 0.0, 5900040.0, 0.0, -20.0];
        let tags = geotiff_tags(Some(gt), Some(&Crs::Wkt(srs))).unwrap();
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
