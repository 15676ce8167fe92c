#!/usr/bin/env bash
# The main job on the embedded default: simulated journeys → spool → DuckDB → marts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/journey demo "$@"
