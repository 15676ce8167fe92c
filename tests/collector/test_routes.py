"""The collector over real HTTP on loopback: every route, every error code."""

from __future__ import annotations

import json
import re
import socket
import time

import duckdb
import jwt
import pytest

from ingestion.collector.app import REJECT_REASONS
from ingestion.collector.openapi import OPENAPI_PATH, build
from ingestion.collector.routes import ROUTES
from ingestion.loader import load_spool
from ingestion.settings import CollectorConfig
from ingestion.spool import SpoolReader
from tests.conftest import event
from tests.support import REPO
from tests.support.collector_server import CollectorProcess, request


def _msg(event_id: str, at: str = "2026-11-02T09:00:00Z") -> dict:
    data = event(event_id, "message.received", at, "conv-1", message_id=f"m-{event_id}")
    data["identity"] = {"channel_user_id": "+31600000042"}
    return data


def test_openapi_document_is_committed_and_served(collector):
    assert json.loads(OPENAPI_PATH.read_text()) == json.loads(json.dumps(build(), sort_keys=True))
    served = request("GET", collector.url + "/openapi.json")
    assert served.status == 200 and served.body == OPENAPI_PATH.read_bytes()  # the defaults' limits


def test_openapi_paths_are_the_documented_routes_and_limits_the_configured_ones():
    config = CollectorConfig.load({"JOURNEY_MAX_BODY_BYTES": str(2 << 20), "JOURNEY_MAX_EVENT_BYTES": "1000"})
    document = build(config)
    assert {path: set(item) for path, item in document["paths"].items()} == {
        route.path: {op.method.lower() for op in route.operations} for route in ROUTES if route.documented}
    assert document["paths"]["/v1/events"]["post"]["responses"]["413"]["description"] == \
        "Body over 2 MB, or an event over 1000 bytes."
    assert "Body over 512 KB, or an event over 32 KB." in OPENAPI_PATH.read_text()


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.path)
def test_every_route_answers_other_methods_with_405_and_its_allow_header(collector, route):
    response = request("DELETE", collector.url + route.path, headers={"Origin": "https://shop.example"})
    assert response.status == 405 and response.headers["allow"] == route.allow.decode()
    assert ("access-control-allow-origin" in response.headers) == route.cors
    if route.cors:
        assert response.headers["access-control-allow-methods"] == route.allow.decode() == "POST, OPTIONS"
    else:  # no preflight either
        assert request("OPTIONS", collector.url + route.path).status == 405


def test_health_readiness_and_metrics(collector):
    assert request("GET", collector.url + "/healthz").json() == {"status": "ok"}
    assert request("GET", collector.url + "/readyz").status == 200
    collector.post("/v1/events", _msg("metrics-1"))
    metrics = request("GET", collector.url + "/metrics").body.decode()
    assert "journey_events_accepted_total" in metrics and "journey_fsync_seconds_count" in metrics
    accepted = next(float(line.split()[-1]) for line in metrics.splitlines()
                    if line.startswith("journey_events_accepted_total"))
    assert accepted >= 1
    fsyncs = next(float(line.split()[-1]) for line in metrics.splitlines()
                  if line.startswith("journey_fsync_seconds_count"))
    assert fsyncs >= 1  # every acknowledgement went through a group commit
    # The sink-neutral name, beside the first one that existing scrapes read (docs/contract.md §2.6).
    commits = next(float(line.split()[-1]) for line in metrics.splitlines()
                   if line.startswith("journey_commit_seconds_count"))
    assert commits == fsyncs
    collector.post("/v1/events", b"{oops")
    metrics = request("GET", collector.url + "/metrics").body.decode()
    assert 'journey_requests_rejected_total{status="400",reason="malformed_json"}' in metrics


def test_the_contract_names_the_reason_of_every_rejection():
    row = next(line for line in (REPO / "docs" / "contract.md").read_text().splitlines()
               if line.startswith("| `journey_requests_rejected_total"))
    assert {status: reason for reason, status in re.findall(r"`(\w+)` \((\d{3})", row)} == REJECT_REASONS


def test_single_and_batch_events_are_acknowledged(collector):
    assert collector.post("/v1/events", _msg("one")).json() == {"accepted": 1}
    batch = {"events": [_msg(f"b{i}") for i in range(5)]}
    assert collector.post("/v1/events", batch).json() == {"accepted": 5}


@pytest.mark.parametrize(("key", "status"), [(None, 401), ("wrong-key", 401)])
def test_api_key_is_required(collector, key, status):
    response = collector.post("/v1/events", _msg("nokey"), key=key)
    assert response.status == status and "API key" in response.json()["error"]


def test_bad_bodies_get_the_right_codes(collector):
    malformed = collector.post("/v1/events", b"{not json")
    assert malformed.status == 400 and "malformed JSON" in malformed.json()["error"]
    bad = _msg("bad")
    bad["properties"] = {}
    invalid = collector.post("/v1/events", {"events": [_msg("ok"), bad]})
    assert invalid.status == 422
    assert invalid.json()["problems"] == ["events[1].properties.message_id: Field required"]
    assert _declared_only(collector, 600_000).startswith(b"HTTP/1.1 413")
    big_event = _msg("big")
    big_event["properties"]["note"] = "x" * 40_000
    assert collector.post("/v1/events", big_event).status == 413
    assert request("GET", collector.url + "/nope").status == 404


