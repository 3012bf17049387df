#!/usr/bin/env python3
"""An instant OpenAI-compatible chat endpoint, for measuring Bwenge's own time per turn (stdlib only, asyncio).

`POST /v1/chat/completions` with `stream: true` answers at once with an SSE stream: a few content deltas that cite
`[1]` and carry a `[cue:encourage]` tag (so the server's citation and cue paths run), a finish chunk, a usage
chunk and `[DONE]`. Without `stream` it answers one JSON completion. Keep-alive, like a real endpoint.

    python3 benches/fake_llm.py --port 8098
    # then: BWENGE__LLM__BASE_URL=http://127.0.0.1:8098/v1 BWENGE__LLM__MODEL=fake bwenge serve ...
"""
import argparse
import asyncio
import json

DELTAS = ["Rivers carve ", "valleys by erosion [1]. ", "[cue:encourage]", "Good question!"]


def chunk(delta, finish=None, usage=None):
    body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "fake",
            "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage:
        body["usage"] = usage
    return "data: %s\n\n" % json.dumps(body)


USAGE = {"prompt_tokens": 400, "completion_tokens": 12, "total_tokens": 412}
STREAM = "".join([chunk({"role": "assistant", "content": ""})] + [chunk({"content": d}) for d in DELTAS]
                 + [chunk({}, "stop"), chunk(None, usage=USAGE), "data: [DONE]\n\n"]).encode()
COMPLETION = json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "fake",
                         "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": "".join(DELTAS)}}],
                         "usage": USAGE}).encode()


async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = json.loads(await reader.readexactly(length)) if length else {}
            if body.get("stream"):
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: %d\r\n\r\n"
                             % len(STREAM) + STREAM)
            else:
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
                             % len(COMPLETION) + COMPLETION)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def serve(port):
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    print(f"fake LLM on http://127.0.0.1:{port}/v1", flush=True)
    async with server:
        await server.serve_forever()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=8098)
    asyncio.run(serve(ap.parse_args().port))


if __name__ == "__main__":
    main()
