"""The `journey` command (docs/contract.md §8): demo, import, run, collect, report, dashboard."""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from ingestion.settings import Settings

SAMPLE_QUERY = """select final_state, count(*) as sessions,
       round(median(time_to_resolution_s) / 60, 1) as median_minutes_to_resolve,
       round(avg(case when escalated then 1 else 0 end), 3) as escalation_rate
from marts.fct_sessions group by final_state order by sessions desc"""


# Off a terminal, how often a long step reports how far it got.
PROGRESS_EVERY_S = 15.0


def _say(message: str) -> None:
    print(message, flush=True)


@contextmanager
def _progress_line(doing: str) -> Iterator[Callable[[str], None]]:
    """Progress of a long step: on a terminal one status line rewritten in place; in a
    file or pipe (no terminal to rewrite) a line at most every PROGRESS_EVERY_S seconds."""
    from rich.console import Console
    from rich.text import Text

    from orchestration.terminal import can_redraw

    console = Console()
    if can_redraw(console):
        with console.status(Text(f"{doing}…")) as status:
            yield lambda message: status.update(Text(f"{doing} {message}"))
        return
    last = time.monotonic()

    def say(message: str) -> None:
        nonlocal last
        if time.monotonic() - last >= PROGRESS_EVERY_S:
            last = time.monotonic()
            _say(f"  {doing} {message}")

    yield say


def _import(paths: list[Path], settings: Settings, strict: bool = False) -> int:
    from ingestion.importer import import_files

    started = time.monotonic()
    with _progress_line("importing") as progress:
        report = import_files(paths, settings, progress=progress)
    _say(f"import: {report.accepted:,} events accepted into the spool, "
         f"{report.quarantined:,} lines quarantined ({time.monotonic() - started:.1f} s)")
    for file, line, reason in report.problems[:20]:
        _say(f"  {file}:{line}: {reason}")
    if len(report.problems) > 20:
        _say(f"  … and {len(report.problems) - 20:,} more (see raw.quarantine after `journey run`)")
    return 1 if strict and report.quarantined else 0


def _run(settings: Settings, full_refresh: bool = False, verbose: bool = False) -> int:
    from ingestion.sinks import waiting
    from orchestration import run_state

    backlog = waiting(settings)
    previous = None if full_refresh else run_state.unchanged_since(settings, backlog.batches)
    if previous:
        _say(f"run: nothing new since run {previous.run_id[:8]}: nothing waits in {backlog.where}, and the "
             "models, checks, code and settings are unchanged; nothing to do.")
        _say(f"  serving snapshot {previous.published_version} stays: {settings.serving_db}")
        _say("  (`journey run --full-refresh` rebuilds everything anyway)")
        return 0

    from orchestration.defs.dbt.executable import prestarted_dbt
    from orchestration.defs.serving.publish import SNAPSHOT_ASSET
    from orchestration.progress import StageProgress
    from orchestration.runner import run_load_and_transform
    from orchestration.terminal import run_output

    _say(f"run: {backlog.batches} batch(es) waiting in {backlog.where}; loading, building, checking, publishing…")
    run_state.forget_run(settings)  # a run that dies half-way must not be taken for a finished one
    log = settings.logs_dir / f"run-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.log"
    with (run_output(log, verbose) as terminal, prestarted_dbt() as dbt,
          StageProgress(terminal.stage, terminal.working)):
        summary = run_load_and_transform(settings, full_refresh=full_refresh, progress=terminal.say,
                                         dbt_executable=dbt)
    published = summary.metadata.get("/".join(SNAPSHOT_ASSET))
    if summary.success and not summary.checks_failed:
        run_state.record_run(settings, summary.run_id, published["version"] if published else None)
    _say(f"run {summary.run_id[:8]}: {'succeeded' if summary.success else 'FAILED'} in "
         f"{summary.seconds:.1f} s; {len(summary.materialized)} assets materialized, "
         f"{summary.checks_passed} checks passed, {len(summary.checks_failed)} failed")
    for check in summary.checks_failed:
        _say(f"  failed check: {check}")
    _say_publication(settings, published)
    if summary.failure:
        _say(summary.failure)
    if not verbose:
        _say(f"  log (dbt, Dagster): {log}")
    if summary.failure or summary.checks_failed:
        _say(f"  in the Dagster UI: DAGSTER_HOME={shlex.quote(str(settings.dagster_home))} .venv/bin/dagster dev -w workspace.yaml, "
             f"then http://127.0.0.1:3000 → Runs → {summary.run_id[:8]}")
    return 0 if summary.success and not summary.checks_failed else 1


