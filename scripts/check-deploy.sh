#!/usr/bin/env bash
# Checks the deployment configuration in config/deploy/ with the real tools where there are any:
#   - every YAML and JSON file parses;
#   - docker-compose.yml's structure (no Docker engine or compose plugin is needed): services, images, depends_on,
#     healthchecks, volumes, mounted files, and that every ${VAR} it uses is documented in env.example;
#   - every BWENGE__SECTION__KEY set by compose or Kubernetes is a key of config/default.toml;
#   - nginx.conf with `nginx -t` (upstream hosts pointed at 127.0.0.1, a throwaway self-signed certificate);
#   - prometheus/*.yml with `promtool check config`, alerts.yml with `promtool check rules` and its unit tests
#     (alerts.test.yml) with `promtool test rules`; the metric names in the alerts and the Grafana dashboard
#     against the ones src/platform/metrics.rs registers;
#   - every Kubernetes manifest with kubernetes-validate (strict), the kustomization's rendered output too when
#     kubectl is there, and that selectors, names and timings agree across the manifests;
#   - the Grafana dashboard, its provisioning and the Promtail pipelines for the fields they need.
#
# Usage (from anywhere; it works on the repository it lives in):  bash scripts/check-deploy.sh [VENV]
# VENV (default /var/tmp/bwenge-venv, shared with .ci/run) gets pinned kubernetes-validate and PyYAML.
# Missing tools are installed: nginx and promtool from Debian (apt-get, as root), the Python packages from PyPI.
# It prints what it checked and exits non-zero when any check fails (every check runs either way).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DEPLOY=config/deploy
VENV="${1:-${BWENGE_VENV:-/var/tmp/bwenge-venv}}"
KUBERNETES_VALIDATE_VERSION=1.37.0
PYYAML_VERSION=6.0.3
started=$SECONDS

work="$(mktemp -d)"
policy_rc_created=""
cleanup() {
    rm -rf "$work"
    # Only the file this script created, never one that was there before.
    if [ -n "$policy_rc_created" ]; then rm -f /usr/sbin/policy-rc.d; fi
}
trap cleanup EXIT

failed=()
passed=()
skipped=()
section() { printf '\n== %s\n' "$*"; }
# check NAME COMMAND...: runs it, records PASS or FAIL, and carries on either way.
check() {
    local name="$1"
    shift
    if "$@"; then
        passed+=("$name")
        printf 'PASS  %s\n' "$name"
    else
        failed+=("$name")
        printf 'FAIL  %s\n' "$name"
    fi
}
skip() {
    skipped+=("$1: $2")
    printf 'SKIP  %s (%s)\n' "$1" "$2"
}

# ---------------------------------------------------------------------------------------------------------------
section "Tools"

apt_updated=""
apt_install() {
    if [ "$(id -u)" != 0 ]; then
        echo "cannot install $* without root: install it and run again" >&2
        return 1
    fi
    # Debian starts a service when its package is installed: nginx would take port 80. A policy-rc.d that says
    # "no" prevents that (container images often have one already; then it is left alone).
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        policy_rc_created=1
    fi
    if [ -z "$apt_updated" ]; then
        apt-get update -qq
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    echo "installing nginx-light (for nginx -t)"
    apt_install nginx-light || apt_install nginx || true
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

if ! command -v promtool >/dev/null 2>&1; then
    echo "installing prometheus (for promtool)"
    if ! apt_install prometheus; then
        echo "promtool is not available as a Debian package here (package prometheus); the Prometheus checks fail"
    fi
fi

if ! command -v openssl >/dev/null 2>&1; then
    echo "installing openssl (for the throwaway certificate)"
    apt_install openssl || true
fi

if [ ! -x "$VENV/bin/pip" ]; then
    echo "creating the venv $VENV"
    python3 -m venv "$VENV" 2>/dev/null || {
        apt_install python3-venv
        python3 -m venv "$VENV"
    }
fi
"$VENV/bin/pip" install -q --disable-pip-version-check \
    "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" "PyYAML==$PYYAML_VERSION"
PY="$VENV/bin/python"

printf 'nginx:               %s\n' "$("$NGINX" -v 2>&1 || echo missing)"
printf 'promtool:            %s\n' "$(promtool --version 2>/dev/null | head -n1 || echo missing)"
printf 'kubernetes-validate: %s\n' "$("$VENV/bin/kubernetes-validate" --version 2>&1)"
printf 'python:              %s\n' "$("$PY" --version 2>&1)"

# ---------------------------------------------------------------------------------------------------------------
section "Well-formed YAML and JSON"

parse_all() {
    "$PY" - "$DEPLOY" <<'PYEOF'
import json, pathlib, sys
import yaml
root = pathlib.Path(sys.argv[1])
bad = 0
files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".yml", ".yaml", ".json"))
for path in files:
    try:
        if path.suffix == ".json":
            json.loads(path.read_text())
        else:
            docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
            if not docs:
                raise ValueError("no document")
        print(f"  ok    {path}")
    except Exception as e:  # noqa: BLE001 - any parse error is the finding
        bad += 1
        print(f"  BAD   {path}: {e}")
