"""`simulate()`: journeys generated, then delivered with faults; `write_ndjson` writes them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from ingestion.simulator.faults import deliver
from ingestion.simulator.generate import generate
from ingestion.simulator.realism import Realism, after_clock_change, concurrent_holds
from ingestion.simulator.records import IdentityLinks, Session
from ingestion.simulator.world import from_ms


@dataclass
class Simulation:
    events: list[dict]        # delivery order: duplicates included, shuffled/late
    batches: list[int]        # delivery batch of each delivered copy (same length as events)
    watermark: datetime       # max occurred_at over all distinct events (UTC aware)
    n_unique_events: int      # number of distinct event_ids
    sessions: list[Session]   # what the simulator did in each session, in the order they opened
    identities: IdentityLinks  # the identifiers the events put side by side, and when each was seen
    webview_days: dict[int, list[int]]   # UTC day number -> [linked, unlinked] webview events
    ttl_ms: int               # the session TTL the journeys were played with
    units: list[int]          # delivery unit of each delivered copy: copies of one unit were sent in one request
    realism_counts: dict[str, int]   # realism case -> how many the run generated (the cases turned on only)

    def batch(self, index: int) -> list[dict]:
        """The delivered copies of one batch, in delivery order."""
        return [e for e, b in zip(self.events, self.batches) if b == index]


def simulate(days: int = 7, sessions_per_day: int = 750, seed: int = 7,
             start: datetime = datetime(2026, 11, 2, tzinfo=timezone.utc),
             ttl_hours: float = 24.0, n_batches: int = 3, id_prefix: str = "",
             realism: Realism = Realism()) -> Simulation:
    """Generate journeys and deliver their events.

    `sessions_per_day` is the mean number of new conversations per day (each
    starts a session); reopened conversations add about 15 % more sessions.
    All events lie in [start, start + days]; the last one, an `identify`, sits
    at the end of the period so the watermark is start + days (moved by a few
    seconds if a session's expiry would fall within a second of it).

    `id_prefix` is put in front of every identifier the run mints (event,
    conversation, message, user and anonymous ids, phone numbers), so runs
    with different prefixes share none: shards of one large data set
    (benchmarks/end_to_end_scale.py). The default "" changes nothing.

    `realism` turns on the cases of `ingestion.simulator.realism` (default: none, the data of
    earlier versions); `Simulation.realism_counts` says how many of each the run generated.
    """
    tl = generate(days, sessions_per_day, seed, start, ttl_hours, id_prefix, realism)
    out = tl.out
    events, batches, units = deliver(out.events, out.ms, n_batches, seed, out.units, tl.cases)
    return Simulation(events=events, batches=batches, watermark=from_ms(max(out.ms)),
                      n_unique_events=len(out.events), sessions=tl.sessions, identities=out.identities,
                      webview_days=dict(out.webview_days), ttl_ms=tl.ttl, units=units,
                      realism_counts=_counts(tl, realism))


def _counts(tl, realism: Realism) -> dict[str, int]:
    """The count of every case turned on (0 when none happened), with the cases seen in the
    records: agents holding several sessions at once, sessions after a clock change."""
    counts = dict(tl.cases.counts)
    if realism.concurrent_agents:
        counts["concurrent_agents"] = concurrent_holds(tl.sessions)
    if realism.clock_change_zone:
        counts["clock_change_zone"] = after_clock_change(tl.sessions, realism.clock_change_zone,
                                                         tl.start, tl.horizon)
    named = {"transfers": ("transfer_back_to_agent", "previous_agent_writes")}
    for flag in realism.on():
        for case in named.get(flag, (flag,)):
            counts.setdefault(case, 0)
    return dict(sorted(counts.items()))


def write_ndjson(events: Iterable[dict], path: Path) -> int:
    """Write one compact JSON object per line; returns the number of lines written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        buf = []
        for ev in events:
            buf.append(dumps(ev))
            n += 1
            if len(buf) >= 10_000:
                fh.write("\n".join(buf) + "\n")
                buf.clear()
        if buf:
            fh.write("\n".join(buf) + "\n")
    return n
