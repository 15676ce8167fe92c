"""A second truth for the agent, queue, friction and handover measures, read off the emitted events
with the words of docs/contract.md.

Why a second one: the truth of tests/truth reads the simulator's own records, but for holds,
reply attribution, response pairing, resolution credit and queue team it follows the same steps
as the dbt models, so a misreading shared by both would pass every comparison. Here each rule is
written from the contract's text in the most direct way and from nothing but the events: each
session's events are walked in the contract's order (§4.1) as a state machine (§3), and each
definition is then applied to what the walk saw. Nothing here reads the simulator's records or
the models.

Input: the sessions of a replay of the distinct events (tests/simulator/replay.py): session id
-> [(occurred_at, event)] in the order of §4.1, each session holding its attached events (§4.3).
Times are whole milliseconds since the epoch.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import NamedTuple

from tests.truth.sessions import TERMINAL_STATES, Visit

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MS = timedelta(milliseconds=1)
UNASSIGNED = "unassigned"
STATE_CHANGED = "conversation.state_changed"


def to_ms(at: datetime) -> int:
    return (at - EPOCH) // MS


def at_ms(ms: int | None) -> datetime | None:
    return None if ms is None else EPOCH + ms * MS


class Seen(NamedTuple):
    """One event of a session: its position in the session's order (§4.1), its time, the event."""
    seq: int
    t: int
    event: dict

    @property
    def props(self) -> dict:
        return self.event.get("properties") or {}


class Walked(NamedTuple):
    """A session as its events tell it: its facts (§6.1.1), its stage visits (§3.4) and its events."""
    session_id: str
    conversation_id: str
    started: int
    channel: str | None
    department: str | None
    query_nature: str | None
    csat: int | None
    final: str
    ended: int | None
    closed_seq: int | None        # the state change that ended it; None if open or ended by the TTL
    last_activity: int
    visits: list[Visit]
    events: list[Seen]

    def of(self, event_type: str) -> list[Seen]:
        return [e for e in self.events if e.event["type"] == event_type]

    def human_replies(self) -> list[Seen]:
        """docs/contract.md §2.3: a `message.sent` whose actor is a human, the agent being `actor.id`."""
        return [e for e in self.of("message.sent") if (e.event.get("actor") or {}).get("kind") == "human"]


def walk(session_id: str, timed: list[tuple[datetime, dict]], watermark: int, ttl: int) -> Walked:
    """docs/contract.md §3.1: a session starts in `inbound_queue` at its first event, unless that
    event is a `conversation.state_changed` (then in its `to_state`); each later state change moves
    it, a same-state one opens no visit (§3.3). §4.2: it ends at its first terminal state change;
    §4.5/§4.6: one TTL after its last activity if that is at or before the watermark, or at the
    first gap of at least the TTL. §4.3: later events stay attached and move neither its end nor
    its last activity. §4.4: activity is every event but `conversation.expired`. §6.1.1: channel of
    the first event, last non-null department and query nature, last CSAT score."""
    events = [Seen(i, to_ms(t), ev) for i, (t, ev) in enumerate(timed)]
    first = events[0]
    points = [] if first.event["type"] == STATE_CHANGED else [("inbound_queue", first.t)]  # (state, entered)
    ended = closed_seq = None
    last = first.t
    attributes, csat = {}, None
    for e in events:
        for name in ("department", "query_nature"):
            if (e.event.get("attributes") or {}).get(name) is not None:
                attributes[name] = e.event["attributes"][name]
        if e.event["type"] == "csat.submitted":
            csat = e.props["score"]
        if ended is not None:
            continue
        if e.t >= last + ttl:                     # a gap of the TTL: expired at its start (§4.6)
            ended = last + ttl
            points.append(("expired", ended))
            continue
        if e.event["type"] != "conversation.expired":
            last = e.t
        to = e.props.get("to_state") if e.event["type"] == STATE_CHANGED else None
        if to is not None and (not points or to != points[-1][0]):
            points.append((to, e.t))
            if to in TERMINAL_STATES:
                ended, closed_seq = e.t, e.seq
    if ended is None and last + ttl <= watermark:
        ended = last + ttl
        points.append(("expired", ended))
    final = points[-1][0] if ended is not None else "open"
    return Walked(session_id, first.event["conversation_id"], first.t, first.event.get("channel"),
                  attributes.get("department"), attributes.get("query_nature"), csat, final, ended,
                  closed_seq, last, _visits(points), events)