print(f"  {len(files)} files, {bad} malformed")
sys.exit(1 if bad or not files else 0)
PYEOF
}
check "YAML/JSON parse" parse_all

# ---------------------------------------------------------------------------------------------------------------
section "docker-compose.yml (structure; no Docker engine here)"

check_compose() {
    "$PY" - "$DEPLOY" <<'PYEOF'
import pathlib, re, sys
import yaml
deploy = pathlib.Path(sys.argv[1])
text = (deploy / "docker-compose.yml").read_text()
doc = yaml.safe_load(text)
errors = []
def err(msg): errors.append(msg)

TOP = {"name", "services", "networks", "volumes", "configs", "secrets", "include"}
for key in doc:
    if key not in TOP and not key.startswith("x-"):
        err(f"unknown top-level key {key!r}")
SERVICE_KEYS = {
    "image", "build", "command", "entrypoint", "environment", "env_file", "depends_on", "healthcheck", "volumes",
    "ports", "expose", "networks", "restart", "deploy", "profiles", "read_only", "tmpfs", "user", "working_dir",
    "stop_signal", "stop_grace_period", "labels", "logging", "ulimits", "cap_drop", "cap_add", "security_opt",
    "container_name", "hostname", "init", "shm_size", "mem_limit", "cpus", "secrets", "configs", "extra_hosts",
}
services = doc.get("services") or {}
for name in ("postgres", "qdrant", "redis", "minio", "minio-init", "migrate", "bwenge", "nginx"):
    if name not in services:
        err(f"service {name!r} is missing")
expected_images = {
    "bwenge": "${BWENGE_IMAGE:-localhost/bwenge:latest}",
    "migrate": "${BWENGE_IMAGE:-localhost/bwenge:latest}",
    "postgres": "postgres:15",
    "qdrant": "qdrant/qdrant:v1.18.1",
    "redis": "redis:7",
}
for name, image in expected_images.items():
    got = (services.get(name) or {}).get("image")
    if got != image:
        err(f"service {name}: image {got!r}, expected {image!r}")
declared_volumes = set((doc.get("volumes") or {}).keys())
used_volumes = set()
for name, svc in services.items():
    svc = svc or {}
    for key in svc:
        if key not in SERVICE_KEYS:
            err(f"service {name}: unknown key {key!r}")
    image = svc.get("image")
    if not isinstance(image, str) or not image.strip():
        err(f"service {name}: no image")
    elif not image.startswith("${") and ":" not in image.rsplit("/", 1)[-1]:
        err(f"service {name}: image {image!r} has no tag (pin one)")
    deps = svc.get("depends_on") or {}
    if isinstance(deps, list):
        deps = {d: {"condition": "service_started"} for d in deps}
    for dep, spec in deps.items():
        if dep not in services:
            err(f"service {name}: depends_on unknown service {dep!r}")
            continue
        cond = (spec or {}).get("condition", "service_started")
        if cond not in ("service_started", "service_healthy", "service_completed_successfully"):
            err(f"service {name}: depends_on {dep} with unknown condition {cond!r}")
        if cond == "service_healthy" and not (services[dep] or {}).get("healthcheck"):
            err(f"service {name}: waits for {dep} to be healthy, but {dep} has no healthcheck")
        if not svc.get("profiles") and (services[dep] or {}).get("profiles"):
            err(f"service {name} (always on) depends on {dep}, which only runs in a profile")
    for vol in svc.get("volumes") or []:
        if isinstance(vol, str):
            source = vol.split(":", 1)[0] if ":" in vol else ""
        else:
            source = (vol or {}).get("source", "")
        if not source:
            continue  # an anonymous volume: the container's own
        if source.startswith(("./", "../", "/")):
            if source.startswith("/"):
                continue  # a host path such as the Docker socket
            path = (deploy / source).resolve()
            # ./tls holds the real certificate, which is never committed.
            if not path.exists() and source.rstrip("/") != "./tls":
                err(f"service {name}: mounts {source}, which does not exist")
        else:
            used_volumes.add(source)
            if source not in declared_volumes:
                err(f"service {name}: named volume {source!r} is not declared under volumes:")
for vol in declared_volumes - used_volumes:
    err(f"volume {vol!r} is declared but no service uses it")
bwenge = services.get("bwenge") or {}
test = (bwenge.get("healthcheck") or {}).get("test") or []
if "healthcheck" not in " ".join(test) or "bwenge" not in " ".join(test):
    err("service bwenge: the healthcheck should be `bwenge healthcheck` (the image has no curl)")
env = bwenge.get("environment") or {}
for key in ("DATABASE_URL", "REDIS_URL", "QDRANT_URL", "BWENGE__STORAGE__URL", "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT", "BWENGE__AUTH__JWT_SECRET", "BWENGE__ASSETS__SIGNING_SECRET",
            "BWENGE_ENV"):
    if key not in env:
        err(f"service bwenge: environment lacks {key}")
migrate = services.get("migrate") or {}
if migrate.get("command") != ["migrate"]:
    err("service migrate: command should be [migrate]")
if ((bwenge.get("depends_on") or {}).get("migrate") or {}).get("condition") != "service_completed_successfully":
    err("service bwenge: should wait for migrate to complete")

# Every variable compose interpolates is documented in env.example, and env.example documents nothing else.
# Values only (comments are not interpolated); $$ is an escaped dollar (the shell's, inside a command).
def strings(node):
    if isinstance(node, dict):
        for k, v in node.items():
            yield str(k)
            yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)
    elif isinstance(node, str):
        yield node
