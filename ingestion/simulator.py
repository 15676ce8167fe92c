"""Seeded journey simulator: wire-format events plus the ground truth behind them.

`simulate()` plays out customer journeys (chat -> webview -> human agents) on
one timeline per conversation and, while doing so, records the truth of every
session from its own timeline variables: when it entered and left
`pending_agent`, when it was resolved, who answered first, and so on. The
truth is *not* re-derived from the emitted events, so the pipeline (which does
derive everything from events, by SPEC 3.4 and 4) can be checked against it.

Delivery faults are layered on top of the distinct events: duplicates (same
event_id and content, possibly another `sent_at`), local and global shuffling,
and late events that arrive one batch later than their `occurred_at` window.

Batches: the range [min occurred_at, max occurred_at] is cut into `n_batches`
equal windows; an event belongs to window
``(ms - min_ms) * n_batches // (max_ms - min_ms)`` (capped at the last), and
is delivered in that batch unless it is late (then in the next one, never more
than 6 h after the boundary it crosses). `Simulation.events` is in delivery
order: batch 0 first, and `batches` is non-decreasing.

Only the standard library is used. Run ``python -m ingestion.simulator --help``
to write the batches as NDJSON files.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable

__all__ = ["Simulation", "simulate", "write_ndjson"]

UTC = timezone.utc
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_S = 1000                      # one second in ms
_MIN = 60 * _S
_HOUR = 60 * _MIN
_DAY = 24 * _HOUR

# --- the world ---------------------------------------------------------------

CHANNELS = (("whatsapp", 0.70), ("messenger", 0.12), ("webchat", 0.12), ("sms", 0.06))
DEPARTMENTS = (("billing", 0.34), ("technical", 0.30), ("sales", 0.16), ("general", 0.20))
QUERY_NATURES = {
    "billing": ("invoice_question", "refund", "payment_failed", "address_change"),
    "technical": ("outage", "login_problem", "device_setup", "appointment"),
    "sales": ("new_contract", "upgrade", "appointment"),
    "general": ("address_change", "complaint", "other", "appointment"),
}
ALL_QUERY_NATURES = tuple(sorted({q for qs in QUERY_NATURES.values() for q in qs}))
TEAM_OF_DEPARTMENT = {"billing": "billing", "technical": "tech", "sales": "general", "general": "general"}
TEAMS = ("billing", "tech", "general")
AGENTS = {team: tuple(f"agent-{5 * i + j + 1:02d}" for j in range(5)) for i, team in enumerate(TEAMS)}
TEAM_OF_AGENT = {a: team for team, agents in AGENTS.items() for a in agents}
FUNNELS = {
    "change_address": ("enter_postcode", "confirm_address", "choose_move_date"),
    "refund_request": ("select_order", "refund_reason", "bank_details", "review"),
    "book_appointment": ("choose_service", "pick_slot", "confirm"),
}
FUNNEL_OF_QUERY = {"address_change": "change_address", "refund": "refund_request",
                   "appointment": "book_appointment", "payment_failed": "refund_request",
                   "device_setup": "book_appointment"}
BOT = {"kind": "bot", "id": "bot-1"}
ROUTER = {"kind": "system", "id": "router"}
SURVEY = {"kind": "system", "id": "survey"}
USER = {"kind": "user"}

# Share of session starts per UTC hour (business hours in the Netherlands peak).
HOUR_WEIGHTS = (0.12, 0.08, 0.06, 0.05, 0.07, 0.15, 0.35, 0.75, 1.25, 1.6, 1.7, 1.6,
                1.4, 1.5, 1.6, 1.5, 1.3, 1.15, 1.05, 1.0, 0.9, 0.7, 0.45, 0.25)
WEEKDAY_WEIGHTS = (1.15, 1.1, 1.05, 1.05, 1.0, 0.6, 0.45)   # Monday first

OFFSETS = ("+01:00", "+02:00", "-05:00", "+05:30")
LATE_MAX_MS = 6 * _HOUR
DUPLICATE_SHARE = 0.10
LATE_SHARE = 0.03


@dataclass
class Simulation:
    events: list[dict]        # delivery order: duplicates included, shuffled/late
    batches: list[int]        # delivery batch of each delivered copy (same length as events)
    sessions: list[dict]      # ground truth, one dict per session
    watermark: datetime       # max occurred_at over all distinct events (UTC aware)
    n_unique_events: int      # number of distinct event_ids

    def batch(self, index: int) -> list[dict]:
        """The delivered copies of one batch, in delivery order."""
        return [e for e, b in zip(self.events, self.batches) if b == index]


class _Stop(Exception):
    """The conversation ran past the end of the simulated period."""


class _Session:
    __slots__ = ("sid", "cid", "phone", "channel", "started", "last", "state", "pend_enter",
                 "first_pend", "queue_total", "first_wait", "escalated", "human", "afr",
                 "handovers", "webview", "completed", "csat", "dept", "qn", "resolved")

    def __init__(self, sid, cid, phone, channel, t):
        self.sid, self.cid, self.phone, self.channel = sid, cid, phone, channel
        self.started = self.last = t
        self.state = "inbound_queue"
        self.pend_enter = self.first_pend = self.first_wait = self.afr = None
        self.queue_total = 0
        self.escalated = self.human = self.webview = self.completed = False
        self.handovers = 0
        self.csat = self.dept = self.qn = self.resolved = None


class _Conv:
    __slots__ = ("cid", "phone", "anon", "channel", "t", "sess", "ordinal", "dept", "qn")

    def __init__(self, cid, phone, anon, channel):
        self.cid, self.phone, self.anon, self.channel = cid, phone, anon, channel
        self.t = 0
        self.sess = None
        self.ordinal = 0
        self.dept = self.qn = None


def _ms(dt: datetime) -> int:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - _EPOCH) // timedelta(milliseconds=1)


def _dt(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


class _Gen:
    def __init__(self, days, sessions_per_day, seed, start, ttl_hours):
        if days <= 0 or sessions_per_day < 0 or ttl_hours <= 0:
            raise ValueError("days and ttl_hours must be positive, sessions_per_day non-negative")
        self.rng = random.Random(seed)
        self.idrng = random.Random(f"event-ids:{seed}")
        self.fmtrng = random.Random(f"format:{seed}")
        self.start = _ms(start)
        self.horizon = self.start + int(round(days * _DAY))
        self.days = days
        self.spd = sessions_per_day
        self.ttl = int(round(ttl_hours * _HOUR))
        self.max_gap = max(2 * _S, int(self.ttl * 0.8))    # no gap inside a session reaches the TTL
        self.events: list[dict] = []
        self.ms: list[int] = []
        self.sessions: list[_Session] = []
        self._dates: dict[int, str] = {}
        self._msg = 0
        self.persons: list[tuple[str, str]] = []           # (phone, anonymous_id)
        self._phones: set[str] = set()
        self.webview_journeys = 0

    # --- formatting ------------------------------------------------------
    def fmt(self, ms: int, offset: str = "+00:00") -> str:
        if offset == "+00:00" or offset == "Z":
            local = ms
        else:
            sign = 1 if offset[0] == "+" else -1
            local = ms + sign * (int(offset[1:3]) * _HOUR + int(offset[4:6]) * _MIN)
        day, rem = divmod(local, _DAY)
        d = self._dates.get(day)
        if d is None:
            d = self._dates[day] = date.fromordinal(_EPOCH_ORDINAL + day).isoformat()
        h, rem = divmod(rem, _HOUR)
        m, rem = divmod(rem, _MIN)
        s, milli = divmod(rem, _S)
        return f"{d}T{h:02d}:{m:02d}:{s:02d}.{milli:03d}{offset}"

    def event_id(self) -> str:
        h = "%032x" % self.idrng.getrandbits(128)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"

    def emit(self, ms, etype, props, cid=None, channel=None, actor=None, identity=None,
             attributes=None, sent_share=0.25) -> dict:
        r = self.fmtrng.random()
        offset = "+00:00" if r < 0.96 else ("Z" if r < 0.97 else OFFSETS[int(r * 1000) % 4])
        ev = {"event_id": self.event_id(), "type": etype, "occurred_at": self.fmt(ms, offset)}
        if cid is not None:
            ev["conversation_id"] = cid
        if channel is not None:
            ev["channel"] = channel
        if actor is not None:
            ev["actor"] = dict(actor)          # never share nested dicts between events
        if identity is not None:
            ev["identity"] = dict(identity)
        if attributes is not None:
            ev["attributes"] = attributes
        ev["properties"] = props
        if self.fmtrng.random() < sent_share:
            ev["sent_at"] = self.fmt(ms + self.fmtrng.randint(30, 2500))
        self.events.append(ev)
        self.ms.append(ms)
        return ev

    # --- randomness helpers --------------------------------------------------
    def ln(self, median_s: float, sigma: float) -> int:
        """Lognormal duration in ms with the given median (seconds)."""
        return int(median_s * _S * math.exp(sigma * self.rng.gauss(0.0, 1.0)))

    def pick(self, weighted):
        r = self.rng.random()
        acc = 0.0
        for value, w in weighted:
            acc += w
            if r < acc:
                return value
        return weighted[-1][0]

    def new_person(self) -> tuple[str, str]:
        while True:
            phone = "+316%08d" % self.rng.randrange(10 ** 8)
            if phone not in self._phones:
                break
        self._phones.add(phone)
        person = (phone, "anon-%012x" % self.rng.getrandbits(48))
        self.persons.append(person)
        return person

    # --- conversation timeline ---------------------------------------------
    def at(self, c: _Conv, gap_ms: int) -> int:
        """Advance the conversation clock by a gap (>= 1 s, < TTL) and return the time."""
        gap = min(max(gap_ms, _S), self.max_gap) + self.rng.randrange(_S)
        t = c.t + gap
        if t >= self.horizon:
            raise _Stop
        c.t = t
        if c.sess is not None:
            c.sess.last = t
        return t

    def attrs(self, s: _Session, attributes: dict | None) -> dict | None:
        if attributes:
            if attributes.get("department") is not None:
                s.dept = attributes["department"]
            if attributes.get("query_nature") is not None:
                s.qn = attributes["query_nature"]
        return attributes

    def user_msg(self, c: _Conv, gap_ms: int, attributes: dict | None = None):
        t = self.at(c, gap_ms)
        self._msg += 1
        self.emit(t, "message.received", {"message_id": f"msg-{self._msg}"}, c.cid, c.channel,
                  USER, {"channel_user_id": c.phone}, self.attrs(c.sess, attributes))

    def out_msg(self, c: _Conv, gap_ms: int, actor: dict):
        t = self.at(c, gap_ms)
        self._msg += 1
        s = c.sess
        if actor["kind"] == "human" and s.first_pend is not None and s.afr is None:
            s.afr = t - s.first_pend
        self.emit(t, "message.sent", {"message_id": f"msg-{self._msg}"}, c.cid, c.channel, actor)

    def state(self, c: _Conv, to: str, gap_ms: int, actor: dict, reason: str | None = None,
              attributes: dict | None = None):
        t = self.at(c, gap_ms)
        s = c.sess
        props = {"to_state": to}
        if self.rng.random() < 0.8:
            props["from_state"] = s.state
        if reason:
            props["reason"] = reason
        self.emit(t, "conversation.state_changed", props, c.cid, None, actor, None,
                  self.attrs(s, attributes))
        if to == s.state:
            return                        # same state: no new visit
        if s.state == "pending_agent":
            dwell = t - s.pend_enter
            s.queue_total += dwell
            if s.first_wait is None:
                s.first_wait = dwell
        if to == "pending_agent":
            s.pend_enter = t
            s.escalated = True
            if s.first_pend is None:
                s.first_pend = t
        elif to == "human_active":
            s.human = True
        elif to == "resolved":
            s.resolved = t
        s.state = to

    def assign(self, c: _Conv, agent: str, gap_ms: int):
        t = self.at(c, gap_ms)
        self.emit(t, "agent.assigned", {"agent_id": agent, "team": TEAM_OF_AGENT[agent]},
                  c.cid, None, ROUTER)

    def agents_online(self, t: int) -> bool:
        day, rem = divmod(t, _DAY)
        hour = rem // _HOUR
        weekday = (day + 3) % 7               # 1970-01-01 was a Thursday; 0 = Monday
        return 7 <= hour < 21 if weekday < 5 else 8 <= hour < 17

    # --- journeys ------------------------------------------------------------
    def conversation(self, c: _Conv, t0: int):
        c.t = t0 - _S
        try:
            gap = 0
            while True:
                outcome = self.session(c, gap)
                if c.ordinal >= 4:
                    break
                if outcome == "resolved":
                    if self.rng.random() >= 0.12:
                        break
                    gap = self.ln(4 * 3600, 1.6)                       # minutes to days
                else:
                    if self.rng.random() >= 0.22:
                        break
                    gap = self.ttl + 10 * _MIN + self.ln(10 * 3600, 1.0)  # clearly past the TTL
        except _Stop:
            pass

    def new_session(self, c: _Conv, gap_ms: int):
        t = c.t + max(gap_ms, _S) + self.rng.randrange(_S)
        if t >= self.horizon:
            raise _Stop
        c.t = t
        c.ordinal += 1
        s = _Session(f"{c.cid}:{c.ordinal}", c.cid, c.phone, c.channel, t)
        c.sess = s
        self.sessions.append(s)
        # The topic of this session; a reopen often keeps the old one.
        if c.dept is None or self.rng.random() < 0.5:
            c.dept = self.pick(DEPARTMENTS)
            c.qn = self.rng.choice(QUERY_NATURES[c.dept])
        r = self.rng.random()
        if r < 0.45:
            a = {"department": c.dept, "query_nature": c.qn}
        elif r < 0.62:
            a = {"department": c.dept}
        elif r < 0.70:
            a = {"query_nature": c.qn, "campaign": "autumn-2026"}
        elif r < 0.73:
            a = {"department": c.dept, "query_nature": None}
        else:
            a = None
        self._msg += 1
        self.emit(t, "message.received", {"message_id": f"msg-{self._msg}"}, c.cid, c.channel,
                  USER, {"channel_user_id": c.phone}, self.attrs(s, a))

    def session(self, c: _Conv, gap_ms: int) -> str:
        """One session from its first message to resolved / abandoned."""
        self.new_session(c, gap_ms)
        rng = self.rng
        r = rng.random()
        if r < 0.04:                                   # routing rule: straight to the queue
            self.state(c, "pending_agent", 2 * _S, ROUTER, "routing_rule")
            return self.queue(c)
        if r < 0.06:                                   # nobody picks it up
            if rng.random() < 0.5:
                self.user_msg(c, self.ln(40, 1.0))
            if rng.random() < 0.4:
                self.state(c, "resolved", self.ln(600, 1.0), ROUTER, "spam")
                return self.after_resolved(c)
            return "abandoned"
        classify = None
        if rng.random() < 0.3:
            # the bot classifies the intent; sometimes differently from the entry point
            qn = c.qn if rng.random() < 0.6 else rng.choice(ALL_QUERY_NATURES)
            classify = {"query_nature": qn}
        self.state(c, "bot_active", rng.randint(1, 4) * _S, BOT, "bot_greeting", classify)
        self.out_msg(c, rng.randint(1, 3) * _S, BOT)
        for _ in range(rng.choice((0, 1, 1, 2, 2, 3))):
            a = None
            if rng.random() < 0.08:
                a = {"query_nature": rng.choice(ALL_QUERY_NATURES)}
            self.user_msg(c, self.ln(25, 0.9), a)
            self.out_msg(c, rng.randint(1, 4) * _S, BOT)
        if rng.random() < 0.01:                        # invalid on purpose: bot_active -> human_active
            agent = rng.choice(AGENTS[TEAM_OF_DEPARTMENT[c.dept]])
            self.assign(c, agent, self.ln(60, 0.8))
            self.state(c, "human_active", rng.randint(1, 3) * _S, ROUTER, "direct_pickup")
            return self.human(c, agent)
        if rng.random() < 0.32:
            return self.webview(c)
        r = rng.random()
        if r < 0.45:
            self.user_msg(c, self.ln(20, 0.8))
            self.out_msg(c, rng.randint(1, 3) * _S, BOT)
            self.state(c, "resolved", self.ln(60, 1.0), BOT, "resolved_by_bot")
            return self.after_resolved(c)
        if r < 0.85:
            if rng.random() < 0.7:
                self.user_msg(c, self.ln(20, 0.8))
            self.state(c, "pending_agent", rng.randint(1, 5) * _S, BOT, "handoff")
            self.out_msg(c, rng.randint(1, 3) * _S, BOT)             # "connecting you to an agent"
            return self.queue(c)
        return "abandoned"

    def webview(self, c: _Conv) -> str:
        rng = self.rng
        s = c.sess
        funnel = FUNNEL_OF_QUERY.get(c.qn) or rng.choice(tuple(FUNNELS))
        steps = FUNNELS[funnel]
        self.out_msg(c, rng.randint(1, 3) * _S, BOT)                  # message with the link
        self.webview_journeys += 1
        ident = {"channel_user_id": c.phone, "anonymous_id": c.anon}

        def wv(gap, etype, props):
            t = self.at(c, gap)
            self.emit(t, etype, props, c.cid, "webview", USER, ident, None, 0.6)

        wv(self.ln(20, 0.9), "webview.opened", {"funnel": funnel})
        s.webview = True
        r = rng.random()
        outcome = "complete" if r < 0.55 else ("escalate" if r < 0.73 else "dropoff")
        last = len(steps) if outcome == "complete" else rng.randint(1, len(steps))
        i = 1
        back_done = False
        while i <= last:
            wv(self.ln(6 if i == 1 else 35, 0.8), "funnel.step_viewed",
               {"funnel": funnel, "step": steps[i - 1], "step_index": i})
            if i >= 2 and not back_done and rng.random() < 0.06:       # the user goes back a step
                back_done = True
                i -= 1
                continue
            i += 1
        cur = {"funnel": funnel, "step": steps[last - 1], "step_index": last}
        if outcome == "complete":
            wv(self.ln(15, 0.7), "funnel.completed", {"funnel": funnel})
            s.completed = True
            exit_late = rng.random() < 0.5
            if not exit_late:
                wv(self.ln(5, 0.7), "webview.exited", dict(cur, reason=rng.choice(("navigated", "closed"))))
            self.out_msg(c, rng.randint(1, 4) * _S, BOT)              # confirmation
            r = rng.random()
            if r < 0.8:
                self.state(c, "resolved", self.ln(30, 0.8), BOT, "funnel_completed")
                if exit_late:                                         # belongs to the ended session
                    wv(self.ln(8, 0.7), "webview.exited", dict(cur, reason="closed"))
                return self.after_resolved(c)
            if exit_late:
                wv(self.ln(8, 0.7), "webview.exited", dict(cur, reason="closed"))
            if r < 0.9:
                return "abandoned"
            self.user_msg(c, self.ln(60, 1.0))
            self.state(c, "pending_agent", rng.randint(1, 4) * _S, BOT, "handoff")
            return self.queue(c)
        if outcome == "escalate":
            wv(self.ln(20, 0.8), "escalation.requested", cur)
            self.state(c, "pending_agent", rng.randint(1, 3) * _S, BOT, "webview_escalation")
            if rng.random() < 0.9:
                wv(rng.randint(1, 8) * _S, "webview.exited", dict(cur, reason="navigated"))
            return self.queue(c)
        # drop-off
        if rng.random() < 0.85:
            wv(self.ln(30, 1.0), "webview.exited", dict(cur, reason=rng.choice(("closed", "hidden", "closed"))))
        r = rng.random()
        if r < 0.45:
            return "abandoned"                       # last activity may be the webview exit
        if r < 0.7:
            self.out_msg(c, self.ln(900, 0.5), BOT)  # reminder, then silence
            return "abandoned"
        self.user_msg(c, self.ln(90, 1.0))
        self.out_msg(c, rng.randint(1, 3) * _S, BOT)
        if rng.random() < 0.5:
            self.state(c, "resolved", self.ln(60, 1.0), BOT, "resolved_by_bot")
            return self.after_resolved(c)
        self.state(c, "pending_agent", rng.randint(1, 4) * _S, BOT, "handoff")
        return self.queue(c)

    def queue_wait(self, t: int) -> int:
        if self.agents_online(t):
            return self.ln(170, 1.0)
        # nobody there until the next shift: wait until it starts plus the morning backlog
        w = t
        while not self.agents_online(w):
            w += 15 * _MIN
        return (w - t) + self.ln(600, 0.8)

    def queue(self, c: _Conv, team: str | None = None, depth: int = 0) -> str:
        """The session has just entered pending_agent."""
        rng = self.rng
        team = team or TEAM_OF_DEPARTMENT[c.dept]
        online = self.agents_online(c.t)
        r = rng.random()
        p_off = 0.03 if online else 0.5
        if r < p_off and depth == 0:                  # agents offline: back to the bot
            self.state(c, "bot_active", self.ln(300, 0.8), BOT, "agents_offline")
            self.out_msg(c, rng.randint(1, 3) * _S, BOT)
            r2 = rng.random()
            if r2 < 0.4:
                return "abandoned"
            if r2 < 0.7:
                self.user_msg(c, self.ln(120, 1.2))
                self.out_msg(c, rng.randint(1, 3) * _S, BOT)
                self.state(c, "resolved", self.ln(60, 1.0), BOT, "resolved_by_bot")
                return self.after_resolved(c)
            self.user_msg(c, self.ln(3 * 3600, 1.0))   # asks again later
            self.state(c, "pending_agent", rng.randint(1, 4) * _S, BOT, "handoff")
            return self.queue(c, team, depth + 1)
        r -= p_off
        if r < 0.07:                                  # gives up in the queue
            if rng.random() < 0.5:
                self.user_msg(c, self.ln(240, 1.0))    # "hello??"
            return "abandoned"
        if r < 0.09:                                  # closed while waiting
            self.user_msg(c, self.ln(120, 1.0))        # "never mind"
            self.state(c, "resolved", self.ln(60, 1.0), ROUTER, "user_cancelled")
            return self.after_resolved(c)
        wait = self.queue_wait(c.t)
        agent = rng.choice(AGENTS[team])
        pre = rng.randint(1, 3) * _S
        if rng.random() < 0.25 and wait > 5 * _MIN:   # a nudge while waiting
            self.user_msg(c, wait // 2)
            wait -= wait // 2
        self.assign(c, agent, wait - pre)
        self.state(c, "human_active", pre, ROUTER, "assigned")
        return self.human(c, agent, depth)

    def human(self, c: _Conv, agent: str, depth: int = 0) -> str:
        rng = self.rng
        s = c.sess
        self.out_msg(c, self.ln(35, 1.0), {"kind": "human", "id": agent})
        for _ in range(rng.choice((1, 1, 2, 2, 3, 4))):
            self.user_msg(c, self.ln(45, 1.0))
            if rng.random() < 0.9:
                self.out_msg(c, self.ln(50, 0.9), {"kind": "human", "id": agent})
        if depth < 2 and rng.random() < (0.13 if depth == 0 else 0.15):
            team = TEAM_OF_AGENT[agent]
            to_team = rng.choice(tuple(t for t in TEAMS if t != team) if rng.random() < 0.85 else TEAMS)
            to_agent = rng.choice(tuple(a for a in AGENTS[to_team] if a != agent))
            if rng.random() < 0.6:
                self.out_msg(c, self.ln(20, 0.7), {"kind": "human", "id": agent})   # "transferring you"
            props = {"from_team": team, "to_team": to_team, "from_agent_id": agent}
            inside = rng.random() < 0.6
            if inside:
                props["to_agent_id"] = to_agent
            if rng.random() < 0.5:
                props["reason"] = "wrong_team" if to_team != team else "workload"
            new_dept = {"billing": "billing", "tech": "technical", "general": "general"}[to_team]
            a = {"department": new_dept} if rng.random() < 0.5 else None
            t = self.at(c, self.ln(15, 0.7))
            self.emit(t, "conversation.transferred", props, c.cid, None,
                      {"kind": "human", "id": agent}, None, self.attrs(s, a))
            s.handovers += 1
            if inside:                                 # stays human_active
                self.assign(c, to_agent, rng.randint(1, 5) * _S)
                if rng.random() < 0.5:
                    self.state(c, "human_active", rng.randint(1, 3) * _S, ROUTER, "transfer")
                return self.human(c, to_agent, depth + 1)
            self.state(c, "pending_agent", rng.randint(1, 3) * _S, ROUTER, "transfer")
            wait = min(self.queue_wait(c.t), self.ln(240, 1.0)) if self.agents_online(c.t) else self.queue_wait(c.t)
            pre = rng.randint(1, 3) * _S
            if rng.random() < 0.05:
                return "abandoned"                     # lost in the second queue
            self.assign(c, to_agent, wait - pre)
            self.state(c, "human_active", pre, ROUTER, "assigned")
            return self.human(c, to_agent, depth + 1)
        r = rng.random()
        if r < 0.80:
            self.state(c, "resolved", self.ln(40, 0.9), {"kind": "human", "id": agent}, "resolved_by_agent")
            if rng.random() < 0.1:                     # closing note after resolving
                self.out_msg(c, rng.randint(2, 20) * _S, {"kind": "human", "id": agent})
            return self.after_resolved(c)
        if r < 0.95:
            return "abandoned"                         # the user stops answering
        if r < 0.97:                                   # invalid on purpose: human_active -> bot_active
            self.state(c, "bot_active", self.ln(30, 0.8), {"kind": "human", "id": agent}, "handback")
            self.out_msg(c, rng.randint(1, 3) * _S, BOT)
            self.state(c, "resolved", self.ln(60, 0.8), BOT, "resolved_by_bot")
            return self.after_resolved(c)
        # released back to the queue, then never picked up again
        self.state(c, "pending_agent", self.ln(30, 0.8), {"kind": "human", "id": agent}, "released")
        if rng.random() < 0.5:
            self.state(c, "resolved", self.ln(1800, 1.0), ROUTER, "closed_in_queue")
            return self.after_resolved(c)
        return "abandoned"

    def after_resolved(self, c: _Conv) -> str:
        """CSAT after resolution belongs to the session that just ended."""
        rng = self.rng
        s = c.sess
        if rng.random() < 0.4:
            self.out_msg(c, rng.randint(2, 10) * _S, SURVEY)
            if rng.random() < 0.8:
                for _ in range(2 if rng.random() < 0.06 else 1):
                    t = self.at(c, self.ln(60, 1.2))
                    score = rng.choices((1, 2, 3, 4, 5), (0.08, 0.07, 0.15, 0.3, 0.4))[0]
                    self.emit(t, "csat.submitted", {"score": score}, c.cid, c.channel, USER,
                              {"channel_user_id": c.phone})
                    s.csat = score
        return "resolved"

    # --- side traffic ------------------------------------------------------------
    def unlinked_webview(self, t: int):
        """A webview visit without a handshake token: no conversation, anonymous only."""
        rng = self.rng
        anon = rng.choice(self.persons)[1] if self.persons and rng.random() < 0.3 else "anon-%012x" % rng.getrandbits(48)
        funnel = rng.choice(tuple(FUNNELS))
        steps = FUNNELS[funnel]
        ident = {"anonymous_id": anon}
        out = [("webview.opened", {"funnel": funnel})]
        last = rng.randint(1, len(steps))
        for i in range(1, last + 1):
            out.append(("funnel.step_viewed", {"funnel": funnel, "step": steps[i - 1], "step_index": i}))
        if last == len(steps) and rng.random() < 0.5:
            out.append(("funnel.completed", {"funnel": funnel}))
        out.append(("webview.exited", {"funnel": funnel, "step": steps[last - 1], "step_index": last,
                                       "reason": "closed"}))
        for etype, props in out:
            t += max(_S, self.ln(25, 0.8))
            if t >= self.horizon:
                return
            self.emit(t, etype, props, None, "webview", USER, dict(ident), None, 0.6)

    def run(self):
        rng = self.rng
        n_days = int(math.ceil(self.days))
        slots, weights = [], []
        for d in range(n_days):
            day_start = self.start + d * _DAY
            for h in range(24):
                s = day_start + h * _HOUR
                if s >= self.horizon:
                    break
                slots.append(s)
                weekday = ((s // _DAY) + 3) % 7
                weights.append(WEEKDAY_WEIGHTS[weekday] * HOUR_WEIGHTS[(s % _DAY) // _HOUR])
        n_conv = int(round(self.days * self.spd))
        starts = sorted(rng.choices(slots, weights=weights, k=n_conv)) if slots else []
        starts = [min(s + rng.randrange(_HOUR), self.horizon - _S) for s in starts]
        starts.sort()
        for n, t0 in enumerate(starts, 1):
            if self.persons and rng.random() < 0.18:
                phone, anon = rng.choice(self.persons)          # a returning person, new thread
            else:
                phone, anon = self.new_person()
            channel = self.pick(CHANNELS)
            self.conversation(_Conv(f"conv-{n}", phone, anon, channel), t0)
        span = self.horizon - self.start
        for _ in range(int(round(self.webview_journeys * 0.04))):
            self.unlinked_webview(self.start + rng.randrange(max(1, span - _HOUR)))
        for phone, anon in self.persons:
            if rng.random() < 0.06:
                ident = {"channel_user_id": phone, "user_id": "user-%06d" % rng.randrange(10 ** 6)}
                if rng.random() < 0.3:
                    ident["anonymous_id"] = anon
                self.emit(self.start + rng.randrange(span), "identify", {}, None, "web", None, ident)

    def finish(self) -> int:
        """Anchor the watermark at the horizon, then settle every non-terminal session."""
        ttl = self.ttl
        expiries = {s.last + ttl for s in self.sessions if s.state != "resolved"}
        w = self.horizon
        while any(abs(e - w) < _S for e in expiries):
            w += 2 * _S
        phone = self.persons[0][0] if self.persons else "+31600000000"
        self.emit(w, "identify", {}, None, "web", None,
                  {"channel_user_id": phone, "user_id": "user-000000"}, None, 0.0)
        return w


def _truth(s: _Session, watermark: int, ttl: int) -> dict:
    queue_total, first_wait = s.queue_total, s.first_wait
    if s.state == "resolved":
        final, ended = "resolved", s.resolved
    elif s.last + ttl <= watermark:
        final, ended = "expired", s.last + ttl
        if s.state == "pending_agent":                 # the open queue visit ends at expiry
            dwell = ended - s.pend_enter
            queue_total += dwell
            if first_wait is None:
                first_wait = dwell
    else:
        final, ended = "open", None
    return {
        "session_id": s.sid,
        "conversation_id": s.cid,
        "channel_user_id": s.phone,
        "channel": s.channel,
        "department": s.dept,
        "query_nature": s.qn,
        "started_at": _dt(s.started),
        "ended_at": None if ended is None else _dt(ended),
        "final_state": final,
        "escalated": s.escalated,
        "bot_contained": final == "resolved" and not s.escalated and not s.human,
        "queue_wait_s": queue_total / 1000.0 if s.escalated else None,
        "first_queue_wait_s": None if first_wait is None else first_wait / 1000.0,
        "agent_first_response_s": None if s.afr is None else s.afr / 1000.0,
        "time_to_resolution_s": (s.resolved - s.started) / 1000.0 if final == "resolved" else None,
        "handovers": s.handovers,
        "webview_opened": s.webview,
        "funnel_completed": s.completed,
        "csat_score": s.csat,
    }


def _deliver(events: list[dict], ms: list[int], n_batches: int, seed: int):
    """Duplicate, batch, delay and shuffle the distinct events into delivery order."""
    rng = random.Random(f"delivery:{seed}")
    n = len(events)
    if n == 0:
        return [], []
    lo, hi = min(ms), max(ms)
    span = max(hi - lo, 1)
    nb = max(1, n_batches)
    bounds = [lo + -(-k * span // nb) for k in range(nb + 1)]      # first ms of window k
    batch_of = [min((m - lo) * nb // span, nb - 1) for m in ms]

    # late: within 6 h before the boundary they cross, delivered in the next batch
    eligible = [i for i in range(n) if batch_of[i] < nb - 1 and bounds[batch_of[i] + 1] - ms[i] <= LATE_MAX_MS]
    n_late = min(int(round(LATE_SHARE * n)), len(eligible) // 2)
    late = set(rng.sample(eligible, n_late))

    n_dup = int(round(DUPLICATE_SHARE * n))
    dup = set(rng.sample(range(n), n_dup))

    rows = []
    seq = 0
    for i, ev in enumerate(events):
        m = ms[i]
        b = batch_of[i]
        if i in late:
            b += 1
            key = bounds[b] + rng.random() * (bounds[b + 1] - bounds[b])
        elif rng.random() < 0.05:                                   # global shuffle within the batch
            key = bounds[b] + rng.random() * (bounds[b + 1] - bounds[b])
        else:                                                       # local shuffle: a few minutes
            key = m + rng.random() * 180_000
        rows.append((b, key, seq, ev))
        seq += 1
        if i in dup:
            for _ in range(2 if rng.random() < 0.2 else 1):
                copy = {k: (dict(v) if isinstance(v, dict) else v) for k, v in ev.items()}
                if "sent_at" in copy and rng.random() < 0.5:       # a retry: later send time
                    sent = datetime.fromisoformat(copy["sent_at"])
                    retry = timedelta(milliseconds=rng.randint(1000, 600_000))
                    copy["sent_at"] = (sent + retry).isoformat(timespec="milliseconds")
                cb = b
                if b < nb - 1 and bounds[b + 1] - m <= LATE_MAX_MS and rng.random() < 0.3:
                    cb = b + 1                                      # the retry lands in the next load
                    ckey = bounds[cb] + rng.random() * 3_600_000
                elif rng.random() < 0.1:
                    ckey = bounds[cb] + rng.random() * (bounds[cb + 1] - bounds[cb])
                else:
                    ckey = key + rng.lognormvariate(math.log(20_000), 1.5)
                rows.append((cb, ckey, seq, copy))
                seq += 1
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    return [r[3] for r in rows], [r[0] for r in rows]


def simulate(days: int = 7, sessions_per_day: int = 750, seed: int = 7,
             start: datetime = datetime(2026, 11, 2, tzinfo=timezone.utc),
             ttl_hours: float = 24.0, n_batches: int = 3) -> Simulation:
    """Generate journeys and their ground truth.

    `sessions_per_day` is the mean number of new conversations per day (each
    starts a session); reopened conversations add about 10 % more sessions.
    All events lie in [start, start + days]; the last one, an `identify`, sits
    at the end of the period so the watermark is start + days (moved by a few
    seconds if a session's expiry would fall within a second of it).
    """
    gen = _Gen(days, sessions_per_day, seed, start, ttl_hours)
    gen.run()
    w = gen.finish()
    sessions = [_truth(s, w, gen.ttl) for s in gen.sessions]
    sessions.sort(key=lambda d: (d["started_at"], d["session_id"]))
    events, batches = _deliver(gen.events, gen.ms, n_batches, seed)
    return Simulation(events=events, batches=batches, sessions=sessions,
                      watermark=_dt(max(gen.ms)), n_unique_events=len(gen.events))


def write_ndjson(events: Iterable[dict], path: Path) -> int:
    """Write one compact JSON object per line; returns the number of lines written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        buf = []
        for ev in events:
            buf.append(dumps(ev))
            n += 1
            if len(buf) >= 10_000:
                fh.write("\n".join(buf) + "\n")
                buf.clear()
        if buf:
            fh.write("\n".join(buf) + "\n")
    return n


def _main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ingestion.simulator",
                                description="Write simulated journey events as NDJSON, one file per batch.")
    p.add_argument("--days", type=int, default=7)
    p.add_argument("--sessions-per-day", type=int, default=750)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--ttl-hours", type=float, default=24.0)
    p.add_argument("--batches", type=int, default=3)
    p.add_argument("--out", type=Path, default=Path("data/simulated"))
    p.add_argument("--truth", type=Path, help="also write the ground-truth sessions as NDJSON here")
    a = p.parse_args(argv)
    sim = simulate(days=a.days, sessions_per_day=a.sessions_per_day, seed=a.seed,
                   ttl_hours=a.ttl_hours, n_batches=a.batches)
    for b in range(max(1, a.batches)):
        path = a.out / f"batch-{b}.ndjson"
        print(f"{path}: {write_ndjson(sim.batch(b), path)} events")
    if a.truth:
        rows = ({k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in s.items()}
                for s in sim.sessions)
        print(f"{a.truth}: {write_ndjson(rows, a.truth)} sessions")
    print(f"{sim.n_unique_events} distinct events, {len(sim.events)} delivered, "
          f"{len(sim.sessions)} sessions, watermark {sim.watermark.isoformat()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
