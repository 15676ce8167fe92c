"""The collector as a plain ASGI application (no framework: every request is
on the hot path of a durable acknowledgement, and the routes are few).

Routes: POST /v1/events (API key), POST /v1/handshake (API key),
POST /v1/webview/events (handshake token, CORS, sendBeacon-friendly),
GET /healthz, /readyz, /metrics, /openapi.json, /tracker.js, /webview/*.

Rate limits (token buckets, `ratelimit.py`) run before any body is parsed:
per API key once the key is valid, per client IP on the webview route and for
every request that fails authentication; health, metrics and static files are
not limited.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import orjson

from ingestion.collector.adapters import (
    SEGMENT_PATHS,
    as_dict,
    segment_calls,
    segment_event,
    whatsapp_events,
)
from ingestion.collector.commit import FsyncHistogram, GroupCommitter, SpoolFull
from ingestion.collector.config import CollectorConfig
from ingestion.collector.openapi import OPENAPI_PATH
from ingestion.collector.ratelimit import RateLimiter, retry_after
from ingestion.collector.tokens import TokenError
from ingestion.contract import WEBVIEW_TYPES, InvalidEvent
from ingestion.edge import Edge, utc_now_iso
from ingestion.privacy import pseudonymize
from ingestion.settings import Settings
from ingestion.sinks import open_sink
from ingestion.spool import encode, encode_all

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_FILES = {
    "/tracker.js": ("tracker.js", b"application/javascript; charset=utf-8"),
    "/webview/sample.html": ("sample.html", b"text/html; charset=utf-8"),
}


class HTTPError(Exception):
    def __init__(self, status: int, message: str, problems: list[str] | None = None,
                 headers: list[tuple[bytes, bytes]] | None = None):
        super().__init__(message)
        self.status, self.message, self.problems, self.headers = status, message, problems, headers or []


class Throttled(HTTPError):
    """429 from the bucket of `limit` (`api_key` or `client_ip`); Retry-After from the bucket's refill."""

    def __init__(self, limit: str, wait: float):
        seconds = retry_after(wait)
        super().__init__(429, f"rate limit exceeded ({THROTTLE_REASONS[limit]}): retry after {seconds} s",
                         headers=[(b"retry-after", str(seconds).encode())])
        self.limit = limit


def _limiter(rate: float, burst: float) -> RateLimiter | None:
    return RateLimiter(rate, burst) if rate > 0 else None


def client_ip(scope) -> str:
    """The peer address; behind a trusted proxy uvicorn has already put the
    X-Forwarded-For client here (FORWARDED_ALLOW_IPS, default 127.0.0.1)."""
    client = scope.get("client")
    return client[0] if client else "unknown"


