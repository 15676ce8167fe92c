"""Delivery faults layered on the distinct events: duplicates, disorder, lateness, batches.

The range [min occurred_at, max occurred_at] is cut into `n_batches` equal windows; an event
belongs to window ``(ms - min_ms) * n_batches // (max_ms - min_ms)`` (capped at the last) and
is delivered in that batch unless it is late: then in the next one, never more than 6 h after
the boundary it crosses. Within a batch most events arrive a few minutes out of order, some
anywhere in the window. A duplicate has the same event_id and content, possibly a later
`sent_at` (a retry), and may land in the next batch. Delivery draws from a random stream of
its own, so the journeys do not depend on it. Tied events (one delivery unit) are placed as one.
With realism on, some units arrive days late, several loads on, and some events are re-sent in a
later load with another `sent_at` (`_RealismDelivery`).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from datetime import datetime, timedelta
from typing import NamedTuple

from ingestion.simulator.realism import Cases, Realism
from ingestion.simulator.world import DAY, HOUR, from_ms

LATE_MAX_MS = 6 * HOUR
DUPLICATE_SHARE = 0.10
LATE_SHARE = 0.03


class _Windows:
    """`n` equal windows of the event times; window k starts at `bounds[k]`."""

    def __init__(self, ms: list[int], n_batches: int):
        self.lo = min(ms)
        self.span = max(max(ms) - self.lo, 1)
        self.n = max(1, n_batches)
        self.bounds = [self.lo + -(-k * self.span // self.n) for k in range(self.n + 1)]

    def of(self, m: int) -> int:
        return min((m - self.lo) * self.n // self.span, self.n - 1)

    def near_end(self, b: int, m: int) -> bool:
        """Whether window b has a next one and m lies within LATE_MAX_MS of b's end."""
        return b < self.n - 1 and self.bounds[b + 1] - m <= LATE_MAX_MS

    def anywhere(self, rng: random.Random, b: int) -> float:
        return self.bounds[b] + rng.random() * (self.bounds[b + 1] - self.bounds[b])


class Delivered(NamedTuple):
    """The delivered copies in delivery order, the batch of each, and its delivery unit: copies
    that share a unit were sent in one request (tied events, docs/contract.md §4.1), so a test that
    re-splits a batch keeps them together."""
    events: list[dict]
    batches: list[int]
    units: list[int]


def deliver(events: list[dict], ms: list[int], n_batches: int, seed: int, units: list[int] | None = None,
            cases: Cases | None = None) -> Delivered:
    """Duplicate, batch, delay and shuffle the distinct events into delivery order. `units` holds
    each event's unit (default: its own), `cases` the realism cases (`days_late`, `retried_copies`)."""
    rng = random.Random(f"delivery:{seed}")
    n = len(events)
    if n == 0:
        return Delivered([], [], [])
    cases = Cases(Realism(), seed) if cases is None else cases
    units = list(range(n)) if units is None else units
    size = Counter(units)
    windows = _Windows(ms, n_batches)
    batch_of = [windows.of(m) for m in ms]
    eligible = [i for i in range(n) if units[i] == i and windows.near_end(batch_of[i], ms[i])]
    late = set(rng.sample(eligible, min(int(round(LATE_SHARE * n)), len(eligible) // 2)))
    dup = set(rng.sample(range(n), int(round(DUPLICATE_SHARE * n))))
    realism = _RealismDelivery(cases, windows)
    rows, placed = [], {}                         # (batch, sort key, sequence, event, unit); unit -> place
    for i, ev in enumerate(events):
        u = units[i]
        if u not in placed:
            placed[u] = realism.days_late(ms[i], *_place(rng, windows, batch_of[i], ms[i], u in late))
        b, key = placed[u]
        rows.append((b, key, len(rows), ev, u))
        copies = [_copy(rng, windows, b, ms[i], key, ev) for _ in range(2 if rng.random() < 0.2 else 1)] \
            if i in dup else []
        copies += realism.retried_copy(ev, b)
        for cb, ckey, copy in copies:
            rows.append((cb, ckey, len(rows), copy, u if size[u] > 1 else n + len(rows)))
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    return Delivered([r[3] for r in rows], [r[0] for r in rows], [r[4] for r in rows])


class _RealismDelivery:
    """The delivery cases of realism, from a stream of their own: whole units delivered one or more
    days after they occurred, some loads later; copies re-sent in a later load with another sent_at."""

    DAYS_LATE_SHARE = 0.01
    RETRIED_SHARE = 0.02

    def __init__(self, cases: Cases, windows: _Windows):
        self.cases, self.windows, self.rng = cases, windows, cases.rng

    def days_late(self, m: int, b: int, key: float) -> tuple[int, float]:
        w = self.windows
        later = [k for k in range(b + 1, w.n) if w.bounds[k] - m >= DAY]
        if not later or not self.cases.chance("days_late", self.DAYS_LATE_SHARE):
            return b, key
        k = self.rng.choice(later)
        self.cases.count("days_late")
        return k, w.anywhere(self.rng, k)

    def retried_copy(self, ev: dict, b: int) -> list[tuple[int, float, dict]]:
        w = self.windows
        if b >= w.n - 1 or not self.cases.chance("retried_copies", self.RETRIED_SHARE):
            return []
        k = self.rng.randint(b + 1, w.n - 1)
        copy = _clone(ev)
        sent = w.bounds[k] + self.rng.randrange(HOUR)
        copy["sent_at"] = from_ms(sent).isoformat(timespec="milliseconds")
        self.cases.count("retried_copies")
        return [(k, w.anywhere(self.rng, k), copy)]


def _clone(ev: dict) -> dict:
    """A copy of the event, nested dicts copied too."""
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in ev.items()}


def _place(rng: random.Random, windows: _Windows, b: int, m: int, late: bool) -> tuple[int, float]:
    """Batch and sort key of an event: late into the next batch, or shuffled within its own."""
    if late:
        return b + 1, windows.anywhere(rng, b + 1)
    if rng.random() < 0.05:                                     # global shuffle within the batch
        return b, windows.anywhere(rng, b)
    return b, m + rng.random() * 180_000                        # local shuffle: a few minutes


def _retry(rng: random.Random, ev: dict) -> dict:
    """A copy of the event; half the copies with a send time later."""
    copy = _clone(ev)
    if "sent_at" in copy and rng.random() < 0.5:
        sent = datetime.fromisoformat(copy["sent_at"])
        retry = timedelta(milliseconds=rng.randint(1000, 600_000))
        copy["sent_at"] = (sent + retry).isoformat(timespec="milliseconds")
    return copy


def _copy(rng: random.Random, windows: _Windows, b: int, m: int, key: float, ev: dict) -> tuple[int, float, dict]:
    """A duplicate of an event placed in batch b at `key`: its batch, sort key and content."""
    copy = _retry(rng, ev)
    return (*_place_copy(rng, windows, b, m, key), copy)


def _place_copy(rng: random.Random, windows: _Windows, b: int, m: int, key: float) -> tuple[int, float]:
    """Batch and sort key of a duplicate of an event placed in batch b at `key`."""
    if windows.near_end(b, m) and rng.random() < 0.3:
        return b + 1, windows.bounds[b + 1] + rng.random() * 3_600_000   # the retry lands in the next load
    if rng.random() < 0.1:
        return b, windows.anywhere(rng, b)
    return b, key + rng.lognormvariate(math.log(20_000), 1.5)
