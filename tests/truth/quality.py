"""Resolution quality (docs/contract.md §6.2.1, §6.2.3): what happened after a session ended, once
the recontact window has passed; and mart_resolution_quality, per UTC day of the end and channel."""

from __future__ import annotations

from collections import Counter, defaultdict

from ingestion.simulator.world import DAY, from_ms
from tests.truth.agents import nulls_last
from tests.truth.sessions import Settled, bot_contained, ratio

FOLLOW_UP_COLUMNS = ("recontacted", "first_contact_resolved", "durably_contained", "reopened")
NOT_MATURE = dict.fromkeys(FOLLOW_UP_COLUMNS)


def window_ms(days: float) -> float:
    """The recontact window in ms, at DuckDB's interval precision (whole microseconds)."""
    return round(days * DAY * 1000) / 1000


def mature(o: Settled, watermark: int, window: float) -> bool:
    """Ended, and its end plus the window is at or before the watermark."""
    return o.ended is not None and o.ended + window <= watermark


def _within(o: Settled, t: int | None, window: float) -> bool:
    """t is after the session's end and at most one window later."""
    return t is not None and o.ended < t <= o.ended + window


def follow_ups(settled: list[Settled], person_of: dict[str, int], watermark: int,
               window_days: float) -> dict[str, dict]:
    """Session id -> recontacted, reopened, first_contact_resolved, durably_contained; all None
    unless mature, reopened None unless resolved."""
    window = window_ms(window_days)
    starts_of_person, next_start = defaultdict(list), {}
    by_conversation = defaultdict(list)
    for o in settled:
        starts_of_person[person_of[o.s.sid]].append(o.s.started)
        by_conversation[o.s.cid].append(o)
    for sessions in by_conversation.values():
        sessions.sort(key=lambda o: o.s.started)     # the ordinal's order
        for o, nxt in zip(sessions, sessions[1:]):
            next_start[o.s.sid] = nxt.s.started
    out = {}
    for o in settled:
        if not mature(o, watermark, window):
            out[o.s.sid] = dict(NOT_MATURE)
            continue
        recontacted = any(_within(o, t, window) for t in starts_of_person[person_of[o.s.sid]])
        resolved = o.final == "resolved"
        out[o.s.sid] = {
            "recontacted": recontacted,
            "reopened": _within(o, next_start.get(o.s.sid), window) if resolved else None,
            "first_contact_resolved": resolved and not recontacted,
            "durably_contained": bot_contained(o) and not recontacted,
        }
    return out


def resolution_quality(settled: list[Settled], follow: dict[str, dict], watermark: int,
                       window_days: float) -> list[dict]:
    """One row per UTC day of ended_at and channel where a session ended."""
    window = window_ms(window_days)
    count = defaultdict(Counter)
    for o in settled:
        if o.ended is None:
            continue
        row = count[from_ms(o.ended).date(), o.s.channel]
        row["sessions_ended"] += 1
        if mature(o, watermark, window):
            row["mature_sessions"] += 1
            row["mature_resolved"] += o.final == "resolved"
            row["mature_bot_contained"] += bot_contained(o)
        row.update(c for c in FOLLOW_UP_COLUMNS if follow[o.s.sid][c])
    return [_quality_row(day, channel, count[day, channel]) for day, channel in sorted(count, key=nulls_last)]


def _quality_row(day, channel, n: Counter) -> dict:
    return {
        "day": day,
        "channel": channel,
        "sessions_ended": n["sessions_ended"],
        "mature_sessions": n["mature_sessions"],
        "mature_resolved": n["mature_resolved"],
        "mature_bot_contained": n["mature_bot_contained"],
        **{c: n[c] for c in FOLLOW_UP_COLUMNS},
        "recontact_rate": ratio(n["recontacted"], n["mature_sessions"]),
        "fcr_rate": ratio(n["first_contact_resolved"], n["mature_resolved"]),
        "durable_containment_rate": ratio(n["durably_contained"], n["mature_bot_contained"]),
        "reopen_rate": ratio(n["reopened"], n["mature_resolved"]),
    }
