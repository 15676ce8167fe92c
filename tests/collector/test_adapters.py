"""WhatsApp Cloud API webhooks and the Segment tracking API, over real HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import signal
import uuid
from datetime import datetime, timezone

import duckdb
import pytest
from segment import analytics

from ingestion.loader import load_spool
from ingestion.privacy import pseudonymize
from tests.support.collector_server import CollectorProcess, request

APP_SECRET = secrets.token_hex(16)
VERIFY_TOKEN = secrets.token_urlsafe(12)
# The module's collector (tests/collector/conftest.py) verifies and signs with these.
COLLECTOR_ENV = {"JOURNEY_WHATSAPP_APP_SECRET": APP_SECRET, "JOURNEY_WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN}


def _loaded(server: CollectorProcess) -> duckdb.DuckDBPyConnection:
    server.kill(signal.SIGTERM)  # graceful stop seals the open segment
    settings = server.settings()
    load_spool(settings)
    return duckdb.connect(str(settings.warehouse), read_only=True)


WEBHOOK = {"object": "whatsapp_business_account", "entry": [{"id": "waba", "changes": [{"field": "messages", "value": {
    "messaging_product": "whatsapp", "metadata": {"phone_number_id": "pn1"},
    "messages": [{"from": "31612345678", "id": "wamid.in1", "timestamp": "1793607000", "type": "text",
                  "text": {"body": "my parcel is late"}}],
    "statuses": [{"id": "wamid.out1", "status": "sent", "timestamp": "1793607005", "recipient_id": "31612345678"},
                 {"id": "wamid.out1", "status": "read", "timestamp": "1793607009", "recipient_id": "31612345678"}],
}}]}]}


def _signed(body: bytes, secret: str = APP_SECRET) -> dict:
    return {"X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def test_whatsapp_verification_challenge(collector):
    ok = request("GET", f"{collector.url}/v1/webhooks/whatsapp?hub.mode=subscribe"
                        f"&hub.verify_token={VERIFY_TOKEN}&hub.challenge=8675309")
    assert ok.status == 200 and ok.body == b"8675309"
    wrong = request("GET", f"{collector.url}/v1/webhooks/whatsapp?hub.mode=subscribe"
                           f"&hub.verify_token=nope&hub.challenge=1")
    assert wrong.status == 403


def test_whatsapp_signature_is_checked_on_the_raw_body(collector):
    body = json.dumps(WEBHOOK).encode()
    forged = collector.post("/v1/webhooks/whatsapp", body, key=None, headers=_signed(body, "not-the-secret"))
    assert forged.status == 401
    reserialized = json.dumps(WEBHOOK, indent=1).encode()  # same JSON, other bytes
    assert collector.post("/v1/webhooks/whatsapp", reserialized, key=None, headers=_signed(body)).status == 401
    unsigned = collector.post("/v1/webhooks/whatsapp", body, key=None)
    assert unsigned.status == 401
    accepted = collector.post("/v1/webhooks/whatsapp", body, key=None, headers=_signed(body))
    assert accepted.status == 200 and accepted.json() == {"accepted": 2}
    # Meta retries deliveries: the replay is acknowledged again and stored once downstream.
    assert collector.post("/v1/webhooks/whatsapp", body, key=None, headers=_signed(body)).status == 200


def test_segment_sdk_track_and_identify_land_in_raw(collector):
    analytics.write_key = collector.api_key
    analytics.host = collector.url
    analytics.sync_mode = True
    analytics.max_retries = 0
    analytics.on_error = lambda error, items: pytest.fail(f"segment client error: {error}")
    now = datetime.now(timezone.utc)
    step_id, identify_id, foreign_id = (str(uuid.uuid4()) for _ in range(3))
    analytics.track(anonymous_id="anon-seg", event="funnel.step_viewed", message_id=step_id, timestamp=now,
                    properties={"funnel": "refund_request", "step": "select_order", "step_index": 1,
                                "conversation_id": "conv-seg"})
    analytics.identify(user_id="user-seg", anonymous_id="anon-seg", message_id=identify_id, timestamp=now,
                       traits={"plan": "pro"})
    analytics.track(anonymous_id="anon-seg", event="Order Completed", message_id=foreign_id, timestamp=now)
    analytics.flush()

    # the rest of this module's checks read the warehouse after one graceful stop
    with _loaded(collector) as con:
        rows = dict(con.sql("select event_id, type from raw.events").fetchall())
        step = con.sql(f"select conversation_id, identity from raw.events where event_id = '{step_id}'").fetchall()
        quarantined = [r[0] for r in con.sql("select reason from raw.quarantine where source = 'segment'").fetchall()]
        whatsapp = con.sql("select event_id, conversation_id, identity, properties from raw.events "
                           "where event_id like 'wa%' order by event_id").fetchall()
    assert rows[step_id] == "funnel.step_viewed" and rows[identify_id] == "identify"
    assert step[0][0] == "conv-seg" and json.loads(step[0][1]) == {"anonymous_id": "anon-seg"}
    assert foreign_id not in rows
    assert len(quarantined) == 1 and "unknown event type 'segment:Order Completed'" in quarantined[0]
    # WhatsApp: phone numbers hashed, text not stored, replays stored once
    assert [r[0] for r in whatsapp] == ["wa-sent:wamid.out1", "wa:wamid.in1"]
    expected_user = pseudonymize("31612345678", collector.hash_key.encode())
    assert all(json.loads(r[2])["channel_user_id"] == expected_user for r in whatsapp)
    assert all(r[1] == "wa:pn1:31612345678" for r in whatsapp)
    assert "parcel" not in whatsapp[1][3]


@pytest.mark.parametrize("payload", [
    {"entry": [{"changes": [{"value": ["not", "an", "object"]}]}]},
    {"entry": [{"changes": [{"value": {"metadata": "x", "messages": ["str", 5, {"text": "flat"}],
                                       "statuses": [None]}}]}]},
    {"entry": "nope"},
])
def test_odd_whatsapp_shapes_are_quarantined_not_crashes(tmp_path, payload):
    server = CollectorProcess(tmp_path, env_extra={"JOURNEY_WHATSAPP_APP_SECRET": APP_SECRET}).start()
    try:
        body = json.dumps(payload).encode()
        response = server.post("/v1/webhooks/whatsapp", body, key=None, headers=_signed(body))
        odd_segment = server.post("/v1/batch", {"batch": [{"type": "track", "event": "x", "properties": [1],
                                                           "context": "c"}, "not-a-call"]})
        odd_webview = server.post("/v1/webview/events", {"events": [
            {"event_id": "o1", "type": "webview.opened", "occurred_at": "2026-11-02T09:00:00Z",
             "identity": "not-an-object", "properties": {"funnel": "f"}}]}, key=None)
    finally:
        server.kill()
    assert response.status == 200 and response.json()["accepted"] == 0
    assert odd_segment.status == 200 and odd_segment.json()["quarantined"] == 2
    assert odd_webview.status == 200
