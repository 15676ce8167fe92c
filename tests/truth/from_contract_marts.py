"""The rows the derivation from the contract's words (tests/truth/from_contract.py) gives: the
session columns it derives, the agent facts (docs/contract.md §6.1.6) and the marts of the
measures it covers, each with the columns and row keys of the mart (tests/truth/compare.py)."""

from __future__ import annotations

from collections import Counter, defaultdict
from tests.truth.agents import nulls_last
from tests.truth.from_contract import (
    Walked, at_ms, first_response, handle_ms, handovers, holds, queue_team, resolution_credit,
    response_samples, step_names, steps,
)
from tests.truth.sessions import TERMINAL_STATES, median, quantile, ratio, seconds

# The fct_sessions columns the derivation gives.
SESSION_COLUMNS = (
    "session_id", "conversation_id", "session_ordinal", "started_at", "last_activity_at", "ended_at",
    "final_state", "department", "query_nature", "csat_score", "agent_first_response_s",
    "first_responder_agent_id", "first_responder_team",
)
MARTS = ("mart_agent_performance", "mart_queue_dynamics", "mart_handovers", "mart_friction")


def contract_rows(walks: list[Walked]) -> dict[str, list[dict]]:
    """fct_sessions (SESSION_COLUMNS), fct_agent_sessions, fct_agent_responses and MARTS."""
    agent_sessions, responses = agent_facts(walks)
    return {
        "fct_sessions": session_rows(walks),
        "fct_agent_sessions": agent_sessions,
        "fct_agent_responses": responses,
        "mart_agent_performance": agent_performance(agent_sessions, responses),
        "mart_queue_dynamics": queue_dynamics(walks),
        "mart_handovers": handover_rows(walks),
        "mart_friction": friction(walks),
    }


def session_rows(walks: list[Walked]) -> list[dict]:
    """docs/contract.md §4.2: `session_ordinal` counts the conversation's sessions from 1, in the
    order they start; §6.1.1 the rest."""
    starts = defaultdict(list)
    for w in walks:
        starts[w.conversation_id].append(w.started)
    rows = []
    for w in walks:
        first = first_response(w)
        rows.append({
            "session_id": w.session_id,
            "conversation_id": w.conversation_id,
            "session_ordinal": sorted(starts[w.conversation_id]).index(w.started) + 1,
            "started_at": at_ms(w.started),
            "last_activity_at": at_ms(w.last_activity),
            "ended_at": at_ms(w.ended),
            "final_state": w.final,
            "department": w.department,
            "query_nature": w.query_nature,
            "csat_score": w.csat,
            "agent_first_response_s": None if first is None else seconds(first.wait),
            "first_responder_agent_id": None if first is None else first.agent,
            "first_responder_team": None if first is None else first.team,
        })
    return rows


def agent_facts(walks: list[Walked]) -> tuple[list[dict], list[dict]]:
    """docs/contract.md §6.1.6: one `fct_agent_sessions` row per agent, team and session in which
    the agent held the session, was credited with its resolution, sent its first human reply or
    answered a customer message; one `fct_agent_responses` row per response sample."""
    agent_sessions, responses = [], []
    for w in walks:
        part: dict[tuple[str, str], dict] = {}
        for hold in holds(w):
            row = part.setdefault((hold.agent, hold.team), _blank())
            row["handled"] = True
            row["handle"] += handle_ms(w, hold)
        credit = resolution_credit(w)
        if credit is not None:
            part.setdefault(credit, _blank())["resolved"] = True
        first = first_response(w)
        if first is not None:
            part.setdefault((first.agent, first.team), _blank())["first"] = first.wait
        for r in response_samples(w):
            part.setdefault((r.agent, r.team), _blank())
            responses.append({
                "session_id": w.session_id, "conversation_id": w.conversation_id, "agent_id": r.agent,
                "team": r.team, "received_at": at_ms(r.received), "replied_at": at_ms(r.replied),
                "response_s": seconds(r.replied - r.received),
            })
        agent_sessions += [{
            "session_id": w.session_id, "agent_id": agent, "team": team, "department": w.department,
            "query_nature": w.query_nature, "channel": w.channel, "started_at": at_ms(w.started),
            "handled": p["handled"], "resolved": p["resolved"], "first_response_s": seconds(p["first"]),
            "handle_time_s": seconds(p["handle"]), "csat_score": w.csat if p["handled"] else None,
        } for (agent, team), p in sorted(part.items())]
    return agent_sessions, responses


