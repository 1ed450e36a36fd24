#!/usr/bin/env bash
# Runs the SDK recipes of docs/recipes.md against a fresh `eci-imagecache serve`:
# the Python and Node quickstarts always; the Go and Terraform ones when their
# modules / provider can be fetched (else they are reported as skipped, with
# the reason). Each quickstart is also run once with a wrong secret, which
# must fail (the emulator checks signatures; the quickstarts exit non-zero).
#
#   tests/recipes/run.sh                 # from the repository root or anywhere
#   ECI_BIN=path/to/eci-imagecache tests/recipes/run.sh
#
# ECI_BIN defaults to the newer of target/release/eci-imagecache and
# target/debug/eci-imagecache (build one with `cargo build -p eci-imagecache-cli`).
# Everything it installs goes under target/ (gitignored): the Python SDK venv
# (target/sdk-venv, via tests/sdk/setup.sh), the Node packages
# (target/recipes/node/node_modules), the Go and Terraform work dirs.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
# A relative ECI_BIN is relative to where the script was started.
if [[ -n "${ECI_BIN:-}" && "$ECI_BIN" != /* ]]; then
    ECI_BIN="$PWD/$ECI_BIN"
fi
cd "$root"
work="$root/target/recipes"
mkdir -p "$work"

if [[ -z "${ECI_BIN:-}" ]]; then
    for candidate in target/release/eci-imagecache target/debug/eci-imagecache; do
        if [[ -x "$candidate" ]] && { [[ -z "${ECI_BIN:-}" ]] || [[ "$candidate" -nt "$ECI_BIN" ]]; }; then
            ECI_BIN="$candidate"
        fi
    done
fi
if [[ -z "${ECI_BIN:-}" || ! -x "$ECI_BIN" ]]; then
    echo "run.sh: no eci-imagecache binary (set ECI_BIN, or cargo build -p eci-imagecache-cli)" >&2
    exit 2
fi

# The documented key (the quickstarts' defaults) and a second one, passed
# through the environment, so both ways of giving keys are exercised.
default_key="AKIDEXAMPLE:SECRETEXAMPLE"
env_id="recipes-ak"
env_secret="recipes-secret-$RANDOM$RANDOM"

# The server: any free port (port 0; the log names the one bound), signatures
# checked, the system clock with a short lifecycle so the quickstarts really
# wait for Ready (Preparing 1 s, Creating 2 s).
log="$work/server.log"
: >"$log"   # emptied before the server starts: never read an older run's port
"$ECI_BIN" serve --listen 127.0.0.1:0 --seed 1 --preparing 1 --creating 2 \
    --access-key "$default_key" --access-key "$env_id:$env_secret" >"$log" 2>&1 &
server_pid=$!
stop_server() {
    if kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
}
trap stop_server EXIT

endpoint=""
for _ in $(seq 1 300); do
    endpoint="$(sed -e 's/\x1b\[[0-9;]*m//g' "$log" | sed -n 's/.*emulator ready listen=\([0-9.]*:[0-9]*\).*/\1/p' | head -n1)"
    [[ -n "$endpoint" ]] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "run.sh: the server exited at start:" >&2
        cat "$log" >&2
        exit 1
    fi
    sleep 0.1
done
if [[ -z "$endpoint" ]]; then
    echo "run.sh: the server did not report ready within 30 s:" >&2
    cat "$log" >&2
    exit 1
fi
echo "== server: $ECI_BIN on $endpoint (log: ${log#"$root/"})"

declare -a summary=()
passed=0 failed=0 skipped=0
pass() { summary+=("PASS  $1"); passed=$((passed + 1)); }
fail() { summary+=("FAIL  $1"); failed=$((failed + 1)); }
skip() { summary+=("SKIP  $1: $2"); skipped=$((skipped + 1)); }

# run NAME COMMAND...: the quickstart must succeed.
run() {
    local name="$1"; shift
    echo "== $name"
    if "$@"; then pass "$name"; else fail "$name (exit $?)"; fi
}
# run_must_fail NAME COMMAND...: a wrong secret must make the quickstart fail.
run_must_fail() {
    local name="$1"; shift
    echo "== $name (must fail)"
    local out
    if out="$("$@" 2>&1)"; then
        echo "$out"
        fail "$name: succeeded with a wrong secret"
    elif grep -q "SignatureDoesNotMatch" <<<"$out"; then
        echo "failed as it must: SignatureDoesNotMatch"
        pass "$name"
    else
        echo "$out"
        fail "$name: failed, but not with SignatureDoesNotMatch"
    fi
}

# --- Python: the official SDK from PyPI, in the SDK suite's venv.
echo "== python: tests/sdk/setup.sh target/sdk-venv"
tests/sdk/setup.sh target/sdk-venv
python="$root/target/sdk-venv/bin/python"
run "python quickstart (default keys)" \
    env ECI_ENDPOINT="$endpoint" "$python" examples/python/quickstart.py
run_must_fail "python quickstart, wrong secret" \
    env ECI_ENDPOINT="$endpoint" ALIBABA_CLOUD_ACCESS_KEY_SECRET=wrong "$python" examples/python/quickstart.py

# --- Node: the official SDK from npm, installed from the lock file under
# target/ (not in examples/node), found through NODE_PATH.
echo "== node: npm ci (target/recipes/node)"
node_dir="$work/node"
mkdir -p "$node_dir"
if [[ ! -d "$node_dir/node_modules" ]] || ! cmp -s examples/node/package-lock.json "$node_dir/package-lock.json"; then
    cp examples/node/package.json examples/node/package-lock.json "$node_dir/"
    (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
run "node quickstart (keys from the environment)" \
    env ECI_ENDPOINT="$endpoint" ALIBABA_CLOUD_ACCESS_KEY_ID="$env_id" ALIBABA_CLOUD_ACCESS_KEY_SECRET="$env_secret" \
    NODE_PATH="$node_dir/node_modules" node examples/node/quickstart.js
run_must_fail "node quickstart, wrong secret" \
    env ECI_ENDPOINT="$endpoint" ALIBABA_CLOUD_ACCESS_KEY_SECRET=wrong \
    NODE_PATH="$node_dir/node_modules" node examples/node/quickstart.js

# --- Go: only when a Go toolchain is there and the modules can be fetched.
echo "== go"
go_dir="$work/go"
if ! command -v go >/dev/null 2>&1; then
    skip "go quickstart" "no go toolchain"
else
    rm -rf "$go_dir" && mkdir -p "$go_dir"
    cp examples/go/go.mod examples/go/main.go "$go_dir/"
    if go_err="$(cd "$go_dir" && timeout 120 go mod tidy 2>&1)"; then
        run "go quickstart" env ECI_ENDPOINT="$endpoint" bash -c "cd '$go_dir' && go run ."
    else
        skip "go quickstart" "go mod tidy failed: $(tail -n1 <<<"$go_err")"
    fi
fi

# --- Terraform: only when terraform is there and the provider can be installed.
echo "== terraform"
tf_dir="$work/terraform"
if ! command -v terraform >/dev/null 2>&1; then
    skip "terraform apply/destroy" "no terraform"
else
    rm -rf "$tf_dir" && mkdir -p "$tf_dir"
    cp examples/terraform/main.tf "$tf_dir/"
    if tf_err="$(cd "$tf_dir" && timeout 120 terraform init -input=false -no-color 2>&1)"; then
        tf() { (cd "$tf_dir" && terraform "$@" -no-color); }
        if tf apply -input=false -auto-approve -var "eci_endpoint=$endpoint" &&
            [[ "$(cd "$tf_dir" && terraform output -raw status)" == "Ready" ]] &&
            tf destroy -input=false -auto-approve -var "eci_endpoint=$endpoint"; then
            pass "terraform apply/destroy"
        else
            fail "terraform apply/destroy"
        fi
    else
        # The error block on one line (terraform wraps it), without the hint after it.
        reason="$(tr -s '\n ' '  ' <<<"$tf_err" | sed -n 's/.*\(Error: .*\)/\1/p' | sed 's/ To see which modules.*//' | cut -c1-400)"
        skip "terraform apply/destroy" "terraform init failed: ${reason:-$(tail -n1 <<<"$tf_err")}"
    fi
fi

stop_server
trap - EXIT

echo
echo "== summary (server log: ${log#"$root/"})"
for line in "${summary[@]}"; do echo "  $line"; done
echo "recipes: $passed passed, $failed failed, $skipped skipped"
[[ "$failed" -eq 0 ]]
