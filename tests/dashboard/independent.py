"""The contract's funnel and queue rules worked out in plain Python from the rows
of the snapshot (fct_session_events, fct_state_transitions), independently of the
dashboard's SQL, to check the numbers and session lists it shows against."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple

FUNNEL_TYPES = ("funnel.step_viewed", "funnel.completed", "escalation.requested")


@dataclass
class SessionFunnel:
    """One session's events of one funnel, in event order."""

    session_id: str
    funnel: str
    events: list[tuple[int, str, int | None, datetime]] = field(default_factory=list)  # seq, type, step, time

    @property
    def views(self) -> list[tuple[int, str, int | None, datetime]]:
        return [e for e in self.events if e[1] == "funnel.step_viewed"]

    # docs/contract.md §6.2.4
    @property
    def started_on(self) -> date | None:
        return self.views[0][3].date() if self.views else None

    @property
    def completed(self) -> bool:
        first = self.views[0][0]
        return any(kind == "funnel.completed" and seq > first for seq, kind, _, _ in self.events)

    @property
    def escalated(self) -> bool:
        return any(kind == "escalation.requested" for _, kind, _, _ in self.events)

    def conversion(self, outcome: str) -> bool:
        return {"started": True, "completed": self.completed, "escalated": self.escalated,
                "abandoned": not self.completed and not self.escalated}[outcome]

    # docs/contract.md §6.1.4
    def step(self, index: int, outcome: str) -> bool:
        views = [e for e in self.views if e[2] == index]
        if outcome == "escalated":
            return any(kind == "escalation.requested" and step == index for _, kind, step, _ in self.events)
        if not views:
            return False
        first = views[0][0]
        if outcome == "reached":
            return True
        if outcome == "advanced":
            return any(seq > first and (kind == "funnel.completed" or (kind == "funnel.step_viewed" and step > index))
                       for seq, kind, step, _ in self.events)
        highest = max(e[2] for e in self.views)
        completed = any(kind == "funnel.completed" for _, kind, _, _ in self.events)
        return highest == index and not completed and not self.escalated


def session_funnels(built, sessions: set[str] | None = None) -> list[SessionFunnel]:
    """Every (session, funnel) with funnel events, of `sessions` (default: all)."""
    found: dict[tuple[str, str], SessionFunnel] = {}
    for session_id, funnel, seq, kind, step, at in built.query(
            "select session_id, funnel, event_seq, event_type, step_index, occurred_at from marts.fct_session_events "
            f"where funnel is not null and event_type in {FUNNEL_TYPES} order by session_id, event_seq"):
        if sessions is None or session_id in sessions:
            found.setdefault((session_id, funnel), SessionFunnel(session_id, funnel)).events.append(
                (seq, kind, step, at))
    return list(found.values())


class QueueVisit(NamedTuple):
    session_id: str
    day: date
    team: str
    dwell_s: float | None
    next_state: str | None


def queue_visits(built) -> list[QueueVisit]:
    """Every pending_agent visit with the UTC day of its entry and its team by docs/contract.md §6.1.7: the
    team of the last assignment within the visit, else the to_team of the latest transfer at or before its
    entry, else `unassigned`."""
    assignments, transfers = defaultdict(list), defaultdict(list)
    for session_id, seq, kind, at, team, to_team in built.query(
            "select session_id, event_seq, event_type, occurred_at, team, to_team from marts.fct_session_events "
            "where event_type in ('agent.assigned', 'conversation.transferred') order by event_seq"):
        (assignments if kind == "agent.assigned" else transfers)[session_id].append((seq, at, team or to_team))
    visits = []
    for session_id, entered, exited, dwell, next_state in built.query(
            "select session_id, entered_at, exited_at, dwell_s, next_state from marts.fct_state_transitions "
            "where state = 'pending_agent'"):
        ending = [team for _, at, team in assignments[session_id] if entered <= at and (exited is None or at <= exited)]
        before = [team for _, at, team in transfers[session_id] if at <= entered]
        visits.append(QueueVisit(session_id, entered.date(), (ending or before or ["unassigned"])[-1], dwell,
                                 next_state))
    return visits


def offered_and_answered_within(visits: list[QueueVisit], threshold_s: float,
                                short_abandon_s: float) -> tuple[int, int, int]:
    """(offered, answered within the threshold, abandoned) by docs/contract.md §6.2.2: a visit is offered
    when answered (next state human_active) or abandoned (resolved or expired) after at least
    `short_abandon_s` in the queue."""
    answered = [v for v in visits if v.next_state == "human_active"]
    abandoned = [v for v in visits if v.next_state in ("resolved", "expired") and v.dwell_s >= short_abandon_s]
    return (len(answered) + len(abandoned), sum(v.dwell_s <= threshold_s for v in answered), len(abandoned))
