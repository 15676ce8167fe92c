"""End to end at scale: N simulated events through collector, spool, loader, dbt, checks and report.

For each --events N (e.g. 1000000 10000000), in a fresh temp dir under /tmp:

  generation  (not a stage) simulated in shards of about --shard-events, each
              its own seed, id prefix (`simulate(id_prefix=...)`, so no
              conversation, person or event id is shared between shards) and
              consecutive slice of one --days period, written straight to NDJSON
              and freed; --gen-workers shards at a time, each in a fresh process
  collect     `python -m ingestion.collector` (= `journey collect`) on loopback with a
              generated API key; --clients processes with --connections keep-alive
              connections in all POST the NDJSON as {"events": [...]} bodies of --batch
              events (503 and 429 are retried after Retry-After). The collector fsyncs
              before every 2xx and seals its segment on SIGTERM. `--spool-via import`
              uses `journey import` instead.
  load        `load_spool` (dlt, merge on event_id) into a new DuckDB file
  transform   `dbt build` with the arguments `journey run` gives it (unit tests
              excluded, data tests included), on a copy of the dbt project taken at
              start (HEAD's by default, so runs are tied to a commit)
  checks      every Great Expectations suite on its mart, as the asset checks run them
  publish     `publish_snapshot`: the marts copied into the serving snapshot (comments,
              marts.publication, fsync, rename), as the asset serving/marts_snapshot does;
              its share of the run (load + transform + checks + publish) is printed
  report      `render_report` on the serving snapshot: HTML, PNG charts and CSVs

Each stage runs in its own processes. Per stage: wall seconds, events/s (delivered
events / wall s, for every stage alike), CPU seconds of its processes (getrusage of
the reaped children: steadier than wall time on a shared machine), peak RSS (the
sum over the stage's process tree, sampled every 0.1 s with psutil) and the mean
1-min load average during it (our own processes count in it). Then raw.events
must hold exactly the distinct events sent, and the mart row counts are printed.
With two or more sizes: the growth of each stage from each size to the next,
against the events ratio, and the dbt models that grew most (run_results.json).

The period ends yesterday 00:00 UTC unless --start is given (`_common.simulation_start`),
so the edge accepts every event on any date; the header line names the commit.

Usage: .venv/bin/python benchmarks/end_to_end_scale.py --events 1000000 10000000 [--json out.json]
Smoke run (a few minutes at most, mostly dbt and GX start-up): --events 3000 --days 2 --dbt-project worktree
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import psutil

from _common import post_events, print_header, simulation_start
from ingestion.collector.local import start_local_collector
from ingestion.settings import Settings
from ingestion.simulator import simulate, write_ndjson

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

CHECKS_CODE = """
import json, os
from pathlib import Path
from orchestration.defs.checks.assets import run_suites
from orchestration.defs.checks.suites import suite_files
out = {}
for result in run_suites(Path(os.environ["JOURNEY_WAREHOUSE"]), suite_files()):
    failures = result.metadata["failures"].value
    out[result.check_name] = {"rows": result.metadata["rows_validated"].value,
                              "failures": [] if result.passed else failures}
print(json.dumps(out))
"""
PUBLISH_CODE = """
import json, os, sys
from pathlib import Path
from orchestration.defs.serving.descriptions import descriptions, mart_models
from orchestration.defs.serving.publish import publish_snapshot
published = publish_snapshot(Path(os.environ["JOURNEY_WAREHOUSE"]), Path(os.environ["JOURNEY_SERVING_DB"]),
                             "benchmark", descriptions(mart_models(Path(sys.argv[1]))))
print(json.dumps({"mb": round(published.bytes / 1e6, 1), "tables": len(published.row_counts),
                  "rows": sum(published.row_counts.values())}))
