"""The marts of docs/contract.md §6.1 and §6.2 besides fct_sessions, fct_state_transitions,
dim_users and the agent facts, computed from the settled sessions."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from typing import NamedTuple
from zoneinfo import ZoneInfo

from ingestion.simulator.records import Journey
from ingestion.simulator.world import EPOCH_ORDINAL, FUNNELS, HOUR, from_ms
from tests.truth.agents import agent_performance
from tests.truth.conversion import funnel_conversion
from tests.truth.quality import resolution_quality
from tests.truth.queue import queue_dynamics, queue_visit_rows, service_level
from tests.truth.sessions import Settled, median, pending, ping_pongs, ratio, reply_from

# The columns of each mart's rows, in contract order.
MART_COLUMNS = {
    "mart_friction": ("funnel", "step_index", "step", "sessions_reached", "sessions_advanced",
                      "dropoffs", "escalations", "dropoff_rate", "escalation_rate",
                      "median_time_on_step_s"),
    "mart_agent_performance": ("agent_id", "team", "department", "query_nature", "sessions_handled",
                               "sessions_resolved", "resolution_rate", "median_first_response_s",
                               "p90_first_response_s", "median_response_s", "handle_time_s",
                               "avg_csat"),
    "fct_queue_visits": ("session_id", "visit_index", "day", "team", "channel", "department", "query_nature",
                         "entered_at", "exited_at", "dwell_s", "next_state", "outcome"),
    "mart_queue_dynamics": ("day", "team", "queued", "median_unassigned_s", "p90_unassigned_s",
                            "abandoned_in_queue"),
    "mart_handovers": ("from_team", "to_team", "handovers", "median_handover_latency_s", "ping_pongs"),
    "mart_operational_heatmap": ("iso_weekday", "hour", "sessions_started", "escalations",
                                 "messages_received", "median_queue_wait_s"),
    "mart_active_sessions": ("hour_start", "active_sessions"),
    "mart_ghost_rate": ("day", "webview_events", "unlinked_events", "ghost_rate"),
    "mart_service_level": ("day", "team", "threshold_s", "queued", "answered", "answered_within",
                           "abandoned", "short_abandoned", "returned_to_bot", "waiting", "offered",
                           "service_level", "abandon_rate"),
    "mart_resolution_quality": ("day", "channel", "sessions_ended", "mature_sessions", "mature_resolved",
                                "mature_bot_contained", "recontacted", "first_contact_resolved",
                                "durably_contained", "reopened", "recontact_rate", "fcr_rate",
                                "durable_containment_rate", "reopen_rate"),
    "mart_funnel_conversion": ("day", "funnel", "channel", "sessions_started", "sessions_completed",
                               "sessions_escalated", "sessions_abandoned", "conversion_rate",
                               "median_time_to_complete_s", "p90_time_to_complete_s"),
}


class Measures(NamedTuple):
    """The metric settings the marts depend on (docs/contract.md §6.2, §8.3), as in `Settings`."""
    recontact_window_days: float = 7.0
    service_level_thresholds_s: tuple[int, ...] = (60, 300)
    short_abandon_s: float = 30.0
    reporting_timezone: str = "UTC"

    @classmethod
    def of(cls, settings) -> Measures:
        """The measures of an `ingestion.settings.Settings`."""
        return cls(float(settings.recontact_window_days), tuple(settings.service_level_thresholds_s),
                   float(settings.short_abandon_s), settings.reporting_timezone)


def marts(settled: list[Settled], webview_days: dict[int, list[int]], watermark: int,
          measures: Measures, follow: dict[str, dict]) -> dict[str, list[dict]]:
    """Mart name -> rows, in the order of the mart's grain; `follow` holds each session's
    recontact columns (tests/truth/quality.py)."""
    return {
        "mart_friction": friction(settled),
        "mart_agent_performance": agent_performance(settled),
        "fct_queue_visits": queue_visit_rows(settled, measures.short_abandon_s),
        "mart_queue_dynamics": queue_dynamics(settled),
        "mart_handovers": handovers(settled),
        "mart_operational_heatmap": heatmap(settled, measures.reporting_timezone),
        "mart_active_sessions": active_sessions(settled, watermark),
        "mart_ghost_rate": ghost_rate(webview_days),
        "mart_service_level": service_level(settled, measures.service_level_thresholds_s,
                                            measures.short_abandon_s),
        "mart_resolution_quality": resolution_quality(settled, follow, watermark,
                                                      measures.recontact_window_days),
        "mart_funnel_conversion": funnel_conversion(settled),
    }


class _Funnel(NamedTuple):
    """Everything one session did in one funnel, over all its journeys there (a re-opened page
    is the same funnel): views (ms, step_index), completion times, escalated step indexes."""
    views: list[tuple[int, int]]
    completions: list[int]
    escalated: set[int]


def _funnels(journeys: list[Journey]) -> dict[str, _Funnel]:
    out = {}
    for j in journeys:
        f = out.setdefault(j.funnel, _Funnel([], [], set()))
        f.views.extend(j.views)
        f.completions.extend(j.completions)
        if j.escalated is not None:
            f.escalated.add(j.escalated)
    return out


def _steps(f: _Funnel) -> list[tuple[int, int | None]]:
    """Each step the session reached in the funnel and the ms from its first view until it went
    on (a later view of a higher step, or a completion), None if never."""
    first_view = {}
    for t, k in sorted(f.views):
        first_view.setdefault(k, t)
    out = []
    for k, t in first_view.items():
        later = [u for u, m in f.views if m > k and u > t] + [u for u in f.completions if u > t]
        out.append((k, min(later) - t if later else None))
    return out


def friction(settled: list[Settled]) -> list[dict]:
    reached, advanced, dropoffs, escalations = (defaultdict(set) for _ in range(4))
    time_on_step = defaultdict(list)
    for o in settled:
        sid = o.s.sid
        for funnel, f in _funnels(o.s.journeys).items():
            for k, advance_ms in _steps(f):
                reached[funnel, k].add(sid)
                if advance_ms is not None:
                    advanced[funnel, k].add(sid)
                    time_on_step[funnel, k].append(advance_ms)
            for k in f.escalated:
                escalations[funnel, k].add(sid)
            if not f.escalated and not f.completions and f.views:   # any completion, even a stale one
                dropoffs[funnel, max(k for _, k in f.views)].add(sid)
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


def handovers(settled: list[Settled]) -> list[dict]:
    count, latencies, pongs = Counter(), defaultdict(list), Counter()
    for o in settled:
        for t, from_team, to_team in o.s.transfers:
            count[from_team, to_team] += 1
            reply = reply_from(o.s, t)
            if reply is not None:
                latencies[from_team, to_team].append(reply[0] - t)
        pongs.update(ping_pongs(o.s))
    return [{
        "from_team": from_team,
        "to_team": to_team,
        "handovers": count[from_team, to_team],
        "median_handover_latency_s": median(latencies[from_team, to_team]),
        "ping_pongs": pongs[from_team, to_team],
    } for from_team, to_team in sorted(count)]


def heatmap(settled: list[Settled], timezone: str = "UTC") -> list[dict]:
    """Weekday and hour in the reporting time zone (its DST included)."""
    zone = ZoneInfo(timezone)

    def cell(ms: int) -> tuple[int, int]:
        at = from_ms(ms).astimezone(zone)
        return at.isoweekday(), at.hour

    started, escalations, messages, waits = Counter(), Counter(), Counter(), defaultdict(list)
    for o in settled:
        started[cell(o.s.started)] += 1
        messages.update(cell(t) for t in o.s.received)
        queued = pending(o)
        if queued:
            escalations[cell(queued[0].entered)] += 1
        for v in queued:
            if v.next_state == "human_active":
                waits[cell(v.entered)].append(v.dwell)
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
