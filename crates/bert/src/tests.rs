//! The encoder against plain f64 transcriptions of BERT and of libm.

use super::{exp, gelu};
#[test]
fn exp_and_gelu_match_libm() {
    for i in -2000..=2000 {
        let x = i as f32 / 100.0; // -20 .. 20
        let want = f64::from(x).exp();
        let got = f64::from(exp(x));
        assert!(((got - want) / want).abs() < 2e-7, "exp({x}) = {got}, expected {want}");
        let erf = libm_erf(f64::from(x) / std::f64::consts::SQRT_2);
        let want = 0.5 * f64::from(x) * (1.0 + erf);
        let got = f64::from(gelu(x));
        assert!((got - want).abs() < 1e-6 * (1.0 + f64::from(x).abs()), "gelu({x}) = {got}, expected {want}");
    }
    assert_eq!(exp(-200.0), exp(-87.0), "clamped, never a subnormal or NaN");
    assert!(exp(200.0).is_finite());
}

/// erf by its Taylor series (x small) or continued fraction (x large), in f64: the reference for the f32 one.
fn libm_erf(x: f64) -> f64 {
    let a = x.abs();
    let value = if a < 3.0 {
        let (mut term, mut sum, mut n) = (a, a, 0.0);
        while term.abs() > 1e-17 {
            n += 1.0;
            term *= -a * a / n;
            sum += term / (2.0 * n + 1.0);
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    } else {
        let mut f = 0.0;
        for k in (1..60).rev() {
            f = (k as f64 / 2.0) / (a + f);
        }
        1.0 - (-a * a).exp() / (std::f64::consts::PI.sqrt() * (a + f))
    };
    value.copysign(x)
}

/// A small random model written as a safetensors file, run by `Bert` on a packed batch and by a plain f64
/// transcription of BERT on each input alone: the strides, packing and fused steps must not change a thing.
#[test]
fn forward_matches_a_plain_reference() {
    let config = super::Config {
        vocab_size: 30,
        hidden_size: 8,
        num_hidden_layers: 2,
        num_attention_heads: 2,
        intermediate_size: 16,
        max_position_embeddings: 12,
        layer_norm_eps: 1e-12,
        hidden_act: "gelu".into(),
        type_vocab_size: 2,
    };
    let model = Model::random(&config);
    let path = std::env::temp_dir().join(format!("bwenge-bert-test-{}.safetensors", std::process::id()));
    model.write(&path);
    let bert = super::Bert::load(&path, &config);
    let _ = std::fs::remove_file(&path);
    let Ok(bert) = bert else { panic!("the model loads: {:?}", bert.err()) };
    let inputs: Vec<Vec<u32>> = vec![vec![1, 2], vec![3, 7, 9, 11, 29, 0, 4], vec![5], vec![8; 12]];
    let refs: Vec<&[u32]> = inputs.iter().map(Vec::as_slice).collect();
    let Ok(got) = bert.forward(&refs) else { panic!("forward runs") };
    for (ids, got) in inputs.iter().zip(&got) {
        let want = model.reference(&config, ids);
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert!((f64::from(*g) - w).abs() < 1e-4, "{ids:?}: {g} against {w}");
        }
    }
    assert!(bert.forward(&[&[1, 30]]).is_err(), "an id outside the vocabulary is refused");
    assert!(bert.forward(&[&[1; 13]]).is_err(), "more tokens than positions are refused");
    assert_eq!(bert.forward(&[]).map(|v| v.len()), Ok(0));
}

/// Weights by name, PyTorch layout, as f64 for the reference.
struct Model(Vec<(String, Vec<usize>, Vec<f64>)>);