def _say_publication(settings: Settings, published: dict | None) -> None:
    if published:
        _say(f"serving snapshot {published['version']} published: {settings.serving_db} "
             f"(data as of {published['data_watermark']}, {published['events_loaded']:,} events)")
    elif settings.serving_db.exists():
        _say(f"serving snapshot not replaced: readers keep the previous one at {settings.serving_db}")
    else:
        _say("no serving snapshot published yet")


def _report(settings: Settings, out: Path | None, send: bool) -> int:
    from orchestration.defs.report.make import make_report

    smtp = settings.smtp
    if send and not smtp.host:
        raise ValueError("--send needs an SMTP relay: set JOURNEY_SMTP_HOST, JOURNEY_REPORT_FROM and "
                         "JOURNEY_REPORT_TO (see the README's Stakeholder report section)")
    started = time.monotonic()
    files, delivered = make_report(settings, out_root=out, send=send, smtp=smtp)
    _say(f"report: rendered from the serving snapshot {settings.serving_db} in {time.monotonic() - started:.1f} s")
    _say(f"  folder: {files.folder}")
    _say(f"  open:   {files.html}")
    if delivered:
        _say(f"  mailed to {', '.join(smtp.recipients)} via {smtp.host}:{smtp.port}")
    return 0


def _dashboard(settings: Settings, host: str, port: int) -> int:
    from dashboard.security import PasswordRequired
    from dashboard.server import serve

    try:
        serve(host, port, settings)
    except PasswordRequired as exc:
        print(f"journey dashboard: {exc}", file=sys.stderr)
        return 2
    return 0


def _demo(settings: Settings, days: int, sessions_per_day: int, seed: int, end: date) -> int:
    import duckdb

    from ingestion.simulator import simulate, write_ndjson

    start = datetime.combine(end - timedelta(days=days), datetime.min.time(), timezone.utc)
    _say(f"demo: simulating {days} days × ~{sessions_per_day} sessions/day up to {end} 00:00 UTC (seed {seed})…")
    started = time.monotonic()
    sim = simulate(days=days, sessions_per_day=sessions_per_day, seed=seed, start=start,
                   ttl_hours=settings.ttl_hours)
    path = settings.home / "demo" / f"events-seed{seed}.ndjson"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_ndjson(sim.events, path)
    _say(f"  {len(sim.sessions):,} sessions, {sim.n_unique_events:,} distinct events, "
         f"{len(sim.events):,} deliveries with duplicates and disorder ({time.monotonic() - started:.1f} s)")
    status = _send_through_collector(settings, sim.events) or _run(settings)
    if status:
        return status
    with duckdb.connect(str(settings.serving_db), read_only=True) as con:
        table = con.sql(SAMPLE_QUERY)
        _say("\nSessions by final state (marts.fct_sessions in the serving snapshot):")
        _say(str(table))
    _say(f"The simulated events: {path}")
    _say("Query the marts (the serving snapshot; runs never lock it), for example:")
    _say(f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect('{settings.serving_db}', read_only=True)"
         ".sql('select * from marts.fct_sessions limit 10'))\"")
    return _report(settings, None, send=False)


