"""dbt: a full build on about a million events, then an incremental run after 1% more.

Simulates journeys (with duplicates, disorder and late events) in 100 delivery
batches, loads the first 99 through `journey import` + the dlt loader, and times
with the dbt CLI (unit tests excluded, data tests included, as `journey run`
builds):

  full         `dbt build` creating every model from the 99 batches
  incremental  `dbt build` after the 100th batch (~1% more events, some late)
  nothing new  `dbt build` again with no new load: dbt's fixed cost per run
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
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb

from ingestion.importer import import_files
from ingestion.loader import load_spool
from ingestion.settings import Settings
from ingestion.simulator import simulate, write_ndjson
from orchestration.defs.dbt.project import DBT_EXECUTABLE, DBT_PROJECT_DIR


@dataclass
class Build:
    """One `dbt build`: wall time, dbt's own elapsed time (after startup and
    parsing), and the summed execution time of models and of data tests."""

    wall_s: float
    elapsed_s: float
    models_s: float
    tests_s: float
    per_model: dict[str, float]

    def line(self, label: str) -> str:
        return (f"{label:18s} {self.wall_s:7.1f} s wall   startup {self.wall_s - self.elapsed_s:5.1f} s   "
                f"models {self.models_s:6.1f} s   tests {self.tests_s:5.1f} s")


def dbt(settings: Settings, target: Path, *args: str) -> None:
    subprocess.run(
        [DBT_EXECUTABLE, *args, "--quiet", "--project-dir", str(DBT_PROJECT_DIR),
         "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(target)],
        env={**os.environ, "JOURNEY_WAREHOUSE": str(settings.warehouse)}, check=True,
    )


def dbt_build(settings: Settings, target: Path, *extra: str) -> Build:
    started = time.perf_counter()
    dbt(settings, target, "build", "--exclude-resource-type", "unit_test", *extra)
    wall = time.perf_counter() - started
    run = json.loads((target / "run_results.json").read_text())
    times = {r["unique_id"]: r["execution_time"] for r in run["results"]}
    models = {uid.split(".")[-1]: t for uid, t in times.items() if uid.startswith("model.")}
    tests = sum(t for uid, t in times.items() if uid.startswith("test."))
    return Build(wall, run["elapsed_time"], sum(models.values()), tests, models)


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
        # Ending today: the collector's contract refuses events more than an hour ahead.
        start = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=args.days + 1)
        sim = simulate(days=args.days, sessions_per_day=args.sessions_per_day, seed=args.seed, n_batches=100,
                       start=start)
        base, extra = work / "base.ndjson", work / "extra.ndjson"
        write_ndjson((e for e, b in zip(sim.events, sim.batches) if b < 99), base)
        write_ndjson(sim.batch(99), extra)
        print(f"simulated {sim.n_unique_events:,} distinct events, {len(sim.sessions):,} sessions "
              f"in {time.perf_counter() - started:.0f} s")

        import_files([base], settings)
        base_rows = load_spool(settings)["events"]
        # One target path, parsed first as a deployment's prepare step does, so every
        # timed run parses partially and the ratios compare transformation, not parsing.
        target = work / "target"
        dbt(settings, target, "parse")
        full = dbt_build(settings, target)
        import_files([extra], settings)
        extra_rows = load_spool(settings)["events"]
        incr = dbt_build(settings, target)
        incremental = marts(settings)
        noop = dbt_build(settings, target)
        refresh = dbt_build(settings, target, "--full-refresh")
        same = marts(settings) == incremental

    print(f"raw rows: {base_rows:,} + {extra_rows:,} ({100 * extra_rows / base_rows:.2f}% more)")
    print(full.line("full build"))
    print(incr.line("incremental"))
    print(noop.line("nothing new"))
    print(refresh.line("full refresh"))
    print(f"incremental / full: wall {incr.wall_s / full.wall_s:.3f}, "
          f"models + tests {(incr.models_s + incr.tests_s) / (full.models_s + full.tests_s):.3f}, "
          f"models {incr.models_s / full.models_s:.3f}")
    print(f"incremental / full refresh: wall {incr.wall_s / refresh.wall_s:.3f}")
    print(f"incremental marts equal the full refresh: {same}")
    print("slowest models (full s / incremental s):")
    for name in sorted(full.per_model, key=full.per_model.get, reverse=True)[:10]:
        print(f"  {name:36s} {full.per_model[name]:6.2f} {incr.per_model.get(name, 0):6.2f}")
    if not same:
        raise SystemExit("incremental marts differ from the full refresh")


if __name__ == "__main__":
    main()
