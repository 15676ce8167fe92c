"""Security points of docs/threat-model.md that tests/collector/test_routes.py and
tests/collector/test_adapters.py do not already cover: token replay and
lifetime, keys on every server-to-server route, and personal data that must
not reach the spool or the warehouse in clear on any path, refusals included.
"""

from __future__ import annotations

import base64
import signal
import time

import duckdb
import pytest

from ingestion.collector.routes import ROUTES
from ingestion.importer import import_files
from ingestion.loader import load_spool
from tests.conftest import event, write_lines
from tests.support.collector_server import CollectorProcess

PHONE, OTHER_PHONE = "+31612345678", "31687654321"
SECRET_TEXT = "my new address is 12 Secret Lane"


def _webview(event_id: str, claimed_conversation: str) -> dict:
    return {"event_id": event_id, "type": "webview.opened", "occurred_at": "2026-11-02T09:01:00Z",
            "conversation_id": claimed_conversation, "properties": {"funnel": "change_address"}}


def test_a_replayed_token_writes_only_its_conversation_and_dies_with_its_lifetime(tmp_path):
    """Decision: a token is a bearer credential for one conversation for its
    lifetime. A replay inside it is accepted but cannot reach another
    conversation; after it, the same token gets 401."""
    server = CollectorProcess(tmp_path, env_extra={"JOURNEY_TOKEN_TTL_S": "3"}).start()
    try:
        token = server.post("/v1/handshake", {"conversation_id": "conv-a", "channel_user_id": PHONE}).json()["token"]
        first = server.post("/v1/webview/events", {"token": token, "events": [_webview("r1", "conv-a")]}, key=None)
        replay = server.post("/v1/webview/events", {"token": token, "events": [_webview("r2", "conv-victim")]},
                             key=None)
        time.sleep(4.5)  # past exp (PyJWT allows no leeway by default)
        late = server.post("/v1/webview/events", {"token": token, "events": [_webview("r3", "conv-a")]}, key=None)
    finally:
        server.kill(signal.SIGTERM)
    assert (first.status, replay.status, late.status) == (200, 200, 401)
    assert "expired" in late.json()["error"]
    load_spool(server.settings())
    with duckdb.connect(str(server.settings().warehouse), read_only=True) as con:
        rows = dict(con.sql("select event_id, conversation_id from raw.events").fetchall())
    assert rows == {"r1": "conv-a", "r2": "conv-a"}


def _basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


@pytest.mark.parametrize("path", sorted(route.path for route in ROUTES for op in route.operations if op.key))
@pytest.mark.parametrize("authorization", [None, "Bearer not-a-key", "Basic !!!", "Token abc", "basic-wrong"])
def test_every_server_route_refuses_missing_or_wrong_keys(collector, path, authorization):
    headers = {} if authorization is None else {
        "Authorization": _basic("wrong-write-key") if authorization == "basic-wrong" else authorization}
    response = collector.post(path, {"batch": [], "conversation_id": "c", "channel_user_id": PHONE},
                           key=None, headers=headers)
    assert response.status == 401 and "API key" in response.json()["error"]
    assert response.headers["www-authenticate"] == "Bearer"


def test_phone_numbers_and_message_text_never_stored_in_clear_on_any_path(tmp_path):
    """Accepted events, refused events, webhooks' quarantine and broken import
    lines: the spool files and every text column of raw hold neither."""
    server = CollectorProcess(tmp_path / "collector").start()
    accepted = event("p1", "message.received", "2026-11-02T09:00:00Z", "conv-p", message_id="m1", text=SECRET_TEXT)
    accepted["identity"] = {"channel_user_id": PHONE}
    refused_segment_call = {"type": "track", "event": "Order Completed", "messageId": "seg-1",
                            "timestamp": "2026-11-02T09:00:00Z", "userId": OTHER_PHONE,
                            "properties": {"text": SECRET_TEXT, "phone": PHONE}}
    try:
        assert server.post("/v1/events", accepted).status == 200
        assert server.post("/v1/batch", {"batch": [refused_segment_call]}).json()["quarantined"] == 1
    finally:
        server.kill(signal.SIGTERM)
    wrong_type = event("p2", "message.received", "2026-11-02T09:00:00Z", "conv-p", message_id="m2", text=SECRET_TEXT)
    wrong_type["identity"] = {"channel_user_id": int(OTHER_PHONE)}
    broken = '{"identity": {"channel_user_id": "' + PHONE + '"}, "properties": {"text": "' + SECRET_TEXT + '"}'
    collector_settings = server.settings()
    report = import_files([write_lines(tmp_path / "bad.ndjson", [wrong_type, broken])], collector_settings)
    assert report.quarantined == 2
    load_spool(collector_settings)

    spool = "".join(p.read_text() for p in collector_settings.spool_dir.rglob("*.ndjson"))
    with duckdb.connect(str(collector_settings.warehouse), read_only=True) as con:
        stored = {table: str(con.sql(f"select * from raw.{table}").fetchall()) for table in ("events", "quarantine")}
    assert "p1" in stored["events"] and "seg-1" in stored["quarantine"]  # the scan looked at real rows
    for where, text in {"spool": spool, **stored}.items():
        for secret in (PHONE, PHONE.lstrip("+"), OTHER_PHONE, SECRET_TEXT):
            assert secret not in text, f"{secret!r} in {where}"
