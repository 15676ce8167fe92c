"""kill -9 of the collector, round after round, with requests in flight: every acknowledged
event survives, once (docs/contract.md §9.1, §9.2).

Each round proves where its kill landed. At least one client request must have had its
connection cut (it was in flight). Segments are made tiny, so that nearly every group
commit also seals its segment (truncate check, fsync, rename into `ready/`, directory
fsyncs): a segment left `.open` at or past the size bound is one the writer had filled but
not yet renamed, so the kill came between the write that filled it and its rename, in the
seal that write triggers. Most rounds kill at a random moment (and say where that was);
the last ones wait for a full `.open` segment and kill inside its seal on that evidence
(`tests.support.kill`). The file system shows it without slowing the collector down, as a
tracer would. What survived the kills and the recovery is then loaded once and counted.
"""

from __future__ import annotations

import http.client
import os
import random
import subprocess
import threading
import time
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ingestion.loader import load_spool
from tests.conftest import event, raw_event_ids
from tests.support.collector_server import CollectorProcess
from tests.support.kill import kill_group, kill_when

SEGMENT_MAX_BYTES = 1024  # smaller than most group commits: nearly every commit seals its segment
CLIENTS = 6
RANDOM_ROUNDS, SEAL_ROUNDS = 6, 2


@dataclass
class Ledger:
    """What the clients sent and what the collector acknowledged, across rounds."""

    sent: set[str] = field(default_factory=set)
    acked: set[str] = field(default_factory=set)
    in_flight: int = 0  # requests posted and not yet answered
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Round:
    """One kill: when it came, what was acknowledged and cut, what it left in `active/`."""

    number: int
    when: str
    acked: int
    dropped: int
    orphan_bytes: list[int]

    @property
    def mid_seal(self) -> bool:
        return any(size >= SEGMENT_MAX_BYTES for size in self.orphan_bytes)

    def __str__(self) -> str:
        left = ", ".join(f"{size} B" for size in self.orphan_bytes) or "none"
        return (f"kill round {self.number}: killed {self.when}; {self.acked} events acknowledged, "
                f"{self.dropped} requests cut in flight, .open segments left: {left}"
                f"{' (full: killed between its last write and its rename)' if self.mid_seal else ''}")


# (collector, "acked something, and a request in flight?") -> when it killed
Killer = Callable[[subprocess.Popen, Callable[[], bool]], str]


def after(delay_s: float) -> Killer:
    """Kill `delay_s` after start, or as soon after as a request is in flight: on a loaded
    machine the clients can all be between requests at any one instant."""
    def kill(proc: subprocess.Popen, ready: Callable[[], bool]) -> str:
        time.sleep(delay_s)
        deadline = time.monotonic() + 10
        while not ready() and time.monotonic() < deadline:
            time.sleep(0.0005)
        kill_group(proc)
        return f"{delay_s:.2f} s after start"
    return kill


def inside_a_seal(active: Path) -> Killer:
    """Kill once this collector has acknowledged something, has a request in flight and
    holds a full `.open` segment."""
    def kill(proc: subprocess.Popen, ready: Callable[[], bool]) -> str:
        def full_segment() -> str | None:
            for path in active.glob(f"*-{proc.pid}-*.open"):
                try:
                    size = path.stat().st_size
                except FileNotFoundError:
                    continue  # sealed meanwhile
                if size >= SEGMENT_MAX_BYTES and ready():
                    return f"inside the seal of {path.name} ({size} B, not yet renamed)"
            return None
        return kill_when(proc, full_segment, "a segment's seal", timeout_s=60, poll_s=0.0005)
    return kill


def _in_flight_drop(err: OSError | http.client.HTTPException) -> bool:
    """A request the server died under (reset, closed without an answer or in the middle of
    one), as opposed to one that found nobody listening after the kill."""
    reason = err.reason if isinstance(err, urllib.error.URLError) else err
    return not isinstance(reason, ConnectionRefusedError)