"""
REPORT_CODE = """
import json, os
from pathlib import Path
from orchestration.defs.report.render import render_report
files = render_report(Path(os.environ["JOURNEY_SERVING_DB"]), Path(os.environ["JOURNEY_REPORTS_DIR"]))
print(json.dumps({"html_bytes": files.html.stat().st_size, "images": len(files.images), "csvs": len(files.csvs)}))
"""
LOAD_CODE = "import json; from ingestion.loader import load_spool; print(json.dumps(load_spool()))"


@dataclass
class Stage:
    name: str
    seconds: float
    cpu_s: float
    peak_rss: int
    load_avg: float
    detail: dict = field(default_factory=dict)


@dataclass
class Run:
    target: int
    delivered: int = 0
    distinct: int = 0
    sessions: int = 0
    shards: int = 0
    days: float = 0
    ndjson_bytes: int = 0
    generation_s: float = 0
    generation_peak_rss: int = 0
    stages: list[Stage] = field(default_factory=list)
    raw_events: int = 0
    marts: dict[str, int] = field(default_factory=dict)
    models: dict[str, float] = field(default_factory=dict)

    def stage(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name), None)


# --- generation -----------------------------------------------------------------

def _shard(path: str, days: float, sessions_per_day: int, seed: int, start: str, prefix: str) -> dict:
    sim = simulate(days=days, sessions_per_day=sessions_per_day, seed=seed,
                   start=datetime.fromisoformat(start), id_prefix=prefix)
    delivered = write_ndjson(sim.events, Path(path))
    return {"delivered": delivered, "distinct": sim.n_unique_events, "sessions": len(sim.sessions),
            "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def deliveries_per_conversation(shard_days: float, seed: int, conversations: int = 10_000) -> float:
    """Delivered events (duplicates included) per new conversation in a shard this
    long, from a pilot of 10,000 conversations: shorter shards cut more journeys
    at their end (3-day shards: ~6 % fewer events than one 30-day run)."""
    per_day = max(1, round(conversations / shard_days))
    return len(simulate(days=shard_days, sessions_per_day=per_day, seed=seed).events) / (shard_days * per_day)


def generate(run: Run, work: Path, args) -> list[Path]:
    shards = max(1, round(run.target / args.shard_events))
    shard_days = args.days / shards
    # The pilot is 10,000 conversations from 100,000 events up; smaller (smoke) runs use fewer.
    pilot = min(10_000, max(200, run.target // 10))
    spd = max(1, round(run.target / args.days / deliveries_per_conversation(shard_days, args.seed - 1, pilot)))
    start = datetime.fromisoformat(args.start).replace(tzinfo=timezone.utc)
    paths = [work / "events" / f"shard-{k:03d}.ndjson" for k in range(shards)]
    started = time.perf_counter()
    with ProcessPoolExecutor(args.gen_workers, mp_context=mp.get_context("spawn"), max_tasks_per_child=1) as pool:
        futures = [pool.submit(_shard, str(paths[k]), shard_days, spd, args.seed + k,
                               (start + timedelta(days=k * shard_days)).isoformat(), f"s{k:03d}-")
                   for k in range(shards)]
        results = [f.result() for f in futures]
    run.generation_s = time.perf_counter() - started
    run.shards, run.days = shards, args.days
    run.delivered = sum(r["delivered"] for r in results)
    run.distinct = sum(r["distinct"] for r in results)
    run.sessions = sum(r["sessions"] for r in results)
    run.generation_peak_rss = max(r["peak_rss"] for r in results)
    run.ndjson_bytes = sum(p.stat().st_size for p in paths)
    return paths


# --- measuring ----------------------------------------------------------------------

class TreeRss:
    """Peak of the summed RSS of every descendant of this process, sampled in a thread,
    and the mean 1-minute load average over the samples."""

    def __init__(self, interval: float = 0.1):
        self.interval, self.peak = interval, 0
        self.loads: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self.loads.append(os.getloadavg()[0])
            self._stop.wait(self.interval)

    def __enter__(self) -> "TreeRss":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measured(run: Run, name: str, action, n_events: int) -> Stage:
    cpu = children_cpu()
    with TreeRss() as rss:
        started = time.perf_counter()
        detail = action()
        seconds = time.perf_counter() - started
    stage = Stage(name, seconds, children_cpu() - cpu, rss.peak, sum(rss.loads) / len(rss.loads), detail or {})
    run.stages.append(stage)
    print(f"  {name:<9} {seconds:8.1f} s  {n_events / seconds:>10,.0f} events/s  "
          f"peak RSS {stage.peak_rss / 2**20:7,.0f} MB  {stage.detail}", flush=True)
    return stage


def child_json(code: str, env: dict, *args: str) -> dict:
    """Runs `code` from a script file, as the project's commands run. Under `python -c`
    (no `__main__` file, taken for an interactive session) DuckDB's Python client draws
    a progress bar on stdout for any query over 2 s, which ran into the JSON line read
    here at 10M events."""
    with tempfile.TemporaryDirectory(prefix="journey-stage-") as folder:
        script = Path(folder) / "stage.py"
        script.write_text(code)
        out = subprocess.run([sys.executable, str(script), *args], env=env, cwd=REPO, check=True,
                             stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


# --- collect ------------------------------------------------------------------------

def _slices(paths: list[Path], parts: int) -> list[list[tuple[str, int, int]]]:
    """Each file cut into `parts` byte ranges; range p of every file goes to client p."""
    out: list[list[tuple[str, int, int]]] = [[] for _ in range(parts)]
    for path in paths:
        size = path.stat().st_size
        for p in range(parts):
            out[p].append((str(path), size * p // parts, size * (p + 1) // parts))
    return out


def _bodies(slices: list[tuple[str, int, int]], batch: int):
    """(events, body) per `batch` lines; a range holds the lines that start inside it."""
    for name, begin, end in slices:
        with open(name, "rb") as fh:
            if begin:
                fh.seek(begin - 1)
                fh.readline()                  # to the first line starting at or after `begin`
            lines: list[bytes] = []
            while fh.tell() < end:
                line = fh.readline()
                if not line:
                    break
                lines.append(line.rstrip(b"\n"))
                if len(lines) == batch:
                    yield len(lines), b'{"events":[' + b",".join(lines) + b"]}"
                    lines = []
            if lines:
                yield len(lines), b'{"events":[' + b",".join(lines) + b"]}"


def _client(port: int, api_key: str, slices, connections: int, batch: int, results) -> None:
    bodies, lock = _bodies(slices, batch), threading.Lock()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"}
    totals = {"sent": 0, "accepted": 0, "requests": 0, "retries": 0}
    errors: list[str] = []

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            while not errors:
                with lock:
                    item = next(bodies, None)
                if item is None:
                    return
                accepted, retries = post_events(conn, item[1], headers)
                with lock:
                    totals["sent"] += item[0]
                    totals["accepted"] += accepted
                    totals["requests"] += 1
                    totals["retries"] += retries
        except Exception as exc:  # reported to the parent, which fails the run
            errors.append(repr(exc))
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    began = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put({**totals, "errors": errors, "began": began, "ended": time.time()})


def start_collector(env: dict) -> tuple[subprocess.Popen, int]:
    log = Path(env["JOURNEY_HOME"]) / "logs" / "collector.log"
    proc, url = start_local_collector(env, log, timeout_s=60, cwd=REPO)
    return proc, int(url.rsplit(":", 1)[1])


def collect(paths: list[Path], env: dict, args) -> dict:
    proc, port = start_collector(env)
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    per_client = max(1, args.connections // args.clients)
    clients = [ctx.Process(target=_client, args=(port, env["JOURNEY_API_KEYS"], part, per_client, args.batch,
                                                 results))
               for part in _slices(paths, args.clients)]
    try:
        for c in clients:
            c.start()
        totals = [results.get() for _ in clients]
        for c in clients:
            c.join()
        server = psutil.Process(proc.pid).cpu_times()
    finally:
        proc.terminate()                       # graceful: the open segment is sealed
        proc.wait(timeout=120)
    errors = [e for t in totals for e in t["errors"]]
    if errors:
        raise RuntimeError(f"send failed: {errors[:3]}")
    sending = max(t["ended"] for t in totals) - min(t["began"] for t in totals)
    sent = {k: sum(t[k] for t in totals) for k in ("sent", "accepted", "requests", "retries")}
    # The stage's wall time also holds starting the collector and the clients, and the shutdown.
    return {**sent, "sending_s": round(sending, 1), "sending_events_per_s": round(sent["sent"] / sending),
            "collector_cpu_s": round(server.user + server.system, 1)}


def import_spool(paths: list[Path], env: dict) -> dict:
    out = subprocess.run([str(Path(sys.executable).with_name("journey")), "import", *map(str, paths)],
                         env=env, cwd=REPO, check=True, stdout=subprocess.PIPE, text=True).stdout
    return {"journey import": out.strip().splitlines()[-1]}


# --- transform ------------------------------------------------------------------------

def snapshot_dbt_project(work: Path, source: str) -> Path:
    """The dbt project as it is now (HEAD's, or the working tree's), so that edits
    made while the benchmark runs do not mix into it."""
    from orchestration.defs.dbt.project import DBT_PROJECT_DIR

    dest = work / "dbt_project"
    if source == "HEAD":
        archive = subprocess.run(["git", "archive", "HEAD", "dbt_project"], cwd=REPO, check=True,
                                 stdout=subprocess.PIPE).stdout
        subprocess.run(["tar", "-x", "-C", str(work)], input=archive, check=True)
    else:
        shutil.copytree(DBT_PROJECT_DIR, dest, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    return dest


def transform(project: Path, target: Path, env: dict, dbt_vars: dict) -> tuple[dict, dict[str, float]]:
    # Imported here: Dagster takes seconds to import, and every spawned client would pay it.
    from orchestration.defs.dbt.cli_args import DbtRunConfig, dbt_build_args
    from orchestration.defs.dbt.project import DBT_EXECUTABLE

    subprocess.run([DBT_EXECUTABLE, *dbt_build_args(DbtRunConfig(), dbt_vars), "--quiet",
                    "--project-dir", str(project), "--profiles-dir", str(project),
                    "--target-path", str(target), "--log-path", str(target / "logs")],
                   env=env, check=True)
    results = json.loads((target / "run_results.json").read_text())["results"]
    kinds = {"model": 0, "test": 0, "seed": 0}
    for r in results:
        kind = r["unique_id"].split(".")[0]
        if kind in kinds:
            kinds[kind] += 1
    models = {r["unique_id"].split(".")[-1]: r["execution_time"] for r in results
              if r["unique_id"].startswith("model.")}
    tests_s = sum(r["execution_time"] for r in results if r["unique_id"].startswith("test."))
    return {**{f"{k}s": v for k, v in kinds.items()}, "tests_s": round(tests_s, 1)}, models


def checks(env: dict) -> dict:
    suites = child_json(CHECKS_CODE, env)
    return {"suites": len(suites), "rows": sum(r["rows"] for r in suites.values()),
            "failed": {m: r["failures"] for m, r in suites.items() if r["failures"]}}


# --- one run ------------------------------------------------------------------------------

def verify(run: Run, warehouse: Path) -> None:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        def one(sql: str):
            return con.execute(sql).fetchone()

        rows, ids = one("select count(*), count(distinct event_id) from raw.events")
        has_quarantine = one("select count(*) from duckdb_tables() where schema_name = 'raw' "
                             "and table_name = 'quarantine'")[0]
        quarantined = one("select count(*) from raw.quarantine")[0] if has_quarantine else 0
        names = [r[0] for r in con.execute("select table_name from duckdb_tables() where schema_name = 'marts' "
                                           "order by 1").fetchall()]
        run.marts = {n: one(f'select count(*) from marts."{n}"')[0] for n in names}
    run.raw_events = rows
    ok = rows == ids == run.distinct and quarantined == 0
    print(f"  raw.events: {rows:,} rows, {ids:,} distinct ids; distinct events sent {run.distinct:,}; "
          f"raw.quarantine {quarantined:,} -> {'OK' if ok else 'MISMATCH'}")
    print("  marts: " + ", ".join(f"{n} {c:,}" for n, c in run.marts.items()))
    if not ok:
        raise SystemExit("raw.events does not hold exactly the distinct events sent")


def one_run(target: int, args, project: Path) -> Run:
    run = Run(target)
    work = Path(tempfile.mkdtemp(prefix=f"journey-e2e-{target}-", dir="/tmp"))
    try:
        paths = generate(run, work, args)
        print(f"\n== {target:,} events: {run.delivered:,} delivered ({run.distinct:,} distinct, "
              f"{run.sessions:,} sessions), {run.days:g} days from {args.start} in {run.shards} shard(s), "
              f"{run.ndjson_bytes / 1e9:.2f} GB NDJSON; generated in {run.generation_s:.0f} s "
              f"(not a stage), peak RSS per generator {run.generation_peak_rss / 2**30:.1f} GB", flush=True)
        home = work / "home"
        env = {**os.environ, "JOURNEY_HOME": str(home), "JOURNEY_WAREHOUSE": str(home / "warehouse.duckdb"),
               "JOURNEY_SERVING_DB": str(home / "serving" / "journey.duckdb"),
               "JOURNEY_REPORTS_DIR": str(work / "reports"), "JOURNEY_API_KEYS": secrets.token_urlsafe(24),
               "JOURNEY_HASH_KEY": secrets.token_hex(32), "JOURNEY_SPOOL_MAX_BYTES": str(256 << 30),
               "JOURNEY_TTL_HOURS": str(args.ttl_hours)}
        n = run.delivered
        if args.spool_via == "http":
            stage = measured(run, "collect", lambda: collect(paths, env, args), n)
            if stage.detail["sent"] != n or stage.detail["accepted"] != n:
                raise SystemExit(f"collector acknowledged {stage.detail} of {n:,} events")
        else:
            measured(run, "import", lambda: import_spool(paths, env), n)
        shutil.rmtree(work / "events")            # the spool holds them now; frees the disk
        measured(run, "load", lambda: child_json(LOAD_CODE, env), n)
        models: dict[str, float] = {}

        def dbt() -> dict:
            detail, found = transform(project, work / "dbt-target", env, Settings.from_env(env).dbt_vars())
            models.update(found)
            return detail

        measured(run, "transform", dbt, n)
        run.models = models
        measured(run, "checks", lambda: checks(env), n)
        manifest = str(work / "dbt-target" / "manifest.json")
        measured(run, "publish", lambda: child_json(PUBLISH_CODE, env, manifest), n)
        measured(run, "report", lambda: child_json(REPORT_CODE, env), n)
        verify(run, home / "warehouse.duckdb")
        print_run(run)
    finally:
        if args.keep:
            print(f"  kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return run


# --- printing ---------------------------------------------------------------------------

def print_run(run: Run) -> None:
    n = run.delivered
    print(f"\n{run.target:,} events ({n:,} delivered): stage, wall s, events/s, CPU s, peak RSS MB, mean load avg")
    for s in run.stages:
        print(f"  {s.name:<10} {s.seconds:9.1f} {n / s.seconds:>12,.0f} {s.cpu_s:9.1f} "
              f"{s.peak_rss / 2**20:>10,.0f} {s.load_avg:6.2f}")
    total = sum(s.seconds for s in run.stages)
    print(f"  {'total':<10} {total:9.1f} {n / total:>12,.0f} {sum(s.cpu_s for s in run.stages):9.1f} "
          f"{max(s.peak_rss for s in run.stages) / 2**20:>10,.0f}")
    pipeline = [s for s in run.stages if s.name in ("load", "transform", "checks", "publish")]
    publish = run.stage("publish")
    if publish:
        print(f"  publication: {publish.seconds:.1f} s = {publish.seconds / sum(s.seconds for s in pipeline):.3f} "
              "of the run (load + transform + checks + publish); target at most 0.10")
    slowest = sorted(run.models, key=run.models.get, reverse=True)[:8]
    print("  slowest dbt models (s): " + ", ".join(f"{m} {run.models[m]:.1f}" for m in slowest))


def print_growth(runs: list[Run]) -> None:
    for base, big in zip(runs, runs[1:]):
        ideal = big.delivered / base.delivered
        print(f"\ngrowth {base.target:,} -> {big.target:,} events (events ×{ideal:.2f}; "
              f"'vs linear' is growth / events ratio, 1.00 = linear)")
        print(f"  {'stage':<10} {'wall ×':>7} {'vs linear':>9} {'CPU ×':>7} {'vs linear':>9} {'peak RSS ×':>10}")
        rows = [(s.name, s, big.stage(s.name)) for s in base.stages if big.stage(s.name)]
        rows.append(("total", Stage("total", sum(s.seconds for s in base.stages), sum(s.cpu_s for s in base.stages),
                                    max(s.peak_rss for s in base.stages), 0),
                     Stage("total", sum(s.seconds for s in big.stages), sum(s.cpu_s for s in big.stages),
                           max(s.peak_rss for s in big.stages), 0)))
        for name, a, b in rows:
            wall, cpu = b.seconds / a.seconds, b.cpu_s / a.cpu_s
            print(f"  {name:<10} {wall:7.2f} {wall / ideal:9.2f} {cpu:7.2f} {cpu / ideal:9.2f} "
                  f"{b.peak_rss / a.peak_rss:10.2f}")
        grown = sorted((m for m in big.models if base.models.get(m, 0) > 0.05),
                       key=lambda m: big.models[m] - ideal * base.models[m], reverse=True)[:8]
        print("  dbt models furthest above linear (s at small, s at large, ×): " + ", ".join(
            f"{m} {base.models[m]:.1f}/{big.models[m]:.1f} ×{big.models[m] / base.models[m]:.1f}" for m in grown))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000],
                        help="target delivered events per run (duplicates included); smallest first")
    parser.add_argument("--days", type=float, default=30, help="period every run covers (shards split it)")
    parser.add_argument("--start", help="UTC date the period starts (default: so that it ends yesterday, "
                                        "00:00 UTC; the figures of 2026-11-24 used 2026-10-01)")
    parser.add_argument("--shard-events", type=int, default=1_000_000)
    parser.add_argument("--gen-workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--ttl-hours", type=float, default=24.0)
    parser.add_argument("--spool-via", choices=("http", "import"), default="http")
    parser.add_argument("--clients", type=int, default=2, help="client processes for the collect stage")
    parser.add_argument("--connections", type=int, default=32, help="keep-alive connections in all")
    parser.add_argument("--batch", type=int, default=100, help="events per POST")
    parser.add_argument("--dbt-project", choices=("HEAD", "worktree"), default="HEAD")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = parser.parse_args()
    if args.start is None:
        start = simulation_start(args.days)
        args.start = f"{start:%Y-%m-%d}" if start == start.replace(hour=0, minute=0) else start.isoformat()
    elif datetime.fromisoformat(args.start).replace(tzinfo=timezone.utc) + timedelta(days=args.days) > \
            datetime.now(timezone.utc):
        parser.error(f"--start {args.start} + --days {args.days:g} ends in the future: the edge refuses its events")

    commit = print_header(f"{psutil.virtual_memory().total / 2**30:.0f} GiB", f"dbt project from {args.dbt_project}",
                          "peak RSS: psutil, process tree summed, every 0.1 s")
    runs = []
    with tempfile.TemporaryDirectory(prefix="journey-e2e-dbt-", dir="/tmp") as tmp:
        project = snapshot_dbt_project(Path(tmp), args.dbt_project)
        for target in sorted(args.events):
            runs.append(one_run(target, args, project))
            if args.json:
                args.json.write_text(json.dumps({"commit": commit, "args": {k: str(v) for k, v in vars(args).items()},
                                                 "runs": [asdict(r) for r in runs]}, indent=1))
    if len(runs) > 1:
        for run in runs:
            print_run(run)
        print_growth(runs)


if __name__ == "__main__":
    main()
