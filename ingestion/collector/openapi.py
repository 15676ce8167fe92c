"""The collector's OpenAPI document, built from the event model so the two never drift.

`python -m ingestion.collector.openapi` rewrites `schemas/openapi.json`; a
test fails when the committed file differs from what this builds.
"""

from __future__ import annotations

import json
from pathlib import Path

from ingestion.contract import WEBVIEW_TYPES, json_schema

OPENAPI_PATH = Path(__file__).resolve().parents[2] / "schemas" / "openapi.json"


def _error(description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


ERRORS = {
    "400": _error("Malformed JSON."),
    "401": _error("Missing or invalid API key, or a refused handshake token."),
    "413": _error("Body over 512 KB, or an event over 32 KB."),
    "422": _error("Schema violation; `problems` names each field and reason."),
    "429": {**_error("Rate limit (per API key, or per client IP for browsers and failed authentication): "
                     "nothing was stored; retry after `Retry-After` seconds."),
            "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}}},
    "503": {**_error("Spool full or unavailable: nothing was stored; retry after `Retry-After`."),
            "headers": {"Retry-After": {"schema": {"type": "integer"}}}},
}


SEGMENT_BODIES = {
    "/v1/batch": {"type": "object", "required": ["batch"],
                  "properties": {"batch": {"type": "array", "items": {
                      "description": "A Segment call; calls the contract refuses are quarantined, not bounced."}}}},
    **{path: {"type": "object"} for path in ("/v1/track", "/v1/identify", "/v1/page")},
}


def build() -> dict:
    event_schema = json_schema()
    defs = event_schema.pop("$defs", {})
    for name in ("$schema", "$id", "title"):
        event_schema.pop(name, None)
    text = json.dumps(event_schema).replace("#/$defs/", "#/components/schemas/")
    components = {name: json.loads(json.dumps(d).replace("#/$defs/", "#/components/schemas/"))
                  for name, d in defs.items()}
    components["Event"] = json.loads(text)
    components["Batch"] = {"type": "object", "required": ["events"], "properties": {
        "events": {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/Event"}}}}
    components["Accepted"] = {"type": "object", "required": ["accepted"],
                              "properties": {"accepted": {"type": "integer"}}}
    components["Error"] = {"type": "object", "required": ["error"], "properties": {
        "error": {"type": "string"}, "problems": {"type": "array", "items": {"type": "string"}}}}
    components["HandshakeRequest"] = {"type": "object", "required": ["conversation_id", "channel_user_id"],
                                      "properties": {
                                          "conversation_id": {"type": "string", "minLength": 1, "maxLength": 128},
                                          "channel_user_id": {"type": "string", "minLength": 1, "maxLength": 128},
                                          "intent": {}, "context": {}}}
    components["HandshakeResponse"] = {"type": "object", "required": ["token", "url", "expires_at"],
                                       "properties": {"token": {"type": "string"}, "url": {"type": "string"},
                                                      "expires_at": {"type": "integer"}}}
    webview = {t: ref for t, ref in components["Event"]["discriminator"]["mapping"].items() if t in WEBVIEW_TYPES}
    components["WebviewBatch"] = {"type": "object", "required": ["events"], "properties": {
        "token": {"type": ["string", "null"],
                  "description": "Handshake token from the webview URL (`jt`); without one the events are unlinked."},
        "events": {"type": "array", "minItems": 1, "items": {
            "oneOf": [{"$ref": ref} for ref in webview.values()],
            "discriminator": {"propertyName": "type", "mapping": webview}}}}}

    def body(ref: str, *media: str) -> dict:
        return {"required": True, "content": {m: {"schema": {"$ref": f"#/components/schemas/{ref}"}}
                                              for m in media}}

    def ok(ref: str) -> dict:
        return {"description": "Durable: fsynced in the spool before this answer.",
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}

    api_key = [{"apiKey": []}]
    plain = {"200": {"description": "OK"}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "journey analytics collector", "version": "1"},
        "components": {"schemas": components,
                       "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"},
                                           "segmentWriteKey": {"type": "http", "scheme": "basic"}}},
        "paths": {
            "/v1/events": {"post": {
                "summary": "One event or a batch, server to server.", "security": api_key,
                # anyOf: an object with `event_id` is one event even if it also has `events`.
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "anyOf": [{"$ref": "#/components/schemas/Event"}, {"$ref": "#/components/schemas/Batch"}]}}}},
                "responses": {"200": ok("Accepted"), **ERRORS}}},
            "/v1/handshake": {"post": {
                "summary": "Issue a signed, short-lived webview token and URL.", "security": api_key,
                "requestBody": body("HandshakeRequest", "application/json"),
                "responses": {"200": ok("HandshakeResponse"),
                              **{k: ERRORS[k] for k in ("400", "401", "413", "422", "429")}}}},
            "/v1/webview/events": {"post": {
                "summary": "Webview tracker batches; identity from the token, never from the browser.",
                "requestBody": body("WebviewBatch", "text/plain", "application/json"),
                "responses": {"200": ok("Accepted"), **ERRORS}}},
            "/v1/webhooks/whatsapp": {
                "get": {"summary": "WhatsApp Cloud API verification challenge (hub.mode, hub.verify_token, hub.challenge).",
                        "parameters": [{"name": n, "in": "query", "schema": {"type": "string"}}
                                       for n in ("hub.mode", "hub.verify_token", "hub.challenge")],
                        "responses": {"200": {"description": "The challenge, echoed."},
                                      "403": {"description": "Verify token mismatch."},
                                      "429": ERRORS["429"]}},
                "post": {"summary": "WhatsApp Cloud API webhook; X-Hub-Signature-256 over the raw body.",
                         "parameters": [{"name": "X-Hub-Signature-256", "in": "header", "required": True,
                                         "schema": {"type": "string"}}],
                         "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
                         "responses": {"200": ok("Accepted"),
                                       **{k: ERRORS[k] for k in ("400", "401", "413", "429", "503")}}}},
            **{path: {"post": {
                "summary": f"Segment-compatible {path.rsplit('/', 1)[1]} (HTTP Basic: write key as user name).",
                "security": [{"segmentWriteKey": []}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": SEGMENT_BODIES[path]}}},
                "responses": {"200": ok("Accepted"),
                              **{k: ERRORS[k] for k in ("400", "401", "413", "422", "429", "503")}}}}
               for path in ("/v1/batch", "/v1/track", "/v1/identify", "/v1/page")},
            "/healthz": {"get": {"summary": "Process is up.", "responses": plain}},
            "/readyz": {"get": {"summary": "Accepting events (spool below its bound).",
                                "responses": {**plain, "503": {"description": "Not ready"}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics.", "responses": plain}},
        },
    }


def write(path: Path = OPENAPI_PATH) -> Path:
    path.write_text(json.dumps(build(), indent=2, sort_keys=True) + "\n")
    return path


if __name__ == "__main__":
    print(write())
