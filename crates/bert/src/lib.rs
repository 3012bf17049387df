//! The BERT encoder of sentence-transformers' MiniLM models (all-MiniLM-L6-v2) as plain loops over `f32`
//! buffers, with `gemm` for the products.
//!
//! Why not candle's `BertModel`: on 2 cores its matrix products were only ~30% of a pass (`perf`); the rest was
//! exact GELU through libm's `erff`, softmax `expf`, broadcast binary ops and a fresh tensor (page faults and
//! `memset`) for every step, all on one thread. Here the inputs of a batch are packed row after row with no
//! padding (attention runs per input, so no mask is needed), the element-wise steps are fused and spread over
//! rayon's threads, and `exp`/`erf` are vectorisable polynomials accurate to ~1e-7. The result matches
//! sentence-transformers on torch to float rounding (the server's `local_tests.rs` compare them).
//!
//! On CPUs with AVX-512 VNNI, [`Bert::quantize`] moves the linear layers to int8 ([`int8`]): 3.0x the passages
//! a second of f32 on this 2-core machine (48.3 against 16.3 passages of 226 tokens, `embed_throughput`), with
//! passage vectors at cosine ≥ 0.997 of f32's. On CPUs with only AVX2 and FMA an int8 kernel with 7-bit
//! weights gives 1.5x f32's passages a second and 1.9x its short sentences (2-core AMD EPYC without AVX-512:
//! 29.2 against 19.6 passages, 527 against 271 sentences, `embed_throughput`), passage vectors at cosine ≥ 0.996
//! of f32's.
//!
//! A crate of its own so that its loops are optimised in debug builds too (`[profile.dev.package.bwenge-bert]`):
//! at opt-level 0 they would be many times slower than the model they replace, and every test that embeds pays.

use std::path::Path;

use gemm::Parallelism;
use rayon::prelude::*;
use safetensors::{Dtype, SafeTensors};

pub use kernels::{exp, gelu};

pub mod int8;
mod kernels;
#[cfg(test)]
mod tests;

/// Why the model could not be loaded or run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

fn error(message: impl Into<String>) -> Error {
    Error(message.into())
}

/// A linear layer, `y = x·wᵀ + b`, its weight as PyTorch stores it (`outputs` rows of `inputs`). Read as the
/// transposed right-hand side in place (row stride 1, column stride `inputs`), which is how gemm's packing reads it
/// fastest: measured 2.5x faster than a row-major copy of the transpose.
struct Dense {
    weight: Vec<f32>,
    bias: Vec<f32>,
    inputs: usize,
    outputs: usize,
    /// Set by [`Bert::quantize`]: the product then runs in int8.
    quantized: Option<int8::QuantizedWeight>,
}

struct Norm {
    weight: Vec<f32>,
    bias: Vec<f32>,
}

struct Layer {
    /// Query, key and value in one product: columns `0..H` are the query, `H..2H` the key, `2H..3H` the value.
    qkv: Dense,
    attention_out: Dense,
    attention_norm: Norm,
    up: Dense,
    down: Dense,
    output_norm: Norm,
}

/// The encoder's weights, read out of the safetensors file once (~90 MB).
pub struct Bert {
    word: Vec<f32>,
    position: Vec<f32>,
    /// Every input is a single segment, so only the first token-type row is ever added.
    token_type: Vec<f32>,
    embedding_norm: Norm,
    layers: Vec<Layer>,
    hidden: usize,
    heads: usize,
    eps: f32,
    vocab: usize,
    max_positions: usize,
}

/// The subset of BERT's `config.json` the encoder needs (deserialise it from the file).
#[derive(serde::Deserialize)]
pub struct Config {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
}

fn default_type_vocab() -> usize {
    2
}

fn default_eps() -> f64 {
    1e-12
}

fn default_act() -> String {
    "gelu".into()
}

/// The tensors of one safetensors file, by name, with the architecture prefix some exports add removed.
struct Weights<'a> {
    file: SafeTensors<'a>,
    prefix: &'static str,
}

