"""Publishes the marts as the serving snapshot: one DuckDB file readers own.

The working warehouse belongs to the pipeline (one writer at a time); people
and tools read a copy. The copy is built beside the served file, made durable
and renamed over it, so a reader opens either the old or the new snapshot,
never a mix, and a reader holding the old file keeps reading it undisturbed
(the rename replaces the directory entry, not the open inode).

The new copy starts from the previous snapshot's file when there is one: a
mart whose rows carry the build that wrote them (`build_seq`) and are
replaced a whole conversation at a time (`fct_session_events`, every event
of every session) gets only the conversations written since that snapshot,
so its cost follows the new data instead of the warehouse's size. Every
other mart is small or rebuilt whole by each run, and is copied whole.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import duckdb

from ingestion.spool import fsync_path
from orchestration.defs.dbt.stamps import STAMP

# The Dagster asset key of the snapshot, kept here so the CLI can name it without importing Dagster.
SNAPSHOT_ASSET = ("serving", "marts_snapshot")
SCHEMA = "marts"
PUBLICATION = "publication"

PUBLICATION_COLUMNS = {
    "published_at": ("timestamp", "When this snapshot was published (UTC)."),
    "data_watermark": ("timestamp", "The latest occurred_at among the events loaded (UTC): the data is "
                                    "complete up to about this moment."),
    "run_id": ("varchar", "The pipeline run (Dagster run id) that published this snapshot."),
    "events_loaded": ("bigint", "Distinct events in the warehouse when this snapshot was published."),
    "version": ("bigint", "Publication number: 1 for the first snapshot, one more for each later one."),
    "software_version": ("varchar", "The journey-analytics version that built the marts."),
}
PUBLICATION_DESCRIPTION = ("One row describing this snapshot: when it was published, how recent its data is, "
                           "and which run wrote it.")


@dataclass(frozen=True)
class Descriptions:
    """Table and column descriptions (from the dbt yml docs), written as DuckDB comments."""

    tables: dict[str, str]
    columns: dict[str, dict[str, str]]


@dataclass(frozen=True)
class Publication:
    path: Path
    version: int
    published_at: datetime
    data_watermark: datetime | None
    events_loaded: int
    row_counts: dict[str, int]
    bytes: int
    # Per mart patched from the previous snapshot: the rows written (the others were copied whole).
    patched: dict[str, int]


def software_version() -> str:
    try:
        return version("journey-analytics")
    except PackageNotFoundError:
        return "unknown"


def previous_version(path: Path) -> int:
    """The version of the snapshot being replaced (0 when there is none or it cannot be read)."""
    if not path.exists():
        return 0
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            row = con.execute(f"select max(version) from {SCHEMA}.{PUBLICATION}").fetchone()
    except duckdb.Error:
        return 0
    return int(row[0] or 0)


def publish_snapshot(warehouse: Path, target: Path, run_id: str, descriptions: Descriptions,
                     memory_limit: str = "2GB") -> Publication:
    """Puts the warehouse's `marts` schema at `target` as a new file, atomically.
    Raises before the rename on any error, so the previous snapshot stays in place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(target)
    building = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.building")
    number = previous_version(target) + 1
    try:
        try:
            if number > 1:  # a readable previous snapshot: start from it
                shutil.copyfile(target, building)
            publication = _build(warehouse, building, run_id, descriptions, number, memory_limit)
        except duckdb.Error:
            if number == 1:
                raise
            # Whatever in the previous file stopped it (an object someone added, a damaged
            # block): the previous file is left aside and the snapshot built from nothing.
            _discard(building)
            publication = _build(warehouse, building, run_id, descriptions, number, memory_limit)
        fsync_path(building)
        os.replace(building, target)
        fsync_path(target.parent)
    finally:
        _discard(building)
    return Publication(path=target, bytes=target.stat().st_size, **publication)


