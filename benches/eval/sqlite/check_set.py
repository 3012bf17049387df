#!/usr/bin/env python3
"""Consistency check for the SQLite retrieval eval set.

  python3 check_set.py [--set DIR] [--use-extracted]

Reads the text of every file in docs/ (with pypdf / python-docx / python-pptx when they are importable, else
from extracted/<file>.txt, which build_set.py wrote from the same extraction) and asserts:

  * ids are unique and sq-001..sq-NNN; every line has id, question, answers, gold_file, kind;
  * the counts by kind are the intended ones (42 answerable, 8 unanswerable);
  * every gold_file exists in docs/; answerable questions have answers, unanswerable ones have
    "answers": [] and "gold_file": null;
  * every answer occurs in its gold file and in NO other file, normalised as run_eval.py does
    (NFKC, curly quotes straightened, whitespace collapsed, lower-cased);
  * in PDF and PPTX gold files each answer lies within one page / one slide (the server extracts PDFs page by
    page and slides one by one, so an answer split across two would never be found in a single chunk);
  * the tell-tale terms of every unanswerable question (UNANSWERABLE_TERMS below) occur in none of the files
    (whole-word, case-insensitive);
  * every file in docs/ is smaller than 1 MB, and extracted/ (when present) agrees with a fresh extraction.

Exit status 0 when everything passes, 1 otherwise.
"""
import argparse, collections, json, os, re, sys, unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))

EXPECTED_KINDS = {"paraphrase": 14, "factual": 8, "disambiguation": 8, "multi-hop": 6, "conceptual": 6,
                  "unanswerable": 8}

# Terms that would have to appear in a file for the question to be answerable from it.
UNANSWERABLE_TERMS = {
    "sq-010": ["materialized", "materialised", "refresh", "refreshes"],                     # materialized views
    "sq-019": ["median", "percentile", "percentile_cont", "percentile_disc", "quantile"],  # median / percentiles
    "sq-024": ["replication", "replica", "replicas", "standby", "failover"],              # replication
    "sq-033": ["stored procedure", "stored procedures", "CREATE PROCEDURE", "plpgsql"],   # stored procedures
    "sq-037": ["GRANT", "REVOKE", "user account", "user accounts", "access control"],     # users and permissions
    "sq-044": ["encrypt", "encryption", "password", "passphrase", "cipher"],              # database encryption
    "sq-049": ["full-text", "full text", "fts3", "fts4", "fts5", "bm25", "tokenizer"],    # full-text search
    "sq-050": ["R-Tree", "rtree", "R*Tree", "spatial", "bounding box", "geospatial"],     # R*Tree spatial index
}


def norm(s):  # identical to run_eval.py
    s = unicodedata.normalize("NFKC", s or "")
    s = s.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"\s+", " ", s).strip().lower()


def units_from_libs(path):
    """List of text units: PDF pages, PPTX slides, or the whole file."""
    ext = path.rsplit(".", 1)[-1].lower()
    if ext in ("md", "txt"):
        return [open(path, encoding="utf-8").read()]
    if ext == "pdf":
        from pypdf import PdfReader
        return [(pg.extract_text() or "") for pg in PdfReader(path).pages]
    if ext == "docx":
        import docx
        from docx.table import Table
        from docx.text.paragraph import Paragraph
        d = docx.Document(path)
        out = []
        for el in d.element.body.iterchildren():
            tag = el.tag.rsplit("}", 1)[-1]
            if tag == "p":
                out.append(Paragraph(el, d).text)
            elif tag == "tbl":
                for row in Table(el, d).rows:
                    out.append(" | ".join(c.text for c in row.cells))
        return ["\n".join(out)]
    if ext == "pptx":
        from pptx import Presentation
        slides = []
        for s in Presentation(path).slides:
            lines = []
            for sh in s.shapes:
                if sh.has_text_frame:
                    for para in sh.text_frame.paragraphs:
                        lines.append(para.text.replace("\v", "\n"))  # <a:br/> reads as \v
            slides.append("\n".join(lines))
        return slides
    raise ValueError("unsupported file type: " + path)


