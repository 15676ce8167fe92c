"""The moves every journey is made of, on one clock per conversation.

`Timeline` holds the state of a run and the primitive moves: advance a conversation's
clock, open a session, receive and send messages, change state, assign an agent, close.
Each move emits its event and records what it did in the session's record. All randomness
of the journeys comes from its one `rng`, drawn in program order, so a seed fixes every event.
"""

from __future__ import annotations

import random
from datetime import datetime

from ingestion.simulator.emitter import Emitter
from ingestion.simulator.people import People
from ingestion.simulator.realism import Cases, Realism
from ingestion.simulator.records import Conversation, Session
from ingestion.simulator.world import (
    BOT, DAY, DEPARTMENTS, HOUR, ODD_QUERY_NATURES, QUERY_NATURES, ROUTER, SECOND, SURVEY, TEAM_OF_AGENT, USER,
    lognormal_ms, long_note, pick, to_ms,
)


class PeriodOver(Exception):
    """The conversation ran past the end of the simulated period."""


class Timeline:
    def __init__(self, days: float, sessions_per_day: int, seed: int, start: datetime, ttl_hours: float,
                 id_prefix: str = "", realism: Realism = Realism()):
        if days <= 0 or sessions_per_day < 0 or ttl_hours <= 0:
            raise ValueError("days and ttl_hours must be positive, sessions_per_day non-negative")
        self.rng = random.Random(seed)
        self.out = Emitter(seed, id_prefix)
        self.people = People(self.rng, id_prefix)
        self.start = to_ms(start)
        self.horizon = self.start + int(round(days * DAY))
        self.days = days
        self.sessions_per_day = sessions_per_day
        self.ttl = int(round(ttl_hours * HOUR))
        self.prefix = id_prefix
        self.max_gap = max(2 * SECOND, int(self.ttl * 0.8))    # no gap inside a session reaches the TTL
        self.sessions: list[Session] = []
        self.webview_journeys = 0
        self._messages = 0
        self.cases = Cases(realism, seed)
        self._same = 0                       # moves left that happen in the current millisecond (`tie`)

    def ln(self, median_s: float, sigma: float) -> int:
        """Lognormal duration in ms with the given median (seconds)."""
        return lognormal_ms(self.rng, median_s, sigma)

    def at(self, c: Conversation, gap_ms: int, touch: bool = True) -> int:
        """Advance the conversation clock by a gap (>= 1 s, < TTL) and return the time; inside a
        `tie`, the tie's millisecond. Without `touch`, the caller records the time its event carries."""
        if self._same:
            self._same -= 1
            return c.t
        gap = min(max(gap_ms, SECOND), self.max_gap) + self.rng.randrange(SECOND)
        t = c.t + gap
        if t >= self.horizon:
            raise PeriodOver
        c.t = t
        if touch:
            self.touch(c, t)
        return t

    def touch(self, c: Conversation, t: int):
        """An event of the conversation at t (a skewed browser's may lie behind its clock)."""
        c.latest = max(c.latest, t)
        if c.sess is not None:
            c.sess.last = max(c.sess.last, t)

    def tie(self, c: Conversation, gap_ms: int, n: int) -> int:
        """The next n moves happen in one millisecond, `gap_ms` from now, and go out in one request."""
        t = self.at(c, gap_ms)
        self._same = n
        self.out.tie(n)
        self.cases.count("tied_times")
        return t

    # --- sessions -----------------------------------------------------------------
    def new_session(self, c: Conversation, gap_ms: int):
        """Open the conversation's next session with a message (or, the bot writing first, with a
        state change), after a gap that may pass the TTL and clear of every earlier event."""
        t = max(c.t + max(gap_ms, SECOND) + self.rng.randrange(SECOND), c.latest + SECOND)
        if t >= self.horizon:
            raise PeriodOver
        if self.cases.chance("state_first", 0.04):
            self.open_by_state(c, t, "bot_active", BOT, "proactive")
            self.received(c, self.at(c, self.ln(30, 1.0)), self._entry_attributes(c))
            return
        c.t = t
        self._open(c, Session(f"{c.cid}:{c.ordinal + 1}", c.cid, c.phone, c.channel, t))
        self.received(c, t, self._entry_attributes(c))

    def open_by_state(self, c: Conversation, t: int, to: str, actor: dict, reason: str):
        """Open the next session at t with a state change: it starts in `to`, without the implicit
        inbound_queue, and its channel is the state change's, none (docs/contract.md §3.1, §6.1.1)."""
        c.t = t
        self._open(c, Session(f"{c.cid}:{c.ordinal + 1}", c.cid, c.phone, None, t, first_state=to))
        self.out.emit(t, "conversation.state_changed", {"to_state": to, "reason": reason}, c.cid, None, actor)
        self.cases.count("state_first")

    def _open(self, c: Conversation, s: Session):
        c.ordinal += 1
        c.sess = s
        c.latest = max(c.latest, s.started)
        self.sessions.append(s)

    def _entry_attributes(self, c: Conversation) -> dict | None:
        """The topic of a new session (a reopen often keeps the old one) and what the entry point tells of it."""
        if c.dept is None or self.rng.random() < 0.5:
            c.dept = pick(self.rng, DEPARTMENTS)
            c.qn = self.rng.choice(QUERY_NATURES[c.dept])
        if self.cases.chance("odd_attributes", 0.05):
            self.cases.count("odd_attributes")
            rng = self.cases.rng
            return {"department": c.dept, "query_nature": rng.choice(ODD_QUERY_NATURES), "note": long_note(rng)}
        r = self.rng.random()
        if r < 0.45:
            return {"department": c.dept, "query_nature": c.qn}
        if r < 0.62:
            return {"department": c.dept}
        if r < 0.70:
            return {"query_nature": c.qn, "campaign": "autumn-2026"}
        if r < 0.73:
            return {"department": c.dept, "query_nature": None}
        return None

    def attrs(self, s: Session, attributes: dict | None) -> dict | None:
        """Record what an event's attributes say of the session's topic; returns them."""
        if attributes:
            if attributes.get("department") is not None:
                s.dept = attributes["department"]
            if attributes.get("query_nature") is not None:
                s.qn = attributes["query_nature"]
        return attributes

    # --- messages -------------------------------------------------------------------
    def message_id(self) -> dict:
        self._messages += 1
        return {"message_id": f"{self.prefix}msg-{self._messages}"}

    def received(self, c: Conversation, t: int, attributes: dict | None = None):
        self.out.emit(t, "message.received", self.message_id(), c.cid, c.channel, USER,
                      {"channel_user_id": c.phone}, self.attrs(c.sess, attributes))
        c.sess.received.append(t)

    def user_msg(self, c: Conversation, gap_ms: int, attributes: dict | None = None):
        self.received(c, self.at(c, gap_ms), attributes)

    def out_msg(self, c: Conversation, gap_ms: int, actor: dict):
        t = self.at(c, gap_ms)
        self.out.emit(t, "message.sent", self.message_id(), c.cid, c.channel, actor)
        if actor["kind"] == "human":
            c.sess.replies.append((t, actor["id"]))

    # --- states and agents ----------------------------------------------------------
    def state(self, c: Conversation, to: str, gap_ms: int, actor: dict, reason: str | None = None,
              attributes: dict | None = None):
        t = self.at(c, gap_ms)
        s = c.sess
        props = {"to_state": to}
        if self.rng.random() < 0.8:
            props["from_state"] = s.state
        if reason:
            props["reason"] = reason
        self.out.emit(t, "conversation.state_changed", props, c.cid, None, actor, None,
                      self.attrs(s, attributes))
        if to != s.state:                                     # the same state starts no new visit
            s.visits.append((to, t))
            if to == "resolved":
                s.close_assigns = len(s.assigns)

    def assign(self, c: Conversation, agent: str, gap_ms: int):
        t = self.at(c, gap_ms)
        team = TEAM_OF_AGENT[agent]
        self.out.emit(t, "agent.assigned", {"agent_id": agent, "team": team}, c.cid, None, ROUTER)
        c.sess.assigns.append((t, agent, team))

    def pick_up(self, c: Conversation, agent: str, wait_ms: int, pre_ms: int):
        """The agent is assigned after the wait less `pre_ms`, and takes the session `pre_ms` later."""
        self.assign(c, agent, wait_ms - pre_ms)
        self.state(c, "human_active", pre_ms, ROUTER, "assigned")

    # --- closing ------------------------------------------------------------------------
    def resolve(self, c: Conversation, gap_ms: int, actor: dict, reason: str) -> str:
        self.state(c, "resolved", gap_ms, actor, reason)
        return self.after_resolved(c)

    def after_resolved(self, c: Conversation) -> str:
        """A survey, and rarely a second close; both belong to the session that just ended."""
        if self.rng.random() < 0.4:
            self._survey(c)
        if self.rng.random() < 0.03:
            # A second system closes it again: the close names the state the conversation is
            # already in, so it opens no session (docs/decisions.md) and the session stays as is.
            self.out.emit(self.at(c, self.ln(20, 1.0)), "conversation.state_changed",
                          {"to_state": "resolved", "reason": "closed_again"}, c.cid, None, ROUTER)
        return "resolved"

    def _survey(self, c: Conversation):
        """The CSAT question; most users answer, a few twice (the last score counts)."""
        rng = self.rng
        self.out_msg(c, rng.randint(2, 10) * SECOND, SURVEY)
        if rng.random() < 0.8:
            for _ in range(2 if rng.random() < 0.06 else 1):
                t = self.at(c, self.ln(60, 1.2))
                score = rng.choices((1, 2, 3, 4, 5), (0.08, 0.07, 0.15, 0.3, 0.4))[0]
                self.out.emit(t, "csat.submitted", {"score": score}, c.cid, c.channel, USER,
                              {"channel_user_id": c.phone})
                c.sess.csat = score
