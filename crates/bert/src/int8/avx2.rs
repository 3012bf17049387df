//! The AVX2 kernel. Before AVX-VNNI no instruction adds byte products into 32-bit sums: `vpmaddubsw` multiplies
//! 32 unsigned × signed byte pairs and adds neighbours into *saturating* 16-bit sums, then `vpmaddwd` by ones adds
//! neighbouring 16-bit sums into 32-bit ones. Activations are VNNI's unsigned bytes (`u` in 1..=255, zero point
//! 128); weights get 7 bits (`q` in −63..=63, as ONNX Runtime's `reduce_range` does on CPUs without VNNI), so a
//! 16-bit sum is at most 2·255·63 = 32130 and never saturates: every sum is exact. Keeping 8-bit weights instead
//! needs the sign of signed activations moved onto the weight (`|x|·(sign(x)·w)`, `vpabsb` and `vpsignb`): measured
//! ~1.5x slower, those two instructions competing with the multiplies.

use std::arch::x86_64::*;

use super::{QuantizedWeight, Tile};

/// Weight vectors per block (8 outputs × 4 inputs each).
const W: usize = 2;
/// Output columns per block.
pub const NR: usize = 8 * W;
/// Rows per block: MR·W accumulators, W weight vectors, the broadcast row bytes, ones and a temporary fit in the
/// 16 registers.
pub const MR: usize = 4;

/// The largest weight magnitude: 7 bits, so that no 16-bit pair sum saturates.
pub const WEIGHT_MAX: f32 = 63.0;

/// Quantises `row` into `out` (`u = round(x/s) + 128`) and returns `s`.
#[target_feature(enable = "avx2")]
pub unsafe fn quantize(row: &[f32], out: &mut [u8]) -> f32 {
    let whole = row.len() / 8 * 8;
    // SAFETY: the caller checked the CPU features; every load reads 8 floats below `whole ≤ row.len()`, and every
    // store writes 8 bytes below `whole ≤ out.len()` (`out` holds one byte per input).
    unsafe {
        let sign = _mm256_set1_ps(-0.0);
        let mut max = _mm256_setzero_ps();
        for i in (0..whole).step_by(8) {
            max = _mm256_max_ps(max, _mm256_andnot_ps(sign, _mm256_loadu_ps(row.as_ptr().add(i))));
        }
        let mut lanes = [0f32; 8];
        _mm256_storeu_ps(lanes.as_mut_ptr(), max);
        let max = lanes.iter().chain(&row[whole..]).fold(0f32, |m, v| m.max(v.abs()));
        let s = if max > 0.0 { max / 127.0 } else { 1.0 };
        let inv = _mm256_set1_ps(1.0 / s);
        let (low, high, zero) = (_mm256_set1_epi32(-127), _mm256_set1_epi32(127), _mm256_set1_epi32(128));
        for i in (0..whole).step_by(8) {
            // Rounds to nearest (MXCSR's default); the clamp only catches `x·(1/s)` rounding just past 127.
            let q = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(row.as_ptr().add(i)), inv));
            let u = _mm256_add_epi32(_mm256_min_epi32(_mm256_max_epi32(q, low), high), zero);
            let words = _mm_packs_epi32(_mm256_castsi256_si128(u), _mm256_extracti128_si256::<1>(u));
            _mm_storel_epi64(out.as_mut_ptr().add(i).cast(), _mm_packus_epi16(words, words));
        }
        for (o, v) in out[whole..row.len()].iter_mut().zip(&row[whole..]) {
            *o = ((v / s).round().clamp(-127.0, 127.0) as i32 + 128) as u8;
        }
        s
    }
}

/// One MR × NR block of outputs: sums over every group of four inputs, then zero point, scales and bias.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn tile(t: &Tile, weights: &[i8], w: &QuantizedWeight, bias: &[f32], out: &mut [f32]) {
    // SAFETY: the caller checked the CPU features. Reads: `weights` is one block of `groups · NR · 4` bytes and
    // `t.a` holds MR rows of `stride ≥ groups · 4` bytes; writes: columns below `n` of the first `t.rows` rows of
    // `out` (see `linear`).
    unsafe {
        let ones = _mm256_set1_epi16(1);
        let mut acc = [[_mm256_setzero_si256(); W]; MR];
        let a = t.a.as_ptr();
        let b = weights.as_ptr();
        for g in 0..w.groups {
            let mut wv = [_mm256_setzero_si256(); W];
            for (j, v) in wv.iter_mut().enumerate() {
                *v = _mm256_loadu_si256(b.add((g * NR + 8 * j) * 4).cast());
            }
            for (r, acc) in acc.iter_mut().enumerate() {
                let x = _mm256_set1_epi32(a.add(r * t.stride + g * 4).cast::<i32>().read_unaligned());
                for (acc, &wv) in acc.iter_mut().zip(&wv) {
                    // u·q, pairs added: exact in 16 bits (see the module's comment).
                    let pairs = _mm256_maddubs_epi16(x, wv);
                    *acc = _mm256_add_epi32(*acc, _mm256_madd_epi16(pairs, ones));
                }
            }
        }
        let n = w.outputs;
        for j in 0..W {
            let col = t.first_column + 8 * j;
            if col >= n {
                break;
            }
            if n - col >= 8 {
                let scale = _mm256_loadu_ps(w.scale.as_ptr().add(col));
                let bias = _mm256_loadu_ps(bias.as_ptr().add(col));
                let offset = _mm256_loadu_si256(w.offset.as_ptr().add(col).cast());
                for (r, acc) in acc.iter().enumerate().take(t.rows) {
                    let y = _mm256_fmadd_ps(
                        _mm256_cvtepi32_ps(_mm256_sub_epi32(acc[j], offset)),
                        _mm256_mul_ps(scale, _mm256_set1_ps(t.scales[r])),
                        bias,
                    );
                    _mm256_storeu_ps(out.as_mut_ptr().add(r * n + col), y);
                }
            } else {
                // The layer's last, partial vector of outputs: no masked stores in AVX2, so one at a time.
                for (r, acc) in acc.iter().enumerate().take(t.rows) {
                    let mut sums = [0i32; 8];
                    _mm256_storeu_si256(sums.as_mut_ptr().cast(), acc[j]);
                    for (c, &sum) in sums.iter().enumerate().take(n - col) {
                        let sum = sum - w.offset[col + c];
                        out[r * n + col + c] = (sum as f32).mul_add(w.scale[col + c] * t.scales[r], bias[col + c]);
                    }
                }
            }
        }
    }
}
