"""Collector throughput with durable acknowledgement, measured with wrk on loopback.

Starts, one at a time and pinned to core 0 (wrk runs on core 1):
  collector  `python -m ingestion.collector` (uvicorn, one worker): auth, validation,
             pseudonymisation, group commit with fsync before every 2xx
  bare       `benchmarks/bare_asgi.py` on the same uvicorn: appends the body, no checks, no fsync

and drives each with single-event requests and 100-event batches at each
connection count. Prints requests/s, events/s, p99 latency and the
collector/bare ratio of that count in the same run, and for the collector the
mean group commit (write + fsync) from its /metrics: p99 follows the disk.

Every event occurred yesterday (`_common.simulation_end`), so the edge accepts it on
any date; the header line names the commit.

With --compare REV a third server, `baseline`, is the collector of commit REV (a git
worktree on the same interpreter and packages), and --rounds N repeats the whole
sequence N times, so the collectors alternate on the same machine; each row is
then the round with the median requests/s, and "collector / baseline" is printed.

Usage: .venv/bin/python benchmarks/collector_throughput.py [--seconds 10] [--connections 16 32 64] [--warmup 2]
       [--compare bc69520 --rounds 3]
Smoke run (about 20 s): --seconds 1 --warmup 1 --connections 4
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from ingestion.collector.local import free_port
from _common import print_header, simulation_end

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# 09:00 UTC yesterday, in the same 29 characters the figures were measured with.
OCCURRED_AT = (simulation_end() + timedelta(hours=9)).isoformat(timespec="milliseconds")


def event(i: int) -> dict:
    return {"event_id": f"bench-{i}", "type": "message.received", "occurred_at": OCCURRED_AT,
            "conversation_id": f"conv-{i % 1000}", "channel": "whatsapp", "actor": {"kind": "user"},
            "identity": {"channel_user_id": f"+3160000{i % 1000:04d}"},
            "attributes": {"department": "billing", "query_nature": "refund"}, "properties": {"message_id": f"m{i}"}}


def check_accepted(url: str, body: bytes, api_key: str) -> None:
    """Fail loudly if the benchmark request is not what the server accepts."""
    request = urllib.request.Request(url, data=body, headers={"Authorization": f"Bearer {api_key}",
                                                              "Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).close()


def lua_script(path: Path, body: bytes, api_key: str) -> Path:
    path.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {api_key}"\n'
        f"wrk.body = {json.dumps(body.decode())}\n")
    return path


def start(cmd: list[str], env: dict, port: int, cwd: Path = REPO) -> subprocess.Popen:
    proc = subprocess.Popen(["taskset", "-c", "0", *cmd], env=env, cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{cmd} did not start")


def commits(base_url: str) -> tuple[int, float]:
    """(count, seconds) of the collector's group commits so far; (0, 0) for the bare app."""
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=10) as response:
        text = response.read().decode()
    found = dict(re.findall(r"^journey_fsync_seconds_(count|sum) ([\d.]+)$", text, re.M))
    return int(found.get("count", 0)), float(found.get("sum", 0.0))


def wrk(url: str, script: Path, seconds: int, connections: int) -> tuple[float, float]:
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
                          "-s", str(script), url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if non2xx:
        raise RuntimeError(f"{non2xx.group(1)} non-2xx responses:\n{out}")
    return rps, p99_ms