def _client(server: CollectorProcess, ledger: Ledger, prefix: str, stop: threading.Event, drops: list) -> None:
    n = 0
    while not stop.is_set():
        ids = [f"{prefix}-{n + i}" for i in range(1 + n % 7)]
        n += len(ids)
        body = {"events": [event(i, "message.received", "2026-11-02T09:00:00Z", prefix, message_id=i) for i in ids]}
        with ledger.lock:
            ledger.sent.update(ids)
            ledger.in_flight += 1
        try:
            response = server.post("/v1/events", body)
        except (OSError, http.client.HTTPException) as err:  # IncompleteRead: killed while answering
            if _in_flight_drop(err):
                drops.append(err)
            return  # the server died under us: an answer not read whole acknowledges nothing
        finally:
            with ledger.lock:
                ledger.in_flight -= 1
        if response.status == 200:
            with ledger.lock:
                ledger.acked.update(ids)


def _kill_round(server: CollectorProcess, ledger: Ledger, number: int, kill: Killer) -> Round:
    active = Path(server.settings().spool_dir) / "active"
    before = set(active.glob("*.open"))
    acked_before = len(ledger.acked)
    server.start()
    stop, drops = threading.Event(), []
    clients = [threading.Thread(target=_client, args=(server, ledger, f"r{number}w{w}", stop, drops))
               for w in range(CLIENTS)]
    for client in clients:
        client.start()
    when = kill(server.proc, lambda: len(ledger.acked) > acked_before and ledger.in_flight > 0)
    stop.set()
    for client in clients:
        client.join(timeout=60)
    orphans = sorted(set(active.glob("*.open")) - before)
    return Round(number, when, len(ledger.acked) - acked_before, len(drops), [p.stat().st_size for p in orphans])


def test_every_acknowledged_event_survives_kill_9_rounds(tmp_path):
    # Its own process group (os.setsid), so that it can be frozen and killed as one.
    server = CollectorProcess(tmp_path, env_extra={"JOURNEY_SEGMENT_MAX_BYTES": str(SEGMENT_MAX_BYTES)},
                              preexec_fn=os.setsid)
    seed = random.randrange(1 << 32)
    rng, ledger, rounds = random.Random(seed), Ledger(), []
    active = Path(server.settings().spool_dir) / "active"
    killers = [after(rng.uniform(0.3, 1.0)) for _ in range(RANDOM_ROUNDS)] + [inside_a_seal(active)] * SEAL_ROUNDS
    for number, kill in enumerate(killers):
        rounds.append(_kill_round(server, ledger, number, kill))
        print(rounds[-1])

    settings = server.settings()
    load_spool(settings)  # recovers the killed writers' open segments first
    rows = raw_event_ids(settings)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        quarantined = con.sql("select count(*) from raw.quarantine").fetchall()[0][0] if con.sql(
            "select count(*) from duckdb_tables() where table_name = 'quarantine'").fetchall()[0][0] else 0
    lost, doubled = ledger.acked - set(rows), len(rows) - len(set(rows))
    print(f"collector kill -9 (seed {seed}): {len(rounds)} kill rounds, {sum(r.mid_seal for r in rounds)} inside "
          f"a seal ({sum(r.mid_seal for r in rounds[:RANDOM_ROUNDS])} of them at random), "
          f"{sum(r.dropped for r in rounds)} requests cut in flight, {len(ledger.acked)} events acknowledged, "
          f"{len(rows)} rows in raw, lost {len(lost)}, doubled {doubled}")
    assert all(r.dropped for r in rounds), [r for r in rounds if not r.dropped]  # every kill hit requests
    assert all(r.acked for r in rounds), [r for r in rounds if not r.acked]      # and came after some acks
    assert all(r.mid_seal for r in rounds[RANDOM_ROUNDS:]), rounds[RANDOM_ROUNDS:]  # the seal rounds did
    assert (len(lost), doubled) == (0, 0)
    assert set(rows) <= ledger.sent                                               # nothing invented
    assert quarantined == 0                                                       # no torn record loaded
