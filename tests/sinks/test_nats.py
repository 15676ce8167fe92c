"""The NATS JetStream sink against a real nats-server (file store, `sync_interval: always`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from contextlib import closing

import pytest

from ingestion.edge import Edge, utc_now_iso
from ingestion.loader import load_spool
from ingestion.sender import send_events
from ingestion.settings import Settings
from ingestion.simulator import simulate
from ingestion.sinks import SinkConfig, SinkUnavailable, fetch, open_sink
from ingestion.spool import encode
from tests.conftest import event, raw_event_ids, run_journey
from tests.support.collector_server import CollectorProcess, free_port
from tests.support.nats_server import NatsServer, nats_server_or_fail
from tests.truth.compare import GRAINS, all_mart_mismatches


@pytest.fixture
def nats_server(tmp_path):
    server = NatsServer(nats_server_or_fail(), tmp_path / "nats").start()
    yield server
    server.stop()


@pytest.fixture
def nats_env(nats_server, monkeypatch):
    """The sink settings every component reads, in this process and in the ones it starts."""
    env = {"JOURNEY_SINK": "nats", "JOURNEY_NATS_URL": nats_server.url, "JOURNEY_NATS_TIMEOUT_S": "1"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def nats_settings(settings, nats_env) -> Settings:
    """The test's settings read once nats_env is set, as a process started in it reads them."""
    return Settings.from_env()


def _records(settings: Settings, ids: list[str]) -> list[bytes]:
    edge = Edge.from_settings(settings)
    return [encode(edge.accept(event(i, "message.received", "2026-11-02T09:00:00Z", message_id=i), utc_now_iso()))
            for i in ids]


def _batch(tag: str) -> dict:
    return {"events": [event(f"{tag}{i}", "message.received", "2026-11-02T09:00:00Z", message_id=f"{tag}{i}")
                       for i in range(3)]}


def test_published_twice_loaded_once_and_acknowledged_only_after_the_load(nats_settings):
    ids = [f"e{i}" for i in range(20)]
    records = _records(nats_settings, ids)
    with closing(open_sink(nats_settings)) as sink:
        assert sink.append(records) == 20
        assert sink.append(records[:5]) == 5      # a producer's retry: Nats-Msg-Id dedupes it
    # A batch released without ack (a failed load) comes straight back, whole.
    with closing(fetch(nats_settings)) as delivery:
        assert len(delivery.segments[0].read_bytes().splitlines()) == 20
    with closing(fetch(nats_settings)) as delivery:
        assert delivery.segments[0].name.startswith("nats-JOURNEY_EVENTS-")
        assert len(delivery.segments[0].read_bytes().splitlines()) == 20

    assert load_spool(nats_settings) == {"segments": 1, "events": 20, "quarantined": 0}
    assert sorted(raw_event_ids(nats_settings)) == sorted(ids)
    assert load_spool(nats_settings)["segments"] == 0  # acknowledged: the work queue is empty
    with closing(open_sink(nats_settings)) as sink:
        assert sink.backlog_bytes() == 0


def test_a_loader_killed_before_its_ack_gets_the_batch_again_and_raw_keeps_each_once(settings, nats_env,
                                                                                   monkeypatch, tmp_path):
    monkeypatch.setenv("JOURNEY_NATS_ACK_WAIT_S", "2")
    settings = Settings.from_env()  # with the short ack wait, as the loader process below reads it
    ids = [f"k{i}" for i in range(30)]
    with closing(open_sink(settings)) as sink:
        sink.append(_records(settings, ids))
    # dlt commits, then the process dies where it would acknowledge.
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {os.getcwd()!r})
        from ingestion.loader import load_spool
        from ingestion.sinks.jetstream import NatsDelivery
        NatsDelivery.ack = lambda self: os.kill(os.getpid(), signal.SIGKILL)
        load_spool()
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TMPDIR": str(tmp_path)})  # its fetched segment dies with it
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    assert sorted(raw_event_ids(settings)) == sorted(ids)

    deadline = time.monotonic() + 30  # redelivered once ack_wait has passed
    while (result := load_spool(settings))["segments"] == 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert result == {"segments": 1, "events": 0, "quarantined": 0}  # all of it already in raw
    assert sorted(raw_event_ids(settings)) == sorted(ids)
    assert load_spool(settings)["segments"] == 0


