"""Self-service: conversion per funnel over the period (mart_funnel_conversion,
kept per UTC day × funnel × channel) and friction per funnel step
(mart_friction, kept over all loaded data).

The marts hold no event of a funnel, so a drill-down lists the sessions that
opened the webview on that day and channel (`fct_sessions.webview_opened`),
whichever funnel they used; the sessions page says so.
"""

from __future__ import annotations

from dashboard.filters import Filters
from dashboard.scope import not_applied
from dashboard.snapshot import Visit

IN_SCOPE = "day between $first_day and $last_day and ($channel is null or channel = $channel)"

FUNNELS_SQL = f"""
select
    funnel,
    sum(sessions_started) as sessions_started,
    sum(sessions_completed) as sessions_completed,
    sum(sessions_escalated) as sessions_escalated,
    sum(sessions_abandoned) as sessions_abandoned,
    sum(sessions_completed) / nullif(sum(sessions_started), 0) as conversion_rate
from marts.mart_funnel_conversion
where {IN_SCOPE}
group by funnel
order by sessions_started desc, funnel
"""

FUNNEL_DAYS_SQL = f"""
select *
from marts.mart_funnel_conversion
where {IN_SCOPE}
order by day, funnel, channel
"""

FRICTION_SQL = """
select *
from marts.mart_friction
order by funnel, step_index
"""


def selfservice(visit: Visit, filters: Filters) -> dict:
    steps: dict[str, list[dict]] = {}
    for row in visit.rows(FRICTION_SQL):
        steps.setdefault(row["funnel"], []).append(row)
    params = filters.params()
    return {
        "funnels": visit.rows(FUNNELS_SQL, params),
        "funnel_days": [{**row, "sessions_link": filters.with_(start=row["day"], end=row["day"],
                                                              channel=row["channel"]).link("/sessions", webview=1)}
                        for row in visit.rows(FUNNEL_DAYS_SQL, params)],
        "friction": [{"funnel": funnel, "steps": rows, "widest": max(r["sessions_reached"] for r in rows) or 1}
                     for funnel, rows in steps.items()],
        "funnel_note": not_applied(filters, ("channel",), "UTC day × funnel × channel (mart_funnel_conversion)"),
        "friction_note": not_applied(filters, (), "funnel step over all loaded data (mart_friction)"),
    }
