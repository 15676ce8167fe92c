#!/usr/bin/env bash
# Installs everything the project needs from the lock file, on a machine that
# has only Python 3.11 and pip. Idempotent: a second run is a no-op check.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

if [ ! -x .tools/bin/uv ] || ! .tools/bin/uv --version | grep -q "$UV_VERSION"; then
  echo "setup: installing uv $UV_VERSION into .tools/" >&2
  "$PYTHON" -m venv .tools
  .tools/bin/python -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
echo "setup: syncing .venv from uv.lock" >&2
.tools/bin/uv sync --frozen --python "$PYTHON" --quiet
