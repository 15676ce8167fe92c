"""Rate limits: the token bucket under an injected clock (no sleeps), and a
real collector on loopback with small limits, where a burst gets exactly its
2xx then 429 + Retry-After, nothing refused is stored, and the metrics add up.

Timing margins: the HTTP tests use buckets refilling one token every 4 s, so a
burst of a few sequential requests (milliseconds each) can never earn a token
it was not meant to; only one test sleeps, for the Retry-After it was given.
Client addresses come from X-Forwarded-For, which uvicorn trusts from
127.0.0.1 only (FORWARDED_ALLOW_IPS), so every test has buckets of its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import socket
import time
from itertools import count

import pytest

from ingestion.collector.app import Collector
from ingestion.collector.ratelimit import RateLimiter, retry_after
from ingestion.settings import CollectorConfig, Settings
from tests.conftest import event
from tests.support.collector_server import CollectorProcess, Response, request

# --- the bucket, with an injected clock -----------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _admitted(limiter: RateLimiter, key: str, requests: int) -> int:
    return sum(limiter.take(key) == 0.0 for _ in range(requests))


def test_a_bucket_admits_exactly_its_burst_then_names_the_wait():
    clock = Clock()
    limiter = RateLimiter(rate=3, burst=7, clock=clock)  # 1/3 s is no exact float: sums must not cost a token
    assert _admitted(limiter, "k", 7) == 7
    assert limiter.take("k") == pytest.approx(1 / 3)
    assert limiter.wait("k") == pytest.approx(1 / 3)  # a peek takes nothing
    assert limiter.take("k") == pytest.approx(1 / 3)  # and a refusal costs nothing either
    clock.now += 1 / 3 - 1e-6
    assert limiter.take("k") > 0
    clock.now += 2e-6
    assert limiter.take("k") == 0.0 and limiter.take("k") > 0


def test_a_bucket_refills_at_its_rate_and_never_above_its_burst():
    clock = Clock()
    limiter = RateLimiter(rate=2, burst=5, clock=clock)
    admitted = 0
    for tick in range(100):  # a client asking 10 times a second for 9.9 s
        clock.now = 1000 + tick / 10
        admitted += _admitted(limiter, "k", 1)
    assert admitted == 5 + 19  # the burst, then one every 0.5 s (the 20th would come at 10 s)
    clock.now += 3600  # idle for an hour: a full bucket, not 7,200 tokens
    assert _admitted(limiter, "k", 20) == 5


def test_buckets_are_per_key():
    limiter = RateLimiter(rate=1, burst=2, clock=Clock())
    assert _admitted(limiter, "a", 5) == 2
    assert _admitted(limiter, "b", 5) == 2
    assert _admitted(limiter, ("webhook", "whatsapp"), 5) == 2


def test_idle_buckets_are_evicted_and_the_number_of_buckets_is_capped():
    clock = Clock()
    limiter = RateLimiter(rate=1, burst=10, max_buckets=100, clock=clock)
    for i in range(10):
        limiter.take(f"idle-{i}")
    clock.now += 1  # every bucket is full again: forgetting one changes no answer
    for i in range(5):  # each new bucket first drops up to two full ones from the old end
        limiter.take(f"new-{i}")
    assert len(limiter) == 5
    for i in range(10_000):  # a flood of new addresses
        limiter.take(f"flood-{i}")
    assert len(limiter) == 100


def test_a_throttled_caller_that_keeps_knocking_is_not_forgotten_under_the_cap():
    clock = Clock()
    limiter = RateLimiter(rate=0.001, burst=1, max_buckets=3, clock=clock)
    assert limiter.take("noisy") == 0.0
    for i in range(50):  # other callers push the least recently used buckets out
        limiter.take(f"other-{i}")
        assert limiter.take("noisy") > 0


@pytest.mark.parametrize(("wait", "header"), [(1e-9, 1), (0.5, 1), (1.0, 1), (1.01, 2), (3.7, 4)])
def test_retry_after_is_whole_seconds_and_at_least_one(wait, header):
    assert retry_after(wait) == header


def test_limits_configuration():
    defaults = CollectorConfig.load({})
    assert (defaults.rate_limit_key_rps, defaults.rate_limit_key_burst) == (5000, 10000)
    assert (defaults.rate_limit_ip_rps, defaults.rate_limit_ip_burst) == (50, 100)
    config = CollectorConfig.load({"JOURNEY_RATE_LIMIT_KEY_RPS": "0", "JOURNEY_RATE_LIMIT_IP_RPS": "2.5",
                                   "JOURNEY_RATE_LIMIT_IP_BURST": "4"})
    app = Collector(Settings.from_env({"JOURNEY_HASH_KEY": "k" * 32}), config)
    assert app.admission.key_limits is None  # 0 turns the limit off
    assert (app.admission.ip_limits.rate, app.admission.ip_limits.burst) == (2.5, 4)
    for name, value in [("RPS", "-1"), ("BURST", "0"), ("BURST", "0.5"), ("RPS", "fast"), ("RPS", "inf")]:
        with pytest.raises(ValueError, match=f"JOURNEY_RATE_LIMIT_IP_{name}"):
            CollectorConfig.load({f"JOURNEY_RATE_LIMIT_IP_{name}": value})


# --- a real collector with small limits -----------------------------------------

RATE, KEY_BURST, IP_BURST = 0.25, 5, 3  # a token every 4 s
KEYS = [f"key-{name}-{secrets.token_hex(8)}" for name in ("a", "b", "c", "d", "e")]
APP_SECRET = secrets.token_hex(16)
ORIGIN = "https://shop.example"
ids = count()
# The module's collector (tests/collector/conftest.py).
COLLECTOR_ENV = {
    "JOURNEY_API_KEYS": ",".join(KEYS), "JOURNEY_WHATSAPP_APP_SECRET": APP_SECRET,
    "JOURNEY_RATE_LIMIT_KEY_RPS": str(RATE), "JOURNEY_RATE_LIMIT_KEY_BURST": str(KEY_BURST),
    "JOURNEY_RATE_LIMIT_IP_RPS": str(RATE), "JOURNEY_RATE_LIMIT_IP_BURST": str(IP_BURST)}


def _message(prefix: str) -> dict:
    return event(f"{prefix}-{next(ids)}", "message.received", "2026-11-02T09:00:00Z", "conv-rl", message_id="m")


def _burst(server: CollectorProcess, requests: int, prefix: str, key: str | None, ip: str,
           path: str = "/v1/events") -> tuple[list[Response], set[str]]:
    """Sequential posts of one event each; the responses and the ids acknowledged."""
    responses, acknowledged = [], set()
    for _ in range(requests):
        data = _message(prefix)
        if path == "/v1/webview/events":
            data = {"events": [{"event_id": data["event_id"], "type": "webview.opened",
                                "occurred_at": data["occurred_at"], "properties": {"funnel": "f"}}]}
        response = server.post(path, data, key=key, headers={"X-Forwarded-For": ip, "Origin": ORIGIN})
        responses.append(response)
        if response.status == 200:
            acknowledged.add(data["event_id"] if "event_id" in data else data["events"][0]["event_id"])
    return responses, acknowledged


def _assert_throttled(response: Response, reason: str) -> int:
    assert response.status == 429
    assert reason in response.json()["error"]
    seconds = int(response.headers["retry-after"])
    assert 1 <= seconds <= 1 / RATE
    return seconds


def _spooled(server: CollectorProcess, prefix: str) -> set[str]:
    """Event ids with this prefix in every spool segment, open or sealed (each line fsynced before its 2xx)."""
    lines = [json.loads(line) for path in (server.home / "spool").rglob("*") if path.is_file()
             for line in path.read_bytes().splitlines()]
    stored = [record.get("event_id", "") for record in lines]
    return {i for i in stored if i.startswith(prefix + "-")}


def test_a_burst_over_the_key_limit_gets_exactly_the_burst_then_429_and_is_admitted_after_retry_after(collector):
    responses, acknowledged = _burst(collector, KEY_BURST + 3, "burst", KEYS[0], "192.0.2.1")
    assert [r.status for r in responses] == [200] * KEY_BURST + [429] * 3
    seconds = [_assert_throttled(r, "per API key") for r in responses[KEY_BURST:]]
    time.sleep(seconds[-1])
    again, acknowledged_again = _burst(collector, 2, "burst", KEYS[0], "192.0.2.1")
    assert [r.status for r in again] == [200, 429]  # one token refilled, not a new burst
    assert _spooled(collector, "burst") == acknowledged | acknowledged_again  # stored = acknowledged
    assert len(acknowledged | acknowledged_again) == KEY_BURST + 1


def test_one_keys_exhaustion_leaves_other_keys_and_the_segment_write_key_share_its_bucket(collector):
    exhausted, noisy = _burst(collector, KEY_BURST + 1, "noisy", KEYS[1], "192.0.2.2")
    assert [r.status for r in exhausted] == [200] * KEY_BURST + [429]
    others, quiet = _burst(collector, KEY_BURST + 1, "quiet", KEYS[2], "192.0.2.2")  # same address, other key
    assert [r.status for r in others] == [200] * KEY_BURST + [429]
    segment = {"batch": [{"type": "track", "event": "message.received", "messageId": "seg-rl-1",
                          "timestamp": "2026-11-02T09:00:00Z", "properties": {"conversation_id": "c"}}]}
    for key, status in [(KEYS[1], 429), (KEYS[3], 200)]:  # Segment's write key is the same key, same bucket
        basic = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
        response = collector.post("/v1/batch", segment, key=None, headers={"Authorization": basic})
        assert response.status == status, response.body
    assert (_spooled(collector, "noisy"), _spooled(collector, "quiet")) == (noisy, quiet)
    assert len(noisy) == len(quiet) == KEY_BURST


def test_unknown_keys_fall_to_the_address_bucket_and_a_valid_key_from_there_is_not_throttled(collector):
    ip = "192.0.2.3"
    guesses, _ = _burst(collector, IP_BURST + 2, "guess", "not-a-key", ip)
    assert [r.status for r in guesses] == [401] * IP_BURST + [429] * 2
    _assert_throttled(guesses[-1], "per client address")
    missing = collector.post("/v1/handshake", {}, key=None, headers={"X-Forwarded-For": ip})
    _assert_throttled(missing, "per client address")  # no key at all: the same bucket
    valid, _ = _burst(collector, 1, "guess", KEYS[4], ip)
    assert [r.status for r in valid] == [200]  # a valid key is judged by its own bucket
    assert len(_spooled(collector, "guess")) == 1


def test_the_webview_route_is_limited_per_address_and_health_is_not(collector):
    responses, acknowledged = _burst(collector, IP_BURST + 2, "wv", None, "198.51.100.1", "/v1/webview/events")
    assert [r.status for r in responses] == [200] * IP_BURST + [429] * 2
    _assert_throttled(responses[-1], "per client address")
    assert responses[-1].headers["access-control-allow-origin"] == ORIGIN  # the tracker can read the 429
    neighbour, more = _burst(collector, 1, "wv", None, "198.51.100.2", "/v1/webview/events")
    assert [r.status for r in neighbour] == [200]
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/tracker.js"):
        assert request("GET", collector.url + path, headers={"X-Forwarded-For": "198.51.100.1"}).status == 200
    assert _spooled(collector, "wv") == acknowledged | more and len(acknowledged | more) == IP_BURST + 1


def test_webhook_failed_signatures_are_throttled_per_address_before_the_body_is_read(collector):
    ip = "203.0.113.5"
    body = json.dumps({"object": "whatsapp_business_account", "entry": []}).encode()
    forged = [collector.post("/v1/webhooks/whatsapp", body, key=None,
                             headers={"X-Forwarded-For": ip, "X-Hub-Signature-256": "sha256=00"})
              for _ in range(IP_BURST + 1)]
    assert [r.status for r in forged] == [401] * IP_BURST + [429]
    # Now the address is refused from its headers alone: a body announced but never sent gets its 429.
    head = (f"POST /v1/webhooks/whatsapp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: {ip}\r\n"
            f"Content-Type: application/json\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n")
    with socket.create_connection(("127.0.0.1", collector.port), timeout=10) as sock:
        sock.sendall(head.encode())
        status_line = sock.recv(65536).split(b"\r\n", 1)[0]
    assert status_line.split(b" ")[1] == b"429"
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    signed = collector.post("/v1/webhooks/whatsapp", body, key=None,
                            headers={"X-Forwarded-For": "203.0.113.6", "X-Hub-Signature-256": signature})
    assert signed.status == 200  # Meta, signing, is judged by the webhook source's own bucket


def _counters(server: CollectorProcess) -> dict[str, float]:
    text = request("GET", server.url + "/metrics").body.decode()
    found: dict[str, float] = {}
    for name, labels, value in re.findall(r"^(journey_requests_\w+_total)(\{[^}]*\})? (\S+)$", text, re.MULTILINE):
        key = name + (labels if "throttled" in name else "")
        found[key] = found.get(key, 0.0) + float(value)
    return found


def test_metrics_count_throttled_requests_and_received_is_accepted_plus_rejected_plus_throttled(collector):
    before = _counters(collector)
    responses, _ = _burst(collector, IP_BURST + 4, "metrics", None, "198.51.100.9", "/v1/webview/events")
    guesses, _ = _burst(collector, 1, "metrics", "wrong", "198.51.100.10")
    after = _counters(collector)
    delta = {name: after[name] - before.get(name, 0.0) for name in after}
    assert [r.status for r in responses + guesses] == [200] * IP_BURST + [429] * 4 + [401]
    assert delta["journey_requests_received_total"] == IP_BURST + 5
    assert delta["journey_requests_accepted_total"] == IP_BURST
    assert delta["journey_requests_rejected_total"] == 1
    assert delta['journey_requests_throttled_total{reason="client_ip"}'] == 4
    assert delta['journey_requests_throttled_total{reason="api_key"}'] == 0
    throttled = sum(v for name, v in after.items() if name.startswith("journey_requests_throttled_total"))
    assert after["journey_requests_received_total"] == (after["journey_requests_accepted_total"]
                                                        + after["journey_requests_rejected_total"] + throttled)