impl Weights<'_> {
    /// The tensor `name` as floats, checked to have `shape`.
    fn get(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, Error> {
        let full = format!("{}{name}", self.prefix);
        let tensor = self.file.tensor(&full).map_err(|e| error(format!("{full}: {e}")))?;
        if tensor.dtype() != Dtype::F32 || tensor.shape() != shape {
            return Err(error(format!("{full} is {:?} {:?}, expected F32 {shape:?}", tensor.dtype(), tensor.shape())));
        }
        Ok(tensor.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
    }

    /// A linear layer, its weight as PyTorch stores it: `outputs` rows of `inputs`.
    fn dense(&self, name: &str, inputs: usize, outputs: usize) -> Result<Dense, Error> {
        let weight = self.get(&format!("{name}.weight"), &[outputs, inputs])?;
        Ok(Dense { weight, bias: self.get(&format!("{name}.bias"), &[outputs])?, inputs, outputs, quantized: None })
    }

    fn norm(&self, name: &str, size: usize) -> Result<Norm, Error> {
        Ok(Norm {
            weight: self.get(&format!("{name}.weight"), &[size])?,
            bias: self.get(&format!("{name}.bias"), &[size])?,
        })
    }
}

impl Bert {
    /// Loads the weights from a safetensors file.
    pub fn load(weights: &Path, config: &Config) -> Result<Self, Error> {
        if config.hidden_act != "gelu" {
            return Err(error(format!("hidden_act {:?} is not supported (gelu only)", config.hidden_act)));
        }
        if config.type_vocab_size == 0 {
            return Err(error("type_vocab_size is 0"));
        }
        if config.num_attention_heads == 0 || !config.hidden_size.is_multiple_of(config.num_attention_heads) {
            return Err(error("hidden_size is not a multiple of num_attention_heads"));
        }
        let bytes = std::fs::read(weights).map_err(|e| error(format!("{}: {e}", weights.display())))?;
        let file = SafeTensors::deserialize(&bytes).map_err(|e| error(format!("{}: {e}", weights.display())))?;
        let prefix = if file.names().contains(&"embeddings.word_embeddings.weight") { "" } else { "bert." };
        let w = Weights { file, prefix };
        let (h, i) = (config.hidden_size, config.intermediate_size);
        let layers = (0..config.num_hidden_layers)
            .map(|n| {
                let l = format!("encoder.layer.{n}");
                let (q, k, v) = (
                    w.dense(&format!("{l}.attention.self.query"), h, h)?,
                    w.dense(&format!("{l}.attention.self.key"), h, h)?,
                    w.dense(&format!("{l}.attention.self.value"), h, h)?,
                );
                Ok(Layer {
                    qkv: concat_columns(&[q, k, v]),
                    attention_out: w.dense(&format!("{l}.attention.output.dense"), h, h)?,
                    attention_norm: w.norm(&format!("{l}.attention.output.LayerNorm"), h)?,
                    up: w.dense(&format!("{l}.intermediate.dense"), h, i)?,
                    down: w.dense(&format!("{l}.output.dense"), i, h)?,
                    output_norm: w.norm(&format!("{l}.output.LayerNorm"), h)?,
                })
            })
            .collect::<Result<_, Error>>()?;
        let token_type = w.get("embeddings.token_type_embeddings.weight", &[config.type_vocab_size, h])?;
        Ok(Self {
            word: w.get("embeddings.word_embeddings.weight", &[config.vocab_size, h])?,
            position: w.get("embeddings.position_embeddings.weight", &[config.max_position_embeddings, h])?,
            token_type: token_type[..h].to_vec(),
            embedding_norm: w.norm("embeddings.LayerNorm", h)?,
            layers,
            hidden: h,
            heads: config.num_attention_heads,
            eps: config.layer_norm_eps as f32,
            vocab: config.vocab_size,
            max_positions: config.max_position_embeddings,
        })
    }

    /// Runs the linear layers in int8 from now on (see [`int8`]): with AVX-512 VNNI about three times the passages
    /// a second, passage vectors within cosine 0.997 of f32's; with AVX2 and FMA about 1.5 times, cosine 0.996.
    /// Returns false, changing nothing, on a CPU with neither (or AVX2 without FMA).
    pub fn quantize(&mut self) -> bool {
        if !int8::supported() {
            return false;
        }
        for layer in &mut self.layers {
            for dense in [&mut layer.qkv, &mut layer.attention_out, &mut layer.up, &mut layer.down] {
                dense.quantized = Some(int8::QuantizedWeight::new(&dense.weight, dense.inputs, dense.outputs));
                // The f32 copy is no longer read: give its memory back.
                dense.weight = Vec::new();
            }
        }
        true
    }

    /// The width of every token vector.
    pub fn hidden_size(&self) -> usize {
        self.hidden
    }

    /// The last hidden state of each input: `ids[i].len()` rows of `hidden` floats, row after row. Inputs longer
    /// than the position table or holding ids outside the vocabulary are refused.
    pub fn forward(&self, inputs: &[&[u32]]) -> Result<Vec<Vec<f32>>, Error> {
        let h = self.hidden;
        let mut starts = Vec::with_capacity(inputs.len() + 1);
        starts.push(0usize);
        for ids in inputs {
            if ids.len() > self.max_positions {
                return Err(error(format!("{} tokens exceed {}", ids.len(), self.max_positions)));
            }
            if let Some(bad) = ids.iter().find(|&&id| id as usize >= self.vocab) {
                return Err(error(format!("token id {bad} outside the vocabulary")));
            }
            starts.push(starts[starts.len() - 1] + ids.len());
        }
        let rows = starts[inputs.len()];
        if rows == 0 {
            return Ok(inputs.iter().map(|_| Vec::new()).collect());
        }

        let mut x = vec![0f32; rows * h];
        let positions = inputs.iter().flat_map(|ids| ids.iter().enumerate());
        for (row, (pos, &id)) in x.chunks_exact_mut(h).zip(positions) {
            let word = &self.word[id as usize * h..(id as usize + 1) * h];
            let position = &self.position[pos * h..(pos + 1) * h];
            for (((o, w), p), t) in row.iter_mut().zip(word).zip(position).zip(&self.token_type) {
                *o = w + p + t;
            }
        }
        let norm = &self.embedding_norm;
        x.par_chunks_exact_mut(h).for_each(|row| kernels::layer_norm(row, &norm.weight, &norm.bias, self.eps));

        let intermediate = self.layers.first().map_or(0, |l| l.up.outputs);
        let mut qkv = vec![0f32; rows * 3 * h];
        let mut context = vec![0f32; rows * h];
        let mut projected = vec![0f32; rows * h];
        let mut up = vec![0f32; rows * intermediate];
        for layer in &self.layers {
            linear(&layer.qkv, &x, &mut qkv, rows);
            self.attention(&qkv, &mut context, &starts);
            linear(&layer.attention_out, &context, &mut projected, rows);
            add_and_norm(&mut x, &projected, &layer.attention_norm, h, self.eps);
            linear(&layer.up, &x, &mut up, rows);
            up.par_chunks_mut(4096).for_each(kernels::gelu_all);
            linear(&layer.down, &up, &mut projected, rows);
            add_and_norm(&mut x, &projected, &layer.output_norm, h, self.eps);
        }
        Ok(starts.windows(2).map(|w| x[w[0] * h..w[1] * h].to_vec()).collect())
    }

    /// Scaled dot-product attention of every input and head, each on one thread: softmax(q·kᵀ/√d)·v into
    /// `context`, heads side by side as BERT concatenates them.
    fn attention(&self, qkv: &[f32], context: &mut [f32], starts: &[usize]) {
        let h = self.hidden;
        let d = h / self.heads;
        let scale = 1.0 / (d as f32).sqrt();
        let tasks: Vec<(usize, usize)> =
            (0..starts.len() - 1).flat_map(|s| (0..self.heads).map(move |head| (s, head))).collect();
        let outputs: Vec<Vec<f32>> = tasks
            .par_iter()
            .map(|&(s, head)| {
                let (start, len) = (starts[s], starts[s + 1] - starts[s]);
                let q = View { data: qkv, offset: start * 3 * h + head * d, rows: len, cols: d, rs: 3 * h, cs: 1 };
                // kᵀ: row i of the transposed view is feature i of every key.
                let kt = View { data: qkv, offset: start * 3 * h + h + head * d, rows: d, cols: len, rs: 1, cs: 3 * h };
                let v =
                    View { data: qkv, offset: start * 3 * h + 2 * h + head * d, rows: len, cols: d, rs: 3 * h, cs: 1 };
                let mut scores = vec![0f32; len * len];
                matmul(&mut scores, len, &q, &kt, scale, false, Parallelism::None);
                kernels::softmax(&mut scores, len);
                let p = View { data: &scores, offset: 0, rows: len, cols: len, rs: len, cs: 1 };
                let mut out = vec![0f32; len * d];
                matmul(&mut out, d, &p, &v, 1.0, false, Parallelism::None);
                out
            })
            .collect();
        for (&(s, head), out) in tasks.iter().zip(outputs) {
            for (r, part) in out.chunks_exact(d).enumerate() {
                let at = (starts[s] + r) * h + head * d;
                context[at..at + d].copy_from_slice(part);
            }
        }
    }
}

/// Joins layers with the same inputs into one whose outputs sit side by side: their weight rows one after another.
fn concat_columns(parts: &[Dense]) -> Dense {
    Dense {
        weight: parts.iter().flat_map(|p| p.weight.iter().copied()).collect(),
        bias: parts.iter().flat_map(|p| p.bias.iter().copied()).collect(),
        inputs: parts[0].inputs,
        outputs: parts.iter().map(|p| p.outputs).sum(),
        quantized: None,
    }
}

/// A strided matrix inside a slice: element (r, c) is `data[offset + r·rs + c·cs]`.
struct View<'a> {
    data: &'a [f32],
    offset: usize,
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl View<'_> {
    fn assert_in_bounds(&self) {
        let last = self.offset + (self.rows.max(1) - 1) * self.rs + (self.cols.max(1) - 1) * self.cs;
        assert!(self.rows == 0 || self.cols == 0 || last < self.data.len(), "matrix view out of bounds");
    }
}

