#!/usr/bin/env python3
"""An instant OpenAI-compatible embeddings service, for measuring Bwenge's own ingest overhead (stdlib only).

`POST /v1/embeddings {"input": [...]}` answers with one deterministic vector per input (`--dim` floats derived
from SHA-512 of the text), so the same text always gets the same vector; as JSON numbers, or as base64 of
little-endian f32 when the request asks `encoding_format: "base64"`, as OpenAI's API does. Vectors are built from a table of
preformatted numbers so that answering costs microseconds per input, not the JSON encoding of 384 floats.

    python3 benches/fake_embeddings.py --port 8099 [--dim 384]
    # then: BWENGE__EMBEDDINGS__PROVIDER=openai BWENGE__EMBEDDINGS__BASE_URL=http://127.0.0.1:8099/v1 \
    #       BWENGE__EMBEDDINGS__MODEL=fake bwenge serve ...
"""
import argparse
import base64
import hashlib
import json
import struct
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Byte value -> its float in [-1, 1] as JSON text.
NUMBERS = ["%.4f" % ((b - 127.5) / 127.5) for b in range(256)]


def vector_bytes(text, dim):
    """`dim` pseudo-random bytes from SHA-512 of the text, one per dimension."""
    data = text.encode("utf-8", "replace")
    raw = b""
    block = 0
    while len(raw) < dim:
        raw += hashlib.sha512(block.to_bytes(2, "little") + data).digest()
        block += 1
    return raw[:dim]


def vector_json(text, dim):
    return "[" + ",".join(NUMBERS[b] for b in vector_bytes(text, dim)) + "]"


# Byte value -> the same float as little-endian f32 bytes, for `encoding_format: "base64"`.
PACKED = [struct.pack("<f", float(n)) for n in NUMBERS]


def vector_base64(text, dim):
    return '"' + base64.b64encode(b"".join(PACKED[b] for b in vector_bytes(text, dim))).decode() + '"'


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real endpoint behind reqwest
    # Headers and body go out in separate writes; with Nagle's algorithm on, the client's delayed ACK would hold
    # every answer back ~40 ms.
    disable_nagle_algorithm = True
    dim = 384
    calls = 0
    inputs = 0

    def log_message(self, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        try:
            request = json.loads(self.rfile.read(length))
        except ValueError:
            return self.reply(400, b'{"error":{"message":"bad json"}}')
        texts = request.get("input", [])
        if isinstance(texts, str):
            texts = [texts]
        Handler.calls += 1
        Handler.inputs += len(texts)
        encode = vector_base64 if request.get("encoding_format") == "base64" else vector_json
        items = ",".join(
            '{"object":"embedding","index":%d,"embedding":%s}' % (i, encode(t, self.dim))
            for i, t in enumerate(texts)
        )
        body = '{"object":"list","model":"fake","data":[%s],"usage":{"prompt_tokens":0,"total_tokens":0}}' % items
        self.reply(200, body.encode())

    def do_GET(self):
        self.reply(200, json.dumps({"calls": Handler.calls, "inputs": Handler.inputs}).encode())

    def reply(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=8099)
    ap.add_argument("--dim", type=int, default=384)
    a = ap.parse_args()
    Handler.dim = a.dim
    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    print(f"fake embeddings on http://127.0.0.1:{a.port}/v1 ({a.dim} dimensions)", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
