//! The chunk planner against the demo scene's real geometry (B02, visual) and against
//! brute-force references on small layouts.

use chunkscope::chunks::{
    ChunkError, ChunkPlan, ChunkRequest, ChunkShape, DEFAULT_AUTO_BYTES, Interleave, MAX_CHUNKS,
    RasterLayout,
};

/// Sentinel-2 B02 as a COG: one uint16 band, 10980 x 10980, 1024 blocks.
const B02: RasterLayout = RasterLayout {
    bands: 1,
    rows: 10980,
    cols: 10980,
    block_rows: 1024,
    block_cols: 1024,
    dtype_bytes: 2,
    interleave: Interleave::Band,
};

/// Overview level 0 of the true-colour `visual` COG: 3 uint8 bands in every block.
const VISUAL: RasterLayout = RasterLayout {
    bands: 3,
    rows: 5490,
    cols: 5490,
    block_rows: 1024,
    block_cols: 1024,
    dtype_bytes: 1,
    interleave: Interleave::Pixel,
};

fn plan(layout: RasterLayout, request: &str) -> ChunkPlan {
    let request: ChunkRequest = request.parse().expect("test request parses");
    ChunkPlan::new(layout, &request).expect("test request plans")
}

fn shape(bands: usize, rows: usize, cols: usize) -> ChunkShape {
    ChunkShape { bands, rows, cols }
}

fn parse_err(input: &str) -> String {
    match input.parse::<ChunkRequest>() {
        Ok(r) => panic!("{input:?} parsed as {r:?}, expected an error"),
        Err(e) => e.to_string(),
    }
}

// ---- B02 -------------------------------------------------------------------------------

#[test]
fn b02_6144_is_four_aligned_72_mib_chunks() {
    let p = plan(B02, "1,6144,6144");
    assert_eq!(p.shape, shape(1, 6144, 6144));
    assert_eq!(p.chunk_bytes(), 75_497_472);
    assert_eq!(p.chunk_bytes(), 72 * 1024 * 1024);
    assert_eq!(p.chunk_count(), 4);
    assert_eq!(p.grid(), (1, 2, 2));
    assert!(p.aligned());
    assert_eq!(p.read_amplification(), 1.0);
    assert!(p.notices.is_empty());
    // Edge chunks are 10980 - 6144 = 4836 wide.
    assert_eq!((p.chunks[3].rows, p.chunks[3].cols), (4836, 4836));
}

#[test]
fn b02_auto_is_8192_like_dask() {
    let p = plan(B02, "auto");
    assert_eq!(p.shape, shape(1, 8192, 8192));
    assert_eq!(p.shape.to_string(), "1,8192,8192");
    assert!(p.chunk_bytes() <= DEFAULT_AUTO_BYTES);
    assert!(p.aligned());
    assert_eq!(p.read_amplification(), 1.0);
    assert!(p.notices.is_empty());
}

#[test]
fn b02_1000_is_misaligned_with_exact_amplification() {
    let p = plan(B02, "1,1000,1000");
    assert!(!p.aligned());
    assert_eq!(p.grid(), (1, 11, 11));
    // Per axis, the clipped heights of the blocks each of the 11 chunk rows touches:
    // [0,1000) -> block 0 = 1024; the next nine straddle two full blocks = 2048 each;
    // [10000,10980) -> blocks 9 and 10 = 1024 + 740. Sum = 1024 + 9*2048 + 1764 = 21220.
    // Rows and cols are independent, so decoded = 21220^2 over 10980^2 samples.
    let expected = (21220.0 * 21220.0) / (10980.0 * 10980.0);
    assert!((p.read_amplification() - expected).abs() < 1e-12);
    assert!(p.read_amplification() > 3.7);
    assert_eq!(p.max_blocks_touched(), 4);
    // First chunk sits inside block 0; decoding it costs the whole block.
    assert_eq!(p.blocks_touched(&p.chunks[0]), 1);
    assert_eq!(p.decoded_samples(&p.chunks[0]), 1024 * 1024);
    // Last chunk: blocks (9..=10) x (9..=10), clipped: 1764 x 1764.
    let last = p.chunks.last().expect("plan has chunks");
    assert_eq!(p.decoded_samples(last), 1764 * 1764);
}

