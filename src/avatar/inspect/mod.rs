//! What an uploaded model is, checked before anything is stored: a glTF 2.0 document (binary `.glb`, or `.gltf`
//! JSON with its data in `data:` URIs) that the `gltf` crate parses and validates, whose every buffer, view and
//! accessor stays inside the bytes actually sent, that points at nothing outside itself, and that a browser can
//! draw (within the configured limits). Nothing is decoded beyond headers: images are sized from their headers,
//! never rendered.

#[cfg(test)]
mod fuzz;
mod images;

use std::borrow::Cow;

use base64::Engine;
use gltf::accessor::Accessor;
use gltf::animation::{Interpolation, Property};

use super::views::{Clip, ModelFormat, ModelStats};

/// The extensions the web app's loader draws without extra decoders; a model that requires another is refused.
const SUPPORTED_EXTENSIONS: &[&str] = &[
    "KHR_materials_emissive_strength",
    "KHR_materials_unlit",
    "KHR_materials_ior",
    "KHR_materials_specular",
    "KHR_materials_transmission",
    "KHR_materials_clearcoat",
    "KHR_materials_sheen",
    "KHR_materials_volume",
    "KHR_mesh_quantization",
    "KHR_texture_transform",
];

/// The limits of a model the server accepts (`[avatars]` in the config).
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_vertices: u64,
    pub max_textures: u64,
    pub max_texture_px: u32,
    pub max_animations: u64,
    pub max_nodes: u64,
}

impl Limits {
    pub fn none() -> Self {
        Self {
            max_vertices: u64::MAX,
            max_textures: u64::MAX,
            max_texture_px: u32::MAX,
            max_animations: u64::MAX,
            max_nodes: u64::MAX,
        }
    }
}

/// Why a model was refused; each becomes its own error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Not a well-formed glTF 2.0 model, or one whose data does not hold together.
    Invalid(String),
    /// A URI that leaves the file (`file:`, `http:`, a relative path).
    ExternalUri(String),
    /// Over a configured limit.
    TooLarge(String),
}

/// What the server learned of a valid model.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspection {
    pub format: ModelFormat,
    pub animations: Vec<Clip>,
    pub morph_targets: Vec<String>,
    pub stats: ModelStats,
}

fn invalid(message: impl Into<String>) -> Rejection {
    Rejection::Invalid(message.into())
}

pub fn inspect(bytes: &[u8], limits: &Limits) -> Result<Inspection, Rejection> {
    // The gltf crate validates a model, yet some fields its validation does not cover still panic when read
    // ("attempted to unwrap an invalid item", found by fuzzing): such a model is refused like any invalid one.
    std::panic::catch_unwind(|| inspect_unguarded(bytes, limits))
        .unwrap_or_else(|_| Err(invalid("the model's data does not hold together (the glTF reader could not read it)")))
}

fn inspect_unguarded(bytes: &[u8], limits: &Limits) -> Result<Inspection, Rejection> {
    let format = if bytes.starts_with(b"glTF") { ModelFormat::Glb } else { ModelFormat::Gltf };
    let gltf = gltf::Gltf::from_slice(bytes).map_err(|e| invalid(format!("not a valid glTF 2.0 model: {e}")))?;
    for extension in gltf.extensions_required() {
        if !SUPPORTED_EXTENSIONS.contains(&extension) {
            return Err(invalid(format!(
                "the model requires the extension {extension}, which the web app cannot draw"
            )));
        }
    }
    let buffers = load_buffers(&gltf)?;
    check_views(&gltf)?;
    for accessor in gltf.accessors() {
        check_accessor(&accessor)?;
    }
    let stats = measure(&gltf, limits)?;
    images::check(&gltf, &buffers, limits)?;
    check_skins(&gltf)?;
    let animations = clips(&gltf, &buffers)?;
    Ok(Inspection { format, animations, morph_targets: morph_target_names(&gltf), stats })
}

