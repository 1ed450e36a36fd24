#!/usr/bin/env bash
# Creates (once) a virtual environment with the official Alibaba Cloud SDKs
# the SDK suite drives, from PyPI, at the path given (default target/sdk-venv).
set -euo pipefail
venv="${1:-target/sdk-venv}"
requirements="$(dirname "$0")/requirements.txt"
stamp="$venv/.installed"
if [[ -f "$stamp" ]] && cmp -s "$stamp" "$requirements"; then
    exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
cp "$requirements" "$stamp"
