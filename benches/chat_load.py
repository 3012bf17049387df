#!/usr/bin/env python3
"""Server time per RAG turn and idle WebSocket capacity, through the real API (stdlib only).

Starts `bwenge serve` in a fresh data dir with an instant fake LLM (benches/fake_llm.py) and the local embedder
(queries are embedded for real), ingests one 50 KiB document, creates a persona on it, then measures:

1. sequential turns: `POST /sessions/{id}/messages` (JSON) one after another, each a full RAG turn (store the
   question, hybrid search, prompt, stream from the model, strip cues, store the answer): latency p50/p99, and
   the server's own CPU time per turn (from /proc, so the fake LLM's and the client's time are not counted);
   the same query through `POST /search` alone, to separate the search from the rest of the turn;
2. the same with `--clients` concurrent clients (one session each, keep-alive): turns/s and p50/p99;
3. `--idle` WebSocket connections, each with a session open (`session.open` → `session.ready`), held while the
   client answers the server's pings: the server's resident memory before and after, per connection, and one
   turn's latency while they are all held.

    python3 benches/chat_load.py --binary $CARGO_TARGET_DIR/debug/bwenge --out benches/results/chat.json
"""
import argparse
import asyncio
import base64
import concurrent.futures
import datetime
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402
from ingest_search import Api, free_port, multipart, start_server  # noqa: E402

QUESTION = "How do rivers carve valleys over time?"


