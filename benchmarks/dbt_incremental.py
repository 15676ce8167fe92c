"""dbt: a full build on about a million events, then an incremental run after 1% more.

Simulates journeys (with duplicates, disorder and late events) in 100 delivery
batches, loads the first 99 through `journey import` + the dlt loader, and times
with the dbt CLI (unit tests excluded, data tests included, as `journey run`
builds):

  full         `dbt build` creating every model from the 99 batches
  incremental  `dbt build` after the 100th batch (~1% more events, some late)
  nothing new  `dbt build` again with no new load: dbt's fixed cost per run
  refresh      `dbt build --full-refresh` on the same final data (the baseline)
  warm         the nothing-new build again, in-process through dbt's Python API
               with the parsed manifest reused (no start-up, no parsing)

then checks that the incremental marts equal the refreshed ones. Per-model
times of both runs come from dbt's run_results.json. Each run is split into
its fixed and variable parts from dbt's own debug log (JSON): the warehouse
time is the sum of every SQL statement's duration (`SQLQueryStatus`), dbt's
per-node Python work is the node time around it, and start-up is the wall
time before the first node; importing dbt alone is timed once as a floor.

The simulation ends yesterday 00:00 UTC (`_common.simulation_start`), so the edge
accepts every event on any date; the header line names the commit.

Usage: .venv/bin/python benchmarks/dbt_incremental.py [--days 84 --sessions-per-day 900]
Smoke run (four dbt invocations, a few minutes at most): --days 1 --sessions-per-day 30 --no-floor
(--no-floor leaves out the runs that measure dbt's fixed cost: nothing new, warm, importing dbt)
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


from _common import add_simulation_arguments, describe_simulation, print_header, simulate_ninety_nine_and_one
from ingestion.importer import import_files
from ingestion.loader import load_spool
from ingestion.settings import Settings
from orchestration.defs.dbt.cli_args import DbtRunConfig, dbt_build_args
from orchestration.defs.dbt.project import DBT_EXECUTABLE, DBT_PROJECT_DIR
from orchestration.defs.dbt.stamps import marts_rows


@dataclass
class Build:
    """One `dbt build`: wall time, dbt's own elapsed time (after startup and
    parsing), the summed execution time of models and of data tests, and the
    summed duration of the SQL statements dbt sent (the warehouse's share)."""

    wall_s: float
    elapsed_s: float
    models_s: float
    tests_s: float
    sql_s: float
    per_model: dict[str, float]

    def line(self, label: str) -> str:
        return (f"{label:18s} {self.wall_s:7.1f} s wall   startup {self.wall_s - self.elapsed_s:5.1f} s   "
                f"models {self.models_s:6.1f} s   tests {self.tests_s:5.1f} s   "
                f"SQL {self.sql_s:6.1f} s   dbt python {self.models_s + self.tests_s - self.sql_s:5.1f} s")


def project_flags(target: Path) -> list[str]:
    """The same project, profile and target path for the CLI and the in-process runs."""
    return ["--quiet", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
            "--target-path", str(target)]


def build_args(settings: Settings, full_refresh: bool = False) -> list[str]:
    """What `journey run` passes to `dbt build`."""
    return dbt_build_args(DbtRunConfig(full_refresh=full_refresh), settings.dbt_vars())


def best_of(runs: int, run: Callable[[], object]) -> float:
    """The shortest wall time of `runs` calls."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def dbt(settings: Settings, target: Path, *args: str) -> None:
    subprocess.run(
        [DBT_EXECUTABLE, *args, *project_flags(target)],
        env={**os.environ, "JOURNEY_WAREHOUSE": str(settings.warehouse)}, check=True,
    )


def sql_seconds(log: Path) -> float:
    """Summed duration of the SQL statements in a dbt JSON debug log."""
    total = 0.0
    for line in log.read_text().splitlines():
        event = json.loads(line)
        if event["info"]["name"] == "SQLQueryStatus":
            total += event["data"]["elapsed"]
    return total


def dbt_build(settings: Settings, target: Path, full_refresh: bool = False) -> Build:
    logs = target / f"logs-{time.time_ns()}"
    started = time.perf_counter()
    dbt(settings, target, *build_args(settings, full_refresh), "--log-path", str(logs),
        "--log-format-file", "json", "--log-level-file", "debug")
    wall = time.perf_counter() - started
    run = json.loads((target / "run_results.json").read_text())
    times = {r["unique_id"]: r["execution_time"] for r in run["results"]}
    models = {uid.split(".")[-1]: t for uid, t in times.items() if uid.startswith("model.")}
    tests = sum(t for uid, t in times.items() if uid.startswith("test."))
    return Build(wall, run["elapsed_time"], sum(models.values()), tests, sql_seconds(logs / "dbt.log"), models)


def warm_seconds(settings: Settings, target: Path) -> float:
    """Best of two "nothing new" builds run in this process by dbt's Python API
    with the parsed manifest reused: dbt's floor without start-up or parsing."""
    from dbt.cli.main import dbtRunner

    os.environ["JOURNEY_WAREHOUSE"] = str(settings.warehouse)
    runner = dbtRunner(manifest=dbtRunner().invoke(["parse", *project_flags(target)]).result)

    def build() -> None:
        if not runner.invoke([*build_args(settings), *project_flags(target)]).success:
            raise SystemExit("the in-process dbt build failed")

    return best_of(2, build)


def import_seconds() -> float:
    """Best of three: a fresh interpreter importing dbt's CLI and nothing else."""
    return best_of(3, lambda: subprocess.run([sys.executable, "-c", "import dbt.cli.main"], check=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_simulation_arguments(parser, days=84, sessions_per_day=900)
    parser.add_argument("--floor", action=argparse.BooleanOptionalAction, default=True,
                        help="also time dbt's fixed cost: a nothing-new build, the same in-process, importing dbt")
    args = parser.parse_args()
    print_header(describe_simulation(args), f"dbt project {DBT_PROJECT_DIR}")

    with tempfile.TemporaryDirectory(prefix="dbt-bench-") as tmp:
        work = Path(tmp)
        settings = Settings.from_env({"JOURNEY_HOME": str(work / "home"),
                                      "JOURNEY_HASH_KEY": secrets.token_hex(32)})
        base, extra = simulate_ninety_nine_and_one(work, args.days, args.sessions_per_day, args.seed)

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
        incremental = marts_rows(settings.warehouse)
        noop = dbt_build(settings, target) if args.floor else None
        refresh = dbt_build(settings, target, full_refresh=True)
        same = marts_rows(settings.warehouse) == incremental
        warm = warm_seconds(settings, target) if args.floor else None

    print(f"raw rows: {base_rows:,} + {extra_rows:,} ({100 * extra_rows / base_rows:.2f}% more)")
    print(full.line("full build"))
    print(incr.line("incremental"))
    if noop:
        print(noop.line("nothing new"))
    print(refresh.line("full refresh"))
    print(f"incremental / full: wall {incr.wall_s / full.wall_s:.3f}, "
          f"models + tests {(incr.models_s + incr.tests_s) / (full.models_s + full.tests_s):.3f}, "
          f"models {incr.models_s / full.models_s:.3f}")
    print(f"incremental / full: SQL (warehouse) {incr.sql_s / full.sql_s:.3f}")
    print(f"incremental / full refresh: wall {incr.wall_s / refresh.wall_s:.3f}")
    if args.floor:
        dbt_import = import_seconds()
        print(f"fixed cost of any dbt build: importing dbt {dbt_import:.1f} s "
              f"({dbt_import / full.wall_s:.3f} of the full build), dbt's own per-node Python work "
              f"{noop.models_s + noop.tests_s - noop.sql_s:.1f} s on the nothing-new run")
        print(f"nothing new, in-process with the parsed manifest reused: {warm:.1f} s "
              f"({warm / full.wall_s:.3f} of the full build)")
    print(f"incremental marts equal the full refresh: {same}")
    print("slowest models (full s / incremental s):")
    for name in sorted(full.per_model, key=full.per_model.get, reverse=True)[:10]:
        print(f"  {name:36s} {full.per_model[name]:6.2f} {incr.per_model.get(name, 0):6.2f}")
    if not same:
        raise SystemExit("incremental marts differ from the full refresh")


if __name__ == "__main__":
    main()
