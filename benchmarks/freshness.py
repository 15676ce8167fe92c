"""Freshness: how long an acknowledged event takes to reach the serving snapshot, on the production path.

For --minutes (default 10), in a fresh temp dir under /tmp, with a generated API key and hash key:

  collector   `python -m ingestion.collector` (= `journey collect`) on loopback receives simulated
              journeys (`simulate`, one day ending yesterday 00:00 UTC, so the edge accepts every
              event) at a steady --rate events/s: POSTs of 50 events, the k-th due at k·50/rate s,
              on 4 keep-alive connections (429 and 503 retried after Retry-After)
  dagster     `dagster-daemon run -w workspace.yaml` on a DAGSTER_HOME with the repository's
              dagster.yaml: the sensor spool_segments_waiting (on by default) launches
              load_and_transform runs, and each run that passes its checks publishes the snapshot
  probes      every --probe-interval s, one message.received that opens a new conversation
              `probe-<n>-<random>` and occurred now; its latency is from its 2xx to the first
              poll (every second) that finds it in marts.fct_sessions of the serving snapshot

Traffic and probes start once the sensor has ticked. When they stop, the last probes have up
to --grace s more; a probe not seen by then is missing. A missing probe or a failed run (its
reason is printed) makes the exit code 1 and keeps the temp dir with the daemon's and the
collector's logs. Printed: a header (UTC time, commit, load average, parameters), a progress
line every 30 s, then the probes' latency p50, p95 and max, the runs (succeeded/failed, mean
duration), the publications, the achieved events/s and whether the target is met: p95 at
most 60 s at 500 events/s sustained.

Usage: .venv/bin/python benchmarks/freshness.py [--minutes 10] [--rate 500] [--probe-interval 10]
Smoke run (about 3 minutes on 2 cores): --minutes 1.5 --rate 50 --probe-interval 10
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg

from _common import post_events, print_header, simulation_start
from dashboard.snapshot import Visit, read
from ingestion.collector.local import start_local_collector
from ingestion.settings import Settings
from ingestion.simulator import simulate
from orchestration.runner import ensure_dagster_home, failure_message

REPO = Path(__file__).resolve().parent.parent
JOB = "load_and_transform"     # orchestration/defs/build.py; importing it would cost ~10 s of dbt and GX
SENSOR = "spool_segments_waiting"
BATCH, SENDERS = 50, 4         # events per POST; connections, so that one slow fsync does not stall the pace
TARGET_P95_S, TARGET_RATE = 60.0, 500
RUNS = "runs {} succeeded, {} failed, {} queued or running"


def environment(work: Path) -> dict[str, str]:
    """A fresh home with generated secrets, none of the caller's JOURNEY_* settings, and
    the repository's dagster.yaml (pool limit 1) in its DAGSTER_HOME, which this
    process reads too (`DagsterInstance.get()`)."""
    home = work / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOURNEY_") and k != "DAGSTER_HOME"}
    env.update(JOURNEY_HOME=str(home), DAGSTER_HOME=str(home / "dagster"),
               JOURNEY_API_KEYS=secrets.token_urlsafe(24), JOURNEY_HASH_KEY=secrets.token_hex(32))
    os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]
    ensure_dagster_home(Settings.from_env(env))
    return env


def traffic(rate: float, minutes: float, seed: int) -> list[dict]:
    """rate × minutes of deliveries from one simulated day; a first guess of about 16
    deliveries per conversation, raised until there are enough."""
    needed = math.ceil(rate * minutes * 60)
    per_day = max(10, math.ceil(needed / 16 * 1.1))
    while True:
        events = simulate(days=1, sessions_per_day=per_day, seed=seed, start=simulation_start(1)).events
        if len(events) >= needed:
            return events[:needed]
        per_day = math.ceil(per_day * needed / len(events) * 1.05)


def probe_event(conversation: str) -> dict:
    """A customer's first message, now: it opens a session of its own in fct_sessions."""
    return {"event_id": f"{conversation}-m1", "type": "message.received", "conversation_id": conversation,
            "occurred_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "channel": "webchat", "actor": {"kind": "user"}, "properties": {"message_id": f"{conversation}-m1"}}


class Client:
    """One keep-alive connection to POST /v1/events."""

    def __init__(self, port: int, api_key: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"}

    def post(self, events: list[dict]) -> None:
        """Returns once the collector acknowledged (see `post_events` for the retries)."""
        post_events(self.conn, json.dumps({"events": events}).encode(), self.headers)


class Load:
    """Traffic and probes, each on its own threads and connections, for --minutes."""

    def __init__(self, events: list[dict], args, port: int, api_key: str):
        self.batches = [events[i:i + BATCH] for i in range(0, len(events), BATCH)]
        self.args, self.port, self.api_key = args, port, api_key
        self.lock, self.stop = threading.Lock(), threading.Event()
        self.next_batch = self.sent = 0
        self.acked: dict[str, float] = {}       # probe conversation id -> monotonic time of its 2xx
        self.errors: list[str] = []
        self.began = self.ends = 0.0

    def start(self) -> None:
        self.began = time.monotonic()
        self.ends = self.began + self.args.minutes * 60
        self.threads = [threading.Thread(target=self._guarded, args=(work,), daemon=True)
                        for work in [self._send] * SENDERS + [self._probe]]
        for t in self.threads:
            t.start()

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()

    def probes(self) -> dict[str, float]:
        with self.lock:
            return dict(self.acked)

    def rate(self) -> float:
        """Acknowledged events over the whole period: a pace that fell behind shows here."""
        return self.sent / (self.ends - self.began)

    def _guarded(self, work) -> None:
        try:
            work(Client(self.port, self.api_key))
        except Exception as exc:  # noqa: BLE001 - the main thread reports it and stops
            self.errors.append(f"{type(exc).__name__}: {exc}")
            self.stop.set()

    def _wait_until(self, due: float) -> bool:
        """False when the load is over before `due`."""
        return due < self.ends and not self.stop.wait(max(0.0, due - time.monotonic()))

    def _send(self, client: Client) -> None:
        """Batch k is due at k·BATCH/rate s: a steady pace that catches up after a stall."""
        while True:
            with self.lock:
                k, self.next_batch = self.next_batch, self.next_batch + 1
            if k >= len(self.batches) or not self._wait_until(self.began + k * BATCH / self.args.rate):
                return
            client.post(self.batches[k])
            with self.lock:
                self.sent += len(self.batches[k])

    def _probe(self, client: Client) -> None:
        n = 0
        while self._wait_until(self.began + n * self.args.probe_interval):
            conversation = f"probe-{n}-{secrets.token_hex(4)}"
            client.post([probe_event(conversation)])
            with self.lock:
                self.acked[conversation] = time.monotonic()
            n += 1


def snapshot(path: Path) -> tuple[int, set[str]]:
    """(publication version, probe conversation ids) of the serving snapshot now; 0 and
    none before the first publication. Read as the dashboard reads it (a fresh attach of
    the file the path names now, done again if it overlapped a publication's rename)."""
    if not path.exists():
        return 0, set()

    def probes(snapshot: Visit) -> tuple[int, set[str]]:
        ids = snapshot.rows("select conversation_id from marts.fct_sessions where conversation_id like 'probe-%'")
        return snapshot.publication.version, {row["conversation_id"] for row in ids}

    return read(path, probes)


def runs(instance: dg.DagsterInstance) -> tuple[tuple[int, int, int], list[float]]:
    """The job's runs (succeeded, failed, queued or running), and the durations (start to
    end) of the finished ones."""
    records = instance.get_run_records(filters=dg.RunsFilter(job_name=JOB))
    statuses = Counter(r.dagster_run.status for r in records)
    done = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE)
    durations = [r.end_time - r.start_time for r in records
                 if r.dagster_run.status in done and r.start_time and r.end_time]
    succeeded, failed = statuses[done[0]], statuses[done[1]]
    return (succeeded, failed, len(records) - succeeded - failed), durations


def first_failure(instance: dg.DagsterInstance, settings: Settings) -> str:
    """Why the job's first failed run failed, as `journey run` would say it."""
    run = instance.get_runs(filters=dg.RunsFilter(job_name=JOB, statuses=[dg.DagsterRunStatus.FAILURE]))[-1]
    steps = [e.dagster_event for e in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)]
    why = (failure_message(steps[0].step_key, steps[0].event_specific_data.error, settings) if steps
           else "no step failed (see the daemon's log)")
    return f"first failed run {run.run_id[:8]}: {why}"


