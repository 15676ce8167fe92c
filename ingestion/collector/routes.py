"""Every route of the collector, in one table.

The collector's dispatch, the `Allow` header of its 405 answers, its CORS
preflight answers and headers, and the paths of its OpenAPI document are all
derived from `ROUTES`: a route added, removed or given another method here
changes all four at once. `HTTPError` is how a route answers anything but 2xx.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingestion.collector.adapters import SEGMENT_PATHS

# Every error status an operation may answer with (described by `openapi.errors`).
ALL_ERRORS = ("400", "401", "413", "422", "429", "503")


class HTTPError(Exception):
    """An answer other than 2xx: `status`, `{"error": message, "problems": [...]}` and extra headers."""

    def __init__(self, status: int, message: str, problems: list[str] | None = None,
                 headers: list[tuple[bytes, bytes]] | None = None):
        super().__init__(message)
        self.status, self.message, self.problems, self.headers = status, message, problems, headers or []


@dataclass(frozen=True)
class Operation:
    """One method of a route: who answers it, and how the OpenAPI document describes it."""

    method: str
    handler: str                       # the `Collector` coroutine that answers (see app.py)
    summary: str = ""
    key: str | None = None             # OpenAPI security scheme of the API key admitted before the handler
    body: str | None = None            # request body: an `openapi.BODIES` name or a components schema
    media: tuple[str, ...] = ("application/json",)
    parameters: tuple[tuple[str, str, bool], ...] = ()  # (name, "query" or "header", required)
    returns: str | None = None         # components schema of the 200 answer
    durable: bool = True               # whether that 200 means stored (False: a token issued, nothing stored)
    plain: tuple[tuple[str, str], ...] = (("200", "OK"),)  # (status, description) when `returns` is None
    errors: tuple[str, ...] = ()       # error statuses, described by `openapi.errors`
    body_limit: str = "max_body_bytes"  # the `CollectorConfig` field that bounds the request body


@dataclass(frozen=True)
class Route:
    path: str
    operations: tuple[Operation, ...]
    cors: bool = False         # browsers of JOURNEY_CORS_ORIGINS may call it: preflight answered, CORS headers sent
    operational: bool = False  # health, metrics, documents: never rate limited, its GETs left out of request counts
    documented: bool = True    # a path of the OpenAPI document

    @property
    def allow(self) -> bytes:
        """The `Allow` header (RFC 9110): its methods, and OPTIONS for a preflight."""
        methods = [op.method for op in self.operations] + (["OPTIONS"] if self.cors else [])
        return ", ".join(methods).encode()


def _get(handler: str, summary: str = "", **kwargs) -> Operation:
    return Operation("GET", handler, summary, **kwargs)


def _post(handler: str, summary: str, **kwargs) -> Operation:
    return Operation("POST", handler, summary, **kwargs)


WHATSAPP_PATH = "/v1/webhooks/whatsapp"
BROWSER_MEDIA = ("text/plain", "application/json")  # text/plain: no CORS preflight, and sendBeacon can send it
STATIC_FILES = {
    "/tracker.js": ("tracker.js", b"application/javascript; charset=utf-8"),
    "/webview/sample.html": ("sample.html", b"text/html; charset=utf-8"),
}

ROUTES: tuple[Route, ...] = (
    Route("/v1/events", (_post(
        "_events", "One event or a batch, server to server.", key="apiKey", body="EventOrBatch",
        returns="Accepted", errors=ALL_ERRORS),)),
    Route("/v1/handshake", (_post(
        "_handshake", "Issue a signed, short-lived webview token and URL.", key="apiKey",
        body="HandshakeRequest", returns="HandshakeResponse", durable=False,
        errors=("400", "401", "413", "422", "429")),)),
    Route("/v1/webview/events", (_post(
        "_webview", "Webview tracker batches; identity from the token, never from the browser.",
        body="WebviewBatch", media=BROWSER_MEDIA, returns="Accepted", errors=ALL_ERRORS),),
        cors=True),
    Route("/v1/webview/session", (_post(
        "_webview_session", "Renew a still-valid link or page token: a page token for the same conversation, "
        "person and audience, never past the visit's lifetime cap.",
        body="WebviewSessionRequest", media=BROWSER_MEDIA, returns="WebviewSession", durable=False,
        errors=("400", "401", "413", "422", "429")),),
        cors=True),
    Route(WHATSAPP_PATH, (
        _get("_whatsapp_challenge",
             "WhatsApp Cloud API verification challenge (hub.mode, hub.verify_token, hub.challenge).",
             parameters=tuple((name, "query", False) for name in ("hub.mode", "hub.verify_token", "hub.challenge")),
             plain=(("200", "The challenge, echoed."), ("403", "Verify token mismatch.")), errors=("429",)),
        _post("_whatsapp", "WhatsApp Cloud API webhook; X-Hub-Signature-256 over the raw body.",
              body="object", parameters=(("X-Hub-Signature-256", "header", True),), returns="Accepted",
              errors=("400", "401", "413", "429", "503"), body_limit="max_webhook_bytes"))),
    *(Route(path, (_post(
        "_segment", f"Segment-compatible {path.rsplit('/', 1)[1]} (HTTP Basic: write key as user name).",
        key="segmentWriteKey", body="SegmentBatch" if SEGMENT_PATHS[path] is None else "object",
        returns="Accepted", errors=ALL_ERRORS),)) for path in SEGMENT_PATHS),
    Route("/healthz", (_get("_healthz", "Process is up."),), operational=True),
    Route("/readyz", (_get("_readyz", "Accepting events (the sink below its bound).",
                           plain=(("200", "OK"), ("503", "Not ready"))),), operational=True),
    Route("/metrics", (_get("_metrics", "Prometheus metrics."),), operational=True),
    Route("/openapi.json", (_get("_openapi"),), operational=True, documented=False),
    *(Route(path, (_get("_static"),), operational=True, documented=False) for path in STATIC_FILES),
)
