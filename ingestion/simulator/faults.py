"""Delivery faults layered on the distinct events: duplicates, disorder, lateness, batches.

The range [min occurred_at, max occurred_at] is cut into `n_batches` equal windows; an event
belongs to window ``(ms - min_ms) * n_batches // (max_ms - min_ms)`` (capped at the last) and
is delivered in that batch unless it is late: then in the next one, never more than 6 h after
the boundary it crosses. Within a batch most events arrive a few minutes out of order, some
anywhere in the window. A duplicate has the same event_id and content, possibly a later
`sent_at` (a retry), and may land in the next batch. Delivery draws from a random stream of
its own, so the journeys do not depend on it.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

from ingestion.simulator.world import HOUR

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


def deliver(events: list[dict], ms: list[int], n_batches: int, seed: int) -> tuple[list[dict], list[int]]:
    """Duplicate, batch, delay and shuffle the distinct events into delivery order: the
    delivered copies and the batch of each."""
    rng = random.Random(f"delivery:{seed}")
    n = len(events)
    if n == 0:
        return [], []
    windows = _Windows(ms, n_batches)
    batch_of = [windows.of(m) for m in ms]
    eligible = [i for i in range(n) if windows.near_end(batch_of[i], ms[i])]
    late = set(rng.sample(eligible, min(int(round(LATE_SHARE * n)), len(eligible) // 2)))
    dup = set(rng.sample(range(n), int(round(DUPLICATE_SHARE * n))))
    rows = []                                     # (batch, sort key, sequence, event)
    for i, ev in enumerate(events):
        b, key = _place(rng, windows, batch_of[i], ms[i], i in late)
        rows.append((b, key, len(rows), ev))
        if i in dup:
            for _ in range(2 if rng.random() < 0.2 else 1):
                copy = _retry(rng, ev)
                rows.append((*_place_copy(rng, windows, b, ms[i], key), len(rows), copy))
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    return [r[3] for r in rows], [r[0] for r in rows]


def _place(rng: random.Random, windows: _Windows, b: int, m: int, late: bool) -> tuple[int, float]:
    """Batch and sort key of an event: late into the next batch, or shuffled within its own."""
    if late:
        return b + 1, windows.anywhere(rng, b + 1)
    if rng.random() < 0.05:                                     # global shuffle within the batch
        return b, windows.anywhere(rng, b)
    return b, m + rng.random() * 180_000                        # local shuffle: a few minutes


def _retry(rng: random.Random, ev: dict) -> dict:
    """A copy of the event (nested dicts copied too); half the copies with a send time later."""
    copy = {k: (dict(v) if isinstance(v, dict) else v) for k, v in ev.items()}
    if "sent_at" in copy and rng.random() < 0.5:
        sent = datetime.fromisoformat(copy["sent_at"])
        retry = timedelta(milliseconds=rng.randint(1000, 600_000))
        copy["sent_at"] = (sent + retry).isoformat(timespec="milliseconds")
    return copy


def _place_copy(rng: random.Random, windows: _Windows, b: int, m: int, key: float) -> tuple[int, float]:
    """Batch and sort key of a duplicate of an event placed in batch b at `key`."""
    if windows.near_end(b, m) and rng.random() < 0.3:
        return b + 1, windows.bounds[b + 1] + rng.random() * 3_600_000   # the retry lands in the next load
    if rng.random() < 0.1:
        return b, windows.anywhere(rng, b)
    return b, key + rng.lognormvariate(math.log(20_000), 1.5)
