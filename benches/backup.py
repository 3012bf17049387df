#!/usr/bin/env python3
"""Backup and restore of a populated instance, timed through the real CLI (stdlib only).

Starts `bwenge serve` on embedded defaults in a fresh data dir with the instant fake embeddings service
(benches/fake_embeddings.py), ingests `--docs` generated course notes (benches/corpus.py), then:

1. `bwenge backup --out` while the server runs (the embedded engine is the server's, so the command asks it);
2. stops the server and `bwenge restore --from` into an empty data dir;
3. starts a server on the restored dir and checks that a search returns the same hits.

    python3 benches/backup.py --binary $CARGO_TARGET_DIR/release/bwenge --docs 200
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ingest_search import Api, free_port, ingest, start_server  # noqa: E402


def search(api, collection):
    body = {"query": "recursion and binary tree search", "collection_ids": [collection], "top_k": 5}
    return [(h["chunk_id"], round(h["score"], 6)) for h in api.call("POST", "/api/v1/search", body)["results"]]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--docs", type=int, default=200)
    ap.add_argument("--doc-kb", type=int, default=50)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    a.embedder, a.model_dir = "fake", ""
    work = tempfile.mkdtemp(prefix="bwenge-backup-bench-")
    here = os.path.dirname(os.path.abspath(__file__))
    embed_port = free_port()
    fake = subprocess.Popen([sys.executable, os.path.join(here, "fake_embeddings.py"), "--port", str(embed_port)],
                            stdout=subprocess.DEVNULL)
    source, target, archive = (os.path.join(work, d) for d in ("source", "target", "backup.tar.gz"))
    os.makedirs(source)
    server = None
    try:
        server, port = start_server(a, source, embed_port)
        api = Api(port)
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        api.token = api.call("POST", "/api/v1/auth/register", {"org_name": "Bench", "email": email,
                             "password": "Bench-pass-123456!", "name": "Bench"})["access_token"]
        collection = api.call("POST", "/api/v1/collections", {"name": "bench"})["id"]
        run = ingest(api, port, collection, 0, a.docs, a.doc_kb, 4, 3600)
        before = search(api, collection)

        started = time.time()
        out = subprocess.run([a.binary, "backup", "--out", archive, "--port", str(port), "--data-dir", source],
                             capture_output=True, text=True, check=True)
        backup_s = time.time() - started
        server.terminate()
        server.wait()
        server = None
        data_bytes = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(source) for f in fs)

        started = time.time()
        subprocess.run([a.binary, "restore", "--from", archive, "--data-dir", target], capture_output=True, text=True,
                       check=True)
        restore_s = time.time() - started
        server, port = start_server(a, target, embed_port)
        api2 = Api(port, api.token)
        after = search(api2, collection)
        result = {
            "documents": a.docs, "text_bytes": run["bytes"], "chunks": run["chunks"], "data_dir_bytes": data_bytes,
            "archive_bytes": os.path.getsize(archive), "backup_seconds": round(backup_s, 2),
            "restore_seconds": round(restore_s, 2), "same_search": before == after,
            "backup_said": out.stdout.strip().splitlines()[-1],
        }
        print(json.dumps(result, indent=2))
        if a.out:
            with open(a.out, "w") as f:
                json.dump(result, f, indent=2)
        if before != after:
            sys.exit("the restored instance answers the search differently")
    finally:
        if server:
            server.terminate()
            server.wait()
        fake.terminate()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
