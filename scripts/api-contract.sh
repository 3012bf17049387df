#!/usr/bin/env bash
# The API as a contract, checked against a served instance: the OpenAPI document is valid OpenAPI 3.1
# (openapi-spec-validator).
#
# Usage: scripts/api-contract.sh BWENGE_BINARY PYTHON_VENV
# The venv must have openapi-spec-validator (.ci/run installs it, pinned).
set -euo pipefail

binary="$1"
venv="$2"
work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"

"$binary" serve --port "$port" --data-dir "$work/data" >"$work/server.log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for _ in $(seq 1 100); do
  curl -fs "$base/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fs "$base/readyz" >/dev/null || { cat "$work/server.log"; echo "the server did not get ready" >&2; exit 1; }

curl -fs "$base/api/openapi.json" -o "$work/openapi.json"
"$venv/bin/openapi-spec-validator" "$work/openapi.json"