def _declared_only(collector, length: int) -> bytes:
    """The response to headers that declare `length` body bytes, sending none.

    The 413 must come from Content-Length alone; a client still writing a
    body the server has refused may see a broken pipe instead of the answer.
    """
    host, port = collector.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(f"POST /v1/events HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                     f"Authorization: Bearer {collector.api_key}\r\nContent-Length: {length}\r\n\r\n".encode())
        return sock.recv(65536)


def _handshake(collector) -> dict:
    response = collector.post("/v1/handshake", {"conversation_id": "conv-web", "channel_user_id": "+31611111111"})
    assert response.status == 200
    return response.json()


def _webview_events(prefix: str) -> list[dict]:
    return [
        {"event_id": f"{prefix}-open", "type": "webview.opened", "occurred_at": "2026-11-02T09:01:00Z",
         "identity": {"anonymous_id": "anon-1"}, "properties": {"funnel": "change_address"}},
        {"event_id": f"{prefix}-step", "type": "funnel.step_viewed", "occurred_at": "2026-11-02T09:01:05Z",
         # a browser cannot claim a conversation or a person: these are overwritten
         "conversation_id": "someone-else", "identity": {"channel_user_id": "h:forged"},
         "properties": {"funnel": "change_address", "step": "enter_postcode", "step_index": 1}},
    ]


def test_handshake_token_links_webview_events_to_the_chat(collector):
    handshake = _handshake(collector)
    assert handshake["url"].endswith("jt=" + handshake["token"])
    assert jwt.get_unverified_header(handshake["token"])["kid"] == "k1"
    response = collector.post("/v1/webview/events", {"token": handshake["token"], "events": _webview_events("wv")},
                              key=None, headers={"Content-Type": "text/plain", "Origin": "https://shop.example"})
    assert response.status == 200
    assert response.headers["access-control-allow-origin"] == "https://shop.example"
    unlinked = collector.post("/v1/webview/events", {"events": _webview_events("ghost")}, key=None)
    assert unlinked.status == 200
    settings = collector.settings()
    SpoolReader(settings.spool_dir)  # make sure the layout exists
    deadline = time.monotonic() + 20  # segments seal by age (5 s)
    while not SpoolReader(settings.spool_dir).pending() and time.monotonic() < deadline:
        time.sleep(0.5)
    load_spool(settings)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        rows = dict(con.sql("select event_id, conversation_id from raw.events where event_id like 'wv-%' "
                            "or event_id like 'ghost-%'").fetchall())
        identity = con.sql("select identity from raw.events where event_id = 'wv-step'").fetchall()[0][0]
    assert rows == {"wv-open": "conv-web", "wv-step": "conv-web", "ghost-open": None, "ghost-step": None}
    assert "forged" not in identity and "+31611111111" not in identity


def _token(collector, **overrides) -> str:
    claims = {"cid": "conv-x", "sub": "h:1", "aud": "journey-webview", "exp": int(time.time()) + 60, **overrides}
    key = overrides.pop("_key", collector.token_key)
    claims.pop("_key", None)
    return jwt.encode(claims, key, algorithm="HS256", headers={"kid": "k1"})


@pytest.mark.parametrize("token_of", [
    lambda c: _token(c, _key="an-attacker-key-that-is-long-enough-000000"),   # forged
    lambda c: _token(c, exp=int(time.time()) - 5),                              # expired
    lambda c: _token(c, aud="someone-else"),                                    # wrong audience
    lambda c: _handshake(c)["token"][:-3] + "abc",                              # tampered
    lambda c: jwt.encode({"cid": "x", "aud": "journey-webview", "exp": int(time.time()) + 60},
                         key="", algorithm="none"),                             # alg none
])
def test_bad_tokens_are_refused(collector, token_of):
    response = collector.post("/v1/webview/events", {"token": token_of(collector), "events": _webview_events("t")},
                              key=None)
    assert response.status == 401 and "token refused" in response.json()["error"]


def test_cors_allows_only_listed_origins(collector):
    allowed = request("OPTIONS", collector.url + "/v1/webview/events", headers={"Origin": "https://shop.example"})
    assert allowed.status == 204 and allowed.headers["access-control-allow-origin"] == "https://shop.example"
    other = request("OPTIONS", collector.url + "/v1/webview/events", headers={"Origin": "https://evil.example"})
    assert other.status == 403 and "access-control-allow-origin" not in other.headers
    post = collector.post("/v1/webview/events", {"events": _webview_events("evil")}, key=None,
                          headers={"Origin": "https://evil.example"})
    assert post.status == 403


def test_full_spool_answers_503_and_stores_nothing(tmp_path):
    server = CollectorProcess(tmp_path, env_extra={"JOURNEY_SPOOL_MAX_BYTES": "2000"}).start()
    try:
        statuses = [server.post("/v1/events", _msg(f"full{i}")).status for i in range(20)]
        refused = server.post("/v1/events", _msg("refused"))
    finally:
        server.kill()
    assert statuses[0] == 200 and 503 in statuses
    assert refused.status == 503 and int(refused.headers["retry-after"]) > 0
    accepted = statuses.count(200)
    reader = SpoolReader(server.settings().spool_dir)
    reader.recover_orphans()
    lines = [json.loads(line) for seg in reader.pending() for line in seg.read_text().splitlines()]
    assert len(lines) == accepted
