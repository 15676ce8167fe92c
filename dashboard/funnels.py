"""The webview funnels per session, from the events the snapshot keeps
(marts.fct_session_events), by the definitions of mart_funnel_conversion
(docs/contract.md §6.2.4) and mart_friction (§6.1.4): the self-service page adds
them up over the sessions in scope, and the funnel drill-downs list the sessions
behind each number with the same SQL, so a list always has as many sessions as
the number it came from.

Each text here is a chain of CTEs for a `with` clause. `funnel_events` takes
the funnel events of the sessions `sessions` selects (a query over
`marts.fct_sessions as s`), of every funnel or, with `$funnel` bound, of one.
"""

from __future__ import annotations

FUNNEL_EVENT_TYPES = "'funnel.step_viewed', 'funnel.completed', 'escalation.requested'"
BEYOND_EVERY_STEP = 2147483647  # a completion ranks above every step (dbt macro beyond_every_step)


def funnel_events(sessions: str) -> str:
    return f"""funnel_events as (
    select e.session_id, e.funnel, e.event_type, e.event_seq, e.occurred_at, e.step_index, e.step
    from marts.fct_session_events as e
    where e.funnel is not null and e.event_type in ({FUNNEL_EVENT_TYPES})
        and ($funnel is null or e.funnel = $funnel)
        and e.session_id in ({sessions})
)"""


# §6.2.4: a session starts a funnel with its first step view; completed if a completion of the funnel
# follows that view in event order, escalated if it asked for a person in the funnel at all. Starts
# are kept when their first view's UTC day is in the period.
FUNNEL_OUTCOMES = """
funnel_starts as (
    select session_id, funnel, min(event_seq) as first_seq, min(occurred_at) as started_at
    from funnel_events
    where event_type = 'funnel.step_viewed'
    group by session_id, funnel
    having min(occurred_at)::date between $first_day and $last_day
),

funnel_outcomes as (
    select
        starts.session_id,
        starts.funnel,
        starts.started_at,
        min(later.occurred_at) filter (where later.event_type = 'funnel.completed'
                                       and later.event_seq > starts.first_seq) as completed_at,
        bool_or(later.event_type = 'escalation.requested') as escalated
    from funnel_starts as starts
    inner join funnel_events as later on later.session_id = starts.session_id and later.funnel = starts.funnel
    group by starts.session_id, starts.funnel, starts.started_at
)"""

# §6.1.4, per session and step (funnel, step_index) it viewed or asked for a person at: reached (viewed
# it), advanced (viewed a higher step of the funnel or completed it after its first view of the step),
# dropped off (its highest viewed step of the funnel, and it neither completed nor escalated in the
# funnel), escalated (asked for a person naming this step), and the time from the first view to moving on.
STEP_OUTCOMES = f"""
step_views as (
    select session_id, funnel, step_index, min(event_seq) as first_seq, min(occurred_at) as first_at
    from funnel_events
    where event_type = 'funnel.step_viewed'
    group by session_id, funnel, step_index
),

progress as (
    select session_id, funnel, step_index, event_seq, occurred_at
    from funnel_events
    where event_type = 'funnel.step_viewed'
    union all
    select session_id, funnel, {BEYOND_EVERY_STEP}, event_seq, occurred_at
    from funnel_events
    where event_type = 'funnel.completed'
),

moved_on as (
    select views.session_id, views.funnel, views.step_index, min(progress.occurred_at) as moved_on_at
    from step_views as views
    inner join progress
        on progress.session_id = views.session_id and progress.funnel = views.funnel
        and progress.step_index > views.step_index and progress.event_seq > views.first_seq
    group by views.session_id, views.funnel, views.step_index
),

per_funnel as (
    select
        session_id,
        funnel,
        max(step_index) filter (where event_type = 'funnel.step_viewed') as highest_step_index,
        bool_or(event_type = 'funnel.completed') as completed,
        bool_or(event_type = 'escalation.requested') as escalated
    from funnel_events
    group by session_id, funnel
),

step_escalations as (
    select distinct session_id, funnel, step_index
    from funnel_events
    where event_type = 'escalation.requested'
),

step_outcomes as (
    select
        coalesce(views.session_id, asked.session_id) as session_id,
        coalesce(views.funnel, asked.funnel) as funnel,
        coalesce(views.step_index, asked.step_index) as step_index,
        views.session_id is not null as reached,
        moved_on.moved_on_at is not null as advanced,
        coalesce(views.session_id is not null and not per_funnel.completed and not per_funnel.escalated
                 and per_funnel.highest_step_index = views.step_index, false) as dropped_off,
        asked.session_id is not null as escalated,
        date_diff('millisecond', views.first_at, moved_on.moved_on_at) / 1000.0 as time_on_step_s
    from step_views as views
    full join step_escalations as asked
        on asked.session_id = views.session_id and asked.funnel = views.funnel
        and asked.step_index = views.step_index
    left join moved_on
        on moved_on.session_id = views.session_id and moved_on.funnel = views.funnel
        and moved_on.step_index = views.step_index
    left join per_funnel
        on per_funnel.session_id = views.session_id and per_funnel.funnel = views.funnel
)"""

# The step's name as mart_friction gives it: the smallest the events give for its index.
STEP_NAMES = """
step_names as (
    select funnel, step_index, min(step) as step
    from funnel_events
    where event_type in ('funnel.step_viewed', 'escalation.requested')
    group by funnel, step_index
)"""

CONVERSION_OUTCOMES = ("started", "completed", "escalated", "abandoned")
CONVERSION_CONDITION = """case $outcome
    when 'started' then true
    when 'completed' then o.completed_at is not null
    when 'escalated' then o.escalated
    when 'abandoned' then o.completed_at is null and not o.escalated
end"""

STEP_OUTCOMES_SHOWN = ("reached", "advanced", "dropped", "escalated")
STEP_CONDITION = """case $outcome
    when 'reached' then o.reached
    when 'advanced' then o.advanced
    when 'dropped' then o.dropped_off
    when 'escalated' then o.escalated
end"""