#[test]
fn b02_2048_is_36_aligned_chunks_of_four_blocks() {
    let p = plan(B02, "1,2048,2048");
    assert_eq!(p.chunk_count(), 36);
    assert_eq!(p.grid(), (1, 6, 6));
    assert!(p.aligned());
    assert_eq!(p.read_amplification(), 1.0);
    assert_eq!(p.max_blocks_touched(), 4);
    // Last row/col of chunks covers 10980 - 10240 = 740: one (partial) block.
    let last = p.chunks.last().expect("plan has chunks");
    assert_eq!(p.blocks_touched(last), 1);
    // 25 interior chunks touch 4, 10 edge chunks 2, the corner 1.
    assert!((p.mean_blocks_touched() - (25.0 * 4.0 + 10.0 * 2.0 + 1.0) / 36.0).abs() < 1e-12);
}

#[test]
fn b02_blocks_k_and_square() {
    let p = plan(B02, "blocks:3");
    assert_eq!(p.shape, shape(1, 3072, 3072));
    assert!(p.aligned());
    // Half-block chunks: not aligned, every block (even the 740-wide edge one, split into
    // 512 + 228) is decoded by 2 x 2 chunks.
    let p = plan(B02, "512");
    assert_eq!(p.shape, shape(1, 512, 512));
    assert!(!p.aligned());
    assert_eq!(p.read_amplification(), 4.0);
}

// ---- visual (pixel interleaved) -----------------------------------------------------------

#[test]
fn visual_single_band_chunks_decode_every_block_three_times() {
    let p = plan(VISUAL, "1,1024,1024");
    assert!(p.aligned());
    assert_eq!(p.grid(), (3, 6, 6));
    assert_eq!(p.read_amplification(), 3.0);
    // Pixel interleave: blocks hold all bands, so a 1-band chunk still touches one block.
    assert_eq!(p.blocks_touched(&p.chunks[0]), 1);
}

#[test]
fn visual_all_band_aligned_chunks_decode_once() {
    let p = plan(VISUAL, "3,1024,1024");
    assert_eq!(p.read_amplification(), 1.0);
    assert_eq!(p.chunk_bytes(), 3 * 1024 * 1024);
    let p = plan(VISUAL, "1024");
    assert_eq!(p.shape, shape(3, 1024, 1024));
    assert_eq!(p.read_amplification(), 1.0);
}

#[test]
fn visual_misaligned_all_band_chunks() {
    let p = plan(VISUAL, "3,1000,1000");
    assert!(!p.aligned());
    // Per axis: 1024 + 4*2048 + (1024 + 370) = 10610 over 5490.
    let expected = (10610.0 * 10610.0) / (5490.0 * 5490.0);
    assert!((p.read_amplification() - expected).abs() < 1e-12);
    assert!(p.read_amplification() > 1.0);
}

#[test]
fn auto_and_blocks_keep_pixel_interleaved_bands_together() {
    let p = plan(VISUAL, "auto");
    // 3 MiB per 1024 block of 3 bands; 128 MiB fits 42 blocks -> k = 6 -> 6144, clamped.
    assert_eq!(p.shape, shape(3, 5490, 5490));
    assert!(
        p.notices.is_empty(),
        "auto clamps silently: {:?}",
        p.notices
    );
    assert_eq!(p.read_amplification(), 1.0);
    let p = plan(VISUAL, "auto:12MiB");
    assert_eq!(p.shape, shape(3, 2048, 2048));
    let p = plan(VISUAL, "blocks:2");
    assert_eq!(p.shape, shape(3, 2048, 2048));
    let band = RasterLayout {
        interleave: Interleave::Band,
        ..VISUAL
    };
    let p = plan(band, "blocks:2");
    assert_eq!(p.shape, shape(1, 2048, 2048));
    // Band interleave: each band has its own blocks, so a 3-band chunk touches 3x as many.
    let p = plan(band, "3,1024,1024");
    assert_eq!(p.blocks_touched(&p.chunks[0]), 3);
    assert_eq!(p.read_amplification(), 1.0);
}

