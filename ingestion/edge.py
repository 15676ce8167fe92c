"""What every entry point does to an event before it may enter the spool.

Validation against the contract, pseudonymisation, and the collector's own
`received_at`. The importer uses it now; the HTTP collector uses the same
function, so a file import and a webhook store byte-identical records.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ingestion.contract import parse_event
from ingestion.privacy import load_hash_key, scrub
from ingestion.settings import Settings

MAX_RAW_CHARS = 4096


def utc_now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Edge:
    hash_key: bytes
    store_message_text: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> "Edge":
        return cls(load_hash_key(settings), settings.store_message_text)

    def accept(self, data: Any, received_at: str | None = None) -> dict[str, Any]:
        """The spool record for a valid event; raises `InvalidEvent` naming field and reason.

        Top-level fields the contract does not name are kept, moved under
        `_extras`, so the loader's reader can parse a fixed set of columns.
        """
        extra = parse_event(data).model_extra or {}
        record = scrub(data, self.hash_key, self.store_message_text)
        if extra:
            record = {k: v for k, v in record.items() if k not in extra}
            record["_extras"] = extra
        return {**record, "received_at": received_at or utc_now_iso()}

    def quarantine(self, reason: str, source: str, line: int | None, raw: Any,
                   received_at: str | None = None) -> dict[str, Any]:
        """A spool record the loader routes to `raw.quarantine`."""
        if isinstance(raw, dict):
            raw = scrub(raw, self.hash_key, self.store_message_text)
        text = raw if isinstance(raw, str) else _dumps(raw)
        return {"_quarantine": {"reason": reason, "source": source, "line": line,
                                "raw": text[:MAX_RAW_CHARS],
                                "received_at": received_at or utc_now_iso()}}


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)
