"""A read of the serving snapshot that overlaps a publication's rename is done again, on
the file the path names then (dashboard/snapshot.py says why DuckDB can fail there)."""

from __future__ import annotations

import os

import duckdb
import pytest

from dashboard.snapshot import READ_ATTEMPTS, read


def publish(path, version: int) -> None:
    building = path.with_name("building.duckdb")
    with duckdb.connect(str(building)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.publication as select ? as version, now()::timestamp as published_at, "
                    "null::timestamp as data_watermark, 'run' as run_id, 0::bigint as events_loaded", [version])
    os.replace(building, path)


def test_a_read_that_met_a_rename_is_done_again_on_the_new_file(tmp_path):
    path = tmp_path / "journey.duckdb"
    publish(path, 1)
    seen = []

    def body(snapshot):
        seen.append(snapshot.publication.version)
        if len(seen) == 1:  # the rename lands while this read runs; DuckDB fails it as it does then
            publish(path, 2)
            raise duckdb.IOException('Could not read enough bytes from file "journey.duckdb"')
        return snapshot.publication.version

    assert read(path, body) == 2
    assert seen == [1, 2]


def test_a_file_that_keeps_failing_is_reported(tmp_path):
    path = tmp_path / "journey.duckdb"
    publish(path, 1)
    calls = []

    def body(snapshot):
        calls.append(1)
        raise duckdb.IOException("Could not read from file")

    with pytest.raises(duckdb.IOException):
        read(path, body)
    assert len(calls) == READ_ATTEMPTS
