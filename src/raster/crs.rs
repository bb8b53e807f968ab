//! A source's coordinate system, as the output carries it over. For a GeoTIFF that is its
//! GeoKey tags, read from the file's first IFD through GDAL's virtual file layer (so remote
//! files work too) and copied to the output as they are. Asking GDAL for the coordinate
//! system instead would start PROJ, whose library and database pages add about 7 MiB to
//! every run's memory for a value the output only passes on. A GeoTIFF with a side file
//! (`.aux.xml`), which GDAL lets override the keys, takes GDAL's reading instead.

use std::ffi::CString;

use tiff_core::{Tag, TagValue};

use super::tiff_tags;

const GEO_KEY_DIRECTORY: u16 = 34735;
/// GeoKeyDirectory, GeoDoubleParams, GeoAsciiParams.
pub const GEO_KEY_TAGS: [u16; 3] = [GEO_KEY_DIRECTORY, 34736, 34737];

const GT_MODEL_TYPE: u16 = 1024;
const GT_RASTER_TYPE: u16 = 1025;
const GEOGRAPHIC_TYPE: u16 = 2048;
const PROJECTED_CS_TYPE: u16 = 3072;
const RASTER_PIXEL_IS_AREA: u16 = 1;
const USER_DEFINED: u16 = 32767;

/// A coordinate system as the source states it.
#[derive(Debug, Clone)]
pub enum Crs {
    /// A GeoTIFF's GeoKey tags, and the file they were read from.
    GeoKeys { tags: Vec<Tag>, path: String },
    /// GDAL's WKT, for sources in other formats.
    Wkt(String),
}

impl Crs {
    /// The GeoKey tags of the GeoTIFF at `path` (a GDAL path), if it has any.
    pub fn read_geokeys(path: &str) -> Result<Option<Crs>, String> {
        let mut file = VsiFile::open(path)?;
        let tags = tiff_tags::first_ifd_tags(&mut |at, len| file.read_at(at, len), &GEO_KEY_TAGS)?;
        let has_directory = tags.iter().any(|t| t.code == GEO_KEY_DIRECTORY);
        Ok(has_directory.then(|| Crs::GeoKeys {
            tags,
            path: path.to_string(),
        }))
    }

    /// The EPSG code the keys name; None for a user-defined system, and for WKT (whose
    /// code takes PROJ to find).
    pub fn epsg(&self) -> Option<i32> {
        let Crs::GeoKeys { tags, .. } = self else {
            return None;
        };
        let code = match key(tags, GT_MODEL_TYPE)? {
            1 => key(tags, PROJECTED_CS_TYPE)?,
            2 => key(tags, GEOGRAPHIC_TYPE)?,
            _ => return None,
        };
        (code != 0 && code != USER_DEFINED).then_some(i32::from(code))
    }

    /// The tags for an output with this coordinate system whose georeferencing gives the
    /// corner of the pixel area: the keys as read, with the raster type set to PixelIsArea,
    /// as the output's tie point is computed from GDAL's (area) geotransform.
    pub fn geokey_tags(&self) -> Option<Vec<Tag>> {
        let Crs::GeoKeys { tags, .. } = self else {
            return None;
        };
        let mut tags = tags.clone();
        for t in &mut tags {
            if let (GEO_KEY_DIRECTORY, TagValue::Short(dir)) = (t.code, &mut t.value) {
                // Header of 4 shorts, then entries of (key, location, count, value);
                // location 0 means the value is inline.
                for e in dir
                    .get_mut(4..)
                    .into_iter()
                    .flat_map(|d| d.chunks_exact_mut(4))
                {
                    if e[0] == GT_RASTER_TYPE && e[1] == 0 {
                        e[3] = RASTER_PIXEL_IS_AREA;
                    }
                }
            }
        }
        Some(tags)
    }

    /// GDAL's WKT of the coordinate system. For GeoKeys it is what GDAL reads from the
    /// source (this starts PROJ: GDAL's own writer needs it anyway).
    pub fn wkt(&self) -> Result<String, String> {
        match self {
            Crs::Wkt(wkt) => Ok(wkt.clone()),
            Crs::GeoKeys { path, .. } => {
                let ds = super::RasterSource::new("the source", path.clone())
                    .open_dataset(None)
                    .map_err(|e| crate::error::chain(&e))?;
                ds.spatial_ref()
                    .and_then(|s| s.to_wkt())
                    .map_err(|e| e.to_string())
            }
        }
    }
}

impl PartialEq for Crs {
    fn eq(&self, other: &Self) -> bool {
        let same_tags = |a: &[Tag], b: &[Tag]| {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(x, y)| x.code == y.code && x.value == y.value)
        };
        match (self, other) {
            (Crs::GeoKeys { tags: a, path: p }, Crs::GeoKeys { tags: b, path: q }) => {
                p == q && same_tags(a, b)
            }
            (Crs::Wkt(a), Crs::Wkt(b)) => a == b,
            _ => false,
        }
    }
}

/// Whether GDAL found a side file (`.aux.xml`) for `ds`. Such a file may state a
/// coordinate system that GDAL puts before the GeoTIFF's own keys, so only GDAL's reading
/// is then right. GDAL looked for it when it opened the dataset: asking costs no request.
pub fn has_side_file(ds: &gdal::Dataset) -> bool {
    // SAFETY: GDALGetFileList returns a NULL-terminated list of C strings that the caller
    // owns and frees with CSLDestroy, which is done here after reading it.
    unsafe {
        let list = gdal_sys::GDALGetFileList(ds.c_dataset());
        if list.is_null() {
            return false;
        }
        let mut found = false;
        let mut at = list;
        while !(*at).is_null() {
            let name = std::ffi::CStr::from_ptr(*at).to_string_lossy();
            found |= name.to_ascii_lowercase().ends_with(".aux.xml");
            at = at.add(1);
        }
        gdal_sys::CSLDestroy(list);
        found
    }
}