#[test]
fn auto_target_smaller_than_one_block_still_takes_one_block() {
    let p = plan(B02, "auto:1KiB");
    assert_eq!(p.shape, shape(1, 1024, 1024));
    let p = plan(B02, "auto:18446744073709551615");
    assert_eq!(p.shape, shape(1, 10980, 10980));
}

// ---- clamping ---------------------------------------------------------------------------

#[test]
fn oversized_requests_clamp_with_a_notice() {
    let p = plan(B02, "1,20000,512");
    assert_eq!(p.shape, shape(1, 10980, 512));
    assert_eq!(
        p.notices,
        vec!["chunk rows 20000 exceed the raster's 10980 rows: clamped to 10980".to_string()]
    );
    let p = plan(VISUAL, "5,6000,6000");
    assert_eq!(p.shape, shape(3, 5490, 5490));
    assert_eq!(p.notices.len(), 3);
    assert_eq!(
        p.notices[0],
        "chunk bands 5 exceed the raster's 3 bands: clamped to 3"
    );
    assert_eq!(
        p.notices[2],
        "chunk cols 6000 exceed the raster's 5490 cols: clamped to 5490"
    );
    assert_eq!(p.chunk_count(), 1);
}

#[test]
fn huge_numbers_clamp_instead_of_overflowing() {
    let p = plan(B02, "1,99999999999,5");
    assert_eq!(p.shape, shape(1, 10980, 5));
    assert_eq!(p.notices.len(), 1);
    let max = usize::MAX.to_string();
    let p = plan(B02, &format!("{max},{max},{max}"));
    assert_eq!(p.shape, shape(1, 10980, 10980));
    assert_eq!(p.read_amplification(), 1.0);
    let p = plan(B02, &format!("blocks:{max}"));
    assert_eq!(p.shape, shape(1, 10980, 10980));
    let p = plan(VISUAL, &max);
    assert_eq!(p.shape, shape(3, 5490, 5490));
}

#[test]
fn too_many_chunks_is_an_error_not_an_allocation() {
    let err = ChunkPlan::new(B02, &ChunkRequest::Square(1)).expect_err("120 M chunks");
    assert!(matches!(err, ChunkError::TooManyChunks { .. }));
    let text = err.to_string();
    assert!(
        text.contains("1,1,1") && text.contains("120560400"),
        "{text}"
    );
    // Just under the limit still plans.
    let small = RasterLayout {
        rows: 1024,
        cols: 1024,
        ..B02
    };
    let p = ChunkPlan::new(small, &ChunkRequest::Square(1)).expect("1 M chunks");
    assert_eq!(p.chunk_count(), MAX_CHUNKS);
}

#[test]
fn degenerate_layouts_are_rejected() {
    for broken in [
        RasterLayout { rows: 0, ..B02 },
        RasterLayout {
            block_cols: 0,
            ..B02
        },
        RasterLayout {
            dtype_bytes: 0,
            ..B02
        },
        RasterLayout { bands: 0, ..B02 },
    ] {
        let err = ChunkPlan::new(broken, &ChunkRequest::default()).expect_err("zero dimension");
        assert!(matches!(err, ChunkError::Layout { .. }), "{err}");
    }
}

// ---- the grid ---------------------------------------------------------------------------