def median_row(rows: list[tuple[float, float, float | None]]) -> tuple[float, float, float | None]:
    """The round with the median requests/s, with its p99 and commit time."""
    return sorted(rows, key=lambda row: row[0])[len(rows) // 2]


EVENTS_PER_REQUEST = {"single": 1, "batch100": 100}


@dataclass
class Bench:
    """What every measurement shares: the folder, the key, the request bodies and wrk
    scripts per shape, the source tree per server name, and the rounds measured so far."""

    work: Path
    api_key: str
    bodies: dict[str, bytes]
    scripts: dict[str, Path]
    trees: dict[str, Path]
    args: argparse.Namespace
    rounds: dict[tuple[int, str, str], list[tuple[float, float, float | None]]] = field(default_factory=dict)

    def measure(self, name: str, template: list[str], shape: str) -> None:
        """One server (`name`) at every connection count with one request shape."""
        tree, port, args = self.trees[name], free_port(), self.args
        env = {**os.environ, "JOURNEY_HOME": str(self.work / f"{name}-{shape}"), "JOURNEY_API_KEYS": self.api_key,
               "JOURNEY_HASH_KEY": secrets.token_hex(32), "BARE_ASGI_FILE": str(self.work / f"{name}-{shape}.out"),
               "JOURNEY_SPOOL_MAX_BYTES": str(64 << 30),
               # One key at full speed is over the per-key default (5,000/s): the
               # limiter still runs on every request, with a rate it never reaches.
               "JOURNEY_RATE_LIMIT_KEY_RPS": str(10 ** 9),
               **({"PYTHONPATH": str(tree)} if tree != REPO else {})}
        proc = start([part.format(port=port) for part in template], env, port, tree)
        try:
            base_url = f"http://127.0.0.1:{port}"
            url = f"{base_url}/v1/events"
            check_accepted(url, self.bodies[shape], self.api_key)
            for connections in args.connections:
                if args.warmup:
                    wrk(url, self.scripts[shape], args.warmup, connections)
                before = commits(base_url) if name != "bare" else (0, 0.0)
                rps, p99 = wrk(url, self.scripts[shape], args.seconds, connections)
                after = commits(base_url) if name != "bare" else (0, 0.0)
                n, seconds = after[0] - before[0], after[1] - before[1]
                self.rounds.setdefault((connections, name, shape), []).append(
                    (rps, p99, seconds / n * 1000 if n else None))
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def report(results: dict[tuple[int, str, str], tuple], servers: list[str], args: argparse.Namespace) -> None:
    """The table of medians, then each connection count's ratios to the bare server (and the baseline)."""
    print(f"{'conns':>5} {'server':<10} {'request':<9} {'req/s':>10} {'events/s':>11} {'p99 ms':>8} "
          f"{'commit ms':>9}")
    for (connections, name, shape), (rps, p99, commit_ms) in sorted(
            results.items(), key=lambda item: (item[0][0], servers.index(item[0][1]), item[0][2])):
        print(f"{connections:>5} {name:<10} {shape:<9} {rps:>10,.0f} "
              f"{rps * EVENTS_PER_REQUEST[shape]:>11,.0f} {p99:>8.1f} "
              f"{'' if commit_ms is None else f'{commit_ms:.2f}':>9}")
    versus = [("bare", "bare")] + ([("baseline", f"baseline {args.compare}")] if args.compare else [])
    for connections in args.connections:
        for other, label in versus:
            ratios = ", ".join(f"{shape} {results[(connections, 'collector', shape)][0] / results[(connections, other, shape)][0]:.2f}"
                               for shape in EVENTS_PER_REQUEST)
            print(f"collector / {label} at {connections} connections: {ratios}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--warmup", type=int, default=2, help="seconds of wrk before each measured run")
    parser.add_argument("--compare", metavar="REV", help="also measure the collector of this commit, alternately")
    parser.add_argument("--rounds", type=int, default=1, help="repeat every measurement; rows are medians")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install wrk")
    print_header(f"wrk -t1 -d{args.seconds}s after {args.warmup} s warm-up, server on core 0, wrk on core 1")

    work = Path(tempfile.mkdtemp(prefix="journey-collector-bench-"))
    api_key = secrets.token_urlsafe(24)
    bodies = {"single": json.dumps(event(1)).encode(),
              "batch100": json.dumps({"events": [event(i) for i in range(100)]}).encode()}
    bench = Bench(work, api_key, bodies,
                  scripts={shape: lua_script(work / f"{shape}.lua", body, api_key) for shape, body in bodies.items()},
                  trees={"collector": REPO, "baseline": work / "baseline", "bare": REPO}, args=args)
    servers = {
        "collector": [sys.executable, "-m", "ingestion.collector", "--port", "{port}"],
        "bare": [sys.executable, "-m", "uvicorn", "--app-dir", str(HERE), "bare_asgi:app", "--port", "{port}",
                 "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"],
    }
    if args.compare:
        servers = {"collector": servers["collector"], "baseline": servers["collector"], "bare": servers["bare"]}
        subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(bench.trees["baseline"]), args.compare],
                       cwd=REPO, check=True)
    try:
        for _ in range(args.rounds):
            for name, template in servers.items():
                for shape in bodies:
                    bench.measure(name, template, shape)
        report({key: median_row(rows) for key, rows in bench.rounds.items()}, list(servers), args)
    finally:
        if args.compare:
            subprocess.run(["git", "worktree", "remove", "--force", str(bench.trees["baseline"])], cwd=REPO)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
