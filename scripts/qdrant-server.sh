#!/usr/bin/env bash
# Starts a throwaway Qdrant server (the one built for this machine kind in ../shared/bin, see its README) on free
# loopback ports with a temporary storage dir, waits until it answers, and prints `export` lines for its gRPC URL
# and pid. `stop` stops it and removes its storage.
#
# Usage: eval "$(scripts/qdrant-server.sh start)"; ...; scripts/qdrant-server.sh stop
set -euo pipefail

state="${TMPDIR:-/tmp}/bwenge-qdrant"
case "${1:-start}" in
  start)
    binary="${QDRANT_BIN:-}"
    if [ -z "$binary" ]; then
      for candidate in "$(dirname "$0")/../../shared/bin/qdrant" /work/shared/bin/qdrant "$(command -v qdrant || true)"; do
        if [ -n "$candidate" ] && [ -x "$candidate" ]; then binary="$(readlink -f "$candidate")"; break; fi
      done
    fi
    if [ -z "$binary" ]; then
      echo "echo 'no Qdrant server binary (set QDRANT_BIN)' >&2; false"
      exit 0
    fi
    rm -rf "$state" && mkdir -p "$state"
    free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
    http="$(free_port)"
    grpc="$(free_port)"
    # From a scratch dir: the server looks for ./config and ./static there.
    # Everything the background part holds is the log file, not our stdout: `$(...)` around this script returns.
    (
      cd "$state"
      export QDRANT__SERVICE__HOST=127.0.0.1 QDRANT__SERVICE__HTTP_PORT="$http" QDRANT__SERVICE__GRPC_PORT="$grpc" \
        QDRANT__STORAGE__STORAGE_PATH="$state/storage" QDRANT__STORAGE__SNAPSHOTS_PATH="$state/snapshots" \
        QDRANT__TELEMETRY_DISABLED=true
      exec "$binary"
    ) >"$state/qdrant.log" 2>&1 </dev/null &
    echo $! >"$state/pid"
    for _ in $(seq 1 100); do
      curl -fsS "http://127.0.0.1:$http/readyz" >/dev/null 2>&1 && break
      sleep 0.2
    done
    curl -fsS "http://127.0.0.1:$http/" >&2
    echo >&2
    echo "export TEST_QDRANT_URL=http://127.0.0.1:$grpc QDRANT_PID=$(cat "$state/pid")"
    ;;
  stop)
    if [ -f "$state/pid" ]; then kill "$(cat "$state/pid")" 2>/dev/null || true; fi
    rm -rf "$state"
    ;;
esac
