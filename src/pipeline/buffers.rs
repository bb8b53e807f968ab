//! Chunk pixel buffers, obtained apart from the load work so their cost shows as the
//! overhead part it is (the lesson's chunks are numpy arrays allocated per task too).

use ndarray::{Array, Dimension, ShapeBuilder};

/// Page size assumed for first-touching a buffer; a smaller real page only means some pages
/// are faulted in later, inside the read.
const PAGE: usize = 4096;

/// A zeroed array whose pages are already resident. Large zeroed allocations come from the
/// kernel as untouched pages, so without the touch their page faults would land inside the
/// first task that writes them (the load) and be timed as decoding.
pub fn resident_zeros<D: Dimension>(shape: impl ShapeBuilder<Dim = D>) -> Array<u8, D> {
    let mut a = Array::<u8, D>::zeros(shape);
    if let Some(bytes) = a.as_slice_mut() {
        for i in (0..bytes.len()).step_by(PAGE) {
            // Volatile: the compiler knows the memory is zero and would drop a plain store
            // of zero, and with it the page fault this loop is for.
            // SAFETY: `i` is in bounds of the slice.
            unsafe { std::ptr::write_volatile(bytes.as_mut_ptr().add(i), 0) };
        }
    }
    a
}

/// The bytes of an array made by [`resident_zeros`] (or any standard-layout array), in
/// order. Panics on a strided view: that is a bug in the caller, not bad input.
pub fn contiguous<D: Dimension>(a: &mut Array<u8, D>) -> &mut [u8] {
    a.as_slice_mut()
        .expect("chunk buffers are allocated in standard layout")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeroed_with_the_shape_asked_for() {
        let a = resident_zeros((3, 100, 50));
        assert_eq!(a.dim(), (3, 100, 50));
        assert!(a.iter().all(|&v| v == 0));
        let b = resident_zeros((0, 7));
        assert_eq!(b.len(), 0);
    }
}
