"""A session from its first message: routing, the bot's dialogue, and where the bot sends it.

`session` returns the outcome: "resolved", or "abandoned" (the user went silent; the session
expires one TTL after its last activity unless the conversation is reopened before).
"""

from __future__ import annotations

from ingestion.simulator.agents import hand_off, human, queue
from ingestion.simulator.records import Conversation
from ingestion.simulator.timeline import Timeline
from ingestion.simulator.webview import webview
from ingestion.simulator.world import AGENTS, ALL_QUERY_NATURES, BOT, ROUTER, SECOND, TEAM_OF_DEPARTMENT


def session(tl: Timeline, c: Conversation, gap_ms: int) -> str:
    """One session from its first message to resolved / abandoned."""
    tl.new_session(c, gap_ms)
    r = tl.rng.random()
    if r < 0.04:                                   # routing rule: straight to the queue
        tl.state(c, "pending_agent", 2 * SECOND, ROUTER, "routing_rule")
        return queue(tl, c)
    if r < 0.06:
        return _unattended(tl, c)
    _bot_dialogue(tl, c)
    if tl.rng.random() < 0.01:
        return _direct_pickup(tl, c)
    if tl.rng.random() < 0.32:
        return webview(tl, c)
    return _bot_ends(tl, c)


def _unattended(tl: Timeline, c: Conversation) -> str:
    """Nobody picks it up; sometimes the router closes it as spam."""
    if tl.rng.random() < 0.5:
        tl.user_msg(c, tl.ln(40, 1.0))
    if tl.rng.random() < 0.4:
        return tl.resolve(c, tl.ln(600, 1.0), ROUTER, "spam")
    return "abandoned"


def _bot_dialogue(tl: Timeline, c: Conversation):
    """The bot greets (sometimes classifying the intent, not always as the entry point did) and chats."""
    rng = tl.rng
    classify = None
    if rng.random() < 0.3:
        qn = c.qn if rng.random() < 0.6 else rng.choice(ALL_QUERY_NATURES)
        classify = {"query_nature": qn}
    tl.state(c, "bot_active", rng.randint(1, 4) * SECOND, BOT, "bot_greeting", classify)
    tl.out_msg(c, rng.randint(1, 3) * SECOND, BOT)
    for _ in range(rng.choice((0, 1, 1, 2, 2, 3))):
        a = None
        if rng.random() < 0.08:
            a = {"query_nature": rng.choice(ALL_QUERY_NATURES)}
        tl.user_msg(c, tl.ln(25, 0.9), a)
        tl.out_msg(c, rng.randint(1, 4) * SECOND, BOT)


def _direct_pickup(tl: Timeline, c: Conversation) -> str:
    """Invalid on purpose: bot_active -> human_active, without the queue."""
    agent = tl.rng.choice(AGENTS[TEAM_OF_DEPARTMENT[c.dept]])
    tl.assign(c, agent, tl.ln(60, 0.8))
    tl.state(c, "human_active", tl.rng.randint(1, 3) * SECOND, ROUTER, "direct_pickup")
    return human(tl, c, agent)


def _bot_ends(tl: Timeline, c: Conversation) -> str:
    """The bot resolves it, hands it to the agents, or the user leaves."""
    rng = tl.rng
    r = rng.random()
    if r < 0.45:
        tl.user_msg(c, tl.ln(20, 0.8))
        tl.out_msg(c, rng.randint(1, 3) * SECOND, BOT)
        return tl.resolve(c, tl.ln(60, 1.0), BOT, "resolved_by_bot")
    if r < 0.85:
        if rng.random() < 0.7:
            tl.user_msg(c, tl.ln(20, 0.8))
        return hand_off(tl, c, rng.randint(1, 5) * SECOND, note=True)   # "connecting you to an agent"
    return "abandoned"
