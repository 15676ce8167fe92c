"""The agents' queue: every pending_agent visit on the UTC day of its entry, for one team
(docs/contract.md §6.1.7), as fct_queue_visits holds it and mart_queue_dynamics and
mart_service_level (§6.2.2) count it."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date

from ingestion.simulator.records import Session
from ingestion.simulator.world import SECOND, from_ms
from tests.truth.agents import UNASSIGNED
from tests.truth.sessions import TERMINAL_STATES, Settled, Visit, median, pending, quantile, ratio, seconds


def queue_team(s: Session, v: Visit) -> str:
    """The team a pending_agent visit is attributed to: the last assignment that ends it, else
    the to_team of the latest transfer at or before its entry, else unassigned."""
    ending = [team for t, _, team in s.assigns if v.entered <= t and (v.exited is None or t <= v.exited)]
    if ending:
        return ending[-1]
    return next((to for t, _, to in reversed(s.transfers) if t <= v.entered), UNASSIGNED)


def queue_visits(settled: list[Settled]) -> dict[tuple[date, str], list[Visit]]:
    """(UTC day of entry, team) -> the pending_agent visits counted there."""
    out = defaultdict(list)
    for o in settled:
        for v in pending(o):
            out[from_ms(v.entered).date(), queue_team(o.s, v)].append(v)
    return out


def queue_visit_rows(settled: list[Settled], short_abandon_s: float) -> list[dict]:
    """fct_queue_visits: every pending_agent visit with its day, team, the session's dimensions and
    its outcome (docs/contract.md §6.1.12), in the order of the grain."""
    rows = []
    for o in settled:
        for index, v in enumerate(o.visits, 1):
            if v.state != "pending_agent":
                continue
            if v.next_state in TERMINAL_STATES:
                outcome = "short_abandon" if v.dwell < short_abandon_s * SECOND else "abandoned"
            else:
                outcome = {None: "waiting", "human_active": "answered", "bot_active": "returned_to_bot"}.get(
                    v.next_state, "other")
            rows.append({
                "session_id": o.s.sid, "visit_index": index, "day": from_ms(v.entered).date(),
                "team": queue_team(o.s, v), "channel": o.s.channel, "department": o.s.dept,
                "query_nature": o.s.qn, "entered_at": from_ms(v.entered), "exited_at": from_ms(v.exited),
                "dwell_s": seconds(v.dwell), "next_state": v.next_state,
                "outcome": outcome,
            })
    return sorted(rows, key=lambda r: (r["session_id"], r["visit_index"]))


def queue_dynamics(settled: list[Settled]) -> list[dict]:
    rows = []
    for (day, team), visits in sorted(queue_visits(settled).items()):
        waits = [v.dwell for v in visits if v.next_state == "human_active"]
        rows.append({
            "day": day,
            "team": team,
            "queued": len(visits),
            "median_unassigned_s": median(waits),
            "p90_unassigned_s": quantile(waits, 0.9),
            "abandoned_in_queue": sum(v.next_state in TERMINAL_STATES for v in visits),
        })
    return rows


def outcomes(visits: list[Visit], short_abandon_s: float) -> Counter:
    """How the visits left the queue: answered, abandoned (short_abandoned among them),
    returned_to_bot, or still waiting."""
    count = Counter()
    for v in visits:
        if v.next_state == "human_active":
            count["answered"] += 1
        elif v.next_state in TERMINAL_STATES:
            count["abandoned"] += 1
            count["short_abandoned"] += v.dwell < short_abandon_s * SECOND
        elif v.next_state == "bot_active":
            count["returned_to_bot"] += 1
        if v.exited is None:
            count["waiting"] += 1
    return count


def service_level(settled: list[Settled], thresholds_s: tuple[int, ...], short_abandon_s: float) -> list[dict]:
    """One row per (day, team) with visits and per threshold (docs/contract.md §6.2.2)."""
    rows = []
    for (day, team), visits in sorted(queue_visits(settled).items()):
        count = outcomes(visits, short_abandon_s)
        offered = count["answered"] + count["abandoned"] - count["short_abandoned"]
        for threshold in sorted(thresholds_s):
            within = sum(v.next_state == "human_active" and v.dwell <= threshold * SECOND for v in visits)
            rows.append({
                "day": day,
                "team": team,
                "threshold_s": threshold,
                "queued": len(visits),
                "answered": count["answered"],
                "answered_within": within,
                "abandoned": count["abandoned"],
                "short_abandoned": count["short_abandoned"],
                "returned_to_bot": count["returned_to_bot"],
                "waiting": count["waiting"],
                "offered": offered,
                "service_level": ratio(within, offered),
                "abandon_rate": ratio(count["abandoned"] - count["short_abandoned"], offered),
            })
    return rows