/// Small layouts with awkward sizes, and shapes that divide them, don't, and exceed them.
fn small_cases() -> Vec<(RasterLayout, ChunkShape)> {
    let mut cases = Vec::new();
    for interleave in [Interleave::Pixel, Interleave::Band] {
        let layout = RasterLayout {
            bands: 3,
            rows: 37,
            cols: 23,
            block_rows: 8,
            block_cols: 5,
            dtype_bytes: 2,
            interleave,
        };
        for bands in 1..=4 {
            for rows in [1, 3, 7, 8, 9, 16, 20, 37, 40] {
                for cols in [1, 4, 5, 6, 10, 22, 23, 99] {
                    cases.push((layout, shape(bands, rows, cols)));
                }
            }
        }
    }
    cases
}

fn plan_shape(layout: RasterLayout, s: ChunkShape) -> ChunkPlan {
    let request = ChunkRequest::Explicit {
        bands: s.bands,
        rows: s.rows,
        cols: s.cols,
    };
    ChunkPlan::new(layout, &request).expect("small plans succeed")
}

#[test]
fn every_sample_is_covered_exactly_once() {
    for (layout, s) in small_cases() {
        let p = plan_shape(layout, s);
        let (rows, cols) = (layout.rows, layout.cols);
        let mut painted = vec![0u32; layout.bands * rows * cols];
        for c in &p.chunks {
            assert!(c.bands >= 1 && c.rows >= 1 && c.cols >= 1, "{c:?}");
            for b in c.band0..c.band0 + c.bands {
                for r in c.row0..c.row0 + c.rows {
                    for col in c.col0..c.col0 + c.cols {
                        painted[(b * rows + r) * cols + col] += 1;
                    }
                }
            }
        }
        assert!(
            painted.iter().all(|&n| n == 1),
            "{s} on {layout:?}: some sample painted {:?} times",
            painted.iter().find(|&&n| n != 1)
        );
        let total: u64 = p.chunks.iter().map(|c| c.samples()).sum();
        assert_eq!(total, (layout.bands * rows * cols) as u64);
        let bytes: u64 = p.chunks.iter().map(|c| c.bytes(layout.dtype_bytes)).sum();
        assert_eq!(bytes, total * 2);
    }
}

#[test]
fn chunks_are_band_then_row_then_col_major_and_indexed() {
    for (layout, s) in small_cases() {
        let p = plan_shape(layout, s);
        let (nb, nr, nc) = p.grid();
        assert_eq!(p.chunk_count(), nb * nr * nc);
        for (i, c) in p.chunks.iter().enumerate() {
            assert_eq!(c.index, i);
            let (b, rest) = (i / (nr * nc), i % (nr * nc));
            let (r, col) = (rest / nc, rest % nc);
            assert_eq!(
                (c.band0, c.row0, c.col0),
                (b * p.shape.bands, r * p.shape.rows, col * p.shape.cols)
            );
        }
        // Edge sizes along each axis sum to the raster.
        let along = |keep: fn(&chunkscope::chunks::Chunk) -> bool,
                     size: fn(&chunkscope::chunks::Chunk) -> usize| {
            p.chunks.iter().filter(|c| keep(c)).map(size).sum::<usize>()
        };
        assert_eq!(
            along(|c| c.band0 == 0 && c.col0 == 0, |c| c.rows),
            layout.rows
        );
        assert_eq!(
            along(|c| c.band0 == 0 && c.row0 == 0, |c| c.cols),
            layout.cols
        );
        assert_eq!(
            along(|c| c.row0 == 0 && c.col0 == 0, |c| c.bands),
            layout.bands
        );
    }
}