class Collector:
    def __init__(self, settings: Settings, config: CollectorConfig):
        self.settings = settings
        self.config = config
        self.edge = Edge.from_settings(settings)
        self.committer: GroupCommitter | None = None
        self.accepted = 0
        self.rejected: Counter[str] = Counter()
        # Reconciliation of requests: received = answered 2xx + rejected + throttled.
        self.received = 0
        self.answered = 0
        self.throttled: Counter[str] = Counter({limit: 0 for limit in THROTTLE_REASONS})
        self.key_limits = _limiter(config.rate_limit_key_rps, config.rate_limit_key_burst)
        self.ip_limits = _limiter(config.rate_limit_ip_rps, config.rate_limit_ip_burst)

    # --- ASGI plumbing -------------------------------------------------------

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers = {k.lower(): v for k, v in scope["headers"]}
        origin = headers.get(b"origin", b"").decode("latin-1")
        counted = scope["method"] != "GET" or scope["path"] not in OPERATIONAL_GETS
        self.received += counted
        try:
            status, body, extra = await self._route(scope, receive, headers, origin)
            self.answered += counted
        except HTTPError as err:
            if isinstance(err, Throttled):
                self.throttled[err.limit] += 1
            else:
                self.rejected[str(err.status)] += 1
            payload = {"error": err.message}
            if err.problems:
                payload["problems"] = err.problems
            status, body, extra = err.status, payload, err.headers
        await self._send(send, status, body, extra + self._cors_headers(scope["path"], origin))

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.committer = GroupCommitter(open_sink(self.settings), self.config.spool_max_bytes,
                                                self.settings.segment_max_age_s)
                self.committer.start()
                if not self.config.api_keys:
                    log.warning("JOURNEY_API_KEYS is empty: server-to-server routes refuse every request")
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.committer:
                    await self.committer.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _send(self, send, status: int, body: Any, headers: list[tuple[bytes, bytes]]) -> None:
        if isinstance(body, tuple):  # (bytes, content type)
            raw, content_type = body
        else:
            raw, content_type = orjson.dumps(body), b"application/json"
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", content_type), (b"content-length", str(len(raw)).encode()),
                                *headers]})
        await send({"type": "http.response.body", "body": raw})

    async def _read_body(self, receive, headers: dict[bytes, bytes], limit: int | None = None) -> bytes:
        limit = limit or self.config.max_body_bytes
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            raise HTTPError(413, f"request body over {limit} bytes")
        chunks, size = [], 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise HTTPError(413, f"request body over {limit} bytes")
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    # --- routing -------------------------------------------------------------

    async def _route(self, scope, receive, headers, origin):
        method, path = scope["method"], scope["path"]
        if method == "GET":
            if path == "/healthz":
                return 200, {"status": "ok"}, []
            if path == "/readyz":
                return self._ready()
            if path == "/metrics":
                return 200, (self._metrics().encode(), b"text/plain; version=0.0.4"), []
            if path == "/openapi.json":
                return 200, (OPENAPI_PATH.read_bytes(), b"application/json"), []
            if path in STATIC_FILES:
                name, content_type = STATIC_FILES[path]
                return 200, ((STATIC_DIR / name).read_bytes(), content_type), []
        if method == "OPTIONS" and path == "/v1/webview/events":
            if origin not in self.config.cors_origins:
                raise HTTPError(403, "origin not allowed")
            return 204, (b"", b"text/plain"), []
        if method == "POST" and path == "/v1/events":
            self._admit_key(scope, headers)
            body = await self._read_body(receive, headers)
            return await self._accept(self._lines(self._events_of(self._loads(body))))
        if method == "POST" and path == "/v1/handshake":
            self._admit_key(scope, headers)
            return self._handshake(await self._decode(receive, headers))
        if path == WHATSAPP_PATH and method == "GET":
            return self._whatsapp_challenge(scope)
        if path == WHATSAPP_PATH and method == "POST":
            # The signature covers the body, so it is read (up to 4 MB) first; an
            # address whose bucket failed signatures emptied is refused before that.
            if self.ip_limits is not None and (wait := self.ip_limits.wait(client_ip(scope))):
                raise Throttled("client_ip", wait)
            body = await self._read_body(receive, headers, self.config.max_webhook_bytes)
            self._admit(scope, self._check_whatsapp_signature, headers, body)
            return await self._accept_mapped(whatsapp_events(self._loads(body)), "whatsapp")
        if method == "POST" and path in SEGMENT_PATHS:
            self._admit_key(scope, headers)
            calls = segment_calls(path, self._segment_envelope(path, await self._decode(receive, headers)))
            status, result, extra = await self._accept_mapped([segment_event(c) for c in calls], "segment")
            return status, {"success": True, **result}, extra
        if method == "POST" and path == "/v1/webview/events":
            self._throttle(self.ip_limits, client_ip(scope), "client_ip")
            # Browsers send Origin on same-origin POSTs too: the collector's own
            # pages (the sample webview) are always allowed.
            own = f"{scope.get('scheme', 'http')}://{headers.get(b'host', b'').decode('latin-1')}"
            if origin and origin != own and origin not in self.config.cors_origins:
                raise HTTPError(403, "origin not allowed")
            return await self._webview(await self._decode(receive, headers))
        allowed = ALLOWED_METHODS.get(path)
        if allowed:  # RFC 9110: a 405 says which methods the route does take
            raise HTTPError(405, f"{method} not allowed on {path}", headers=[(b"allow", allowed)])
        raise HTTPError(404, "no such route")

    def _cors_headers(self, path: str, origin: str) -> list[tuple[bytes, bytes]]:
        if path != "/v1/webview/events" or origin not in self.config.cors_origins:
            return []
        return [(b"access-control-allow-origin", origin.encode()), (b"vary", b"Origin"),
                (b"access-control-allow-methods", b"POST, OPTIONS"),
                (b"access-control-allow-headers", b"content-type"), (b"access-control-max-age", b"600")]

    def _admit(self, scope, verify, *args) -> None:
        """Throttle a caller by the identity `verify` proves (an API key, the
        signed WhatsApp source) or, when it proves none, by its IP: a client
        guessing keys empties its address's bucket and then gets 429, not 401."""
        try:
            source = verify(*args)
        except HTTPError:
            self._throttle(self.ip_limits, client_ip(scope), "client_ip")
            raise
        limiter = self.key_limits  # inlined _throttle, as in _admit_key
        if limiter is not None and (wait := limiter.take(source)):
            raise Throttled("api_key", wait)

    def _admit_key(self, scope, headers) -> None:
        """`_admit(scope, self._authorize, headers)` written out, as every
        producer request passes here: the generic call cost a third of the
        admission (about 0.5 µs a request)."""
        try:
            key = self._authorize(headers)
        except HTTPError:
            self._throttle(self.ip_limits, client_ip(scope), "client_ip")
            raise
        limiter = self.key_limits
        if limiter is not None and (wait := limiter.take(key)):
            raise Throttled("api_key", wait)

    @staticmethod
    def _throttle(limiter: RateLimiter | None, key, limit: str) -> None:
        if limiter is not None and (wait := limiter.take(key)):
            raise Throttled(limit, wait)

    def _authorize(self, headers) -> str:
        """The caller's key, from `Authorization: Bearer KEY` or Segment's HTTP
        Basic with the write key as user name; 401 if it is not a configured one."""
        auth = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, key = auth.partition(" ")
        if scheme.lower() == "basic":
            try:
                key = base64.b64decode(key, validate=True).decode().partition(":")[0]
            except ValueError:
                key = ""
        elif scheme.lower() != "bearer":
            key = ""
        if not key:
            raise HTTPError(401, "missing API key: send Authorization: Bearer <key>",
                            headers=[(b"www-authenticate", b"Bearer")])
        # Compare against every key so timing says nothing about which one nearly matched.
        matched = False
        for candidate in self.config.api_keys:
            matched |= hmac.compare_digest(candidate.encode(), key.encode())
        if not matched:
            raise HTTPError(401, "invalid API key", headers=[(b"www-authenticate", b"Bearer")])
        return key

    async def _decode(self, receive, headers) -> Any:
        return self._loads(await self._read_body(receive, headers))

    @staticmethod
    def _loads(body: bytes) -> Any:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise HTTPError(400, f"malformed JSON: {exc}") from None

    def _events_of(self, data: Any) -> list:
        if isinstance(data, dict) and "events" in data and "event_id" not in data:
            events = data["events"]
            if not isinstance(events, list) or not events:
                raise HTTPError(422, "events: expected a non-empty list of events")
            return events
        return [data]

    def _lines(self, events: list) -> list[bytes]:
        """The spool lines of a batch, all or nothing: 422 names every invalid
        event, 413 the first whose record is over the per-event limit.

        The limit applies to the record as stored (it is what the spool and
        the warehouse hold), so the line encoded for the spool is measured
        instead of encoding each event once more just to count its bytes.
        """
        try:
            lines = encode_all(self.edge.accept_all(events))
        except InvalidEvent as exc:
            raise HTTPError(422, "invalid event", exc.problems) from None
        limit = self.config.max_event_bytes
        if max(map(len, lines)) > limit:
            index = next(i for i, line in enumerate(lines) if len(line) > limit)
            raise HTTPError(413, f"events[{index}]: event over {limit} bytes")
        return lines

    async def _accept(self, lines: list[bytes], quarantined: int = 0):
        """Spool the lines; 200 once the sink holds them durably (fsync or PubAck).

        Callers hand over encoded lines, so a request parked until the group
        commit holds its bytes, not thousands of decoded objects, and the
        requests in flight do not evict each other from the CPU cache (a third
        of the CPU per batch at 16 connections).
        """
        accepted = len(lines) - quarantined
        try:
            await self.committer.commit(lines)
        except SpoolFull:
            raise HTTPError(503, "spool full, retry later", headers=self._retry_after()) from None
        except OSError as exc:
            log.error("spool write failed, nothing acknowledged: %s", exc)
            raise HTTPError(503, "spool unavailable, retry later", headers=self._retry_after()) from None
        self.accepted += accepted
        result = {"accepted": accepted}
        if quarantined:
            result["quarantined"] = quarantined
        return 200, result, []

    def _retry_after(self) -> list[tuple[bytes, bytes]]:
        return [(b"retry-after", str(self.config.retry_after_s).encode())]

    async def _accept_mapped(self, events: list[dict], source: str):
        """Events translated from another format: the ones the contract refuses
        are quarantined with the reason instead of failing the whole delivery,
        because webhook senders and SDKs retry a refused call forever."""
        lines, quarantined = [], 0
        received_at = utc_now_iso()
        for event in events:
            try:
                lines.append(encode(self.edge.accept(event, received_at)))
            except InvalidEvent as exc:
                lines.append(encode(self.edge.quarantine(str(exc), source, None, event, received_at)))
                quarantined += 1
        if not lines:
            return 200, {"accepted": 0}, []
        return await self._accept(lines, quarantined)

    @staticmethod
    def _segment_envelope(path: str, data: Any) -> dict:
        """Refused events of a Segment call are quarantined, but a body that is
        no Segment call at all is a client bug to answer, not to store nothing for."""
        if not isinstance(data, dict):
            raise HTTPError(422, "expected a Segment call: a JSON object")
        if SEGMENT_PATHS[path] is None and not isinstance(data.get("batch"), list):
            raise HTTPError(422, "invalid batch", ["batch: expected a list of calls"])
        return data

    def _whatsapp_challenge(self, scope):
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        mode, token = query.get("hub.mode", [""])[0], query.get("hub.verify_token", [""])[0]
        expected = self.config.whatsapp_verify_token
        if mode == "subscribe" and expected and hmac.compare_digest(token.encode(), expected.encode()):
            return 200, (query.get("hub.challenge", [""])[0].encode(), b"text/plain"), []
        self._throttle(self.ip_limits, client_ip(scope), "client_ip")  # a verify-token guess
        raise HTTPError(403, "verification token mismatch")

    def _check_whatsapp_signature(self, headers, body: bytes) -> tuple[str, str]:
        """HMAC-SHA256 of the raw bytes with the app secret, before any parsing;
        returns the source's rate-limit bucket."""
        secret = self.config.whatsapp_app_secret
        if not secret:
            raise HTTPError(401, "WhatsApp webhook not configured (JOURNEY_WHATSAPP_APP_SECRET)")
        signature = headers.get(b"x-hub-signature-256", b"").decode("latin-1")
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            raise HTTPError(401, "X-Hub-Signature-256 does not match the body")
        return WHATSAPP_SOURCE

    # --- handshake and webview -----------------------------------------------

    def _handshake(self, data: Any):
        if not isinstance(data, dict):
            raise HTTPError(422, "expected a JSON object")
        problems = [f"{name}: field required (1-128 characters)" for name in ("conversation_id", "channel_user_id")
                    if not isinstance(data.get(name), str) or not 1 <= len(data[name]) <= 128]
        if problems:
            raise HTTPError(422, "invalid handshake", problems)
        claims = {"cid": data["conversation_id"],
                  "sub": pseudonymize(data["channel_user_id"], self.edge.hash_key)}
        for optional in ("intent", "context"):
            if optional in data:
                claims[optional] = data[optional]
        token, expires = self.config.token_keys.issue(claims)
        url = f"{self.config.webview_url}?{urlencode({'jt': token})}"
        return 200, {"token": token, "url": url, "expires_at": expires}, []

    async def _webview(self, data: Any):
        if not isinstance(data, dict) or not isinstance(data.get("events"), list) or not data["events"]:
            raise HTTPError(422, "expected {\"token\": ..., \"events\": [...]}")
        claims, token = None, data.get("token")
        if token is not None and not isinstance(token, str):
            raise HTTPError(422, "invalid token", ["token: expected a string (the handshake token) or null"])
        if token:
            try:
                claims = self.config.token_keys.verify(token)
            except TokenError as exc:
                raise HTTPError(401, f"handshake token refused: {exc}") from None
        for i, event in enumerate(data["events"]):
            if not isinstance(event, dict) or not isinstance(event.get("type"), str) \
                    or event["type"] not in WEBVIEW_TYPES:
                raise HTTPError(422, "invalid event", [f"events[{i}].type: webview events only "
                                                       f"({', '.join(sorted(WEBVIEW_TYPES))})"])
        return await self._accept(self._lines([self._stamp(e, claims) for e in data["events"]]))

    @staticmethod
    def _stamp(event: dict, claims: dict | None) -> dict:
        """Identity comes from the verified token only; a browser cannot claim a conversation."""
        identity = {k: v for k, v in as_dict(event.get("identity")).items() if k == "anonymous_id"}
        event = {k: v for k, v in event.items() if k not in ("conversation_id", "identity")}
        event["channel"] = "webview"
        if claims is not None:
            event["conversation_id"] = claims["cid"]
            identity["channel_user_id"] = claims["sub"]
        if identity:
            event["identity"] = identity
        return event

    # --- operations ----------------------------------------------------------

    def _ready(self):
        committer = self.committer
        if committer is None:
            return 503, {"status": "starting"}, []
        if committer.full:
            return 503, {"status": "spool full"}, self._retry_after()
        return 200, {"status": "ready", "spool_bytes": committer.spool_bytes}, []

    def _metrics(self) -> str:
        committer = self.committer
        fsync = committer.fsync if committer else FsyncHistogram()
        lines = [
            "# HELP journey_events_accepted_total Events made durable and acknowledged.",
            "# TYPE journey_events_accepted_total counter",
            f"journey_events_accepted_total {self.accepted}",
            "# HELP journey_requests_rejected_total Requests refused, by HTTP status.",
            "# TYPE journey_requests_rejected_total counter",
            *(f'journey_requests_rejected_total{{status="{s}",reason="{REJECT_REASONS.get(s, "other")}"}} {n}'
              for s, n in sorted(self.rejected.items())),
            ("# HELP journey_requests_received_total Requests on every route but the GETs of health, readiness, "
             "metrics, OpenAPI and static files; received = accepted + rejected + throttled."),
            "# TYPE journey_requests_received_total counter",
            f"journey_requests_received_total {self.received}",
            "# HELP journey_requests_accepted_total Requests answered 2xx (events stored, handshakes issued, ...).",
            "# TYPE journey_requests_accepted_total counter",
            f"journey_requests_accepted_total {self.answered}",
            ("# HELP journey_requests_throttled_total Requests answered 429 by a rate limit, by bucket: "
             "api_key (a valid key or the signed WhatsApp source) or client_ip."),
            "# TYPE journey_requests_throttled_total counter",
            *(f'journey_requests_throttled_total{{reason="{limit}"}} {n}' for limit, n in sorted(self.throttled.items())),
            "# HELP journey_spool_bytes Bytes in open and sealed, not yet loaded, spool segments.",
            "# TYPE journey_spool_bytes gauge",
            f"journey_spool_bytes {committer.spool_bytes if committer else 0}",
            "# HELP journey_fsync_seconds Time of one group commit (write + fsync).",
            "# TYPE journey_fsync_seconds histogram",
            *(f'journey_fsync_seconds_bucket{{le="{b}"}} {n}' for b, n in zip(fsync.BOUNDS, fsync.buckets)),
            f'journey_fsync_seconds_bucket{{le="+Inf"}} {fsync.count}',
            f"journey_fsync_seconds_sum {fsync.sum:.6f}",
            f"journey_fsync_seconds_count {fsync.count}",
        ]
        return "\n".join(lines) + "\n"


