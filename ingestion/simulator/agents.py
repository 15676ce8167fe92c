"""The human side of a session: the queue for an agent, the agents' conversation, transfers.

A session enters with `queue` (it has just entered pending_agent) or, rarely, straight
with `human`. A session is transferred at most three times; one that was passed on once is
often passed on again, sometimes back to a team that handed it on before (a ping-pong,
docs/contract.md §6.2.1).
"""

from __future__ import annotations

from ingestion.simulator.records import Conversation
from ingestion.simulator.timeline import PeriodOver, Timeline
from ingestion.simulator.world import (
    AGENTS, BOT, DEPARTMENT_OF_TEAM, MINUTE, ROUTER, SECOND, TEAM_OF_AGENT, TEAM_OF_DEPARTMENT, TEAMS,
    agents_online, human as human_actor,
)


def hand_off(tl: Timeline, c: Conversation, gap_ms: int, note: bool = False) -> str:
    """The bot hands the session to the agents' queue (with `note`, says so in a message)."""
    if agents_online(c.t) and tl.cases.chance("tied_times", 0.2):
        return _instant_pickup(tl, c, gap_ms)
    tl.state(c, "pending_agent", gap_ms, BOT, "handoff")
    if note:
        tl.out_msg(c, tl.rng.randint(1, 3) * SECOND, BOT)
    return queue(tl, c)


def _instant_pickup(tl: Timeline, c: Conversation, gap_ms: int) -> str:
    """Queued, assigned and picked up in one millisecond: a queue visit of no length, whose order
    against the pick-up only the event ids tell."""
    agent = tl.rng.choice(AGENTS[TEAM_OF_DEPARTMENT[c.dept]])
    tl.tie(c, gap_ms, 3)
    tl.state(c, "pending_agent", 0, BOT, "handoff")
    tl.assign(c, agent, 0)
    tl.state(c, "human_active", 0, ROUTER, "assigned")
    return human(tl, c, agent)


def queue(tl: Timeline, c: Conversation) -> str:
    """The session has just entered pending_agent. With agents offline it may go back to the
    bot; a user who asks again later waits in the queue a second time, without that way back."""
    team = TEAM_OF_DEPARTMENT[c.dept]
    second_try = False
    while True:
        p_offline = 0.03 if agents_online(c.t) else 0.5
        r = tl.rng.random()
        if second_try or r >= p_offline:
            return _wait_for_agent(tl, c, team, r - p_offline)
        outcome = _agents_offline(tl, c)
        if outcome is not None:
            return outcome
        second_try = True


def _agents_offline(tl: Timeline, c: Conversation) -> str | None:
    """Back to the bot; the outcome, or None when the user asks for an agent again later."""
    rng = tl.rng
    tl.state(c, "bot_active", tl.ln(300, 0.8), BOT, "agents_offline")
    tl.out_msg(c, rng.randint(1, 3) * SECOND, BOT)
    r = rng.random()
    if r < 0.4:
        return "abandoned"
    if r < 0.7:
        tl.user_msg(c, tl.ln(120, 1.2))
        tl.out_msg(c, rng.randint(1, 3) * SECOND, BOT)
        return tl.resolve(c, tl.ln(60, 1.0), BOT, "resolved_by_bot")
    tl.user_msg(c, tl.ln(3 * 3600, 1.0))   # asks again later
    tl.state(c, "pending_agent", rng.randint(1, 4) * SECOND, BOT, "handoff")
    return None


