"""Resolution quality: recontact, first-contact resolution, durable containment
and reopen rates per UTC day of the session end × channel, with the period's
totals, over the sessions in scope.

mart_resolution_quality's counts (docs/contract.md §6.2.3) recomputed from
fct_sessions, so that department, query nature and team filter them too: a
session is mature once its recontact window has closed, which fct_sessions
shows as `recontacted` no longer being null. With no filter they are the mart's.
"""

from __future__ import annotations

from dashboard.filters import Filters
from dashboard.scope import ENDED_IN_PERIOD, SESSION_SCOPE
from dashboard.snapshot import Visit

RESOLUTION_SQL = f"""
with ended as (
    select
        s.ended_at::date as day,
        s.channel,
        s.final_state = 'resolved' as resolved,
        s.bot_contained,
        s.recontacted is not null as mature,
        s.recontacted,
        s.first_contact_resolved,
        s.durably_contained,
        s.reopened
    from marts.fct_sessions as s
    where s.final_state in ('resolved', 'expired') and {ENDED_IN_PERIOD} and {SESSION_SCOPE}
),

counts as (
    select
        grouping(day, channel) = 3 as is_total,
        day,
        channel,
        count(*) as sessions_ended,
        count(*) filter (where mature) as mature_sessions,
        count(*) filter (where mature and resolved) as mature_resolved,
        count(*) filter (where mature and bot_contained) as mature_bot_contained,
        count(*) filter (where recontacted) as recontacted,
        count(*) filter (where first_contact_resolved) as first_contact_resolved,
        count(*) filter (where durably_contained) as durably_contained,
        count(*) filter (where reopened) as reopened
    from ended
    group by grouping sets ((day, channel), ())
)

select
    *,
    recontacted / nullif(mature_sessions, 0) as recontact_rate,
    first_contact_resolved / nullif(mature_resolved, 0) as fcr_rate,
    durably_contained / nullif(mature_bot_contained, 0) as durable_containment_rate,
    reopened / nullif(mature_resolved, 0) as reopen_rate
from counts
order by is_total, day, channel
"""


def resolution(visit: Visit, filters: Filters) -> tuple[list[dict], dict]:
    """The rows per day × channel, and the period's totals (counts 0 and rates None without sessions)."""
    rows = visit.rows(RESOLUTION_SQL, filters.params())
    return [row for row in rows if not row["is_total"]], rows[-1]


def quality(visit: Visit, filters: Filters) -> dict:
    rows, total = resolution(visit, filters)
    return {"rows": rows, "total": total}
