"""One session's journey: every stage visit (fct_state_transitions) on a timeline
and in a table, what fct_sessions says about it, the agents who took part
(fct_agent_sessions), their replies (fct_agent_responses), and the other
sessions of the same conversation."""

from __future__ import annotations

from dashboard import charts
from dashboard.snapshot import Visit

LANES = ("inbound_queue", "bot_active", "pending_agent", "human_active", "resolved", "expired")

SESSION_SQL = "select * from marts.fct_sessions where session_id = $session_id"

VISITS_SQL = """
select visit_index, state, entered_at, exited_at, dwell_s, previous_state, next_state, is_valid_transition
from marts.fct_state_transitions
where session_id = $session_id
order by visit_index
"""

AGENTS_SQL = """
select agent_id, team, handled, resolved, first_response_s, handle_time_s, csat_score
from marts.fct_agent_sessions
where session_id = $session_id
order by agent_id, team
"""

REPLIES_SQL = """
select agent_id, team, received_at, replied_at, response_s
from marts.fct_agent_responses
where session_id = $session_id
order by received_at, replied_at
"""

CONVERSATION_SQL = """
select session_id, session_ordinal, started_at, ended_at, final_state
from marts.fct_sessions
where conversation_id = $conversation_id
order by session_ordinal
"""

# The column descriptions the snapshot carries as comments, shown beside the session's values.
DESCRIPTIONS_SQL = """
select column_name, comment
from duckdb_columns()
where database_name = 'snapshot' and schema_name = 'marts' and table_name = 'fct_sessions'
"""


def timeline(visit: Visit, session_id: str) -> dict | None:
    """None when the snapshot has no such session."""
    session = visit.row(SESSION_SQL, {"session_id": session_id})
    if session is None:
        return None
    params = {"session_id": session_id, "conversation_id": session["conversation_id"]}
    visits = visit.rows(VISITS_SQL, params)
    replies = visit.rows(REPLIES_SQL, params)
    descriptions = {row["column_name"]: row["comment"] for row in visit.rows(DESCRIPTIONS_SQL)}
    return {
        "session": session,
        "facts": [(name, value, descriptions.get(name)) for name, value in session.items()],
        "visits": visits,
        "agents": visit.rows(AGENTS_SQL, params),
        "replies": replies,
        "conversation": visit.rows(CONVERSATION_SQL, params),
        "chart": charts.timeline(visits, replies, visit.publication.data_watermark, LANES) if visits else None,
    }
