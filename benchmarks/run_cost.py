"""`journey run` as a user runs it: a full build, nothing new, then +1 % new events.

Simulates journeys (duplicates, disorder, late events) in 100 delivery batches,
`journey import`s the first 99 and times the real command, each a fresh process
in a fresh JOURNEY_HOME, from exec to exit (interpreter, imports, Dagster, the
load, dbt, the quality suites and the publication of the serving snapshot):

  full          the first `journey run`: every model built from the 99 batches
  nothing new   `journey run` again with nothing waiting (the fast path)
  +1 %          `journey import` of the 100th batch, then `journey run`
  full refresh  `journey run --full-refresh` on the same final data (the baseline
                the +1 % run is compared with: a full build of the same warehouse)
  one event     `journey import` of a single new message, then `journey run`: what
                a run costs whatever it loads, the floor under any incremental run

Each run's stage lines (load, dbt build, checks, publish) are printed with it;
"fixed" is the wall time outside them (interpreter, imports, definitions). At the
end the serving snapshot of the +1 % run must equal the refreshed one, and the
slowest dbt models of the +1 % run are listed with their time in the full refresh
(from dbt's `run_results.json`), to show which tables still cost what the warehouse
holds rather than what changed. The one-event run comes last, after the comparison:
its share of the full build is the lowest any +1 % run could reach at this size.

The simulation ends yesterday 00:00 UTC (`_common.simulation_start`), so the edge
accepts every event on any date; the header line names the commit.

Usage: .venv/bin/python benchmarks/run_cost.py [--days 84 --sessions-per-day 900]   (~1M events)
       [--rounds 3]: the +1 % run three times from copies of the same 99 % home, median shown
Smoke run (a few minutes): --days 1 --sessions-per-day 30
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from _common import REPO, add_simulation_arguments, describe_simulation, print_header, simulate_ninety_nine_and_one
from orchestration.defs.dbt.stamps import marts_rows

JOURNEY = [sys.executable, "-m", "orchestration.cli"]
# `✓ load       12,345 new events, 0 quarantined        3.2 s`
STAGE_LINE = re.compile(r"^\S\s+(load|dbt build|checks|publish)\s+(.*?)\s+([\d.]+) s$")


@dataclass
class Run:
    label: str
    wall_s: float
    stages: dict[str, float]
    output: str
    models: dict[str, float]  # dbt's execution time of each model it ran, by name

    @property
    def fixed_s(self) -> float:
        return self.wall_s - sum(self.stages.values())

    def line(self) -> str:
        stages = "  ".join(f"{name} {seconds:5.1f}" for name, seconds in self.stages.items())
        models = f"   models {sum(self.models.values()):5.1f} s" if self.models else ""
        return f"{self.label:13s} {self.wall_s:6.1f} s wall   fixed {self.fixed_s:5.1f} s   {stages}{models}"


def journey(env: dict[str, str], label: str, *args: str) -> Run:
    results = Path(env["JOURNEY_HOME"]) / "dbt" / "target" / "run_results.json"
    results.unlink(missing_ok=True)
    started = time.perf_counter()
    done = subprocess.run([*JOURNEY, *args], env=env, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"journey {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    stages = {m[1]: float(m[3]) for m in map(STAGE_LINE.match, done.stdout.splitlines()) if m}
    return Run(label, wall, stages, done.stdout, model_times(results))


def model_times(results: Path) -> dict[str, float]:
    """Each dbt model's execution time in a run's `run_results.json` (none without dbt)."""
    if not results.exists():
        return {}
    return {r["unique_id"].split(".")[-1]: r["execution_time"] for r in json.loads(results.read_text())["results"]
            if r["unique_id"].startswith("model.")}


def one_new_message(batch: Path, out: Path) -> Path:
    """A file with one message of `batch` sent again as a new event (its own event and
    message ids): the smallest load that still makes a run load, build, check and publish."""
    for line in batch.read_text().splitlines():
        event = json.loads(line)
        if event["type"] == "message.received":
            event["event_id"] = str(uuid.uuid4())
            event.setdefault("properties", {})["message_id"] = f"msg-{uuid.uuid4().hex}"
            out.write_text(json.dumps(event) + "\n")
            return out
    raise SystemExit(f"no message.received event in {batch}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_simulation_arguments(parser, days=84, sessions_per_day=900)
    parser.add_argument("--rounds", type=int, default=1,
                        help="+1 %% runs, each from the same 99 %% home; the median is shown (default 1)")
    args = parser.parse_args()
    print_header(describe_simulation(args))

    with tempfile.TemporaryDirectory(prefix="run-cost-") as tmp:
        work = Path(tmp)
        env = {**os.environ, "JOURNEY_HOME": str(work / "home"), "JOURNEY_HASH_KEY": secrets.token_hex(32)}
        for name in ("JOURNEY_WAREHOUSE", "JOURNEY_SERVING_DB", "DAGSTER_HOME"):
            env.pop(name, None)
        base, extra = simulate_ninety_nine_and_one(work, args.days, args.sessions_per_day, args.seed)

        journey(env, "import", "import", str(base))
        runs = [journey(env, "full", "run"), journey(env, "nothing new", "run")]
        home, kept = work / "home", work / "home-99"
        if args.rounds > 1:  # each round from the same 99 % home, at the same path (dbt keeps its parse)
            shutil.copytree(home, kept, symlinks=True)
        rounds = []
        for round_ in range(args.rounds):
            if round_:
                shutil.rmtree(home)
                shutil.copytree(kept, home, symlinks=True)
            journey(env, "import", "import", str(extra))
            rounds.append(journey(env, "+1 %", "run"))
        runs.append(sorted(rounds, key=lambda run: run.wall_s)[len(rounds) // 2])
        serving = work / "home" / "serving" / "journey.duckdb"
        incremental = marts_rows(serving)
        runs.append(journey(env, "full refresh", "run", "--full-refresh"))
        same = marts_rows(serving) == incremental
        journey(env, "import", "import", str(one_new_message(extra, work / "one.ndjson")))
        runs.append(journey(env, "one event", "run"))

    for run in runs:
        print(run.line())
    if len(rounds) > 1:
        walls = ", ".join(f"{run.wall_s:.1f}" for run in rounds)
        builds = ", ".join(f"{run.stages.get('dbt build', 0):.1f}" for run in rounds)
        print(f"+1 % rounds: {walls} s wall (dbt build {builds} s); the median is shown")
    full, noop, plus, refresh, one = runs
    print(f"nothing new: {noop.wall_s:.1f} s wall (target at most 5 s)")
    print(f"+1 %: {plus.wall_s:.1f} s wall (target at most 25 s), {plus.wall_s / refresh.wall_s:.3f} of the full "
          f"refresh and {plus.wall_s / full.wall_s:.3f} of the first full build (target at most 0.25)")
    print(f"one event: {one.wall_s:.1f} s wall, {one.wall_s / refresh.wall_s:.3f} of the full refresh and "
          f"{one.wall_s / full.wall_s:.3f} of the first full build: the floor under any run that loads; "
          f"the +1 % run's data costs {plus.wall_s - one.wall_s:.1f} s above it")
    print("slowest models of the +1 % run (s), beside the full refresh's:")
    for name, seconds in sorted(plus.models.items(), key=lambda item: -item[1])[:12]:
        print(f"  {seconds:5.2f}  {refresh.models.get(name, float('nan')):5.2f}  {name}")
    print(f"+1 % serving snapshot equals the full refresh's: {same}")
    if not same:
        raise SystemExit("the incremental run's marts differ from the full refresh's")


if __name__ == "__main__":
    main()
