//! Band-sequential rows to pixel-interleaved ones, the one copy every output tile needs.
//! Three bands (the true-colour image) is the case that matters: done 16 pixels at a time
//! with SSSE3 byte shuffles where the CPU has them, since a plain loop of 3-byte stores is
//! several times slower than memory and was the largest part of the write stage.

use std::ops::Range;

use ndarray::ArrayView3;

/// Copies columns `cols` of row `row` of a band-sequential (bands, rows, cols) chunk into
/// the pixel-interleaved `dst` (`cols.len()` pixels of `nb` samples each), as samples
/// `band0..band0 + bands` of each pixel; the other samples of `dst` are left as they are.
pub fn chunk_row(
    data: ArrayView3<'_, u8>,
    row: usize,
    cols: Range<usize>,
    band0: usize,
    nb: usize,
    dst: &mut [u8],
) {
    let bands = data.dim().0;
    let band_row = |b: usize| data.slice(ndarray::s![b, row, cols.clone()]);
    if bands == 3 && nb == 3 {
        let (r0, r1, r2) = (band_row(0), band_row(1), band_row(2));
        if let (Some(a), Some(b), Some(c)) = (r0.as_slice(), r1.as_slice(), r2.as_slice()) {
            three(a, b, c, dst);
            return;
        }
    }
    for b in 0..bands {
        for (d, v) in dst[band0 + b..].iter_mut().step_by(nb).zip(band_row(b)) {
            *d = *v;
        }
    }
}

/// Writes `a[i], b[i], c[i]` to `dst[3i..3i+3]` for every `i < a.len()`.
///
/// Panics when the lengths disagree (`b` and `c` as long as `a`, `dst` three times).
pub fn three(a: &[u8], b: &[u8], c: &[u8], dst: &mut [u8]) {
    assert!(
        b.len() == a.len() && c.len() == a.len() && dst.len() == 3 * a.len(),
        "three bands of one length into a buffer of three times it"
    );
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("ssse3") {
            // SAFETY: the CPU has SSSE3, checked just above.
            let done = unsafe { x86::three_ssse3(a, b, c, dst) };
            scalar(&a[done..], &b[done..], &c[done..], &mut dst[3 * done..]);
            return;
        }
    }
    scalar(a, b, c, dst);
}

fn scalar(a: &[u8], b: &[u8], c: &[u8], dst: &mut [u8]) {
    for (((px, &a), &b), &c) in dst.chunks_exact_mut(3).zip(a).zip(b).zip(c) {
        px[0] = a;
        px[1] = b;
        px[2] = c;
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{
        _mm_loadu_si128, _mm_or_si128, _mm_setzero_si128, _mm_shuffle_epi8, _mm_storeu_si128,
    };

    /// The shuffle that moves band `band`'s bytes into output vector `part` (of three):
    /// output byte `j` of that vector is pixel `(16 part + j) / 3`, band `(16 part + j) % 3`;
    /// bytes of other bands are zeroed (high bit set) and filled in by the other shuffles.
    const fn mask(part: usize, band: usize) -> [i8; 16] {
        let mut m = [-128i8; 16];
        let mut j = 0;
        while j < 16 {
            let at = 16 * part + j;
            if at % 3 == band {
                #[allow(
                    clippy::cast_possible_truncation,
                    reason = "at < 48, so at / 3 < 16 (TryFrom is not const)"
                )]
                let sample = (at / 3) as i8;
                m[j] = sample;
            }
            j += 1;
        }
        m
    }

    const MASKS: [[[i8; 16]; 3]; 3] = {
        let mut all = [[[0i8; 16]; 3]; 3];
        let mut part = 0;
        while part < 3 {
            let mut band = 0;
            while band < 3 {
                all[part][band] = mask(part, band);
                band += 1;
            }
            part += 1;
        }
        all
    };

    /// Interleaves whole groups of 16 pixels; returns how many pixels it did.
    ///
    /// # Safety
    /// The CPU must support SSSE3. Lengths are those `three` checked.
    #[target_feature(enable = "ssse3")]
    pub unsafe fn three_ssse3(a: &[u8], b: &[u8], c: &[u8], dst: &mut [u8]) -> usize {
        let mut m = [[_mm_setzero_si128(); 3]; 3];
        for (p, row) in m.iter_mut().enumerate() {
            for (band, v) in row.iter_mut().enumerate() {
                // SAFETY: each mask is 16 bytes; the load has no alignment requirement.
                *v = unsafe { _mm_loadu_si128(MASKS[p][band].as_ptr().cast()) };
            }
        }
        let groups = a.len() / 16;
        for g in 0..groups {
            let at = 16 * g;
            // SAFETY: `at + 16 <= len` for each source and `3 at + 48 <= dst.len()`; the
            // unaligned load and store have no alignment requirement.
            unsafe {
                let va = _mm_loadu_si128(a.as_ptr().add(at).cast());
                let vb = _mm_loadu_si128(b.as_ptr().add(at).cast());
                let vc = _mm_loadu_si128(c.as_ptr().add(at).cast());
                for (p, mp) in m.iter().enumerate() {
                    let v = _mm_or_si128(
                        _mm_or_si128(_mm_shuffle_epi8(va, mp[0]), _mm_shuffle_epi8(vb, mp[1])),
                        _mm_shuffle_epi8(vc, mp[2]),
                    );
                    _mm_storeu_si128(dst.as_mut_ptr().add(3 * at + 16 * p).cast(), v);
                }
            }
        }
        16 * groups
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_row_lands_on_its_own_samples_of_each_pixel() {
        // Two bands (1 and 2 of 3) of a 2 x 4 chunk; row 1, columns 1..3.
        let data = ndarray::Array3::from_shape_fn((2, 2, 4), |(b, r, c)| {
            u8::try_from(100 * (b + 1) + 10 * r + c).unwrap()
        });
        let mut dst = [0u8; 6];
        chunk_row(data.view(), 1, 1..3, 1, 3, &mut dst);
        assert_eq!(dst, [0, 111, 211, 0, 112, 212]);
        // All three bands take the fast path and fill every sample.
        let data = ndarray::Array3::from_shape_fn((3, 1, 20), |(b, _, c)| {
            u8::try_from(b * 50 + c).unwrap()
        });
        let mut dst = [9u8; 60];
        chunk_row(data.view(), 0, 0..20, 0, 3, &mut dst);
        let want: Vec<u8> = (0..20).flat_map(|c| [c, 50 + c, 100 + c]).collect();
        assert_eq!(dst.to_vec(), want);
    }

    #[test]
    #[allow(
        clippy::cast_possible_truncation,
        reason = "test patterns: bytes that wrap on purpose"
    )]
    fn every_length_matches_the_plain_loop() {
        for n in [0, 1, 5, 15, 16, 17, 31, 32, 33, 100, 2048, 2051] {
            let a: Vec<u8> = (0..n).map(|i| (i * 7 + 1) as u8).collect();
            let b: Vec<u8> = (0..n).map(|i| (i * 13 + 2) as u8).collect();
            let c: Vec<u8> = (0..n).map(|i| (i * 31 + 3) as u8).collect();
            let mut fast = vec![0xAA; 3 * n];
            three(&a, &b, &c, &mut fast);
            let want: Vec<u8> = (0..n).flat_map(|i| [a[i], b[i], c[i]]).collect();
            assert_eq!(fast, want, "length {n}");
        }
    }

    #[test]
    #[should_panic(expected = "three bands of one length")]
    fn lengths_that_disagree_are_refused() {
        three(&[1, 2], &[3], &[4, 5], &mut [0; 6]);
    }
}
