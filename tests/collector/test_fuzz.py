"""Bad input: the event model under Hypothesis, labelled events over the wire to a
real collector on loopback, and hostile bodies over real HTTP. (The collector
against its OpenAPI document: test_fuzz_openapi.py; each route under labelled
traffic in process: test_fuzz_events.py; limits: test_limits.py; slow clients:
test_slow_clients.py.)

The promise tested everywhere is docs/contract.md §9.3: a clear 4xx naming a field, or a
valid event, never a crash and never a 5xx.
"""

from __future__ import annotations

import json
import signal
import socket
from datetime import datetime, timedelta, timezone

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingestion.contract import EVENT_TYPES, InvalidEvent, parse_event
from ingestion.edge import Edge
from ingestion.importer import import_files
from ingestion.settings import CollectorConfig
from tests.collector.fuzzing import EXAMPLES, PROBLEM, PROPERTY, events_property, spool_keys
from tests.collector.strategies import labelled_event
from tests.conftest import event, write_lines
from tests.support.collector_server import CollectorProcess, request

MAX_BODY = CollectorConfig.max_body_bytes
FUZZ = PROPERTY


# --- labelled events over the wire ----------------------------------------------

def test_labelled_batches_over_loopback_are_acknowledged_exactly_when_valid(tmp_path):
    """The in-process properties' check (tests/collector/fuzzing.py) through uvicorn's HTTP parser and a
    socket per request; every acknowledged event is then in the spool once per acknowledgement."""
    collector = CollectorProcess(tmp_path).start()

    def post(body) -> tuple[int, dict]:
        answer = collector.post("/v1/events", body)
        return answer.status, answer.json()

    try:
        tally, acknowledged = events_property(post, "/v1/events over loopback")
    finally:
        collector.kill(signal.SIGTERM)
    tally.report(EXAMPLES)
    assert spool_keys(collector.home) == acknowledged


# --- the event model under Hypothesis -----------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
TIMESTAMPS = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                 timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=14)),
                                            timezone(timedelta(hours=-12, minutes=-30))]))
    .map(lambda d: d.isoformat()),
    st.sampled_from(["2026-11-02T09:00:00", "2026-11-02", "1793607000", "2026-13-45T25:61:00Z",
                     "2026-11-02T09:00:00+2400", "2026-11-02 09:00:00.123456789Z", ""]),
    st.integers(), st.floats(allow_nan=False), st.none(),
)


def _mutated_event(draw_type: str, occurred: object, sent: object, props: object, extra: object) -> dict:
    data = event("e-1", draw_type, "2026-11-02T09:00:00Z", "c-1")
    data["occurred_at"], data["properties"] = occurred, props
    if sent is not None:
        data["sent_at"] = sent
    if extra is not None:
        data["vendor"] = extra
    return data


@given(st.one_of(JSON, st.builds(_mutated_event, st.sampled_from([*EVENT_TYPES, "nope", ""]), TIMESTAMPS,
                                 TIMESTAMPS, JSON, JSON)))
@FUZZ
def test_parse_event_gives_a_verdict_or_names_a_field(data):
    try:
        assert parse_event(data) is data
    except InvalidEvent as exc:
        assert exc.problems and all(PROBLEM.match(p) for p in exc.problems), exc.problems


@given(labelled_event())
@FUZZ
def test_parse_event_agrees_with_the_contract_as_the_strategies_write_it(labelled):
    """The labels of tests/collector/strategies.py, written from docs/contract.md §2, are the verdict."""
    ahead = datetime.now(timezone.utc) + timedelta(seconds=3600)
    try:
        parse_event(labelled.data, ahead)
    except InvalidEvent as exc:
        assert not labelled.valid and all(PROBLEM.match(p) for p in exc.problems), (labelled, exc.problems)
    else:
        assert labelled.valid, labelled


@given(TIMESTAMPS)
@FUZZ
def test_every_accepted_timestamp_is_one_the_warehouse_can_cast(stamp):
    """The loader casts `occurred_at` with DuckDB; a timestamp the edge takes and
    DuckDB cannot read would be acknowledged, then quarantined."""
    data = event("e-1", "message.received", "2026-11-02T09:00:00Z", message_id="m")
    data["occurred_at"] = stamp
    try:
        parse_event(data)
    except InvalidEvent as exc:
        assert any(p.startswith("occurred_at: ") for p in exc.problems), exc.problems
        return
    (cast,), = duckdb.execute("select try_cast(? as timestamptz)", [stamp]).fetchall()
    assert cast is not None, stamp


