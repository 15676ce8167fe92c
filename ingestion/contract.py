"""The wire format of docs/contract.md §2 as typed schemas.

`Event` is a discriminated union on `type`; each member fixes the payload
(`properties`) of its type. Unknown extra fields are allowed at every level
because producers add enrichment we must not drop.

Validation gives a verdict, nothing else: the edge stores the producer's own
dict (timestamps as sent, extras in place), so the schemas are TypedDicts
checked by pydantic-core in one call per batch, not models built per event
(a third of the cost on the collector's hot path), and they neither copy
extras nor fill defaults into an output nobody reads (`extra="ignore"` accepts
exactly what `"allow"` does; the published schema still says both). The JSON
Schema (`schemas/event.schema.json`) is generated from these classes by
`python -m ingestion.contract`, so code and schema cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from operator import itemgetter
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_type_hints

from pydantic import (AfterValidator, AwareDatetime, ConfigDict, Field, GetCoreSchemaHandler, TypeAdapter,
                      ValidationError, WithJsonSchema, with_config)
from pydantic_core import core_schema
from typing_extensions import NotRequired, TypedDict

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "event.schema.json"

State = Literal["inbound_queue", "bot_active", "pending_agent", "human_active", "resolved", "expired"]

Id = Annotated[str, Field(min_length=1, max_length=128)]
Name = Annotated[str, Field(min_length=1, max_length=256)]
Reason = Annotated[str, Field(max_length=256)]
Channel = Annotated[str, Field(min_length=1, max_length=64)]


class _TimestampText:
    """JSON has no timestamp type, and pydantic would take a number or a digit
    string as a Unix time, which the warehouse cannot cast (the event would be
    acknowledged, then quarantined by the loader): only RFC 3339 text passes.
    A pattern checked by pydantic-core, not a Python validator, because every
    event has a timestamp and a Python call each cost 7% of a batch."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        text = core_schema.custom_error_schema(
            core_schema.str_schema(pattern=r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}", strict=True),
            custom_error_type="timestamp_text",
            custom_error_message="expected an RFC 3339 timestamp with offset, like 2026-11-02T09:00:00Z")
        return core_schema.chain_schema([text, handler(source)])


Timestamp = Annotated[AwareDatetime, _TimestampText(), WithJsonSchema({"type": "string", "format": "date-time"})]
OPEN = ConfigDict(extra="ignore", json_schema_extra={"additionalProperties": True})


def _optional(kind: Any) -> Any:
    return NotRequired[Annotated[kind | None, Field(json_schema_extra={"default": None})]]


@with_config(OPEN)
class Actor(TypedDict):
    kind: Literal["user", "bot", "human", "system"]
    id: _optional(Reason)


@with_config(OPEN)
class Identity(TypedDict):
    channel_user_id: _optional(Name)
    anonymous_id: _optional(Name)
    user_id: _optional(Name)


IDENTIFIERS = ("channel_user_id", "anonymous_id", "user_id")


@with_config(OPEN)
class Attributes(TypedDict):
    department: _optional(Name)
    query_nature: _optional(Name)


@with_config(OPEN)
class _Envelope(TypedDict):
    event_id: Id
    occurred_at: Timestamp
    conversation_id: _optional(Id)
    channel: _optional(Channel)
    actor: _optional(Actor)
    identity: _optional(Identity)
    attributes: _optional(Attributes)
    sent_at: _optional(Timestamp)


class _ConversationEvent(_Envelope):
    """Conversation and operations events must name their conversation."""

    conversation_id: Id


# --- payloads -------------------------------------------------------------

@with_config(OPEN)
class MessageProps(TypedDict):
    message_id: Id


@with_config(OPEN)
class StateChangedProps(TypedDict):
    to_state: State
    from_state: _optional(State)
    reason: _optional(Reason)


@with_config(OPEN)
class AgentAssignedProps(TypedDict):
    agent_id: Id
    team: Name


@with_config(OPEN)
class TransferredProps(TypedDict):
    from_team: Name
    to_team: Name
    from_agent_id: _optional(Id)
    to_agent_id: _optional(Id)
    reason: _optional(Reason)


@with_config(OPEN)
class CsatProps(TypedDict):
    score: Annotated[int, Field(ge=1, le=5, strict=True)]


@with_config(OPEN)
class FunnelProps(TypedDict):
    funnel: Name


class StepProps(FunnelProps):
    step: Name
    step_index: Annotated[int, Field(ge=1, strict=True)]


class ExitProps(StepProps):
    reason: Literal["closed", "hidden", "navigated"]


FreeProps = NotRequired[dict[str, Any]]


# --- events ---------------------------------------------------------------

class MessageReceived(_ConversationEvent):
    type: Literal["message.received"]
    properties: MessageProps


class MessageSent(_ConversationEvent):
    type: Literal["message.sent"]
    properties: MessageProps
    actor: Actor


class StateChanged(_ConversationEvent):
    type: Literal["conversation.state_changed"]
    properties: StateChangedProps


class AgentAssigned(_ConversationEvent):
    type: Literal["agent.assigned"]
    properties: AgentAssignedProps


class Transferred(_ConversationEvent):
    type: Literal["conversation.transferred"]
    properties: TransferredProps


class CsatSubmitted(_ConversationEvent):
    type: Literal["csat.submitted"]
    properties: CsatProps


class Expired(_ConversationEvent):
    type: Literal["conversation.expired"]
    properties: FreeProps


class WebviewOpened(_Envelope):
    type: Literal["webview.opened"]
    properties: FunnelProps


