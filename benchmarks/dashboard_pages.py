"""Dashboard pages: how long each page of `journey dashboard` takes on a large serving snapshot.

Starts `journey dashboard` (a fresh process, as a user runs it) on a free loopback
port over the serving snapshot given by --snapshot, or, without one, over one it
builds: simulated journeys (about 1M events at the default size, ending yesterday
00:00 UTC, `_common.simulation_start`) through `journey import` and `journey run`
in a temporary JOURNEY_HOME. Then times each page over HTTP, from sending the
request to the last byte of the answer:

  overview, service, self-service, agents, resolution quality
  sessions        the drill-down list of the period's sessions
  queue drill     the sessions a team's queue visits belong to (events: §6.1.7)
  step drill      the sessions that dropped off at a funnel step (events: §6.1.4)
  CSV export      every session of the period, every column
  timeline        the session with the most events

each without a filter and with one (the snapshot's busiest channel and team),
over the pages' default period (the 7 days ending on the data's last day), or
the days --start and --end give: one warm-up request, then the median of
--repeat requests. Prints a table and exits 1
when any page's median exceeds --limit seconds (1 s: a page a manager waits for).
The header line names the commit and the machine's load average.

Usage: .venv/bin/python benchmarks/dashboard_pages.py [--snapshot PATH | --days 84 --sessions-per-day 900]
Smoke run (about a minute: the build): --days 1 --sessions-per-day 30
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

from _common import REPO, add_simulation_arguments, describe_simulation, print_header, simulation_start

JOURNEY = [sys.executable, "-m", "orchestration.cli"]
HASH_KEY = "dashboard-pages-benchmark-" + "k" * 32


@dataclass(frozen=True)
class Page:
    label: str
    path: str  # with its own query string, if any


def build_snapshot(work: Path, days: int, sessions_per_day: int, seed: int) -> Path:
    """A serving snapshot from simulated journeys, built by the real commands."""
    from ingestion.simulator import simulate, write_ndjson

    started = time.perf_counter()
    sim = simulate(days=days, sessions_per_day=sessions_per_day, seed=seed, start=simulation_start(days))
    events = work / "events.ndjson"
    write_ndjson(sim.events, events)
    print(f"simulated {sim.n_unique_events:,} distinct events, {len(sim.sessions):,} sessions in "
          f"{time.perf_counter() - started:.0f} s", flush=True)
    env = _env(work / "home")
    for args in (["import", str(events)], ["run"]):
        started = time.perf_counter()
        done = subprocess.run([*JOURNEY, *args], env=env, cwd=REPO, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"journey {args[0]} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        print(f"journey {args[0]}: {time.perf_counter() - started:.0f} s", flush=True)
    return work / "home" / "serving" / "journey.duckdb"


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("JOURNEY_") and k != "DAGSTER_HOME"}
    return {**env, "JOURNEY_HOME": str(home), "JOURNEY_HASH_KEY": HASH_KEY, **extra}


def describe(snapshot: Path) -> tuple[dict, str, list[Page]]:
    """What the snapshot holds, the filter's query string, and the pages to time."""
    import duckdb

    with duckdb.connect(str(snapshot), read_only=True) as con:
        def one(sql: str):
            return con.execute(sql).fetchone()

        facts = {"events": one("select events_loaded from marts.publication")[0],
                 "sessions": one("select count(*) from marts.fct_sessions")[0],
                 "session_events": one("select count(*) from marts.fct_session_events")[0]}
        channel = one("select channel from marts.fct_sessions where channel is not null "
                      "group by 1 order by count(*) desc, 1 limit 1")
        team = one("select team from marts.fct_agent_sessions group by 1 order by count(*) desc, 1 limit 1")
        queue = one("select team from marts.mart_queue_dynamics where team <> 'unassigned' "
                    "group by 1 order by sum(queued) desc, 1 limit 1") or ("unassigned",)
        funnel, step = one("select funnel, step_index from marts.mart_friction "
                           "order by dropoffs desc, funnel, step_index limit 1") or ("none", 1)
        session = one("select session_id from marts.fct_session_events group by 1 order by count(*) desc, 1 limit 1")
        if session is None:
            raise SystemExit(f"{snapshot} has no session events to time a timeline on")
    query = urlencode({name: row[0] for name, row in (("channel", channel), ("team", team)) if row})
    queue, session = queue[0], session[0]
    pages = [
        Page("overview", "/"),
        Page("service", "/service"),
        Page("self-service", "/self-service"),
        Page("agents", "/agents"),
        Page("resolution quality", "/quality"),
        Page("sessions (drill-down)", "/sessions"),
        Page("queue drill", "/sessions?" + urlencode({"queue": queue})),
        Page("step drill", "/sessions?" + urlencode({"funnel": funnel, "step": step, "outcome": "dropped"})),
        Page("CSV export", "/sessions.csv"),
        Page("timeline", "/sessions/" + quote(session, safe="")),
    ]
    return facts, query, pages


