"""The collector as a plain ASGI application (no framework: every request is
on the hot path of a durable acknowledgement, and the routes are few).

Its routes, with their methods, CORS and OpenAPI descriptions, are the table
`routes.ROUTES`; each names the `Collector` coroutine that answers it.

Rate limits (token buckets, `ratelimit.py`) run before any body is parsed:
per API key once the key is valid, per client IP on the webview routes and for
every request that fails authentication; health, metrics and static files are
not limited.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import parse_qs, urlencode

import orjson

from ingestion.collector.adapters import SEGMENT_PATHS, segment_calls, segment_event, webview_event, whatsapp_events
from ingestion.collector.commit import CommitHistogram, GroupCommitter, SinkFull
from ingestion.collector.deadlines import is_body_overdue, read_deadlines
from ingestion.collector.openapi import render
from ingestion.collector.ratelimit import THROTTLE_REASONS, Admission, RateLimiter, Throttled
from ingestion.collector.routes import ROUTES, STATIC_FILES, HTTPError
from ingestion.collector.tokens import REASONS as TOKEN_REASONS, TokenError
from ingestion.contract import WEBVIEW_TYPES, InvalidEvent
from ingestion.edge import Edge, utc_now_iso
from ingestion.privacy import pseudonymize
from ingestion.settings import CollectorConfig, Settings
from ingestion.sinks import open_sink
from ingestion.spool import encode, encode_all

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"


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
        # Webview requests refused for good (not 429/503, which the tracker retries), by (request, reason).
        self.webview_refused: Counter[tuple[str, str]] = Counter(
            {(request, reason): 0 for request in WEBVIEW_REQUESTS for reason in TOKEN_REASONS})
        self.admission = Admission(config.api_keys,
                                   RateLimiter.optional(config.rate_limit_key_rps, config.rate_limit_key_burst),
                                   RateLimiter.optional(config.rate_limit_ip_rps, config.rate_limit_ip_burst))
        # (method, path) -> (the coroutine answering it, whether an API key is admitted first)
        self._handlers = {(op.method, route.path): (getattr(self, op.handler), op.key is not None)
                          for route in ROUTES for op in route.operations}
        self._handlers.update({("OPTIONS", route.path): (self._preflight, False) for route in ROUTES if route.cors})
        # (method, path) -> the most bytes its request body may have (the route's `body_limit` setting)
        self._body_limits = {(op.method, route.path): getattr(config, op.body_limit)
                             for route in ROUTES for op in route.operations}
        self._allow = {route.path: route.allow for route in ROUTES}
        self._cors_methods = {route.path: route.allow for route in ROUTES if route.cors}
        self._openapi_doc: bytes | None = None

    # --- ASGI plumbing -------------------------------------------------------

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers = {k.lower(): v for k, v in scope["headers"]}
        origin = headers.get(b"origin", b"").decode("latin-1")
        method, path = scope["method"], scope["path"]
        counted = method != "GET" or path not in OPERATIONAL
        self.received += counted
        try:
            handler, keyed = self._handlers.get((method, path)) or self._no_route(method, path)
            if keyed:
                self.admission.key(scope, headers)
            status, body, extra = await handler(scope, receive, headers, origin)
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
        await self._send(send, status, body, extra + self._cors_headers(path, origin))

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

    async def _read_body(self, scope, receive, headers: dict[bytes, bytes]) -> bytes:
        limit = self._body_limits[scope["method"], scope["path"]]
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            raise HTTPError(413, f"request body over {limit} bytes")
        chunks, size = [], 0
        while True:
            message = await receive()
            if is_body_overdue(message):  # a slow client (deadlines.py)
                raise HTTPError(408, f"request body not received within {self.config.client_timeout_s:g} s",
                                headers=[(b"connection", b"close")])
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise HTTPError(413, f"request body over {limit} bytes")
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    # --- routing (the table is routes.ROUTES) ---------------------------------
    # Each route's coroutine takes (scope, receive, headers, origin) and returns
    # (status, body, extra headers); anything but 2xx it raises as HTTPError.

    def _no_route(self, method: str, path: str) -> NoReturn:
        allowed = self._allow.get(path)
        if allowed:  # RFC 9110: a 405 says which methods the route does take
            raise HTTPError(405, f"{method} not allowed on {path}", headers=[(b"allow", allowed)])
        raise HTTPError(404, "no such route")

    def _cors_headers(self, path: str, origin: str) -> list[tuple[bytes, bytes]]:
        methods = self._cors_methods.get(path)
        if methods is None or origin not in self.config.cors_origins:
            return []
        return [(b"access-control-allow-origin", origin.encode()), (b"vary", b"Origin"),
                (b"access-control-allow-methods", methods),
                (b"access-control-allow-headers", b"content-type"), (b"access-control-max-age", b"600")]

    async def _preflight(self, scope, receive, headers, origin):
        if origin not in self.config.cors_origins:
            raise HTTPError(403, "origin not allowed")
        return 204, (b"", b"text/plain"), []

    async def _events(self, scope, receive, headers, origin):
        body = await self._read_body(scope, receive, headers)
        return await self._accept(self._lines(self._events_of(self._loads(body))))

    async def _whatsapp(self, scope, receive, headers, origin):
        # The signature covers the body, so it is read (up to its route's limit) first; an
        # address whose bucket failed signatures emptied is refused before that.
        self.admission.ip_has_room(scope)
        body = await self._read_body(scope, receive, headers)
        problem = self._whatsapp_signature_problem(headers, body)
        self.admission.proven(scope, None if problem else WHATSAPP_SOURCE)
        if problem:
            raise HTTPError(401, problem)
        return await self._accept_mapped(whatsapp_events(self._loads(body)), "whatsapp")

    async def _segment(self, scope, receive, headers, origin):
        """Refused events of a Segment call are quarantined, but a body that is
        no Segment call at all is a client bug to answer, not to store nothing for."""
        path, data = scope["path"], await self._decode(scope, receive, headers)
        if not isinstance(data, dict):
            raise HTTPError(422, "expected a Segment call: a JSON object")
        if SEGMENT_PATHS[path] is None and not isinstance(data.get("batch"), list):
            raise HTTPError(422, "invalid batch", ["batch: expected a list of calls"])
        calls = segment_calls(path, data)
        status, result, extra = await self._accept_mapped([segment_event(c) for c in calls], "segment")
        return status, {"success": True, **result}, extra

    async def _decode(self, scope, receive, headers) -> Any:
        return self._loads(await self._read_body(scope, receive, headers))

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
                raise HTTPError(422, "invalid batch", ["events: expected a non-empty list of events"])
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
        """Hand the lines to the sink; 200 once it holds them durably (fsync or PubAck).

        Callers hand over encoded lines, so a request parked until the group
        commit holds its bytes, not thousands of decoded objects, and the
        requests in flight do not evict each other from the CPU cache (a third
        of the CPU per batch at 16 connections).
        """
        accepted = len(lines) - quarantined
        try:
            await self.committer.commit(lines)
        except SinkFull:
            raise HTTPError(503, "sink full, retry later", headers=self._retry_after()) from None
        except OSError as exc:
            log.error("the sink refused the write, nothing acknowledged: %s", exc)
            raise HTTPError(503, "sink unavailable, retry later", headers=self._retry_after()) from None
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

    async def _whatsapp_challenge(self, scope, receive, headers, origin):
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        mode, token = query.get("hub.mode", [""])[0], query.get("hub.verify_token", [""])[0]
        expected = self.config.whatsapp_verify_token
        if mode == "subscribe" and expected and hmac.compare_digest(token.encode(), expected.encode()):
            return 200, (query.get("hub.challenge", [""])[0].encode(), b"text/plain"), []
        self.admission.ip(scope)  # a verify-token guess
        raise HTTPError(403, "verification token mismatch")

    def _whatsapp_signature_problem(self, headers, body: bytes) -> str | None:
        """What is wrong with the HMAC-SHA256 of the raw bytes with the app
        secret, checked before any parsing; None when nothing is."""
        secret = self.config.whatsapp_app_secret
        if not secret:
            return "WhatsApp webhook not configured (JOURNEY_WHATSAPP_APP_SECRET)"
        signature = headers.get(b"x-hub-signature-256", b"").decode("latin-1")
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            return "X-Hub-Signature-256 does not match the body"
        return None

    # --- handshake and webview -----------------------------------------------

    async def _handshake(self, scope, receive, headers, origin):
        data = await self._decode(scope, receive, headers)
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

    async def _webview(self, scope, receive, headers, origin):
        with self._webview_refusals("batch"):
            data = await self._browser_body(scope, receive, headers, origin)
            if not isinstance(data.get("events"), list) or not data["events"]:
                raise HTTPError(422, "expected {\"token\": ..., \"events\": [...]}")
            claims, token = None, data.get("token")
            if token is not None and not isinstance(token, str):
                raise HTTPError(422, "invalid token", ["token: expected a string (the handshake token) or null"])
            if token:
                claims = self.config.token_keys.verify(token)
            for i, event in enumerate(data["events"]):
                if not isinstance(event, dict) or not isinstance(event.get("type"), str) \
                        or event["type"] not in WEBVIEW_TYPES:
                    raise HTTPError(422, "invalid event", [f"events[{i}].type: webview events only "
                                                           f"({', '.join(sorted(WEBVIEW_TYPES))})"])
            lines = self._lines([webview_event(e, claims) for e in data["events"]])
        return await self._accept(lines)

    async def _webview_session(self, scope, receive, headers, origin):
        """A page token for a still-valid link or page token (docs/contract.md §5.2)."""
        with self._webview_refusals("renewal"):
            token = (await self._browser_body(scope, receive, headers, origin)).get("token")
            if not isinstance(token, str) or not token:
                raise HTTPError(422, "invalid token", ["token: expected a string (a link or page token)"])
            now = time.time()
            renewed, expires = self.config.token_keys.renew(token, now)
        # expires_in, rounded down: the tracker schedules its next renewal from it, whatever its clock says.
        return 200, {"token": renewed, "expires_at": expires, "expires_in": int(expires - now)}, []

    async def _browser_body(self, scope, receive, headers, origin) -> dict:
        """The JSON object a browser posted, once its address has room and its origin is allowed."""
        self.admission.ip(scope)
        # Browsers send Origin on same-origin POSTs too: the collector's own
        # pages (the sample webview) are always allowed.
        own = f"{scope.get('scheme', 'http')}://{headers.get(b'host', b'').decode('latin-1')}"
        if origin and origin != own and origin not in self.config.cors_origins:
            raise HTTPError(403, "origin not allowed")
        data = await self._decode(scope, receive, headers)
        if not isinstance(data, dict):
            raise HTTPError(422, "expected a JSON object")
        return data

    @contextmanager
    def _webview_refusals(self, request: str):
        """Count a refused webview request by why (journey_webview_refused_total), so a
        tracker's refused batch or renewal is never lost unseen; a refused token is a 401."""
        try:
            yield
        except TokenError as exc:
            self.webview_refused[(request, exc.reason)] += 1
            raise HTTPError(401, f"handshake token refused: {exc}") from None
        except HTTPError as err:
            if err.status not in (429, 503):  # retried by the tracker, not refused
                self.webview_refused[(request, REJECT_REASONS.get(str(err.status), "other"))] += 1
            raise

    # --- operations ----------------------------------------------------------

    async def _healthz(self, scope, receive, headers, origin):
        return 200, {"status": "ok"}, []

    async def _readyz(self, scope, receive, headers, origin):
        committer = self.committer
        if committer is None:
            return 503, {"status": "starting"}, []
        if committer.full:
            return 503, {"status": "sink full"}, self._retry_after()
        return 200, {"status": "ready", "spool_bytes": committer.spool_bytes}, []

    async def _openapi(self, scope, receive, headers, origin):
        """The document of this collector's configuration (its size limits)."""
        if self._openapi_doc is None:
            self._openapi_doc = render(self.config)
        return 200, (self._openapi_doc, b"application/json"), []

    async def _static(self, scope, receive, headers, origin):
        name, content_type = STATIC_FILES[scope["path"]]
        return 200, ((STATIC_DIR / name).read_bytes(), content_type), []

    async def _metrics(self, scope, receive, headers, origin):
        committer = self.committer
        commits = committer.commits if committer else CommitHistogram()
        lines = [
            *_family("journey_events_accepted_total", "counter", "Events made durable and acknowledged.",
                     [("", self.accepted)]),
            *_family("journey_requests_rejected_total", "counter", "Requests refused, by HTTP status.",
                     [(f'{{status="{s}",reason="{REJECT_REASONS.get(s, "other")}"}}', n)
                      for s, n in sorted(self.rejected.items())]),
            *_family("journey_requests_received_total", "counter",
                     "Requests on every route but the GETs of health, readiness, metrics, OpenAPI and static files; "
                     "received = accepted + rejected + throttled.", [("", self.received)]),
            *_family("journey_requests_accepted_total", "counter",
                     "Requests answered 2xx (events stored, handshakes issued, ...).", [("", self.answered)]),
            *_family("journey_requests_throttled_total", "counter",
                     "Requests answered 429 by a rate limit, by bucket: "
                     "api_key (a valid key or the signed WhatsApp source) or client_ip.",
                     [(f'{{reason="{limit}"}}', n) for limit, n in sorted(self.throttled.items())]),
            *_family("journey_webview_refused_total", "counter",
                     "Webview requests refused for good, by request (batch of events, or token renewal) and "
                     "reason: a refused token (expired, lifetime, invalid, ...) or the status's reason.",
                     [(f'{{request="{request}",reason="{reason}"}}', n)
                      for (request, reason), n in sorted(self.webview_refused.items())]),
            *_family("journey_spool_bytes", "gauge", "Bytes in open and sealed, not yet loaded, spool segments.",
                     [("", committer.spool_bytes if committer else 0)]),
            *_family("journey_commit_seconds", "histogram", COMMIT_HELP, commits.samples()),
            # Its name before there were other sinks; kept for what already scrapes it.
            *_family("journey_fsync_seconds", "histogram", FSYNC_HELP, commits.samples()),
        ]
        return 200, (("\n".join(lines) + "\n").encode(), b"text/plain; version=0.0.4"), []


def _family(name: str, kind: str, help_text: str, samples) -> list[str]:
    """A metric family in the Prometheus text format; `samples` are (name suffix and labels, value)."""
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *(f"{name}{tail} {v}" for tail, v in samples)]


WEBVIEW_REQUESTS = ("batch", "renewal")  # journey_webview_refused_total's `request` label
WHATSAPP_SOURCE = ("webhook", "whatsapp")  # its bucket; a tuple never equals an API key
# Health, metrics, documents and static files: their GETs are left out of the request counts.
OPERATIONAL = frozenset(route.path for route in ROUTES if route.operational)
COMMIT_HELP = ("Time of one group commit, the sink's append: write + fsync of the file spool, "
               "publish + PubAck of every record on NATS JetStream.")
FSYNC_HELP = "Time of one group commit (write + fsync); the same as journey_commit_seconds, under its first name."
REJECT_REASONS = {"400": "malformed_json", "401": "unauthorized", "403": "forbidden", "404": "no_route",
                  "405": "method", "408": "too_slow", "413": "too_large", "422": "invalid_event",
                  "503": "spool_unavailable"}  # named before NATS; kept for what alerts on it


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
                loop="uvloop", http=read_deadlines(config.client_timeout_s), lifespan="on", access_log=False)