class StepViewed(_Envelope):
    type: Literal["funnel.step_viewed"]
    properties: StepProps


class FunnelCompleted(_Envelope):
    type: Literal["funnel.completed"]
    properties: FunnelProps


class EscalationRequested(_Envelope):
    type: Literal["escalation.requested"]
    properties: StepProps


class WebviewExited(_Envelope):
    type: Literal["webview.exited"]
    properties: ExitProps


class Identify(_Envelope):
    type: Literal["identify"]
    identity: Identity
    properties: FreeProps


# --- rules across fields ----------------------------------------------------

def _outbound_actor(event: dict) -> dict:
    actor = event["actor"]
    if actor["kind"] not in ("bot", "human", "system"):
        raise ValueError("actor.kind of message.sent must be bot, human or system")
    if actor["kind"] == "human" and not actor.get("id"):
        raise ValueError("actor.id (the agent id) is required when actor.kind is human")
    return event


def _links_two(event: dict) -> dict:
    if sum(1 for name in IDENTIFIERS if event["identity"].get(name)) < 2:
        raise ValueError("identify must carry two or more identifiers in identity")
    return event


RULES: dict[type, Callable[[dict], dict]] = {MessageSent: _outbound_actor, Identify: _links_two}

EVENT_CLASSES = (
    MessageReceived, MessageSent, StateChanged, AgentAssigned, Transferred, CsatSubmitted,
    Expired, WebviewOpened, StepViewed, FunnelCompleted, EscalationRequested, WebviewExited,
    Identify,
)
EVENT_TYPES: tuple[str, ...] = tuple(get_args(get_type_hints(c)["type"])[0] for c in EVENT_CLASSES)
# The top-level fields each type names; anything else in an event is an extra.
EVENT_FIELDS: dict[str, frozenset[str]] = {
    t: c.__required_keys__ | c.__optional_keys__ for t, c in zip(EVENT_TYPES, EVENT_CLASSES)}
Event = Annotated[Union[tuple(Annotated[c, AfterValidator(RULES[c])] if c in RULES else c
                              for c in EVENT_CLASSES)], Field(discriminator="type")]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
BATCH_ADAPTER: TypeAdapter[list[Event]] = TypeAdapter(list[Event])
WEBVIEW_TYPES = frozenset(t for t in EVENT_TYPES if t.startswith(("webview.", "funnel.", "escalation.")))


class InvalidEvent(ValueError):
    """An event that breaks the contract; `problems` name each field and reason."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def describe(error: ValidationError) -> list[str]:
    """Turn pydantic's errors into `field.path: reason` lines a producer can act on.

    Errors of a batch start with the event's index: `events[3].properties.score: ...`.
    """
    problems = []
    for err in error.errors(include_url=False):
        loc = list(err["loc"])
        prefix = f"events[{loc.pop(0)}]." if loc and isinstance(loc[0], int) else ""
        # The union member name (the event type) is noise in the path.
        if loc and loc[0] in EVENT_TYPES:
            loc = loc[1:]
        field = ".".join(map(str, loc)) or "event"
        msg = err["msg"]
        if err["type"] == "union_tag_invalid":
            field, msg = "type", f"unknown event type {err['input'].get('type')!r}; expected one of {', '.join(EVENT_TYPES)}"
        elif err["type"] == "union_tag_not_found":
            field, msg = "type", "field required"
        elif err["type"] == "model_attributes_type":
            msg = f"expected a JSON object, got {_json_type(err['input'])}"
        problems.append(f"{prefix}{field}: {msg}")
    return problems


def _json_type(value: Any) -> str:
    return {str: "string", bool: "boolean", int: "number", float: "number", list: "array",
            type(None): "null"}.get(type(value), type(value).__name__)


def parse_event(data: Any, not_after: datetime | None = None) -> dict[str, Any]:
    """`data` itself once it is a valid event; raises `InvalidEvent` otherwise.

    With `not_after`, an `occurred_at` later than it is refused too (`_future_problem` says why).
    """
    try:
        valid = EVENT_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise InvalidEvent(describe(exc)) from None
    if not_after is not None and valid["occurred_at"] > not_after:
        raise InvalidEvent([_future_problem("", not_after)])
    return data


def parse_events(events: list[Any], not_after: datetime | None = None) -> list[dict[str, Any]]:
    """`events` itself once each is valid, checked in one call; `InvalidEvent`
    names every bad event by index."""
    try:
        valid = BATCH_ADAPTER.validate_python(events)
    except ValidationError as exc:
        raise InvalidEvent(describe(exc)) from None
    if not_after is not None and max(map(_occurred_at, valid), default=not_after) > not_after:
        raise InvalidEvent([_future_problem(f"events[{i}].", not_after)
                            for i, event in enumerate(valid) if event["occurred_at"] > not_after])
    return events


_occurred_at = itemgetter("occurred_at")


def _future_problem(prefix: str, not_after: datetime) -> str:
    """An event from the future would become the watermark and expire every
    open session at once (and stretch the hourly marts up to it), so the edge
    refuses it and says why."""
    return (f"{prefix}occurred_at: later than {not_after.isoformat(timespec='seconds')}, "
            f"too far ahead of the collector's clock (check the producer's clock and offset)")


def json_schema() -> dict[str, Any]:
    schema = EVENT_ADAPTER.json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://journey-analytics.dev/schemas/event.schema.json"
    schema["title"] = "Journey analytics event"
    return schema


def write_schema(path: Path = SCHEMA_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(json_schema(), indent=2, sort_keys=True) + "\n")
    return path


if __name__ == "__main__":
    print(write_schema())