class Dashboard:
    """`journey dashboard` on a free loopback port over `snapshot`, in a temporary JOURNEY_HOME."""

    def __init__(self, snapshot: Path, home: Path):
        from ingestion.collector.local import free_port, wait_until_healthy

        self.port = free_port()
        self.proc = subprocess.Popen(
            [*JOURNEY, "dashboard", "--host", "127.0.0.1", "--port", str(self.port)],
            env=_env(home, JOURNEY_SERVING_DB=str(snapshot)), cwd=REPO,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            wait_until_healthy(self.proc, f"http://127.0.0.1:{self.port}", 60, "dashboard", self.proc.stdout.read)
        except RuntimeError as exc:
            raise SystemExit(str(exc)) from None

    def get(self, path: str) -> tuple[int, int]:
        """(status, body bytes), over a new connection as a browser's first visit makes it."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, len(response.read())
        finally:
            conn.close()

    def time(self, path: str, repeat: int) -> tuple[float, int]:
        """The median seconds of `repeat` requests after one warm-up, and the body size."""
        status, size = self.get(path)
        if status != 200:
            raise SystemExit(f"GET {path} answered {status}")
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            status, size = self.get(path)
            times.append(time.perf_counter() - started)
            if status != 200:
                raise SystemExit(f"GET {path} answered {status}")
        return statistics.median(times), size

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def with_filter(path: str, query: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}{query}" if query else path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshot", type=Path, help="a serving snapshot (default: build one from a simulation)")
    add_simulation_arguments(parser, days=84, sessions_per_day=900)
    parser.add_argument("--start", help="first day of the period shown (YYYY-MM-DD; default: the pages' default)")
    parser.add_argument("--end", help="last day of the period shown (YYYY-MM-DD)")
    parser.add_argument("--repeat", type=int, default=5, help="timed requests per page, after one warm-up")
    parser.add_argument("--limit", type=float, default=1.0, help="seconds a page's median may take")
    args = parser.parse_args()
    print_header(f"snapshot {args.snapshot}" if args.snapshot else describe_simulation(args))

    with tempfile.TemporaryDirectory(prefix="dashboard-pages-") as tmp:
        work = Path(tmp)
        snapshot = args.snapshot or build_snapshot(work, args.days, args.sessions_per_day, args.seed)
        if not snapshot.is_file():
            raise SystemExit(f"no serving snapshot at {snapshot}")
        facts, query, pages = describe(snapshot)
        period = urlencode({name: day for name, day in (("start", args.start), ("end", args.end)) if day})
        print(f"snapshot: {facts['events']:,} events, {facts['sessions']:,} sessions, "
              f"{facts['session_events']:,} rows of fct_session_events; filter: {query}; "
              f"period: {period or 'the default'}", flush=True)
        if period:
            pages = [Page(page.label, with_filter(page.path, period)) for page in pages]
        dashboard = Dashboard(snapshot, work / "dashboard-home")
        try:
            rows = [(page, dashboard.time(page.path, args.repeat), dashboard.time(with_filter(page.path, query),
                                                                                  args.repeat))
                    for page in pages]
        finally:
            dashboard.stop()

    print(f"\nmedian of {args.repeat} requests after a warm-up, seconds (body size):")
    print(f"{'page':24s} {'no filter':>20s} {'filtered':>20s}")
    for page, (plain, plain_size), (filtered, filtered_size) in rows:
        print(f"{page.label:24s} {plain:9.3f} {_size(plain_size):>10s} {filtered:9.3f} {_size(filtered_size):>10s}")
    slowest_page, slowest = max(((page, max(plain[0], filtered[0])) for page, plain, filtered in rows),
                                key=lambda item: item[1])
    over = [page.label for page, plain, filtered in rows if max(plain[0], filtered[0]) > args.limit]
    print(f"slowest: {slowest_page.label} {slowest:.3f} s; every page's median at most {args.limit:g} s: "
          f"{'yes' if not over else 'no (' + ', '.join(over) + ')'}")
    if over:
        sys.exit(1)


def _size(size: int) -> str:
    return f"({size / 1024:,.0f} KiB)"


if __name__ == "__main__":
    main()
