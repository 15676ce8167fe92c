import json

import jsonschema
import pytest

from ingestion.contract import EVENT_TYPES, SCHEMA_PATH, InvalidEvent, json_schema, parse_event
from tests.conftest import event


def test_published_schema_is_generated_from_the_model():
    assert json.loads(SCHEMA_PATH.read_text()) == json.loads(json.dumps(json_schema(), sort_keys=True))


def test_every_spec_event_type_is_in_the_model():
    assert set(EVENT_TYPES) == {
        "message.received", "message.sent", "conversation.state_changed", "agent.assigned",
        "conversation.transferred", "csat.submitted", "conversation.expired", "webview.opened",
        "funnel.step_viewed", "funnel.completed", "escalation.requested", "webview.exited", "identify",
    }


def test_valid_event_keeps_unknown_fields():
    data = event("e1", "message.received", "2026-11-02T09:00:00+01:00", message_id="m1")
    data["vendor_extra"] = {"x": 1}
    parsed = parse_event(data)
    assert parsed["vendor_extra"] == {"x": 1}
    jsonschema.validate(data, json.loads(SCHEMA_PATH.read_text()))


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        (event("e", "nope", "2026-11-02T09:00:00Z"), "type", "unknown event type"),
        ({"event_id": "e", "occurred_at": "2026-11-02T09:00:00Z"}, "type", "required"),
        (event("e", "message.received", "2026-11-02T09:00:00", message_id="m"), "occurred_at", "timezone"),
        (event("", "message.received", "2026-11-02T09:00:00Z", message_id="m"), "event_id", "at least 1"),
        (event("x" * 129, "message.received", "2026-11-02T09:00:00Z", message_id="m"), "event_id", "at most 128"),
        (event("e", "message.received", "2026-11-02T09:00:00Z", None, message_id="m"), "conversation_id", "required"),
        (event("e", "csat.submitted", "2026-11-02T09:00:00Z", score=6), "properties.score", "less than or equal to 5"),
        (event("e", "conversation.state_changed", "2026-11-02T09:00:00Z", to_state="limbo"), "properties.to_state", "Input should be"),
        (event("e", "funnel.step_viewed", "2026-11-02T09:00:00Z", None, funnel="f", step="s", step_index=0), "properties.step_index", "greater than or equal to 1"),
        (event("e", "webview.exited", "2026-11-02T09:00:00Z", None, funnel="f", step="s", step_index=1, reason="bored"), "properties.reason", "Input should be"),
    ],
)
def test_invalid_event_names_field_and_reason(data, field, words):
    with pytest.raises(InvalidEvent) as info:
        parse_event(data)
    assert any(p.startswith(f"{field}:") and words in p for p in info.value.problems), info.value.problems


def test_human_message_needs_agent_id_and_identify_needs_two_ids():
    sent = event("e", "message.sent", "2026-11-02T09:00:00Z", message_id="m")
    sent["actor"] = {"kind": "human"}
    with pytest.raises(InvalidEvent, match="agent id"):
        parse_event(sent)
    ident = {"event_id": "i", "type": "identify", "occurred_at": "2026-11-02T09:00:00Z",
             "identity": {"anonymous_id": "a"}}
    with pytest.raises(InvalidEvent, match="two or more"):
        parse_event(ident)
    ident["identity"]["user_id"] = "u"
    parse_event(ident)


def test_non_object_is_rejected():
    with pytest.raises(InvalidEvent, match="expected a JSON object"):
        parse_event([1, 2])
