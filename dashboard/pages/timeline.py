"""One session's journey in one view: every stage visit (fct_state_transitions) and
every event of the session (fct_session_events: messages received and sent, state
changes, assignments, transfers, CSAT, the webview funnel's steps, escalation
requests) on one time axis and as an ordered list; what fct_sessions says about it,
the agents who took part (fct_agent_sessions), their replies (fct_agent_responses),
and the other sessions of the same conversation. No message text: the marts keep none.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from dashboard import charts
from dashboard.snapshot import Visit
from orchestration.defs.dbt.stamps import is_stamp

LANES = ("inbound_queue", "bot_active", "pending_agent", "human_active", "resolved", "expired")
# The event lanes under the state lanes: (key, label); events of other kinds are in the list only.
EVENT_LANES = (("customer", "customer wrote"), ("sent", "bot / agent wrote"), ("agents", "assignments, transfers"),
               ("webview", "webview funnel"), ("csat", "CSAT"))

SESSION_SQL = "select * from marts.fct_sessions where session_id = $session_id"

VISITS_SQL = """
select visit_index, state, entered_at, exited_at, dwell_s, previous_state, next_state, is_valid_transition
from marts.fct_state_transitions
where session_id = $session_id
order by visit_index
"""

EVENTS_SQL = """
select event_seq, occurred_at, event_type, actor_kind, actor_id, channel, to_state, agent_id, team, from_team,
    to_team, csat_score, funnel, step, step_index
from marts.fct_session_events
where session_id = $session_id
order by event_seq
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


@dataclass(frozen=True)
class Event:
    """One row of the event list: who, what, and the mark it has on the chart (lane None: none)."""

    seq: int
    at: datetime
    after_start: str
    source: str
    what: str
    css: str
    kind: str                 # what the summary counts it as
    lane: str | None = None
    label: str = ""


def timeline(visit: Visit, session_id: str) -> dict | None:
    """None when the snapshot has no such session."""
    session = visit.row(SESSION_SQL, {"session_id": session_id})
    if session is None:
        return None
    params = {"session_id": session_id, "conversation_id": session["conversation_id"]}
    visits = visit.rows(VISITS_SQL, params)
    replies = visit.rows(REPLIES_SQL, params)
    events = [describe(row, session["started_at"]) for row in visit.rows(EVENTS_SQL, params)]
    markers = [charts.Marker(e.at, e.lane, e.css, e.what if e.source in ("customer", "–") else f"{e.what}, {e.source}",
                             e.label) for e in events if e.lane]
    descriptions = {row["column_name"]: row["comment"] for row in visit.rows(DESCRIPTIONS_SQL)}
    return {
        "session": session,
        # The build stamps are the pipeline's bookkeeping, nothing to read about the session.
        "facts": [(name, value, descriptions.get(name)) for name, value in session.items() if not is_stamp(name)],
        "visits": visits,
        "events": events,
        "summary": summary(events),
        "agents": visit.rows(AGENTS_SQL, params),
        "replies": replies,
        "conversation": visit.rows(CONVERSATION_SQL, params),
        "chart": (charts.timeline(visits, replies, markers, visit.publication.data_watermark, LANES, EVENT_LANES)
                  if visits or markers else None),
    }


