//! The element-wise steps of a pass (GELU, softmax, layer norm) as loops the compiler vectorises.
//!
//! Each is written once, `#[inline(always)]`, and compiled twice: as is (SSE2, the x86-64 baseline) and inside a
//! function with AVX2 and FMA enabled, picked at run time when the CPU has them (as gemm picks its kernels), so
//! one binary runs everywhere and uses 8-wide vectors where it can. `exp` avoids every call and float-to-int
//! cast (both stop vectorisation) and sums run over eight lanes, since a single running f32 sum cannot be
//! reordered into vectors.

const LANES: usize = 8;

/// `e^x` to ~1 ulp over the range that matters (Cephes' `expf`): `2^n · p(r)` with `r = x − n·ln 2`.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5·2²³: adding and subtracting it rounds to the nearest integer without `round` (a libm call on x86-64).
    const ROUND: f32 = 12_582_912.0;
    // 2²³ + 127: adding it to an integer n in [-126, 127] leaves n + 127 in the low mantissa bits, which a shift
    // moves into the exponent field: 2^n with no float-to-int conversion.
    const BIAS: f32 = 8_388_608.0 + 127.0;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2_E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4;
    p = p * r + 1.398_2e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 0.166_666_65;
    p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    e * f32::from_bits((n + BIAS).to_bits() << 23)
}

/// BERT's exact GELU, `x·Φ(x)`, with erf from Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7).
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    let z = x * std::f32::consts::FRAC_1_SQRT_2;
    let a = z.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t * (0.254_829_6 + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152 + t * 1.061_405_4))));
    let erf = (1.0 - poly * exp(-a * a)).copysign(z);
    0.5 * x * (1.0 + erf)
}

#[inline(always)]
fn lanes_sum(values: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = values.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        acc.iter_mut().zip(chunk).for_each(|(a, v)| *a += v);
    }
    acc.iter().sum::<f32>() + tail
}

#[inline(always)]
fn lanes_max(values: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = values.chunks_exact(LANES);
    let tail = chunks.remainder().iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for chunk in chunks {
        acc.iter_mut().zip(chunk).for_each(|(a, v)| *a = if *v > *a { *v } else { *a });
    }
    acc.iter().copied().fold(tail, f32::max)
}

#[inline(always)]
fn gelu_in_place(xs: &mut [f32]) {
    xs.iter_mut().for_each(|v| *v = gelu(*v));
}

#[inline(always)]
fn softmax_rows(scores: &mut [f32], len: usize) {
    for row in scores.chunks_exact_mut(len) {
        let max = lanes_max(row);
        row.iter_mut().for_each(|v| *v = exp(*v - max));
        let inv = 1.0 / lanes_sum(row);
        row.iter_mut().for_each(|v| *v *= inv);
    }
}

#[inline(always)]
fn layer_norm_row(row: &mut [f32], weight: &[f32], bias: &[f32], eps: f32) {
    let n = row.len() as f32;
    let mean = lanes_sum(row) / n;
    let mut acc = [0f32; LANES];
    let chunks = row.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().map(|v| (v - mean) * (v - mean)).sum();
    for chunk in chunks {
        acc.iter_mut().zip(chunk).for_each(|(a, v)| *a += (v - mean) * (v - mean));
    }
    let var = (acc.iter().sum::<f32>() + tail) / n;
    let inv = 1.0 / (var + eps).sqrt();
    for ((v, w), b) in row.iter_mut().zip(weight).zip(bias) {
        *v = (*v - mean) * inv * w + b;
    }
}

/// Defines `$name`, which runs `$body` (an `#[inline(always)]` function) compiled with AVX2 and FMA when the CPU
/// has them, and as is otherwise.
macro_rules! dispatch {
    ($(#[$doc:meta])* $name:ident => $body:ident ($($arg:ident: $ty:ty),*)) => {
        $(#[$doc])*
        pub fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                fn wide($($arg: $ty),*) {
                    $body($($arg),*)
                }
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU was just checked to have the features `wide` is compiled for.
                    return unsafe { wide($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}

dispatch!(
    /// GELU of every value, in place.
    gelu_all => gelu_in_place(xs: &mut [f32])
);
dispatch!(
    /// Softmax of each row of `len` values, in place.
    softmax => softmax_rows(scores: &mut [f32], len: usize)
);
dispatch!(
    /// `row = (row − mean) / √(var + eps) · weight + bias`.
    layer_norm => layer_norm_row(row: &mut [f32], weight: &[f32], bias: &[f32], eps: f32)
);