def start_daemon(env: dict[str, str], log: Path) -> subprocess.Popen:
    """In its own session, so that stopping its group stops its code server and run workers."""
    with log.open("wb") as out:
        return subprocess.Popen([str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w", "workspace.yaml"],
                                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def wait_for_sensor(instance: dg.DagsterInstance, daemon: subprocess.Popen, log: Path) -> None:
    """Until the daemon has loaded the code and ticked the spool sensor, so that its
    start-up does not count in the first probes' latency."""
    deadline = time.monotonic() + 300
    while not any(instance.get_ticks(s.instigator_origin_id, s.selector_id, limit=1)
                  for s in instance.all_instigator_state() if s.instigator_name == SENSOR):
        if daemon.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the daemon did not tick {SENSOR}; see {log}")
        time.sleep(1)


def alive(proc: subprocess.Popen, group: bool) -> bool:
    """Whether the process, or with `group` anything of its session, still runs (polling
    reaps it: a zombie leader would keep its group alive)."""
    if proc.poll() is None:
        return True
    if not group:
        return False
    try:
        os.killpg(proc.pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop(proc: subprocess.Popen, group: bool) -> None:
    """SIGTERM (the collector seals its segment; the daemon's session, its code server and
    run workers included, stops), SIGKILL to what is left after a minute. Returns once all
    is gone, so that nothing writes in the temp dir after it is removed."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not alive(proc, group):
            return
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(proc.pid, sig)
            else:
                proc.send_signal(sig)
        deadline = time.monotonic() + 60
        while alive(proc, group) and time.monotonic() < deadline:
            time.sleep(0.2)


def measure(load: Load, instance: dg.DagsterInstance, serving: Path, grace: float) -> tuple[dict[str, float], int]:
    """Polls the snapshot every second until the load is over and every probe is seen, or
    the grace period ends; returns each seen probe's latency and the last version seen."""
    seen: dict[str, float] = {}
    finished, next_line = False, load.began + 30
    while True:
        if load.errors:
            raise RuntimeError(f"sending failed: {load.errors[0]}")
        if not finished and time.monotonic() >= load.ends:
            load.finish()                      # every probe is acknowledged once it returns
            finished = True
        acked = load.probes()
        version, ids = snapshot(serving)
        now = time.monotonic()
        seen.update({c: now - acked[c] for c in ids.intersection(acked) if c not in seen})
        if (finished and len(seen) == len(acked)) or now >= load.ends + grace:
            return seen, version
        if now >= next_line:
            print(f"  t+{now - load.began:4.0f} s: {load.sent:,} events sent, probes {len(seen)}/{len(acked)} "
                  f"seen, {RUNS.format(*runs(instance)[0])}, snapshot version {version}", flush=True)
            next_line += 30
        time.sleep(max(0.0, now + 1 - time.monotonic()))


def percentile(values: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q of them at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def report(load: Load, seen: dict[str, float], instance: dg.DagsterInstance, settings: Settings, version: int) -> bool:
    """Prints the figures; True when probes were sent, none is missing and no run failed."""
    latencies, missing = list(seen.values()), len(load.acked) - len(seen)
    p95 = percentile(latencies, 0.95) if latencies else math.inf
    if latencies:
        print(f"probe latency (2xx -> in the snapshot): p50 {percentile(latencies, 0.5):.1f} s, "
              f"p95 {p95:.1f} s, max {max(latencies):.1f} s")
    print(f"probes: {len(load.acked)} sent, {len(seen)} seen, {missing} missing")
    counts, durations = runs(instance)
    mean = f"{sum(durations) / len(durations):.1f} s" if durations else "n/a"
    print(f"{RUNS.format(*counts)}; mean run duration {mean}; publications {version}")
    if counts[1]:
        print(f"  {first_failure(instance, settings)}")
    rate = load.rate()
    print(f"traffic: {load.sent:,} events acknowledged, {rate:,.1f} events/s achieved (asked {load.args.rate:g})")
    shortfalls = [text for short, text in [(p95 > TARGET_P95_S, f"p95 {p95:.1f} s"),
                                           (missing > 0, f"{missing} probe(s) missing"),
                                           (rate < 0.99 * TARGET_RATE, f"{rate:,.1f} events/s sustained")] if short]
    print(f"target p95 ≤ {TARGET_P95_S:.0f} s at {TARGET_RATE} events/s: "
          + (f"not met ({', '.join(shortfalls)})" if shortfalls else "met"))
    return missing == 0 and bool(load.acked) and not counts[1]


def run(args, env: dict[str, str], work: Path) -> bool:
    """Collector, daemon, load and figures; True when all went well (see `report`)."""
    events = traffic(args.rate, args.minutes, args.seed)
    print(f"  {len(events):,} simulated deliveries from {simulation_start(1):%Y-%m-%d}", flush=True)
    # Opened before the daemon starts: opening a fresh instance creates its SQLite storage, and
    # processes doing that at once (the daemon, its code server, this one) once stamped the
    # schedule storage's schema twice, after which the code location would not load.
    with dg.DagsterInstance.get() as instance:
        collector, url = start_local_collector(env, work / "collector.log", timeout_s=60, cwd=REPO)
        daemon = start_daemon(env, work / "daemon.log")
        try:
            wait_for_sensor(instance, daemon, work / "daemon.log")
            load = Load(events, args, int(url.rsplit(":", 1)[1]), env["JOURNEY_API_KEYS"])
            load.start()
            settings = Settings.from_env(env)
            seen, version = measure(load, instance, settings.serving_db, args.grace)
            return report(load, seen, instance, settings, version)
        finally:
            stop(daemon, group=True)
            stop(collector, group=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10, help="how long traffic and probes run")
    parser.add_argument("--rate", type=float, default=500, help="simulated events per second")
    parser.add_argument("--probe-interval", type=float, default=10, help="seconds between probes")
    parser.add_argument("--grace", type=float, default=120, help="seconds the last probes may take after the load")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print_header(f"{args.minutes:g} min at {args.rate:g} events/s, a probe every {args.probe_interval:g} s, "
                 f"grace {args.grace:g} s, seed {args.seed}")
    work = Path(tempfile.mkdtemp(prefix="journey-freshness-", dir="/tmp"))
    ok = False
    try:
        ok = run(args, environment(work), work)
    finally:
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"  kept {work} (daemon.log, collector.log)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
