"""kill -9 of the collector during a burst: every acknowledged event survives, once."""

from __future__ import annotations

import signal
import threading
import time

import duckdb

from ingestion.loader import load_spool
from tests.conftest import event
from tests.support.collector_server import CollectorProcess


def test_every_acknowledged_event_survives_kill_9(tmp_path):
    server = CollectorProcess(tmp_path).start()
    acked: set[str] = set()
    sent: set[str] = set()
    lock = threading.Lock()
    stop = threading.Event()

    def client(worker: int) -> None:
        n = 0
        while not stop.is_set() and n < 5000:
            ids = [f"w{worker}-{n + i}" for i in range(1 + n % 7)]
            n += len(ids)
            body = {"events": [event(i, "message.received", "2026-11-02T09:00:00Z", f"conv-{worker}",
                                     message_id=i) for i in ids]}
            with lock:
                sent.update(ids)
            try:
                response = server.post("/v1/events", body)
            except OSError:
                return  # the server died under us: this batch was never acknowledged
            if response.status == 200:
                with lock:
                    acked.update(ids)

    threads = [threading.Thread(target=client, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    server.kill(signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join(timeout=60)

    assert len(acked) > 100, "the burst should have been acknowledged in part before the kill"
    settings = server.settings()
    load_spool(settings)  # recovers the killed writer's open segment first
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        rows = [r[0] for r in con.sql("select event_id from raw.events").fetchall()]
        quarantined = con.sql("select count(*) from raw.quarantine").fetchall()[0][0] \
            if con.sql("select count(*) from duckdb_tables() where table_name = 'quarantine'").fetchall()[0][0] else 0
    assert len(rows) == len(set(rows))          # nothing counted twice
    assert acked <= set(rows)                   # nothing acknowledged is lost
    assert set(rows) <= sent                    # nothing invented
    assert quarantined == 0                     # no torn record reached the loader
