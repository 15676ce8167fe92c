"""The TTL worker (docs/contract.md §4.7): close idle sessions with `conversation.expired` events.

The marts already derive expiry from the data as of the watermark; the worker
writes that decision back as events so that downstream systems (and the
warehouse's own watermark, in wall-clock mode) see it. Each event id is a hash
of the session and its expiry time, so a rerun produces the same ids and the
loader keeps each once; a late event that moves the session's last activity
gives a different expiry, hence a new id, and the stale event stays inert
(`conversation.expired` is not activity and ends nothing by itself).
"""

from __future__ import annotations

import hashlib
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone

import duckdb

from ingestion.edge import Edge, utc_now_iso
from ingestion.settings import Settings
from ingestion.sinks import open_sink
from ingestion.spool import encode

WORKER = {"kind": "system", "id": "ttl-worker"}


@dataclass(frozen=True)
class Expiry:
    session_id: str
    conversation_id: str
    expired_at: datetime  # UTC

    @property
    def event_id(self) -> str:
        digest = hashlib.sha256(f"{self.session_id}|{self.expired_at.isoformat()}".encode()).hexdigest()
        return f"ttl-{digest[:32]}"

    def event(self, ttl_hours: float) -> dict:
        return {
            "event_id": self.event_id,
            "type": "conversation.expired",
            "occurred_at": self.expired_at.isoformat(timespec="milliseconds"),
            "conversation_id": self.conversation_id,
            "actor": dict(WORKER),
            "properties": {"session_id": self.session_id, "ttl_hours": ttl_hours},
        }


def due_expiries(settings: Settings, now: datetime | None = None) -> list[Expiry]:
    """Sessions expired by the TTL whose expiry event is not in `raw` yet.

    With a `now` (wall-clock mode), sessions still open in the marts but idle
    for the TTL as of `now` are due as well.
    """
    if not settings.warehouse.exists():
        return []
    ttl_ms = int(settings.ttl_hours * 3_600_000)
    wall = now.astimezone(timezone.utc).replace(tzinfo=None) if now else None
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        if not con.sql("select count(*) from duckdb_tables() where schema_name = 'intermediate' "
                       "and table_name = 'int_sessions__bounded'").fetchall()[0][0]:
            return []
        rows = con.sql(
            """
            select session_id, conversation_id, ended_at
            from intermediate.int_sessions__bounded
            where expired_by_ttl
            union all
            select session_id, conversation_id, last_activity_at + to_milliseconds($ttl_ms)
            from intermediate.int_sessions__bounded
            where final_state = 'open' and $wall is not null
                and last_activity_at + to_milliseconds($ttl_ms) <= $wall
            order by 3, 1
            """,
            params={"ttl_ms": ttl_ms, "wall": wall},
        ).fetchall()
        expiries = [Expiry(s, c, at.replace(tzinfo=timezone.utc)) for s, c, at in rows]
        if not expiries:
            return []
        con.execute("create temp table due (event_id varchar)")
        con.executemany("insert into due values (?)", [[e.event_id] for e in expiries])
        stored = {r[0] for r in con.sql("select event_id from due semi join raw.events using (event_id)").fetchall()}
    return [e for e in expiries if e.event_id not in stored]


def emit_expiries(settings: Settings, now: datetime | None = None) -> list[Expiry]:
    """Append the due expiry events to the spool, sealed so the next load takes them."""
    if now is None and settings.ttl_clock == "wall":
        now = datetime.now(timezone.utc)
    expiries = due_expiries(settings, now)
    if expiries:
        edge = Edge.from_settings(settings)
        received_at = utc_now_iso()
        records = [encode(edge.accept(e.event(settings.ttl_hours), received_at)) for e in expiries]
        with closing(open_sink(settings, max_age_s=float("inf"))) as sink:
            sink.append(records)
    return expiries
