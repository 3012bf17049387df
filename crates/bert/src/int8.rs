//! Linear layers in 8-bit integers on CPUs with AVX-512 VNNI: `vpdpbusd` multiplies 64 byte pairs and adds them
//! into 16 32-bit sums in one instruction, four times the multiply-adds of an f32 FMA of the same width.
//!
//! Weights are quantised once at load, symmetrically per output (`w ≈ scale[o]·q`, `q` in −127..=127).
//! Activations are quantised per row as each product runs (`x ≈ s·(u − 128)`, `u` in 1..=255), since
//! `vpdpbusd` wants one side unsigned: the zero point 128 is taken out again with each output's weight sum, so
//! `Σ x·w ≈ s·scale[o]·(Σ u·q − 128·Σ q)`. Sums stay exact in i32 (at most 255·127·k, far below 2³¹ for BERT's
//! widths). This is the dynamic quantisation ONNX Runtime and PyTorch apply to BERT linear layers; attention's
//! own products stay in f32.

use rayon::prelude::*;

/// Output columns per block: two vectors of 16 sums.
const NR: usize = 32;
/// Rows per block: 16 accumulators plus the two weight vectors and a broadcast fit in 32 registers.
const MR: usize = 8;
/// Rows one task handles: its quantised rows stay in L2 while every column block passes over them.
const ROWS_PER_TASK: usize = 64;

/// Whether this CPU runs the int8 kernel.
pub fn supported() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// A linear layer's weight in int8, packed for the kernel: block `b` holds, for every group of four inputs `g`,
/// 32 outputs × 4 bytes (output `b·32 + j`, inputs `4g..4g+4`), so each step reads 128 contiguous bytes.
pub struct QuantizedWeight {
    packed: Vec<i8>,
    scale: Vec<f32>,
    /// `128 · Σ_k q[o][k]`, subtracted from each sum to remove the activations' zero point.
    offset: Vec<i32>,
    inputs: usize,
    outputs: usize,
    /// Groups of four inputs, the input count rounded up.
    groups: usize,
}

impl QuantizedWeight {
    /// Quantises a weight stored as PyTorch does (`outputs` rows of `inputs`).
    pub fn new(weight: &[f32], inputs: usize, outputs: usize) -> Self {
        assert_eq!(weight.len(), inputs * outputs, "weight shape");
        let groups = inputs.div_ceil(4);
        let blocks = outputs.div_ceil(NR);
        let mut packed = vec![0i8; blocks * groups * NR * 4];
        let mut scale = vec![1f32; outputs];
        let mut offset = vec![0i32; outputs];
        for (o, row) in weight.chunks_exact(inputs).enumerate() {
            let max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
            let s = if max > 0.0 { max / 127.0 } else { 1.0 };
            scale[o] = s;
            let (block, j) = (o / NR, o % NR);
            let mut sum = 0i32;
            for (k, v) in row.iter().enumerate() {
                let q = (v / s).round().clamp(-127.0, 127.0) as i8;
                sum += i32::from(q);
                packed[((block * groups + k / 4) * NR + j) * 4 + k % 4] = q;
            }
            offset[o] = 128 * sum;
        }
        Self { packed, scale, offset, inputs, outputs, groups }
    }

    /// `out = x·wᵀ + bias` over `rows` rows of `inputs` values, on every core. Panics unless [`supported`].
    pub fn linear(&self, x: &[f32], bias: &[f32], out: &mut [f32], rows: usize) {
        assert!(supported(), "the int8 kernel needs AVX-512 VNNI");
        assert!(x.len() >= rows * self.inputs && out.len() >= rows * self.outputs && bias.len() == self.outputs);
        let (k, n) = (self.inputs, self.outputs);
        let stride = self.groups * 4;
        out[..rows * n].par_chunks_mut(ROWS_PER_TASK * n).enumerate().for_each(|(task, out)| {
            let first = task * ROWS_PER_TASK;
            let count = out.len() / n;
            // Rows padded to whole blocks with the zero point, whose products the offset cancels.
            let padded = count.div_ceil(MR) * MR;
            let mut quantized = vec![128u8; padded * stride];
            let mut scales = vec![0f32; padded];
            for r in 0..count {
                let row = &x[(first + r) * k..(first + r + 1) * k];
                // SAFETY: `supported()` was asserted above.
                scales[r] = unsafe { avx512::quantize(row, &mut quantized[r * stride..r * stride + k]) };
            }
            for block in 0..n.div_ceil(NR) {
                let weights = &self.packed[block * self.groups * NR * 4..(block + 1) * self.groups * NR * 4];
                for r in (0..count).step_by(MR) {
                    let tile = Tile {
                        a: &quantized[r * stride..(r + MR) * stride],
                        stride,
                        scales: &scales[r..r + MR],
                        rows: MR.min(count - r),
                        first_column: block * NR,
                    };
                    // SAFETY: as above; the kernel reads `groups` groups from each of MR rows of `a` (padded to
                    // MR rows of `stride` bytes) and one block of `weights`, and writes only columns below `n`
                    // of the first `rows` rows of `out`, which this task owns.
                    unsafe { avx512::tile(&tile, weights, self, bias, &mut out[r * n..]) };
                }
            }
        });
    }
}

/// MR quantised rows and where their results go.
struct Tile<'a> {
    a: &'a [u8],
    stride: usize,
    scales: &'a [f32],
    /// Rows of the tile that are real (the rest is padding).
    rows: usize,
    first_column: usize,
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{MR, NR, QuantizedWeight, Tile};

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
                let q = _mm512_add_epi32(
                    _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(row.as_ptr().add(i)), inv)),
                    zero,
                );
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
}

/// Never called: [`supported`] is false off x86-64, and `linear` asserts it first.
#[cfg(not(target_arch = "x86_64"))]
mod avx512 {
    use super::{QuantizedWeight, Tile};

    pub unsafe fn quantize(_: &[f32], _: &mut [u8]) -> f32 {
        unreachable!("int8 kernel off x86-64")
    }

    pub unsafe fn tile(_: &Tile, _: &[i8], _: &QuantizedWeight, _: &[f32], _: &mut [f32]) {
        unreachable!("int8 kernel off x86-64")
    }
}