/// Decoded samples and blocks touched by enumerating every block of the raster.
fn brute_force(p: &ChunkPlan, c: &chunkscope::chunks::Chunk) -> (usize, u64) {
    let l = p.layout;
    let (mut touched, mut decoded) = (0usize, 0u64);
    for br in 0..l.rows.div_ceil(l.block_rows) {
        for bc in 0..l.cols.div_ceil(l.block_cols) {
            let (r0, r1) = (br * l.block_rows, ((br + 1) * l.block_rows).min(l.rows));
            let (c0, c1) = (bc * l.block_cols, ((bc + 1) * l.block_cols).min(l.cols));
            let hits = r0 < c.row0 + c.rows && c.row0 < r1 && c0 < c.col0 + c.cols && c.col0 < c1;
            if hits {
                let area = ((r1 - r0) * (c1 - c0)) as u64;
                match l.interleave {
                    Interleave::Pixel => {
                        touched += 1;
                        decoded += area * l.bands as u64;
                    }
                    Interleave::Band => {
                        touched += c.bands;
                        decoded += area * c.bands as u64;
                    }
                }
            }
        }
    }
    (touched, decoded)
}

#[test]
fn figures_match_a_brute_force_count_of_blocks() {
    for (layout, s) in small_cases() {
        let p = plan_shape(layout, s);
        let mut total = 0u64;
        let mut max = 0usize;
        for c in &p.chunks {
            let (touched, decoded) = brute_force(&p, c);
            assert_eq!(p.blocks_touched(c), touched, "{s} {c:?}");
            assert_eq!(p.decoded_samples(c), decoded, "{s} {c:?}");
            assert!(decoded >= c.samples());
            total += decoded;
            max = max.max(touched);
        }
        assert_eq!(p.max_blocks_touched(), max);
        let expected = total as f64 / (layout.bands * layout.rows * layout.cols) as f64;
        assert!((p.read_amplification() - expected).abs() < 1e-12, "{s}");
        let bands_whole = p.shape.bands == layout.bands || layout.interleave == Interleave::Band;
        if p.aligned() && bands_whole {
            assert_eq!(p.read_amplification(), 1.0, "{s} on {layout:?}");
        }
        let aligned_by_hand = (p.shape.rows.is_multiple_of(8) || p.shape.rows == 37)
            && (p.shape.cols.is_multiple_of(5) || p.shape.cols == 23);
        assert_eq!(p.aligned(), aligned_by_hand, "{s}");
    }
}

// ---- summary ----------------------------------------------------------------------------

#[test]
fn summary_serialises_every_figure() {
    let p = plan(B02, "1,20000,2048");
    let json = serde_json::to_value(p.summary()).expect("summary serialises");
    assert_eq!(json["shape"]["rows"], 10980);
    assert_eq!(json["chunk_count"], 6);
    assert_eq!(json["grid"], serde_json::json!([1, 1, 6]));
    assert_eq!(json["chunk_bytes"], 10980 * 2048 * 2);
    assert_eq!(json["aligned"], true);
    assert_eq!(json["blocks_touched_max"], 22);
    assert_eq!(json["read_amplification"], 1.0);
    assert!(json["blocks_touched_mean"].as_f64().is_some());
    assert_eq!(json["notices"].as_array().map(Vec::len), Some(1));
}

// ---- parsing ----------------------------------------------------------------------------

#[test]
fn requests_parse() {
    let ok = |s: &str| s.parse::<ChunkRequest>().expect("valid request");
    assert_eq!(
        ok("3,2048,2048"),
        ChunkRequest::Explicit {
            bands: 3,
            rows: 2048,
            cols: 2048
        }
    );
    assert_eq!(
        ok("  1 , 512,\t1000 "),
        ChunkRequest::Explicit {
            bands: 1,
            rows: 512,
            cols: 1000
        }
    );
    assert_eq!(ok("1024"), ChunkRequest::Square(1024));
    assert_eq!(ok(" 256 "), ChunkRequest::Square(256));
    assert_eq!(
        ok("auto"),
        ChunkRequest::Auto {
            target_bytes: DEFAULT_AUTO_BYTES
        }
    );
    assert_eq!(ok("AUTO"), ChunkRequest::default());
    assert_eq!(
        ok("auto:64MiB"),
        ChunkRequest::Auto {
            target_bytes: 64 << 20
        }
    );
    assert_eq!(
        ok("auto: 100MB"),
        ChunkRequest::Auto {
            target_bytes: 100_000_000
        }
    );
    assert_eq!(
        ok("auto:1GiB"),
        ChunkRequest::Auto {
            target_bytes: 1 << 30
        }
    );
    assert_eq!(ok("auto:5000"), ChunkRequest::Auto { target_bytes: 5000 });
    assert_eq!(ok("blocks:2"), ChunkRequest::Blocks(2));
    assert_eq!(ok("blocks : 4"), ChunkRequest::Blocks(4));
    // The sweep passes a comma list element by element.
    let sweep: Vec<ChunkRequest> = "256,512,1000".split(',').map(ok).collect();
    assert_eq!(
        sweep,
        vec![
            ChunkRequest::Square(256),
            ChunkRequest::Square(512),
            ChunkRequest::Square(1000)
        ]
    );
}