/// Each buffer's bytes: the GLB's binary chunk, or a decoded `data:` URI. Anything else points outside the file.
fn load_buffers<'a>(gltf: &'a gltf::Gltf) -> Result<Vec<Cow<'a, [u8]>>, Rejection> {
    gltf.buffers()
        .map(|buffer| {
            let data: Cow<[u8]> = match buffer.source() {
                gltf::buffer::Source::Bin => {
                    Cow::Borrowed(gltf.blob.as_deref().ok_or_else(|| invalid("the model has no binary chunk"))?)
                }
                gltf::buffer::Source::Uri(uri) => Cow::Owned(data_uri(uri, &format!("buffer {}", buffer.index()))?),
            };
            // A declared length past the bytes sent (a GLB claiming a 4 GB buffer) must never be trusted.
            if data.len() < buffer.length() {
                return Err(invalid(format!(
                    "buffer {} declares {} bytes but holds {}",
                    buffer.index(),
                    buffer.length(),
                    data.len()
                )));
            }
            Ok(data)
        })
        .collect()
}

/// The bytes of a `data:` URI (base64, as glTF writes them); any other URI leaves the file and is refused.
pub(super) fn data_uri(uri: &str, what: &str) -> Result<Vec<u8>, Rejection> {
    let Some(rest) = uri.strip_prefix("data:") else {
        let shown: String = uri.chars().take(120).collect();
        return Err(Rejection::ExternalUri(format!(
            "{what} points at {shown:?}: a model must carry its data inside it (a .glb, or a .gltf with data: URIs)"
        )));
    };
    let (header, payload) = rest.split_once(',').ok_or_else(|| invalid(format!("{what} has a malformed data: URI")))?;
    if !header.ends_with(";base64") {
        return Err(invalid(format!("{what} has a data: URI that is not base64")));
    }
    base64::engine::general_purpose::STANDARD
        .decode(payload.trim())
        .map_err(|e| invalid(format!("{what} has a data: URI that is not valid base64: {e}")))
}

fn check_views(gltf: &gltf::Gltf) -> Result<(), Rejection> {
    for view in gltf.views() {
        let end = view.offset().checked_add(view.length());
        if end.is_none_or(|end| end > view.buffer().length()) {
            return Err(invalid(format!("buffer view {} runs past the end of its buffer", view.index())));
        }
        if view.stride().is_some_and(|stride| !(4..=252).contains(&stride)) {
            return Err(invalid(format!("buffer view {} has a byte stride outside 4..=252", view.index())));
        }
    }
    Ok(())
}

/// Bytes one element of `accessor` takes.
fn element_size(accessor: &Accessor) -> usize {
    accessor.data_type().size() * accessor.dimensions().multiplicity()
}

/// Every element an accessor (and its sparse part) reads lies inside its buffer view.
fn check_accessor(accessor: &Accessor) -> Result<(), Rejection> {
    let out_of_range = || invalid(format!("accessor {} reads past the end of its buffer view", accessor.index()));
    let size = element_size(accessor);
    if let Some(view) = accessor.view() {
        let stride = view.stride().unwrap_or(size);
        if accessor.count() > 0 {
            let last = (accessor.count() - 1).checked_mul(stride).and_then(|n| n.checked_add(accessor.offset()));
            let end = last.and_then(|n| n.checked_add(size)).ok_or_else(out_of_range)?;
            if end > view.length() {
                return Err(out_of_range());
            }
        }
    }
    if let Some(sparse) = accessor.sparse() {
        let indices = sparse.indices();
        let index_end = sparse.count().checked_mul(indices.index_type().size()).map(|n| n + indices.offset());
        let values = sparse.values();
        let value_end = sparse.count().checked_mul(size).map(|n| n + values.offset());
        if index_end.is_none_or(|end| end > indices.view().length())
            || value_end.is_none_or(|end| end > values.view().length())
            || sparse.count() > accessor.count()
        {
            return Err(out_of_range());
        }
    }
    Ok(())
}