def _blank() -> dict:
    """An agent's part in a session before anything is known of it."""
    return {"handled": False, "resolved": False, "first": None, "handle": 0}


def _ms(s: float) -> int:
    return round(s * 1000)


def agent_performance(agent_sessions: list[dict], responses: list[dict]) -> list[dict]:
    """docs/contract.md §6.1.5, per agent, team, department and query nature: the facts added up."""
    groups = defaultdict(list)
    for row in agent_sessions:
        groups[row["agent_id"], row["team"], row["department"], row["query_nature"]].append(row)
    topic = {r["session_id"]: (r["department"], r["query_nature"]) for r in agent_sessions}
    samples = defaultdict(list)
    for r in responses:
        samples[(r["agent_id"], r["team"], *topic[r["session_id"]])].append(_ms(r["response_s"]))
    out = []
    for key in sorted(groups, key=nulls_last):
        rows = groups[key]
        handled = sum(r["handled"] for r in rows)
        resolved = sum(r["resolved"] for r in rows)
        firsts = [_ms(r["first_response_s"]) for r in rows if r["first_response_s"] is not None]
        scores = [r["csat_score"] for r in rows if r["csat_score"] is not None]
        out.append(dict(zip(("agent_id", "team", "department", "query_nature"), key), **{
            "sessions_handled": handled,
            "sessions_resolved": resolved,
            "resolution_rate": ratio(resolved, handled),
            "median_first_response_s": median(firsts),
            "p90_first_response_s": quantile(firsts, 0.9),
            "median_response_s": median(samples[key]),
            "handle_time_s": seconds(sum(_ms(r["handle_time_s"]) for r in rows)),
            "avg_csat": sum(scores) / len(scores) if scores else None,
        }))
    return out


def queue_dynamics(walks: list[Walked]) -> list[dict]:
    """docs/contract.md §6.1.7: every `pending_agent` visit on the UTC day of its entry, for its team."""
    groups = defaultdict(list)
    for w in walks:
        for v in w.visits:
            if v.state == "pending_agent":
                groups[at_ms(v.entered).date(), queue_team(w, v)].append(v)
    out = []
    for (day, team), visits in sorted(groups.items()):
        answered = [v.dwell for v in visits if v.next_state == "human_active"]
        out.append({
            "day": day, "team": team, "queued": len(visits),
            "median_unassigned_s": median(answered), "p90_unassigned_s": quantile(answered, 0.9),
            "abandoned_in_queue": sum(v.next_state in TERMINAL_STATES for v in visits),
        })
    return out


def handover_rows(walks: list[Walked]) -> list[dict]:
    """docs/contract.md §6.1.8, per from team and to team."""
    count, latencies, pongs = Counter(), defaultdict(list), Counter()
    for w in walks:
        for h in handovers(w):
            count[h.from_team, h.to_team] += 1
            pongs[h.from_team, h.to_team] += h.ping_pong
            if h.latency is not None:
                latencies[h.from_team, h.to_team].append(h.latency)
    return [{"from_team": f, "to_team": t, "handovers": count[f, t],
             "median_handover_latency_s": median(latencies[f, t]), "ping_pongs": pongs[f, t]}
            for f, t in sorted(count)]


def friction(walks: list[Walked]) -> list[dict]:
    """docs/contract.md §6.1.4, per funnel and step index; counts are sessions."""
    per_step: dict[tuple[str, int], list] = defaultdict(list)
    for w in walks:
        for key, step in steps(w).items():
            per_step[key].append(step)
    names = step_names(walks)
    out = []
    for (funnel, index), seen in sorted(per_step.items()):
        reached = sum(s.reached for s in seen)
        dropoffs, escalations = sum(s.dropoff for s in seen), sum(s.escalated for s in seen)
        times = [s.time_on_step for s in seen if s.time_on_step is not None]
        out.append({
            "funnel": funnel, "step_index": index, "step": names[funnel, index],
            "sessions_reached": reached, "sessions_advanced": len(times), "dropoffs": dropoffs,
            "escalations": escalations, "dropoff_rate": ratio(dropoffs, reached),
            "escalation_rate": ratio(escalations, reached), "median_time_on_step_s": median(times),
        })
    return out
