"""Publication from the previous snapshot: the stamped mart gets only the conversations
written since, and is copied whole whenever a patch could be wrong or dearer."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from orchestration.defs.serving.publish import Descriptions, publish_snapshot

NONE = Descriptions(tables={}, columns={})


def rows(database: Path, table: str) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(f"select * from marts.{table} order by all").fetchall()


@pytest.fixture
def warehouse(tmp_path) -> Path:
    """Ten conversations of three events, all from build 1, and a small mart."""
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts; create schema raw")
        con.execute("create table raw.events as select timestamp '2026-11-30 10:00' as occurred_at")
        con.execute("create table marts.fct_session_events as "
                    "select 'c' || c as conversation_id, e as event_seq, 'v1' as payload, 1::bigint as build_seq "
                    "from range(10) t(c), range(3) u(e)")
        con.execute("create table marts.mart_daily as select 1 as day, 10 as sessions")
    return path


def rebuild(warehouse: Path, sql: str) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute(sql)


def publish(warehouse: Path, target: Path):
    return publish_snapshot(warehouse, target, "run", NONE)


def test_later_builds_replace_only_their_conversations(warehouse, tmp_path):
    target = tmp_path / "serving.duckdb"
    assert publish(warehouse, target).patched == {}  # nothing to start from: copied whole
    # Build 2 rewrites c1 (now two events: one was a duplicate) and adds c10; c0, c2… stay.
    rebuild(warehouse, "delete from marts.fct_session_events where conversation_id = 'c1'; "
                       "insert into marts.fct_session_events values "
                       "('c1', 0, 'v2', 2), ('c1', 1, 'v2', 2), ('c10', 0, 'v2', 2); "
                       "update marts.mart_daily set sessions = 11")
    second = publish(warehouse, target)
    assert second.patched == {"fct_session_events": 3} and second.version == 2
    assert rows(target, "fct_session_events") == rows(warehouse, "fct_session_events")
    assert rows(target, "mart_daily") == [(1, 11)]
    assert second.row_counts["fct_session_events"] == 30


def test_a_build_the_snapshot_missed_is_still_published(warehouse, tmp_path):
    """A run whose checks failed built stamp 2 without publishing; the next run's stamp 3 comes with it."""
    target = tmp_path / "serving.duckdb"
    publish(warehouse, target)
    rebuild(warehouse, "update marts.fct_session_events set payload = 'v2', build_seq = 2 where conversation_id = 'c4'")
    rebuild(warehouse, "update marts.fct_session_events set payload = 'v3', build_seq = 3 where conversation_id = 'c7'")
    assert publish(warehouse, target).patched == {"fct_session_events": 6}
    assert rows(target, "fct_session_events") == rows(warehouse, "fct_session_events")


@pytest.mark.parametrize("change", [
    # restored from an older backup: its stamps are behind the snapshot's
    "update marts.fct_session_events set payload = 'old', build_seq = 0",
    # a full refresh: every row newer, a whole copy is cheaper
    "update marts.fct_session_events set payload = 'full', build_seq = 1700000000000",
    # a new column
    "alter table marts.fct_session_events add column extra integer default 7",
])
def test_copied_whole_when_a_patch_could_be_wrong_or_dearer(warehouse, tmp_path, change):
    target = tmp_path / "serving.duckdb"
    publish(warehouse, target)
    rebuild(warehouse, "update marts.fct_session_events set payload = 'v2', build_seq = 2 where conversation_id = 'c1'")
    publish(warehouse, target)
    rebuild(warehouse, change)
    assert publish(warehouse, target).patched == {}
    assert rows(target, "fct_session_events") == rows(warehouse, "fct_session_events")


def test_a_mart_the_warehouse_dropped_leaves_the_snapshot(warehouse, tmp_path):
    target = tmp_path / "serving.duckdb"
    publish(warehouse, target)
    rebuild(warehouse, "drop table marts.mart_daily")
    publish(warehouse, target)
    with duckdb.connect(str(target), read_only=True) as con:
        assert {t for (t,) in con.execute("select table_name from duckdb_tables()").fetchall()} \
            == {"fct_session_events", "publication"}


def test_a_restored_warehouse_that_reuses_the_snapshots_stamps_is_copied_whole(warehouse, tmp_path):
    """Restored from a backup taken at stamp 1 and built again: its stamp 2 names other rows
    than the snapshot's stamp 2, which the stamps alone cannot tell."""
    target = tmp_path / "serving.duckdb"
    backup = tmp_path / "backup.duckdb"
    publish(warehouse, target)
    backup.write_bytes(warehouse.read_bytes())
    rebuild(warehouse, "update marts.fct_session_events set payload = 'lost', build_seq = 2 where conversation_id = 'c1'")
    publish(warehouse, target)
    warehouse.write_bytes(backup.read_bytes())
    rebuild(warehouse, "update marts.fct_session_events set payload = 'new', build_seq = 2 where conversation_id = 'c2'")
    assert publish(warehouse, target).patched == {}
    assert rows(target, "fct_session_events") == rows(warehouse, "fct_session_events")


def test_an_object_someone_added_to_the_snapshot_does_not_stop_publication(warehouse, tmp_path):
    target = tmp_path / "serving.duckdb"
    publish(warehouse, target)
    with duckdb.connect(str(target)) as con:  # a reader with write access left a view where a mart will be
        con.execute("create view marts.mart_weekly as select 1 as week")
    rebuild(warehouse, "create table marts.mart_weekly as select 2 as week")
    publish(warehouse, target)
    assert rows(target, "mart_weekly") == [(2,)]
