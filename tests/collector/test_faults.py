"""Faults on the collector's path: repeated kill -9 under load, retry storms, a
full spool and a disk that refuses writes. docs/contract.md §9.1, §9.2: nothing acknowledged is
lost, nothing is counted twice, a refusal is a 503 with Retry-After.

Clients make their own event ids and resend what was not acknowledged, as a
bot engine or desk would; every check compares ids, not just counts.
"""

from __future__ import annotations

import http.client
import json
import random
import resource
import signal
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from ingestion.loader import load_spool
from ingestion.simulator import simulate
from ingestion.spool import LOADED, SEGMENT_SUFFIX, SpoolReader
from tests.conftest import event, raw_event_ids
from tests.support.collector_server import CollectorProcess, request

CLIENTS = 4


def _batches(events: list[dict], seed: int) -> list[list[dict]]:
    """Batches of 1-7 events, the way a busy producer flushes."""
    rng, out, i = random.Random(seed), [], 0
    while i < len(events):
        size = rng.randint(1, 7)
        out.append(events[i:i + size])
        i += size
    return out


class Clients:
    """Concurrent producers; a batch counts as acknowledged only on a 200."""

    def __init__(self, server: CollectorProcess):
        self.server = server
        self.acked: set[str] = set()
        self.statuses: list[int] = []
        self.lock = threading.Lock()

    def send(self, batches: Iterable[list[dict]], kill_after: int | None = None) -> list[list[dict]]:
        """Send from CLIENTS threads until done or the server dies; returns the batches not acknowledged.

        With `kill_after`, the server gets SIGKILL once that many batches were
        acknowledged in this call, so the kill lands mid-burst whatever the speed.
        """
        queue, left, acked_here = list(batches), [], 0

        def worker() -> None:
            nonlocal acked_here
            while True:
                with self.lock:
                    if not queue:
                        return
                    batch = queue.pop()
                try:
                    status = self.server.post("/v1/events", {"events": batch}).status
                except (OSError, http.client.HTTPException):
                    status = 0  # the server died under us, maybe mid-answer: not acknowledged
                with self.lock:
                    self.statuses.append(status)
                    if status == 200:
                        self.acked.update(e["event_id"] for e in batch)
                        acked_here += 1
                    else:
                        left.append(batch)
                    kill = kill_after is not None and acked_here == kill_after
                if kill:
                    self.server.kill(signal.SIGKILL)

        threads = [threading.Thread(target=worker) for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        return left


def _spooled(spool_dir: Path) -> list[str]:
    """Event ids of every line in the spool (sealed or loaded) after recovering
    dead writers' segments. Every line must be a whole record: a torn one fails `json.loads`."""
    reader = SpoolReader(spool_dir)
    reader.recover_orphans()
    segments = [*reader.pending(), *sorted(reader.dirs[LOADED].glob("*" + SEGMENT_SUFFIX))]
    return [json.loads(line)["event_id"] for seg in segments for line in seg.read_bytes().splitlines()]


def _until_accepted(server: CollectorProcess, batch: list[dict], seconds: float = 15) -> int:
    """Resend like a client honouring Retry-After (faster, to keep the test short)."""
    deadline = time.monotonic() + seconds
    while (status := server.post("/v1/events", {"events": batch}).status) == 503 and time.monotonic() < deadline:
        time.sleep(0.3)
    return status


def test_acknowledged_events_survive_three_kill_9s_under_load(tmp_path):
    sim = simulate(days=1, sessions_per_day=80, seed=21)
    distinct = {e["event_id"] for e in sim.events}
    server = CollectorProcess(tmp_path)
    clients = Clients(server)
    pending = _batches(sim.events, seed=21)
    for round_ in range(3):
        server.start()
        before = len(pending)
        pending = clients.send(pending, kill_after=len(pending) // 3)
        assert 0 < len(pending) < before, f"round {round_}: the kill should land mid-burst"
        assert clients.acked <= set(_spooled(server.home / "spool"))  # nothing acknowledged lost
    server.start()
    assert clients.send(pending) == []
    server.kill(signal.SIGTERM)
    assert clients.acked == distinct

    settings = server.settings()
    load_spool(settings)
    ids = raw_event_ids(settings)
    assert len(ids) == len(set(ids)) == sim.n_unique_events  # once each, resent or not
    assert set(ids) == distinct


def test_retry_storm_is_stored_once(tmp_path):
    """Each event sent 1-5 times, by several clients at once, in mixed batches."""
    rng = random.Random(5)
    events = [event(f"storm-{i}", "message.received", f"2026-11-02T09:{i // 60:02d}:{i % 60:02d}Z",
                    f"conv-{i % 17}", message_id=f"m{i}") for i in range(600)]
    copies = [e for e in events for _ in range(rng.randint(1, 5))]
    rng.shuffle(copies)
    server = CollectorProcess(tmp_path).start()
    clients = Clients(server)
    try:
        assert clients.send(_batches(copies, seed=5)) == []
    finally:
        server.kill(signal.SIGTERM)
    settings = server.settings()
    assert len(_spooled(settings.spool_dir)) == len(copies) > len(events)  # every copy reached the spool
    load_spool(settings)
    ids = raw_event_ids(settings)
    assert len(ids) == len(set(ids)) == len(events)


def test_full_spool_acknowledges_exactly_what_it_stored_and_recovers_after_a_load(tmp_path):
    events = [event(f"full-{i}", "message.received", "2026-11-02T09:00:00Z", f"conv-{i % 5}",
                    message_id=f"m{i}") for i in range(400)]
    server = CollectorProcess(tmp_path, env_extra={"JOURNEY_SPOOL_MAX_BYTES": "20000",
                                                   "JOURNEY_SEGMENT_MAX_AGE_S": "0.5"}).start()
    clients = Clients(server)
    try:
        refused = clients.send(_batches(events, seed=9))
        full = server.post("/v1/events", {"events": refused[0]})
        assert full.status == 503 and int(full.headers["retry-after"]) > 0
        assert request("GET", server.url + "/readyz").status == 503
        assert set(clients.statuses) == {200, 503}
        time.sleep(1.0)  # the open segment seals by age
        load_spool(server.settings())  # the loader drains the spool…
        assert _until_accepted(server, refused[0]) == 200  # …and the collector takes events again
        clients.acked.update(e["event_id"] for e in refused[0])
    finally:
        server.kill(signal.SIGTERM)
    assert sorted(clients.acked) == sorted(_spooled(server.home / "spool"))  # stored = acknowledged, once


def _file_size_limit(limit: int):
    def apply() -> None:
        # Past RLIMIT_FSIZE a write fails with EFBIG, as on a full disk, once
        # SIGXFSZ (which would kill the process) is ignored.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_disk_refusing_writes_gives_503_and_no_torn_record(tmp_path):
    events = [event(f"disk-{i}", "message.received", "2026-11-02T09:00:00Z", "conv-d",
                    message_id=f"m{i}", note="x" * 300) for i in range(300)]
    server = CollectorProcess(tmp_path, env_extra={"JOURNEY_SEGMENT_MAX_AGE_S": "1"})
    server.preexec_fn = _file_size_limit(16_384)
    server.start()
    clients = Clients(server)
    try:
        refused = clients.send(_batches(events, seed=3))
        assert 503 in clients.statuses and 200 in clients.statuses
        refusal = server.post("/v1/events", {"events": [e for b in refused for e in b][:20]})
        assert refusal.status == 503 and int(refusal.headers["retry-after"]) > 0
        assert request("GET", server.url + "/healthz").status == 200
        assert _until_accepted(server, refused[0]) == 200  # a new segment opens once the full one seals
        clients.acked.update(e["event_id"] for e in refused[0])
    finally:
        server.kill(signal.SIGTERM)
    assert sorted(clients.acked) == sorted(_spooled(server.home / "spool"))  # whole lines, acknowledged ones once