def _build(warehouse: Path, path: Path, run_id: str, descriptions: Descriptions, number: int,
           memory_limit: str) -> dict:
    published_at = datetime.now(timezone.utc).replace(tzinfo=None)
    with duckdb.connect(str(path), config={"memory_limit": memory_limit}) as con:
        con.execute("attach ? as warehouse (read_only)", [str(warehouse)])
        # Views too: on Spark the marts are views over its Parquet files (orchestration/defs/dbt/spark_tables.py).
        tables = [name for (name,) in con.execute(
            "select table_name from duckdb_tables() where database_name = 'warehouse' and schema_name = $s "
            "union select view_name from duckdb_views() where database_name = 'warehouse' and schema_name = $s "
            "order by 1", {"s": SCHEMA}).fetchall()]
        if not tables:
            raise RuntimeError(f"{warehouse} has no tables in schema {SCHEMA}: build the marts before publishing")
        con.execute(f"create schema if not exists {SCHEMA}")
        for name, kind in con.execute(
                "select table_name, 'table' from duckdb_tables() where database_name = current_database() "
                "and schema_name = $s union all select view_name, 'view' from duckdb_views() "
                "where database_name = current_database() and schema_name = $s", {"s": SCHEMA}).fetchall():
            if name not in tables or kind == "view":
                con.execute(f'drop {kind} {SCHEMA}."{name}"')
        row_counts, patched = {}, {}
        for table in tables:
            written = _patch(con, table)
            if written is None:
                con.execute(f'create or replace table {SCHEMA}."{table}" as select * from warehouse.{SCHEMA}."{table}"')
            else:
                patched[table] = written
            row_counts[table] = con.execute(f'select count(*) from {SCHEMA}."{table}"').fetchone()[0]
        watermark, events = con.execute(
            "select max(occurred_at), count(*) from warehouse.raw.events").fetchone()
        con.execute("detach warehouse")
        columns = ", ".join(f"{name} {kind}" for name, (kind, _) in PUBLICATION_COLUMNS.items())
        con.execute(f"create table {SCHEMA}.{PUBLICATION} ({columns})")
        con.execute(f"insert into {SCHEMA}.{PUBLICATION} values (?, ?, ?, ?, ?, ?)",
                    [published_at, _naive_utc(watermark), run_id, events, number, software_version()])
        _comment(con, PUBLICATION, PUBLICATION_DESCRIPTION,
                 {name: text for name, (_, text) in PUBLICATION_COLUMNS.items()})
        for table in tables:
            _comment(con, table, descriptions.tables.get(table, ""), descriptions.columns.get(table, {}))
        con.execute("checkpoint")
    return {"version": number, "published_at": published_at, "data_watermark": _naive_utc(watermark),
            "events_loaded": events, "row_counts": row_counts, "patched": patched}


# A mart patched by conversation: its rows stamped by the build that wrote them, a conversation at a time.
PATCH_KEY = "conversation_id"


def _patch(con: duckdb.DuckDBPyConnection, table: str) -> int | None:
    """Brings the previous snapshot's copy of `table` up to the warehouse's by replacing the
    conversations whose rows carry a later stamp than any it holds; the rows written, or
    None when the table must be copied whole: no previous copy, other columns, no stamps,
    a warehouse behind the snapshot (restored from an older backup), most rows new (after
    a full refresh a whole copy is cheaper than a delete and insert of everything), or a
    patched table whose fingerprint differs from the warehouse's."""
    mine, theirs = (_columns(con, database, table) for database in ("current_database()", "'warehouse'"))
    if not mine or mine != theirs or not {PATCH_KEY, STAMP} <= {name for name, _ in theirs}:
        return None
    held = con.execute(f'select max({STAMP}) from {SCHEMA}."{table}"').fetchone()[0]
    newest, total, newer = con.execute(
        f'select max({STAMP}), count(*), count(*) filter ({STAMP} > $held) '
        f'from warehouse.{SCHEMA}."{table}"', {"held": held}).fetchone()
    if held is None or newest is None or newest < held or newer * 2 > total:
        return None
    changed = (f'select distinct {PATCH_KEY} from warehouse.{SCHEMA}."{table}" '
               f'where {STAMP} > {int(held)}')
    con.execute(f'delete from {SCHEMA}."{table}" where {PATCH_KEY} in ({changed})')
    con.execute(f'insert into {SCHEMA}."{table}" select * from warehouse.{SCHEMA}."{table}" '
                f'where {PATCH_KEY} in ({changed})')
    # A stamp counts builds of one table, so a warehouse restored from a backup and built
    # again can reuse the snapshot's stamps for other rows; a conversation can also lose
    # its rows. Both leave a difference the stamps cannot see, and this fingerprint can.
    fingerprint = f'select count(*), sum(hash({PATCH_KEY}, {STAMP})) from {{}}{SCHEMA}."{table}"'
    if con.execute(fingerprint.format("")).fetchone() != con.execute(fingerprint.format("warehouse.")).fetchone():
        return None
    return newer


def _columns(con: duckdb.DuckDBPyConnection, database: str, table: str) -> list[tuple[str, str]]:
    return con.execute(f"select column_name, data_type from duckdb_columns() where database_name = {database} "
                       "and schema_name = $s and table_name = $t order by column_index",
                       {"s": SCHEMA, "t": table}).fetchall()


def _comment(con: duckdb.DuckDBPyConnection, table: str, description: str, columns: dict[str, str]) -> None:
    con.execute(f"comment on table {SCHEMA}.\"{table}\" is {_literal(description)}")
    names = [name for (name,) in con.execute(
        "select column_name from duckdb_columns() where schema_name = ? and table_name = ?",
        [SCHEMA, table]).fetchall()]
    for name in names:  # NULL clears a description a previous snapshot's copy still carries
        text = _literal(columns[name]) if columns.get(name) else "NULL"
        con.execute(f'comment on column {SCHEMA}."{table}"."{name}" is {text}')


def _literal(text: str) -> str:
    """COMMENT ON takes no bound parameters: a quoted SQL string literal instead."""
    return "'" + " ".join(text.split()).replace("'", "''") + "'"


def _naive_utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def _discard(building: Path) -> None:
    """A file being built and its write-ahead log, if any."""
    for leftover in (building, building.with_name(building.name + ".wal")):
        leftover.unlink(missing_ok=True)


def _remove_leftovers(target: Path) -> None:
    """Half-built files of a publication that was killed before its rename."""
    for leftover in target.parent.glob(f".{target.name}.*.building*"):
        leftover.unlink(missing_ok=True)
