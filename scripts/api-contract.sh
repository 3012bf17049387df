#!/usr/bin/env bash
# The API as a contract, checked against a served instance:
#   1. the OpenAPI document is valid OpenAPI 3.1 (openapi-spec-validator);
#   2. schemathesis sends every operation generated valid and invalid requests, signed in as an admin: no 5xx, no
#      dropped connection, every status, content type and body as documented, and schema-violating input refused.
#
# Usage: scripts/api-contract.sh BWENGE_BINARY PYTHON_VENV
# The venv must have openapi-spec-validator and schemathesis (.ci/run installs them, pinned). SCHEMATHESIS_EXAMPLES
# (default 25 per operation) and SCHEMATHESIS_SEED (default 1, for a reproducible run) tune the second step.
set -euo pipefail

binary="$1"
venv="$2"
examples="${SCHEMATHESIS_EXAMPLES:-25}"
seed="${SCHEMATHESIS_SEED:-1}"
work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"

# Thousands of requests from one address and one account in a minute: the limits are raised for this instance only
# (they have their own tests).
BWENGE__RATELIMIT__AUTH_PER_IP_PER_MINUTE=10000000 \
BWENGE__RATELIMIT__REGISTER_PER_IP_PER_HOUR=10000000 \
BWENGE__RATELIMIT__LOGIN_PER_ACCOUNT_PER_15MIN=10000000 \
BWENGE__RATELIMIT__API_PER_USER_PER_MINUTE=10000000 \
BWENGE__RATELIMIT__API_PER_ORG_PER_MINUTE=10000000 \
BWENGE__ANALYTICS__CLIENT_EVENTS_PER_MINUTE=10000000 \
BWENGE__LOG__LEVEL=warn \
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

echo "-- openapi-spec-validator"
curl -fs "$base/api/openapi.json" -o "$work/openapi.json"
"$venv/bin/openapi-spec-validator" "$work/openapi.json"

echo "-- schemathesis ($examples examples per operation, seed $seed)"
token="$(curl -fs -X POST "$base/api/v1/auth/register" -H 'content-type: application/json' \
  -d '{"org_name":"Contract school","email":"contract-admin@example.org","password":"correct horse battery staple","name":"Contract Admin"}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"
# `logout` is left out: with no body it signs the admin out everywhere, and every later request would test only the
# refusal of a revoked token (its behaviour has its own tests).
set +e
(cd "$work" && "$venv/bin/schemathesis" run "$base/api/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection \
  --max-examples "$examples" --seed "$seed" --exclude-operation-id logout \
  --request-timeout 30 --no-color)
status=$?
set -e
if [ $status -ne 0 ]; then
  echo "== server log (warnings and errors)"
  tail -n 200 "$work/server.log"
  exit $status
fi
grep -q "panicked" "$work/server.log" && { grep -B2 -A20 "panicked" "$work/server.log"; echo "the server panicked" >&2; exit 1; }
echo "API contract holds"