@given(st.integers(min_value=1, max_value=10 ** 6))
@FUZZ
def test_an_event_ahead_of_the_clock_is_refused_beyond_the_tolerance(seconds_ahead):
    edge = Edge(b"k" * 32, max_future_s=3600)
    received = datetime(2026, 11, 2, 9, tzinfo=timezone.utc)
    data = event("e-1", "message.received", (received + timedelta(seconds=seconds_ahead)).isoformat(),
                 message_id="m")
    if seconds_ahead <= 3600:
        assert edge.accept(data, received.isoformat())["event_id"] == "e-1"
    else:
        with pytest.raises(InvalidEvent, match=r"^occurred_at: later than .* ahead of the collector's clock"):
            edge.accept(data, received.isoformat())


# --- hostile bodies over HTTP ---------------------------------------------------

def _raw_post(server: CollectorProcess, path: str, body: bytes) -> int:
    """The status of a POST. A body over the limit is announced but not sent: the
    collector answers 413 from the headers alone, and a client still uploading
    would see a reset instead (urllib reports a broken pipe)."""
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.api_key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head.encode() + (body if len(body) <= MAX_BODY else b""))
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return int(reply.split(b" ", 2)[1])


@pytest.mark.parametrize(("body", "status"), [
    (b"{\"events\": [", 400),                                           # truncated
    (b"[" * 10_000 + b"]" * 10_000, 400),                               # nested past the parser's depth
    (b"\xff\xfe not utf-8", 400),
    (b"{\"event_id\": \"e\", \"event_id\": 7}", 422),                  # duplicate keys: the last wins
    (b"{\"events\": []}", 422),
    (b"{\"events\": [" + b"{}," * 3000 + b"{}]}", 422),
    (b"\"" + b"x" * (MAX_BODY + 1) + b"\"", 413),                      # over the body limit
])
def test_hostile_bodies_get_a_4xx_and_the_collector_stays_healthy(collector, body, status):
    assert _raw_post(collector, "/v1/events", body) == status
    assert request("GET", collector.url + "/healthz").status == 200


def test_future_event_gets_422_naming_occurred_at(collector):
    now = datetime.now(timezone.utc)
    ok = event("future-ok", "message.received", (now + timedelta(minutes=5)).isoformat(), message_id="m")
    far = event("future-far", "message.received", (now + timedelta(days=2)).isoformat(), message_id="m")
    assert collector.post("/v1/events", ok).status == 200  # a few minutes of clock skew pass
    refused = collector.post("/v1/events", {"events": [ok, far]})
    assert refused.status == 422
    assert [p.split(":")[0] for p in refused.json()["problems"]] == ["events[1].occurred_at"]


def test_clock_skew_between_sent_at_and_received_at_is_kept_not_refused(tmp_path):
    """`sent_at` is the client's clock: a device hours behind, or a retry sent long
    after the event, is stored as sent (docs/contract.md §2.2 keeps it for skew analysis); only
    an `occurred_at` past the future bound is refused, whatever `sent_at` says."""
    now = datetime.now(timezone.utc)
    behind = event("skew-behind", "message.received", (now - timedelta(hours=3)).isoformat(), message_id="m")
    behind["sent_at"] = (now - timedelta(hours=3)).isoformat()
    ahead = event("skew-ahead", "message.received", now.isoformat(), message_id="m")
    ahead["sent_at"] = (now + timedelta(hours=3)).isoformat()
    early_clock = event("skew-device-ahead", "message.received", (now + timedelta(hours=3)).isoformat(),
                        message_id="m")
    early_clock["sent_at"] = early_clock["occurred_at"]
    # Its own collector: the module's has served the fuzzers' thousands of requests.
    collector = CollectorProcess(tmp_path).start()
    try:
        accepted = collector.post("/v1/events", {"events": [behind, ahead]})
        refused = collector.post("/v1/events", early_clock)
    finally:
        collector.kill(signal.SIGTERM)
    assert accepted.status == 200, accepted.json()
    assert refused.status == 422 and refused.json()["problems"][0].split(":")[0].endswith("occurred_at")
    stored = {r.get("event_id"): r for path in (collector.home / "spool").rglob("*") if path.is_file()
              for r in map(json.loads, path.read_bytes().splitlines())}
    assert {i: datetime.fromisoformat(stored[i]["sent_at"]) for i in ("skew-behind", "skew-ahead")} == {
        "skew-behind": now - timedelta(hours=3), "skew-ahead": now + timedelta(hours=3)}
    assert "skew-device-ahead" not in stored


def test_future_event_in_an_import_is_quarantined_with_its_reason(settings, tmp_path):
    far = event("import-far", "message.received",
                (datetime.now(timezone.utc) + timedelta(days=400)).isoformat(), message_id="m")
    report = import_files([write_lines(tmp_path / "future.ndjson", [far])], settings)
    assert report.accepted == 0
    assert [(line, reason.split(":")[0]) for _, line, reason in report.problems] == [(1, "occurred_at")]
