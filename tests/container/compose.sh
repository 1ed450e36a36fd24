#!/usr/bin/env bash
# compose.yaml and docs/recipes/github-actions.yml, against the image that
# tests/container/run.sh builds (localhost/eci-imagecache:test; run.sh
# calls this script as its last step):
#
#   1. both files against their schemas (check-jsonschema's vendored
#      compose-spec and github-workflows schemas: no network);
#   2. `podman-compose up -d` of compose.yaml (project of its own, a free
#      port): health 200 through the published port, the compose
#      healthcheck and the recipe's --health-cmd pass in the container;
#   3. the recipe's SDK step (its `run:`, a Python script) against it;
#   4. `podman-compose down -v`: nothing of the project left.
#
# podman-compose and check-jsonschema come from PyPI into
# target/compose-venv; the SDK step uses target/sdk-venv
# (tests/sdk/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"

image="${ECI_IMAGE:-localhost/eci-imagecache:test}"
work="$root/target/container"
venv="$root/target/compose-venv"
project="eci-compose-$$"
mkdir -p "$work"

say() { echo "== compose: $*"; }
die() { echo "== compose: FAIL: $*" >&2; exit 1; }

podman image exists "$image" || die "no image $image: run tests/container/run.sh first"

tools="podman-compose==1.6.0 check-jsonschema==0.39.0"
if [[ ! -x "$venv/bin/podman-compose" || "$(cat "$venv/.installed" 2>/dev/null)" != "$tools" ]]; then
    python3 -m venv "$venv"
    # shellcheck disable=SC2086
    "$venv/bin/pip" install --quiet --disable-pip-version-check $tools
    echo "$tools" >"$venv/.installed"
fi
bash tests/sdk/setup.sh target/sdk-venv

# ---- 1. schemas -----------------------------------------------------------
"$venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec compose.yaml >/dev/null ||
    die "compose.yaml does not match the compose-spec schema"
"$venv/bin/check-jsonschema" --builtin-schema vendor.github-workflows docs/recipes/github-actions.yml >/dev/null ||
    die "docs/recipes/github-actions.yml does not match the GitHub workflow schema"
say "PASS compose.yaml (compose-spec) and docs/recipes/github-actions.yml (github-workflows) validate"

# The recipe's pieces: the SDK step's script, the job's environment, the
# service's --health-cmd.
"$venv/bin/python" - "$work" <<'EOF'
import shlex, sys, yaml
work = sys.argv[1]
job = yaml.safe_load(open("docs/recipes/github-actions.yml"))["jobs"]["eci-emulator"]
step = next(s for s in job["steps"] if s.get("id") == "sdk")
assert step.get("shell") == "python", step
open(f"{work}/recipe-sdk.py", "w").write(step["run"])
with open(f"{work}/recipe-env", "w") as f:
    for key, value in job["env"].items():
        f.write(f"{key}={value}\n")
options = shlex.split(job["services"]["eci"]["options"])
open(f"{work}/recipe-health-cmd", "w").write(options[options.index("--health-cmd") + 1])
EOF

# ---- 2. up ----------------------------------------------------------------
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export ECI_IMAGECACHE_IMAGE="$image" ECI_IMAGECACHE_PORT="$port"
compose=("$venv/bin/podman-compose" --podman-args "--runtime runc" -p "$project" -f compose.yaml)
down() {
    local status=$?
    trap - EXIT
    "${compose[@]}" down -v -t 30 >"$work/compose-down.log" 2>&1 || cat "$work/compose-down.log" >&2
    left="$(podman ps -aq --filter "label=io.podman.compose.project=$project")"
    if [[ -n "$left" ]]; then
        echo "== compose: FAIL: containers left: $left" >&2
        status=1
    fi
    if podman volume exists "${project}_eci-imagecache-state"; then
        echo "== compose: FAIL: volume ${project}_eci-imagecache-state left" >&2
        status=1
    fi
    ((status == 0)) && say "PASS down -v: no container or volume of $project left"
    exit "$status"
}
trap down EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
"${compose[@]}" up -d >"$work/compose-up.log" 2>&1 || { cat "$work/compose-up.log" >&2; die "podman-compose up"; }
cid="$(podman ps -q --filter "label=io.podman.compose.project=$project")"
[[ -n "$cid" ]] || { cat "$work/compose-up.log" >&2; die "no container after up"; }

# Access keys are set in compose.yaml, so the published port needs no Host
# trick; the health endpoint needs no control token.
code=""
for _ in $(seq 1 300); do
    code="$(curl -s -o "$work/compose-health.json" -w '%{http_code}' "http://127.0.0.1:$port/_emulator/health" || true)"
    [[ "$code" == 200 ]] && break
    sleep 0.2
done
[[ "$code" == 200 ]] || { podman logs "$cid" >&2; die "health $code after 60 s"; }
grep -q '"Status":"ready"' "$work/compose-health.json" || die "health: $(cat "$work/compose-health.json")"
podman healthcheck run "$cid" >/dev/null 2>&1 || die "the compose healthcheck fails"
# shellcheck disable=SC2046
podman exec "$cid" $(cat "$work/recipe-health-cmd") || die "the recipe's --health-cmd fails"
say "PASS up on 127.0.0.1:$port: health 200, healthcheck and the recipe's --health-cmd ($(cat "$work/recipe-health-cmd")) pass"

# ---- 3. the recipe's SDK step ---------------------------------------------
# The job's environment, with the endpoint the published port.
mapfile -t recipe_env <"$work/recipe-env"
if env "${recipe_env[@]}" ECI_ENDPOINT="127.0.0.1:$port" \
    target/sdk-venv/bin/python "$work/recipe-sdk.py" >"$work/recipe-sdk.log" 2>&1; then
    say "PASS the GitHub Actions recipe's SDK step: $(tr '\n' ' ' <"$work/recipe-sdk.log")"
else
    cat "$work/recipe-sdk.log" >&2
    podman logs "$cid" >&2
    die "the GitHub Actions recipe's SDK step (above)"
fi
