"""Reference derivations from the emitted events, kept here on purpose.

`replay` sessionizes the distinct events by the rules of docs/contract.md §4 and derives the facts
of §6.1.1; `stage_visits` the visits of one replayed session. The tests compare them with the
truth computed from the simulator's own records (tests/truth): two independent derivations of
the same numbers.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime, timedelta, timezone

from ingestion.contract import EVENT_TYPES
from tests.truth import Simulated

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
# Every type of the contract but expiries: the TTL worker emits those, the simulator never does.
SIMULATED_TYPES = frozenset(EVENT_TYPES) - {"conversation.expired"}
TRUTH_KEYS = {
    "session_id", "conversation_id", "channel_user_id", "person", "channel", "department", "query_nature",
    "started_at", "ended_at", "final_state", "escalated", "bot_contained", "queue_wait_s",
    "first_queue_wait_s", "agent_first_response_s", "time_to_resolution_s", "handovers",
    "webview_opened", "funnel_completed", "csat_score", "returned_to_bot", "transfer_ping_pongs",
    "recontacted", "reopened", "first_contact_resolved", "durably_contained", "first_responder_agent_id",
    "first_responder_team", "session_ordinal", "last_activity_at",
}
TTL = timedelta(hours=24)
IDENTIFIER_KEYS = {"channel_user_id": "phones", "user_id": "user_ids", "anonymous_id": "anonymous_ids"}


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(timezone.utc)


def distinct(sim: Simulated) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for ev in sim.events:
        out.setdefault(ev["event_id"], ev)
    return out


def opens_session(ev: dict) -> bool:
    """The starters of docs/contract.md §4.2, less a change into a terminal state (docs/decisions.md)."""
    return ev["type"] == "message.received" or (
        ev["type"] == "conversation.state_changed" and ev["properties"]["to_state"] not in ("resolved", "expired"))


def replay_sessions(sim: Simulated, ttl: timedelta = TTL) -> dict[str, list[tuple]]:
    """Reference sessionization of the distinct events (docs/contract.md §4): session id -> [(time, event)]."""
    by_conv = defaultdict(list)
    for ev in distinct(sim).values():
        if ev.get("conversation_id"):
            by_conv[ev["conversation_id"]].append((ts(ev["occurred_at"]), ev["event_id"], ev))
    out = {}
    for cid, rows in by_conv.items():
        rows.sort(key=lambda r: (r[0], r[1]))
        sessions, cur = [], None
        for t, _, ev in rows:
            if cur is not None and not cur["terminal"] and t >= cur["events"][-1][0] + ttl:
                cur["terminal"] = True                 # expired before this event; a non-starter is attached
                assert t > cur["events"][-1][0] + ttl   # never exactly on the expiry instant
            if cur is None or (cur["terminal"] and opens_session(ev)):
                cur = {"events": [], "terminal": False}
                sessions.append(cur)
            cur["events"].append((t, ev))
            if ev["type"] == "conversation.state_changed" and ev["properties"]["to_state"] == "resolved":
                cur["terminal"] = True
        for ordinal, sess in enumerate(sessions, 1):
            out[f"{cid}:{ordinal}"] = sess["events"]
    return out


def replay(sim: Simulated, ttl: timedelta = TTL) -> dict[str, dict]:
    """Reference derivation of session facts from the distinct events (docs/contract.md §4, §6.1.1)."""
    return {sid: facts(events, sim.watermark, ttl) for sid, events in replay_sessions(sim, ttl).items()}


def first_state(events) -> str:
    """The state a session starts in: inbound_queue, unless its first event is a state change."""
    first = events[0][1]
    return first["properties"]["to_state"] if first["type"] == "conversation.state_changed" else "inbound_queue"


def last_activity(events, ttl) -> datetime:
    """The session's last event before its first TTL gap (later ones are attached, docs/contract.md §4.6)."""
    last = events[0][0]
    for t, _ in events[1:]:
        if t >= last + ttl:
            break
        last = t
    return last


