//! A small mutation fuzzer for the parsers' property tests: from seed inputs, deterministic streams of damaged
//! variants (bit flips, interesting bytes, truncations, duplicated and spliced ranges, inserted noise, and now and
//! then pure noise). Not coverage-guided: `cargo fuzz` needs a nightly compiler and `cargo afl` a second,
//! instrumented build of every dependency (longer than the whole CI budget here), so the suite runs a bounded
//! number of cases per target (`BWENGE_FUZZ_ITERATIONS`, default 200) from a fixed seed, and a longer run is the
//! same tests with a bigger number (`BWENGE_FUZZ_SEED` picks another stream).

/// How many mutated cases each target runs.
pub fn iterations() -> usize {
    std::env::var("BWENGE_FUZZ_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(200)
}

/// xorshift64*: deterministic, good enough to pick mutations.
pub struct Rng(u64);

impl Rng {
    pub fn new(salt: u64) -> Self {
        let seed = std::env::var("BWENGE_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x9E37_79B9_7F4A_7C15);
        Self((seed ^ salt.wrapping_mul(0x2545_F491_4F6C_DD1D)) | 1)
    }

    pub fn draw(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.draw() % n as u64) as usize }
    }
}

const INTERESTING: [u8; 10] = [0x00, 0x01, 0x7f, 0x80, 0xff, b'<', b'>', b'"', b'\n', b'%'];

/// One damaged variant of `seed` (and sometimes a piece of `other`, for splices).
pub fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = seed.to_vec();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        let len = out.len();
        match rng.below(8) {
            0 if len > 0 => {
                let at = rng.below(len);
                out[at] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let at = rng.below(len);
                out[at] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 => out.truncate(rng.below(len + 1)),
            3 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(256)).min(len);
                let piece = out[start..end].to_vec();
                let at = rng.below(len + 1);
                out.splice(at..at, piece.iter().copied().cycle().take(piece.len() * (1 + rng.below(8))));
            }
            4 if !other.is_empty() => {
                let start = rng.below(other.len());
                let end = (start + 1 + rng.below(4096)).min(other.len());
                let at = rng.below(len + 1);
                out.splice(at..at, other[start..end].iter().copied());
            }
            5 => {
                let at = rng.below(len + 1);
                let noise: Vec<u8> = (0..1 + rng.below(64)).map(|_| rng.draw() as u8).collect();
                out.splice(at..at, noise);
            }
            6 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(1024)).min(len);
                out.drain(start..end);
            }
            7 if rng.below(16) == 0 => out = (0..rng.below(4096)).map(|_| rng.draw() as u8).collect(),
            _ => {}
        }
    }
    out
}

/// `iterations()` variants of the seeds, round-robin, each with a different seed as splice donor.
pub fn cases(salt: u64, seeds: &[Vec<u8>]) -> impl Iterator<Item = Vec<u8>> + '_ {
    let mut rng = Rng::new(salt);
    (0..iterations()).map(move |i| {
        let seed = &seeds[i % seeds.len()];
        let other = &seeds[(i + 1) % seeds.len()];
        mutate(&mut rng, seed, other)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_deterministic_and_varied() {
        let seeds = vec![b"hello world, a seed".to_vec(), b"another one".to_vec()];
        let a: Vec<Vec<u8>> = cases(1, &seeds).take(50).collect();
        let b: Vec<Vec<u8>> = cases(1, &seeds).take(50).collect();
        assert_eq!(a, b, "the same salt gives the same cases");
        let distinct: std::collections::HashSet<&Vec<u8>> = a.iter().collect();
        assert!(distinct.len() > 40, "mostly different cases: {}", distinct.len());
    }
}
