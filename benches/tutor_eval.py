#!/usr/bin/env python3
"""Retrieval and the tutor measured through the API, on an eval set laid out like ../shared/eval (stdlib only).

  python3 benches/tutor_eval.py --set ../shared/eval --binary $CARGO_TARGET_DIR/release/bwenge \
      --model-dir /var/tmp/bwenge-model/all-MiniLM-L6-v2 [--out summary.json]
  python3 benches/tutor_eval.py --set ../shared/eval --base-url http://127.0.0.1:8080   # a running server

With --binary it starts a fresh server (SQLite, embedded vector engine, local files, the local model, no chat
model: the extractive tutor) in a temporary directory and stops it at the end. Registers a fresh organisation,
uploads every file of docs/ into one collection, waits for them, then:

- retrieval as ../shared/eval/run_eval.py measures it: recall@5 and MRR@10 of answerable questions through
  `POST /search` (a hit is a result from the gold file holding an answer string), by kind, and each question's
  best `relevance`, and the words no chunk holds (`unmatched`) with their `unmatched_weight`;

then makes a tutor of the collection, asks every question of questions.jsonl in a session of its own (no history
to lean on) and reports, for the tutor the server runs (a model if `llm.base_url` is set, else the extractive
tutor):

- unanswerable questions (`answers: []`) answered "not covered": higher is better;
- answerable questions wrongly answered "not covered": lower is better;
- answerable turns that hold the answer: the answer's text as a student reads it (its Markdown rendered: the
  `> ` of quoted lines and the `**` of bold left out, backslash escapes resolved), or a cited passage from the gold file (read through
  `GET /documents/{id}/content?chunk_id=`), contains one of the answer strings (NFKC, whitespace-normalised,
  case-insensitive, as run_eval.py matches them); `holds_raw` matches the Markdown source instead (until
  2026-11-29 the only measure: a quoted line's `> ` then broke an answer that the source wrapped over two lines);
- for the extractive tutor, answerable turns whose lead (the sentences before "Where this comes from:") holds
  an answer string: whether the answer is read first, before the passages;
- the server's time per turn (p50, p95).
"""
import argparse, json, os, re, shutil, statistics, sys, tempfile, time, types, unicodedata, urllib.error
import urllib.request, uuid


def rendered(markdown):
    """What a reader sees of the answer's Markdown: blockquote and bold markers left out, escapes resolved."""
    text = re.sub(r"(?m)^(\s*>)+ ?", "", markdown or "").replace("**", "")
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)


def norm(s):
    s = unicodedata.normalize("NFKC", s or "")
    s = s.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"\s+", " ", s).strip().lower()


class Client:
    def __init__(self, base):
        self.base = base.rstrip("/")
        self.token = None

    def call(self, method, path, body=None, data=None, ctype=None):
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        if body is not None:
            data, ctype = json.dumps(body).encode(), "application/json"
        if ctype:
            headers["Content-Type"] = ctype
        for _ in range(30):  # wait out rate limits like a well-behaved client
            request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=300) as response:
                    return response.status, json.loads(response.read() or b"{}")
            except urllib.error.HTTPError as e:
                if e.code == 429:
                    time.sleep(min(float(e.headers.get("Retry-After") or 1), 30))
                    continue
                sys.exit("%s %s answered %s: %s" % (method, path, e.code, e.read()[:500]))
        sys.exit("%s %s stayed rate limited" % (method, path))