/// Counts, checked against the limits, and the bounds of the default scene in its bind pose.
fn measure(gltf: &gltf::Gltf, limits: &Limits) -> Result<ModelStats, Rejection> {
    let too_many = |what: &str, n: u64, max: u64| {
        Rejection::TooLarge(format!("the model has {n} {what}; at most {max} are accepted"))
    };
    let nodes = gltf.nodes().count() as u64;
    if nodes > limits.max_nodes {
        return Err(too_many("nodes", nodes, limits.max_nodes));
    }
    let textures = gltf.textures().count() as u64;
    if textures > limits.max_textures {
        return Err(too_many("textures", textures, limits.max_textures));
    }
    let animations = gltf.animations().count() as u64;
    if animations > limits.max_animations {
        return Err(too_many("animations", animations, limits.max_animations));
    }
    let (mut vertices, mut triangles) = (0u64, 0u64);
    for mesh in gltf.meshes() {
        for primitive in mesh.primitives() {
            let positions = primitive.get(&gltf::Semantic::Positions).map_or(0, |a| a.count() as u64);
            vertices += positions;
            let drawn = primitive.indices().map_or(positions, |a| a.count() as u64);
            triangles += match primitive.mode() {
                gltf::mesh::Mode::Triangles => drawn / 3,
                gltf::mesh::Mode::TriangleStrip | gltf::mesh::Mode::TriangleFan => drawn.saturating_sub(2),
                _ => 0,
            };
        }
    }
    if vertices > limits.max_vertices {
        return Err(too_many("vertices", vertices, limits.max_vertices));
    }
    Ok(ModelStats {
        nodes,
        meshes: gltf.meshes().count() as u64,
        vertices,
        triangles,
        textures,
        skins: gltf.skins().count() as u64,
        bounds: bounds::of_scene(gltf),
    })
}

fn check_skins(gltf: &gltf::Gltf) -> Result<(), Rejection> {
    for skin in gltf.skins() {
        if let Some(matrices) = skin.inverse_bind_matrices() {
            let is_mat4 = matches!(matrices.dimensions(), gltf::accessor::Dimensions::Mat4)
                && matches!(matrices.data_type(), gltf::accessor::DataType::F32);
            if !is_mat4 || matrices.count() < skin.joints().count() {
                return Err(invalid(format!(
                    "skin {} has fewer float 4x4 inverse bind matrices than joints",
                    skin.index()
                )));
            }
        }
    }
    Ok(())
}

/// The named clips with their durations; every channel's keyframes must match its sampler's outputs.
fn clips(gltf: &gltf::Gltf, buffers: &[Cow<[u8]>]) -> Result<Vec<Clip>, Rejection> {
    let mut clips = Vec::new();
    for animation in gltf.animations() {
        let mut duration = 0f32;
        for channel in animation.channels() {
            let sampler = channel.sampler();
            let (input, output) = (sampler.input(), sampler.output());
            if !matches!(input.data_type(), gltf::accessor::DataType::F32) {
                return Err(invalid(format!("animation {} has keyframe times that are not floats", animation.index())));
            }
            let per_key = match channel.target().property() {
                Property::MorphTargetWeights => channel
                    .target()
                    .node()
                    .mesh()
                    .and_then(|mesh| mesh.primitives().next())
                    .map_or(0, |primitive| primitive.morph_targets().count()),
                _ => 1,
            };
            let per_key = per_key * if sampler.interpolation() == Interpolation::CubicSpline { 3 } else { 1 };
            if output.count() != input.count() * per_key {
                return Err(invalid(format!(
                    "animation {} has a channel whose keyframes ({}) do not match its values ({})",
                    animation.index(),
                    input.count(),
                    output.count()
                )));
            }
            duration = duration.max(last_time(&input, buffers));
        }
        let name = animation.name().map_or_else(|| format!("animation {}", animation.index()), str::to_owned);
        clips.push(Clip { name, duration_secs: f64::from(duration) });
    }
    Ok(clips)
}

