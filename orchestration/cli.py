"""The `journey` command (SPEC 5): demo, import, run, collect."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ingestion.settings import Settings

SAMPLE_QUERY = """select final_state, count(*) as sessions,
       round(median(time_to_resolution_s) / 60, 1) as median_minutes_to_resolve,
       round(avg(case when escalated then 1 else 0 end), 3) as escalation_rate
from marts.fct_sessions group by final_state order by sessions desc"""


def _say(message: str) -> None:
    print(message, flush=True)


def _import(paths: list[Path], settings: Settings, strict: bool = False) -> int:
    from ingestion.importer import import_files

    started = time.monotonic()
    report = import_files(paths, settings, progress=lambda m: _say(f"  imported {m}"))
    _say(f"import: {report.accepted:,} events accepted into the spool, "
         f"{report.quarantined:,} lines quarantined ({time.monotonic() - started:.1f} s)")
    for file, line, reason in report.problems[:20]:
        _say(f"  {file}:{line}: {reason}")
    if len(report.problems) > 20:
        _say(f"  … and {len(report.problems) - 20:,} more (see raw.quarantine after `journey run`)")
    return 1 if strict and report.quarantined else 0


def _run(settings: Settings, full_refresh: bool = False) -> int:
    from ingestion.spool import SpoolReader
    from orchestration.runner import run_load_and_transform

    waiting = SpoolReader(settings.spool_dir).stats()
    _say(f"run: {waiting['pending_segments']} sealed spool segment(s) waiting "
         f"({waiting['pending_bytes'] / 1e6:.1f} MB); loading and building every asset…")
    summary = run_load_and_transform(settings, full_refresh=full_refresh, progress=_say)
    raw = {k: v for k, v in summary.metadata.items() if k.startswith("raw/")}
    for key, meta in raw.items():
        rows = meta.get("rows_loaded", meta.get("row_count"))
        if rows is not None:
            _say(f"  {key}: {rows:,} new rows")
    _say(f"run {summary.run_id[:8]}: {'succeeded' if summary.success else 'FAILED'} in "
         f"{summary.seconds:.1f} s; {len(summary.materialized)} assets materialized, "
         f"{summary.checks_passed} checks passed, {len(summary.checks_failed)} failed")
    for check in summary.checks_failed:
        _say(f"  failed check: {check}")
    if summary.failure:
        _say(summary.failure)
        _say(f"  full log: open the Dagster UI (`dagster dev -w workspace.yaml`), Runs → {summary.run_id[:8]}")
    return 0 if summary.success and not summary.checks_failed else 1


def _demo(settings: Settings, days: int, sessions_per_day: int, seed: int) -> int:
    import duckdb

    from ingestion.simulator import simulate, write_ndjson

    _say(f"demo: simulating {days} days × ~{sessions_per_day} sessions/day (seed {seed})…")
    started = time.monotonic()
    sim = simulate(days=days, sessions_per_day=sessions_per_day, seed=seed, ttl_hours=settings.ttl_hours)
    path = settings.home / "demo" / f"events-seed{seed}.ndjson"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_ndjson(sim.events, path)
    _say(f"  {len(sim.sessions):,} sessions, {sim.n_unique_events:,} distinct events, "
         f"{len(sim.events):,} deliveries with duplicates and disorder ({time.monotonic() - started:.1f} s)")
    status = _send_through_collector(settings, sim.events) or _run(settings)
    if status:
        return status
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        table = con.sql(SAMPLE_QUERY)
        _say("\nSessions by final state (marts.fct_sessions):")
        _say(str(table))
    _say(f"Warehouse: {settings.warehouse}   (the simulated events: {path})")
    _say("Query it, for example:")
    _say(f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect('{settings.warehouse}', read_only=True)"
         ".sql('select * from marts.fct_sessions limit 10'))\"")
    return 0


def _send_through_collector(settings: Settings, events: list[dict]) -> int:
    """Start a collector on a free loopback port, post every event to it, stop it."""
    import os
    import secrets
    import socket
    import subprocess
    import urllib.request

    from ingestion.sender import send_events

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    api_key = secrets.token_urlsafe(24)
    env = {**os.environ, "JOURNEY_HOME": str(settings.home), "JOURNEY_API_KEYS": api_key}
    url = f"http://127.0.0.1:{port}"
    _say(f"  starting the collector on {url} and sending over HTTP…")
    proc = subprocess.Popen([sys.executable, "-m", "ingestion.collector", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/healthz", timeout=2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    _say(f"collector did not start: {proc.stderr.read().decode()[-2000:]}")
                    return 1
                time.sleep(0.1)
        started = time.monotonic()
        accepted = send_events(url, api_key, events,
                               progress=lambda done, total: _say(f"  sent {done:,}/{total:,} events"))
        seconds = time.monotonic() - started
        _say(f"  collector acknowledged {accepted:,} events ({accepted / seconds:,.0f} events/s, durable)")
    finally:
        proc.terminate()  # graceful: the open spool segment is sealed on shutdown
        proc.wait(timeout=30)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="journey",
        description="Journey analytics: chat → webview → human-agent journeys as one session.",
        epilog="Environment: JOURNEY_HOME (default ./data), JOURNEY_WAREHOUSE, JOURNEY_TTL_HOURS (default 24).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="simulate a week of journeys and run them end to end")
    demo.add_argument("--days", type=int, default=7)
    demo.add_argument("--sessions-per-day", type=int, default=750)
    demo.add_argument("--seed", type=int, default=7)
    imp = sub.add_parser("import", help="validate NDJSON event files and append them to the spool")
    imp.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    imp.add_argument("--strict", action="store_true", help="exit 1 if any line was quarantined")
    collect = sub.add_parser("collect", help="start the HTTP collector (API keys from JOURNEY_API_KEYS)")
    collect.add_argument("--host", default="127.0.0.1")
    collect.add_argument("--port", type=int, default=8700)
    run = sub.add_parser("run", help="load the spool and build every downstream asset once")
    run.add_argument("--full-refresh", action="store_true", help="rebuild incremental models from scratch")
    args = parser.parse_args(argv)

    try:
        settings = Settings.from_env()
        if args.command == "demo":
            return _demo(settings, args.days, args.sessions_per_day, args.seed)
        if args.command == "import":
            return _import(args.paths, settings, args.strict)
        if args.command == "collect":
            from ingestion.collector.app import serve

            serve(args.host, args.port)
            return 0
        return _run(settings, args.full_refresh)
    except (FileNotFoundError, ValueError) as exc:
        print(f"journey {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