def describe(e: dict, started_at: datetime) -> Event:
    """An event as a reader says it: who did what, in words, with its chart lane, colour and label."""
    kind, actor = e["event_type"], e["actor_id"]
    role = _ACTORS.get(e["actor_kind"], e["actor_kind"] or "–")
    source = f"{actor} ({role})" if actor and e["actor_kind"] != "user" else role
    funnel, step = e["funnel"], _step(e)
    lane, label = None, ""
    if kind == "message.received":
        what, css, counted, lane = "Customer wrote", "ev-received", "customer messages", "customer"
    elif kind == "message.sent":
        who = {"bot": "Bot", "human": "Agent", "system": "System"}.get(e["actor_kind"], "Someone")
        what, css, lane = f"{who} wrote", f"ev-{e['actor_kind'] or 'bot'}", "sent"
        counted = {"bot": "bot messages", "human": "agent messages"}.get(e["actor_kind"], "system messages")
    elif kind == "conversation.state_changed":
        what, css, counted = f"State → {(e['to_state'] or '?').replace('_', ' ')}", "ev-state", "state changes"
    elif kind == "agent.assigned":
        what, css, counted, lane = f"Assigned to {e['agent_id']} ({e['team']})", "ev-assigned", "assignments", "agents"
        label = f"{e['agent_id']} · {e['team']}"
    elif kind == "conversation.transferred":
        what, css, counted, lane = (f"Transferred from {e['from_team']} to {e['to_team']}", "ev-transferred",
                                    "transfers", "agents")
        label = f"{e['from_team']} → {e['to_team']}"
    elif kind == "csat.submitted":
        what, css, counted, lane = f"CSAT {e['csat_score']} of 5", "ev-csat", "CSAT answers", "csat"
        label = f"{e['csat_score']}/5"
    elif kind == "conversation.expired":
        what, css, counted = "Expired after the TTL without activity", "ev-state", "state changes"
    elif kind == "webview.opened":
        what, css, counted, lane = f"Opened the webview ({funnel})", "ev-webview", "webview visits", "webview"
        label = "opened"
    elif kind == "funnel.step_viewed":
        what, css, counted, lane = f"Viewed {step} of {funnel}", "ev-step", "funnel steps viewed", "webview"
        label = f"step {e['step_index']}"
    elif kind == "funnel.completed":
        what, css, counted, lane = f"Completed {funnel}", "ev-completed", "funnels completed", "webview"
        label = "completed"
    elif kind == "escalation.requested":
        what, css, counted, lane = (f"Asked for a person at {step} of {funnel}", "ev-escalation",
                                    "escalation requests", "webview")
        label = "asked for a person"
    elif kind == "webview.exited":
        what, css, counted, lane = f"Left the webview at {step} of {funnel}", "ev-webview", "webview exits", "webview"
        label = "left"
    else:  # identify
        what, css, counted = "Identified (identifiers linked)", "ev-state", "other events"
    return Event(e["event_seq"], e["occurred_at"], elapsed((e["occurred_at"] - started_at).total_seconds()),
                 source, what, css, counted, lane, label)


_ACTORS = {"user": "customer", "bot": "bot", "human": "agent", "system": "system"}


def summary(events: list[Event]) -> list[str]:
    """How many events of each kind, in the order kinds first happen: '3 customer messages', '1 assignment'."""
    return [f"{n} {SINGULAR.get(kind, kind) if n == 1 else kind}" for kind, n in Counter(e.kind for e in events).items()]


SINGULAR = {"customer messages": "customer message", "bot messages": "bot message", "agent messages": "agent message",
            "system messages": "system message", "state changes": "state change", "assignments": "assignment",
            "transfers": "transfer", "CSAT answers": "CSAT answer", "webview visits": "webview visit",
            "funnel steps viewed": "funnel step viewed", "funnels completed": "funnel completed",
            "escalation requests": "escalation request", "webview exits": "webview exit", "other events": "other event"}


def elapsed(seconds: float) -> str:
    """Time since the session started: '+0:42', '+12:05', '+1:02:03', '+2 d 01:00:00'."""
    sign, seconds = ("−", -seconds) if seconds < 0 else ("+", seconds)
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days} d {hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{sign}{hours}:{minutes:02d}:{secs:02d}" if hours else f"{sign}{minutes}:{secs:02d}"


def _step(e: dict) -> str:
    if e["step_index"] is None:
        return "a step"
    return f"step {e['step_index']} “{e['step']}”" if e["step"] else f"step {e['step_index']}"
