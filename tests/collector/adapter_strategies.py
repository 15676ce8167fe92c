"""Hypothesis strategies for the adapters' wire formats: WhatsApp Cloud API
webhooks and Segment calls, each with the contract events it should yield,
labelled valid (acknowledged) or invalid (quarantined with a reason).

Valid WhatsApp items follow Meta's payload (epoch-second timestamps as digit
strings, `wamid` ids); Segment calls are built from valid contract events
(tests/collector/strategies.py), so what is valid is the contract's word, not
the adapter's mapping read back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from hypothesis import strategies as st

from tests.collector.strategies import (JSON, NAME, TEXT, WEBVIEW_TYPES, Labelled, MUTATION_NAMES, ID,
                                        TIMESTAMP, invalid_event, valid_event)


@dataclass(frozen=True)
class Delivery:
    """A request body and what it should yield: (event_id, valid, why) per event."""

    body: object
    expected: tuple[tuple[str, bool, str], ...]

    @property
    def valid(self) -> bool:
        return all(v for _, v, _ in self.expected)

    @property
    def whys(self) -> list[str]:
        return [why for _, _, why in self.expected]


# --- WhatsApp ----------------------------------------------------------------------

NOW = int(time.time())
WAMID = st.text(min_size=1, max_size=60).map(lambda s: f"wamid.{s}")
PHONE = st.text("0123456789", min_size=6, max_size=15)
EPOCH = st.integers(-10 ** 9, NOW - 60)
# (what makes it invalid, the field's value); the `from` of 140 digits makes the conversation id too long.
BAD_WA = st.one_of(
    st.tuples(st.just("timestamp"), st.sampled_from(["", "soon", "1.5e9", None]) | st.integers(NOW + 7200, 10 ** 11)
              | st.integers(10 ** 17, 10 ** 19)),  # beyond the platform's time_t
    st.tuples(st.just("id"), st.text(min_size=120, max_size=130).map(lambda s: f"wamid.{s}")),
    st.tuples(st.just("from"), st.just("") | st.text("0123456789", min_size=140, max_size=150)),
)


@st.composite
def whatsapp_item(draw, status: bool, valid: bool) -> tuple[dict, tuple[str, bool, str]]:
    """An inbound message (or a `sent` status) and the event it should yield."""
    person = "recipient_id" if status else "from"
    item = {"id": draw(WAMID), "timestamp": draw(EPOCH.map(str) | EPOCH), person: draw(PHONE)}
    item.update({"status": "sent"} if status else {"type": "text", **draw(st.fixed_dictionaries(
        {}, optional={"text": st.fixed_dictionaries({"body": TEXT})}))})
    why = "valid"
    if not valid:
        why, value = draw(BAD_WA)
        item[person if why == "from" else why] = value
        why = f"whatsapp {why}"
    return item, (f"{'wa-sent' if status else 'wa'}:{item['id']}", valid, why)


@st.composite
def whatsapp_delivery(draw) -> Delivery:
    """One webhook call: entries and changes of messages and statuses, read and delivered receipts (no
    event), junk where Meta's shape has lists; all valid, or at least one item invalid."""
    all_valid = draw(st.booleans())
    changes, expected = [], []
    for _ in range(draw(st.integers(1, 2))):
        value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": draw(PHONE)},
                 "messages": [], "statuses": []}
        for status in draw(st.lists(st.booleans(), min_size=1, max_size=3)):
            item, outcome = draw(whatsapp_item(status, all_valid or draw(st.booleans())))
            value["statuses" if status else "messages"].append(item)
            expected.append(outcome)
        value["statuses"] += draw(st.lists(st.builds(lambda i, s: {"id": i, "status": s, "timestamp": str(NOW)},
                                                     WAMID, st.sampled_from(["delivered", "read", "failed"])),
                                           max_size=1))
        changes.append({"field": "messages", "value": value})
    if not all_valid and all(v for _, v, _ in expected):
        item, outcome = draw(whatsapp_item(False, False))
        changes[0]["value"]["messages"].append(item)
        expected.append(outcome)
    entries = [{"id": "waba", "changes": changes}, *draw(st.lists(JSON, max_size=1))]
    return Delivery({"object": "whatsapp_business_account", "entry": entries}, tuple(expected))


# --- Segment -----------------------------------------------------------------------

# Track calls carry no actor or channel, so `message.sent` (actor required) and `identify` (a call of its own)
# are not tracked; mutations of fields a track call does not carry would not survive the mapping.
TRACKED = ("message.received", "conversation.state_changed", "agent.assigned", "conversation.transferred",
           "csat.submitted", "conversation.expired", *WEBVIEW_TYPES)
SURVIVING = MUTATION_NAMES - {"actor kind", "actor not object", "identity not object", "attributes not object",
                              "properties not object", "channel", "bad sent_at",
                              "conversation_id length"}  # an empty one reads as none: fine on webview events


def _track(event: dict) -> dict:
    """A Segment track call carrying a contract event: the type as `event`, the conversation in `properties`."""
    properties = {**event.get("properties", {})}
    if "conversation_id" in event:
        properties["conversation_id"] = event["conversation_id"]
    call = {"type": "track", "event": event.get("type"), "messageId": event.get("event_id"),
            "timestamp": event.get("occurred_at"), "anonymousId": "anon-1", "properties": properties}
    return {k: v for k, v in call.items() if v is not None}


VALID_CALL = st.one_of(
    valid_event(TRACKED).map(lambda e: Labelled(_track(e), True)),
    st.builds(lambda i, at, u, a: Labelled({"type": "identify", "messageId": i, "timestamp": at, "userId": u,
                                            "anonymousId": a}, True), ID, TIMESTAMP, NAME, NAME),
    st.builds(lambda i, at, n: Labelled({"type": "page", "messageId": i, "timestamp": at, "name": n}, True),
              ID, TIMESTAMP, NAME),
)
INVALID_CALL = st.one_of(
    invalid_event(TRACKED, SURVIVING).map(lambda x: Labelled(_track(x.data), False, f"track {x.why}")),
    st.builds(lambda i, at, u: Labelled({"type": "identify", "messageId": i, "timestamp": at, "userId": u}, False,
                                        "identify one identifier"), ID, TIMESTAMP, NAME),
    st.builds(lambda kind, i, at: Labelled({"type": kind, "messageId": i, "timestamp": at}, False,
                                           "unmapped call"), st.sampled_from(["screen", "alias", "group"]),
              ID, TIMESTAMP),
    (st.lists(JSON, max_size=2) | st.text(max_size=4)).map(lambda v: Labelled(v, False, "call not object")),
)


@st.composite
def segment_delivery(draw) -> tuple[str, Delivery]:
    """(path, delivery): a batch of calls, or one call on its own route when it names one."""
    all_valid = draw(st.booleans())
    calls = draw(st.lists(VALID_CALL if all_valid else VALID_CALL | INVALID_CALL, min_size=1, max_size=4))
    if not all_valid and all(c.valid for c in calls):
        calls.append(draw(INVALID_CALL))
    expected = tuple((c.data.get("messageId") if isinstance(c.data, dict) else None, c.valid, c.why) for c in calls)
    single = calls[0].data if len(calls) == 1 and isinstance(calls[0].data, dict) else None
    if single and single.get("type") in ("track", "identify", "page") and draw(st.booleans()):
        return f"/v1/{single['type']}", Delivery(single, expected)
    return "/v1/batch", Delivery({"batch": [c.data for c in calls]}, expected)
