"""mart_funnel_conversion (docs/contract.md §6.2.4): per UTC day of a session's first view of a
funnel, funnel and channel, the sessions that started it, completed it, escalated or gave up."""

from __future__ import annotations

from collections import defaultdict
from typing import NamedTuple

from ingestion.simulator.world import from_ms
from tests.truth.agents import nulls_last
from tests.truth.sessions import Settled, median, quantile, ratio


class Started(NamedTuple):
    """A session's start of one funnel: its first view, the first completion at or after it
    (None if none), and whether the session escalated from the funnel."""
    first_view: int
    completed: int | None
    escalated: bool


def started_funnels(o: Settled) -> dict[str, Started]:
    """Funnel -> how the session went through it, for each funnel it viewed a step of."""
    views, completions, escalated = defaultdict(list), defaultdict(list), set()
    for j in o.s.journeys:
        views[j.funnel] += [t for t, _ in j.views]
        completions[j.funnel] += j.completions
        if j.escalated is not None:
            escalated.add(j.funnel)
    out = {}
    for funnel, times in views.items():
        if times:
            first = min(times)
            done = [t for t in completions[funnel] if t >= first]
            out[funnel] = Started(first, min(done, default=None), funnel in escalated)
    return out


def funnel_conversion(settled: list[Settled]) -> list[dict]:
    groups = defaultdict(list)
    for o in settled:
        for funnel, st in started_funnels(o).items():
            groups[from_ms(st.first_view).date(), funnel, o.s.channel].append(st)
    rows = []
    for key in sorted(groups, key=nulls_last):
        starts = groups[key]
        to_complete = [st.completed - st.first_view for st in starts if st.completed is not None]
        rows.append({
            "day": key[0],
            "funnel": key[1],
            "channel": key[2],
            "sessions_started": len(starts),
            "sessions_completed": len(to_complete),
            "sessions_escalated": sum(st.escalated for st in starts),
            "sessions_abandoned": sum(st.completed is None and not st.escalated for st in starts),
            "conversion_rate": ratio(len(to_complete), len(starts)),
            "median_time_to_complete_s": median(to_complete),
            "p90_time_to_complete_s": quantile(to_complete, 0.9),
        })
    return rows
