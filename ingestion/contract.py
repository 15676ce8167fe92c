"""The wire contract of SPEC section 3 as one typed model.

`Event` is a discriminated union on `type`; each member fixes the payload
(`properties`) of its type. Unknown extra fields are kept (``extra="allow"``)
because producers add enrichment we must not drop. The published JSON Schema
(`schemas/event.schema.json`) is generated from these classes by
`python -m ingestion.contract`, so code and schema cannot drift apart.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "event.schema.json"

STATES = ("inbound_queue", "bot_active", "pending_agent", "human_active", "resolved", "expired")
State = Literal["inbound_queue", "bot_active", "pending_agent", "human_active", "resolved", "expired"]

Id = Annotated[str, Field(min_length=1, max_length=128)]
Name = Annotated[str, Field(min_length=1, max_length=256)]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Actor(_Open):
    kind: Literal["user", "bot", "human", "system"]
    id: Annotated[str, Field(max_length=256)] | None = None


class Identity(_Open):
    channel_user_id: Name | None = None
    anonymous_id: Name | None = None
    user_id: Name | None = None

    def identifiers(self) -> dict[str, str]:
        return {k: v for k, v in (("channel_user_id", self.channel_user_id),
                                  ("anonymous_id", self.anonymous_id),
                                  ("user_id", self.user_id)) if v}


class Attributes(_Open):
    department: Name | None = None
    query_nature: Name | None = None


class _Envelope(_Open):
    event_id: Id
    occurred_at: AwareDatetime
    conversation_id: Id | None = None
    channel: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    actor: Actor | None = None
    identity: Identity | None = None
    attributes: Attributes | None = None
    sent_at: AwareDatetime | None = None


class _ConversationEvent(_Envelope):
    """Conversation and operations events must name their conversation."""

    conversation_id: Id


# --- payloads -------------------------------------------------------------

class MessageProps(_Open):
    message_id: Id


class StateChangedProps(_Open):
    to_state: State
    from_state: State | None = None
    reason: Annotated[str, Field(max_length=256)] | None = None


class AgentAssignedProps(_Open):
    agent_id: Id
    team: Name


class TransferredProps(_Open):
    from_team: Name
    to_team: Name
    from_agent_id: Id | None = None
    to_agent_id: Id | None = None
    reason: Annotated[str, Field(max_length=256)] | None = None


class CsatProps(_Open):
    score: Annotated[int, Field(ge=1, le=5, strict=True)]


class FunnelProps(_Open):
    funnel: Name


class StepProps(FunnelProps):
    step: Name
    step_index: Annotated[int, Field(ge=1, strict=True)]


class ExitProps(StepProps):
    reason: Literal["closed", "hidden", "navigated"]


# --- events ---------------------------------------------------------------

class MessageReceived(_ConversationEvent):
    type: Literal["message.received"]
    properties: MessageProps


class MessageSent(_ConversationEvent):
    type: Literal["message.sent"]
    properties: MessageProps
    actor: Actor

    @model_validator(mode="after")
    def _outbound_actor(self) -> "MessageSent":
        if self.actor.kind not in ("bot", "human", "system"):
            raise ValueError("actor.kind of message.sent must be bot, human or system")
        if self.actor.kind == "human" and not self.actor.id:
            raise ValueError("actor.id (the agent id) is required when actor.kind is human")
        return self


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
    properties: dict[str, Any] = Field(default_factory=dict)


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
    properties: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _links_two(self) -> "Identify":
        if len(self.identity.identifiers()) < 2:
            raise ValueError("identify must carry two or more identifiers in identity")
        return self


EVENT_CLASSES = (
    MessageReceived, MessageSent, StateChanged, AgentAssigned, Transferred, CsatSubmitted,
    Expired, WebviewOpened, StepViewed, FunnelCompleted, EscalationRequested, WebviewExited,
    Identify,
)
EVENT_TYPES: tuple[str, ...] = tuple(get_args(c.model_fields["type"].annotation)[0] for c in EVENT_CLASSES)
Event = Annotated[Union[EVENT_CLASSES], Field(discriminator="type")]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
WEBVIEW_TYPES = frozenset(t for t in EVENT_TYPES if t.startswith(("webview.", "funnel.", "escalation.")))


class InvalidEvent(ValueError):
    """An event that breaks the contract; `problems` name each field and reason."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def describe(error: ValidationError) -> list[str]:
    """Turn pydantic's errors into `field.path: reason` lines a producer can act on."""
    problems = []
    for err in error.errors(include_url=False):
        loc = [str(p) for p in err["loc"]]
        # The union member name (the event type) is noise in the path.
        if loc and loc[0] in EVENT_TYPES:
            loc = loc[1:]
        field = ".".join(loc) or "event"
        msg = err["msg"]
        if err["type"] == "union_tag_invalid":
            field, msg = "type", f"unknown event type {err['input'].get('type')!r}; expected one of {', '.join(EVENT_TYPES)}"
        elif err["type"] == "union_tag_not_found":
            field, msg = "type", "field required"
        problems.append(f"{field}: {msg}")
    return problems


def parse_event(data: Any) -> BaseModel:
    """Validate one decoded JSON value as an event or raise `InvalidEvent`."""
    if not isinstance(data, dict):
        raise InvalidEvent([f"event: expected a JSON object, got {type(data).__name__}"])
    try:
        return EVENT_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise InvalidEvent(describe(exc)) from None


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
