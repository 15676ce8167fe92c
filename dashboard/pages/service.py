"""Service: service level and abandon rate per team and UTC day (as
mart_service_level counts them, at one threshold), queue waits per team and day
(as mart_queue_dynamics), both from the queue visits (fct_queue_visits) in scope
so that every filter applies, and the weekday × hour demand heatmap.

The heatmap is mart_operational_heatmap's measures recomputed over the sessions
in scope (docs/contract.md §6.1.9: sessions by their start, escalations by the
first pending_agent entry, the median dwell of answered pending_agent visits by
their entry, in the reporting time zone), so that it follows the period and
every filter; over all loaded data and no filter it is the mart's.
"""

from __future__ import annotations

from dashboard import charts
from dashboard.filters import Filters
from dashboard.pages.overview import THRESHOLDS_SQL, threshold
from dashboard.scope import QUEUE_COUNTS, QUEUE_SCOPE, SESSION_SCOPE, STARTED_IN_PERIOD
from dashboard.snapshot import Visit

# Service level and abandon rate (docs/contract.md §6.2.2) from the queue visits in scope: over all of them
# the grid equals mart_service_level at the threshold, and under a channel, department or query nature
# filter it counts that slice the same way.
SERVICE_DAYS_SQL = f"""
with days as (
    select
        q.day,
        q.team,
        count(*) as queued,{QUEUE_COUNTS}
    from marts.fct_queue_visits as q
    where {QUEUE_SCOPE}
    group by q.day, q.team
),

teams as (
    select day, team, queued, offered, answered_within, abandoned from days
    union all
    select day, null, sum(queued), sum(offered), sum(answered_within), sum(abandoned) from days group by day
)

select *, answered_within / nullif(offered, 0) as service_level, abandoned / nullif(offered, 0) as abandon_rate
from teams
order by team nulls first, day
"""

# mart_queue_dynamics' measures from the queue visits in scope.
QUEUE_SQL = f"""
select
    q.day,
    q.team,
    count(*) as queued,
    quantile_cont(q.dwell_s, 0.5) filter (where q.outcome = 'answered') as median_unassigned_s,
    quantile_cont(q.dwell_s, 0.9) filter (where q.outcome = 'answered') as p90_unassigned_s,
    count(*) filter (where q.outcome in ('abandoned', 'short_abandon')) as abandoned_in_queue
from marts.fct_queue_visits as q
where {QUEUE_SCOPE}
group by q.day, q.team
order by q.day, q.team
"""

HEATMAP_SQL = f"""
with scoped as (
    select s.session_id, s.started_at
    from marts.fct_sessions as s
    where {STARTED_IN_PERIOD} and {SESSION_SCOPE}
),

queue_visits as (
    select v.session_id, v.entered_at, v.dwell_s, v.next_state
    from marts.fct_state_transitions as v
    inner join scoped on v.session_id = scoped.session_id
    where v.state = 'pending_agent'
),

moments as (
    select 'started' as measure, started_at as happened_at, cast(null as double) as value from scoped
    union all
    select 'escalated', min(entered_at), null from queue_visits group by session_id
    union all
    select 'answered', entered_at, dwell_s from queue_visits where next_state = 'human_active'
),

local_moments as (
    select measure, value, (happened_at at time zone 'UTC') at time zone $timezone as local_at from moments
)

select
    cast(weekdays.iso_weekday as integer) as iso_weekday,
    cast(hours.hour as integer) as hour,
    count(*) filter (where measure = 'started') as sessions_started,
    count(*) filter (where measure = 'escalated') as escalations,
    quantile_cont(value, 0.5) filter (where measure = 'answered') as median_queue_wait_s
from range(1, 8) as weekdays (iso_weekday)
cross join range(24) as hours (hour)
left join local_moments
    on isodow(local_moments.local_at) = weekdays.iso_weekday and hour(local_moments.local_at) = hours.hour
group by all
order by iso_weekday, hour
"""

def service(visit: Visit, filters: Filters, requested_threshold: int | None, preferred_threshold: int | None,
            timezone: str) -> dict:
    limit = threshold(visit, requested_threshold if requested_threshold is not None else preferred_threshold)
    params = {**filters.params(), "threshold_s": limit, "timezone": timezone}
    cells = visit.rows(HEATMAP_SQL, params)
    return {
        "threshold": limit,
        "thresholds": visit.values(THRESHOLDS_SQL),
        "grid": _grid(visit.rows(SERVICE_DAYS_SQL, params), filters),
        "queue": visit.rows(QUEUE_SQL, params),
        "heatmap": charts.heatmap(cells, "sessions_started", link=lambda cell: filters.link(
            "/sessions", cell=f"{cell['iso_weekday']}-{cell['hour']}")),
        "heatmap_total": sum(cell["sessions_started"] for cell in cells),
        "timezone": timezone,
    }


def _grid(rows: list[dict], filters: Filters) -> list[dict]:
    """One row per team (all teams first), one cell per day of the period (None: no queue visit)."""
    teams: dict[str | None, dict] = {}
    for row in rows:
        teams.setdefault(row["team"], {})[row["day"]] = row
    return [{"team": team, "cells": [days.get(day) for day in filters.period.day_list]}
            for team, days in teams.items()]