used = set()
for value in strings(doc):
    value = value.replace("$$", "")
    used |= set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", value))
    used |= set(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", value))
example = {
    line.split("=", 1)[0].strip()
    for line in (deploy / "env.example").read_text().splitlines()
    if "=" in line and not line.lstrip().startswith("#")
}
for var in sorted(used - example):
    err(f"${{{var}}} is used in docker-compose.yml but not in env.example")
for var in sorted(example - used):
    err(f"{var} is in env.example but docker-compose.yml never uses it")

print(f"  {len(services)} services: {', '.join(services)}")
print(f"  {len(used)} variables, all in env.example" if not (used ^ example) else "  variables: see above")
for e in errors:
    print(f"  ERROR {e}")
sys.exit(1 if errors else 0)
PYEOF
}
check "compose structure" check_compose

# ---------------------------------------------------------------------------------------------------------------
section "Configuration keys exist in config/default.toml"

check_config_keys() {
    "$PY" - "$DEPLOY" <<'PYEOF'
import pathlib, re, sys, tomllib
import yaml
deploy = pathlib.Path(sys.argv[1])
defaults = tomllib.loads(pathlib.Path("config/default.toml").read_text())
# Variables Bwenge reads besides BWENGE__SECTION__KEY: the conventional URLs, the config layer switches, and the
# AWS_* options object_store accepts for S3.
KNOWN = {"BWENGE_ENV", "BWENGE_CONFIG_DIR", "DATABASE_URL", "REDIS_URL", "QDRANT_URL", "RUST_LOG",
         "RAYON_NUM_THREADS", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION",
         "AWS_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_ALLOW_HTTP", "AWS_SESSION_TOKEN",
         "AWS_VIRTUAL_HOSTED_STYLE_REQUEST"}
names = {}
compose = yaml.safe_load((deploy / "docker-compose.yml").read_text())
for svc in ("bwenge", "migrate"):
    for key in (compose["services"][svc].get("environment") or {}):
        names.setdefault(key, f"docker-compose.yml ({svc})")
for path in sorted((deploy / "k8s").glob("*.yaml")):
    for doc in yaml.safe_load_all(path.read_text()):
        if doc and doc.get("kind") == "ConfigMap":
            for key in doc.get("data") or {}:
                names.setdefault(key, str(path))
        if doc and doc.get("kind") == "Secret":
            for key in doc.get("stringData") or {}:
                names.setdefault(key, str(path))
    # Commented-out optional keys in the example secret are checked too.
    for key in re.findall(r"^\s*#\s*(BWENGE__[A-Z0-9_]+):", path.read_text(), re.M):
        names.setdefault(key, str(path))
errors = 0
for name, where in sorted(names.items()):
    if name.startswith("BWENGE__"):
        parts = [p.lower() for p in name[len("BWENGE__"):].split("__")]
        node = defaults
        for part in parts:
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            errors += 1
            print(f"  ERROR {name} ({where}): no key {'.'.join(parts)} in config/default.toml")
    elif name not in KNOWN:
        errors += 1
        print(f"  ERROR {name} ({where}): not a variable Bwenge reads")
print(f"  {len(names)} variables checked")
sys.exit(1 if errors else 0)
PYEOF
}
check "config keys" check_config_keys

