"""The collector's OpenAPI document, built from the event model and the route
table (`routes.ROUTES`) so that neither can drift from it.

`python -m ingestion.collector.openapi` rewrites `schemas/openapi.json` (the
document of the default configuration); a test fails when the committed file
differs from what this builds. A running collector serves the document of its
own configuration (`render`), whose size limits may differ.
"""

from __future__ import annotations

import json
from pathlib import Path

from ingestion.collector.routes import ROUTES, Operation
from ingestion.contract import WEBVIEW_TYPES, json_schema
from ingestion.settings import CollectorConfig

OPENAPI_PATH = Path(__file__).resolve().parents[2] / "schemas" / "openapi.json"
# Limits as configured; the class itself holds the defaults.
Limits = CollectorConfig | type[CollectorConfig]


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


def _size(n: int) -> str:
    for unit, shift in (("MB", 20), ("KB", 10)):
        if n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} bytes"


def errors(config: Limits, body_limit: str = "max_body_bytes") -> dict[str, dict]:
    """The error answers, by status, with the size limits of `config` (the body's is
    the `CollectorConfig` field `body_limit`, as the operation's route names it)."""
    return {
        "400": _error("Malformed JSON."),
        "401": _error("Missing or invalid API key, or a refused handshake token."),
        "413": _error(f"Body over {_size(getattr(config, body_limit))}, or an event over "
                      f"{_size(config.max_event_bytes)}."),
        "422": _error("Schema violation; `problems` names each field and reason."),
        "429": {**_error("Rate limit (per API key, or per client IP for browsers and failed authentication): "
                         "nothing was stored; retry after `Retry-After` seconds."),
                "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}}},
        "503": {**_error("The sink (spool or NATS stream) is full or unreachable: nothing was stored; "
                         "retry after `Retry-After`."),
                "headers": {"Retry-After": {"schema": {"type": "integer"}}}},
    }


# Request bodies written out in place; any other `Operation.body` names a components schema.
BODIES = {
    # anyOf: an object with `event_id` is one event even if it also has `events`.
    "EventOrBatch": {"anyOf": [_ref("Event"), _ref("Batch")]},
    "SegmentBatch": {"type": "object", "required": ["batch"],
                     "properties": {"batch": {"type": "array", "items": {
                         "description": "A Segment call; calls the contract refuses are quarantined, not bounced."}}}},
    "object": {"type": "object"},
}


DURABLE = ("Durable: held by the sink (a spool segment fsynced, or the NATS stream's acknowledgement) "
           "before this answer.")


def _event_components() -> dict[str, dict]:
    """The event model's JSON Schema as components: `Event` and its `$defs`."""
    event_schema = json_schema()
    defs = event_schema.pop("$defs", {})
    for name in ("$schema", "$id", "title"):
        event_schema.pop(name, None)
    components = {name: json.loads(json.dumps(d).replace("#/$defs/", "#/components/schemas/"))
                  for name, d in defs.items()}
    components["Event"] = json.loads(json.dumps(event_schema).replace("#/$defs/", "#/components/schemas/"))
    return components


def _webview_batch(event: dict) -> dict:
    webview = {t: ref for t, ref in event["discriminator"]["mapping"].items() if t in WEBVIEW_TYPES}
    return {"type": "object", "required": ["events"], "properties": {
        "token": {"type": ["string", "null"],
                  "description": "Handshake token from the webview URL (`jt`); without one the events are unlinked."},
        "events": {"type": "array", "minItems": 1, "items": {
            "oneOf": [{"$ref": ref} for ref in webview.values()],
            "discriminator": {"propertyName": "type", "mapping": webview}}}}}


def components() -> dict[str, dict]:
    schemas = _event_components()
    string_id = {"type": "string", "minLength": 1, "maxLength": 128}
    schemas.update({
        "Batch": {"type": "object", "required": ["events"], "properties": {
            "events": {"type": "array", "minItems": 1, "items": _ref("Event")}}},
        "Accepted": {"type": "object", "required": ["accepted"], "properties": {"accepted": {"type": "integer"}}},
        "Error": {"type": "object", "required": ["error"], "properties": {
            "error": {"type": "string"}, "problems": {"type": "array", "items": {"type": "string"}}}},
        "HandshakeRequest": {"type": "object", "required": ["conversation_id", "channel_user_id"], "properties": {
            "conversation_id": string_id, "channel_user_id": string_id, "intent": {}, "context": {}}},
        "HandshakeResponse": {"type": "object", "required": ["token", "url", "expires_at"], "properties": {
            "token": {"type": "string"}, "url": {"type": "string"}, "expires_at": {"type": "integer"}}},
        "WebviewBatch": _webview_batch(schemas["Event"]),
        "WebviewSessionRequest": {"type": "object", "required": ["token"], "properties": {
            "token": {"type": "string", "description": "A still-valid link token (`jt`) or page token."}}},
        "WebviewSession": {"type": "object", "required": ["token", "expires_at", "expires_in"], "properties": {
            "token": {"type": "string", "description": "A page token: send it with the next batches, renew it "
                                                       "before it expires."},
            "expires_at": {"type": "integer", "description": "Unix seconds."},
            "expires_in": {"type": "integer", "description": "Seconds from this answer, for a browser whose "
                                                            "clock is off."}}},
    })
    return schemas


def operation(op: Operation, config: Limits) -> dict:
    """One operation of the document, as the route table describes it."""
    described: dict = {"summary": op.summary}
    if op.key:
        described["security"] = [{op.key: []}]
    if op.parameters:
        described["parameters"] = [{"name": name, "in": where, "schema": {"type": "string"},
                                    **({"required": True} if required else {})}
                                   for name, where, required in op.parameters]
    if op.body:
        schema = BODIES.get(op.body) or _ref(op.body)
        described["requestBody"] = {"required": True, "content": {m: {"schema": schema} for m in op.media}}
    if op.returns:
        answers = {"200": {"description": DURABLE if op.durable else "Issued; nothing is stored.",
                           "content": {"application/json": {"schema": _ref(op.returns)}}}}
    else:
        answers = {status: {"description": text} for status, text in op.plain}
    error_answers = errors(config, op.body_limit)
    described["responses"] = {**answers, **{status: error_answers[status] for status in op.errors}}
    return described


def build(config: Limits = CollectorConfig) -> dict:
    """The OpenAPI document of a collector configured by `config` (default: the defaults)."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "journey analytics collector", "version": "1"},
        "components": {"schemas": components(),
                       "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"},
                                           "segmentWriteKey": {"type": "http", "scheme": "basic"}}},
        "paths": {route.path: {op.method.lower(): operation(op, config) for op in route.operations}
                  for route in ROUTES if route.documented},
    }


def render(config: Limits = CollectorConfig) -> bytes:
    """The document as committed and served."""
    return (json.dumps(build(config), indent=2, sort_keys=True) + "\n").encode()


def write(path: Path = OPENAPI_PATH) -> Path:
    path.write_bytes(render())
    return path


if __name__ == "__main__":
    print(write())
