"""mart_agent_performance: per agent, team, department and query nature (docs/decisions.md)."""

from __future__ import annotations

import math

from ingestion.simulator.records import Session
from tests.truth.sessions import Settled, first_response, median, quantile, ratio, reply_from, seconds

UNASSIGNED = "unassigned"


def holds(o: Settled) -> list[tuple[str, str, int, float]]:
    """(agent, team, start, end) per assignment: until the next assignment, the next transfer
    or the end of the human_active visit open at (or first opening after) it; inf while none."""
    s = o.s
    human = [v for v in o.visits if v.state == "human_active"]
    out = []
    for i, (t, agent, team) in enumerate(s.assigns):
        ends = [u for u, _, _ in s.assigns[i + 1:i + 2]]
        ends += [u for u, _, _ in s.transfers if u > t][:1]
        visit = next((v for v in human if v.exited is None or v.exited > t), None)
        if visit is not None and visit.exited is not None:
            ends.append(visit.exited)
        out.append((agent, team, t, min(ends, default=math.inf)))
    return out


def team_at(s: Session, agent: str, t: int) -> str:
    """The team of the agent's latest assignment in the session at or before t."""
    return next((team for u, a, team in reversed(s.assigns) if a == agent and u <= t), UNASSIGNED)


def first_responder(o: Settled) -> dict:
    """fct_sessions' first responder (docs/contract.md §6.1.1): the sender of the session's first
    human reply at or after its first pending_agent entry, and their team in the session."""
    first = first_response(o)
    return {"first_responder_agent_id": None if first is None else first[1],
            "first_responder_team": None if first is None else team_at(o.s, first[1], first[0])}


class _AgentStats:
    __slots__ = ("handled", "resolved", "first_responses", "responses", "handle_ms")

    def __init__(self):
        self.handled = {}              # session id -> its csat score (None without one)
        self.resolved = 0
        self.first_responses, self.responses = [], []
        self.handle_ms = 0


def _add_session(o: Settled, stats: dict):
    s = o.s

    def of(agent: str, team: str) -> _AgentStats:
        return stats.setdefault((agent, team, s.dept, s.qn), _AgentStats())

    def of_sender(t: int, agent: str) -> _AgentStats:
        return of(agent, team_at(s, agent, t))

    held = holds(o)
    ended_human = [v for v in o.visits if v.state == "human_active" and v.exited is not None]
    for agent, team, start, end in held:
        row = of(agent, team)
        row.handled[s.sid] = s.csat
        row.handle_ms += sum(max(0, min(end, v.exited) - max(start, v.entered)) for v in ended_human)
    if o.final == "resolved":
        # In event order: an assignment in the close's millisecond counts when it came first (a
        # record built by hand, without that order, goes by time).
        n = s.close_assigns if s.close_assigns is not None else sum(t < o.ended for t, _, _ in s.assigns)
        before = [(agent, team) for _, agent, team in s.assigns[:n]]
        if before:
            of(*before[-1]).resolved += 1
    for m in s.received:
        reply = reply_from(s, m) if any(start <= m < end for _, _, start, end in held) else None
        if reply is not None:
            of_sender(*reply).responses.append(reply[0] - m)
    first = first_response(o)
    if first is not None:
        of_sender(first[0], first[1]).first_responses.append(first[2])


def nulls_last(key: tuple) -> tuple:
    return tuple((v is None, "" if v is None else v) for v in key)


def agent_performance(settled: list[Settled]) -> list[dict]:
    stats: dict[tuple, _AgentStats] = {}
    for o in settled:
        _add_session(o, stats)
    rows = []
    for key in sorted(stats, key=nulls_last):
        row = stats[key]
        scores = [c for c in row.handled.values() if c is not None]
        rows.append({
            "agent_id": key[0],
            "team": key[1],
            "department": key[2],
            "query_nature": key[3],
            "sessions_handled": len(row.handled),
            "sessions_resolved": row.resolved,
            "resolution_rate": ratio(row.resolved, len(row.handled)),
            "median_first_response_s": median(row.first_responses),
            "p90_first_response_s": quantile(row.first_responses, 0.9),
            "median_response_s": median(row.responses),
            "handle_time_s": seconds(row.handle_ms),
            "avg_csat": sum(scores) / len(scores) if scores else None,
        })
    return rows
