"""Huge batches exactly at and one byte over the configured limits, and
conflicting duplicates (one `event_id`, different content), against the real
collector application on a real spool.

At a limit everything is acknowledged and stored; one byte over, 413 with the
limit in the error and nothing stored; never a 5xx (docs/contract.md §2.4). There
is no limit on the number of events in a batch but the body's bytes: the largest
batch is as many minimal events as the body limit holds.
"""

from __future__ import annotations

import duckdb
import orjson
import pytest

from ingestion.edge import utc_now_iso
from ingestion.loader import load_spool
from ingestion.settings import Settings
from tests.collector.fuzzing import key, quarantined, spool_keys, spool_records, whatsapp_signature
from tests.conftest import event


def _padded(body: bytes, size: int) -> bytes:
    """`body` with JSON whitespace after it, `size` bytes in all."""
    assert len(body) <= size
    return body + b" " * (size - len(body))


def _fullest_batch(limit: int) -> tuple[list[dict], bytes]:
    """As many small events as a body of `limit` bytes holds, and that body, padded to exactly `limit`."""
    events, size = [], len(b'{"events":[]}')
    while True:
        candidate = event(f"bulk-{len(events):06d}", "message.received", "2026-11-02T09:00:00Z", message_id="m")
        grown = size + len(orjson.dumps(candidate)) + 1
        if grown > limit:
            return events, _padded(orjson.dumps({"events": events}), limit)
        events.append(candidate)
        size = grown


def test_a_batch_of_exactly_the_body_limit_is_stored_and_one_byte_more_is_413(app):
    limit = app.config.max_body_bytes
    events, body = _fullest_batch(limit)
    over = app.post("/v1/events", body + b" ")
    assert (over.status, over.json()["error"]) == (413, f"request body over {limit} bytes")
    assert spool_records(app.home) == []
    answer = app.post("/v1/events", body)
    assert (answer.status, answer.json()) == (200, {"accepted": len(events)})
    assert spool_keys(app.home) == {key(e): 1 for e in events}
    print(f"\nlargest batch at the {limit}-byte body limit: {len(events)} events")


def _event_of_stored_size(size: int) -> dict:
    """An event whose spool record (with its `received_at`, as `Collector._lines` measures it) is `size` bytes."""
    data = event("big-1", "message.received", "2026-11-02T09:00:00Z", message_id="m", note="")
    stored = len(orjson.dumps({**data, "received_at": utc_now_iso()})) + 1  # and its newline
    data["properties"]["note"] = "é" * ((size - stored) // 2) + "x" * ((size - stored) % 2)
    return data


def test_an_event_of_exactly_the_event_limit_is_stored_and_one_byte_more_is_413(app):
    limit = app.config.max_event_bytes
    over = app.post("/v1/events", {"events": [_event_of_stored_size(limit + 1)]})
    assert (over.status, over.json()["error"]) == (413, f"events[0]: event over {limit} bytes")
    at = _event_of_stored_size(limit)
    assert app.post("/v1/events", {"events": [at]}).status == 200
    (stored,) = spool_records(app.home)
    assert len(orjson.dumps(stored)) + 1 == limit and stored["properties"]["note"] == at["properties"]["note"]


def _webhook(limit: int) -> bytes:
    """A WhatsApp delivery of one message, padded to exactly `limit` bytes."""
    message = {"from": "31600000000", "id": "wamid.big", "timestamp": "1793607000", "type": "text"}
    payload = {"entry": [{"changes": [{"value": {"metadata": {"phone_number_id": "pn"}, "messages": [message]}}]}]}
    return _padded(orjson.dumps(payload), limit)


def test_a_webhook_of_exactly_its_limit_is_stored_and_one_byte_more_is_413(app):
    limit, secret = app.config.max_webhook_bytes, app.config.whatsapp_app_secret
    body = _webhook(limit)
    over = app.post("/v1/webhooks/whatsapp", body + b" ",
                    {"x-hub-signature-256": whatsapp_signature(body + b" ", secret)}, key=False)
    assert (over.status, over.json()["error"]) == (413, f"request body over {limit} bytes")
    answer = app.post("/v1/webhooks/whatsapp", body, {"x-hub-signature-256": whatsapp_signature(body, secret)},
                      key=False)
    assert (answer.status, answer.json()) == (200, {"accepted": 1})
    assert spool_keys(app.home, lambda r: r["event_id"]) == {"wa:wamid.big": 1} and not quarantined(app.home)


# --- conflicting duplicates: the first arrival wins (docs/contract.md §4.1, §9.2) ---------------

FIRST = event("dup-1", "message.received", "2026-11-02T09:00:00Z", message_id="first")
CONFLICTS = [  # the same id, other content
    event("dup-1", "message.received", "2026-11-02T09:05:00Z", message_id="second"),
    event("dup-1", "csat.submitted", "2026-11-02T08:00:00Z", score=1),
]


@pytest.mark.parametrize("together", [False, True], ids=["separate requests", "one batch"])
def test_conflicting_duplicates_are_all_acknowledged_and_the_first_arrival_is_loaded(app, together):
    """The collector does not arbitrate (it acknowledges every delivery, appended in arrival order);
    the loader keeps the first arrival, whatever the later copies say."""
    bodies = [{"events": [FIRST, *CONFLICTS]}] if together else [FIRST, *CONFLICTS]
    assert [app.post("/v1/events", body).status for body in bodies] == [200] * len(bodies)
    assert [r["properties"] for r in spool_records(app.home)] == [FIRST["properties"]] + [
        c["properties"] for c in CONFLICTS]
    app.close()  # seals the open segment, as a collector's stop does
    settings = Settings.from_env({"JOURNEY_HOME": str(app.home), "JOURNEY_HASH_KEY": app.hash_key})
    assert load_spool(settings)["events"] == 1
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        rows = con.execute("select type, occurred_at, properties from raw.events where event_id = 'dup-1'").fetchall()
    assert [(t, at.isoformat(), orjson.loads(p)) for t, at, p in rows] == [
        ("message.received", "2026-11-02T09:00:00+00:00", {"message_id": "first"})]