def _visits(points: list[tuple[str, int]]) -> list[Visit]:
    """docs/contract.md §3.4: each visit exits when the next is entered; terminal visits never exit."""
    nexts = points[1:] + [(None, None)]
    return [Visit(state, entered, None if state in TERMINAL_STATES else exited,
                  None if state in TERMINAL_STATES else following)
            for (state, entered), (following, exited) in zip(points, nexts)]


def walk_all(sessions: dict[str, list[tuple[datetime, dict]]], watermark: datetime,
             ttl: timedelta) -> list[Walked]:
    """Every replayed session walked, in session id order."""
    return [walk(sid, sessions[sid], to_ms(watermark), ttl // MS) for sid in sorted(sessions)]


# --- agents (docs/contract.md §6.1.5) --------------------------------------------------------

class Hold(NamedTuple):
    agent: str
    team: str
    start: int
    end: int | None               # None: the hold runs on


def team_in_session(w: Walked, agent: str, t: int) -> str:
    """docs/contract.md §6.1.5: the sender's team in that session, "the team of their latest
    assignment at or before the reply, else `unassigned`"."""
    teams = [a.props["team"] for a in w.of("agent.assigned") if a.props["agent_id"] == agent and a.t <= t]
    return teams[-1] if teams else UNASSIGNED


def holds(w: Walked) -> list[Hold]:
    """docs/contract.md §6.1.5: "An agent holds a session from their `agent.assigned` until the
    earliest of: the session's next assignment, its next transfer, and the end of the
    `human_active` visit open at the assignment (or, if none is open, the first one opening after
    it). If there is no such visit, or it has not ended, the hold ends at the next assignment or
    transfer, or runs on." """
    assigned, transfers = w.of("agent.assigned"), w.of("conversation.transferred")
    human = [v for v in w.visits if v.state == "human_active"]
    out = []
    for a in assigned:
        ends = [b.t for b in assigned if b.seq > a.seq][:1] + [x.t for x in transfers if x.seq > a.seq][:1]
        open_at = [v for v in human if v.entered <= a.t and (v.exited is None or a.t < v.exited)]
        visit = next(iter(open_at or [v for v in human if v.entered > a.t]), None)
        if visit is not None and visit.exited is not None:
            ends.append(visit.exited)
        out.append(Hold(a.props["agent_id"], a.props["team"], a.t, min(ends, default=None)))
    return out


def handle_ms(w: Walked, hold: Hold) -> int:
    """docs/contract.md §6.1.5 `handle_time_s`: "the overlap between the agent's holds and ended
    `human_active` visits; a visit ended by TTL expiry counts as ended"."""
    end = float("inf") if hold.end is None else hold.end
    return sum(max(0, min(end, v.exited) - max(hold.start, v.entered))
               for v in w.visits if v.state == "human_active" and v.exited is not None)


class Reply(NamedTuple):
    """A response sample (§6.1.5, §6.1.6 `fct_agent_responses`)."""
    received: int
    replied: int
    agent: str
    team: str


def response_samples(w: Walked) -> list[Reply]:
    """docs/contract.md §6.1.5: "a `message.received` that falls within a hold (from its start, up
    to but not including its end), paired with the next human `message.sent` of the session after
    it", credited to the reply's sender with the sender's team."""
    held, replies = holds(w), w.human_replies()
    out = []
    for m in w.of("message.received"):
        if not any(h.start <= m.t and (h.end is None or m.t < h.end) for h in held):
            continue
        reply = next((r for r in replies if r.seq > m.seq), None)
        if reply is not None:
            agent = reply.event["actor"]["id"]
            out.append(Reply(m.t, reply.t, agent, team_in_session(w, agent, reply.t)))
    return out


class FirstResponse(NamedTuple):
    wait: int                     # agent_first_response_s, in ms
    agent: str
    team: str


def first_response(w: Walked) -> FirstResponse | None:
    """docs/contract.md §6.1.1: "time from the session's first `pending_agent` entry to the first
    `message.sent` by a human at or after it", its sender and the sender's team."""
    entries = [v.entered for v in w.visits if v.state == "pending_agent"]
    reply = next((r for r in w.human_replies() if entries and r.t >= entries[0]), None)
    if reply is None:
        return None
    agent = reply.event["actor"]["id"]
    return FirstResponse(reply.t - entries[0], agent, team_in_session(w, agent, reply.t))


def resolution_credit(w: Walked) -> tuple[str, str] | None:
    """docs/contract.md §6.1.5 `sessions_resolved`: the (agent, team) of the session's "last
    assignment before the `resolved` entry, in event order"; None unless resolved."""
    if w.final != "resolved":
        return None
    before = [a for a in w.of("agent.assigned") if a.seq < w.closed_seq]
    return (before[-1].props["agent_id"], before[-1].props["team"]) if before else None


# --- queue and handovers (docs/contract.md §6.1.7, §6.1.8, §6.2.1) -----------------------------

def queue_team(w: Walked, v: Visit) -> str:
    """docs/contract.md §6.1.7: "the team of the assignment that ends it (the last `agent.assigned`
    with `entered_at ≤ occurred_at ≤ exited_at`, without the upper bound while the visit is open);
    else the `to_team` of the session's latest transfer at or before the visit's entry; else
    `unassigned`"."""
    ending = [a for a in w.of("agent.assigned") if v.entered <= a.t and (v.exited is None or a.t <= v.exited)]
    if ending:
        return ending[-1].props["team"]
    earlier = [x for x in w.of("conversation.transferred") if x.t <= v.entered]
    return earlier[-1].props["to_team"] if earlier else UNASSIGNED


class Handover(NamedTuple):
    from_team: str
    to_team: str
    latency: int | None           # ms to the first human message at or after it
    ping_pong: bool


def handovers(w: Walked) -> list[Handover]:
    """docs/contract.md §6.1.8: one sample per transfer, its latency "the time from the transfer to
    the first human `message.sent` at or after it in the same session"; §6.2.1: a ping-pong's
    `to_team` "equals the `from_team` of an earlier transfer in the same session"."""
    replies = w.human_replies()
    transfers = w.of("conversation.transferred")
    out = []
    for x in transfers:
        reply = next((r for r in replies if r.t >= x.t), None)
        handed_on = {y.props["from_team"] for y in transfers if y.seq < x.seq}
        out.append(Handover(x.props["from_team"], x.props["to_team"],
                            None if reply is None else reply.t - x.t, x.props["to_team"] in handed_on))
    return out


# --- friction (docs/contract.md §6.1.4) ----------------------------------------------------------

class Step(NamedTuple):
    """How one session went through one step of a funnel."""
    reached: bool
    time_on_step: int | None      # ms from the first view to the first later higher view or completion
    dropoff: bool
    escalated: bool


def _moves_on(e: Seen, funnel: str, index: int) -> bool:
    """A view of a higher step of the funnel, or its completion."""
    if e.props.get("funnel") != funnel:
        return False
    return e.event["type"] == "funnel.completed" or (
        e.event["type"] == "funnel.step_viewed" and e.props["step_index"] > index)


def steps(w: Walked) -> dict[tuple[str, int], Step]:
    """docs/contract.md §6.1.4, per (funnel, step index) seen in the session's views or escalations:
    reached (a view of the step); advanced "after their first view of the step viewed a higher
    step of the funnel or completed it", the time on step up to the first such event; a dropoff
    when "this is their highest viewed step of the funnel and [the session] neither completed nor
    escalated in that funnel"; escalated with "an `escalation.requested` naming this step index"."""
    def step_of(e: Seen) -> tuple[str, int]:
        return e.props["funnel"], e.props["step_index"]

    views = w.of("funnel.step_viewed")
    escalated = {step_of(e) for e in w.of("escalation.requested")}
    finished = {e.props["funnel"] for e in w.of("funnel.completed")} | {f for f, _ in escalated}
    out = {}
    for funnel, index in {step_of(e) for e in views} | escalated:
        first = next((e for e in views if step_of(e) == (funnel, index)), None)
        if first is None:
            out[funnel, index] = Step(False, None, False, True)
            continue
        onward = next((e for e in w.events[first.seq + 1:] if _moves_on(e, funnel, index)), None)
        highest = max(i for f, i in map(step_of, views) if f == funnel)
        out[funnel, index] = Step(True, None if onward is None else onward.t - first.t,
                                  highest == index and funnel not in finished, (funnel, index) in escalated)
    return out


def step_names(walks: list[Walked]) -> dict[tuple[str, int], str]:
    """docs/contract.md §6.1.4 `step`: "the step's name as the events give it for this index (the
    smallest if they disagree)", over step views and escalations."""
    names: dict[tuple[str, int], str] = {}
    for w in walks:
        for e in w.of("funnel.step_viewed") + w.of("escalation.requested"):
            key = (e.props["funnel"], e.props["step_index"])
            names[key] = min(names.get(key, e.props["step"]), e.props["step"])
    return names
