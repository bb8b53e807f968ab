//! Band-sequential rows to pixel-interleaved ones, the one copy every output tile needs.
//! Three bands (the true-colour image) is the case that matters: done 16 pixels at a time
//! with SSSE3 byte shuffles where the CPU has them, since a plain loop of 3-byte stores is
//! several times slower than memory and was the largest part of the write stage.

/// Writes `a[i], b[i], c[i]` to `dst[3i..3i+3]` for every `i < a.len()`.
///
/// Panics when the lengths disagree (`b` and `c` as long as `a`, `dst` three times).
pub fn three(a: &[u8], b: &[u8], c: &[u8], dst: &mut [u8]) {
    assert!(b.len() == a.len() && c.len() == a.len() && dst.len() == 3 * a.len());
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
                m[j] = (at / 3) as i8;
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
    #[should_panic]
    fn lengths_that_disagree_are_refused() {
        three(&[1, 2], &[3], &[4, 5], &mut [0; 6]);
    }
}
