"""The distributed path (docs/deployment.md "Spark"): the same journeys built on Spark in local mode
give the same marts as on DuckDB, and as the simulator's ground truth.

DuckDB takes the product's path (`journey import`, `journey run`) with every
event at once. Spark takes three shuffled loads: `journey import`, the loader
with JOURNEY_DESTINATION=spark (Parquet through dlt's filesystem destination),
then `dbt build --target spark` (seeds and models) for the first two, and
`journey run` for the third (load, build on Spark, checks, the serving
snapshot from Spark's tables), so the second and third builds are incremental
(insert_overwrite of buckets of conversations) and meet late events. Every
mart of the published snapshot is compared row by row with DuckDB's and with
the truth.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from ingestion.loader import load_spool
from ingestion.settings import Settings
from ingestion.simulator import simulate, write_ndjson
from tests.conftest import run_journey
from tests.pipeline.test_postgres_portability import same_across_warehouses
from tests.support.spark import dbt, spark_settings
from tests.truth.compare import GRAINS, actual_rows, all_mart_mismatches, row_mismatches

DAYS, PER_DAY, SEED, BATCHES = 2, 25, 17, 3
HASH_KEY = secrets.token_hex(32)


def late_events(simulation, batch: int) -> int:
    """Events of delivery `batch` that occurred before the latest event of the batch before it."""
    latest = max(datetime.fromisoformat(e["occurred_at"]) for e in simulation.batch(batch - 1))
    return sum(datetime.fromisoformat(e["occurred_at"]) < latest for e in simulation.batch(batch))


@pytest.fixture(scope="module")
def sim():
    simulation = simulate(days=DAYS, sessions_per_day=PER_DAY, seed=SEED, n_batches=BATCHES)
    # Each incremental build meets events older than what the previous load held.
    assert all(late_events(simulation, batch) for batch in range(1, BATCHES))
    return simulation


@pytest.fixture(scope="module")
def duckdb_warehouse(sim, tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("duckdb")
    write_ndjson(sim.events, home / "events.ndjson")
    run_journey(home, HASH_KEY, "import", str(home / "events.ndjson"))
    assert "succeeded" in run_journey(home, HASH_KEY, "run")
    return Settings.from_env({"JOURNEY_HOME": str(home)}).warehouse


@pytest.fixture(scope="module")
def spark_home(sim, tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("spark")
    settings = spark_settings(home, HASH_KEY)
    for batch in range(BATCHES):
        path = home / f"batch-{batch}.ndjson"
        write_ndjson(sim.batch(batch), path)
        run_journey(home, HASH_KEY, "import", str(path))
        if batch < BATCHES - 1:  # the loader and dbt by hand; the data tests run once, in `journey run`
            assert load_spool(settings)["events"] > 0
            dbt(settings, "spark", "build", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test",
                "--vars", json.dumps(settings.dbt_vars()))
    # The last load through the product: load, build on Spark, check, publish the snapshot.
    assert "succeeded" in run_journey(home, HASH_KEY, "run", env={"JOURNEY_DESTINATION": "spark"})
    return home


def columns(warehouse: Path) -> dict[str, list[str]]:
    """Every mart's columns in order (not the snapshot's own `publication`)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return dict(con.execute("select table_name, list(column_name order by column_index) from duckdb_columns() "
                                "where schema_name = 'marts' and table_name <> 'publication' "
                                "group by table_name").fetchall())


def test_every_mart_on_spark_equals_duckdb(duckdb_warehouse, spark_home):
    """Read from the serving snapshot `journey run` published from Spark's tables."""
    spark_warehouse = spark_settings(spark_home, HASH_KEY).serving_db
    assert columns(spark_warehouse) == columns(duckdb_warehouse)
    expected = {mart: actual_rows(duckdb_warehouse, mart) for mart in GRAINS}
    assert all(expected.values()), "a mart is empty on DuckDB: nothing was compared"
    problems = {mart: row_mismatches(mart, expected[mart], actual_rows(spark_warehouse, mart),
                                     same=same_across_warehouses)[:20] for mart in GRAINS}
    assert problems == {mart: [] for mart in GRAINS}, "expected = DuckDB, got = Spark"


def test_every_mart_on_spark_equals_ground_truth(sim, spark_home):
    settings = spark_settings(spark_home, HASH_KEY)
    assert all_mart_mismatches(settings.serving_db, sim, settings) == {mart: [] for mart in GRAINS}


def test_loader_keeps_each_event_and_rejection_once_on_spark(sim, spark_home):
    """Plain Parquet has no merge: the loader's check against the stored ids keeps the first
    arrival, across the three loads and two more that repeat every event and a bad line."""
    settings = spark_settings(spark_home, HASH_KEY)
    again = spark_home / "again.ndjson"
    write_ndjson(sim.events, again)
    with again.open("a") as out:
        out.write("not json\n")
    for quarantined in (1, 0):
        run_journey(spark_home, HASH_KEY, "import", str(again))
        assert load_spool(settings) == {"segments": 1, "events": 0, "quarantined": quarantined}
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        total, distinct = con.execute("select count(*), count(distinct event_id) from raw.events").fetchone()
        rejected = con.execute("select count(*) from read_parquet(?)",
                               [str(settings.spark_dir / "raw" / "quarantine" / "*.parquet")]).fetchone()[0]
    assert total == distinct == sim.n_unique_events
    assert rejected == 1