def _wait_for_agent(tl: Timeline, c: Conversation, team: str, r: float) -> str:
    """`r` (uniform in [-p_offline, 1 - p_offline)) decides whether the user gives up first."""
    rng = tl.rng
    if r < 0.07:                                  # gives up in the queue
        if rng.random() < 0.5:
            tl.user_msg(c, tl.ln(240, 1.0))        # "hello??"
        return "abandoned"
    if r < 0.12:                                  # closed while waiting: "never mind"
        quick = rng.random() < 0.6                # most within seconds: a short abandon
        tl.user_msg(c, tl.ln(6, 0.5) if quick else tl.ln(120, 1.0))
        return tl.resolve(c, tl.ln(5, 0.5) if quick else tl.ln(60, 1.0), ROUTER, "user_cancelled")
    if tl.cases.chance("queue_past_ttl", 0.05):
        return _picked_up_after_ttl(tl, c, team)
    wait = queue_wait(tl, c.t)
    agent = rng.choice(AGENTS[team])
    if tl.cases.chance("concurrent_agents", 0.3):
        agent = AGENTS[team][0]                   # the team's lead takes many chats at once
    pre = rng.randint(1, 3) * SECOND
    if rng.random() < 0.25 and wait > 5 * MINUTE:   # a nudge while waiting
        tl.user_msg(c, wait // 2)
        wait -= wait // 2
    tl.pick_up(c, agent, wait, pre)
    return human(tl, c, agent)


def _picked_up_after_ttl(tl: Timeline, c: Conversation, team: str) -> str:
    """Nobody takes the chat for longer than the TTL: the session expires in the queue at its last
    activity plus the TTL; the late assignment is attached to it, and the pick-up opens the next
    session, in human_active (docs/contract.md §4.6)."""
    agent = tl.rng.choice(AGENTS[team])
    t = c.latest + tl.ttl + tl.ln(2 * 3600, 0.8) + SECOND
    picked = t + tl.rng.randint(1, 3) * SECOND
    if picked >= tl.horizon:
        raise PeriodOver
    tl.out.emit(t, "agent.assigned", {"agent_id": agent, "team": team}, c.cid, None, ROUTER)
    c.sess.assigns.append((t, agent, team))
    tl.open_by_state(c, picked, "human_active", ROUTER, "assigned")
    tl.cases.count("queue_past_ttl")
    return human(tl, c, agent)


def queue_wait(tl: Timeline, t: int) -> int:
    """How long a session entering the queue at t waits for an agent."""
    if agents_online(t):
        return tl.ln(170, 1.0)
    # nobody there until the next shift: wait until it starts plus the morning backlog
    w = t
    while not agents_online(w):
        w += 15 * MINUTE
    return (w - t) + tl.ln(600, 0.8)


# The chance of a session's first, second and third transfer: one passed on is often passed on again.
TRANSFER_CHANCE = (0.18, 0.5, 0.6)


def human(tl: Timeline, c: Conversation, agent: str) -> str:
    """Agents talk with the user, maybe transfer the session on, until one of them ends it."""
    while True:
        _exchange(tl, c, agent)
        n = len(c.sess.transfers)
        if n >= len(TRANSFER_CHANCE) or tl.rng.random() >= TRANSFER_CHANCE[n]:
            return _agent_ends(tl, c, agent)
        agent = _transfer(tl, c, agent)
        if agent is None:
            return "abandoned"                     # lost in the second queue


def _exchange(tl: Timeline, c: Conversation, agent: str):
    rng = tl.rng
    tl.out_msg(c, tl.ln(35, 1.0), human_actor(agent))
    for _ in range(rng.choice((1, 1, 2, 2, 3, 4))):
        tl.user_msg(c, tl.ln(45, 1.0))
        if rng.random() < 0.9:
            tl.out_msg(c, tl.ln(50, 0.9), human_actor(agent))


def _transfer(tl: Timeline, c: Conversation, agent: str) -> str | None:
    """Transfer to another team (or agent): the agent who takes over, None if the session is lost."""
    rng = tl.rng
    to_agent, inside = _transferred(tl, c, agent)
    if inside:                                     # stays human_active
        tl.assign(c, to_agent, rng.randint(1, 5) * SECOND)
        if rng.random() < 0.5:
            tl.state(c, "human_active", rng.randint(1, 3) * SECOND, ROUTER, "transfer")
        _previous_agent_writes(tl, c, agent)
        return to_agent
    tl.state(c, "pending_agent", rng.randint(1, 3) * SECOND, ROUTER, "transfer")
    wait = min(queue_wait(tl, c.t), tl.ln(240, 1.0)) if agents_online(c.t) else queue_wait(tl, c.t)
    pre = rng.randint(1, 3) * SECOND
    if rng.random() < 0.05:
        return None
    tl.pick_up(c, to_agent, wait, pre)
    _previous_agent_writes(tl, c, agent)
    return to_agent


def _previous_agent_writes(tl: Timeline, c: Conversation, agent: str):
    """The agent who handed the session on writes once more after the new one took it."""
    if tl.cases.chance("transfers", 0.3):
        tl.out_msg(c, tl.ln(25, 0.8), human_actor(agent))
        tl.cases.count("previous_agent_writes")


def _transferred(tl: Timeline, c: Conversation, agent: str) -> tuple[str, bool]:
    """The conversation.transferred event: the agent it goes to, and whether straight to them
    (inside) or through the queue."""
    rng = tl.rng
    team = TEAM_OF_AGENT[agent]
    to_team = _to_team(tl, c, team)
    to_agent = rng.choice(tuple(a for a in AGENTS[to_team] if a != agent))
    back = next((a for _, a, t in c.sess.assigns if t == to_team and a != agent), None)
    if back is not None and any(f == to_team for _, f, _ in c.sess.transfers) and tl.cases.chance("transfers", 0.7):
        to_agent = back                            # A→B→A: back to the very agent who handed it on
        tl.cases.count("transfer_back_to_agent")
    if rng.random() < 0.6:
        tl.out_msg(c, tl.ln(20, 0.7), human_actor(agent))   # "transferring you"
    props = {"from_team": team, "to_team": to_team, "from_agent_id": agent}
    inside = rng.random() < 0.6
    if inside:
        props["to_agent_id"] = to_agent
    if rng.random() < 0.5:
        props["reason"] = "wrong_team" if to_team != team else "workload"
    a = {"department": DEPARTMENT_OF_TEAM[to_team]} if rng.random() < 0.5 else None
    t = tl.at(c, tl.ln(15, 0.7))
    tl.out.emit(t, "conversation.transferred", props, c.cid, None, human_actor(agent), None, tl.attrs(c.sess, a))
    c.sess.transfers.append((t, team, to_team))
    return to_agent, inside


def _to_team(tl: Timeline, c: Conversation, team: str) -> str:
    """Where a transfer goes. The first: mostly another team, sometimes the same (workload).
    A later one: often back to the team that first handed the session on (a ping-pong: A→B→A,
    or A→B→C→A), else on to a team it has not been with (if none is left, back)."""
    rng = tl.rng
    transfers = c.sess.transfers
    if not transfers:
        return rng.choice(tuple(t for t in TEAMS if t != team) if rng.random() < 0.85 else TEAMS)
    handed_on = [f for _, f, _ in transfers if f != team]
    been = {team} | {f for _, f, _ in transfers} | {t for _, _, t in transfers}
    onward = [t for t in TEAMS if t not in been]
    if handed_on and (not onward or rng.random() < 0.4):
        return handed_on[0]
    return rng.choice(onward or [t for t in TEAMS if t != team])


def _agent_ends(tl: Timeline, c: Conversation, agent: str) -> str:
    rng = tl.rng
    r = rng.random()
    if r < 0.80 and tl.cases.chance("tied_times", 0.1):
        # A lead takes the chat over and closes it in the same millisecond: the close credits the
        # lead only because the assignment comes first in event order (docs/contract.md §6.1.5).
        lead = next(a for a in AGENTS[TEAM_OF_AGENT[agent]] if a != agent)
        tl.tie(c, tl.ln(40, 0.9), 2)
        tl.assign(c, lead, 0)
        tl.state(c, "resolved", 0, human_actor(lead), "closed_by_lead")
        return tl.after_resolved(c)
    if r < 0.80:
        tl.state(c, "resolved", tl.ln(40, 0.9), human_actor(agent), "resolved_by_agent")
        if rng.random() < 0.1:                     # closing note after resolving
            tl.out_msg(c, rng.randint(2, 20) * SECOND, human_actor(agent))
        return tl.after_resolved(c)
    if r < 0.95:
        return "abandoned"                         # the user stops answering
    if r < 0.97:                                   # invalid on purpose: human_active -> bot_active
        tl.state(c, "bot_active", tl.ln(30, 0.8), human_actor(agent), "handback")
        tl.out_msg(c, rng.randint(1, 3) * SECOND, BOT)
        return tl.resolve(c, tl.ln(60, 0.8), BOT, "resolved_by_bot")
    # released back to the queue, then never picked up again
    tl.state(c, "pending_agent", tl.ln(30, 0.8), human_actor(agent), "released")
    if rng.random() < 0.5:
        return tl.resolve(c, tl.ln(1800, 1.0), ROUTER, "closed_in_queue")
    return "abandoned"
