"""Two builds of the same events compare equal without their build stamps, and only then."""

from __future__ import annotations

import duckdb

from orchestration.defs.dbt.stamps import is_stamp, marts_rows


def _warehouse(path, build_seq: int, payload: str):
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute(f"create table marts.facts as select * from (values ('c1', '{payload}', {build_seq}, "
                    f"{build_seq - 1}, {build_seq - 2}), ('c0', 'same', {build_seq}, 0, 0)) "
                    "as t(conversation_id, payload, build_seq, upstream_build_seq, people_build_seq)")
        con.execute("create table marts.publication as select 1 as version")
    return path


def test_stamps_are_left_out_and_data_is_not(tmp_path):
    incremental = marts_rows(_warehouse(tmp_path / "a.duckdb", 7, "x"))
    refreshed = marts_rows(_warehouse(tmp_path / "b.duckdb", 1_700_000_000_000, "x"))
    changed = marts_rows(_warehouse(tmp_path / "c.duckdb", 7, "y"))

    assert incremental == refreshed == {"facts": [("c0", "same"), ("c1", "x")]}
    assert changed != incremental
    assert [c for c in ("build_seq", "upstream_build_seq", "people_build_seq", "sequence") if is_stamp(c)] == [
        "build_seq", "upstream_build_seq", "people_build_seq"]