def units_from_extracted(setdir, name):
    # build_set.py separates PDF pages and PPTX slides with a form feed
    return open(os.path.join(setdir, "extracted", name + ".txt"), encoding="utf-8").read().split("\f")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", dest="setdir", default=HERE)
    ap.add_argument("--use-extracted", action="store_true", help="read extracted/*.txt instead of the docs")
    a = ap.parse_args()
    setdir = os.path.abspath(a.setdir)
    docdir = os.path.join(setdir, "docs")
    errors = []

    def fail(msg):
        errors.append(msg)

    files = sorted(f for f in os.listdir(docdir) if os.path.isfile(os.path.join(docdir, f)))
    use_libs = not a.use_extracted
    if use_libs:
        try:
            import pypdf, docx, pptx  # noqa: F401
        except ImportError as e:
            print("note: %s; falling back to extracted/*.txt" % e)
            use_libs = False
    units = {}
    for f in files:
        size = os.path.getsize(os.path.join(docdir, f))
        if size >= 1_000_000:
            fail("%s is %d bytes (limit 1 MB)" % (f, size))
        units[f] = units_from_libs(os.path.join(docdir, f)) if use_libs else units_from_extracted(setdir, f)
        if use_libs and os.path.isfile(os.path.join(setdir, "extracted", f + ".txt")):
            ref = open(os.path.join(setdir, "extracted", f + ".txt"), encoding="utf-8").read()
            if norm(ref) != norm(" ".join(units[f])):
                fail("extracted/%s.txt differs from a fresh extraction of docs/%s (rebuild the set)" % (f, f))
    text = {f: norm(" ".join(u)) for f, u in units.items()}
    nunits = {f: [norm(x) for x in u] for f, u in units.items()}

    qs = []
    for i, line in enumerate(open(os.path.join(setdir, "questions.jsonl"), encoding="utf-8"), 1):
        if line.strip():
            q = json.loads(line)
            if set(q) != {"id", "question", "answers", "gold_file", "kind"}:
                fail("line %d: keys %s" % (i, sorted(q)))
            qs.append(q)
    ids = [q["id"] for q in qs]
    if len(set(ids)) != len(ids):
        fail("duplicate ids: %s" % [x for x, n in collections.Counter(ids).items() if n > 1])
    if ids != ["sq-%03d" % i for i in range(1, len(qs) + 1)]:
        fail("ids are not sq-001..sq-%03d in order" % len(qs))
    kinds = collections.Counter(q["kind"] for q in qs)
    if dict(kinds) != EXPECTED_KINDS:
        fail("counts by kind %s, expected %s" % (dict(kinds), EXPECTED_KINDS))

    gold_distractor = 0
    per_gold = collections.Counter()
    for q in qs:
        qid, ans, gold = q["id"], q["answers"], q["gold_file"]
        if q["kind"] == "unanswerable":
            if ans != [] or gold is not None:
                fail("%s: unanswerable questions need answers [] and gold_file null" % qid)
            terms = UNANSWERABLE_TERMS.get(qid)
            if not terms:
                fail("%s: no tell-tale terms listed in UNANSWERABLE_TERMS" % qid)
                continue
            for t in terms:
                rx = re.compile(r"(?<![a-z0-9_])" + re.escape(norm(t)) + r"(?![a-z0-9_])")
                hits = [f for f in files if rx.search(text[f])]
                if hits:
                    fail("%s: tell-tale term %r occurs in %s" % (qid, t, hits))
            continue
        if not ans or not all(isinstance(x, str) and x.strip() for x in ans):
            fail("%s: answerable question without answers" % qid)
            continue
        if gold not in text:
            fail("%s: gold_file %r is not in docs/" % (qid, gold))
            continue
        per_gold[gold] += 1
        gold_distractor += gold.startswith("d_")
        for x in ans:
            nx = norm(x)
            if nx not in text[gold]:
                fail("%s: answer %r not in gold file %s" % (qid, x, gold))
            elif not any(nx in u for u in nunits[gold]):
                fail("%s: answer %r in %s spans a page/slide boundary" % (qid, x, gold))
            others = [f for f in files if f != gold and nx in text[f]]
            if others:
                fail("%s: answer %r also occurs in %s" % (qid, x, others))
    for qid in UNANSWERABLE_TERMS:
        if qid not in ids or next(q for q in qs if q["id"] == qid)["kind"] != "unanswerable":
            fail("UNANSWERABLE_TERMS lists %s, which is not an unanswerable question" % qid)

    n_ans = sum(1 for q in qs if q["kind"] != "unanswerable")
    print("set: %s (text from %s)" % (setdir, "pypdf/python-docx/python-pptx" if use_libs else "extracted/"))
    print("files: %d (%d gold sq_*, %d distractors d_sq_*), %.0f KB, %.0f KB of text" % (
        len(files), sum(1 for f in files if f.startswith("sq_")), sum(1 for f in files if f.startswith("d_sq_")),
        sum(os.path.getsize(os.path.join(docdir, f)) for f in files) / 1024,
        sum(len(" ".join(u)) for u in units.values()) / 1024))
    print("questions: %d (%d answerable, %d unanswerable)" % (len(qs), n_ans, len(qs) - n_ans))
    print("by kind: " + ", ".join("%s %d" % (k, kinds[k]) for k in EXPECTED_KINDS))
    print("answerable with a distractor file as gold_file: %d" % gold_distractor)
    print("answerable questions per gold file: " + ", ".join("%s %d" % kv for kv in sorted(per_gold.items())))
    print("answers checked: %d (each in its gold file only)" % sum(len(q["answers"]) for q in qs))
    print("unanswerable tell-tale terms checked: %d" % sum(len(v) for v in UNANSWERABLE_TERMS.values()))
    if errors:
        print("\nFAILED (%d problems):" % len(errors))
        for e in errors:
            print("  - " + e)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