def pct(values, q):
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def cpu_ms(pid):
    """User + system CPU time of a process so far, in ms."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def turn(api, session):
    started = time.perf_counter()
    answer = api.call("POST", f"/api/v1/sessions/{session}/messages", {"content": QUESTION})
    elapsed = (time.perf_counter() - started) * 1000
    if not answer.get("citations"):
        raise RuntimeError(f"a turn came back without citations: {answer}")
    return elapsed


def sequential(api, pid, persona, turns):
    # A fresh session every 10 turns: a student's session holds tens of messages, not hundreds.
    sessions = [api.call("POST", f"/api/v1/personas/{persona}/sessions", {})["id"] for _ in range(turns // 10 + 1)]
    for _ in range(5):  # warm-up: connection, caches, first-use paths
        turn(api, sessions[-1])
    cpu0 = cpu_ms(pid)
    latencies = [turn(api, sessions[i // 10]) for i in range(turns)]
    cpu = cpu_ms(pid) - cpu0
    searches, cpu0 = [], cpu_ms(pid)
    for _ in range(turns):
        started = time.perf_counter()
        api.call("POST", "/api/v1/search", {"query": QUESTION, "top_k": 5})
        searches.append((time.perf_counter() - started) * 1000)
    search_cpu = cpu_ms(pid) - cpu0
    return {"turns": turns, "p50_ms": pct(latencies, 0.5), "p99_ms": pct(latencies, 0.99),
            "server_cpu_ms_per_turn": round(cpu / turns, 3),
            "search_p50_ms": pct(searches, 0.5), "search_p99_ms": pct(searches, 0.99),
            "server_cpu_ms_per_search": round(search_cpu / turns, 3),
            "turn_minus_search_p50_ms": round(pct(latencies, 0.5) - pct(searches, 0.5), 2)}


def concurrent_turns(port, token, pid, persona, clients, turns):
    sessions = [Api(port, token).call("POST", f"/api/v1/personas/{persona}/sessions", {})["id"]
                for _ in range(clients)]
    per_client = max(1, min(10, turns // clients))
    barrier = threading.Barrier(clients)

    def client(session):
        api = Api(port, token)
        turn(api, session)
        barrier.wait()
        return [turn(api, session) for _ in range(per_client)]

    cpu0, started = cpu_ms(pid), time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        latencies = [x for batch in pool.map(client, sessions) for x in batch]
    wall, cpu = time.perf_counter() - started, cpu_ms(pid) - cpu0
    return {"clients": clients, "turns": len(latencies), "turns_per_s": round(len(latencies) / wall, 1),
            "p50_ms": pct(latencies, 0.5), "p99_ms": pct(latencies, 0.99),
            "server_cpu_ms_per_turn": round(cpu / len(latencies), 3)}


# ---- a minimal WebSocket client (RFC 6455: masked text frames out, pings answered)

def frame(opcode, payload):
    mask = os.urandom(4)
    head = bytes([0x80 | opcode])
    n = len(payload)
    head += bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def read_frame(reader):
    b0, b1 = await reader.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack(">H", await reader.readexactly(2))[0]
    elif n == 127:
        n = struct.unpack(">Q", await reader.readexactly(8))[0]
    return b0 & 0x0F, await reader.readexactly(n)


async def open_socket(port, token, persona):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET /api/v1/chat/ws?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                  f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"WebSocket upgrade refused: {head[:200]!r}")
    writer.write(frame(1, json.dumps({"type": "session.open", "persona_id": persona}).encode()))
    while True:
        opcode, payload = await read_frame(reader)
        if opcode == 1 and json.loads(payload).get("type") == "session.ready":
            return reader, writer
        if opcode == 8:
            raise RuntimeError(f"closed before session.ready: {payload!r}")


async def keep_alive(reader, writer, closed):
    try:
        while True:
            opcode, payload = await read_frame(reader)
            if opcode == 9:
                writer.write(frame(10, payload))
            elif opcode == 8:
                closed.append(payload)
                return
    except (asyncio.IncompleteReadError, ConnectionError):
        closed.append(b"eof")


async def idle_sockets(port, token, pid, persona, count, hold_secs, probe):
    before = rss_kib(pid)
    sockets, closed, tasks = [], [], []
    for start in range(0, count, 200):  # in waves, as real clients arrive
        opened = await asyncio.gather(*(open_socket(port, token, persona) for _ in range(start, min(count, start + 200))))
        for reader, writer in opened:
            sockets.append(writer)
            tasks.append(asyncio.create_task(keep_alive(reader, writer, closed)))
    await asyncio.sleep(hold_secs)
    after = rss_kib(pid)
    turn_ms = await asyncio.get_running_loop().run_in_executor(None, probe)
    for writer in sockets:
        writer.close()
    for task in tasks:
        task.cancel()
    return {"connections": len(sockets), "closed_by_server_while_idle": len(closed), "held_secs": hold_secs,
            "rss_before_mib": round(before / 1024, 1), "rss_after_mib": round(after / 1024, 1),
            "kib_per_connection": round((after - before) / max(1, len(sockets)), 1),
            "turn_ms_while_held": round(turn_ms, 2)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True)
    # The local model by default: a fake embedder's random vectors would make the relevance gate refuse turns.
    ap.add_argument("--embedder", choices=("fake", "local"), default="local")
    ap.add_argument("--model-dir", default="/var/tmp/bwenge-model/all-MiniLM-L6-v2")
    ap.add_argument("--turns", type=int, default=300)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--concurrent-turns", type=int, default=500)
    ap.add_argument("--idle", type=int, default=5000)
    ap.add_argument("--hold-secs", type=float, default=20)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()

    here = os.path.dirname(os.path.abspath(__file__))
    procs = []
    with tempfile.TemporaryDirectory(prefix="bwenge-chat-bench-") as data_dir:
        try:
            embed_port, llm_port = free_port(), free_port()
            if a.embedder == "fake":
                procs.append(subprocess.Popen([sys.executable, os.path.join(here, "fake_embeddings.py"),
                                               "--port", str(embed_port)], stdout=subprocess.DEVNULL))
            procs.append(subprocess.Popen([sys.executable, os.path.join(here, "fake_llm.py"), "--port",
                                           str(llm_port)], stdout=subprocess.DEVNULL))
            os.environ.update(BWENGE__LLM__BASE_URL=f"http://127.0.0.1:{llm_port}/v1", BWENGE__LLM__MODEL="fake")
            server, port = start_server(a, data_dir, embed_port)
            procs.append(server)
            api = Api(port)
            email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
            token = api.call("POST", "/api/v1/auth/register", {"org_name": "Bench", "email": email,
                             "password": "Bench-pass-123456!", "name": "Bench"})["access_token"]
            api.token = token
            collection = api.call("POST", "/api/v1/collections", {"name": "bench"})["id"]
            text = corpus.document(0, 50 * 1024) + b"\n\nRivers carve valleys over time by erosion.\n"
            body, ctype = multipart("rivers.txt", text)
            doc = api.call("POST", f"/api/v1/collections/{collection}/documents", raw=body, ctype=ctype)["id"]
            while api.call("GET", f"/api/v1/documents/{doc}")["status"] not in ("ready", "failed"):
                time.sleep(0.1)
            persona = api.call("POST", "/api/v1/personas", {"name": "Tutor", "collection_ids": [collection]})["id"]
            session = api.call("POST", f"/api/v1/personas/{persona}/sessions", {})["id"]

            result = {"embedder": a.embedder, "binary": a.binary, "cores": os.cpu_count(),
                      "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}
            result["sequential"] = sequential(api, server.pid, persona, a.turns)
            print(json.dumps({"sequential": result["sequential"]}), flush=True)
            result["concurrent"] = concurrent_turns(port, token, server.pid, persona, a.clients, a.concurrent_turns)
            print(json.dumps({"concurrent": result["concurrent"]}), flush=True)
            result["idle_websockets"] = asyncio.run(idle_sockets(
                port, token, server.pid, persona, a.idle, a.hold_secs, lambda: turn(Api(port, token), session)))
            print(json.dumps({"idle_websockets": result["idle_websockets"]}), flush=True)
            if a.out:
                os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
                with open(a.out, "w") as f:
                    json.dump(result, f, indent=2)
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(timeout=30)


if __name__ == "__main__":
    main()
