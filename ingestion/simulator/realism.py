"""Realism options: traffic that real deployments produce and the plain simulation does not.

Each flag turns on one kind of case (all off by default, so a plain run keeps its data; `Realism.all()`
turns every one on). The cases draw from random streams of their own, seeded from the run's seed,
and the run counts how many of each it generated (`Simulation.realism_counts`), so a test can show
that every case it claims to cover actually happened:

- `tied_times`: events of one conversation in the same millisecond where their order matters (a
  queue entry, the assignment and the pick-up; a supervisor's assignment and close), sent in one
  request, so the event id breaks the tie (docs/contract.md §4.1);
- `state_first`: a session whose first event is a state change (the bot writes first; a pick-up
  after a queue wait longer than the TTL), so it has no implicit `inbound_queue` visit (§3.1);
- `browser_skew`: a browser whose clock is minutes off the desk's; its `occurred_at` is used as
  given (§2.2, §2.4);
- `transfers`: a transfer back to the very agent who handed the session on (A→B→A), and the
  previous agent writing after a transfer;
- `multi_funnel`: another funnel and a re-opened webview in one session, going back more than once;
- `queue_past_ttl`: a queue wait longer than the TTL (the session expires, the pick-up opens the
  next one, §4.6);
- `concurrent_agents`: one agent per team takes a share of the pick-ups, so holds several
  conversations at once;
- `retried_copies`: the same `event_id` delivered again in a later load with another `sent_at`;
- `odd_attributes`: non-ASCII and long attribute values;
- `days_late`: events delivered one or more days after they occurred, several loads later;
- `clock_change_zone`: not a traffic case but a check: the sessions the run starts after a clock
  change of this zone inside the period (0 when the period has none), for the heatmap's
  reporting time zone.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, fields
from zoneinfo import ZoneInfo

from ingestion.simulator.records import Session
from ingestion.simulator.world import HOUR, from_ms


@dataclass(frozen=True)
class Realism:
    tied_times: bool = False
    state_first: bool = False
    browser_skew: bool = False
    transfers: bool = False
    multi_funnel: bool = False
    queue_past_ttl: bool = False
    concurrent_agents: bool = False
    retried_copies: bool = False
    odd_attributes: bool = False
    days_late: bool = False
    clock_change_zone: str | None = None

    @classmethod
    def all(cls, clock_change_zone: str = "Europe/Amsterdam") -> Realism:
        """Every case on."""
        flags = {f.name: True for f in fields(cls) if f.type == "bool"}
        return cls(**flags, clock_change_zone=clock_change_zone)

    def on(self) -> list[str]:
        """The names of the cases turned on."""
        return [f.name for f in fields(self) if getattr(self, f.name)]


class Cases:
    """The cases of one run: whether one happens (drawn from the realism stream, never from the
    journeys' stream while its flag is off) and how many did."""

    def __init__(self, realism: Realism, seed: int):
        self.realism = realism
        self.rng = random.Random(f"realism:{seed}")
        self.counts: Counter[str] = Counter()

    def chance(self, flag: str, p: float) -> bool:
        return getattr(self.realism, flag) and self.rng.random() < p

    def count(self, case: str, n: int = 1):
        self.counts[case] += n


def concurrent_holds(sessions: list[Session]) -> int:
    """Assignments whose agent, at that moment, still holds another session: one assigned to them
    earlier whose latest activity is later."""
    spans = sorted((t, s.last, agent, s.sid) for s in sessions for t, agent, _ in s.assigns)
    open_until: dict[str, dict[str, int]] = {}
    n = 0
    for t, last, agent, sid in spans:
        held = open_until.setdefault(agent, {})
        n += any(other != sid and until > t for other, until in held.items())
        held[sid] = max(held.get(sid, last), last)
    return n


def after_clock_change(sessions: list[Session], zone: str, start: int, horizon: int) -> int:
    """Sessions started at or after the first change of the zone's UTC offset inside [start, horizon)
    (found at whole UTC hours, where the zones that change their clocks do)."""
    tz = ZoneInfo(zone)
    offset = from_ms(start).astimezone(tz).utcoffset()
    for h in range(start, horizon, HOUR):
        if from_ms(h).astimezone(tz).utcoffset() != offset:
            return sum(s.started >= h for s in sessions)
    return 0

