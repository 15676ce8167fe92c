"""Token renewal over real HTTP on loopback (docs/contract.md §5.2): a still-valid
link or page token buys a page token for the same conversation, person and
audience, never past the visit's lifetime cap; every refusal is a 401 counted
by reason in `/metrics`, and so is a batch refused for its token."""

from __future__ import annotations

import json
import re
import time

import jwt
import pytest

from ingestion.collector.tokens import AUDIENCE
from ingestion.privacy import pseudonymize
from ingestion.settings import CollectorConfig
from tests.support.collector_server import request

TTL_S, MAX_SESSION_S = 60, 90
COLLECTOR_ENV = {"JOURNEY_TOKEN_TTL_S": str(TTL_S), "JOURNEY_TOKEN_MAX_SESSION_S": str(MAX_SESSION_S)}
CONVERSATION, PHONE, ORIGIN = "conv-renew", "+31622222222", "https://shop.example"
REFUSED = re.compile(r'^journey_webview_refused_total\{request="(\w+)",reason="(\w+)"\} (\S+)$', re.M)


def _renew(collector, token, origin: str = ORIGIN):
    return collector.post("/v1/webview/session", {"token": token}, key=None,
                          headers={"Content-Type": "text/plain", "Origin": origin})


def _claims(collector, token: str) -> dict:
    return jwt.decode(token, collector.token_key, algorithms=["HS256"], audience=AUDIENCE)


def _signed(collector, key: str | None = None, **claims) -> str:
    """A token signed with the collector's key (or `key`): what a leak, a forgery or an old page holds."""
    now = int(time.time())
    payload = {"cid": CONVERSATION, "sub": "h:renewal", "aud": AUDIENCE, "iat": now, "exp": now + TTL_S, **claims}
    return jwt.encode(payload, key or collector.token_key, algorithm="HS256", headers={"kid": "k1"})


def _refused(collector) -> dict[tuple[str, str], float]:
    metrics = request("GET", collector.url + "/metrics").body.decode()
    return {(req, reason): float(n) for req, reason, n in REFUSED.findall(metrics)}


def _link(collector) -> str:
    response = collector.post("/v1/handshake", {"conversation_id": CONVERSATION, "channel_user_id": PHONE})
    assert response.status == 200, response.body
    return response.json()["token"]


def _spooled(collector, event_id: str) -> dict:
    """The record of `event_id` in the spool (fsynced before its 200, so readable in an open segment)."""
    spool = collector.settings().spool_dir
    for path in [*spool.glob("active/*.open"), *spool.glob("ready/*.ndjson")]:
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if record.get("event_id") == event_id:
                return record
    raise AssertionError(f"{event_id} not in the spool")


def test_a_renewed_token_is_a_page_token_for_the_same_conversation_person_and_audience(collector):
    link = _link(collector)
    first = _renew(collector, link)
    assert first.status == 200, first.body
    assert first.headers["access-control-allow-origin"] == ORIGIN
    page = first.json()
    assert TTL_S - 1 <= page["expires_in"] <= TTL_S
    again = _renew(collector, page["token"])  # a page token renews too, keeping its link's issue time
    assert again.status == 200, again.body
    link_claims, page_claims, next_claims = (_claims(collector, t) for t in (link, page["token"],
                                                                               again.json()["token"]))
    assert link_claims["typ"] == "link" and page_claims["typ"] == next_claims["typ"] == "page"
    for claims in (page_claims, next_claims):
        assert (claims["cid"], claims["sub"], claims["aud"]) == (CONVERSATION, link_claims["sub"], AUDIENCE)
        assert claims["link_iat"] == link_claims["iat"]
    assert page["expires_at"] == page_claims["exp"] <= page_claims["iat"] + TTL_S

    event = {"event_id": "renewed-1", "type": "webview.opened", "occurred_at": "2026-11-02T09:01:00Z",
             "properties": {"funnel": "change_address"}}
    sent = collector.post("/v1/webview/events", {"token": again.json()["token"], "events": [event]}, key=None,
                          headers={"Content-Type": "text/plain"})
    assert sent.status == 200, sent.body
    record = _spooled(collector, "renewed-1")
    assert record["conversation_id"] == CONVERSATION
    assert record["identity"]["channel_user_id"] == pseudonymize(PHONE, collector.hash_key.encode())


def test_no_renewal_reaches_past_the_lifetime_cap(collector):
    """The link was issued 60 s ago: 30 s of the 90 s cap are left, less than a TTL."""
    linked = int(time.time()) - 60
    renewed = _renew(collector, _signed(collector, typ="page", link_iat=linked))
    assert renewed.status == 200, renewed.body
    assert renewed.json()["expires_at"] == _claims(collector, renewed.json()["token"])["exp"] == linked + MAX_SESSION_S


@pytest.mark.parametrize(("reason", "token_of"), [
    ("expired", lambda c: _signed(c, exp=int(time.time()) - 1)),
    ("lifetime", lambda c: _signed(c, typ="page", link_iat=int(time.time()) - MAX_SESSION_S)),
    ("invalid", lambda c: _signed(c, key="an-attacker-key-that-is-long-enough-000000")),   # forged
    ("invalid", lambda c: _link(c)[:-3] + "abc"),                                          # tampered
    ("wrong_audience", lambda c: _signed(c, aud="someone-else")),
    ("unknown_key", lambda c: jwt.encode({"cid": "x", "aud": AUDIENCE, "exp": int(time.time()) + 60},
                                         key="", algorithm="none")),                      # alg none
    ("malformed", lambda c: "not-a-jwt"),
], ids=["expired", "past-cap", "forged", "tampered", "wrong-audience", "alg-none", "malformed"])
def test_a_refused_renewal_is_a_401_counted_by_reason(collector, reason, token_of):
    token = token_of(collector)
    before = _refused(collector)
    response = _renew(collector, token)
    assert response.status == 401 and "token refused" in response.json()["error"], response.body
    after = _refused(collector)
    assert {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)} == \
        {("renewal", reason): 1}


def test_a_batch_refused_for_its_token_is_counted_and_so_are_bad_renewal_requests(collector):
    before = _refused(collector)
    expired = _signed(collector, exp=int(time.time()) - 1)
    event = {"event_id": "late-1", "type": "webview.opened", "occurred_at": "2026-11-02T09:01:00Z",
             "properties": {"funnel": "change_address"}}
    batch = collector.post("/v1/webview/events", {"token": expired, "events": [event]}, key=None)
    assert batch.status == 401 and "expired" in batch.json()["error"]
    no_token = collector.post("/v1/webview/session", {"token": 7}, key=None)
    assert no_token.status == 422 and no_token.json()["problems"][0].startswith("token:")
    foreign = _renew(collector, _link(collector), origin="https://evil.example")
    assert foreign.status == 403 and "access-control-allow-origin" not in foreign.headers
    after = _refused(collector)
    assert {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)} == {
        ("batch", "expired"): 1, ("renewal", "invalid_event"): 1, ("renewal", "forbidden"): 1}


def test_the_cap_may_not_be_shorter_than_a_token():
    with pytest.raises(ValueError, match="JOURNEY_TOKEN_MAX_SESSION_S must be at least JOURNEY_TOKEN_TTL_S"):
        CollectorConfig.load({"JOURNEY_TOKEN_TTL_S": "900", "JOURNEY_TOKEN_MAX_SESSION_S": "600"})
    assert CollectorConfig.load({}).token_keys.max_session_s == 12 * 3600
