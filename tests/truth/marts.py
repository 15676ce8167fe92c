"""The marts of docs/contract.md §6.1 besides fct_sessions, fct_state_transitions, dim_users
and the agent facts, computed from the settled sessions."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date

from ingestion.simulator.records import Journey, Session
from ingestion.simulator.world import EPOCH_ORDINAL, FUNNELS, HOUR, from_ms
from tests.truth.agents import UNASSIGNED, agent_performance
from tests.truth.sessions import TERMINAL_STATES, Settled, Visit, median, pending, quantile, ratio, reply_from

# The columns of each mart's rows, in contract order.
MART_COLUMNS = {
    "mart_friction": ("funnel", "step_index", "step", "sessions_reached", "sessions_advanced",
                      "dropoffs", "escalations", "dropoff_rate", "escalation_rate",
                      "median_time_on_step_s"),
    "mart_agent_performance": ("agent_id", "team", "department", "query_nature", "sessions_handled",
                               "sessions_resolved", "resolution_rate", "median_first_response_s",
                               "p90_first_response_s", "median_response_s", "handle_time_s",
                               "avg_csat"),
    "mart_queue_dynamics": ("day", "team", "queued", "median_unassigned_s", "p90_unassigned_s",
                            "abandoned_in_queue"),
    "mart_handovers": ("from_team", "to_team", "handovers", "median_handover_latency_s"),
    "mart_operational_heatmap": ("iso_weekday", "hour", "sessions_started", "escalations",
                                 "messages_received", "median_queue_wait_s"),
    "mart_active_sessions": ("hour_start", "active_sessions"),
    "mart_ghost_rate": ("day", "webview_events", "unlinked_events", "ghost_rate"),
}


def marts(settled: list[Settled], webview_days: dict[int, list[int]], watermark: int) -> dict[str, list[dict]]:
    """Mart name -> rows, in the order of the mart's grain."""
    return {
        "mart_friction": friction(settled),
        "mart_agent_performance": agent_performance(settled),
        "mart_queue_dynamics": queue_dynamics(settled),
        "mart_handovers": handovers(settled),
        "mart_operational_heatmap": heatmap(settled),
        "mart_active_sessions": active_sessions(settled, watermark),
        "mart_ghost_rate": ghost_rate(webview_days),
    }


def _steps(j: Journey) -> list[tuple[int, int | None]]:
    """Each step the journey reached and the ms from its first view until the user went on
    (a later step viewed, or the completion), None if never."""
    first_view = {}
    for t, k in j.views:
        first_view.setdefault(k, t)
    out = []
    for k, t in first_view.items():
        later = [u for u, m in j.views if m > k and u > t]
        if j.completed is not None and j.completed > t:
            later.append(j.completed)
        out.append((k, min(later) - t if later else None))
    return out


def friction(settled: list[Settled]) -> list[dict]:
    reached, advanced, dropoffs, escalations = (defaultdict(set) for _ in range(4))
    time_on_step = defaultdict(list)
    for o in settled:
        sid = o.s.sid
        # A session runs at most one journey here, so one sample per session and step.
        for j in o.s.journeys:
            for k, advance_ms in _steps(j):
                reached[j.funnel, k].add(sid)
                if advance_ms is not None:
                    advanced[j.funnel, k].add(sid)
                    time_on_step[j.funnel, k].append(advance_ms)
            if j.escalated is not None:
                escalations[j.funnel, j.escalated].add(sid)
            elif j.completed is None and j.views:
                dropoffs[j.funnel, max(k for _, k in j.views)].add(sid)
    return [{
        "funnel": funnel,
        "step_index": k,
        "step": FUNNELS[funnel][k - 1],
        "sessions_reached": len(reached[funnel, k]),
        "sessions_advanced": len(advanced[funnel, k]),
        "dropoffs": len(dropoffs[funnel, k]),
        "escalations": len(escalations[funnel, k]),
        "dropoff_rate": ratio(len(dropoffs[funnel, k]), len(reached[funnel, k])),
        "escalation_rate": ratio(len(escalations[funnel, k]), len(reached[funnel, k])),
        "median_time_on_step_s": median(time_on_step[funnel, k]),
    } for funnel, k in sorted(reached.keys() | escalations.keys())]


def _queue_team(s: Session, v: Visit) -> str:
    """The team a pending_agent visit is attributed to (docs/decisions.md, queue dynamics)."""
    ending = [team for t, _, team in s.assigns if v.entered <= t and (v.exited is None or t <= v.exited)]
    if ending:
        return ending[-1]
    return next((to for t, _, to in reversed(s.transfers) if t <= v.entered), UNASSIGNED)


def queue_dynamics(settled: list[Settled]) -> list[dict]:
    queued, abandoned, waits = Counter(), Counter(), defaultdict(list)
    for o in settled:
        for v in pending(o):
            key = (from_ms(v.entered).date(), _queue_team(o.s, v))
            queued[key] += 1
            abandoned[key] += v.next_state in TERMINAL_STATES
            if v.next_state == "human_active":
                waits[key].append(v.dwell)
    return [{
        "day": day,
        "team": team,
        "queued": queued[day, team],
        "median_unassigned_s": median(waits[day, team]),
        "p90_unassigned_s": quantile(waits[day, team], 0.9),
        "abandoned_in_queue": abandoned[day, team],
    } for day, team in sorted(queued)]


def handovers(settled: list[Settled]) -> list[dict]:
    count, latencies = Counter(), defaultdict(list)
    for o in settled:
        for t, from_team, to_team in o.s.transfers:
            count[from_team, to_team] += 1
            reply = reply_from(o.s, t)
            if reply is not None:
                latencies[from_team, to_team].append(reply[0] - t)
    return [{
        "from_team": from_team,
        "to_team": to_team,
        "handovers": count[from_team, to_team],
        "median_handover_latency_s": median(latencies[from_team, to_team]),
    } for from_team, to_team in sorted(count)]


def _cell(ms: int) -> tuple[int, int]:
    at = from_ms(ms)
    return at.isoweekday(), at.hour


def heatmap(settled: list[Settled]) -> list[dict]:
    started, escalations, messages, waits = Counter(), Counter(), Counter(), defaultdict(list)
    for o in settled:
        started[_cell(o.s.started)] += 1
        messages.update(_cell(t) for t in o.s.received)
        queued = pending(o)
        if queued:
            escalations[_cell(queued[0].entered)] += 1
        for v in queued:
            if v.next_state == "human_active":
                waits[_cell(v.entered)].append(v.dwell)
    return [{
        "iso_weekday": day,
        "hour": hour,
        "sessions_started": started[day, hour],
        "escalations": escalations[day, hour],
        "messages_received": messages[day, hour],
        "median_queue_wait_s": median(waits[day, hour]),
    } for day in range(1, 8) for hour in range(24)]


def active_sessions(settled: list[Settled], watermark: int) -> list[dict]:
    if not settled:
        return []
    first = min(o.s.started for o in settled) // HOUR * HOUR
    return [{
        "hour_start": from_ms(h),
        "active_sessions": sum(1 for o in settled if o.s.started <= h and (o.ended is None or o.ended > h)),
    } for h in range(first, watermark // HOUR * HOUR + 1, HOUR)]


def ghost_rate(webview_days: dict[int, list[int]]) -> list[dict]:
    return [{
        "day": date.fromordinal(EPOCH_ORDINAL + day),
        "webview_events": linked + unlinked,
        "unlinked_events": unlinked,
        "ghost_rate": unlinked / (linked + unlinked),
    } for day, (linked, unlinked) in sorted(webview_days.items())]
