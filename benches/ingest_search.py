#!/usr/bin/env python3
"""Ingest throughput and search latency through the real HTTP API (stdlib only).

Starts `bwenge serve` in a fresh data dir (SQLite, embedded Qdrant engine, local files), with either the local
model or the instant fake `/embeddings` service (benches/fake_embeddings.py), then:

1. registers an org, creates a collection, uploads the corpus (benches/corpus.py; default Open WebUI's
   20 x 50 KB), and waits until every document is `ready`: MB/s and chunks/s from the first upload to the last
   document's `ready` (its `updated_at`), chunks being the documents' `chunk_count`;
2. for each `--scale` target, uploads more documents until the collection holds that many chunks, then times
   `--searches` sequential `POST /api/v1/search` calls on one keep-alive connection: p50/p99/mean.

    python3 benches/ingest_search.py --binary $CARGO_TARGET_DIR/debug/bwenge --embedder fake \
        --scale 10000,100000 --out benches/results/fake.json
    python3 benches/ingest_search.py --binary $CARGO_TARGET_DIR/debug/bwenge --embedder local \
        --model-dir /path/to/all-MiniLM-L6-v2 --out benches/results/local.json
"""
import argparse
import concurrent.futures
import datetime
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402

OPEN_WEBUI_KBPS = 81.0  # issue 4: Open WebUI, same machine, instant fake embedder, 20 x 50 KB in 12 s


class Api:
    """One keep-alive connection per thread; JSON in and out."""

    def __init__(self, port, token=None):
        self.port, self.token = port, token
        self.connect()

    def connect(self):
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        self.conn.connect()
        # Without it, Nagle's algorithm and delayed ACKs add ~40 ms to a small request on a kept-alive connection.
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def call(self, method, path, body=None, raw=None, ctype=None):
        try:
            return self.request(method, path, body, raw, ctype)
        except (http.client.RemoteDisconnected, ConnectionError):
            # The server closes a connection left idle past its keep-alive timeout: reconnect once.
            self.connect()
            return self.request(method, path, body, raw, ctype)

    def request(self, method, path, body, raw, ctype):
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        if body is not None:
            raw, ctype = json.dumps(body).encode(), "application/json"
        if ctype:
            headers["Content-Type"] = ctype
        self.conn.request(method, path, body=raw, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: HTTP {response.status}: {data[:500]!r}")
        return json.loads(data) if data.strip() else {}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(args, data_dir, embed_port):
    env = dict(os.environ, BWENGE__LOG__FORMAT="json",
               BWENGE__LOG__LEVEL=os.environ.get("BWENGE__LOG__LEVEL", "warn"),
               BWENGE__RATELIMIT__API_PER_USER_PER_MINUTE="100000",
               BWENGE__RATELIMIT__API_PER_ORG_PER_MINUTE="100000",
               BWENGE__RATELIMIT__AUTH_PER_IP_PER_MINUTE="1000",
               BWENGE__AUTH__ACCESS_TOKEN_TTL_SECS="86400")  # long runs outlive the default 15 min
    if args.embedder == "fake":
        env.update(BWENGE__EMBEDDINGS__PROVIDER="openai", BWENGE__EMBEDDINGS__MODEL="fake",
                   BWENGE__EMBEDDINGS__BASE_URL=f"http://127.0.0.1:{embed_port}/v1",
                   BWENGE__EMBEDDINGS__DIMENSIONS="384")
    else:
        env.update(BWENGE__EMBEDDINGS__PROVIDER="local", BWENGE__EMBEDDINGS__MODEL_DIR=args.model_dir)
    port = free_port()
    log = open(os.path.join(data_dir, "server.log"), "w")
    proc = subprocess.Popen([args.binary, "serve", "--port", str(port), "--data-dir", data_dir],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return proc, port
        except OSError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"server exited; see {log.name}")
        time.sleep(0.1)
    raise RuntimeError("server not ready within 60 s")


def multipart(name, content):
    boundary = "bench" + uuid.uuid4().hex
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: text/plain\r\n\r\n").encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def parse_time(text):
    # chrono writes up to 9 fractional digits; Python reads 6.
    main, _, frac = text.rstrip("Z").partition(".")
    frac = (frac.split("+")[0] + "000000")[:6]
    return datetime.datetime.fromisoformat(f"{main}.{frac}+00:00").timestamp()


def upload_all(port, token, collection, docs, threads):
    def one(item):
        api = getattr(local, "api", None) or Api(port, token)
        local.api = api
        body, ctype = multipart(*item)
        return api.call("POST", f"/api/v1/collections/{collection}/documents", raw=body, ctype=ctype)["id"]

    import threading
    local = threading.local()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, docs))


def wait_ready(api, collection, expected, timeout):
    """Polls the collection's documents until `expected` of them are done; returns their views."""
    deadline = time.time() + timeout
    while True:
        views, page = [], 1
        while True:
            got = api.call("GET", f"/api/v1/collections/{collection}/documents?page={page}&per_page=100")
            views += got["items"]
            if page * 100 >= got["total"]:
                break
            page += 1
        done = [v for v in views if v["status"] in ("ready", "failed")]
        if len(done) >= expected:
            failed = [v for v in done if v["status"] == "failed"]
            if failed:
                raise RuntimeError(f"{len(failed)} documents failed: {failed[0]}")
            return views
        if time.time() > deadline:
            raise RuntimeError(f"only {len(done)}/{expected} documents done after {timeout} s")
        time.sleep(0.05 if expected <= 50 else 0.5)