/// `dst = scale·(lhs·rhs)`, or `dst += ...` with `accumulate`; `dst` is row-major with `dst_cols` columns.
fn matmul(dst: &mut [f32], dst_cols: usize, lhs: &View, rhs: &View, scale: f32, accumulate: bool, par: Parallelism) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert!(rhs.rows == k && dst_cols == n && dst.len() >= m * n, "matrix shapes do not match");
    lhs.assert_in_bounds();
    rhs.assert_in_bounds();
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: the asserts above keep every element gemm reads (`offset + r·rs + c·cs` for r < rows, c < cols)
    // inside `lhs.data` and `rhs.data`, and every element it writes (`r·n + c` for r < m, c < n) inside `dst`;
    // `dst` is a unique borrow, so it aliases neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.data.as_ptr().add(lhs.offset),
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.data.as_ptr().add(rhs.offset),
            rhs.cs as isize,
            rhs.rs as isize,
            1.0,
            scale,
            false,
            false,
            false,
            par,
        );
    }
}

/// `out = x·w + b` over `rows` rows, on every core.
fn linear(layer: &Dense, x: &[f32], out: &mut [f32], rows: usize) {
    if let Some(q) = &layer.quantized {
        return q.linear(x, &layer.bias, out, rows);
    }
    let n = layer.outputs;
    // The bias goes in first and the product is accumulated onto it: one pass over `out` instead of two.
    out[..rows * n].par_chunks_exact_mut(n).for_each(|row| row.copy_from_slice(&layer.bias));
    let lhs = View { data: x, offset: 0, rows, cols: layer.inputs, rs: layer.inputs, cs: 1 };
    let rhs = View { data: &layer.weight, offset: 0, rows: layer.inputs, cols: n, rs: 1, cs: layer.inputs };
    let threads = rayon::current_num_threads();
    let par = if threads > 1 { Parallelism::Rayon(threads) } else { Parallelism::None };
    matmul(&mut out[..rows * n], n, &lhs, &rhs, 1.0, true, par);
}

/// `x = LayerNorm(x + y)`, row by row.
fn add_and_norm(x: &mut [f32], y: &[f32], norm: &Norm, h: usize, eps: f32) {
    x.par_chunks_exact_mut(h).zip(y.par_chunks_exact(h)).for_each(|(row, add)| {
        row.iter_mut().zip(add).for_each(|(a, b)| *a += b);
        kernels::layer_norm(row, &norm.weight, &norm.bias, eps);
    });
}
