"""Self-service: conversion per funnel and where customers drop off, step by step,
over the sessions in scope.

Both are worked out from the session events (marts.fct_session_events) by the
definitions of mart_funnel_conversion (docs/contract.md §6.2.4: sessions by the
UTC day of their first step view of the funnel) and mart_friction (§6.1.4: over
the sessions that started in the period), as the service page's heatmap is, so
that the period and every filter apply; over every session and no filter they are
the marts'. Every count links to the sessions behind it (dashboard/funnels.py
holds the SQL both share).
"""

from __future__ import annotations

from dashboard import funnels
from dashboard.filters import Filters
from dashboard.pages.sessions import IN_SCOPE, STARTED_IN_SCOPE
from dashboard.snapshot import Visit

CONVERSION_SQL = f"""
with {funnels.funnel_events(IN_SCOPE)}, {funnels.FUNNEL_OUTCOMES},

outcomes as (
    select
        o.started_at::date as day,
        o.funnel,
        s.channel,
        o.completed_at is not null as completed,
        o.escalated,
        date_diff('millisecond', o.started_at, o.completed_at) / 1000.0 as time_to_complete_s
    from funnel_outcomes as o
    inner join marts.fct_sessions as s on s.session_id = o.session_id
)

select
    grouping(day, channel) = 3 as is_total,
    day,
    funnel,
    channel,
    count(*) as sessions_started,
    count(*) filter (where completed) as sessions_completed,
    count(*) filter (where escalated) as sessions_escalated,
    count(*) filter (where not completed and not escalated) as sessions_abandoned,
    count(*) filter (where completed) / count(*) as conversion_rate,
    quantile_cont(time_to_complete_s, 0.5) as median_time_to_complete_s,
    quantile_cont(time_to_complete_s, 0.9) as p90_time_to_complete_s
from outcomes
group by grouping sets ((day, funnel, channel), (funnel))
order by is_total desc, sessions_started desc, day, funnel, channel
"""

FRICTION_SQL = f"""
with {funnels.funnel_events(STARTED_IN_SCOPE)}, {funnels.STEP_OUTCOMES}, {funnels.STEP_NAMES}

select
    o.funnel,
    o.step_index,
    step_names.step,
    count(*) filter (where o.reached) as sessions_reached,
    count(*) filter (where o.advanced) as sessions_advanced,
    count(*) filter (where o.dropped_off) as dropoffs,
    count(*) filter (where o.escalated) as escalations,
    count(*) filter (where o.dropped_off) / nullif(count(*) filter (where o.reached), 0) as dropoff_rate,
    count(*) filter (where o.escalated) / nullif(count(*) filter (where o.reached), 0) as escalation_rate,
    quantile_cont(o.time_on_step_s, 0.5) as median_time_on_step_s
from step_outcomes as o
left join step_names on step_names.funnel = o.funnel and step_names.step_index = o.step_index
group by all
order by o.funnel, o.step_index
"""


def selfservice(visit: Visit, filters: Filters) -> dict:
    params = {**filters.params(), "funnel": None}
    conversion = visit.rows(CONVERSION_SQL, params)
    steps: dict[str, list[dict]] = {}
    for row in visit.rows(FRICTION_SQL, params):
        links = {outcome: filters.link("/sessions", funnel=row["funnel"], step=row["step_index"], outcome=outcome)
                 for outcome in funnels.STEP_OUTCOMES_SHOWN}
        steps.setdefault(row["funnel"], []).append({**row, "links": links})
    return {
        "funnels": [{**row, "links": {outcome: filters.link("/sessions", funnel=row["funnel"], outcome=outcome)
                                      for outcome in funnels.CONVERSION_OUTCOMES}}
                    for row in conversion if row["is_total"]],
        "funnel_days": [{**row, "sessions_link": filters.with_(start=row["day"], end=row["day"], channel=row["channel"])
                         .link("/sessions", funnel=row["funnel"], outcome="started")}
                        for row in sorted((r for r in conversion if not r["is_total"]),
                                          key=lambda r: (r["day"], r["funnel"], r["channel"] or ""))],
        "friction": [{"funnel": funnel, "steps": rows, "widest": max(r["sessions_reached"] for r in rows) or 1}
                     for funnel, rows in steps.items()],
    }