def _send_through_collector(settings: Settings, events: list[dict]) -> int:
    """Start a collector on a free loopback port, post every event to it, stop it."""
    import secrets

    from ingestion.collector.local import start_local_collector
    from ingestion.sender import send_events

    api_key = secrets.token_urlsafe(24)
    env = {**os.environ, "JOURNEY_HOME": str(settings.home), "JOURNEY_API_KEYS": api_key}
    _say("  starting a collector on loopback and sending over HTTP…")
    try:
        proc, url = start_local_collector(env, settings.logs_dir / "collector.log")
    except RuntimeError as exc:
        _say(str(exc))
        return 1
    try:
        started = time.monotonic()
        with _progress_line("sending") as progress:
            accepted = send_events(url, api_key, events,
                                   progress=lambda done, total: progress(f"{done:,}/{total:,} events"))
        seconds = time.monotonic() - started
        _say(f"  collector acknowledged {accepted:,} events ({accepted / seconds:,.0f} events/s, durable) at {url}")
    finally:
        proc.terminate()  # graceful: the open spool segment is sealed on shutdown
        proc.wait(timeout=30)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="journey",
        description="Journey analytics: chat → webview → human-agent journeys as one session.",
        epilog="Environment: JOURNEY_HOME (default ./data), JOURNEY_WAREHOUSE, JOURNEY_SERVING_DB, "
               "JOURNEY_TTL_HOURS (default 24); docs/contract.md §8 lists every setting.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        command_parser = sub.add_parser(name, help=help, description=help,
                                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        command_parser.set_defaults(command_parser=command_parser)
        return command_parser

    demo = command("demo", "simulate journeys, send them through a collector, run the pipeline, render the report")
    demo.add_argument("--days", type=int, default=14,
                      help="days of simulated traffic, ending at --end (two report periods)")
    demo.add_argument("--sessions-per-day", type=int, default=400, help="sessions started per day")
    demo.add_argument("--seed", type=int, default=7, help="random seed (the same seed, the same journeys)")
    demo.add_argument("--end", type=date.fromisoformat, default=datetime.now(timezone.utc).date(),
                      metavar="YYYY-MM-DD", help="the simulated traffic ends at 00:00 UTC of this day")
    imp = command("import", "validate NDJSON event files and append them to the spool")
    imp.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="NDJSON files, one event per line")
    imp.add_argument("--strict", action="store_true", help="exit 1 if any line was quarantined")
    collect = command("collect", "start the HTTP collector (API keys from JOURNEY_API_KEYS)")
    collect.add_argument("--host", default="127.0.0.1", help="address to listen on")
    collect.add_argument("--port", type=int, default=8700, help="port to listen on")
    run = command("run", "load the spool, build every downstream asset once, publish the serving snapshot")
    run.add_argument("--full-refresh", action="store_true",
                     help="rebuild incremental models from scratch, even when nothing is new")
    run.add_argument("--verbose", action="store_true",
                     help="stream dbt's and Dagster's logs instead of writing them to $JOURNEY_HOME/logs/")
    report = command("report", "render the stakeholder report now from the serving snapshot")
    report.add_argument("--out", type=Path, default=argparse.SUPPRESS, metavar="DIR",
                        help="folder for the dated report folders (default: JOURNEY_REPORTS_DIR, "
                             "else $JOURNEY_HOME/reports)")
    report.add_argument("--send", action="store_true", help="also mail it (needs JOURNEY_SMTP_HOST)")
    dashboard = command("dashboard", "serve the web dashboard, read-only over the serving snapshot "
                                     "(beyond loopback only with JOURNEY_DASHBOARD_PASSWORD)")
    dashboard.add_argument("--host", default="127.0.0.1", help="address to listen on")
    dashboard.add_argument("--port", type=int, default=8701, help="port to listen on")
    return parser


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The arguments; an option the command does not know is reported with that command's
    usage (`journey run --bogus` shows `run`'s options, not the list of commands)."""
    args, unknown = build_parser().parse_known_args(argv)
    if unknown:
        args.command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        settings = Settings.from_env()
        if args.command == "demo":
            return _demo(settings, args.days, args.sessions_per_day, args.seed, args.end)
        if args.command == "import":
            return _import(args.paths, settings, args.strict)
        if args.command == "report":
            return _report(settings, getattr(args, "out", None), args.send)
        if args.command == "collect":
            from ingestion.collector.app import serve

            serve(args.host, args.port)
            return 0
        if args.command == "dashboard":
            return _dashboard(settings, args.host, args.port)
        return _run(settings, args.full_refresh, args.verbose)
    except (FileNotFoundError, ValueError) as exc:
        print(f"journey {args.command}: {exc}", file=sys.stderr)
        return 2


def entry_point() -> None:
    """The `journey` command. Exits without tearing the interpreter down: after a run
    it holds Dagster, dbt's adapter and Great Expectations, thousands of modules whose
    teardown costs a second or two and does nothing a user needs. Everything the
    command writes is committed by then and its streams are flushed here."""
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry_point()