# ---------------------------------------------------------------------------------------------------------------
section "nginx.conf (nginx -t)"

check_nginx() {
    if [ ! -x "$NGINX" ]; then
        echo "  nginx is not installed"
        return 1
    fi
    local dir="$work/nginx"
    mkdir -p "$dir/tls" "$dir/logs"
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=localhost" \
        -keyout "$dir/tls/privkey.pem" -out "$dir/tls/fullchain.pem" >/dev/null 2>&1 || {
        echo "  openssl could not make the throwaway certificate"
        return 1
    }
    # Upstream hosts (bwenge, minio) do not resolve here: point them at 127.0.0.1, keep the ports. The
    # certificate paths go to the throwaway pair; mime.types is the one the nginx package ships.
    sed -E \
        -e 's#^([[:space:]]*server[[:space:]]+)[A-Za-z][A-Za-z0-9.-]*:([0-9]+)#\1127.0.0.1:\2#' \
        -e "s#/etc/nginx/tls/#$dir/tls/#g" \
        "$DEPLOY/nginx.conf" >"$dir/nginx.conf"
    cp /etc/nginx/mime.types "$dir/mime.types"
    if grep -nE '^[[:space:]]*server[[:space:]]+[A-Za-z][A-Za-z0-9.-]*:[0-9]+' "$dir/nginx.conf"; then
        echo "  an upstream host was not rewritten"
        return 1
    fi
    echo "  upstreams: $(grep -cE '^[[:space:]]*server[[:space:]]+127\.0\.0\.1:' "$dir/nginx.conf") servers pointed at 127.0.0.1"
    # -p/-c: everything relative to the temp dir; -e and pid: no log or pid file under /var or /run.
    "$NGINX" -t -p "$dir/" -c "$dir/nginx.conf" -e "$dir/logs/error.log" -g "pid $dir/nginx.pid;" 2>&1 |
        sed 's/^/  /'

}
check "nginx -t" check_nginx

