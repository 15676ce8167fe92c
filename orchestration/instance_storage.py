"""Dagster's SQLite instance storage without an fsync per run event.

A run writes about two events per dbt node and check (~470 for a run of the
whole project), and Dagster's SQLite storage opens, commits and closes a
connection for each one: at SQLite's default `synchronous=FULL` each commit
waits for the disk, seconds per run. Its databases are already in WAL mode,
where `synchronous=NORMAL` keeps every committed event across a crash of the
process and only a power cut can lose the last ones. What they hold is run
bookkeeping (the warehouse has its own transactions), so that is the trade
taken. Instance storage on another database is not touched.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import event
from sqlalchemy.engine import Engine


def _relax_sync(dbapi_connection, _record) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def relax_sqlite_sync() -> None:
    """Applies to every SQLAlchemy engine of this process; idempotent."""
    if not event.contains(Engine, "connect", _relax_sync):
        event.listen(Engine, "connect", _relax_sync)