def walk(events) -> tuple:
    """The session's events in order: its last attributes and CSAT, its stage visits until it is
    resolved (and the state it is in), transfers, and the first human reply after the first queue."""
    started = events[0][0]
    dept = qn = csat = None
    state, entered = first_state(events), started
    visits = []                                        # (state, entered, exited)
    resolved = None
    first_pending = afr = None
    handovers = 0
    for t, ev in events:
        a = ev.get("attributes") or {}
        dept = a.get("department") or dept
        qn = a.get("query_nature") or qn
        typ, props = ev["type"], ev["properties"]
        if typ == "conversation.state_changed" and resolved is None:
            to = props["to_state"]
            if to != state:
                visits.append((state, entered, t))
                state, entered = to, t
                if to == "pending_agent" and first_pending is None:
                    first_pending = t
                if to == "resolved":
                    resolved = t
        elif typ == "conversation.transferred":
            handovers += 1
        elif typ == "csat.submitted":
            csat = props["score"]
        elif typ == "message.sent" and ev["actor"]["kind"] == "human":
            if first_pending is not None and afr is None and t >= first_pending:
                afr = (t - first_pending).total_seconds()
    return dept, qn, csat, state, entered, visits, resolved, first_pending, afr, handovers


def ping_pongs(events) -> int:
    """Transfers whose to_team is the from_team of an earlier transfer of the session."""
    handed_on, n = set(), 0
    for _, ev in events:
        if ev["type"] == "conversation.transferred":
            n += ev["properties"]["to_team"] in handed_on
            handed_on.add(ev["properties"]["from_team"])
    return n


def facts(events, watermark, ttl) -> dict:
    started = events[0][0]
    dept, qn, csat, state, entered, visits, resolved, first_pending, afr, handovers = walk(events)
    path = [s for s, _, _ in visits] + [state]
    returned_to_bot = sum(a == "pending_agent" and b == "bot_active" for a, b in zip(path, path[1:]))
    if resolved is not None:
        final, ended = "resolved", resolved
    else:
        last = last_activity(events, ttl)
        if last + ttl <= watermark:
            final, ended = "expired", last + ttl
            visits.append((state, entered, ended))
        else:
            final, ended = "open", None
    states = {s for s, _, _ in visits} | {state}
    pend = [(x - e).total_seconds() for s, e, x in visits if s == "pending_agent"]
    escalated = "pending_agent" in states
    first_visit_ended = bool(visits) and any(s == "pending_agent" for s, _, _ in visits) and \
        min(e for s, e, _ in visits if s == "pending_agent") == first_pending
    types = {ev["type"] for _, ev in events}
    return {
        "channel": events[0][1].get("channel"),
        "department": dept,
        "query_nature": qn,
        "started_at": started,
        "ended_at": ended,
        "final_state": final,
        "escalated": escalated,
        "bot_contained": final == "resolved" and not ({"pending_agent", "human_active"} & states),
        "queue_wait_s": round(sum(pend), 3) if escalated else None,
        "first_queue_wait_s": pend[0] if first_visit_ended else None,
        "agent_first_response_s": afr,
        "time_to_resolution_s": (resolved - started).total_seconds() if resolved else None,
        "handovers": handovers,
        "webview_opened": "webview.opened" in types,
        "funnel_completed": "funnel.completed" in types,
        "csat_score": csat,
        "returned_to_bot": returned_to_bot,
        "transfer_ping_pongs": ping_pongs(events),
    }


def stage_visits(events, watermark, ttl) -> list[tuple]:
    """Reference stage visits of one replayed session: (state, entered, exited, next_state)."""
    points = [(first_state(events), events[0][0])]
    last = last_activity(events, ttl)
    for t, ev in events:
        if points[-1][0] == "resolved" or t > last:
            break                                      # later closes start no visit
        if ev["type"] == "conversation.state_changed" and ev["properties"]["to_state"] != points[-1][0]:
            points.append((ev["properties"]["to_state"], t))
    if points[-1][0] != "resolved" and last + ttl <= watermark:
        points.append(("expired", last + ttl))
    following = points[1:] + [(None, None)]
    return [(state, entered, exited, nxt) for (state, entered), (nxt, exited) in zip(points, following)]
