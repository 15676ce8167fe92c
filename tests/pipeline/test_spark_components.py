"""The identity graph's connected components (int_identity__components, label propagation in
dbt_project/macros/components.sql) on DuckDB, PostgreSQL and Spark: right on a graph with cycles
and a chain of thousands of nodes whose smallest node sits at its far end.

The events go the product's way (`journey import`, the loader for each
destination) in two loads: the first leaves the chain in two halves, the
second joins them and closes the rings, so DuckDB and PostgreSQL also
relabel incrementally (Spark rebuilds the graph whole). The truth is a
union-find over the same identifiers.
"""

from __future__ import annotations

import secrets
from itertools import count
from pathlib import Path

import duckdb
import pytest

from ingestion.loader import load_spool
from ingestion.settings import Settings
from ingestion.simulator import write_ndjson
from tests.conftest import run_journey
from tests.support.postgres import connect, throwaway_cluster
from tests.support.spark import dbt, spark_settings

CHAIN = 1000  # user ids, and one more anonymous id: 2,001 nodes in a line
RING = 40
HASH_KEY = secrets.token_hex(32)
SELECT = ["run", "--select", "+int_identity__components", "--exclude", "resource_type:seed"]


def identify(n: int, anonymous_id: str, user_id: str) -> dict:
    """An `identify` event: it ties its two identifiers together."""
    return {"event_id": f"link-{n}", "type": "identify", "occurred_at": "2026-11-02T08:00:00.000+00:00",
            "channel": "web", "identity": {"anonymous_id": anonymous_id, "user_id": user_id}, "properties": {}}


def loads() -> list[list[dict]]:
    """Two loads of identify events. The chain a(N) – u0 – a(N-1) – u1 – … puts its smallest node,
    the anonymous id numbered lowest, at the far end; the ring and the bow tie are cycles."""
    first, second, ids = [], [], count()
    for i in range(CHAIN):
        first.append(identify(next(ids), f"a{CHAIN - i:05d}", f"u{i:05d}"))
        if i + 1 < CHAIN:  # the link that halves the chain comes with the second load
            (second if i == CHAIN // 2 else first).append(
                identify(next(ids), f"a{CHAIN - i - 1:05d}", f"u{i:05d}"))
    for j in range(RING):
        first.append(identify(next(ids), f"ring{j:03d}", f"u-ring{j:03d}"))
        (second if j == RING - 1 else first).append(
            identify(next(ids), f"ring{(j + 1) % RING:03d}", f"u-ring{j:03d}"))
    for k in range(4):  # a bow tie: two anonymous ids both linked to four user ids
        first += [identify(next(ids), side, f"u-bow{k}") for side in ("bow-a", "bow-b")]
    first.append(identify(next(ids), "alone", "u-alone"))
    return [first, second]


def truth(events: list[dict]) -> dict[str, str]:
    """node_id → the smallest node id of its component (union-find)."""
    parent: dict[str, str] = {}

    def root(node: str) -> str:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for event in events:
        a, b = sorted(root(f"{kind}:{value}") for kind, value in event["identity"].items())
        parent[b] = a
    return {node: root(node) for node in parent}


def build(home: Path, settings: Settings, target: str, env: dict[str, str]) -> None:
    for n, events in enumerate(loads()):
        write_ndjson(events, home / f"links-{n}.ndjson")
        run_journey(home, HASH_KEY, "import", str(home / f"links-{n}.ndjson"), env=env)
        assert load_spool(settings)["events"] == len(events)
        dbt(settings, target, *SELECT, env=env)


def expected() -> dict[str, str]:
    return truth([e for events in loads() for e in events])


def test_components_on_duckdb(tmp_path):
    settings = Settings.from_env({"JOURNEY_HOME": str(tmp_path), "JOURNEY_HASH_KEY": HASH_KEY})
    build(tmp_path, settings, "duckdb", {})
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        got = dict(con.execute("select node_id, component_id from intermediate.int_identity__components").fetchall())
    assert got == expected()


def test_components_on_postgres(tmp_path):
    with throwaway_cluster() as pg_env:
        settings = Settings.from_env({"JOURNEY_HOME": str(tmp_path), "JOURNEY_HASH_KEY": HASH_KEY,
                                      "JOURNEY_DESTINATION": "postgres", **pg_env})
        build(tmp_path, settings, "postgres", pg_env)
        with connect(pg_env) as con:
            cursor = con.cursor()
            cursor.execute("select node_id, component_id from intermediate.int_identity__components")
            got = dict(cursor.fetchall())
    assert got == expected()


def test_components_on_spark(tmp_path):
    settings = spark_settings(tmp_path, HASH_KEY)
    build(tmp_path, settings, "spark", {})
    files = settings.spark_dir / "warehouse" / "intermediate.db" / "int_identity__components" / "*.parquet"
    got = dict(duckdb.sql(f"select node_id, component_id from read_parquet('{files}')").fetchall())
    assert got == expected()
