"""Bad input: the event model under Hypothesis, the collector under Schemathesis
(generated from its own OpenAPI document), and hostile bodies over real HTTP.

The promise tested everywhere is docs/contract.md §9.3: a clear 4xx naming a field, or a
valid event, never a crash and never a 5xx.
"""

from __future__ import annotations

import json
import re
import signal
import socket
from datetime import datetime, timedelta, timezone

import duckdb
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from ingestion.collector.openapi import OPENAPI_PATH
from ingestion.contract import EVENT_TYPES, InvalidEvent, parse_event
from ingestion.edge import Edge
from ingestion.importer import import_files
from ingestion.settings import CollectorConfig
from tests.conftest import event, write_lines
from tests.support.collector_server import CollectorProcess, request

SCHEMA = schemathesis.openapi.from_path(OPENAPI_PATH)
# `events[3].properties.score: ...`, `occurred_at: ...`, `type: ...`
PROBLEM = re.compile(r"^(events\[\d+\]\.)?[A-Za-z_][\w.]*(\[\d+\])?[\w.]*: .+")
MAX_BODY = CollectorConfig.max_body_bytes
FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
# The module's collector (tests/collector/conftest.py). Schemathesis probes every operation
# without and with a wrong key, hundreds of failed authentications from one address: the
# per-IP limit would rightly answer 429, which its `ignored_auth` check does not take for
# "auth enforced". The limiter still runs, with a burst the fuzzing never spends
# (tests/collector/test_rate_limit.py).
COLLECTOR_ENV = {"JOURNEY_RATE_LIMIT_IP_BURST": str(10 ** 6)}


# --- the collector against its own OpenAPI document ----------------------------

@SCHEMA.parametrize()
@FUZZ
def test_collector_conforms_to_its_openapi_document(case, collector):
    """No 5xx, documented status codes, content types and bodies, negative data refused.

    Positive acceptance is left out: the contract has rules JSON Schema does not
    carry (a human message needs `actor.id`, `identify` two identifiers, no
    `occurred_at` far ahead of the clock); such refusals must still name a field.
    """
    excluded = [positive_data_acceptance]
    if case.path == "/v1/webview/events":
        # A browser's `identity` and `conversation_id` are replaced from the token
        # (docs/decisions.md), so a bad shape there is dropped, not refused.
        excluded.append(negative_data_rejection)
    response = case.call_and_validate(base_url=collector.url,
                                      headers={"Authorization": f"Bearer {collector.api_key}"},
                                      excluded_checks=excluded)
    if response.status_code == 422:
        body = response.json()
        assert body["error"] and all(PROBLEM.match(p) for p in body.get("problems", [])), body
    assert request("GET", collector.url + "/healthz").status == 200


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
