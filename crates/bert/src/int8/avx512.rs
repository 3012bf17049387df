//! The AVX-512 VNNI kernel: `vpdpbusd` multiplies 64 byte pairs (unsigned activations with zero point 128 by
//! signed weights) and adds them into 16 32-bit sums in one instruction.

use std::arch::x86_64::*;

use super::{QuantizedWeight, Tile};

/// Output columns per block: two vectors of 16 sums.
pub const NR: usize = 32;
/// Rows per block: 16 accumulators plus the two weight vectors and a broadcast fit in 32 registers.
pub const MR: usize = 8;
/// The largest weight magnitude: the full signed byte (sums stay exact in i32, see the parent module).
pub const WEIGHT_MAX: f32 = 127.0;

/// Quantises `row` into `out` (`u = round(x/s) + 128`) and returns `s`.
#[target_feature(enable = "avx512f,avx512bw")]
pub unsafe fn quantize(row: &[f32], out: &mut [u8]) -> f32 {
    // SAFETY: the caller checked the CPU features; every pointer read or written is in bounds (see `linear`).
    unsafe {
        let mut max = _mm512_setzero_ps();
        let chunks = row.chunks_exact(16);
        let mut tail_max = 0f32;
        for v in chunks.remainder() {
            tail_max = tail_max.max(v.abs());
        }
        for c in chunks {
            max = _mm512_max_ps(max, _mm512_abs_ps(_mm512_loadu_ps(c.as_ptr())));
        }
        let max = _mm512_reduce_max_ps(max).max(tail_max);
        let s = if max > 0.0 { max / 127.0 } else { 1.0 };
        let inv = _mm512_set1_ps(1.0 / s);
        let zero = _mm512_set1_epi32(128);
        let whole = row.len() / 16 * 16;
        for i in (0..whole).step_by(16) {
            // Rounds to nearest (MXCSR's default), then saturates into 0..=255.
            let q =
                _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(row.as_ptr().add(i)), inv)), zero);
            _mm_storeu_si128(
                out.as_mut_ptr().add(i).cast(),
                _mm512_cvtusepi32_epi8(_mm512_max_epi32(q, _mm512_setzero_si512())),
            );
        }
        for i in whole..row.len() {
            out[i] = ((row[i] / s).round().clamp(-127.0, 127.0) as i32 + 128) as u8;
        }
        s
    }
}

/// One MR × NR block of outputs: sums over every group of four inputs, then scale, zero point and bias.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub unsafe fn tile(t: &Tile, weights: &[i8], w: &QuantizedWeight, bias: &[f32], out: &mut [f32]) {
    // SAFETY: the caller checked the CPU features; every pointer read or written is in bounds (see `linear`).
    unsafe {
        let mut acc = [[_mm512_setzero_si512(); 2]; MR];
        let a = t.a.as_ptr();
        let b = weights.as_ptr();
        for g in 0..w.groups {
            let b0 = _mm512_loadu_si512(b.add(g * NR * 4).cast());
            let b1 = _mm512_loadu_si512(b.add(g * NR * 4 + 64).cast());
            for (r, acc) in acc.iter_mut().enumerate() {
                let x = _mm512_set1_epi32(a.add(r * t.stride + g * 4).cast::<i32>().read_unaligned());
                acc[0] = _mm512_dpbusd_epi32(acc[0], x, b0);
                acc[1] = _mm512_dpbusd_epi32(acc[1], x, b1);
            }
        }
        let n = w.outputs;
        for half in 0..2 {
            let col = t.first_column + half * 16;
            if col >= n {
                break;
            }
            let valid = (n - col).min(16);
            let mask: __mmask16 = if valid == 16 { 0xffff } else { (1u16 << valid) - 1 };
            let scale = _mm512_maskz_loadu_ps(mask, w.scale.as_ptr().add(col));
            let offset = _mm512_maskz_loadu_epi32(mask, w.offset.as_ptr().add(col));
            let bias = _mm512_maskz_loadu_ps(mask, bias.as_ptr().add(col));
            for (r, acc) in acc.iter().enumerate().take(t.rows) {
                let sums = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[half], offset));
                let y = _mm512_fmadd_ps(sums, _mm512_mul_ps(scale, _mm512_set1_ps(t.scales[r])), bias);
                _mm512_mask_storeu_ps(out.as_mut_ptr().add(r * n + col), mask, y);
            }
        }
    }
}
