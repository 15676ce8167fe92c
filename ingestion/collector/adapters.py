"""Map other wire formats onto the contract: WhatsApp Cloud API webhooks, the
Segment tracking API, and the webview tracker's events with the identity of
their handshake token. Pure functions of the decoded payload; the collector
validates their output like any other event.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from ingestion.contract import EVENT_TYPES


def as_dict(value: Any) -> dict:
    """Foreign payloads are untrusted in shape: anything not an object reads as empty."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _epoch_to_rfc3339(value: Any) -> str | None:
    """None (the event is then quarantined) for anything but epoch seconds of a representable
    time; beyond the platform's `time_t` the C library answers EOVERFLOW, an OSError."""
    try:
        return datetime.fromtimestamp(int(value), tz=timezone.utc).isoformat()
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def whatsapp_events(payload: Any) -> list[dict]:
    """Inbound messages become `message.received`; a `sent` status becomes `message.sent`.

    The conversation is the customer's thread with one business number
    (`wa:<phone_number_id>:<wa_id>`). Delivery and read receipts carry no state
    change of the contract and are not mapped.
    """
    events = []
    for entry in as_list(as_dict(payload).get("entry")):
        for change in as_list(as_dict(entry).get("changes")):
            value = as_dict(as_dict(change).get("value"))
            number = as_dict(value.get("metadata")).get("phone_number_id", "unknown")
            for message in map(as_dict, as_list(value.get("messages"))):
                sender = message.get("from")
                properties = {"message_id": message.get("id")}
                if "body" in as_dict(message.get("text")):
                    properties["text"] = message["text"]["body"]
                events.append({
                    "event_id": f"wa:{message.get('id')}",
                    "type": "message.received",
                    "occurred_at": _epoch_to_rfc3339(message.get("timestamp")),
                    "conversation_id": f"wa:{number}:{sender}",
                    "channel": "whatsapp",
                    "actor": {"kind": "user"},
                    "identity": {"channel_user_id": sender},
                    "properties": properties,
                })
            for status in map(as_dict, as_list(value.get("statuses"))):
                if status.get("status") != "sent":
                    continue
                events.append({
                    "event_id": f"wa-sent:{status.get('id')}",
                    "type": "message.sent",
                    "occurred_at": _epoch_to_rfc3339(status.get("timestamp")),
                    "conversation_id": f"wa:{number}:{status.get('recipient_id')}",
                    "channel": "whatsapp",
                    "actor": {"kind": "system", "id": "whatsapp"},
                    "identity": {"channel_user_id": status.get("recipient_id")},
                    "properties": {"message_id": status.get("id")},
                })
    return events


SEGMENT_PATHS = {"/v1/batch": None, "/v1/track": "track", "/v1/identify": "identify", "/v1/page": "page"}


def segment_calls(path: str, payload: Any) -> list[Any]:
    if SEGMENT_PATHS[path] is None:
        return as_list(as_dict(payload).get("batch"))
    return [{**payload, "type": SEGMENT_PATHS[path]} if isinstance(payload, dict) else payload]


def segment_event(call: Any) -> dict:
    """One Segment call as a contract event.

    `track` calls whose `event` names a contract type keep it (`funnel.step_viewed`, …);
    `identify` links `userId` and `anonymousId`; `page` opens a webview funnel
    named by `properties.funnel` (or the page name). The conversation comes
    from `properties.conversation_id` or `context.conversation_id`.
    Anything else yields an event the contract refuses, and so a quarantine row.
    """
    if not isinstance(call, dict):
        return {"type": None}
    kind = call.get("type")
    properties = dict(as_dict(call.get("properties")))
    context = as_dict(call.get("context"))
    identity = {k: v for k, v in (("user_id", call.get("userId")), ("anonymous_id", call.get("anonymousId"))) if v}
    event = {
        "event_id": call.get("messageId"),
        "occurred_at": call.get("timestamp") or call.get("originalTimestamp"),
        "identity": identity or None,
        "sent_at": call.get("sentAt"),
        "conversation_id": properties.pop("conversation_id", None) or context.get("conversation_id"),
    }
    if kind == "track":
        name = call.get("event")
        event["type"] = name if name in EVENT_TYPES else f"segment:{name}"
    elif kind == "identify":
        event["type"] = "identify"
    elif kind == "page":
        event["type"] = "webview.opened"
        event["channel"] = "webview"
        properties = {"funnel": properties.get("funnel") or call.get("name") or "page"}
    else:
        event["type"] = f"segment:{kind}"
    event["properties"] = properties
    return {k: v for k, v in event.items() if v is not None}


def webview_event(event: dict, claims: dict | None) -> dict:
    """A browser's event with its identity from the verified token `claims`
    only (none: unlinked); a browser cannot claim a conversation or a person."""
    identity = {k: v for k, v in as_dict(event.get("identity")).items() if k == "anonymous_id"}
    event = {k: v for k, v in event.items() if k not in ("conversation_id", "identity")}
    event["channel"] = "webview"
    if claims is not None:
        event["conversation_id"] = claims["cid"]
        identity["channel_user_id"] = claims["sub"]
    if identity:
        event["identity"] = identity
    return event