def upload(client, collection, path):
    boundary = "----tutoreval" + uuid.uuid4().hex
    name = os.path.basename(path)
    head = ('--%s\r\nContent-Disposition: form-data; name="file"; filename="%s"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n" % (boundary, name)).encode()
    body = head + open(path, "rb").read() + ("\r\n--%s--\r\n" % boundary).encode()
    _, doc = client.call("POST", "/api/v1/collections/%s/documents" % collection, data=body,
                         ctype="multipart/form-data; boundary=" + boundary)
    return doc["id"]


def cited_text(client, citation):
    """The cited chunk with the passage before it (the viewer shows passages without their shared overlap)."""
    if not citation.get("chunk_id"):
        return citation.get("snippet", "")
    _, content = client.call("GET", "/api/v1/documents/%s/content?chunk_id=%s"
                             % (citation["document_id"], citation["chunk_id"]))
    texts = [p["text"] for p in content["passages"]]
    at = next((i for i, p in enumerate(content["passages"]) if p["chunk_id"] == content["focus"]), None)
    return " ".join(texts[max(0, at - 1):at + 1]) if at is not None else citation.get("snippet", "")


def percentile(values, p):
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    return values[int(k)] + (values[min(int(k) + 1, len(values) - 1)] - values[int(k)]) * (k - int(k))


def start_server(binary, model_dir, data_dir):
    """A fresh server on the local model with no chat model (the extractive tutor), as the ingest bench starts it."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from ingest_search import start_server as start
    os.environ.pop("BWENGE__LLM__BASE_URL", None)
    proc, port = start(types.SimpleNamespace(binary=binary, embedder="local", model_dir=model_dir), data_dir, None)
    return proc, "http://127.0.0.1:%d" % port


def retrieval(client, collection, questions, names):
    """recall@5 and MRR@10 of the answerable questions, as run_eval.py counts them; best relevance per question."""
    per_question = {}
    for q in questions:
        _, found = client.call("POST", "/api/v1/search",
                               {"query": q["question"], "collection_ids": [collection], "top_k": 10})
        hits = found["results"]
        answers = [norm(a) for a in q["answers"]]
        rank = next((i + 1 for i, h in enumerate(hits) if names.get(h["document_id"]) == q["gold_file"]
                     and any(a in norm(h["text"]) for a in answers)), None) if answers else None
        relevance = found.get("relevance")
        # The relevance of the 50 best hits, to study how the best stands out from the rest.
        _, wide = client.call("POST", "/api/v1/search",
                              {"query": q["question"], "collection_ids": [collection], "top_k": 50})
        spread = sorted((h.get("relevance") or -1 for h in wide["results"]), reverse=True)
        per_question[q["id"]] = {"rank": rank, "relevance": relevance, "spread": spread,
                                 "unmatched": found.get("unmatched"), "unmatched_weight": found.get("unmatched_weight")}
    answerable = [q for q in questions if q["answers"]]

    def scores(qs):
        ranks = [per_question[q["id"]]["rank"] for q in qs]
        return {"n": len(qs), "recall@5": round(sum(1 for r in ranks if r and r <= 5) / max(1, len(qs)), 3),
                "mrr@10": round(sum(1 / r for r in ranks if r) / max(1, len(qs)), 3)}
    kinds = sorted({q.get("kind") for q in answerable})
    return scores(answerable), {k: scores([q for q in answerable if q.get("kind") == k]) for k in kinds}, per_question


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", required=True)
    parser.add_argument("--base-url", default="http://127.0.0.1:8080")
    parser.add_argument("--binary", help="start a fresh server from this binary (ignores --base-url)")
    parser.add_argument("--model-dir", default="/var/tmp/bwenge-model/all-MiniLM-L6-v2")
    parser.add_argument("--out")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    docs_dir = os.path.join(args.set, "docs")
    questions = [json.loads(line) for line in open(os.path.join(args.set, "questions.jsonl")) if line.strip()]

    server, data_dir = None, None
    if args.binary:
        data_dir = tempfile.mkdtemp(prefix="bwenge-tutor-eval-")
        server, args.base_url = start_server(args.binary, args.model_dir, data_dir)
    try:
        run(args, docs_dir, questions)
    finally:
        if server:
            server.terminate()
            server.wait()
            shutil.rmtree(data_dir, ignore_errors=True)


def run(args, docs_dir, questions):
    client = Client(args.base_url)
    run = uuid.uuid4().hex[:8]
    _, tokens = client.call("POST", "/api/v1/auth/register", {
        "org_name": "tutor-eval-" + run, "email": "tutor-eval-%s@example.org" % run,
        "password": "purple elephant under seven bridges", "name": "Eval"})
    client.token = tokens["access_token"]
    _, collection = client.call("POST", "/api/v1/collections", {"name": "eval " + run})
    started = time.time()
    names = {upload(client, collection["id"], os.path.join(docs_dir, f)): f for f in sorted(os.listdir(docs_dir))}
    pending = set(names)
    while pending and time.time() - started < args.timeout:
        for doc in list(pending):
            _, state = client.call("GET", "/api/v1/documents/" + doc)
            if state["status"] in ("ready", "failed"):
                pending.discard(doc)
                if state["status"] == "failed":
                    print("failed: %s (%s)" % (names[doc], state.get("error_code")), file=sys.stderr)
        time.sleep(1)
    ingest_seconds = time.time() - started
    print("ingested %d files in %.0f s" % (len(names), ingest_seconds))
    overall, by_kind, per_question = retrieval(client, collection["id"], questions, names)
    _, persona = client.call("POST", "/api/v1/personas", {"name": "Eval tutor", "collection_ids": [collection["id"]]})

    rows, seconds = [], []
    for q in questions:
        _, session = client.call("POST", "/api/v1/personas/%s/sessions" % persona["id"], {})
        asked = time.time()
        _, turn = client.call("POST", "/api/v1/sessions/%s/messages" % session["id"], {"content": q["question"]})
        seconds.append(time.time() - asked)
        message = turn["message"]
        refused = message["answered_by"] == "not_covered"
        answers = [norm(a) for a in q["answers"]]
        holds = holds_raw = lead_holds = None
        if answers and not refused:
            if message["answered_by"] == "extractive":
                lead = rendered(message["content"]).split("Where this comes from:")
                lead_holds = len(lead) > 1 and any(a in norm(lead[0]) for a in answers)
            cited = [cited_text(client, c) for c in turn["citations"] if names.get(c["document_id"]) == q["gold_file"]]
            holds = any(a in norm(t) for t in [rendered(message["content"])] + cited for a in answers)
            holds_raw = any(a in norm(t) for t in [message["content"]] + cited for a in answers)
        rows.append({"id": q["id"], "kind": q.get("kind"), "answerable": bool(answers), "refused": refused,
                     "rank": per_question[q["id"]]["rank"], "relevance": per_question[q["id"]]["relevance"],
                     "spread": per_question[q["id"]]["spread"],
                     "unmatched": per_question[q["id"]]["unmatched"],
                     "unmatched_weight": per_question[q["id"]]["unmatched_weight"],
                     "answered_by": message["answered_by"], "holds": holds, "holds_raw": holds_raw, "lead_holds": lead_holds, "chars": len(message["content"])})

    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    summary = {
        "set": os.path.basename(os.path.abspath(args.set)),
        "ingest_seconds": round(ingest_seconds, 1),
        "recall@5": overall["recall@5"],
        "mrr@10": overall["mrr@10"],
        "by_kind": by_kind,
        "answered_by": sorted({r["answered_by"] for r in rows}),
        "unanswerable_refused": "%d of %d" % (sum(r["refused"] for r in unanswerable), len(unanswerable)),
        "answerable_refused": "%d of %d" % (sum(r["refused"] for r in answerable), len(answerable)),
        "answerable_holding_the_answer": round(sum(bool(r["holds"]) for r in answerable) / max(1, len(answerable)), 3),
        "answerable_holding_the_answer_raw":
            round(sum(bool(r["holds_raw"]) for r in answerable) / max(1, len(answerable)), 3),
        "answerable_lead_holding_the_answer":
            round(sum(bool(r["lead_holds"]) for r in answerable) / max(1, len(answerable)), 3),
        "answer_chars_median": statistics.median(r["chars"] for r in rows),
        "turn_seconds_p50": round(percentile(seconds, 50), 4),
        "turn_seconds_p95": round(percentile(seconds, 95), 4),
        "questions": rows,
    }
    for key, value in summary.items():
        if key not in ("questions", "by_kind"):
            print("%-32s %s" % (key, value))
    for kind, value in summary["by_kind"].items():
        print("  %-30s recall@5 %.3f  mrr@10 %.3f  (n=%d)" % (kind, value["recall@5"], value["mrr@10"], value["n"]))
    print("relevance of the best hit (answerable / unanswerable, sorted):")
    print("  ", sorted(round(r["relevance"], 3) for r in answerable if r["relevance"] is not None))
    print("  ", sorted(round(r["relevance"], 3) for r in unanswerable if r["relevance"] is not None))
    print("weight of the unmatched words (answerable / unanswerable, sorted, zeros left out):")
    for group in (answerable, unanswerable):
        print("  ", sorted(round(r["unmatched_weight"], 3) for r in group if r.get("unmatched_weight")))
    if args.out:
        json.dump(summary, open(args.out, "w"), indent=1)


if __name__ == "__main__":
    main()
