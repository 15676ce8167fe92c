"""Every entry point under generated traffic, valid and invalid, against the real
collector application on a real spool (in this process: the point is validation,
the wire is fuzzed in test_fuzz.py and test_slow_clients.py).

Each property runs `EXAMPLES` examples, counts how many were valid and invalid
(printed with `-s`, asserted: at least a third valid), checks each answer
against the label (docs/contract.md §2.4: all or nothing on `/v1/events` and the
webview route, quarantine on webhook and SDK routes; never a 5xx), and at the end
finds every acknowledged event in the spool exactly once per acknowledgement.
"""

from __future__ import annotations

import base64
from collections import Counter

import orjson
from hypothesis import given
from hypothesis import strategies as st

from ingestion.collector.adapters import whatsapp_events
from tests.collector.adapter_strategies import Delivery, segment_delivery, whatsapp_delivery
from tests.collector.fuzzing import (EXAMPLES, PROPERTY, check_events_answer, events_property, quarantined,
                                     spool_keys, whatsapp_signature)
from tests.collector.inprocess import InProcessCollector
from tests.collector.strategies import (CONVERSATION_TYPES, MUTATION_NAMES, WEBVIEW_TYPES, Labelled, Tally,
                                       labelled_batch, valid_event)

# A browser's conversation, identity and channel are replaced from its token, so breaking them breaks nothing.
WEBVIEW_MUTATIONS = MUTATION_NAMES - {"conversation_id length", "identity not object", "channel"}


def test_events_route_acknowledges_exactly_the_valid_batches(app):
    def post(body) -> tuple[int, dict]:
        answer = app.post("/v1/events", body)
        return answer.status, answer.json()

    tally, acknowledged = events_property(post, "/v1/events")
    tally.report(EXAMPLES)
    assert spool_keys(app.home) == acknowledged


def _webview_body(app: InProcessCollector, batch: list[Labelled], linked: bool) -> bytes:
    token = None
    if linked:
        token = app.post("/v1/handshake", {"conversation_id": "conv-fuzz", "channel_user_id": "+31600000000"}
                         ).json()["token"]
    return orjson.dumps({"token": token, "events": [x.data for x in batch]})


def test_webview_route_acknowledges_exactly_the_valid_batches_linked_or_not(app):
    """Conversation events on the browser's route are refused like any invalid one."""
    tally, acknowledged = Tally("/v1/webview/events"), Counter()
    foreign = valid_event(CONVERSATION_TYPES).map(lambda e: Labelled(e, False, "not webview"))

    @given(labelled_batch(WEBVIEW_TYPES, WEBVIEW_MUTATIONS, foreign), st.booleans())
    @PROPERTY
    def post(batch: list[Labelled], linked: bool):
        answer = app.post("/v1/webview/events", _webview_body(app, batch, linked), {"content-type": "text/plain"},
                          key=False)
        acknowledged.update(check_events_answer(batch, False, answer.status, answer.json(), tally))

    post()
    tally.report(EXAMPLES)
    assert spool_keys(app.home) == acknowledged


def _check_delivery(delivery: Delivery, status: int, answer: dict, tally: Tally) -> list[str]:
    """A webhook or SDK call: 200 always, the valid events acknowledged, the others quarantined."""
    tally.count(delivery.valid, delivery.whys)
    invalid = sum(not v for _, v, _ in delivery.expected)
    assert status == 200, (status, answer, delivery)
    assert answer.get("accepted") == len(delivery.expected) - invalid, (answer, delivery)
    assert answer.get("quarantined", 0) == invalid, (answer, delivery)
    return [event_id for event_id, valid, _ in delivery.expected if valid]


def _spool_verdict(app: InProcessCollector, acknowledged: Counter, tally: Tally, source: str) -> None:
    assert spool_keys(app.home, lambda r: r["event_id"]) == acknowledged
    rows = quarantined(app.home)
    assert len(rows) == sum(tally.mutations.values()) and all(r["reason"] and r["source"] == source for r in rows)


def test_whatsapp_signed_deliveries_are_mapped_acknowledged_or_quarantined(app):
    """Signed with the configured app secret, so every call reaches the mapping (docs/contract.md §2.4)."""
    tally, acknowledged = Tally("/v1/webhooks/whatsapp"), Counter()
    secret = app.config.whatsapp_app_secret

    @given(whatsapp_delivery())
    @PROPERTY
    def post(delivery: Delivery):
        body = orjson.dumps(delivery.body)
        answer = app.post("/v1/webhooks/whatsapp", body, {"x-hub-signature-256": whatsapp_signature(body, secret)},
                          key=False)
        acknowledged.update(_check_delivery(delivery, answer.status, answer.json(), tally))

    post()
    tally.report(EXAMPLES)
    _spool_verdict(app, acknowledged, tally, "whatsapp")


def test_segment_calls_are_mapped_acknowledged_or_quarantined(app):
    tally, acknowledged = Tally("segment"), Counter()
    basic = "Basic " + base64.b64encode(f"{app.api_key}:".encode()).decode()

    @given(segment_delivery())
    @PROPERTY
    def post(routed: tuple[str, Delivery]):
        path, delivery = routed
        answer = app.post(path, delivery.body, {"authorization": basic}, key=False)
        acknowledged.update(_check_delivery(delivery, answer.status, answer.json(), tally))

    post()
    tally.report(EXAMPLES)
    _spool_verdict(app, acknowledged, tally, "segment")


def test_a_whatsapp_timestamp_beyond_the_platform_clock_is_quarantined_not_a_500(app):
    """Found by the WhatsApp property: `datetime.fromtimestamp(10**18)` raises OSError
    (EOVERFLOW), which the adapter did not catch, so the webhook answered 500."""
    message = {"from": "31600000000", "id": "wamid.far", "timestamp": str(10 ** 18), "type": "text"}
    payload = {"entry": [{"changes": [{"value": {"metadata": {"phone_number_id": "pn"}, "messages": [message]}}]}]}
    assert [e["occurred_at"] for e in whatsapp_events(payload)] == [None]
    body = orjson.dumps(payload)
    answer = app.post("/v1/webhooks/whatsapp", body,
                      {"x-hub-signature-256": whatsapp_signature(body, app.config.whatsapp_app_secret)}, key=False)
    assert (answer.status, answer.json()) == (200, {"accepted": 0, "quarantined": 1})
    assert [q["reason"].split(":")[0] for q in quarantined(app.home)] == ["occurred_at"]
