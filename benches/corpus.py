#!/usr/bin/env python3
"""Deterministic synthetic corpus for the ingest and search benchmarks (stdlib only).

Documents read like course notes: a numbered heading every few paragraphs, sentences of 8 to 24 words drawn
from a fixed vocabulary. The same (seed, index, size) always gives the same bytes, so runs are comparable.

    python3 benches/corpus.py --out /tmp/corpus --docs 20 --doc-kb 50     # Open WebUI's 20 x 50 KB set
"""
import argparse
import os
import random

# Course-note words, so the BM25 vocabulary and the sentence lengths look like real teaching material.
WORDS = (
    "loop range list tuple dict set string integer float function argument parameter return value variable "
    "module package import class object method attribute inheritance exception error raise try except finally "
    "file read write open close path directory iterator generator yield comprehension lambda closure scope "
    "global local recursion algorithm sort search binary tree graph node edge queue stack heap hash table "
    "index slice append extend insert remove pop count key item default keyword positional annotation type "
    "check test assert debug print format input output stream buffer encoding unicode byte array matrix "
    "vector sum mean median variance probability sample random seed plot chart axis label legend figure "
    "student teacher lesson exercise example answer question chapter section page note summary review quiz "
    "the a of to in is that for it as with on by this be are from or an which can each when if then else "
    "while because so into more than most some every other these those many all any only also just well"
).split()
TOPICS = (
    "Loops", "Functions", "Classes", "Errors", "Files", "Iterators", "Sorting", "Graphs", "Statistics",
    "Strings", "Modules", "Testing", "Recursion", "Dictionaries", "Generators", "Plotting",
)


def sentence(rng):
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 24))]
    words[0] = words[0].capitalize()
    return " ".join(words) + rng.choice(".....?!")


def document(index, size_bytes, seed=4):
    """One document of exactly `size_bytes` bytes (ASCII), deterministic in (seed, index, size_bytes)."""
    rng = random.Random(f"{seed}:{index}:{size_bytes}")
    parts, length, section = [], 0, 0
    title = f"Course notes {index}: {rng.choice(TOPICS)}\n\n"
    parts.append(title)
    length += len(title)
    while length < size_bytes:
        section += 1
        heading = f"{section}. {rng.choice(TOPICS)} and {rng.choice(TOPICS).lower()}\n\n"
        parts.append(heading)
        length += len(heading)
        for _ in range(rng.randint(2, 5)):
            paragraph = " ".join(sentence(rng) for _ in range(rng.randint(3, 8))) + "\n\n"
            parts.append(paragraph)
            length += len(paragraph)
    return "".join(parts).encode("ascii")[:size_bytes]


def queries(count, seed=4):
    """Search queries: 3 to 8 corpus words, so both the sparse and the dense lists have work to do."""
    rng = random.Random(f"{seed}:queries")
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8))) for _ in range(count)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--docs", type=int, default=20)
    ap.add_argument("--doc-kb", type=int, default=50)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for i in range(a.docs):
        with open(os.path.join(a.out, f"notes_{i:05d}.txt"), "wb") as f:
            f.write(document(i, a.doc_kb * 1024))


if __name__ == "__main__":
    main()
