"""Journeys to distinct events: when conversations start, who opens them, how each plays out.

`generate` returns the `Timeline` of the run: its emitter holds the distinct events in the
order they were made (with their times in ms), its `sessions` what happened in each session.
"""

from __future__ import annotations

import math
from datetime import datetime

from ingestion.simulator.bot import session
from ingestion.simulator.realism import Realism
from ingestion.simulator.records import Conversation
from ingestion.simulator.timeline import PeriodOver, Timeline
from ingestion.simulator.webview import unlinked_visit
from ingestion.simulator.world import DAY, HOUR, HOUR_WEIGHTS, MINUTE, SECOND, WEEKDAY_WEIGHTS, weekday

MAX_SESSIONS_PER_CONVERSATION = 4
UNLINKED_SHARE = 0.04          # token-less webview visits per webview journey opened from a chat
LOGIN_CHANCE = 0.06            # a one-phone person logs in on the site at some point


def generate(days: float, sessions_per_day: int, seed: int, start: datetime, ttl_hours: float,
             id_prefix: str = "", realism: Realism = Realism()) -> Timeline:
    tl = Timeline(days, sessions_per_day, seed, start, ttl_hours, id_prefix, realism)
    for n, t0 in enumerate(_conversation_starts(tl), 1):
        _conversation(tl, Conversation(f"{tl.prefix}conv-{n}", *tl.people.caller()), t0)
    span = tl.horizon - tl.start
    for _ in range(int(round(tl.webview_journeys * UNLINKED_SHARE))):
        unlinked_visit(tl, tl.start + tl.rng.randrange(max(1, span - HOUR)))
    _logins(tl, span)
    _last_identify(tl)
    return tl


def _hour_slots(tl: Timeline) -> tuple[list[int], list[float]]:
    """The start ms of every hour of the period, and its share of conversation starts."""
    slots, weights = [], []
    for d in range(int(math.ceil(tl.days))):
        day_start = tl.start + d * DAY
        for h in range(24):
            s = day_start + h * HOUR
            if s >= tl.horizon:
                break
            slots.append(s)
            weights.append(WEEKDAY_WEIGHTS[weekday(s)] * HOUR_WEIGHTS[(s % DAY) // HOUR])
    return slots, weights


def _conversation_starts(tl: Timeline) -> list[int]:
    rng = tl.rng
    slots, weights = _hour_slots(tl)
    n_conv = int(round(tl.days * tl.sessions_per_day))
    starts = sorted(rng.choices(slots, weights=weights, k=n_conv)) if slots else []
    starts = [min(s + rng.randrange(HOUR), tl.horizon - SECOND) for s in starts]
    starts.sort()
    return starts


def _conversation(tl: Timeline, c: Conversation, t0: int):
    """The sessions of one conversation, until it stays closed or the period ends."""
    c.t = t0 - SECOND
    gap = 0
    try:
        while gap is not None:
            outcome = session(tl, c, gap)
            gap = None if c.ordinal >= MAX_SESSIONS_PER_CONVERSATION else _reopen_gap(tl, outcome)
    except PeriodOver:
        pass


def _reopen_gap(tl: Timeline, outcome: str) -> int | None:
    """How long until the user writes again after a session, or None if they do not."""
    if outcome == "resolved":
        return tl.ln(6 * 3600, 1.8) if tl.rng.random() < 0.15 else None                 # minutes to days
    return tl.ttl + 10 * MINUTE + tl.ln(10 * 3600, 1.0) if tl.rng.random() < 0.22 else None  # clearly past the TTL


def _logins(tl: Timeline, span: int):
    """Logins tie a phone to a user id (a two-phone person's both phones, so they join)."""
    rng, people = tl.rng, tl.people
    for p in people.persons:
        if len(p.phones) > 1 or rng.random() < LOGIN_CHANCE:
            for phone in p.phones:
                ident = {"channel_user_id": phone, "user_id": people.login(p)}
                if rng.random() < 0.3:
                    ident["anonymous_id"] = rng.choice(p.anons)
                tl.out.identify(tl.start + rng.randrange(span), ident)


def _last_identify(tl: Timeline):
    """An identify that anchors the watermark at the horizon, clear of every non-terminal
    session's expiry (moved on by 2 s while one falls within a second of it)."""
    expiries = {s.last + tl.ttl for s in tl.sessions if s.state != "resolved"}
    w = tl.horizon
    while any(abs(e - w) < SECOND for e in expiries):
        w += 2 * SECOND
    people = tl.people
    p = people.persons[0] if people.persons else people.new_person("whatsapp")
    tl.out.identify(w, {"channel_user_id": p.phones[0], "user_id": people.login(p)}, 0.0)