WHATSAPP_PATH = "/v1/webhooks/whatsapp"
WHATSAPP_SOURCE = ("webhook", "whatsapp")  # its bucket; a tuple never equals an API key
THROTTLE_REASONS = {"api_key": "per API key", "client_ip": "per client address"}
# Health, metrics and static files: never rate limited, left out of the request counts.
OPERATIONAL_GETS = frozenset(("/healthz", "/readyz", "/metrics", "/openapi.json", *STATIC_FILES))
ALLOWED_METHODS = {
    **{path: b"GET" for path in OPERATIONAL_GETS},
    **{path: b"POST" for path in ("/v1/events", "/v1/handshake", *SEGMENT_PATHS)},
    "/v1/webview/events": b"POST, OPTIONS",
    WHATSAPP_PATH: b"GET, POST",
}
REJECT_REASONS = {"400": "malformed_json", "401": "unauthorized", "403": "forbidden", "404": "no_route",
                  "405": "method", "413": "too_large", "422": "invalid_event", "503": "spool_unavailable"}


def create_app(settings: Settings | None = None, config: CollectorConfig | None = None) -> Collector:
    return Collector(settings or Settings.from_env(), config or CollectorConfig.load())


def serve(host: str, port: int) -> None:
    import gc

    import uvicorn

    settings, config = Settings.from_env(), CollectorConfig.load()
    # Every event allocates a few short-lived objects; with the default gen-0
    # threshold the cyclic GC runs every few requests and rescans the
    # long-lived heap. Freezing what start-up built and collecting less often
    # gave 20% more events/s in the wrk benchmark.
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    if config.generated_token_key:
        log.warning("JOURNEY_TOKEN_KEYS unset: handshake tokens use a key that dies with this process")
    uvicorn.run(Collector(settings, config), host=host, port=port, log_level="info",
                loop="uvloop", http="httptools", lifespan="on", access_log=False)


