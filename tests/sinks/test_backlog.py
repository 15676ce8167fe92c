"""The loader and `journey run` reach the spool only through the configured sink
(`ingestion.sinks`): its backlog tells the loader when a load is done."""

from __future__ import annotations

import ast
from contextlib import closing
from dataclasses import replace
from pathlib import Path

from ingestion.settings import SinkConfig
from ingestion.sinks import backlog, open_sink
from ingestion.spool import SpoolReader
from tests.support import REPO
from tests.support.collector_server import free_port


def seal_segment(settings, line: bytes) -> Path:
    with closing(open_sink(settings, max_age_s=float("inf"))) as sink:
        sink.append([line])
    return SpoolReader(settings.spool_dir).pending()[-1]


def test_the_file_backlog_is_what_was_sealed_when_the_load_began(settings):
    assert not backlog(settings).remains()  # no spool yet
    first = seal_segment(settings, b'{"event_id": "a"}\n')
    waiting = backlog(settings)
    assert waiting.remains()
    seal_segment(settings, b'{"event_id": "b"}\n')  # sealed while the load runs: the next load's
    SpoolReader(settings.spool_dir).mark_loaded([first])
    assert not waiting.remains()
    assert backlog(settings).remains()


def test_a_broker_backlog_is_one_delivery_and_asks_no_broker(settings):
    """No connection: the loader takes one fetch per load, bounded by the fetch size."""
    nowhere = SinkConfig(kind="nats", nats_url=f"nats://127.0.0.1:{free_port()}", nats_timeout_s=0.5)
    seal_segment(settings, b'{"event_id": "local"}\n')  # a local spool is not the broker's backlog
    assert not backlog(replace(settings, sink=nowhere)).remains()
    assert not backlog(settings, config=nowhere).remains()


def test_only_the_sinks_package_reaches_into_a_sink():
    """The loader, the spool sensor and `journey run` import `ingestion.sinks`, never a sink's module."""
    users = ["ingestion/loader.py", "orchestration/cli.py", "orchestration/run_state.py",
             "orchestration/defs/dlt/sensors.py", "orchestration/defs/dlt/assets.py"]
    reaching_in = []
    for name in users:
        for node in ast.walk(ast.parse((REPO / name).read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and (
                    node.module.startswith("ingestion.sinks.") or node.module == "ingestion.spool"):
                reaching_in.append(f"{name}: from {node.module} import ...")
    assert reaching_in == []
