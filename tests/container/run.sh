#!/usr/bin/env bash
# The container image, end to end, with podman (rootful, runc):
#
#   1. podman, runc, mmdebstrap (apt, only what is missing) and
#      default_ulimits = [] in /etc/containers/containers.conf;
#   2. the runtime base docker.io/library/debian:bookworm-slim, made
#      locally with mmdebstrap from Debian's packages when it is not in
#      local storage (no container registry needs to be reachable);
#   3. the binary: $ECI_IMAGECACHE_BIN, or `cargo build --release`;
#      copied to target/container/eci-imagecache, where the Dockerfile's
#      `prebuilt` stage takes it;
#   4. `podman build --build-arg BINARY_STAGE=prebuilt` (the Rust build
#      stage is skipped, its image never pulled) -> localhost/eci-imagecache:test;
#   5. the image as shipped (its CMD, its ENV, no flags): health 200 and
#      {"Status":"ready"}, the HEALTHCHECK healthy, the server not root, a
#      cache kept across a SIGTERM and a new container on the same named
#      volume;
#   6. the official-SDK suite (tests/sdk/test_sdk.py, unchanged) with every
#      server it starts run in the image (tests/container/eci-in-container);
#   7. compose.yaml with podman-compose and the GitHub Actions recipe's
#      SDK step (tests/container/compose.sh; ECI_SKIP_COMPOSE=1 skips it);
#   8. everything started here removed (containers, volume, temp files),
#      whatever happened.
#
#   bash tests/container/run.sh
#   ECI_IMAGECACHE_BIN=target/release/eci-imagecache bash tests/container/run.sh
#
# Needs root (rootful podman) and Debian's packages; the SDK suite and
# podman-compose need python3 with venv and PyPI (into target/).
set -euo pipefail
# A relative ECI_IMAGECACHE_BIN is relative to where the script was started.
if [[ -n "${ECI_IMAGECACHE_BIN:-}" && "$ECI_IMAGECACHE_BIN" != /* ]]; then
    ECI_IMAGECACHE_BIN="$PWD/$ECI_IMAGECACHE_BIN"
fi
cd "$(dirname "$0")/../.."
root="$PWD"

image="${ECI_IMAGE:-localhost/eci-imagecache:test}"
base="docker.io/library/debian:bookworm-slim"
runtime=runc
work="$root/target/container"
run_id="run-$$-$RANDOM"
label="eci-imagecache.test-run=$run_id"
volume="eci-imagecache-test-$run_id"
# The image's own command is what is tested; a scratch copy may set flags.
serve_args=()

results=()
pass() { results+=("PASS  $1"); echo "== PASS: $1"; }
fail() {
    results+=("FAIL  $1")
    echo "== FAIL: $1" >&2
    exit 1
}
note() { echo "-- $*"; }

summary() {
    local status=$?
    trap - EXIT
    set +e
    # Only what this run started: by its label, and its volume and files.
    local ids
    ids="$(podman ps -aq --filter "label=$label" 2>/dev/null)"
    if [[ -n "$ids" ]]; then
        # shellcheck disable=SC2086
        podman rm -f -v -t 5 $ids >/dev/null 2>&1
    fi
    podman volume rm -f "$volume" >/dev/null 2>&1
    rm -rf "$work/tmp.$run_id"
    echo
    echo "==================== container test summary ===================="
    local r
    for r in "${results[@]}"; do echo "$r"; done
    echo "image:   $image, $(podman image inspect --format '{{.Size}}' "$image" 2>/dev/null | numfmt --to=iec --suffix=B 2>/dev/null || echo '?')"
    echo "podman:  $(podman --version 2>/dev/null), buildah $(podman info --format '{{.Host.BuildahVersion}}' 2>/dev/null)"
    if ((status == 0)); then
        echo "RESULT:  all ${#results[@]} checks passed"
    else
        echo "RESULT:  FAILED (exit $status) after ${#results[@]} checks; logs in $work"
    fi
    exit "$status"
}
trap summary EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- 1. tools -------------------------------------------------------------
need=()
for tool in podman:podman runc:runc mmdebstrap:mmdebstrap curl:curl \
    newuidmap:uidmap slirp4netns:slirp4netns fuse-overlayfs:fuse-overlayfs; do
    command -v "${tool%%:*}" >/dev/null || need+=("${tool#*:}")
done
if ((${#need[@]})); then
    note "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
# podman's default ulimits cannot be applied in this sandbox: none.
conf=/etc/containers/containers.conf
mkdir -p /etc/containers
if [[ ! -f "$conf" ]]; then
    printf '[containers]\ndefault_ulimits = []\n' >"$conf"
elif ! grep -Eq '^[[:space:]]*default_ulimits[[:space:]]*=' "$conf"; then
    if grep -Eq '^[[:space:]]*\[containers\]' "$conf"; then
        sed -i '0,/^[[:space:]]*\[containers\]/s//[containers]\ndefault_ulimits = []/' "$conf"
    else
        printf '\n[containers]\ndefault_ulimits = []\n' >>"$conf"
    fi
fi
pass "tools: $(podman --version), runc $(runc --version | sed -n '1s/runc version //p')"

# ---- 2. the runtime base image --------------------------------------------
if ! podman image exists "$base"; then
    note "making $base with mmdebstrap (minbase, bookworm)"
    # As the official slim image: no manuals, docs or translations.
    mmdebstrap --quiet --variant=minbase \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        bookworm - |
        podman import --quiet --change 'CMD ["bash"]' - localhost/debian:bookworm-slim >/dev/null
    podman tag localhost/debian:bookworm-slim "$base"
fi
pass "base image $base"

# ---- 3. the binary --------------------------------------------------------
mkdir -p "$work"
if [[ -n "${ECI_IMAGECACHE_BIN:-}" ]]; then
    bin="$ECI_IMAGECACHE_BIN"
else
    cargo build --release --locked -p eci-imagecache-cli
    bin="$root/target/release/eci-imagecache"
fi
[[ -x "$bin" ]] || fail "binary $bin (not found or not executable)"
rm -f "$work/eci-imagecache"
if command -v strip >/dev/null; then
    strip --strip-debug -o "$work/eci-imagecache" "$bin"
else
    cp "$bin" "$work/eci-imagecache"
fi
chmod 0755 "$work/eci-imagecache"
pass "binary $bin -> target/container/eci-imagecache ($(du -h "$work/eci-imagecache" | cut -f1))"

# ---- 4. the image ---------------------------------------------------------
# --format docker: OCI image configs have no HEALTHCHECK. --layers=false:
# no intermediate images left behind; the image this tag named before is
# removed once the tag moves.
previous="$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)"
if ! podman build --runtime "$runtime" --pull=never --format docker --layers=false \
    --build-arg BINARY_STAGE=prebuilt -t "$image" . >"$work/build.log" 2>&1; then
    cat "$work/build.log" >&2
    fail "podman build (log above)"
fi
if [[ -n "$previous" && "$previous" != "$(podman image inspect --format '{{.Id}}' "$image")" ]]; then
    podman rmi "$previous" >/dev/null 2>&1 || true
fi
# buildah skips stages the target does not need: the Rust stage never ran.
if grep -q ' AS build$' "$work/build.log"; then
    fail "podman build ran the Rust build stage although BINARY_STAGE=prebuilt"
fi
[[ "$(podman image inspect --format '{{.Config.User}}' "$image")" == 10001:10001 ]] ||
    fail "image user is not 10001:10001"
pass "podman build $image (prebuilt binary, Rust stage skipped)"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Without access keys the server answers only requests whose Host is an IP
# literal or localhost; listening on 0.0.0.0 (the image), any port: these
# requests name the published port, as every client of it does.

start() { # start NAME: the image as shipped, on a fresh port, the volume on /data
    port="$(free_port)"
    cid="$(podman run -d --runtime "$runtime" --label "$label" --name "eci-$run_id-$1" \
        -p "127.0.0.1:$port:8080" -v "$volume:/data" "$image" "${serve_args[@]}" 2>"$work/run-$1.err")" ||
        { cat "$work/run-$1.err" >&2; fail "podman run ($1)"; }
}

wait_ready() { # wait_ready NAME: /_emulator/health 200, 503 meanwhile
    local code="" deadline=$((SECONDS + 60))
    while ((SECONDS < deadline)); do
        code="$(curl -s -o "$work/health.json" -w '%{http_code}' \
            "http://127.0.0.1:$port/_emulator/health" || true)"
        [[ "$code" == 200 ]] && break
        if [[ "$(podman inspect --format '{{.State.Running}}' "$cid")" != true ]]; then
            podman logs "$cid" >&2 || true
            fail "$1: the container exited while starting (logs above)"
        fi
        sleep 0.2
    done
    if [[ "$code" != 200 ]]; then
        podman logs "$cid" >&2 || true
        fail "$1: /_emulator/health still $code after 60 s (logs above)"
    fi
    grep -q '"Status":"ready"' "$work/health.json" ||
        fail "$1: health body $(cat "$work/health.json") lacks \"Status\":\"ready\""
}

api() { # api QUERY: an unsigned API call (no keys configured), body on stdout
    curl -sf "http://127.0.0.1:$port/?RegionId=cn-hangzhou&$1"
}

# ---- 5. the image as shipped ----------------------------------------------
podman volume create --label "$label" "$volume" >/dev/null
start first
wait_ready first
pass "health: GET /_emulator/health 200 $(cat "$work/health.json")"

# podman runs a HEALTHCHECK from systemd timers; with no systemd here they
# never fire (podman logs an error and the status stays "starting"), so
# the check is run by hand, as the timer would, and the status read back.
podman healthcheck run "$cid" >/dev/null 2>&1 ||
    fail "HEALTHCHECK: podman healthcheck run says unhealthy"
status="$(podman inspect --format '{{.State.Health.Status}}' "$cid")"
[[ "$status" == healthy ]] || fail "HEALTHCHECK: status $status"
pass "HEALTHCHECK (eci-imagecache-health: bash /dev/tcp, no curl): podman healthcheck run -> $status"

uid="$(podman top "$cid" huser | sed -n 2p | tr -d ' ')"
user="$(podman exec "$cid" id -un)"
[[ "$uid" == 10001 && "$user" == eci ]] || fail "server runs as uid '$uid' ($user), not 10001 (eci)"
[[ "$(podman exec "$cid" stat -c %U /data)" == eci ]] || fail "/data is not the server's"
pass "non-root: the server runs as uid $uid ($user), /data is its own"

created="$(api 'Action=CreateImageCache&ImageCacheName=kept&Image.1=nginx:1.25')" ||
    fail "CreateImageCache through the published port"
id="$(sed -n 's/.*"ImageCacheId":"\([^"]*\)".*/\1/p' <<<"$created")"
[[ "$id" == imc-* ]] || fail "CreateImageCache answered $created"
podman stop -t 30 "$cid" >/dev/null 2>>"$work/stop.err"
[[ "$(podman inspect --format '{{.State.ExitCode}}' "$cid")" == 0 ]] ||
    { podman logs "$cid" >&2; fail "the server did not exit 0 on SIGTERM (logs above)"; }
podman logs "$cid" 2>&1 | grep -q 'saving state' ||
    { podman logs "$cid" >&2; fail "no 'saving state' on SIGTERM (logs above)"; }
pass "CreateImageCache $id, then SIGTERM: exit 0, state saved"

start second
wait_ready second
described="$(api "Action=DescribeImageCaches&ImageCacheId=$id")" || fail "DescribeImageCaches"
grep -q '"TotalCount":1' <<<"$described" || fail "after the restart: $described"
podman stop -t 30 "$cid" >/dev/null 2>>"$work/stop.err"
pass "a new container on the same volume still has $id (state in /data)"

# ---- 6. the official SDKs against containers -------------------------------
bash tests/sdk/setup.sh target/sdk-venv
# The suite's temp dirs (mounted into the containers and chowned to the
# image's user there) go under target/container, removed at exit.
mkdir -p "$work/tmp.$run_id"
if TMPDIR="$work/tmp.$run_id" ECI_BIN="$root/tests/container/eci-in-container" \
    ECI_IMAGE="$image" ECI_CONTAINER_LABEL="$label" \
    target/sdk-venv/bin/python tests/sdk/test_sdk.py >"$work/sdk.log" 2>&1 &&
    grep -q '^OK' "$work/sdk.log"; then
    pass "SDK suite in containers: $(grep -E '^Ran [0-9]+ tests' "$work/sdk.log")"
else
    cat "$work/sdk.log" >&2
    fail "SDK suite in containers (log above)"
fi
left="$(podman ps -q --filter "label=$label")"
[[ -z "$left" ]] || fail "SDK suite left containers running: $left"
pass "every SDK-suite container stopped on SIGTERM and was removed"

# ---- 7. compose.yaml and the GitHub Actions recipe ------------------------
if [[ "${ECI_SKIP_COMPOSE:-}" == 1 ]]; then
    note "ECI_SKIP_COMPOSE=1: compose.yaml and the CI recipe not run"
elif ECI_IMAGE="$image" bash tests/container/compose.sh >"$work/compose.log" 2>&1; then
    sed -n 's/^== compose: PASS /   /p' "$work/compose.log"
    pass "compose.yaml with podman-compose, and docs/recipes/github-actions.yml's SDK step"
else
    cat "$work/compose.log" >&2
    fail "tests/container/compose.sh (log above)"
fi
