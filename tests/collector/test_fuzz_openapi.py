"""The collector against its own OpenAPI document, under Schemathesis, with
every adapter's secret configured and used: WhatsApp calls signed with a
generated app secret over the exact bytes sent, Segment calls with the write
key, server calls with the API key, webview calls with a valid token, the
verification challenge with the verify token. So generated bodies reach the
parsing and mapping code instead of stopping at the signature or key check;
each operation asserts how many of its calls got past authentication.

The application runs in this process (Schemathesis' ASGI transport) on a real
spool: the loopback server is fuzzed in test_fuzz.py and test_slow_clients.py.
"""

from __future__ import annotations

import base64
import secrets
from collections import Counter
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from hypothesis import given, settings
from schemathesis import GenerationMode
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import ignored_auth, negative_data_rejection, positive_data_acceptance

from ingestion.collector.routes import ROUTES, WHATSAPP_PATH
from tests.collector.fuzzing import PROBLEM, PROPERTY, whatsapp_signature
from tests.collector.inprocess import InProcessCollector

OPERATIONS = [(route.path, op.method, op.key) for route in ROUTES if route.documented for op in route.operations]
# What a caller proves, by route: an API key (Bearer), a Segment write key (Basic), a signature, a token.
GUARDED = {path for path, _, key in OPERATIONS if key} | {WHATSAPP_PATH, "/v1/webview/events", "/v1/webview/session"}
# Generated from the document's JSON Schemas (a branch per event type and field), a case costs ten times
# a labelled example of test_fuzz_events.py, which carries the 1,000 examples per route; here each
# operation runs enough positive and negative cases for its secrets to be exercised past authentication.
CONFORMANCE = settings(PROPERTY, max_examples=100)
LEAST_PAST_AUTH = 20


class Credentials(requests.auth.AuthBase):
    """Authenticates each prepared request (its final bytes) as the route's real caller would."""

    def __init__(self, collector: InProcessCollector, secret: str):
        self.keys = {"apiKey": f"Bearer {collector.api_key}",
                     "segmentWriteKey": "Basic " + base64.b64encode(f"{collector.api_key}:".encode()).decode()}
        self.routes = {path: key for path, _, key in OPERATIONS if key}
        self.secret = secret

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        path = urlsplit(request.url).path
        if path == WHATSAPP_PATH and request.method == "POST":
            body = request.body or b""
            request.headers["X-Hub-Signature-256"] = whatsapp_signature(
                body.encode() if isinstance(body, str) else body, self.secret)
        elif path in self.routes:
            request.headers["Authorization"] = self.keys[self.routes[path]]
        return request


@pytest.fixture
def api(tmp_path):
    """(the application, its schema loaded from its own /openapi.json, its credentials, its verify token)."""
    secret, verify = secrets.token_hex(16), secrets.token_urlsafe(12)
    collector = InProcessCollector(tmp_path, {"JOURNEY_WHATSAPP_APP_SECRET": secret,
                                              "JOURNEY_WHATSAPP_VERIFY_TOKEN": verify,
                                              "JOURNEY_RATE_LIMIT_IP_RPS": "0"})
    schema = schemathesis.openapi.from_asgi("/openapi.json", collector.app)
    yield collector, schema, Credentials(collector, secret), verify
    schemathesis.python.asgi.shutdown_lifespans()  # the group committer stops and closes its segment


def _session(case, credentials: Credentials) -> requests.Session:
    """A session that authenticates, unless the case's headers are the negative part (say, no API key)."""
    session = requests.Session()
    if case.meta is None or not case.meta.is_negative_at(ParameterLocation.HEADER):
        session.auth = credentials
    return session


def _with_secrets(case, collector: InProcessCollector, verify: str) -> None:
    """Positive cases carry a valid token or verify token where the route reads one from the body or query."""
    if case.meta is None or case.meta.generation.mode.is_negative:
        return
    if isinstance(case.body, dict) and "token" in case.body and case.path.startswith("/v1/webview/"):
        case.body["token"], _ = collector.config.token_keys.issue({"cid": "conv-fuzz", "sub": "h:fuzz"})
    if case.path == WHATSAPP_PATH and case.method == "GET":
        case.query = {**(case.query or {}), "hub.mode": "subscribe", "hub.verify_token": verify}


def _excluded(path: str, method: str) -> list:
    """Checks that do not hold by design. Positive acceptance: the contract has rules JSON Schema does
    not carry (a human message needs `actor.id`, no `occurred_at` far ahead), and such refusals must
    still name a field. Ignored auth: the credentials ride on every request here (test_security.py
    holds that each route refuses a missing or wrong one). Negative rejection on the webview routes (a
    browser's identity and conversation are replaced from the token, docs/decisions.md) and on
    WhatsApp (Meta retries a refused call forever: what it sends is stored or quarantined, never bounced)."""
    excluded = [positive_data_acceptance, ignored_auth]
    if path.startswith("/v1/webview/") or path == WHATSAPP_PATH:
        excluded.append(negative_data_rejection)
    return excluded


@pytest.mark.parametrize(("path", "method"), [(p, m) for p, m, _ in OPERATIONS])
def test_collector_conforms_to_its_openapi_document_past_its_secrets(api, path, method):
    collector, schema, credentials, verify = api
    operation = schema[path][method]
    has_input = any(operation.iter_parameters()) or operation.body
    cases = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
    if has_input:
        cases = cases | operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
    statuses: Counter[int] = Counter()

    @given(cases)
    @CONFORMANCE
    def call(case):
        _with_secrets(case, collector, verify)
        response = case.call_and_validate(session=_session(case, credentials), excluded_checks=_excluded(path, method))
        statuses[response.status_code] += 1
        assert response.status_code < 500, response.text
        if response.status_code == 422:
            body = response.json()
            assert body["error"] and all(PROBLEM.match(p) for p in body.get("problems", [])), body

    call()
    past_auth = sum(n for status, n in statuses.items() if status not in (401, 403))
    print(f"\nschemathesis {method} {path}: {sum(statuses.values())} calls, {past_auth} past authentication, "
          f"statuses {dict(sorted(statuses.items()))}")
    if path in GUARDED:
        assert past_auth >= LEAST_PAST_AUTH, statuses
    assert not any(status >= 500 for status in statuses), statuses
