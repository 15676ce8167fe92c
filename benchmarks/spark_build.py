"""dbt on Spark (local mode) beside DuckDB: a full build, then an incremental build after 1% more.

Simulates journeys in 100 delivery batches (`_common.simulate_ninety_nine_and_one`),
loads the first 99 into a DuckDB home and into a Spark home (JOURNEY_DESTINATION=spark:
Parquet through dlt's filesystem destination), and times `dbt build` as `journey run`
runs it (unit tests excluded, data tests included) on each:

  full         every model from the 99 batches
  incremental  after the 100th batch (~1% more events, some late): on Spark an
               insert_overwrite of every bucket of conversations holding a changed one

The DuckDB and Spark marts are then compared row for row (bookkeeping columns left out;
sums of doubles may differ in the last bits between engines, which names the mart here
while tests/pipeline/test_spark_portability.py compares with tolerances).

Usage: .venv/bin/python benchmarks/spark_build.py [--days 10 --sessions-per-day 750]
(about 100k events; --days 84 --sessions-per-day 900 is about 1M). Needs the extra
`spark` (uv sync --extra spark) and Java 17; Spark uses the cores of `local[2]`.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import tempfile
import time
from pathlib import Path

from _common import add_simulation_arguments, describe_simulation, print_header, simulate_ninety_nine_and_one
from ingestion.importer import import_files
from ingestion.loader import load_spool
from ingestion.settings import Settings
from orchestration.defs.dbt.cli_args import DbtRunConfig, dbt_build_args
from orchestration.defs.dbt.project import DBT_EXECUTABLE, DBT_PROJECT_DIR
from orchestration.defs.dbt.spark_tables import mirror_spark_tables
from orchestration.defs.dbt.stamps import marts_rows


def dbt_build(settings: Settings) -> float:
    """Wall seconds of one production `dbt build` on the settings' target."""
    started = time.perf_counter()
    subprocess.run(
        [DBT_EXECUTABLE, *dbt_build_args(DbtRunConfig(), settings.dbt_vars()), "--quiet",
         "--target", settings.dbt_target, "--project-dir", str(DBT_PROJECT_DIR),
         "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(settings.home / "target")],
        env={**os.environ, **settings.dbt_env()}, check=True,
    )
    return time.perf_counter() - started


def run(settings: Settings, base: Path, extra: Path) -> dict[str, float]:
    import_files([base], settings)
    events = load_spool(settings)["events"]
    full = dbt_build(settings)
    import_files([extra], settings)
    added = load_spool(settings)["events"]
    incremental = dbt_build(settings)
    print(f"{settings.dbt_target}: {events:,} events, full {full:.1f} s; +{added:,} events, "
          f"incremental {incremental:.1f} s", flush=True)
    return {"events": events, "full_s": full, "added": added, "incremental_s": incremental}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_simulation_arguments(parser, days=10, sessions_per_day=750)
    parser.add_argument("--work", type=Path, help="keep the homes in this folder (default: a temporary one)")
    args = parser.parse_args()
    print_header(describe_simulation(args))
    hash_key = secrets.token_hex(32)
    with tempfile.TemporaryDirectory(prefix="spark-bench-") as tmp:
        work = args.work or Path(tmp)
        base, extra = simulate_ninety_nine_and_one(work, args.days, args.sessions_per_day, args.seed)
        homes = {}
        for destination in ("duckdb", "spark"):
            homes[destination] = Settings.from_env({"JOURNEY_HOME": str(work / destination),
                                                    "JOURNEY_HASH_KEY": hash_key, "JOURNEY_DESTINATION": destination})
            run(homes[destination], base, extra)
        mirror_spark_tables(homes["spark"])
        duck, spark = marts_rows(homes["duckdb"].warehouse), marts_rows(homes["spark"].warehouse)
        differ = sorted(mart for mart in duck if duck[mart] != spark.get(mart))
        print("marts equal on DuckDB and Spark" if not differ else f"marts differ: {', '.join(differ)}"
              " (build stamps left out)", flush=True)


if __name__ == "__main__":
    main()
