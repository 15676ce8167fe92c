"""Dagster's SQLite instance storage, made cheap enough to record ~500 events per run.

A run writes about two events per dbt node and check (~470 for a run of the whole
project), and Dagster's SQLite event log storage opens, commits and closes a
connection for each write: about three per event (the run's own file, then the
cross-run index for asset and check events). Two things make that cost seconds:

- At SQLite's default `synchronous=FULL` each commit waits for the disk. Its
  databases are in WAL mode, where `synchronous=NORMAL` keeps every committed
  event across a crash of the process and only a power cut can lose the last
  ones. What they hold is run bookkeeping (the warehouse has its own
  transactions), so that is the trade taken (`relax_sqlite_sync`).
- A new engine per write pays SQLAlchemy's dialect start-up, and closing the
  last connection to a WAL database checkpoints it. `JourneyEventLogStorage`
  keeps an engine, with its connections open, per file it writes (the index and
  the few latest runs). The UI's live log view watches a run's file for
  changes, which the checkpoint on close used to make; a write now touches the
  file instead.

Instance storage on another database is not touched.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine


def _relax_sync(dbapi_connection, _record) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def relax_sqlite_sync() -> None:
    """Applies to every SQLAlchemy engine of this process; idempotent."""
    if not event.contains(Engine, "connect", _relax_sync):
        event.listen(Engine, "connect", _relax_sync)


class JourneyEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log storage with long-lived engines for the files it writes."""

    # The index, the run being executed and a few others: a long-lived webserver reads many
    # runs, and an engine keeps its file open.
    ENGINES = 4

    def __init__(self, base_dir: str, inst_data=None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()  # the parent's set-up writes already
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> JourneyEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            with self._engine(shard).connect() as conn:
                sqlite = conn.connection.dbapi_connection
                changes_before = sqlite.total_changes
                with conn.begin():
                    yield conn
                written = sqlite.total_changes != changes_before
            if written and shard != INDEX_SHARD_NAME:
                # Wakes the UI's watch of this run's file (a read must not: the watcher reads).
                os.utime(self.path_for_shard(shard))

    def _engine(self, shard: str) -> Engine:
        """Called under `_db_lock`."""
        if shard in self._engines:
            self._engines.move_to_end(shard)
            return self._engines[shard]
        engine = create_engine(self.conn_string_for_shard(shard), connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        self._engines[shard] = engine
        while len(self._engines) > self.ENGINES:
            self._engines.popitem(last=False)[1].dispose()
        return engine

    def _dispose_engines(self) -> None:
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()

    def wipe(self) -> None:
        self._dispose_engines()  # the run files are deleted next
        super().wipe()

    def dispose(self) -> None:
        super().dispose()
        self._dispose_engines()


def instance_yaml(template: str, home: Path) -> str:
    """The instance settings for DAGSTER_HOME `home`: the repository's `template`
    (dagster.yaml) with the event log storage above, kept where Dagster keeps it by default."""
    return template.rstrip("\n") + "\n" + _storage_block(home)


def _storage_block(home: Path) -> str:
    return ("# Dagster's SQLite event log, with long-lived connections to the files it writes "
            "(orchestration/instance_storage.py).\n"
            "event_log_storage:\n"
            "  module: orchestration.instance_storage\n"
            "  class: JourneyEventLogStorage\n"
            "  config:\n"
            f"    base_dir: {json.dumps(str(home / 'storage'))}\n")