def ingest(api, port, collection, first_index, count, doc_kb, threads, timeout):
    docs = [(f"notes_{i:05d}.txt", corpus.document(i, doc_kb * 1024)) for i in range(first_index, first_index + count)]
    size = sum(len(d[1]) for d in docs)
    started = time.time()
    ids = set(upload_all(port, api.token, collection, docs, threads))
    uploaded = time.time()
    views = [v for v in wait_ready(api, collection, first_index + count, timeout) if v["id"] in ids]
    finished = max(parse_time(v["updated_at"]) for v in views)
    seconds = finished - started
    chunks = sum(v["chunk_count"] for v in views)
    return {
        "documents": count, "bytes": size, "chunks": chunks, "seconds": round(seconds, 3),
        "upload_seconds": round(uploaded - started, 3),
        "mb_per_s": round(size / seconds / 1e6, 3), "kb_per_s": round(size / seconds / 1e3, 1),
        "chunks_per_s": round(chunks / seconds, 1),
    }


def search_latency(api, collection, count):
    queries = corpus.queries(count + 10)
    for q in queries[:10]:  # warm-up: page cache, lazy model load, connection
        api.call("POST", "/api/v1/search", {"query": q, "collection_ids": [collection], "top_k": 5})
    times = []
    for q in queries[10:]:
        started = time.perf_counter()
        hits = api.call("POST", "/api/v1/search", {"query": q, "collection_ids": [collection], "top_k": 5})
        times.append((time.perf_counter() - started) * 1000)
        assert hits["results"], "a search found nothing"
    times.sort()
    return {"searches": count, "p50_ms": round(statistics.median(times), 2),
            "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 2),
            "mean_ms": round(statistics.fmean(times), 2)}


def fake_stats(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/stats")
    return json.loads(conn.getresponse().read())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--embedder", choices=("fake", "local"), default="fake")
    ap.add_argument("--model-dir", default="/var/tmp/bwenge-model/all-MiniLM-L6-v2")
    ap.add_argument("--docs", type=int, default=20)
    ap.add_argument("--doc-kb", type=int, default=50)
    ap.add_argument("--scale", default="", help="chunk counts to search at, e.g. 10000,100000")
    ap.add_argument("--bulk-doc-kb", type=int, default=500, help="size of the documents added to reach --scale")
    ap.add_argument("--searches", type=int, default=200)
    ap.add_argument("--threads", type=int, default=4, help="parallel uploads")
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--data-dir", default=None, help="default: a fresh temporary directory, removed after")
    ap.add_argument("--out", default=None)
    ap.add_argument("--label", default="")
    a = ap.parse_args()

    tmp = None if a.data_dir else tempfile.TemporaryDirectory(prefix="bwenge-bench-")
    data_dir = a.data_dir or tmp.name
    procs = []
    try:
        embed_port = free_port()
        if a.embedder == "fake":
            here = os.path.dirname(os.path.abspath(__file__))
            procs.append(subprocess.Popen([sys.executable, os.path.join(here, "fake_embeddings.py"),
                                           "--port", str(embed_port)], stdout=subprocess.DEVNULL))
        server, port = start_server(a, data_dir, embed_port)
        procs.append(server)
        api = Api(port)
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        api.token = api.call("POST", "/api/v1/auth/register", {"org_name": "Bench", "email": email,
                             "password": "Bench-pass-123456!", "name": "Bench"})["access_token"]
        collection = api.call("POST", "/api/v1/collections", {"name": "bench"})["id"]

        result = {"label": a.label, "embedder": a.embedder, "binary": a.binary,
                  "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"), "cores": os.cpu_count()}
        run = ingest(api, port, collection, 0, a.docs, a.doc_kb, a.threads, a.timeout)
        run["x_open_webui"] = round(run["kb_per_s"] / OPEN_WEBUI_KBPS, 1)
        if a.embedder == "fake":
            run["embedding_inputs"] = fake_stats(embed_port)["inputs"]
        result["ingest"] = run
        print(json.dumps({"ingest": run}), flush=True)

        total_chunks, next_index, result["scale"] = run["chunks"], a.docs, []
        chunks_per_kb = run["chunks"] / (run["bytes"] / 1024)
        for target in [int(t) for t in a.scale.split(",") if t]:
            if total_chunks < target:
                count = max(1, round((target - total_chunks) / chunks_per_kb / a.bulk_doc_kb + 0.5))
                bulk = ingest(api, port, collection, next_index, count, a.bulk_doc_kb, a.threads, a.timeout)
                next_index += count
                total_chunks += bulk["chunks"]
            else:
                bulk = None
            step = {"chunks": total_chunks, "bulk_ingest": bulk, "search": search_latency(api, collection, a.searches)}
            result["scale"].append(step)
            print(json.dumps(step), flush=True)
        if a.out:
            os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
            with open(a.out, "w") as f:
                json.dump(result, f, indent=2)
                f.write("\n")
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        if tmp:
            tmp.cleanup()


if __name__ == "__main__":
    main()
