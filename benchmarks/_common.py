"""What every benchmark shares: the commit it measures and a simulated period that
lies in the past whatever the date.

Not a benchmark itself; the scripts import it as a sibling (`python benchmarks/x.py`
puts this folder first on sys.path).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def git_commit() -> str:
    """`git rev-parse --short HEAD`, with "+dirty" when the working tree differs from
    it (untracked files included: a new model changes what a benchmark measures)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = bool(git("status", "--porcelain"))
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def print_header(*details: str) -> str:
    """Print every benchmark's first line (when, which commit, the machine and its
    load, then what it measures), so a figure can be set beside a recorded one taken
    on another day; returns the commit."""
    commit = git_commit()
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, commit {commit}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}; " + "; ".join(details), flush=True)
    return commit


def add_simulation_arguments(parser: argparse.ArgumentParser, *, days: int, sessions_per_day: int,
                             seed: int = 3) -> None:
    """--days, --sessions-per-day and --seed: the size of the simulated period."""
    parser.add_argument("--days", type=int, default=days)
    parser.add_argument("--sessions-per-day", type=int, default=sessions_per_day)
    parser.add_argument("--seed", type=int, default=seed)


def describe_simulation(args: argparse.Namespace) -> str:
    """The simulation that `add_simulation_arguments`' values ask for, ending yesterday."""
    return (f"simulate(days={args.days}, sessions_per_day={args.sessions_per_day}, seed={args.seed}) "
            f"from {simulation_start(args.days):%Y-%m-%d}")


def simulation_end(now: datetime | None = None) -> datetime:
    """Yesterday 00:00 UTC: a simulation ending here is over a day in the past, so the
    edge (which refuses events more than JOURNEY_MAX_FUTURE_S ahead of their receipt)
    accepts every event, on any date."""
    now = now or datetime.now(timezone.utc)
    return now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)


def simulation_start(days: float, now: datetime | None = None) -> datetime:
    """The start of a `days`-long simulation that ends at `simulation_end()`:
    `simulate(days=days, start=simulation_start(days))` puts every event in the past."""
    return simulation_end(now) - timedelta(days=days)


def simulate_ninety_nine_and_one(work: Path, days: float, sessions_per_day: int, seed: int) -> tuple[Path, Path]:
    """A simulation ending yesterday, cut into 100 delivery batches (with duplicates,
    disorder and late events): the first 99 written to `work`/base.ndjson, the 100th,
    about 1 % more, to `work`/extra.ndjson. Prints what it simulated."""
    from ingestion.simulator import simulate, write_ndjson

    started = time.perf_counter()
    sim = simulate(days=days, sessions_per_day=sessions_per_day, seed=seed, n_batches=100,
                   start=simulation_start(days))
    base, extra = work / "base.ndjson", work / "extra.ndjson"
    write_ndjson((e for e, b in zip(sim.events, sim.batches) if b < 99), base)
    write_ndjson(sim.batch(99), extra)
    print(f"simulated {sim.n_unique_events:,} distinct events ({len(sim.events):,} deliveries), "
          f"{len(sim.sessions):,} sessions in {time.perf_counter() - started:.0f} s", flush=True)
    return base, extra


def post_events(conn: http.client.HTTPConnection, body: bytes, headers: dict) -> tuple[int, int]:
    """POST an `{"events": [...]}` body to the collector; (events acknowledged, retries).
    A 503 (sink full) or 429 (rate limit) is sent again after its Retry-After, a dropped
    connection at once: resending is safe, the warehouse keeps each event_id once."""
    for attempt in range(50):
        try:
            conn.request("POST", "/v1/events", body, headers)
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            time.sleep(0.1 * attempt)
            continue
        if response.status in (429, 503):
            time.sleep(float(response.getheader("Retry-After", "1")))
            continue
        if response.status != 200:
            raise RuntimeError(f"collector answered {response.status}: {data[:500]!r}")
        return json.loads(data)["accepted"], attempt
    raise RuntimeError("collector kept refusing")
