//! Linear layers in 8-bit integers, on CPUs with AVX-512 VNNI ([`avx512`]) or AVX2 and FMA ([`avx2`]).
//!
//! Weights are quantised once at load, symmetrically per output (`w ≈ scale[o]·q`, `q` in −127..=127, or
//! −63..=63 for AVX2, see [`avx2`]), and packed for the kernel the CPU runs. Activations are quantised per row as
//! each product runs (`x ≈ s·(u − 128)`, `u` in 1..=255), since both kernels' byte products want one side
//! unsigned: the zero point 128 is taken out again with each output's weight sum, so
//! `Σ x·w ≈ s·scale[o]·(Σ u·q − 128·Σ q)`. Sums stay exact in i32 (at most 255·127·k, far below 2³¹ for BERT's
//! widths): only the two roundings lose accuracy. This is the dynamic quantisation ONNX Runtime and PyTorch apply
//! to BERT linear layers; attention's own products stay in f32.
//!
//! - AVX-512 VNNI: `vpdpbusd` multiplies 64 byte pairs and adds them into 16 32-bit sums in one instruction, four
//!   times the multiply-adds of an f32 FMA of the same width.
//! - AVX2: `vpmaddubsw` then `vpmaddwd` and an add make 32 multiply-adds in three instructions, against an f32
//!   FMA's 8 in one.

use rayon::prelude::*;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;

/// Rows one task handles: its quantised rows stay in L2 while every column block passes over them.
const ROWS_PER_TASK: usize = 64;

/// The product kernels, each with its own weight layout and activation encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kernel {
    Avx512Vnni,
    Avx2,
}

impl Kernel {
    /// The fastest kernel this CPU runs, if any.
    pub(crate) fn detect() -> Option<Self> {
        [Self::Avx512Vnni, Self::Avx2].into_iter().find(|k| k.runs_here())
    }

