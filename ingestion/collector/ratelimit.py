"""Token buckets per caller: per API key (or verified webhook source) and per
client IP, and the admission of a request by them (`Admission`: who the caller
is, then whether its bucket has a token; 429 `Throttled` when it has none).

A bucket holds up to `burst` tokens, refills at `rate` tokens per second and a
request takes one. Each bucket is stored as one number, the monotonic time at
which it will be full again (`full_at`): a bucket whose `full_at` is in the past
is full, so its tokens are `burst - rate * max(0, full_at - now)`. Taking a
token is then O(1) arithmetic, and a full bucket carries no information: it may
be forgotten without changing any answer.

Memory is bounded: buckets sit in least-recently-used order; before a new
bucket is made, up to two full buckets are dropped from the old end (idle
eviction), and at `max_buckets` the least recently used one is dropped even if
it is not full (a flood of distinct addresses then costs each one its history,
never memory). A known key's request costs a lookup, a move and a store.
"""

from __future__ import annotations

import base64
import hmac
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

from ingestion.collector.routes import HTTPError

MAX_BUCKETS = 65_536
THROTTLE_REASONS = {"api_key": "per API key", "client_ip": "per client address"}


class RateLimiter:
    def __init__(self, rate: float, burst: float, max_buckets: int = MAX_BUCKETS,
                 clock: Callable[[], float] = time.monotonic):
        if rate <= 0 or burst < 1 or max_buckets < 1:
            raise ValueError(f"rate must be > 0 and burst >= 1, got rate={rate}, burst={burst}")
        self.rate, self.burst, self.max_buckets, self.clock = rate, burst, max_buckets, clock
        self._interval = 1.0 / rate                  # seconds one token takes to refill
        # How far full_at may run ahead of now and still admit (burst - 1 tokens
        # taken), plus a nanosecond so float sums of 1/rate never refuse the last token of a burst.
        self._slack = (burst - 1) / rate + 1e-9
        self._full_at: OrderedDict[Hashable, float] = OrderedDict()

    @classmethod
    def optional(cls, rate: float, burst: float) -> RateLimiter | None:
        """A limiter, or None when `rate` is 0 (the limit is off)."""
        return cls(rate, burst) if rate > 0 else None

    def __len__(self) -> int:
        return len(self._full_at)

    def take(self, key: Hashable) -> float:
        """Take a token for `key`: 0.0 if admitted, else the seconds until one is there."""
        now = self.clock()
        buckets = self._full_at
        full_at = buckets.get(key)
        if full_at is None:
            self._make_room(now)
            full_at = now
        else:
            buckets.move_to_end(key)  # most recently used; a caller that keeps knocking stays remembered
            if full_at < now:
                full_at = now
        wait = full_at - now - self._slack
        if wait > 0:
            return wait  # refused: the bucket is unchanged
        buckets[key] = full_at + self._interval
        return 0.0

    def wait(self, key: Hashable) -> float:
        """The seconds until `key` could take a token (0.0: now), taking none."""
        full_at = self._full_at.get(key)
        return 0.0 if full_at is None else max(0.0, full_at - self.clock() - self._slack)

    def _make_room(self, now: float) -> None:
        """Before a new bucket: drop up to two full ones from the old end, then
        the least recently used while at the cap. Only new keys grow the map, so
        this bounds it without costing a known key anything."""
        buckets = self._full_at
        for _ in range(2):
            if not buckets:
                return
            oldest = next(iter(buckets))
            if buckets[oldest] > now:
                break
            del buckets[oldest]
        while len(buckets) >= self.max_buckets:
            buckets.popitem(last=False)


def retry_after(wait: float) -> int:
    """`Retry-After` in whole seconds: rounded up, at least 1 (a client retrying
    after 0 s would only be refused again)."""
    return max(1, math.ceil(wait))


class Throttled(HTTPError):
    """429 from the bucket of `limit` (`api_key` or `client_ip`); Retry-After from the bucket's refill."""

    def __init__(self, limit: str, wait: float):
        seconds = retry_after(wait)
        super().__init__(429, f"rate limit exceeded ({THROTTLE_REASONS[limit]}): retry after {seconds} s",
                         headers=[(b"retry-after", str(seconds).encode())])
        self.limit = limit


def client_ip(scope) -> str:
    """The peer address; behind a trusted proxy uvicorn has already put the
    X-Forwarded-For client here (FORWARDED_ALLOW_IPS, default 127.0.0.1)."""
    client = scope.get("client")
    return client[0] if client else "unknown"


class Admission:
    """Whether a request may go on: who it is (an API key, a verified webhook
    source) and whether that caller's bucket has a token. A request that fails
    authentication takes a token of its address's bucket instead, so a client
    guessing keys empties it and then gets 429, not 401."""

    def __init__(self, api_keys: tuple[str, ...], key_limits: RateLimiter | None, ip_limits: RateLimiter | None):
        self.api_keys, self.key_limits, self.ip_limits = api_keys, key_limits, ip_limits

    def ip(self, scope) -> None:
        """Take a token of the client address's bucket; 429 when there is none."""
        limiter = self.ip_limits
        if limiter is not None and (wait := limiter.take(client_ip(scope))):
            raise Throttled("client_ip", wait)

    def ip_has_room(self, scope) -> None:
        """429 when the client address's bucket is empty, taking no token."""
        if self.ip_limits is not None and (wait := self.ip_limits.wait(client_ip(scope))):
            raise Throttled("client_ip", wait)

    def proven(self, scope, source: Hashable | None) -> None:
        """Take a token of the bucket of `source`, the identity a check proved
        (the signed WhatsApp source), or of the address when it proved none."""
        if source is None:
            self.ip(scope)
        elif self.key_limits is not None and (wait := self.key_limits.take(source)):
            raise Throttled("api_key", wait)

    def key(self, scope, headers) -> None:
        """Admit a producer by its API key (`api_key`), or take a token of its
        address's bucket when it has none. Written out, not through `proven`,
        as every producer request passes here (a generic call cost a third of
        the admission, about 0.5 µs a request)."""
        try:
            key = self.api_key(headers)
        except HTTPError:
            self.ip(scope)
            raise
        limiter = self.key_limits
        if limiter is not None and (wait := limiter.take(key)):
            raise Throttled("api_key", wait)

    def api_key(self, headers) -> str:
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
        for candidate in self.api_keys:
            matched |= hmac.compare_digest(candidate.encode(), key.encode())
        if not matched:
            raise HTTPError(401, "invalid API key", headers=[(b"www-authenticate", b"Bearer")])
        return key
