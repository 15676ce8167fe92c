"""Seeded journey simulator: wire-format events plus the ground truth behind them.

`simulate()` plays out customer journeys (chat -> webview -> human agents) on
one timeline per conversation and, while doing so, records what it did in its
own terms: the stage visits it walked through, whom it assigned, which messages
it sent when, which funnel steps the user viewed, which identifiers it put side
by side. The truth of the marts of docs/contract.md §6.1 is computed from those
records as of the watermark, *not* re-derived from the emitted events, so the
pipeline (which derives everything from events, by docs/contract.md §4 and §6)
can be checked against it.

Identity: a person chats from one phone (about 3 % of them later from a second
one, on another channel); webview journeys carry the chat's phone and the
browser's anonymous id (some persons come back on a second browser); logins
(`identify`) tie a user id to a phone (both phones of a two-phone person) and
sometimes to a browser; a few webview visits come without a token, with only an
anonymous id. The persons of the truth are what the data can know: connected
components of the identifiers the simulator emitted together.

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
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable, NamedTuple

__all__ = ["MART_COLUMNS", "Simulation", "simulate", "write_ndjson"]

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

RETURN_SHARE = 0.18          # conversations opened by a person seen before
SECOND_PHONE_SHARE = 0.14    # of returns of a one-phone person: about 3 % of persons end with two phones
NEW_BROWSER_SHARE = 0.4      # of a one-browser person's later webview journeys
LOGIN_SHARE = 0.10           # of token-less visitors on a fresh browser who log in on the site

VALID_TRANSITIONS = {                                   # docs/contract.md §3.2
    "inbound_queue": ("bot_active", "pending_agent", "resolved", "expired"),
    "bot_active": ("pending_agent", "resolved", "expired"),
    "pending_agent": ("human_active", "bot_active", "resolved", "expired"),
    "human_active": ("pending_agent", "resolved", "expired"),
}
TERMINAL_STATES = ("resolved", "expired")
UNASSIGNED = "unassigned"

# The marts of docs/contract.md §6.1 besides fct_sessions, fct_state_transitions, dim_users
# and the agent facts: the columns of each truth row, in contract order.
MART_COLUMNS = {
    "mart_friction": ("funnel", "step_index", "step", "sessions_reached", "sessions_advanced",
                      "dropoffs", "escalations", "dropoff_rate", "escalation_rate",
                      "median_time_on_step_s"),
    "mart_agent_performance": ("agent_id", "team", "department", "query_nature", "sessions_handled",
                               "sessions_resolved", "resolution_rate", "median_first_response_s",
                               "p90_first_response_s", "median_response_s", "handle_time_s",
                               "avg_csat"),
    "mart_queue_dynamics": ("day", "team", "queued", "median_unassigned_s", "p90_unassigned_s",
                            "abandoned_in_queue"),
    "mart_handovers": ("from_team", "to_team", "handovers", "median_handover_latency_s"),
    "mart_operational_heatmap": ("iso_weekday", "hour", "sessions_started", "escalations",
                                 "messages_received", "median_queue_wait_s"),
    "mart_active_sessions": ("hour_start", "active_sessions"),
    "mart_ghost_rate": ("day", "webview_events", "unlinked_events", "ghost_rate"),
}


@dataclass
class Simulation:
    events: list[dict]        # delivery order: duplicates included, shuffled/late
    batches: list[int]        # delivery batch of each delivered copy (same length as events)
    sessions: list[dict]      # fct_sessions truth, one dict per session, plus channel_user_id and person
    watermark: datetime       # max occurred_at over all distinct events (UTC aware)
    n_unique_events: int      # number of distinct event_ids
    persons: list[dict]       # one per identity component: phones, user_ids, anonymous_ids, seen span, sessions
    visits: list[dict]        # fct_state_transitions truth, one dict per stage visit
    marts: dict[str, list[dict]]   # MART_COLUMNS name -> rows, in the order of the mart's grain

    def batch(self, index: int) -> list[dict]:
        """The delivered copies of one batch, in delivery order."""
        return [e for e, b in zip(self.events, self.batches) if b == index]


class _Stop(Exception):
    """The conversation ran past the end of the simulated period."""


class _Person:
    """Someone who chats: their phones, the browsers (anonymous ids) their journeys run in."""

    __slots__ = ("phones", "anons", "channel", "user_id", "webviews")

    def __init__(self, phone, anon, channel):
        self.phones, self.anons, self.channel = [phone], [anon], channel
        self.user_id = None
        self.webviews = 0


class _Journey:
    """One webview journey: views (ms, step_index) in order, completion ms, escalated step_index."""

    __slots__ = ("funnel", "views", "completed", "escalated")

    def __init__(self, funnel):
        self.funnel = funnel
        self.views = []
        self.completed = self.escalated = None


class _Session:
    """What the simulator did in one session, each list in time order."""

    __slots__ = ("sid", "cid", "phone", "channel", "started", "last", "visits", "received",
                 "replies", "assigns", "transfers", "journeys", "csat", "dept", "qn")

    def __init__(self, sid, cid, phone, channel, t):
        self.sid, self.cid, self.phone, self.channel = sid, cid, phone, channel
        self.started = self.last = t
        self.visits = [("inbound_queue", t)]     # (state, entered ms); the first one is implicit
        self.received = []                       # ms of each message.received
        self.replies = []                        # (ms, agent) of each human message.sent
        self.assigns = []                        # (ms, agent, team)
        self.transfers = []                      # (ms, from_team, to_team)
        self.journeys = []
        self.csat = self.dept = self.qn = None

    @property
    def state(self) -> str:
        return self.visits[-1][0]


class _Conv:
    __slots__ = ("cid", "person", "phone", "channel", "t", "sess", "ordinal", "dept", "qn")

    def __init__(self, cid, person, phone, channel):
        self.cid, self.person, self.phone, self.channel = cid, person, phone, channel
        self.t = 0
        self.sess = None
        self.ordinal = 0
        self.dept = self.qn = None


class _Identities:
    """Union-find over what the simulator emitted together: the identifiers of one event's
    identity block and its conversation. Each node keeps the first and last ms it was seen."""

    def __init__(self):
        self.parent: dict[tuple, tuple] = {}
        self.seen: dict[tuple, list[int]] = {}

    def find(self, node: tuple) -> tuple:
        while self.parent[node] != node:
            self.parent[node] = self.parent[self.parent[node]]
            node = self.parent[node]
        return node

    def saw(self, ms: int, nodes: list[tuple]):
        for node in nodes:
            span = self.seen.setdefault(node, [ms, ms])
            span[0], span[1] = min(span[0], ms), max(span[1], ms)
            self.parent.setdefault(node, node)
        root = self.find(nodes[0])
        for node in nodes[1:]:
            self.parent[self.find(node)] = root

    def components(self) -> list[list[tuple]]:
        groups = defaultdict(list)
        for node in self.parent:
            groups[self.find(node)].append(node)
        return list(groups.values())


def _ms(dt: datetime) -> int:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - _EPOCH) // timedelta(milliseconds=1)


def _dt(ms: int | None) -> datetime | None:
    return None if ms is None else _EPOCH + timedelta(milliseconds=ms)


class _Gen:
    def __init__(self, days, sessions_per_day, seed, start, ttl_hours, id_prefix=""):
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
        self.prefix = id_prefix
        self.max_gap = max(2 * _S, int(self.ttl * 0.8))    # no gap inside a session reaches the TTL
        self.events: list[dict] = []
        self.ms: list[int] = []
        self.sessions: list[_Session] = []
        self._dates: dict[int, str] = {}
        self._msg = 0
        self._users = 0
        self.persons: list[_Person] = []
        self._phones: set[str] = set()
        self.identities = _Identities()
        self.webview_days = defaultdict(lambda: [0, 0])    # UTC day -> [linked, unlinked] webview events
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
        return f"{self.prefix}{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"

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
        nodes = [("conversation", cid)] if cid is not None else []
        nodes += (identity or {}).items()
        if nodes:
            self.identities.saw(ms, nodes)
        return ev

    def webview_event(self, t: int, etype: str, props: dict, cid: str | None, identity: dict):
        self.emit(t, etype, props, cid, "webview", USER, identity, None, 0.6)
        self.webview_days[t // _DAY][cid is None] += 1     # index 1: unlinked (no token, no conversation)

    def identify(self, t: int, identity: dict, sent_share: float = 0.25):
        self.emit(t, "identify", {}, None, "web", None, identity, None, sent_share)

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

    # --- people ----------------------------------------------------------------
    def new_phone(self) -> str:
        while True:
            phone = "%s+316%08d" % (self.prefix, self.rng.randrange(10 ** 8))
            if phone not in self._phones:
                self._phones.add(phone)
                return phone

    def new_anon(self) -> str:
        return "%sanon-%012x" % (self.prefix, self.rng.getrandbits(48))

    def new_user_id(self) -> str:
        # Sequential: two persons sharing a login by chance would be one person to the data.
        self._users += 1
        return "%suser-%06d" % (self.prefix, self._users)

    def new_person(self, channel: str) -> _Person:
        person = _Person(self.new_phone(), self.new_anon(), channel)
        self.persons.append(person)
        return person

    def login(self, p: _Person) -> str:
        if p.user_id is None:
            p.user_id = self.new_user_id()
        return p.user_id

    def caller(self) -> tuple[_Person, str, str]:
        """Who opens the next conversation, from which phone, on which channel."""
        rng = self.rng
        if self.persons and rng.random() < RETURN_SHARE:
            p = rng.choice(self.persons)                          # a returning person, new thread
            if len(p.phones) == 1 and rng.random() < SECOND_PHONE_SHARE:
                p.phones.append(self.new_phone())                # a second number on another channel
                return p, p.phones[-1], "whatsapp" if p.channel == "sms" else "sms"
            return p, rng.choice(p.phones), self.pick(CHANNELS)
        channel = self.pick(CHANNELS)
        p = self.new_person(channel)
        return p, p.phones[0], channel

    def browser(self, p: _Person) -> str:
        """The anonymous id a webview journey runs under; some come back on a second browser."""
        p.webviews += 1
        if p.webviews > 1 and len(p.anons) == 1 and self.rng.random() < NEW_BROWSER_SHARE:
            p.anons.append(self.new_anon())
            return p.anons[-1]
        return self.rng.choice(p.anons)

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

    def message_id(self) -> dict:
        self._msg += 1
        return {"message_id": f"{self.prefix}msg-{self._msg}"}

    def received(self, c: _Conv, t: int, attributes: dict | None = None):
        self.emit(t, "message.received", self.message_id(), c.cid, c.channel, USER,
                  {"channel_user_id": c.phone}, self.attrs(c.sess, attributes))
        c.sess.received.append(t)

    def user_msg(self, c: _Conv, gap_ms: int, attributes: dict | None = None):
        self.received(c, self.at(c, gap_ms), attributes)

    def out_msg(self, c: _Conv, gap_ms: int, actor: dict):
        t = self.at(c, gap_ms)
        self.emit(t, "message.sent", self.message_id(), c.cid, c.channel, actor)
        if actor["kind"] == "human":
            c.sess.replies.append((t, actor["id"]))

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
        if to != s.state:                                     # the same state starts no new visit
            s.visits.append((to, t))

    def assign(self, c: _Conv, agent: str, gap_ms: int):
        t = self.at(c, gap_ms)
        team = TEAM_OF_AGENT[agent]
        self.emit(t, "agent.assigned", {"agent_id": agent, "team": team}, c.cid, None, ROUTER)
        c.sess.assigns.append((t, agent, team))

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
        self.received(c, t, a)

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
        ident = {"channel_user_id": c.phone, "anonymous_id": self.browser(c.person)}
        journey = _Journey(funnel)

        def wv(gap, etype, props) -> int:
            t = self.at(c, gap)
            self.webview_event(t, etype, props, c.cid, ident)
            return t

        wv(self.ln(20, 0.9), "webview.opened", {"funnel": funnel})
        s.journeys.append(journey)
        r = rng.random()
        outcome = "complete" if r < 0.55 else ("escalate" if r < 0.73 else "dropoff")
        last = len(steps) if outcome == "complete" else rng.randint(1, len(steps))
        i = 1
        back_done = False
        while i <= last:
            t = wv(self.ln(6 if i == 1 else 35, 0.8), "funnel.step_viewed",
                   {"funnel": funnel, "step": steps[i - 1], "step_index": i})
            journey.views.append((t, i))
            if i >= 2 and not back_done and rng.random() < 0.06:       # the user goes back a step
                back_done = True
                i -= 1
                continue
            i += 1
        cur = {"funnel": funnel, "step": steps[last - 1], "step_index": last}
        if outcome == "complete":
            journey.completed = wv(self.ln(15, 0.7), "funnel.completed", {"funnel": funnel})
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
            journey.escalated = last
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
            s.transfers.append((t, team, to_team))
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
        if rng.random() < 0.03:
            # A second system closes it again: the close names the state the conversation is
            # already in, so it opens no session (docs/decisions.md) and the truth stays as is.
            self.emit(self.at(c, self.ln(20, 1.0)), "conversation.state_changed",
                      {"to_state": "resolved", "reason": "closed_again"}, c.cid, None, ROUTER)
        return "resolved"

    # --- side traffic ------------------------------------------------------------
    def unlinked_webview(self, t: int):
        """A webview visit without a handshake token: no conversation, anonymous only."""
        rng = self.rng
        if self.persons and rng.random() < 0.3:                  # a known person's browser
            anon, logs_in = rng.choice(rng.choice(self.persons).anons), False
        else:
            anon, logs_in = self.new_anon(), rng.random() < LOGIN_SHARE
        funnel = rng.choice(tuple(FUNNELS))
        steps = FUNNELS[funnel]
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
            self.webview_event(t, etype, props, None, {"anonymous_id": anon})
        if logs_in and t + _S < self.horizon:      # a site login: a person known by user id only
            self.identify(t + _S, {"user_id": self.new_user_id(), "anonymous_id": anon})

    def logins(self, span: int):
        """Logins tie a phone to a user id (a two-phone person's both phones, so they join)."""
        rng = self.rng
        for p in self.persons:
            if len(p.phones) > 1 or rng.random() < 0.06:
                for phone in p.phones:
                    ident = {"channel_user_id": phone, "user_id": self.login(p)}
                    if rng.random() < 0.3:
                        ident["anonymous_id"] = rng.choice(p.anons)
                    self.identify(self.start + rng.randrange(span), ident)

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
            self.conversation(_Conv(f"{self.prefix}conv-{n}", *self.caller()), t0)
        span = self.horizon - self.start
        for _ in range(int(round(self.webview_journeys * 0.04))):
            self.unlinked_webview(self.start + rng.randrange(max(1, span - _HOUR)))
        self.logins(span)

    def finish(self):
        """Anchor the watermark at the horizon, clear of every non-terminal session's expiry."""
        ttl = self.ttl
        expiries = {s.last + ttl for s in self.sessions if s.state != "resolved"}
        w = self.horizon
        while any(abs(e - w) < _S for e in expiries):
            w += 2 * _S
        p = self.persons[0] if self.persons else self.new_person("whatsapp")
        self.identify(w, {"channel_user_id": p.phones[0], "user_id": self.login(p)}, 0.0)


# --- ground truth as of the watermark -------------------------------------------

class _Visit(NamedTuple):
    state: str
    entered: int
    exited: int | None        # the next visit's entry; None for the terminal or still open visit
    next_state: str | None

    @property
    def dwell(self) -> int | None:
        return None if self.exited is None else self.exited - self.entered


class _Settled(NamedTuple):
    """A session as the watermark finds it."""
    s: _Session
    final: str                # resolved / expired / open
    ended: int | None
    visits: list[_Visit]


def _settle(s: _Session, watermark: int, ttl: int) -> _Settled:
    points = list(s.visits)
    if s.state == "resolved":
        final, ended = "resolved", points[-1][1]
    elif s.last + ttl <= watermark:
        final, ended = "expired", s.last + ttl
        points.append(("expired", ended))
    else:
        final, ended = "open", None
    following = points[1:] + [(None, None)]
    visits = [_Visit(state, entered, exited, nxt)
              for (state, entered), (nxt, exited) in zip(points, following)]
    return _Settled(s, final, ended, visits)


def _seconds(ms: int | None) -> float | None:
    return None if ms is None else ms / 1000.0


def _quantile(values_ms: list[int], q: float) -> float | None:
    """`quantile_cont(x, q)` in seconds: linear interpolation between neighbouring ranks."""
    if not values_ms:
        return None
    xs = sorted(values_ms)
    pos = q * (len(xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return (xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)) / 1000.0


def _median(values_ms: list[int]) -> float | None:
    return _quantile(values_ms, 0.5)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _pending(o: _Settled) -> list[_Visit]:
    return [v for v in o.visits if v.state == "pending_agent"]


def _reply_from(s: _Session, t: int) -> tuple[int, str] | None:
    """The session's first human message.sent at or after t, as (ms, agent)."""
    return next((r for r in s.replies if r[0] >= t), None)


def _first_response(o: _Settled) -> tuple[int, str, int] | None:
    """(ms, agent, wait) of the first human reply at or after the first pending_agent entry."""
    pending = _pending(o)
    reply = _reply_from(o.s, pending[0].entered) if pending else None
    return None if reply is None else (*reply, reply[0] - pending[0].entered)


def _session_row(o: _Settled, person: int) -> dict:
    s = o.s
    pending = _pending(o)
    first = _first_response(o)
    return {
        "session_id": s.sid,
        "conversation_id": s.cid,
        "channel_user_id": s.phone,
        "person": person,
        "channel": s.channel,
        "department": s.dept,
        "query_nature": s.qn,
        "started_at": _dt(s.started),
        "ended_at": _dt(o.ended),
        "final_state": o.final,
        "escalated": bool(pending),
        "bot_contained": o.final == "resolved"
        and not any(v.state in ("pending_agent", "human_active") for v in o.visits),
        "queue_wait_s": _seconds(sum(v.dwell for v in pending if v.exited is not None)) if pending else None,
        "first_queue_wait_s": _seconds(pending[0].dwell) if pending else None,
        "agent_first_response_s": None if first is None else _seconds(first[2]),
        "time_to_resolution_s": _seconds(o.ended - s.started) if o.final == "resolved" else None,
        "handovers": len(s.transfers),
        "webview_opened": bool(s.journeys),
        "funnel_completed": any(j.completed is not None for j in s.journeys),
        "csat_score": s.csat,
    }


def _visit_rows(o: _Settled) -> list[dict]:
    rows = []
    previous = None
    for index, v in enumerate(o.visits, 1):
        rows.append({
            "session_id": o.s.sid,
            "conversation_id": o.s.cid,
            "state": v.state,
            "entered_at": _dt(v.entered),
            "exited_at": _dt(v.exited),
            "dwell_s": _seconds(v.dwell),
            "next_state": v.next_state,
            "visit_index": index,
            "is_valid_transition": previous is None or v.state in VALID_TRANSITIONS.get(previous, ()),
        })
        previous = v.state
    return rows


def _persons(identities: _Identities, settled: list[_Settled]) -> list[dict]:
    """One person per identity component, earliest seen first. Every conversation opens with a
    message carrying its phone, so every component holds an identifier."""
    sessions_of = defaultdict(list)
    for o in settled:
        sessions_of[o.s.cid].append(o.s.sid)
    order = {o.s.sid: n for n, o in enumerate(settled)}
    persons = []
    for nodes in identities.components():
        ids = {kind: sorted(v for k, v in nodes if k == kind)
               for kind in ("channel_user_id", "user_id", "anonymous_id", "conversation")}
        spans = [identities.seen[n] for n in nodes]
        sessions = [sid for cid in ids["conversation"] for sid in sessions_of[cid]]
        persons.append({
            "phones": ids["channel_user_id"],
            "user_ids": ids["user_id"],
            "anonymous_ids": ids["anonymous_id"],
            "first_seen_at": _dt(min(first for first, _ in spans)),
            "last_seen_at": _dt(max(last for _, last in spans)),
            "session_ids": sorted(sessions, key=order.__getitem__),
        })
    persons.sort(key=lambda p: (p["first_seen_at"], p["phones"], p["user_ids"], p["anonymous_ids"]))
    return persons


def _friction(settled: list[_Settled]) -> list[dict]:
    reached, advanced, dropoffs, escalations = (defaultdict(set) for _ in range(4))
    time_on_step = defaultdict(list)
    for o in settled:
        sid = o.s.sid
        # A session runs at most one journey here, so one sample per session and step.
        for j in o.s.journeys:
            first_view = {}
            for t, k in j.views:
                first_view.setdefault(k, t)
            for k, t in first_view.items():
                reached[j.funnel, k].add(sid)
                later = [u for u, m in j.views if m > k and u > t]
                if j.completed is not None and j.completed > t:
                    later.append(j.completed)
                if later:
                    advanced[j.funnel, k].add(sid)
                    time_on_step[j.funnel, k].append(min(later) - t)
            if j.escalated is not None:
                escalations[j.funnel, j.escalated].add(sid)
            elif j.completed is None and j.views:
                dropoffs[j.funnel, max(k for _, k in j.views)].add(sid)
    rows = []
    for funnel, k in sorted(reached.keys() | escalations.keys()):
        n = len(reached[funnel, k])
        rows.append({
            "funnel": funnel,
            "step_index": k,
            "step": FUNNELS[funnel][k - 1],
            "sessions_reached": n,
            "sessions_advanced": len(advanced[funnel, k]),
            "dropoffs": len(dropoffs[funnel, k]),
            "escalations": len(escalations[funnel, k]),
            "dropoff_rate": _ratio(len(dropoffs[funnel, k]), n),
            "escalation_rate": _ratio(len(escalations[funnel, k]), n),
            "median_time_on_step_s": _median(time_on_step[funnel, k]),
        })
    return rows


def _holds(o: _Settled) -> list[tuple[str, str, int, float]]:
    """(agent, team, start, end) per assignment: until the next assignment, the next transfer
    or the end of the human_active visit open at (or first opening after) it; inf while none."""
    s = o.s
    human = [v for v in o.visits if v.state == "human_active"]
    holds = []
    for i, (t, agent, team) in enumerate(s.assigns):
        ends = [u for u, _, _ in s.assigns[i + 1:i + 2]]
        ends += [u for u, _, _ in s.transfers if u > t][:1]
        visit = next((v for v in human if v.exited is None or v.exited > t), None)
        if visit is not None and visit.exited is not None:
            ends.append(visit.exited)
        holds.append((agent, team, t, min(ends, default=math.inf)))
    return holds


def _team_at(s: _Session, agent: str, t: int) -> str:
    """The team of the agent's latest assignment in the session at or before t."""
    return next((team for u, a, team in reversed(s.assigns) if a == agent and u <= t), UNASSIGNED)


class _AgentStats:
    __slots__ = ("handled", "resolved", "first_responses", "responses", "handle_ms")

    def __init__(self):
        self.handled = {}              # session id -> its csat score (None without one)
        self.resolved = 0
        self.first_responses, self.responses = [], []
        self.handle_ms = 0


def _agent_stats(o: _Settled, stats: dict):
    s = o.s

    def of(agent: str, team: str) -> _AgentStats:
        return stats.setdefault((agent, team, s.dept, s.qn), _AgentStats())

    def of_sender(t: int, agent: str) -> _AgentStats:
        return of(agent, _team_at(s, agent, t))

    holds = _holds(o)
    ended_human = [v for v in o.visits if v.state == "human_active" and v.exited is not None]
    for agent, team, start, end in holds:
        row = of(agent, team)
        row.handled[s.sid] = s.csat
        row.handle_ms += sum(max(0, min(end, v.exited) - max(start, v.entered)) for v in ended_human)
    if o.final == "resolved":
        before = [(agent, team) for t, agent, team in s.assigns if t < o.ended]
        if before:
            of(*before[-1]).resolved += 1
    for m in s.received:
        reply = _reply_from(s, m) if any(start <= m < end for _, _, start, end in holds) else None
        if reply is not None:
            of_sender(*reply).responses.append(reply[0] - m)
    first = _first_response(o)
    if first is not None:
        of_sender(first[0], first[1]).first_responses.append(first[2])


def _agent_performance(settled: list[_Settled]) -> list[dict]:
    stats: dict[tuple, _AgentStats] = {}
    for o in settled:
        _agent_stats(o, stats)
    rows = []
    for key in sorted(stats, key=_nulls_last):
        row = stats[key]
        scores = [c for c in row.handled.values() if c is not None]
        rows.append({
            "agent_id": key[0],
            "team": key[1],
            "department": key[2],
            "query_nature": key[3],
            "sessions_handled": len(row.handled),
            "sessions_resolved": row.resolved,
            "resolution_rate": _ratio(row.resolved, len(row.handled)),
            "median_first_response_s": _median(row.first_responses),
            "p90_first_response_s": _quantile(row.first_responses, 0.9),
            "median_response_s": _median(row.responses),
            "handle_time_s": _seconds(row.handle_ms),
            "avg_csat": sum(scores) / len(scores) if scores else None,
        })
    return rows


def _nulls_last(key: tuple) -> tuple:
    return tuple((v is None, "" if v is None else v) for v in key)


def _queue_team(s: _Session, v: _Visit) -> str:
    """The team a pending_agent visit is attributed to (docs/decisions.md, queue dynamics)."""
    ending = [team for t, _, team in s.assigns if v.entered <= t and (v.exited is None or t <= v.exited)]
    if ending:
        return ending[-1]
    return next((to for t, _, to in reversed(s.transfers) if t <= v.entered), UNASSIGNED)


def _queue_dynamics(settled: list[_Settled]) -> list[dict]:
    queued, abandoned, waits = Counter(), Counter(), defaultdict(list)
    for o in settled:
        for v in _pending(o):
            key = (_dt(v.entered).date(), _queue_team(o.s, v))
            queued[key] += 1
            abandoned[key] += v.next_state in TERMINAL_STATES
            if v.next_state == "human_active":
                waits[key].append(v.dwell)
    return [{
        "day": day,
        "team": team,
        "queued": queued[day, team],
        "median_unassigned_s": _median(waits[day, team]),
        "p90_unassigned_s": _quantile(waits[day, team], 0.9),
        "abandoned_in_queue": abandoned[day, team],
    } for day, team in sorted(queued)]


def _handovers(settled: list[_Settled]) -> list[dict]:
    count, latencies = Counter(), defaultdict(list)
    for o in settled:
        for t, from_team, to_team in o.s.transfers:
            count[from_team, to_team] += 1
            reply = _reply_from(o.s, t)
            if reply is not None:
                latencies[from_team, to_team].append(reply[0] - t)
    return [{
        "from_team": from_team,
        "to_team": to_team,
        "handovers": count[from_team, to_team],
        "median_handover_latency_s": _median(latencies[from_team, to_team]),
    } for from_team, to_team in sorted(count)]


def _cell(ms: int) -> tuple[int, int]:
    at = _dt(ms)
    return at.isoweekday(), at.hour


def _heatmap(settled: list[_Settled]) -> list[dict]:
    started, escalations, messages, waits = Counter(), Counter(), Counter(), defaultdict(list)
    for o in settled:
        started[_cell(o.s.started)] += 1
        messages.update(_cell(t) for t in o.s.received)
        pending = _pending(o)
        if pending:
            escalations[_cell(pending[0].entered)] += 1
        for v in pending:
            if v.next_state == "human_active":
                waits[_cell(v.entered)].append(v.dwell)
    return [{
        "iso_weekday": day,
        "hour": hour,
        "sessions_started": started[day, hour],
        "escalations": escalations[day, hour],
        "messages_received": messages[day, hour],
        "median_queue_wait_s": _median(waits[day, hour]),
    } for day in range(1, 8) for hour in range(24)]


def _active_sessions(settled: list[_Settled], watermark: int) -> list[dict]:
    if not settled:
        return []
    first = min(o.s.started for o in settled) // _HOUR * _HOUR
    return [{
        "hour_start": _dt(h),
        "active_sessions": sum(1 for o in settled if o.s.started <= h and (o.ended is None or o.ended > h)),
    } for h in range(first, watermark // _HOUR * _HOUR + 1, _HOUR)]


def _ghost_rate(webview_days: dict[int, list[int]]) -> list[dict]:
    return [{
        "day": date.fromordinal(_EPOCH_ORDINAL + day),
        "webview_events": linked + unlinked,
        "unlinked_events": unlinked,
        "ghost_rate": unlinked / (linked + unlinked),
    } for day, (linked, unlinked) in sorted(webview_days.items())]


def _marts(settled: list[_Settled], webview_days: dict[int, list[int]], watermark: int) -> dict[str, list[dict]]:
    return {
        "mart_friction": _friction(settled),
        "mart_agent_performance": _agent_performance(settled),
        "mart_queue_dynamics": _queue_dynamics(settled),
        "mart_handovers": _handovers(settled),
        "mart_operational_heatmap": _heatmap(settled),
        "mart_active_sessions": _active_sessions(settled, watermark),
        "mart_ghost_rate": _ghost_rate(webview_days),
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
             ttl_hours: float = 24.0, n_batches: int = 3, id_prefix: str = "") -> Simulation:
    """Generate journeys and their ground truth.

    `sessions_per_day` is the mean number of new conversations per day (each
    starts a session); reopened conversations add about 10 % more sessions.
    All events lie in [start, start + days]; the last one, an `identify`, sits
    at the end of the period so the watermark is start + days (moved by a few
    seconds if a session's expiry would fall within a second of it).

    `id_prefix` is put in front of every identifier the run mints (event,
    conversation, message, user and anonymous ids, phone numbers), so runs
    with different prefixes share none: shards of one large data set
    (benchmarks/end_to_end_scale.py). The default "" changes nothing.
    """
    gen = _Gen(days, sessions_per_day, seed, start, ttl_hours, id_prefix)
    gen.run()
    gen.finish()
    watermark = max(gen.ms)
    settled = sorted((_settle(s, watermark, gen.ttl) for s in gen.sessions),
                     key=lambda o: (o.s.started, o.s.sid))
    persons = _persons(gen.identities, settled)
    person_of = {sid: n for n, p in enumerate(persons) for sid in p["session_ids"]}
    events, batches = _deliver(gen.events, gen.ms, n_batches, seed)
    return Simulation(events=events, batches=batches,
                      sessions=[_session_row(o, person_of[o.s.sid]) for o in settled],
                      watermark=_dt(watermark), n_unique_events=len(gen.events), persons=persons,
                      visits=[row for o in settled for row in _visit_rows(o)],
                      marts=_marts(settled, gen.webview_days, watermark))


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
    p.add_argument("--id-prefix", default="", help="put in front of every minted id (disjoint shards)")
    p.add_argument("--out", type=Path, default=Path("data/simulated"))
    p.add_argument("--truth", type=Path, help="also write the ground-truth sessions as NDJSON here")
    a = p.parse_args(argv)
    sim = simulate(days=a.days, sessions_per_day=a.sessions_per_day, seed=a.seed,
                   ttl_hours=a.ttl_hours, n_batches=a.batches, id_prefix=a.id_prefix)
    for b in range(max(1, a.batches)):
        path = a.out / f"batch-{b}.ndjson"
        print(f"{path}: {write_ndjson(sim.batch(b), path)} events")
    if a.truth:
        rows = ({k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in s.items()}
                for s in sim.sessions)
        print(f"{a.truth}: {write_ndjson(rows, a.truth)} sessions")
    print(f"{sim.n_unique_events} distinct events, {len(sim.events)} delivered, "
          f"{len(sim.sessions)} sessions, {len(sim.persons)} persons, {len(sim.visits)} stage visits, "
          f"watermark {sim.watermark.isoformat()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
