"""The SQL every page shares: which sessions, agent sessions and queue visits the
filters select.

A session (`marts.fct_sessions as s`) is in scope when it matches each
dimension set; `team` selects the sessions that team took part in (a row of
`fct_agent_sessions`: an assignment, the resolution or a reply). Rows of the
facts that repeat the session's dimensions (agent sessions, queue visits) are
in scope by their own columns. Unset dimensions are bound as NULL, so one
constant text serves every combination.
"""

from __future__ import annotations


def dimensions(alias: str) -> str:
    """The channel, department and query nature conditions on a table `alias` that has those columns."""
    return " and ".join(f"(${name} is null or {alias}.{name} = ${name})"
                        for name in ("channel", "department", "query_nature"))


SESSION_DIMENSIONS = dimensions("s")
SESSION_SCOPE = f"""(
    {SESSION_DIMENSIONS}
    and ($team is null or exists (
        select 1 from marts.fct_agent_sessions as took_part
        where took_part.session_id = s.session_id and took_part.team = $team
    ))
)"""

# Sessions counted in the period by the UTC day they started, or ended.
STARTED_IN_PERIOD = "s.started_at::date between $first_day and $last_day"
ENDED_IN_PERIOD = "s.ended_at::date between $first_day and $last_day"

# Rows of fct_agent_sessions (as a) in scope: the session's start and dimensions, which the rows repeat, and
# their own team.
AGENT_SCOPE = f"""(
    a.started_at::date between $first_day and $last_day
    and {dimensions("a")}
    and ($team is null or a.team = $team)
)"""

# Rows of fct_queue_visits (as q) in scope: the UTC day the visit began, the session's dimensions, which the
# rows repeat, and the team the queue measures credit the visit to.
QUEUE_SCOPE = f"""(
    q.day between $first_day and $last_day
    and {dimensions("q")}
    and ($team is null or q.team = $team)
)"""

# docs/contract.md §6.2.2 over rows of fct_queue_visits (as q): a visit is offered when answered or abandoned
# after the short-abandon bound (the outcome says which), answered within the threshold $threshold_s.
QUEUE_COUNTS = """
    count(*) filter (where q.outcome in ('answered', 'abandoned')) as offered,
    count(*) filter (where q.outcome = 'answered' and q.dwell_s <= $threshold_s) as answered_within,
    count(*) filter (where q.outcome = 'abandoned') as abandoned"""

# Options of the filter form: the values present in the snapshot.
OPTIONS_SQL = {
    "channel": "select distinct channel from marts.fct_sessions where channel is not null order by 1",
    "department": "select distinct department from marts.fct_sessions where department is not null order by 1",
    "query_nature": "select distinct query_nature from marts.fct_sessions where query_nature is not null order by 1",
    "team": """select team from marts.fct_agent_sessions union select team from marts.fct_queue_visits
               order by 1""",
}
