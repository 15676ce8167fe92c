"""Hypothesis strategies for contract events, valid and invalid, each labelled.

Valid events are written from docs/contract.md §2.2-§2.3 (`ingestion/contract.py`
is the code under test, so the strategies do not derive from it): every type,
optional fields present or absent or null, non-ASCII and long text, extra keys
at every level. Invalid events are a valid one with one named mutation that the
contract refuses (a field dropped, a wrong JSON type, a score out of range, a
timestamp without offset or hours ahead, ...). The label is the strategy's
claim; the properties check the collector's verdict against it, so a valid
event refused and an invalid one acknowledged both fail.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from hypothesis import strategies as st

CONVERSATION_TYPES = ("message.received", "message.sent", "conversation.state_changed", "agent.assigned",
                      "conversation.transferred", "csat.submitted", "conversation.expired")
WEBVIEW_TYPES = ("webview.opened", "funnel.step_viewed", "funnel.completed", "escalation.requested",
                 "webview.exited")
ALL_TYPES = (*CONVERSATION_TYPES, *WEBVIEW_TYPES, "identify")
STATES = ("inbound_queue", "bot_active", "pending_agent", "human_active", "resolved", "expired")
ENVELOPE = ("event_id", "type", "occurred_at", "conversation_id", "channel", "actor", "identity", "attributes",
            "properties", "sent_at")


@dataclass(frozen=True)
class Labelled:
    """An event (or anything sent as one) and whether the contract accepts it; `why` names the mutation."""

    data: object
    valid: bool
    why: str = "valid"


@dataclass
class Tally:
    """Examples a property ran, valid and invalid, and by mutation: the figures the closing note reports."""

    name: str
    valid: int = 0
    invalid: int = 0
    mutations: Counter[str] = field(default_factory=Counter)

    def count(self, valid: bool, whys: list[str] = ()) -> None:
        if valid:
            self.valid += 1
        else:
            self.invalid += 1
            self.mutations.update(w for w in whys if w != "valid")

    def report(self, least: int) -> str:
        """Asserts at least `least` examples, a third or more of them valid and some invalid; returns the line."""
        total = self.valid + self.invalid
        line = f"fuzz {self.name}: {total} examples, {self.valid} valid, {self.invalid} invalid"
        print(f"\n{line}; mutations: {dict(sorted(self.mutations.items()))}")
        assert total >= least, line
        assert self.valid * 3 >= total and self.invalid > 0, line
        return line


# --- fields -------------------------------------------------------------------

TEXT = st.text(min_size=1, max_size=24) | st.text(st.characters(codec="utf-8"), min_size=1, max_size=300)
ID = st.text(min_size=1, max_size=128)
NAME = st.text(min_size=1, max_size=256)
INT = st.integers(-2 ** 63, 2 ** 63 - 1)  # what JSON encoders carry
JSON = st.recursive(
    st.none() | st.booleans() | INT | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=6), inner, max_size=2),
    max_leaves=3)
ZONES = st.sampled_from([timezone.utc, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12)),
                         timezone(timedelta(hours=5, minutes=45)), timezone(timedelta(hours=-9, minutes=-30))])
PAST = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2026, 1, 1), timezones=ZONES)


def _rfc3339(moment: datetime, style: int) -> str:
    text = moment.isoformat()
    if style == 1 and text.endswith("+00:00"):
        return text[:-6] + "Z"
    if style == 2:
        return text.replace("T", " ")
    return text


def _soon(seconds: int) -> str:
    """A moment up to the future bound ahead of now: still accepted (docs/contract.md §2.4)."""
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat()


TIMESTAMP = st.builds(_rfc3339, PAST, st.integers(0, 2)) | st.builds(_soon, st.integers(-3600, 3000))
# Finite floats: a JSON encoder writes infinity as null, which is a valid (absent) `sent_at`.
NOT_RFC3339 = st.sampled_from(["2025-11-02T09:00:00", "2025-11-02", "1793607000", "2025-13-45T25:61:00Z", "",
                               "yesterday", "2025-11-02T09:00:00+2400"]) \
    | INT | st.floats(allow_nan=False, allow_infinity=False)
# `occurred_at` only: hours past the future bound. A `sent_at` that far ahead is kept (a device's clock).
BAD_TIMESTAMP = NOT_RFC3339 | st.builds(lambda h: _soon(3600 * h), st.integers(2, 10 ** 4))
# Keys a producer may add at the top level, kept under `_extras`; some collide with the collector's own.
EXTRA_KEY = st.sampled_from(["vendor", "received_at", "_extras", "_quarantine", "events", "extras"]) \
    | st.text(max_size=12).filter(lambda k: k not in ENVELOPE)


STEP = {"funnel": NAME, "step": NAME, "step_index": st.integers(1, 10 ** 6)}
PROPERTIES: dict[str, st.SearchStrategy] = {
    "message.received": st.fixed_dictionaries({"message_id": ID}, optional={"text": TEXT}),
    "message.sent": st.fixed_dictionaries({"message_id": ID}, optional={"text": TEXT}),
    "conversation.state_changed": st.fixed_dictionaries(
        {"to_state": st.sampled_from(STATES)},
        optional={"from_state": st.sampled_from(STATES) | st.none(), "reason": st.text(max_size=256)}),
    "agent.assigned": st.fixed_dictionaries({"agent_id": ID, "team": NAME}),
    "conversation.transferred": st.fixed_dictionaries(
        {"from_team": NAME, "to_team": NAME}, optional={"from_agent_id": ID, "to_agent_id": ID}),
    "csat.submitted": st.fixed_dictionaries({"score": st.integers(1, 5)}, optional={"comment": TEXT}),
    "conversation.expired": st.dictionaries(st.text(max_size=10), JSON, max_size=3),
    "webview.opened": st.fixed_dictionaries({"funnel": NAME}),
    "funnel.step_viewed": st.fixed_dictionaries(STEP),
    "funnel.completed": st.fixed_dictionaries({"funnel": NAME}),
    "escalation.requested": st.fixed_dictionaries(STEP),
    "webview.exited": st.fixed_dictionaries({**STEP, "reason": st.sampled_from(["closed", "hidden", "navigated"])}),
    "identify": st.dictionaries(st.text(max_size=10), JSON, max_size=3),
}
IDENTITY = st.fixed_dictionaries({}, optional={k: NAME | st.none() for k in ("channel_user_id", "anonymous_id",
                                                                                "user_id")})
IDENTIFIER_NAMES = st.lists(st.sampled_from(["channel_user_id", "anonymous_id", "user_id"]), min_size=2, max_size=3,
                            unique=True)

# Optional envelope fields: which are present is one draw, and each is null now and then.
OPTIONAL = {
    "channel": st.text(min_size=1, max_size=64),
    "sent_at": TIMESTAMP,
    "attributes": st.fixed_dictionaries({}, optional={"department": NAME, "query_nature": NAME, "region": JSON}),
    "actor": st.fixed_dictionaries({"kind": st.sampled_from(["user", "bot", "human", "system"])},
                                   optional={"id": st.text(max_size=256)}),
    "identity": IDENTITY,
    "conversation_id": ID,  # for the types that do not need one
    "extras": st.dictionaries(EXTRA_KEY, JSON, min_size=1, max_size=2),
}
PRESENT = st.lists(st.sampled_from(list(OPTIONAL)), max_size=3, unique=True)
NULL = st.integers(0, 4).map(lambda n: n == 4)  # shrinks towards a value
SENDER = st.sampled_from([{"kind": "bot"}, {"kind": "system"}]) \
    | st.builds(lambda i: {"kind": "human", "id": i}, st.text(min_size=1, max_size=256))


@st.composite
def valid_event(draw, types: tuple[str, ...] = ALL_TYPES) -> dict:
    kind = draw(st.sampled_from(types))
    event = {"event_id": draw(ID), "type": kind, "occurred_at": draw(TIMESTAMP)}
    if kind in CONVERSATION_TYPES:
        event["conversation_id"] = draw(ID)
    for name in draw(PRESENT):
        if name == "extras":
            event.update(draw(OPTIONAL[name]))
        elif name not in event:
            event[name] = None if draw(NULL) else draw(OPTIONAL[name])
    if kind == "message.sent":
        event["actor"] = draw(SENDER)
    if kind == "identify":
        event["identity"] = {name: draw(NAME) for name in draw(IDENTIFIER_NAMES)}
    properties = draw(PROPERTIES[kind])
    if properties or kind not in ("conversation.expired", "identify") or draw(st.booleans()):
        event["properties"] = properties
    return event


# --- mutations: each makes a valid event one the contract refuses ------------------

def _drop(name: str) -> Callable:
    return lambda e, draw: {k: v for k, v in e.items() if k != name}


def _set(name: str, values: st.SearchStrategy) -> Callable:
    return lambda e, draw: {**e, name: draw(values)}


def _prop(name: str, values: st.SearchStrategy) -> Callable:
    return lambda e, draw: {**e, "properties": {**e["properties"], name: draw(values)}}


NOT_OBJECT = st.lists(JSON, max_size=2) | st.text(max_size=5) | INT | st.booleans()
NOT_TEXT = INT | st.booleans() | st.lists(st.text(max_size=3), max_size=2) | st.just({})
# (name, applies to the event?, mutation)
MUTATIONS: tuple[tuple[str, Callable[[dict], bool], Callable], ...] = (
    ("missing event_id", lambda e: True, _drop("event_id")),
    ("missing type", lambda e: True, _drop("type")),
    ("missing occurred_at", lambda e: True, _drop("occurred_at")),
    ("missing conversation_id", lambda e: e["type"] in CONVERSATION_TYPES, _drop("conversation_id")),
    ("missing properties", lambda e: e["type"] not in ("conversation.expired", "identify"), _drop("properties")),
    ("event_id length", lambda e: True, _set("event_id", st.just("") | st.text(min_size=129, max_size=140))),
    ("event_id type", lambda e: True, _set("event_id", NOT_TEXT | st.none())),
    ("unknown type", lambda e: True, _set("type", st.text(max_size=20).filter(lambda t: t not in ALL_TYPES))),
    ("bad occurred_at", lambda e: True, _set("occurred_at", BAD_TIMESTAMP | st.none())),
    ("bad sent_at", lambda e: True, _set("sent_at", NOT_RFC3339)),
    ("conversation_id length", lambda e: True, _set("conversation_id", st.just("") | st.text(min_size=129))),
    ("channel", lambda e: True, _set("channel", st.just("") | st.text(min_size=65, max_size=70) | NOT_TEXT)),
    ("actor kind", lambda e: True, _set("actor", st.fixed_dictionaries({"kind": st.text(max_size=8).filter(
        lambda k: k not in ("user", "bot", "human", "system"))}))),
    ("actor not object", lambda e: True, _set("actor", NOT_OBJECT)),
    ("identity not object", lambda e: True, _set("identity", NOT_OBJECT)),
    ("attributes not object", lambda e: True, _set("attributes", NOT_OBJECT)),
    ("properties not object", lambda e: True, _set("properties", NOT_OBJECT)),
    ("human without id", lambda e: e["type"] == "message.sent",
     _set("actor", st.sampled_from([{"kind": "human"}, {"kind": "human", "id": ""}, {"kind": "human", "id": None}]))),
    ("user sends", lambda e: e["type"] == "message.sent", _set("actor", st.just({"kind": "user", "id": "u"}))),
    ("one identifier", lambda e: e["type"] == "identify",
     _set("identity", st.sampled_from(["channel_user_id", "anonymous_id", "user_id"]).flatmap(
         lambda n: st.fixed_dictionaries({n: NAME})))),
    ("score", lambda e: e["type"] == "csat.submitted",
     _prop("score", INT.filter(lambda s: not 1 <= s <= 5) | st.sampled_from(["3", 3.0, True, None]))),
    ("step_index", lambda e: "step_index" in e.get("properties", {}),
     _prop("step_index", st.integers(-2 ** 63, 0) | st.sampled_from(["1", 1.5, True, None]))),
    ("exit reason", lambda e: e["type"] == "webview.exited",
     _prop("reason", st.text(max_size=10).filter(lambda r: r not in ("closed", "hidden", "navigated")))),
    ("to_state", lambda e: e["type"] == "conversation.state_changed",
     _prop("to_state", st.text(max_size=14).filter(lambda s: s not in STATES))),
    ("message_id", lambda e: e["type"].startswith("message."), _prop("message_id", st.just("") | NOT_TEXT)),
    ("team", lambda e: e["type"] == "agent.assigned", _prop("team", st.just("") | st.text(min_size=257))),
)


@st.composite
def invalid_event(draw, types: tuple[str, ...] = ALL_TYPES, mutations: frozenset[str] | None = None) -> Labelled:
    """A valid event of `types` with one mutation (of `mutations`, by name, when given) that applies to it."""
    event = draw(valid_event(types))
    applicable = [(name, mutate) for name, applies, mutate in MUTATIONS
                  if applies(event) and (mutations is None or name in mutations)]
    name, mutate = draw(st.sampled_from(applicable))
    return Labelled(mutate(event, draw), False, name)


@st.composite
def labelled_event(draw, types: tuple[str, ...] = ALL_TYPES, mutations: frozenset[str] | None = None,
                   foreign: st.SearchStrategy[Labelled] | None = None) -> Labelled:
    """Half valid; else one mutation away from valid, now and then not an object at all, or
    (`foreign`) an event the route does not take."""
    roll = draw(st.integers(0, 9))  # shrinks towards valid
    if roll < 5:
        return Labelled(draw(valid_event(types)), True)
    if roll == 9:
        return Labelled(draw(NOT_OBJECT), False, "event not object")
    if roll == 8 and foreign is not None:
        return draw(foreign)
    return draw(invalid_event(types, mutations))


def labelled_batch(types: tuple[str, ...] = ALL_TYPES, mutations: frozenset[str] | None = None,
                   foreign: st.SearchStrategy[Labelled] | None = None,
                   most: int = 3) -> st.SearchStrategy[list[Labelled]]:
    """A batch all valid (about half of them) or with at least one invalid event somewhere."""
    valid = st.lists(valid_event(types).map(lambda e: Labelled(e, True)), min_size=1, max_size=most)
    mixed = st.lists(labelled_event(types, mutations, foreign), min_size=1, max_size=most).filter(
        lambda b: not all(x.valid for x in b))
    return valid | mixed


MUTATION_NAMES = frozenset(name for name, _, _ in MUTATIONS)