#[test]
fn requests_display_in_the_syntax_they_parse_from() {
    for text in [
        "3,2048,2048",
        "1024",
        "auto",
        "auto:64MiB",
        "auto:100000000",
        "blocks:2",
    ] {
        let request: ChunkRequest = text.parse().expect("valid request");
        assert_eq!(request.to_string(), text);
        assert_eq!(request.to_string().parse::<ChunkRequest>(), Ok(request));
    }
}

#[test]
fn zero_is_rejected_with_the_documented_message() {
    assert_eq!(
        parse_err("3,0,2048"),
        "chunk rows must be at least 1, got 0 in \"3,0,2048\" \
         (expected BANDS,ROWS,COLS, a side like 1024, auto[:SIZE] or blocks:K)"
    );
    assert!(parse_err("0,5,5").starts_with("chunk bands must be at least 1, got 0"));
    assert!(parse_err("1,5,0").starts_with("chunk cols must be at least 1, got 0"));
    assert!(parse_err("0").starts_with("chunk side must be at least 1, got 0"));
    assert!(parse_err("blocks:0").starts_with("blocks per side must be at least 1, got 0"));
    assert!(parse_err("auto:0MiB").starts_with("auto chunk size must be at least 1 byte"));
}

#[test]
fn bad_requests_name_the_input_and_what_is_accepted() {
    let cases = [
        ("-5", "must be at least 1, got -5"),
        ("3,-1,2048", "chunk rows must be at least 1, got -1"),
        ("banana", "\"banana\" is not a whole number"),
        ("3,2k,2048", "\"2k\" is not a whole number"),
        ("1.5", "is not a whole number"),
        ("3,2048", "1 or 3 comma-separated parts, got 2"),
        ("1,2,3,4", "1 or 3 comma-separated parts, got 4"),
        ("3,,2048", "chunk rows is missing"),
        ("", "chunk request is empty"),
        ("   ", "chunk request is empty"),
        ("blocks", "blocks needs a count"),
        ("blocks:", "blocks per side is missing"),
        ("blocks:-2", "must be at least 1, got -2"),
        ("blocks:two", "is not a whole number"),
        ("auto:", "is not a size"),
        ("auto:lots", "is not a size"),
        ("auto:64 parsecs", "is not a size"),
        ("automatic", "auto takes a size after a colon"),
        (
            "1,99999999999999999999999,5",
            "chunk rows 99999999999999999999999 is too large",
        ),
        ("99999999999999999999999", "too large"),
        ("blocks:99999999999999999999999", "too large"),
        ("auto:99999999999999999999", "too large"),
        ("auto:99999999999TiB", "too large"),
    ];
    for (input, reason) in cases {
        let text = parse_err(input);
        assert!(text.contains(reason), "{input:?}: {text}");
        assert!(
            text.contains(&format!("in \"{input}\"")),
            "{input:?}: {text}"
        );
        assert!(
            text.ends_with("(expected BANDS,ROWS,COLS, a side like 1024, auto[:SIZE] or blocks:K)"),
            "{input:?}: {text}"
        );
    }
}