# ---------------------------------------------------------------------------------------------------------------
section "Prometheus (promtool)"

check_promtool() {
    if ! command -v promtool >/dev/null 2>&1; then
        echo "  promtool is not installed (Debian package prometheus)"
        return 1
    fi
    local dir="$work/prometheus" status=0
    mkdir -p "$dir"
    cp "$DEPLOY"/prometheus/*.yml "$dir/"
    # promtool checks that credentials files exist: give the Kubernetes config a throwaway token file.
    echo "token" >"$dir/metrics-token"
    sed -i -E "s#credentials_file: .*#credentials_file: $dir/metrics-token#" "$dir"/prometheus*.yml
    for config in "$dir"/prometheus*.yml; do
        local out
        out="$(promtool check config "$config" 2>&1)" || true
        if [[ "$out" == *"field kubernetes_sd_configs not found"* ]]; then
            # Debian builds Prometheus without Kubernetes discovery: check everything else, with the discovery
            # block swapped for a static target.
            echo "  $(basename "$config"): this promtool has no kubernetes_sd_configs (Debian build);" \
                "checking the rest with a static target in its place"
            "$PY" - "$config" <<'PYEOF'
import sys, yaml
path = sys.argv[1]
doc = yaml.safe_load(open(path))
for job in doc["scrape_configs"]:
    if job.pop("kubernetes_sd_configs", None) is not None:
        job["static_configs"] = [{"targets": ["127.0.0.1:8080"]}]
yaml.safe_dump(doc, open(path, "w"), sort_keys=False)
PYEOF
        fi
        # pipefail: a pipeline fails when promtool does.
        promtool check config "$config" 2>&1 | sed 's/^/  /' || status=1
    done
    promtool check rules "$dir/alerts.yml" 2>&1 | sed 's/^/  /' || status=1
    (cd "$dir" && promtool test rules alerts.test.yml) 2>&1 | sed 's/^/  /' || status=1
    return "$status"
}
check "promtool check config / check rules / test rules" check_promtool

check_metric_names() {
    "$PY" - "$DEPLOY" <<'PYEOF'
import json, pathlib, re, sys
import yaml
deploy = pathlib.Path(sys.argv[1])
# The names Bwenge registers (prefix bwenge_), read from its source so a rename there shows up here.
source = pathlib.Path("src/platform/metrics.rs").read_text()
registered = set()
for kind, name in re.findall(r"(HistogramOpts|Opts|IntGauge|IntCounter|Gauge|Counter)::new\(\s*\"([a-z_]+)\"", source):
    base = f"bwenge_{name}"
    registered |= {f"{base}_bucket", f"{base}_sum", f"{base}_count"} if kind == "HistogramOpts" else {base}
if not registered:
    print("  ERROR no metric found in src/platform/metrics.rs")
    sys.exit(1)
exprs = []
for group in yaml.safe_load((deploy / "prometheus/alerts.yml").read_text())["groups"]:
    for rule in group["rules"]:
        exprs.append((f"alerts.yml {rule.get('alert') or rule.get('record')}", rule["expr"]))
def walk(panels):
    for panel in panels:
        yield panel
        yield from walk(panel.get("panels") or [])
dash = json.loads((deploy / "grafana/bwenge-dashboard.json").read_text())
for panel in walk(dash["panels"]):
    for target in panel.get("targets") or []:
        if (target.get("datasource") or {}).get("type", "prometheus") == "prometheus":
            exprs.append((f"dashboard panel {panel['title']!r}", target["expr"]))
errors = 0
for where, expr in exprs:
    for name in set(re.findall(r"\bbwenge_[a-z_]+", expr)):
        if name not in registered:
            errors += 1
            print(f"  ERROR {where}: {name} is not a metric Bwenge exports")
print(f"  {len(exprs)} expressions; metrics known: {', '.join(sorted(registered))}")
sys.exit(1 if errors else 0)
PYEOF
}
check "metric names in alerts and dashboard" check_metric_names

# ---------------------------------------------------------------------------------------------------------------
section "Kubernetes manifests (kubernetes-validate --strict)"

check_k8s_schema() {
    local status=0 manifest
    for manifest in "$DEPLOY"/k8s/*.yaml; do
        # kustomization.yaml is kustomize's input, not a Kubernetes object.
        [ "$(basename "$manifest")" = kustomization.yaml ] && continue
        "$VENV/bin/kubernetes-validate" --strict "$manifest" 2>&1 | sed 's/^/  /' || status=1
    done
    return "$status"
}
check "kubernetes-validate" check_k8s_schema

if command -v kubectl >/dev/null 2>&1 && kubectl kustomize "$DEPLOY/k8s" >"$work/rendered.yaml" 2>"$work/kustomize.err"; then
    check_rendered() {
        echo "  kubectl kustomize rendered $(grep -c '^kind:' "$work/rendered.yaml") objects"
        "$VENV/bin/kubernetes-validate" --strict "$work/rendered.yaml" 2>&1 | sed 's/^/  /'
    }
    check "kustomize build + kubernetes-validate" check_rendered
elif command -v kubectl >/dev/null 2>&1; then
    sed 's/^/  /' "$work/kustomize.err"
    check "kustomize build" false
else
    skip "kustomize build" "no kubectl on this machine; the manifests were validated one by one above"
fi

check_k8s_consistency() {
    "$PY" - "$DEPLOY" <<'PYEOF'
import pathlib, re, sys
import yaml
k8s = pathlib.Path(sys.argv[1]) / "k8s"
objs = {}
for path in sorted(k8s.glob("*.yaml")):
    if path.name == "kustomization.yaml":
        continue
    for doc in yaml.safe_load_all(path.read_text()):
        if doc:
            objs[(doc["kind"], doc["metadata"]["name"])] = (path.name, doc)
errors = []
def err(m): errors.append(m)
kust = yaml.safe_load((k8s / "kustomization.yaml").read_text())
listed = set(kust.get("resources") or [])
for path in sorted(k8s.glob("*.yaml")):
    if path.name == "kustomization.yaml":
        continue
    if path.name.startswith("secret") and path.name in listed:
        err(f"{path.name} is in kustomization.yaml: apply -k would push placeholder secrets")
    elif not path.name.startswith("secret") and path.name not in listed:
        err(f"{path.name} is not in kustomization.yaml's resources")
for res in listed:
    if not (k8s / res).exists():
        err(f"kustomization.yaml lists {res}, which does not exist")
_, dep = objs[("Deployment", "bwenge")]
_, svc = objs[("Service", "bwenge")]
_, pdb = objs[("PodDisruptionBudget", "bwenge")]
_, hpa = objs[("HorizontalPodAutoscaler", "bwenge")]
_, ing = objs[("Ingress", "bwenge")]
_, cm = objs[("ConfigMap", "bwenge-config")]
_, job = objs[("Job", "bwenge-migrate")]
secrets = [d for (k, _), (_, d) in objs.items() if k == "Secret"]
pod_labels = dep["spec"]["template"]["metadata"]["labels"]
def selects(selector):
    return selector and all(pod_labels.get(k) == v for k, v in selector.items())
if not selects(dep["spec"]["selector"]["matchLabels"]):
    err("the Deployment's selector does not match its pod labels")
if not selects(svc["spec"]["selector"]):
    err("the Service's selector does not match the Deployment's pods")
if not selects(pdb["spec"]["selector"]["matchLabels"]):
    err("the PodDisruptionBudget's selector does not match the Deployment's pods")
job_labels = job["spec"]["template"]["metadata"]["labels"]
if all(job_labels.get(k) == v for k, v in svc["spec"]["selector"].items()):
    err("the Service would also select the migration Job's pod")
if hpa["spec"]["scaleTargetRef"]["name"] != dep["metadata"]["name"]:
    err("the HPA targets another Deployment")
if hpa["spec"]["minReplicas"] < 2 or pdb["spec"].get("minAvailable", 0) >= hpa["spec"]["minReplicas"]:
    err("with these HPA and PDB numbers a drain could never evict a pod")
port_names = {p["name"] for c in dep["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
if svc["spec"]["ports"][0]["targetPort"] not in port_names:
    err("the Service's targetPort is not a named port of the container")
for rule in ing["spec"]["rules"]:
    for path in rule["http"]["paths"]:
        backend = path["backend"]["service"]
        if backend["name"] != svc["metadata"]["name"] or backend["port"].get("name") not in {p["name"] for p in svc["spec"]["ports"]}:
            err("the Ingress points at a service or port that does not exist")
for obj in (dep, job):
    spec = obj["spec"]["template"]["spec"]
    for c in spec["containers"]:
        refs = c.get("envFrom") or []
        for ref in refs:
            if "configMapRef" in ref and ref["configMapRef"]["name"] != cm["metadata"]["name"]:
                err(f"{obj['kind']} uses ConfigMap {ref['configMapRef']['name']}, which is not defined")
            if "secretRef" in ref and ref["secretRef"]["name"] not in {s["metadata"]["name"] for s in secrets}:
                err(f"{obj['kind']} uses Secret {ref['secretRef']['name']}, which secret.example.yaml does not define")
        if c["image"] != dep["spec"]["template"]["spec"]["containers"][0]["image"]:
            err("the Deployment and the migration Job run different images")
        sc = c.get("securityContext") or {}
        if not sc.get("readOnlyRootFilesystem") or sc.get("allowPrivilegeEscalation") is not False:
            err(f"{obj['kind']}: the container should have a read-only root and no privilege escalation")
        mounts = {m["mountPath"] for m in c.get("volumeMounts") or []}
        for needed in ("/var/lib/bwenge", "/tmp"):
            if needed not in mounts:
                err(f"{obj['kind']}: nothing writable is mounted at {needed}")
    if spec["securityContext"].get("runAsUser") != 10001 or not spec["securityContext"].get("runAsNonRoot"):
        err(f"{obj['kind']}: should run as the image's user 10001, non-root")
pod = dep["spec"]["template"]["spec"]
container = pod["containers"][0]
if container["args"] != ["serve"] or job["spec"]["template"]["spec"]["containers"][0]["args"] != ["migrate"]:
    err("the Deployment should run `serve` and the Job `migrate`")
if container["readinessProbe"]["httpGet"]["path"] != "/readyz" or container["livenessProbe"]["httpGet"]["path"] != "/healthz":
    err("readiness should probe /readyz and liveness /healthz")
if dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] != 0:
    err("the rollout should keep maxUnavailable at 0")
sleep = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
shutdown = int(cm["data"].get("BWENGE__SERVER__SHUTDOWN_TIMEOUT_SECS", 8))
grace = pod["terminationGracePeriodSeconds"]
if grace <= sleep + shutdown:
    err(f"terminationGracePeriodSeconds {grace} leaves no margin after preStop {sleep}s + shutdown {shutdown}s")
ann = ing["metadata"].get("annotations") or {}
for key, value in {"nginx.ingress.kubernetes.io/proxy-read-timeout": "3600",
                   "nginx.ingress.kubernetes.io/proxy-send-timeout": "3600",
                   "nginx.ingress.kubernetes.io/proxy-body-size": "100m"}.items():
    if ann.get(key) != value:
        err(f"the Ingress should set {key}: {value!r}")
print(f"  {len(objs)} objects: {', '.join(f'{k}/{n}' for k, n in sorted(objs))}")
print(f"  grace {grace}s > preStop {sleep}s + shutdown {shutdown}s")
for e in errors:
    print(f"  ERROR {e}")
sys.exit(1 if errors else 0)
PYEOF
}
check "Kubernetes cross-references" check_k8s_consistency

# ---------------------------------------------------------------------------------------------------------------
section "Grafana and Promtail"

check_grafana_promtail() {
    "$PY" - "$DEPLOY" <<'PYEOF'
import json, pathlib, sys
import yaml
deploy = pathlib.Path(sys.argv[1])
errors = []
def err(m): errors.append(m)
dash = json.loads((deploy / "grafana/bwenge-dashboard.json").read_text())
if not 36 <= dash.get("schemaVersion", 0) <= 41:
    err(f"schemaVersion {dash.get('schemaVersion')} is not around 39")
variables = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
if variables.get("datasource", {}).get("type") != "datasource":
    err("the dashboard has no `datasource` variable")
ids = [p["id"] for p in dash["panels"]]
if len(ids) != len(set(ids)):
    err("panel ids repeat")
for p in dash["panels"]:
    if not {"x", "y", "w", "h"} <= set(p.get("gridPos", {})):
        err(f"panel {p.get('title')!r} has no gridPos")
    uid = (p.get("datasource") or {}).get("uid", "")
    if not uid.startswith("${") or uid[2:-1] not in variables:
        err(f"panel {p.get('title')!r} does not take its datasource from a variable")
    if not p.get("targets"):
        err(f"panel {p.get('title')!r} has no query")
titles = " | ".join(p["title"] for p in dash["panels"])
for wanted in ("status", "Error ratio", "p50 / p95 / p99", "in flight", "Job queue", "Job runs", "Records lost"):
    if wanted.lower() not in titles.lower():
        err(f"no panel about {wanted!r}")
prov = yaml.safe_load((deploy / "grafana/provisioning/dashboards/bwenge.yml").read_text())
path = prov["providers"][0]["options"]["path"]
compose = yaml.safe_load((deploy / "docker-compose.yml").read_text())
mounts = compose["services"]["grafana"]["volumes"]
if not any(m.split(":")[1].startswith(path) and "bwenge-dashboard.json" in m for m in mounts):
    err(f"the dashboard provider reads {path}, where compose mounts no dashboard")
for name in ("promtail.yml", "promtail-kubernetes.yml"):
    doc = yaml.safe_load((deploy / "loki" / name).read_text())
    for job in doc["scrape_configs"]:
        stages = job.get("pipeline_stages") or []
        inner = [s for st in stages if "match" in st for s in st["match"]["stages"]]
        json_stage = next((s["json"] for s in inner if "json" in s), None)
        if not json_stage:
            err(f"{name} {job['job_name']}: no json stage for Bwenge's lines")
            continue
        fields = json_stage["expressions"]
        for key in ("level", "target", "message", "request_id", "timestamp"):
            if key not in fields:
                err(f"{name} {job['job_name']}: the json stage does not extract {key}")
        labels = next((s["labels"] for s in inner if "labels" in s), {})
        if set(labels) != {"level", "target"}:
            err(f"{name} {job['job_name']}: labels should be level and target, not {sorted(labels)}")
        if not any("timestamp" in s and s["timestamp"]["source"] == "timestamp" for s in inner):
            err(f"{name} {job['job_name']}: the line's own timestamp is not used")
print(f"  dashboard: {len(dash['panels'])} panels, variables {', '.join(variables)}")
for e in errors:
    print(f"  ERROR {e}")
sys.exit(1 if errors else 0)
PYEOF
}
check "Grafana dashboard and Promtail pipelines" check_grafana_promtail

# ---------------------------------------------------------------------------------------------------------------
section "Summary"
printf 'took %ds\n' "$((SECONDS - started))"
for s in "${skipped[@]+"${skipped[@]}"}"; do printf '  skipped: %s\n' "$s"; done
for f in "${failed[@]+"${failed[@]}"}"; do printf '  failed:  %s\n' "$f"; done
printf 'check-deploy: %d passed, %d failed, %d skipped\n' "${#passed[@]}" "${#failed[@]}" "${#skipped[@]}"
[ "${#failed[@]}" = 0 ]