/// An inline SHORT value of the GeoKey directory.
fn key(tags: &[Tag], id: u16) -> Option<u16> {
    let dir = tags.iter().find_map(|t| match (t.code, &t.value) {
        (GEO_KEY_DIRECTORY, TagValue::Short(d)) => Some(d),
        _ => None,
    })?;
    dir.get(4..)?
        .chunks_exact(4)
        .find(|e| e[0] == id && e[1] == 0)
        .map(|e| e[3])
}

/// A file opened through GDAL's virtual file layer.
struct VsiFile(*mut gdal_sys::VSILFILE);

impl VsiFile {
    fn open(path: &str) -> Result<Self, String> {
        let c = CString::new(path).map_err(|_| "a path with a NUL byte".to_string())?;
        // SAFETY: both arguments are NUL-terminated strings that outlive the call.
        let fp = unsafe { gdal_sys::VSIFOpenL(c.as_ptr(), c"rb".as_ptr()) };
        if fp.is_null() {
            return Err(super::last_gdal_error());
        }
        Ok(Self(fp))
    }

    fn read_at(&mut self, at: u64, len: usize) -> Result<Vec<u8>, String> {
        let mut buf = vec![0u8; len];
        // SAFETY: the handle is open (closed only on drop) and `buf` has `len` bytes.
        let read = unsafe {
            if gdal_sys::VSIFSeekL(self.0, at, libc::SEEK_SET) != 0 {
                return Err(format!("cannot seek to byte {at}"));
            }
            gdal_sys::VSIFReadL(buf.as_mut_ptr().cast(), 1, len, self.0)
        };
        if read != len {
            return Err("truncated".into());
        }
        Ok(buf)
    }
}

impl Drop for VsiFile {
    fn drop(&mut self) {
        // SAFETY: the handle was opened by VSIFOpenL and is closed once.
        unsafe {
            gdal_sys::VSIFCloseL(self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gdal::raster::RasterCreationOptions;

    /// A one-band GeoTIFF in UTM 31N written by GDAL with these creation options.
    fn utm_tiff(path: &std::path::Path, options: &[&str]) {
        let driver = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
        let options = RasterCreationOptions::from_iter(options.iter().copied());
        let mut ds = driver
            .create_with_band_type_with_options::<u8, _>(path, 8, 8, 1, &options)
            .unwrap();
        ds.set_spatial_ref(&gdal::spatial_ref::SpatialRef::from_epsg(32631).unwrap())
            .unwrap();
        ds.set_geo_transform(&[600000.0, 20.0, 0.0, 5900040.0, 0.0, -20.0])
            .unwrap();
        ds.close().unwrap();
    }

    #[test]
    fn keys_read_alike_from_classic_and_big_tiffs_in_either_byte_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut read = Vec::new();
        for options in [
            &[][..],
            &["ENDIANNESS=BIG"][..],
            &["BIGTIFF=YES"][..],
            &["BIGTIFF=YES", "ENDIANNESS=BIG"][..],
        ] {
            let path = dir.path().join(format!("{}.tif", options.join("-")));
            utm_tiff(&path, options);
            let path = path.display().to_string();
            let crs = Crs::read_geokeys(&path).unwrap().expect("keys");
            assert_eq!(crs.epsg(), Some(32631), "{options:?}");
            let Crs::GeoKeys { tags, .. } = crs else {
                panic!("GeoKeys")
            };
            assert!(tags.iter().any(|t| t.code == 34735), "{options:?}");
            read.push(tags);
        }
        for tags in &read[1..] {
            let same = tags.len() == read[0].len()
                && tags
                    .iter()
                    .zip(&read[0])
                    .all(|(a, b)| a.code == b.code && a.value == b.value);
            assert!(same, "{tags:?} vs {:?}", read[0]);
        }
    }

    #[test]
    fn a_file_without_keys_or_not_a_tiff_has_none() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain.tif");
        let driver = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
        driver
            .create_with_band_type::<u8, _>(&plain, 4, 4, 1)
            .unwrap()
            .close()
            .unwrap();
        assert_eq!(Crs::read_geokeys(&plain.display().to_string()), Ok(None));
        let text = dir.path().join("text.tif");
        std::fs::write(&text, b"hello, not a TIFF at all").unwrap();
        assert!(Crs::read_geokeys(&text.display().to_string()).is_err());
        assert!(Crs::read_geokeys("/no/such/file.tif").is_err());
    }

    #[test]
    fn the_output_keys_say_pixel_is_area() {
        let tags = vec![Tag::new(
            34735,
            TagValue::Short(vec![
                1,
                1,
                0,
                2,
                GT_MODEL_TYPE,
                0,
                1,
                1,
                GT_RASTER_TYPE,
                0,
                1,
                2,
            ]),
        )];
        let crs = Crs::GeoKeys {
            tags,
            path: String::new(),
        };
        let out = crs.geokey_tags().unwrap();
        let TagValue::Short(dir) = &out[0].value else {
            panic!("SHORT")
        };
        assert_eq!(dir[8..], [GT_RASTER_TYPE, 0, 1, RASTER_PIXEL_IS_AREA]);
        assert_eq!(dir[4..8], [GT_MODEL_TYPE, 0, 1, 1]);
    }
}
