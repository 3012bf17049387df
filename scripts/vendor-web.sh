#!/usr/bin/env bash
# Vendors the web app's libraries from the npm registry into static/vendor/, pinned, checked and recorded.
#
#   scripts/vendor-web.sh          fetch each pinned package (npm pack), check the tarball against the registry's
#                                  integrity (sha512), copy the browser files, rewrite bare and nested imports
#                                  to flat relative ones (no import map: the CSP allows no inline script; every
#                                  file sits in one folder), record everything in static/vendor/VERSIONS.json
#   scripts/vendor-web.sh --check  offline: every vendored file still has the sha256 VERSIONS.json records
#
# The app has no build step: these files are served as they are, from inside the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
out=static/vendor
manifest="$out/VERSIONS.json"

# package@version  file-in-package  vendored-name
packages=(
  "preact@11.2.0 dist/preact.mjs preact.mjs"
  "preact@11.2.0 hooks/dist/hooks.mjs preact-hooks.mjs"
  "htm@3.1.1 dist/htm.module.js htm.mjs"
  "marked@18.2.1 lib/marked.esm.js marked.mjs"
  "dompurify@3.4.18 dist/purify.es.mjs purify.mjs"
  # three.js, loaded only when a tutor has a 3D avatar (a dynamic import, so no other page pays for it).
  "three@0.187.0 build/three.core.js three.core.js"
  "three@0.187.0 build/three.module.js three.module.js"
  "three@0.187.0 examples/jsm/loaders/GLTFLoader.js GLTFLoader.js"
  "three@0.187.0 examples/jsm/utils/BufferGeometryUtils.js BufferGeometryUtils.js"
  "three@0.187.0 examples/jsm/utils/SkeletonUtils.js SkeletonUtils.js"
  # uPlot, the analytics pages' line charts (a dynamic import too).
  "uplot@1.6.32 dist/uPlot.esm.js uPlot.esm.js"
  "uplot@1.6.32 dist/uPlot.min.css uPlot.min.css"
)

# Bare specifiers become the vendored file names; the addons' `../utils/X.js` become siblings. Both quote styles,
# with or without a space (the minified builds drop it). Checked below: no import may be left that does not resolve.
rewrite() {
  sed -E \
    -e "s#from( ?)([\"'])preact\\2#from\\1\\2./preact.mjs\\2#g" \
    -e "s#from( ?)([\"'])three\\2#from\\1\\2./three.module.js\\2#g" \
    -e "s#from( ?)([\"'])\\.\\./(utils|loaders)/([A-Za-z]+\\.js)\\2#from\\1\\2./\\4\\2#g" \
    "$1"
}

if [ "${1:-}" = "--check" ]; then
  python3 - "$manifest" "$out" <<'PY'
import hashlib, json, pathlib, sys
manifest, out = json.load(open(sys.argv[1])), pathlib.Path(sys.argv[2])
bad = [f["file"] for p in manifest["packages"] for f in p["files"]
       if hashlib.sha256((out / f["file"]).read_bytes()).hexdigest() != f["sha256"]]
if bad:
    sys.exit(f"vendored files differ from VERSIONS.json: {bad}")
print(f"{sum(len(p['files']) for p in manifest['packages'])} vendored files match VERSIONS.json")
PY
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
records="$work/records.jsonl"
: >"$records"
for entry in "${packages[@]}"; do
  read -r spec path name <<<"$entry"
  tarball="$work/${spec//[@\/]/_}.tgz"
  if [ ! -f "$tarball" ]; then
    (cd "$work" && npm pack "$spec" --silent >/dev/null)
    mv "$work/$(cd "$work" && ls -t *.tgz | head -n1)" "$tarball"
    expected="$(npm view "$spec" dist.integrity)"
    actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
    [ "$expected" = "$actual" ] || { echo "$spec: integrity $actual, registry says $expected" >&2; exit 1; }
    echo "$expected" >"$work/${spec//[@\/]/_}.integrity"
    mkdir -p "$work/${spec//[@\/]/_}"
    tar -xzf "$tarball" -C "$work/${spec//[@\/]/_}"
  fi
  src="$work/${spec//[@\/]/_}/package/$path"
  rewrite "$src" >"$out/$name"
  python3 - "$spec" "$(cat "$work/${spec//[@\/]/_}.integrity")" "$path" "$name" "$out/$name" >>"$records" <<'PY'
import hashlib, json, sys
spec, integrity, path, name, file = sys.argv[1:]
print(json.dumps({"package": spec, "integrity": integrity, "from": path, "file": name,
                  "sha256": hashlib.sha256(open(file, "rb").read()).hexdigest()}))
PY
done
# Every static import of a vendored file must name a sibling that exists: a missed rewrite fails here, not in a
# browser.
python3 - "$out" <<'PY'
import pathlib, re, sys
out = pathlib.Path(sys.argv[1])
# Statements, not mentions: an import starts its line (or closes a multi-line `{ … } from`); doc comments that
# quote an import start with `*` and are left alone.
statement = re.compile(r"""^\s*(?:(?:import|export|\})[^'"\n]*?\bfrom\s*|import\s*)["']([^"']+)["']""", re.M)
bad = [f"{f.name}: {spec}" for f in sorted(out.iterdir()) if f.suffix in (".js", ".mjs")
       for spec in statement.findall(f.read_text())
       if not (spec.startswith("./") and "/" not in spec[2:] and (out / spec[2:]).is_file())]
if bad:
    sys.exit("imports that do not resolve inside static/vendor: " + ", ".join(bad))
PY
python3 - "$records" "$manifest" <<'PY'
import json, sys
packages = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    p = packages.setdefault(r["package"], {"package": r["package"], "integrity": r["integrity"], "files": []})
    p["files"].append({"from": r["from"], "file": r["file"], "sha256": r["sha256"]})
json.dump({"note": "written by scripts/vendor-web.sh; do not edit", "packages": list(packages.values())},
          open(sys.argv[2], "w"), indent=2)
PY
echo "vendored into $out:"; ls -la "$out"
