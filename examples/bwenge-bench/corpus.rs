//! A deterministic synthetic corpus: the Rust port of benches/corpus.py.
//!
//! Documents read like course notes: a numbered heading every few paragraphs, sentences of 8 to 24 words from a
//! fixed vocabulary. The same (seed, index, size) always gives the same bytes, so runs are comparable. The bytes
//! differ from the Python script's (its Mersenne Twister is not reproduced), the shape and sizes do not.

/// Course-note words, so the BM25 vocabulary and the sentence lengths look like real teaching material.
const WORDS: &str = "loop range list tuple dict set string integer float function argument parameter return value \
    variable module package import class object method attribute inheritance exception error raise try except \
    finally file read write open close path directory iterator generator yield comprehension lambda closure scope \
    global local recursion algorithm sort search binary tree graph node edge queue stack heap hash table index \
    slice append extend insert remove pop count key item default keyword positional annotation type check test \
    assert debug print format input output stream buffer encoding unicode byte array matrix vector sum mean median \
    variance probability sample random seed plot chart axis label legend figure student teacher lesson exercise \
    example answer question chapter section page note summary review quiz the a of to in is that for it as with \
    on by this be are from or an which can each when if then else while because so into more than most some \
    every other these those many all any only also just well";

const TOPICS: [&str; 16] = [
    "Loops",
    "Functions",
    "Classes",
    "Errors",
    "Files",
    "Iterators",
    "Sorting",
    "Graphs",
    "Statistics",
    "Strings",
    "Modules",
    "Testing",
    "Recursion",
    "Dictionaries",
    "Generators",
    "Plotting",
];

/// The seed benches/corpus.py uses by default.
const SEED: u64 = 4;

/// splitmix64 seeded by FNV-1a of a key: stable across Rust and crate versions, unlike `rand`'s `StdRng`.
struct Rng(u64);

impl Rng {
    fn new(key: &str) -> Self {
        Self(key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Inclusive of both ends, as Python's `randint`.
    fn between(&mut self, low: usize, high: usize) -> usize {
        low + (self.next() % (high - low + 1) as u64) as usize
    }

    fn choice<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.between(0, items.len() - 1)]
    }
}

fn words() -> Vec<&'static str> {
    WORDS.split_whitespace().collect()
}

fn sentence(rng: &mut Rng, words: &[&str]) -> String {
    let count = rng.between(8, 24);
    let mut picked: Vec<String> = (0..count).map(|_| rng.choice(words).to_owned()).collect();
    if let Some(first) = picked.first_mut() {
        let mut chars = first.chars();
        if let Some(c) = chars.next() {
            *first = c.to_uppercase().chain(chars).collect();
        }
    }
    // Mostly full stops, as the Python script's ".....?!".
    let end = [".", ".", ".", ".", ".", "?", "!"];
    format!("{}{}", picked.join(" "), rng.choice(&end))
}

/// One document of exactly `size` bytes (ASCII), deterministic in (index, size).
pub fn document(index: usize, size: usize) -> Vec<u8> {
    let words = words();
    let mut rng = Rng::new(&format!("{SEED}:{index}:{size}"));
    let mut out = format!("Course notes {index}: {}\n\n", rng.choice(&TOPICS));
    let mut section = 0;
    while out.len() < size {
        section += 1;
        let (a, b) = (rng.choice(&TOPICS), rng.choice(&TOPICS).to_lowercase());
        out.push_str(&format!("{section}. {a} and {b}\n\n"));
        for _ in 0..rng.between(2, 5) {
            let sentences: Vec<String> = (0..rng.between(3, 8)).map(|_| sentence(&mut rng, &words)).collect();
            out.push_str(&sentences.join(" "));
            out.push_str("\n\n");
        }
    }
    let mut bytes = out.into_bytes();
    bytes.truncate(size);
    bytes
}

/// Search queries of 3 to 8 corpus words, so both the sparse and the dense lists have work to do.
pub fn queries(count: usize) -> Vec<String> {
    let words = words();
    let mut rng = Rng::new(&format!("{SEED}:queries"));
    (0..count)
        .map(|_| {
            let n = rng.between(3, 8);
            (0..n).map(|_| rng.choice(&words)).collect::<Vec<_>>().join(" ")
        })
        .collect()
}