impl Model {
    fn random(c: &super::Config) -> Self {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut tensor = |name: String, shape: Vec<usize>, around: f64| {
            let n = shape.iter().product();
            let values = (0..n)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    around + ((seed % 2001) as f64 / 1000.0 - 1.0) * 0.5
                })
                .collect();
            (name, shape, values)
        };
        let (h, i) = (c.hidden_size, c.intermediate_size);
        let mut t = vec![
            tensor("embeddings.word_embeddings.weight".into(), vec![c.vocab_size, h], 0.0),
            tensor("embeddings.position_embeddings.weight".into(), vec![c.max_position_embeddings, h], 0.0),
            tensor("embeddings.token_type_embeddings.weight".into(), vec![2, h], 0.0),
            tensor("embeddings.LayerNorm.weight".into(), vec![h], 1.0),
            tensor("embeddings.LayerNorm.bias".into(), vec![h], 0.0),
        ];
        for l in 0..c.num_hidden_layers {
            let p = format!("encoder.layer.{l}");
            for (name, out, inp) in [
                ("attention.self.query", h, h),
                ("attention.self.key", h, h),
                ("attention.self.value", h, h),
                ("attention.output.dense", h, h),
                ("intermediate.dense", i, h),
                ("output.dense", h, i),
            ] {
                t.push(tensor(format!("{p}.{name}.weight"), vec![out, inp], 0.0));
                t.push(tensor(format!("{p}.{name}.bias"), vec![out], 0.0));
            }
            for name in ["attention.output.LayerNorm", "output.LayerNorm"] {
                t.push(tensor(format!("{p}.{name}.weight"), vec![h], 1.0));
                t.push(tensor(format!("{p}.{name}.bias"), vec![h], 0.0));
            }
        }
        Self(t)
    }

    fn write(&self, path: &std::path::Path) {
        let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = self
            .0
            .iter()
            .map(|(n, s, v)| (n.clone(), s.clone(), v.iter().flat_map(|x| (*x as f32).to_le_bytes()).collect()))
            .collect();
        let views = bytes.iter().map(|(n, s, b)| {
            let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b);
            let Ok(view) = view else { panic!("a valid tensor") };
            (n.clone(), view)
        });
        let Ok(file) = safetensors::serialize(views, None) else { panic!("serialised") };
        let Ok(()) = std::fs::write(path, file) else { panic!("written") };
    }

    /// The tensor rounded through f32, as the encoder stores it.
    fn get(&self, name: &str) -> Vec<f64> {
        let Some((_, _, v)) = self.0.iter().find(|(n, ..)| n == name) else { panic!("{name}") };
        v.iter().map(|x| f64::from(*x as f32)).collect()
    }

    fn linear(&self, name: &str, x: &[Vec<f64>], outputs: usize) -> Vec<Vec<f64>> {
        let (w, b) = (self.get(&format!("{name}.weight")), self.get(&format!("{name}.bias")));
        x.iter()
            .map(|row| {
                (0..outputs)
                    .map(|o| b[o] + row.iter().enumerate().map(|(i, v)| v * w[o * row.len() + i]).sum::<f64>())
                    .collect()
            })
            .collect()
    }

    fn norm(&self, name: &str, x: &mut [Vec<f64>]) {
        let (w, b) = (self.get(&format!("{name}.weight")), self.get(&format!("{name}.bias")));
        for row in x {
            let n = row.len() as f64;
            let mean = row.iter().sum::<f64>() / n;
            let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
            for (j, v) in row.iter_mut().enumerate() {
                *v = (*v - mean) / (var + 1e-12).sqrt() * w[j] + b[j];
            }
        }
    }

    fn reference(&self, c: &super::Config, ids: &[u32]) -> Vec<f64> {
        let (h, heads) = (c.hidden_size, c.num_attention_heads);
        let d = h / heads;
        let (word, pos, typ) = (
            self.get("embeddings.word_embeddings.weight"),
            self.get("embeddings.position_embeddings.weight"),
            self.get("embeddings.token_type_embeddings.weight"),
        );
        let mut x: Vec<Vec<f64>> = ids
            .iter()
            .enumerate()
            .map(|(p, &id)| (0..h).map(|j| word[id as usize * h + j] + pos[p * h + j] + typ[j]).collect())
            .collect();
        self.norm("embeddings.LayerNorm", &mut x);
        for l in 0..c.num_hidden_layers {
            let p = format!("encoder.layer.{l}");
            let q = self.linear(&format!("{p}.attention.self.query"), &x, h);
            let k = self.linear(&format!("{p}.attention.self.key"), &x, h);
            let v = self.linear(&format!("{p}.attention.self.value"), &x, h);
            let mut context = vec![vec![0.0; h]; ids.len()];
            for head in 0..heads {
                let cols = head * d..(head + 1) * d;
                for (r, out) in context.iter_mut().enumerate() {
                    let scores: Vec<f64> = k
                        .iter()
                        .map(|kr| cols.clone().map(|j| q[r][j] * kr[j]).sum::<f64>() / (d as f64).sqrt())
                        .collect();
                    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let e: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                    let sum: f64 = e.iter().sum();
                    for j in cols.clone() {
                        out[j] = e.iter().zip(&v).map(|(p, vr)| p / sum * vr[j]).sum();
                    }
                }
            }
            let attended = self.linear(&format!("{p}.attention.output.dense"), &context, h);
            x.iter_mut().zip(&attended).for_each(|(a, b)| a.iter_mut().zip(b).for_each(|(a, b)| *a += b));
            self.norm(&format!("{p}.attention.output.LayerNorm"), &mut x);
            let mut up = self.linear(&format!("{p}.intermediate.dense"), &x, c.intermediate_size);
            for v in up.iter_mut().flatten() {
                *v = 0.5 * *v * (1.0 + libm_erf(*v / std::f64::consts::SQRT_2));
            }
            let down = self.linear(&format!("{p}.output.dense"), &up, h);
            x.iter_mut().zip(&down).for_each(|(a, b)| a.iter_mut().zip(b).for_each(|(a, b)| *a += b));
            self.norm(&format!("{p}.output.LayerNorm"), &mut x);
        }
        x.concat()
    }
}

