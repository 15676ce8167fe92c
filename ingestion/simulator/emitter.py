"""Wire-format events (docs/contract.md §2), in the order the journeys make them.

Event ids and the formatting of timestamps (offset, `sent_at`) draw from random streams of their
own, so they never shift the journeys. Events of one millisecond whose order matters are sent
together (`tie`): they share a delivery unit (one request: one `received_at`) and get ascending ids,
so the contract's tie-breaker, the event id (docs/contract.md §4.1), orders them as they happened.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date

from ingestion.simulator.records import IdentityLinks
from ingestion.simulator.world import DAY, EPOCH_ORDINAL, HOUR, MINUTE, SECOND, USER

OFFSETS = ("+01:00", "+02:00", "-05:00", "+05:30")


class Emitter:
    """The distinct events, their times in ms, the identifiers they link and the webview events per day."""

    def __init__(self, seed: int, prefix: str):
        self.idrng = random.Random(f"event-ids:{seed}")
        self.fmtrng = random.Random(f"format:{seed}")
        self.prefix = prefix
        self.events: list[dict] = []
        self.ms: list[int] = []
        self.units: list[int] = []          # delivery unit of each event: tied events share one
        self._tied: list[str] = []          # the ids of the tied events still to come, ascending
        self._unit = 0
        self.identities = IdentityLinks()
        self.webview_days = defaultdict(lambda: [0, 0])    # UTC day -> [linked, unlinked] webview events
        self._dates: dict[int, str] = {}

    def timestamp(self, ms: int, offset: str = "+00:00") -> str:
        """RFC 3339 with milliseconds, in local time at the offset ("Z" is UTC)."""
        if offset == "+00:00" or offset == "Z":
            local = ms
        else:
            sign = 1 if offset[0] == "+" else -1
            local = ms + sign * (int(offset[1:3]) * HOUR + int(offset[4:6]) * MINUTE)
        day, rem = divmod(local, DAY)
        d = self._dates.get(day)
        if d is None:
            d = self._dates[day] = date.fromordinal(EPOCH_ORDINAL + day).isoformat()
        h, rem = divmod(rem, HOUR)
        m, rem = divmod(rem, MINUTE)
        s, milli = divmod(rem, SECOND)
        return f"{d}T{h:02d}:{m:02d}:{s:02d}.{milli:03d}{offset}"

    def event_id(self) -> str:
        h = "%032x" % self.idrng.getrandbits(128)
        return f"{self.prefix}{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"

    def tie(self, n: int):
        """The next n events happen in one millisecond and are sent in one request."""
        self._tied = sorted(self.event_id() for _ in range(n))
        self._unit = len(self.events)

    def emit(self, ms, etype, props, cid=None, channel=None, actor=None, identity=None,
             attributes=None, sent_share=0.25) -> dict:
        r = self.fmtrng.random()
        offset = "+00:00" if r < 0.96 else ("Z" if r < 0.97 else OFFSETS[int(r * 1000) % 4])
        if self._tied:
            event_id, unit = self._tied.pop(0), self._unit
        else:
            event_id, unit = self.event_id(), len(self.events)
        ev = {"event_id": event_id, "type": etype, "occurred_at": self.timestamp(ms, offset)}
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
            ev["sent_at"] = self.timestamp(ms + self.fmtrng.randint(30, 2500))
        self.events.append(ev)
        self.ms.append(ms)
        self.units.append(unit)
        nodes = [("conversation", cid)] if cid is not None else []
        nodes += (identity or {}).items()
        if nodes:
            self.identities.saw(ms, nodes)
        return ev

    def webview_event(self, t: int, etype: str, props: dict, cid: str | None, identity: dict):
        self.emit(t, etype, props, cid, "webview", USER, identity, None, 0.6)
        self.webview_days[t // DAY][cid is None] += 1     # index 1: unlinked (no token, no conversation)

    def identify(self, t: int, identity: dict, sent_share: float = 0.25):
        self.emit(t, "identify", {}, None, "web", None, identity, None, sent_share)
