//! The lesson's mask step: wherever the SCL class is a cloud class, every visual band
//! becomes nodata (0).

use ndarray::{Array2, Array3, Axis, Zip};

/// Which SCL classes count as cloud: a 256-entry lookup so masking is one load per pixel.
#[derive(Clone, PartialEq, Eq)]
pub struct CloudClasses {
    lut: [bool; 256],
}

impl CloudClasses {
    /// The lesson's default: 8 (cloud, medium probability) and 9 (cloud, high probability).
    pub const DEFAULT: [u8; 2] = [8, 9];

    pub fn new(classes: &[u8]) -> Self {
        let mut lut = [false; 256];
        for &c in classes {
            lut[usize::from(c)] = true;
        }
        Self { lut }
    }

    pub fn contains(&self, class: u8) -> bool {
        self.lut[usize::from(class)]
    }

    /// The classes in ascending order.
    pub fn to_vec(&self) -> Vec<u8> {
        (0..=255u8).filter(|&c| self.contains(c)).collect()
    }
}

impl Default for CloudClasses {
    fn default() -> Self {
        Self::new(&Self::DEFAULT)
    }
}

impl std::fmt::Debug for CloudClasses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.to_vec()).finish()
    }
}

/// Sets cloud pixels to 0 in every band of `image` (bands, rows, cols) and returns how many
/// pixels (not samples) were cloud.
pub fn apply(image: &mut Array3<u8>, scl: &Array2<u8>, classes: &CloudClasses) -> u64 {
    for mut band in image.axis_iter_mut(Axis(0)) {
        Zip::from(&mut band).and(scl).for_each(|v, &s| {
            if classes.contains(s) {
                *v = 0;
            }
        });
    }
    scl.iter().filter(|&&s| classes.contains(s)).count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn masks_every_band_where_scl_is_cloud() {
        let mut image = Array3::from_elem((3, 2, 3), 7u8);
        let scl = array![[4, 8, 9], [10, 3, 8]];
        let n = apply(&mut image, &scl, &CloudClasses::default());
        assert_eq!(n, 3);
        for b in 0..3 {
            assert_eq!(image.index_axis(Axis(0), b), array![[7, 0, 0], [7, 7, 0]]);
        }
    }

    #[test]
    fn configurable_classes() {
        let mut image = Array3::from_elem((1, 1, 3), 5u8);
        let scl = array![[3, 8, 10]];
        let n = apply(&mut image, &scl, &CloudClasses::new(&[3, 10]));
        assert_eq!(n, 2);
        assert_eq!(image.index_axis(Axis(0), 0), array![[0, 5, 0]]);
    }
}
