"""Token buckets per caller: per API key (or verified webhook source) and per client IP.

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

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

MAX_BUCKETS = 65_536


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
