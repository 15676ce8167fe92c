"""``python -m ingestion.simulator``: simulated journey events as NDJSON, one file per batch."""

from __future__ import annotations

import argparse
from pathlib import Path

from ingestion.simulator.realism import Realism
from ingestion.simulator.simulation import simulate, write_ndjson


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ingestion.simulator",
                                description="Write simulated journey events as NDJSON, one file per batch.")
    p.add_argument("--days", type=int, default=7)
    p.add_argument("--sessions-per-day", type=int, default=750)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--ttl-hours", type=float, default=24.0)
    p.add_argument("--batches", type=int, default=3)
    p.add_argument("--id-prefix", default="", help="put in front of every minted id (disjoint shards)")
    p.add_argument("--realism", action="store_true", help="turn on every realism case (ingestion/simulator/realism.py)")
    p.add_argument("--out", type=Path, default=Path("data/simulated"))
    a = p.parse_args(argv)
    sim = simulate(days=a.days, sessions_per_day=a.sessions_per_day, seed=a.seed,
                   ttl_hours=a.ttl_hours, n_batches=a.batches, id_prefix=a.id_prefix,
                   realism=Realism.all() if a.realism else Realism())
    for b in range(max(1, a.batches)):
        path = a.out / f"batch-{b}.ndjson"
        print(f"{path}: {write_ndjson(sim.batch(b), path)} events")
    print(f"{sim.n_unique_events} distinct events, {len(sim.events)} delivered, "
          f"{len(sim.sessions)} sessions, watermark {sim.watermark.isoformat()}")
    if sim.realism_counts:
        print(f"realism cases: {sim.realism_counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
