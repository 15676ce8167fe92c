"""What every entry point does to an event before it may enter the spool.

Validation against the contract, pseudonymisation, and the collector's own
`received_at`. The importer and the HTTP collector use the same functions,
so a file import and a webhook store byte-identical records. The record is
the producer's own dict (timestamps as sent), not the validator's output.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ingestion.contract import EVENT_FIELDS, parse_event, parse_events
from ingestion.privacy import load_hash_key, redact, scrub
from ingestion.settings import Settings

MAX_RAW_CHARS = 4096


def utc_now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class _Clock:
    """`received_at` for a request, and the latest `occurred_at` it accepts.

    The same text as `utc_now_iso` (the wall clock floored to the microsecond,
    `+00:00`), but the date and time of day are formatted once a second, and
    the bound is that second's plus the microseconds rather than the text
    parsed back: `isoformat` with its keyword argument and `fromisoformat`
    were a tenth of the collector's own work on a single-event request.
    """

    __slots__ = ("_ahead", "_second")

    def __init__(self, max_future_s: float):
        self._ahead = timedelta(seconds=max_future_s)
        # (second since the epoch, its text to the second, its bound): one
        # tuple, so a thread never sees the text of one second with the bound of another.
        self._second: tuple[int, str, datetime] = (-1, "", datetime.min)

    def now(self) -> tuple[str, datetime]:
        second, micro = divmod(time.time_ns() // 1000, 1_000_000)
        cached = self._second
        if cached[0] != second:
            start = datetime.fromtimestamp(second, timezone.utc)
            cached = self._second = (second, start.isoformat()[:19], start + self._ahead)
        return f"{cached[1]}.{micro:06d}+00:00", cached[2] + timedelta(0, 0, micro)


@dataclass(frozen=True)
class Edge:
    """Records are built in the dicts the edge is handed, not in copies: callers
    pass events they decoded or built for it and do not use them afterwards."""

    hash_key: bytes
    store_message_text: bool = False
    max_future_s: float = 3600.0
    _clock: _Clock = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_clock", _Clock(self.max_future_s))

    @classmethod
    def from_settings(cls, settings: Settings) -> "Edge":
        return cls(load_hash_key(settings), settings.store_message_text, settings.max_future_s)

    def accept(self, data: Any, received_at: str | None = None) -> dict[str, Any]:
        """The spool record for a valid event; raises `InvalidEvent` naming field and reason."""
        received_at = received_at or utc_now_iso()
        parse_event(data, self._latest(received_at))
        return self._records([data], received_at)[0]

    def accept_all(self, events: list[Any], received_at: str | None = None) -> list[dict[str, Any]]:
        """The spool records of a batch, validated in one call; all or nothing.

        `InvalidEvent` names each bad event by index (`events[3].properties.score: ...`).
        """
        if received_at is None:
            received_at, latest = self._clock.now()
        else:
            latest = self._latest(received_at)
        parse_events(events, latest)
        return self._records(events, received_at)

    def _latest(self, received_at: str) -> datetime:
        """The latest `occurred_at` accepted with this `received_at`."""
        return datetime.fromisoformat(received_at) + timedelta(seconds=self.max_future_s)

    def _records(self, events: list[dict[str, Any]], received_at: str) -> list[dict[str, Any]]:
        """`events` made records, in place and in one loop (a call per event
        was a tenth of building them). Top-level fields the contract does not
        name are kept, moved under `_extras`, so the loader's reader can parse
        a fixed set of columns."""
        hash_key, store_message_text = self.hash_key, self.store_message_text
        for record in events:
            scrub(record, hash_key, store_message_text)
            fields = EVENT_FIELDS[record["type"]]
            if not fields.issuperset(record):
                record["_extras"] = {k: record.pop(k) for k in [k for k in record if k not in fields]}
            record["received_at"] = received_at
        return events

    def quarantine(self, reason: str, source: str, line: int | None, raw: Any,
                   received_at: str | None = None) -> dict[str, Any]:
        """A spool record the loader routes to `raw.quarantine`."""
        if isinstance(raw, dict):
            raw = scrub(raw, self.hash_key, self.store_message_text)
        text = redact(raw if isinstance(raw, str) else _dumps(raw), self.store_message_text)
        return {"_quarantine": {"reason": reason, "source": source, "line": line,
                                "raw": text[:MAX_RAW_CHARS],
                                "received_at": received_at or utc_now_iso()}}


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)
