"""Agents: per team and per agent, over the sessions in scope, added up from
fct_agent_sessions (sessions handled and resolved, first responses, handle
time, CSAT) and fct_agent_responses (reply times) as mart_agent_performance
adds them up (docs/contract.md §6.1.5), but over the period's sessions: the
mart itself covers all loaded data and has no date.
"""

from __future__ import annotations

from dashboard.filters import Filters
from dashboard.scope import AGENT_SCOPE, SESSION_DIMENSIONS, STARTED_IN_PERIOD
from dashboard.snapshot import Visit

# Reply samples of the sessions in scope, credited to the replying agent with their team in the session.
REPLIES = f"""
select r.agent_id, r.team, count(*) as replies, quantile_cont(r.response_s, 0.5) as median_response_s
from marts.fct_agent_responses as r
inner join marts.fct_sessions as s on r.session_id = s.session_id
where {STARTED_IN_PERIOD} and {SESSION_DIMENSIONS} and ($team is null or r.team = $team)
group by all
"""

MEASURES = """
    count(distinct a.session_id) filter (where a.handled) as sessions_handled,
    count(distinct a.session_id) filter (where a.resolved) as sessions_resolved,
    count(distinct a.session_id) filter (where a.resolved)
        / nullif(count(distinct a.session_id) filter (where a.handled), 0) as resolution_rate,
    quantile_cont(a.first_response_s, 0.5) as median_first_response_s,
    quantile_cont(a.first_response_s, 0.9) as p90_first_response_s,
    sum(a.handle_time_s) as handle_time_s,
    avg(a.csat_score) as avg_csat
"""

AGENTS_SQL = f"""
with per_agent as (
    select a.team, a.agent_id, {MEASURES}
    from marts.fct_agent_sessions as a
    where {AGENT_SCOPE}
    group by all
)

select per_agent.*, coalesce(replies.replies, 0) as replies, replies.median_response_s
from per_agent
left join ({REPLIES}) as replies on per_agent.team = replies.team and per_agent.agent_id = replies.agent_id
order by per_agent.team, per_agent.sessions_handled desc, per_agent.agent_id
"""

TEAMS_SQL = f"""
select a.team, count(distinct a.agent_id) as agents, {MEASURES}
from marts.fct_agent_sessions as a
where {AGENT_SCOPE}
group by all
order by a.team
"""


def agents(visit: Visit, filters: Filters) -> dict:
    params = filters.params()
    return {
        "teams": visit.rows(TEAMS_SQL, params),
        "agents": [{**row, "sessions_link": filters.link("/sessions", agent=row["agent_id"], team=row["team"])}
                   for row in visit.rows(AGENTS_SQL, params)],
    }
