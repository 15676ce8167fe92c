"""dbt: a full build on about a million events, then an incremental run after 1% more.

Simulates journeys (with duplicates, disorder and late events) in 100 delivery
batches, loads the first 99 through `journey import` + the dlt loader, and times
with the dbt CLI (unit tests excluded, data tests included, as `journey run`
builds):

  full         `dbt build` creating every model from the 99 batches
  incremental  `dbt build` after the 100th batch (~1% more events, some late)
  refresh      `dbt build --full-refresh` on the same final data (the baseline)

then checks that the incremental marts equal the refreshed ones. Per-model
times of both runs come from dbt's run_results.json.

Usage: .venv/bin/python benchmarks/dbt_incremental.py [--days 84 --sessions-per-day 900]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import tempfile
import time
from pathlib import Path

import duckdb

from ingestion.importer import import_files
from ingestion.loader import load_spool
from ingestion.settings import Settings
from ingestion.simulator import simulate, write_ndjson
from orchestration.defs.dbt.project import DBT_EXECUTABLE, DBT_PROJECT_DIR


def dbt_build(settings: Settings, target: Path, *extra: str) -> tuple[float, dict[str, float]]:
    started = time.perf_counter()
    subprocess.run(
        [DBT_EXECUTABLE, "build", "--exclude-resource-type", "unit_test", "--quiet",
         "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(target), *extra],
        env={**os.environ, "JOURNEY_WAREHOUSE": str(settings.warehouse)}, check=True,
    )
    elapsed = time.perf_counter() - started
    results = json.loads((target / "run_results.json").read_text())["results"]
    return elapsed, {r["unique_id"].split(".")[-1]: r["execution_time"] for r in results
                     if r["unique_id"].startswith("model.")}


def marts(settings: Settings) -> dict[str, list[tuple]]:
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        names = [r[0] for r in con.sql("select table_name from duckdb_tables() "
                                       "where schema_name = 'marts' order by 1").fetchall()]
        return {n: con.sql(f"select * from marts.{n} order by all").fetchall() for n in names}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=84)
    parser.add_argument("--sessions-per-day", type=int, default=900)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="dbt-bench-") as tmp:
        work = Path(tmp)
        settings = Settings.from_env({"JOURNEY_HOME": str(work / "home"),
                                      "JOURNEY_HASH_KEY": secrets.token_hex(32)})
        started = time.perf_counter()
        sim = simulate(days=args.days, sessions_per_day=args.sessions_per_day, seed=args.seed, n_batches=100)
        base, extra = work / "base.ndjson", work / "extra.ndjson"
        write_ndjson((e for e, b in zip(sim.events, sim.batches) if b < 99), base)
        write_ndjson(sim.batch(99), extra)
        print(f"simulated {sim.n_unique_events:,} distinct events, {len(sim.sessions):,} sessions "
              f"in {time.perf_counter() - started:.0f} s")

        import_files([base], settings)
        base_rows = load_spool(settings)["events"]
        full_s, full_models = dbt_build(settings, work / "t1")
        import_files([extra], settings)
        extra_rows = load_spool(settings)["events"]
        incr_s, incr_models = dbt_build(settings, work / "t2")
        incremental = marts(settings)
        refresh_s, _ = dbt_build(settings, work / "t3", "--full-refresh")
        same = marts(settings) == incremental

    print(f"raw rows: {base_rows:,} + {extra_rows:,} ({100 * extra_rows / base_rows:.2f}% more)")
    print(f"full build         {full_s:7.1f} s")
    print(f"incremental build  {incr_s:7.1f} s   ratio to full {incr_s / full_s:.3f}")
    print(f"full refresh       {refresh_s:7.1f} s   ratio incremental/refresh {incr_s / refresh_s:.3f}")
    print(f"incremental marts equal the full refresh: {same}")
    print("slowest models (full s / incremental s):")
    for name in sorted(full_models, key=full_models.get, reverse=True)[:8]:
        print(f"  {name:36s} {full_models[name]:6.2f} {incr_models.get(name, 0):6.2f}")
    if not same:
        raise SystemExit("incremental marts differ from the full refresh")


if __name__ == "__main__":
    main()