/// The largest keyframe time of an animation input (scalar floats; their bounds were checked by `check_accessor`).
fn last_time(input: &Accessor, buffers: &[Cow<[u8]>]) -> f32 {
    let Some(view) = input.view() else { return 0.0 };
    let Some(data) = buffers.get(view.buffer().index()) else { return 0.0 };
    let stride = view.stride().unwrap_or(4);
    let start = view.offset() + input.offset();
    (0..input.count())
        .filter_map(|i| data.get(start + i * stride..start + i * stride + 4))
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .filter(|t| t.is_finite())
        .fold(0.0, f32::max)
}

/// Morph target names, as exporters write them (`mesh.extras.targetNames`), each once, in first-seen order.
fn morph_target_names(gltf: &gltf::Gltf) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for mesh in gltf.meshes() {
        let listed = mesh
            .extras()
            .as_ref()
            .and_then(|raw| serde_json::from_str::<serde_json::Value>(raw.get()).ok())
            .and_then(|extras| extras.get("targetNames").cloned())
            .and_then(|v| serde_json::from_value::<Vec<String>>(v).ok())
            .unwrap_or_default();
        for name in listed {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

mod bounds {
    use crate::avatar::views::Bounds;

    type Mat = [[f32; 4]; 4];

    fn mul(a: &Mat, b: &Mat) -> Mat {
        let mut out = [[0.0; 4]; 4];
        for (c, column) in out.iter_mut().enumerate() {
            for (r, cell) in column.iter_mut().enumerate() {
                *cell = (0..4).map(|k| a[k][r] * b[c][k]).sum();
            }
        }
        out
    }

    fn apply(m: &Mat, p: [f32; 3]) -> [f32; 3] {
        let mut out = [0.0; 3];
        for (r, value) in out.iter_mut().enumerate() {
            *value = m[0][r] * p[0] + m[1][r] * p[1] + m[2][r] * p[2] + m[3][r];
        }
        out
    }

    fn vec3(value: Option<gltf::json::Value>) -> Option<[f32; 3]> {
        let v: Vec<f32> = serde_json::from_value(value?).ok()?;
        (v.len() == 3 && v.iter().all(|x| x.is_finite())).then(|| [v[0], v[1], v[2]])
    }

    /// The box around every mesh of the default scene (positions' declared min/max, through the node transforms).
    pub fn of_scene(gltf: &gltf::Gltf) -> Option<Bounds> {
        let scene = gltf.default_scene().or_else(|| gltf.scenes().next())?;
        let mut bounds: Option<Bounds> = None;
        let identity = [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]];
        // Depth-first with a stack of (node, parent transform); a node count limit already applies.
        let mut stack: Vec<(gltf::Node, Mat)> = scene.nodes().map(|n| (n, identity)).collect();
        let mut visited = 0usize;
        while let Some((node, parent)) = stack.pop() {
            visited += 1;
            if visited > gltf.nodes().count() {
                break; // a malformed hierarchy with a cycle
            }
            let world = mul(&parent, &node.transform().matrix());
            for primitive in node.mesh().iter().flat_map(|m| m.primitives()) {
                let Some(positions) = primitive.get(&gltf::Semantic::Positions) else { continue };
                let (Some(min), Some(max)) = (vec3(positions.min()), vec3(positions.max())) else { continue };
                for corner in 0..8 {
                    let p = [
                        if corner & 1 == 0 { min[0] } else { max[0] },
                        if corner & 2 == 0 { min[1] } else { max[1] },
                        if corner & 4 == 0 { min[2] } else { max[2] },
                    ];
                    let p = apply(&world, p);
                    let b = bounds.get_or_insert(Bounds { min: p, max: p });
                    for (i, value) in p.into_iter().enumerate() {
                        b.min[i] = b.min[i].min(value);
                        b.max[i] = b.max[i].max(value);
                    }
                }
            }
            stack.extend(node.children().map(|child| (child, world)));
        }
        bounds
    }
}
