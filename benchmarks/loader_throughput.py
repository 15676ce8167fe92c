"""Loader throughput: spool segments → dlt → DuckDB `raw`, against DuckDB's own read_json.

Simulates about a million events (with the simulator's duplicates and
disorder), writes them through the edge into spool segments, then times in the
same process, alternating, median of --repeat runs each:

  baseline  DuckDB `read_json` of the same segment files into a table of a new DuckDB file
  loader    `load_spool`: parse + integrity check + dedup + dlt merge on event_id, new warehouse
  reload    the same segments loaded again into the filled warehouse (all duplicates)

The simulated period ends yesterday 00:00 UTC (`_common.simulation_start`), so
the edge accepts every event on any date; the header line names the commit.

Usage: .venv/bin/python benchmarks/loader_throughput.py [--days 60 --sessions-per-day 1070] [--repeat 3]
Smoke run (seconds): --days 1 --sessions-per-day 40 --repeat 1
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from _common import add_simulation_arguments, describe_simulation, print_header, simulation_start
from ingestion.edge import Edge, utc_now_iso
from ingestion.loader import load_spool
from ingestion.settings import Settings
from ingestion.simulator import simulate
from ingestion.spool import SpoolReader, SpoolWriter


def write_spool(settings: Settings, events: list[dict]) -> list[Path]:
    edge = Edge(secrets.token_bytes(32))
    received_at = utc_now_iso()                # the edge refuses events over an hour after this
    with SpoolWriter(settings.spool_dir, settings.segment_max_bytes, float("inf")) as writer:
        for start in range(0, len(events), 50_000):
            writer.append([edge.accept(e, received_at) for e in events[start:start + 50_000]])
    return SpoolReader(settings.spool_dir).pending()


def baseline(settings: Settings, work: Path) -> float:
    segments = SpoolReader(settings.spool_dir).pending()
    db = work / "baseline.duckdb"
    db.unlink(missing_ok=True)
    started = time.perf_counter()
    with duckdb.connect(str(db)) as con:
        con.execute("create table events as select * from read_json($files, format = 'newline_delimited')",
                    {"files": [str(s) for s in segments]})
    return time.perf_counter() - started


def reset_home(settings: Settings, keep_warehouse: bool = False) -> None:
    if not keep_warehouse:
        settings.warehouse.unlink(missing_ok=True)
        shutil.rmtree(settings.home / ".dlt", ignore_errors=True)
    for seg in (settings.spool_dir / "loaded").glob("*.ndjson"):
        seg.rename(settings.spool_dir / "ready" / seg.name)


def timed_load(settings: Settings) -> tuple[float, dict]:
    started = time.perf_counter()
    result = load_spool(settings)
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_simulation_arguments(parser, days=60, sessions_per_day=1070, seed=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="journey-bench-"))
    settings = Settings.from_env({"JOURNEY_HOME": str(work / "home")})
    print_header(describe_simulation(args), f"median of {args.repeat}")
    try:
        t = time.perf_counter()
        sim = simulate(days=args.days, sessions_per_day=args.sessions_per_day, seed=args.seed,
                       start=simulation_start(args.days))
        segments = write_spool(settings, sim.events)
        size = sum(s.stat().st_size for s in segments)
        print(f"setup: {len(sim.events):,} deliveries ({sim.n_unique_events:,} distinct events), "
              f"{len(segments)} segments, {size / 1e6:.0f} MB, {time.perf_counter() - t:.1f} s")

        base, load, reload = [], [], []
        for _ in range(args.repeat):
            reset_home(settings)
            base.append(baseline(settings, work))
            seconds, result = timed_load(settings)
            assert result["events"] == sim.n_unique_events, result
            load.append(seconds)
            reset_home(settings, keep_warehouse=True)
            seconds, result = timed_load(settings)
            assert result["events"] == 0, result
            reload.append(seconds)
        b, l, r = (statistics.median(x) for x in (base, load, reload))
        n = len(sim.events)
        print(f"duckdb read_json baseline: {b:6.2f} s  {n / b:>12,.0f} events/s")
        print(f"loader (dlt merge):        {l:6.2f} s  {n / l:>12,.0f} events/s  ratio {l / b:.2f}x")
        print(f"reload, all duplicates:    {r:6.2f} s  {n / r:>12,.0f} events/s  ratio {r / b:.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
