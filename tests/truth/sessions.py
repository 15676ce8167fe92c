"""Sessions as the watermark finds them: settled, as fct_sessions rows and as stage visits.

Durations are computed in whole ms and reported in seconds; quantiles are DuckDB's
`quantile_cont` (linear interpolation between neighbouring ranks).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import NamedTuple

from ingestion.simulator.records import Session
from ingestion.simulator.world import from_ms
from tests.support import REPO

# The state graph (docs/contract.md §3.2): the dbt seed the pipeline flags transitions with.
STATE_GRAPH = REPO / "dbt_project" / "seeds" / "valid_state_transitions.csv"


def _valid_transitions(path: Path) -> dict[str, tuple[str, ...]]:
    """{from_state: the states it may move to}, in the file's order."""
    graph: dict[str, tuple[str, ...]] = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            graph[row["from_state"]] = (*graph.get(row["from_state"], ()), row["to_state"])
    return graph


VALID_TRANSITIONS = _valid_transitions(STATE_GRAPH)
TERMINAL_STATES = ("resolved", "expired")


class Visit(NamedTuple):
    state: str
    entered: int
    exited: int | None        # the next visit's entry; None for the terminal or still open visit
    next_state: str | None

    @property
    def dwell(self) -> int | None:
        return None if self.exited is None else self.exited - self.entered


class Settled(NamedTuple):
    """A session as the watermark finds it."""
    s: Session
    final: str                # resolved / expired / open
    ended: int | None
    visits: list[Visit]


def settle(s: Session, watermark: int, ttl: int) -> Settled:
    """Resolved, expired one TTL after its last activity if that is within the watermark, else open."""
    points = list(s.visits)
    if s.state == "resolved":
        final, ended = "resolved", points[-1][1]
    elif s.last + ttl <= watermark:
        final, ended = "expired", s.last + ttl
        points.append(("expired", ended))
    else:
        final, ended = "open", None
    following = points[1:] + [(None, None)]
    visits = [Visit(state, entered, exited, nxt)
              for (state, entered), (nxt, exited) in zip(points, following)]
    return Settled(s, final, ended, visits)


def seconds(ms: int | None) -> float | None:
    return None if ms is None else ms / 1000.0


def quantile(values_ms: list[int], q: float) -> float | None:
    """`quantile_cont(x, q)` in seconds: linear interpolation between neighbouring ranks."""
    if not values_ms:
        return None
    xs = sorted(values_ms)
    pos = q * (len(xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return (xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)) / 1000.0


def median(values_ms: list[int]) -> float | None:
    return quantile(values_ms, 0.5)


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def pending(o: Settled) -> list[Visit]:
    return [v for v in o.visits if v.state == "pending_agent"]


def bot_contained(o: Settled) -> bool:
    """Resolved without ever entering pending_agent or human_active."""
    return o.final == "resolved" and not any(v.state in ("pending_agent", "human_active") for v in o.visits)


def returned_to_bot(o: Settled) -> int:
    """The bot_active visits whose previous visit is pending_agent (docs/contract.md §6.2.1)."""
    return sum(a.state == "pending_agent" and b.state == "bot_active" for a, b in zip(o.visits, o.visits[1:]))


def ping_pongs(s: Session) -> list[tuple[str, str]]:
    """(from_team, to_team) of each transfer whose to_team is the from_team of an earlier transfer
    of the session (docs/contract.md §6.2.1)."""
    handed_on, out = set(), []
    for _, from_team, to_team in s.transfers:
        if to_team in handed_on:
            out.append((from_team, to_team))
        handed_on.add(from_team)
    return out


def reply_from(s: Session, t: int) -> tuple[int, str] | None:
    """The session's first human message.sent at or after t, as (ms, agent)."""
    return next((r for r in s.replies if r[0] >= t), None)


def first_response(o: Settled) -> tuple[int, str, int] | None:
    """(ms, agent, wait) of the first human reply at or after the first pending_agent entry."""
    queued = pending(o)
    reply = reply_from(o.s, queued[0].entered) if queued else None
    return None if reply is None else (*reply, reply[0] - queued[0].entered)


def session_row(o: Settled, person: int) -> dict:
    """The fct_sessions row, plus the session's phone and the index of its person."""
    s = o.s
    queued = pending(o)
    first = first_response(o)
    return {
        "session_id": s.sid,
        "conversation_id": s.cid,
        "channel_user_id": s.phone,
        "person": person,
        "channel": s.channel,
        "department": s.dept,
        "query_nature": s.qn,
        "started_at": from_ms(s.started),
        "ended_at": from_ms(o.ended),
        "final_state": o.final,
        "escalated": bool(queued),
        "bot_contained": bot_contained(o),
        "queue_wait_s": seconds(sum(v.dwell for v in queued if v.exited is not None)) if queued else None,
        "first_queue_wait_s": seconds(queued[0].dwell) if queued else None,
        "agent_first_response_s": None if first is None else seconds(first[2]),
        "time_to_resolution_s": seconds(o.ended - s.started) if o.final == "resolved" else None,
        "handovers": len(s.transfers),
        "webview_opened": bool(s.journeys),
        "funnel_completed": any(j.completions for j in s.journeys),
        "csat_score": s.csat,
        "session_ordinal": int(s.sid.rsplit(":", 1)[1]),
        # A resolved session's close is its last activity: what comes after it is attached (§4.3).
        "last_activity_at": from_ms(o.ended if o.final == "resolved" else s.last),
        "returned_to_bot": returned_to_bot(o),
        "transfer_ping_pongs": len(ping_pongs(s)),
    }


def visit_rows(o: Settled) -> list[dict]:
    """The fct_state_transitions rows of one session (without unified_user_id)."""
    rows = []
    previous = None
    for index, v in enumerate(o.visits, 1):
        rows.append({
            "session_id": o.s.sid,
            "conversation_id": o.s.cid,
            "state": v.state,
            "entered_at": from_ms(v.entered),
            "exited_at": from_ms(v.exited),
            "dwell_s": seconds(v.dwell),
            "next_state": v.next_state,
            "visit_index": index,
            "previous_state": previous,
            "is_valid_transition": previous is None or v.state in VALID_TRANSITIONS.get(previous, ()),
        })
        previous = v.state
    return rows
