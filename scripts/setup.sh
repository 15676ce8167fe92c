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
# A relocatable environment (entry points find their interpreter relative to themselves):
# a checkout that is moved or renamed keeps working, dbt's command included, where a
# plain venv's scripts would point at the old folder. One made before is made again, once.
if [ -d .venv ] && ! grep -qx "relocatable = true" .venv/pyvenv.cfg 2>/dev/null; then
  echo "setup: making .venv again, relocatable" >&2
  rm -rf .venv
fi
[ -d .venv ] || .tools/bin/uv venv --quiet --relocatable --prompt journey-analytics --python "$PYTHON" .venv
echo "setup: syncing .venv from uv.lock" >&2
# Bytecode compiled at install: where PYTHONDONTWRITEBYTECODE is set (CI images, some
# containers) every interpreter would otherwise compile Dagster, dbt and dlt from
# source again, doubling the start-up of `journey` and of each dbt run.
.tools/bin/uv sync --frozen --compile-bytecode --python "$PYTHON" --quiet