/// The int8 kernels this CPU runs: the tests below run each of them.
fn int8_kernels() -> Vec<super::int8::Kernel> {
    use super::int8::Kernel;
    let kernels: Vec<Kernel> = [Kernel::Avx512Vnni, Kernel::Avx2].into_iter().filter(|k| k.runs_here()).collect();
    if kernels.is_empty() {
        eprintln!("skipped: this CPU runs no int8 kernel (AVX-512 VNNI or AVX2 with FMA)");
    }
    kernels
}

/// A pseudo-random number generator in −1..1, the same sequence for every run.
fn uniform(mut seed: u64) -> impl FnMut() -> f32 {
    move || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

/// The int8 product against the exact one on shapes that are not multiples of the kernels' blocks (rows not a
/// multiple of MR nor of a task's rows, inputs not a multiple of four or eight, outputs not a multiple of NR or
/// eight, one output all zeros): every output within the quantisation's error bound.
#[test]
fn int8_linear_matches_f32_within_quantisation_error() {
    for kernel in int8_kernels() {
        for (rows, inputs, outputs) in [(13, 37, 45), (1, 5, 3), (70, 389, 50), (130, 64, 33)] {
            let mut next = uniform(7 + rows as u64);
            let mut weight: Vec<f32> = (0..inputs * outputs).map(|_| next()).collect();
            weight[..inputs].iter_mut().for_each(|w| *w = 0.0);
            let x: Vec<f32> = (0..rows * inputs).map(|_| next() * 3.0).collect();
            let bias: Vec<f32> = (0..outputs).map(|_| next()).collect();
            let q = super::int8::QuantizedWeight::for_kernel(&weight, inputs, outputs, kernel);
            let mut got = vec![f32::NAN; rows * outputs];
            q.linear(&x, &bias, &mut got, rows);
            for r in 0..rows {
                let xs = &x[r * inputs..(r + 1) * inputs];
                let x_max = xs.iter().fold(0f32, |m, v| m.max(v.abs()));
                for o in 0..outputs {
                    let ws = &weight[o * inputs..(o + 1) * inputs];
                    let w_max = ws.iter().fold(0f32, |m, v| m.max(v.abs()));
                    let want: f32 = bias[o] + xs.iter().zip(ws).map(|(a, b)| a * b).sum::<f32>();
                    // Each factor is off by at most half a step: |Δ(x·w)| ≤ (|x|·Δw + |w|·Δx + Δx·Δw) per term.
                    let (dx, dw) = (x_max / 254.0, w_max / (2.0 * kernel.weight_max()));
                    let bound: f32 =
                        xs.iter().zip(ws).map(|(a, b)| a.abs() * dw + b.abs() * dx + dx * dw).sum::<f32>() + 1e-4;
                    let g = got[r * outputs + o];
                    assert!(
                        (g - want).abs() <= bound,
                        "{kernel:?} {rows}x{inputs}x{outputs}, row {r} output {o}: {g} against {want} (bound {bound})"
                    );
                }
                let g = got[r * outputs];
                assert!((g - bias[0]).abs() < 1e-6, "{kernel:?}: an all-zero weight row leaves the bias: {g}");
            }
            assert!(got.iter().all(|v| v.is_finite()), "{kernel:?}: every output written");
        }
    }
}

/// Values that quantise exactly (whole numbers, each row's largest ±127 and each output's largest ± the kernel's
/// weight limit) at the extremes where a 16-bit pair sum would saturate if the limits were wrong (the largest
/// activations with the largest weights, every sign): the product must be exact.
#[test]
fn int8_linear_is_exact_where_quantisation_is() {
    for kernel in int8_kernels() {
        let (rows, inputs, outputs) = (11, 1030, 19);
        let mut next = uniform(11);
        let mut whole = |extreme: f32| if next() < 0.6 { extreme.copysign(next()) } else { (next() * extreme).round() };
        let limit = kernel.weight_max();
        let mut weight: Vec<f32> = (0..inputs * outputs).map(|_| whole(limit)).collect();
        let mut x: Vec<f32> = (0..rows * inputs).map(|_| whole(127.0)).collect();
        // Every sign pairing at full scale, and the largest ±127 present in each row and output.
        for (i, v) in x.iter_mut().enumerate().take(inputs) {
            *v = if i % 2 == 0 { 127.0 } else { -127.0 };
        }
        weight.chunks_exact_mut(inputs).for_each(|row| row[0] = limit);
        x.chunks_exact_mut(inputs).for_each(|row| row[1] = -127.0);
        let bias = vec![0.5f32; outputs];
        let q = super::int8::QuantizedWeight::for_kernel(&weight, inputs, outputs, kernel);
        let mut got = vec![f32::NAN; rows * outputs];
        q.linear(&x, &bias, &mut got, rows);
        for r in 0..rows {
            for o in 0..outputs {
                let xs = &x[r * inputs..(r + 1) * inputs];
                let ws = &weight[o * inputs..(o + 1) * inputs];
                let want = 0.5 + xs.iter().zip(ws).map(|(a, b)| f64::from(a * b)).sum::<f64>();
                let g = f64::from(got[r * outputs + o]);
                // The sum is exact in i32; only its conversion to f32 rounds (sums up to ~1.7e7 < 2²⁴ are exact).
                assert!(
                    (g - want).abs() <= want.abs() * 1e-7 + 1e-6,
                    "{kernel:?} row {r} output {o}: {g} against {want}"
                );
            }
        }
    }
}

/// A whole pass in int8 against f32 on the random model: the token vectors point the same way.
#[test]
fn int8_forward_stays_close_to_f32() {
    if !super::int8::supported() {
        eprintln!("skipped: this CPU runs no int8 kernel");
        return;
    }
    let config = super::Config {
        vocab_size: 30,
        hidden_size: 64,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        intermediate_size: 128,
        max_position_embeddings: 40,
        layer_norm_eps: 1e-12,
        hidden_act: "gelu".into(),
        type_vocab_size: 2,
    };
    let model = Model::random(&config);
    let path = std::env::temp_dir().join(format!("bwenge-bert-int8-{}.safetensors", std::process::id()));
    model.write(&path);
    let (exact, quantized) = (super::Bert::load(&path, &config), super::Bert::load(&path, &config));
    let _ = std::fs::remove_file(&path);
    let (Ok(exact), Ok(mut quantized)) = (exact, quantized) else { panic!("the model loads") };
    assert!(quantized.quantize());
    let inputs: Vec<Vec<u32>> = vec![(0..40).map(|i| i % 30).collect(), vec![3, 7, 9], vec![5]];
    let refs: Vec<&[u32]> = inputs.iter().map(Vec::as_slice).collect();
    let (Ok(want), Ok(got)) = (exact.forward(&refs), quantized.forward(&refs)) else { panic!("forward runs") };
    for (w, g) in want.iter().zip(&got) {
        for (w, g) in w.chunks_exact(64).zip(g.chunks_exact(64)) {
            let dot: f32 = w.iter().zip(g).map(|(a, b)| a * b).sum();
            let cos = dot / (w.iter().map(|a| a * a).sum::<f32>().sqrt() * g.iter().map(|a| a * a).sum::<f32>().sqrt());
            assert!(cos > 0.99, "token vector cosine {cos}");
        }
    }
}