def test_the_collector_acknowledges_only_what_jetstream_acknowledged(tmp_path, nats_server, nats_env):
    collector = CollectorProcess(tmp_path / "home", env_extra=nats_env).start()
    try:
        assert collector.post("/v1/events", _batch("up")).status == 200

        nats_server.stop()
        down = collector.post("/v1/events", _batch("down"))
        assert down.status == 503 and down.headers["retry-after"]

        nats_server.start()  # same port and store: the collector reconnects by itself
        deadline = time.monotonic() + 30
        while (again := collector.post("/v1/events", _batch("again"))).status != 200 \
                and time.monotonic() < deadline:
            time.sleep(0.5)
        assert again.status == 200
    finally:
        collector.kill(signal.SIGTERM)

    settings = Settings.from_env({**os.environ, "JOURNEY_HOME": str(collector.home),
                                  "JOURNEY_HASH_KEY": collector.hash_key})
    load_spool(settings)
    loaded = set(raw_event_ids(settings))
    assert {f"{tag}{i}" for tag in ("up", "again") for i in range(3)} <= loaded  # nothing acknowledged is lost
    assert loaded <= {f"{tag}{i}" for tag in ("up", "down", "again") for i in range(3)}
    assert not list((collector.home / "spool").glob("*/*"))  # the local spool was never used


def test_the_spool_sensor_sees_jetstream_messages_waiting(nats_settings):
    """With JOURNEY_SINK=nats the sensor asks the stream, not the empty local spool:
    one run per new publish, none once the loader acknowledged everything."""
    import dagster as dg

    from orchestration.defs.build import build_definitions

    sensor = build_definitions(nats_settings).resolve_sensor_def("spool_segments_waiting")
    with dg.instance_for_test() as instance:
        def tick():
            return sensor.evaluate_tick(dg.build_sensor_context(instance=instance))

        assert tick().run_requests == [] and "nothing waits in JetStream stream" in tick().skip_message
        with closing(open_sink(nats_settings)) as sink:
            sink.append(_records(nats_settings, ["s1", "s2", "s3"]))
        first = tick().run_requests
        assert len(first) == 1 and first[0].tags["journey/waiting"] == "3"
        assert [r.run_key for r in tick().run_requests] == [first[0].run_key]  # same messages, same key
        with closing(open_sink(nats_settings)) as sink:
            sink.append(_records(nats_settings, ["s4"]))
        second = tick().run_requests
        assert second[0].run_key != first[0].run_key and second[0].tags["journey/waiting"] == "4"

        assert load_spool(nats_settings)["events"] == 4
        assert tick().run_requests == []


def test_a_sensor_tick_fails_loudly_when_the_broker_is_away(settings, monkeypatch):
    import dagster as dg

    from orchestration.defs.build import build_definitions

    monkeypatch.setenv("JOURNEY_SINK", "nats")
    monkeypatch.setenv("JOURNEY_NATS_URL", f"nats://127.0.0.1:{free_port()}")
    monkeypatch.setenv("JOURNEY_NATS_TIMEOUT_S", "0.5")
    sensor = build_definitions(Settings.from_env()).resolve_sensor_def("spool_segments_waiting")
    with dg.instance_for_test() as instance, pytest.raises(Exception, match="cannot use NATS JetStream"):
        sensor.evaluate_tick(dg.build_sensor_context(instance=instance))


def test_simulated_journeys_through_a_nats_collector_build_the_true_marts(tmp_path, nats_env):
    sim = simulate(days=1, sessions_per_day=40, seed=5)
    collector = CollectorProcess(tmp_path / "home", env_extra=nats_env).start()
    try:
        send_events(collector.url, collector.api_key, sim.events, batch_size=200, threads=2)
    finally:
        collector.kill(signal.SIGTERM)
    run_journey(collector.home, collector.hash_key, "run")

    settings = collector.settings()
    ids = raw_event_ids(settings)
    assert len(ids) == len(set(ids)) == sim.n_unique_events
    assert all_mart_mismatches(settings.warehouse, sim, settings) == dict.fromkeys(GRAINS, [])


def test_settings_and_an_unreachable_broker_are_clear_errors(settings):
    with pytest.raises(ValueError, match="JOURNEY_SINK must be one of file, nats, got 'kafka'"):
        SinkConfig.from_env({"JOURNEY_SINK": "kafka"})
    with pytest.raises(ValueError, match="JOURNEY_NATS_SUBJECT"):
        SinkConfig.from_env({"JOURNEY_SINK": "nats", "JOURNEY_NATS_SUBJECT": "journey.>"})
    nowhere = SinkConfig.from_env({"JOURNEY_SINK": "nats", "JOURNEY_NATS_URL": f"nats://127.0.0.1:{free_port()}",
                                   "JOURNEY_NATS_TIMEOUT_S": "0.5"})
    with pytest.raises(SinkUnavailable, match="cannot use NATS JetStream at nats://127.0.0.1:"):
        open_sink(settings, config=nowhere)
