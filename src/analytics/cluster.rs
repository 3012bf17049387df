//! Grouping questions by meaning. Each question is a unit vector (its embedding, or its words hashed when there is
//! no embedding model); a question joins the group whose centre is nearest if that is at least `threshold` similar,
//! else starts a group. A second pass puts every question in the group whose final centre is nearest, so the result
//! hardly depends on the order the questions came in. Linear in questions × groups, no pairwise matrix.

/// Indices of `vectors` per group, largest group first; each group's first index is its most central member.
pub fn group(vectors: &[Vec<f32>], threshold: f32) -> Vec<Vec<usize>> {
    let mut sums: Vec<Vec<f32>> = Vec::new();
    for v in vectors {
        match nearest(&sums, v) {
            Some((best, sim)) if sim >= threshold => add(&mut sums[best], v),
            _ => sums.push(v.clone()),
        }
    }
    // Reassign against the settled centres; a question farther than `threshold` from all of them stands alone.
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); sums.len()];
    let mut alone = Vec::new();
    for (i, v) in vectors.iter().enumerate() {
        match nearest(&sums, v) {
            Some((best, sim)) if sim >= threshold => members[best].push(i),
            _ => alone.push(vec![i]),
        }
    }
    let mut groups: Vec<Vec<usize>> = members
        .into_iter()
        .zip(&sums)
        .filter(|(m, _)| !m.is_empty())
        .map(|(mut m, sum)| {
            let centre = unit(sum);
            m.sort_by(|a, b| dot(&vectors[*b], &centre).total_cmp(&dot(&vectors[*a], &centre)).then(a.cmp(b)));
            m
        })
        .chain(alone)
        .collect();
    groups.sort_by(|a, b| b.len().cmp(&a.len()).then(a[0].cmp(&b[0])));
    groups
}

fn nearest(sums: &[Vec<f32>], v: &[f32]) -> Option<(usize, f32)> {
    sums.iter()
        .enumerate()
        .map(|(i, sum)| (i, dot(sum, v) / norm(sum).max(f32::EPSILON)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

fn add(sum: &mut [f32], v: &[f32]) {
    for (s, x) in sum.iter_mut().zip(v) {
        *s += x;
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(v: &[f32]) -> f32 {
    dot(v, v).sqrt()
}

fn unit(v: &[f32]) -> Vec<f32> {
    let n = norm(v).max(f32::EPSILON);
    v.iter().map(|x| x / n).collect()
}

/// Words that say nothing about what a question is about.
const STOP: &[&str] = &[
    "a", "about", "an", "and", "any", "are", "be", "can", "could", "did", "do", "does", "explain", "for", "from",
    "give", "how", "i", "in", "is", "it", "me", "mean", "means", "of", "on", "or", "please", "tell", "that", "the",
    "this", "to", "was", "what", "whats", "when", "where", "which", "who", "why", "with", "you",
];

/// A question's words as a unit vector (hashed into `dims` slots), for grouping without an embedding model.
pub fn lexical(text: &str, dims: usize) -> Vec<f32> {
    let mut v = vec![0.0f32; dims.max(1)];
    for word in text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        let word = word.to_lowercase();
        if STOP.contains(&word.as_str()) {
            continue;
        }
        let stem = singular(&word);
        let slot = stem.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        v[usize::try_from(slot % dims.max(1) as u64).unwrap_or(0)] += 1.0;
    }
    unit(&v)
}

/// A crude English plural fold, so "cells" meets "cell", "volcanoes" "volcano" and "bodies" "body".
fn singular(word: &str) -> String {
    if word.len() <= 3 || word.ends_with("ss") {
        return word.to_owned();
    }
    if let Some(stem) = word.strip_suffix("ies") {
        return format!("{stem}y");
    }
    if let Some(stem) = word.strip_suffix("es")
        && (stem.ends_with(['o', 's', 'x', 'z']) || stem.ends_with("ch") || stem.ends_with("sh"))
    {
        return stem.to_owned();
    }
    word.strip_suffix('s').unwrap_or(word).to_owned()
}

/// An embedding stored as little-endian f32 bytes, and back.
pub fn to_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn from_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_vectors_share_a_group_and_far_ones_do_not() {
        let v = |x: f32, y: f32| unit(&[x, y]);
        let vectors = vec![v(1.0, 0.05), v(0.0, 1.0), v(1.0, 0.0), v(1.0, -0.05), v(0.05, 1.0), v(-1.0, 0.0)];
        let groups = group(&vectors, 0.9);
        assert_eq!(groups.len(), 3);
        assert_eq!(groups[0].len(), 3);
        let mut first = groups[0].clone();
        first.sort_unstable();
        assert_eq!(first, vec![0, 2, 3]);
        assert_eq!(groups[0][0], 2, "the most central member leads its group");
        assert_eq!(groups[2], vec![5]);
    }

    #[test]
    fn lexical_vectors_meet_on_shared_content_words() {
        let a = lexical("What is the function of mitochondria in cells?", 512);
        let b = lexical("mitochondria function in a cell", 512);
        let c = lexical("When did the French revolution start?", 512);
        assert!(dot(&a, &b) > 0.6, "{}", dot(&a, &b));
        assert!(dot(&a, &c) < 0.2, "{}", dot(&a, &c));
    }

    #[test]
    fn plurals_fold_to_their_singular() {
        for (plural, single) in [
            ("volcanoes", "volcano"),
            ("cells", "cell"),
            ("bodies", "body"),
            ("boxes", "box"),
            ("class", "class"),
            ("gas", "gas"),
        ] {
            assert_eq!(singular(plural), single);
        }
    }

    #[test]
    fn embeddings_survive_the_round_trip() {
        let v = vec![0.25f32, -1.5, 3.0];
        assert_eq!(from_bytes(&to_bytes(&v)), v);
    }
}