    /// Whether this CPU has the instructions the kernel uses.
    pub(crate) fn runs_here(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            match self {
                Self::Avx512Vnni => {
                    std::is_x86_feature_detected!("avx512f")
                        && std::is_x86_feature_detected!("avx512bw")
                        && std::is_x86_feature_detected!("avx512vnni")
                }
                Self::Avx2 => std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// Rows and output columns of one register tile.
    fn block(self) -> (usize, usize) {
        match self {
            Self::Avx512Vnni => (avx512::MR, avx512::NR),
            Self::Avx2 => (avx2::MR, avx2::NR),
        }
    }

    /// The largest quantised weight magnitude.
    pub(crate) fn weight_max(self) -> f32 {
        match self {
            Self::Avx512Vnni => avx512::WEIGHT_MAX,
            Self::Avx2 => avx2::WEIGHT_MAX,
        }
    }
}

/// Whether this CPU runs an int8 kernel (AVX-512 VNNI, or AVX2 with FMA).
pub fn supported() -> bool {
    Kernel::detect().is_some()
}

/// A linear layer's weight in int8, packed for its kernel: block `b` holds, for every group of four inputs `g`,
/// NR outputs × 4 bytes (output `b·NR + j`, inputs `4g..4g+4`), so each step reads NR·4 contiguous bytes.
pub struct QuantizedWeight {
    kernel: Kernel,
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
    /// Quantises a weight stored as PyTorch does (`outputs` rows of `inputs`) for the fastest kernel this CPU
    /// runs (packed for AVX2 where there is none; [`QuantizedWeight::linear`] then refuses to run).
    pub fn new(weight: &[f32], inputs: usize, outputs: usize) -> Self {
        Self::for_kernel(weight, inputs, outputs, Kernel::detect().unwrap_or(Kernel::Avx2))
    }

    /// Quantises for a given kernel, so that tests can run each one the CPU has.
    pub(crate) fn for_kernel(weight: &[f32], inputs: usize, outputs: usize, kernel: Kernel) -> Self {
        assert_eq!(weight.len(), inputs * outputs, "weight shape");
        let (_, nr) = kernel.block();
        let groups = inputs.div_ceil(4);
        let blocks = outputs.div_ceil(nr);
        let mut packed = vec![0i8; blocks * groups * nr * 4];
        let mut scale = vec![1f32; outputs];
        let mut offset = vec![0i32; outputs];
        let limit = kernel.weight_max();
        for (o, row) in weight.chunks_exact(inputs).enumerate() {
            let max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
            let s = if max > 0.0 { max / limit } else { 1.0 };
            scale[o] = s;
            let (block, j) = (o / nr, o % nr);
            let mut sum = 0i32;
            for (k, v) in row.iter().enumerate() {
                let q = (v / s).round().clamp(-limit, limit) as i8;
                sum += i32::from(q);
                packed[((block * groups + k / 4) * nr + j) * 4 + k % 4] = q;
            }
            offset[o] = 128 * sum;
        }
        Self { kernel, packed, scale, offset, inputs, outputs, groups }
    }

    /// `out = x·wᵀ + bias` over `rows` rows of `inputs` values, on every core. Panics unless the CPU runs the
    /// kernel the weight was packed for (always so when [`supported`]).
    pub fn linear(&self, x: &[f32], bias: &[f32], out: &mut [f32], rows: usize) {
        assert!(self.kernel.runs_here(), "this CPU lacks the instructions of the int8 kernel {:?}", self.kernel);
        assert!(x.len() >= rows * self.inputs && out.len() >= rows * self.outputs && bias.len() == self.outputs);
        let (k, n) = (self.inputs, self.outputs);
        let (mr, nr) = self.kernel.block();
        let stride = self.groups * 4;
        out[..rows * n].par_chunks_mut(ROWS_PER_TASK * n).enumerate().for_each(|(task, out)| {
            let first = task * ROWS_PER_TASK;
            let count = out.len() / n;
            // Rows padded to whole blocks with the zero point, which adds nothing once the offset is taken out.
            let padded = count.div_ceil(mr) * mr;
            let mut quantized = vec![128u8; padded * stride];
            let mut scales = vec![0f32; padded];
            for r in 0..count {
                let row = &x[(first + r) * k..(first + r + 1) * k];
                let dst = &mut quantized[r * stride..r * stride + k];
                // SAFETY: `runs_here()` was asserted above, and the kernels write only within `dst`.
                scales[r] = unsafe {
                    match self.kernel {
                        Kernel::Avx512Vnni => avx512::quantize(row, dst),
                        Kernel::Avx2 => avx2::quantize(row, dst),
                    }
                };
            }
            let block_len = self.groups * nr * 4;
            for block in 0..n.div_ceil(nr) {
                let weights = &self.packed[block * block_len..(block + 1) * block_len];
                for r in (0..count).step_by(mr) {
                    let tile = Tile {
                        a: &quantized[r * stride..(r + mr) * stride],
                        stride,
                        scales: &scales[r..r + mr],
                        rows: mr.min(count - r),
                        first_column: block * nr,
                    };
                    // SAFETY: as above; the kernel reads `groups` groups from each of MR rows of `a` (padded to
                    // MR rows of `stride` bytes) and one block of `weights`, and writes only columns below `n`
                    // of the first `rows` rows of `out`, which this task owns.
                    unsafe {
                        match self.kernel {
                            Kernel::Avx512Vnni => avx512::tile(&tile, weights, self, bias, &mut out[r * n..]),
                            Kernel::Avx2 => avx2::tile(&tile, weights, self, bias, &mut out[r * n..]),
                        }
                    }
                }
            }
        });
    }
}

/// MR quantised rows and where their results go.
struct Tile<'a> {
    /// One byte per input, zero point 128.
    a: &'a [u8],
    stride: usize,
    scales: &'a [f32],
    /// Rows of the tile that are real (the rest is padding).
    rows: usize,
    first_column: usize,
}

/// Never called off x86-64: no kernel runs there, and `linear` asserts that one does first.
#[cfg(not(target_arch = "x86_64"))]
macro_rules! unsupported_kernel {
    ($name:ident) => {
        mod $name {
            use super::{QuantizedWeight, Tile};

            pub const MR: usize = 1;
            pub const NR: usize = 1;
            pub const WEIGHT_MAX: f32 = 127.0;

            pub unsafe fn quantize(_: &[f32], _: &mut [u8]) -> f32 {
                unreachable!("int8 kernel off x86-64")
            }

            pub unsafe fn tile(_: &Tile, _: &[i8], _: &QuantizedWeight, _: &[f32], _: &mut [f32]) {
                unreachable!("int8 kernel off x86-64")
            }
        }
    };
}
#[cfg(not(target_arch = "x86_64"))]
unsupported_kernel!(avx512);
#[cfg(not(target_arch = "x86_64"))]
unsupported_kernel!(avx2);
