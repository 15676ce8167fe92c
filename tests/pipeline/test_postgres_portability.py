"""Portability (docs/contract.md §1): the same journeys built on DuckDB and on PostgreSQL give the same marts.

DuckDB takes the product's path (`journey import`, `journey run`) with every
event at once. PostgreSQL takes the scale path batch by batch: `journey
import`, the loader with JOURNEY_DESTINATION=postgres, then the production
`dbt build` with `--target postgres`, so its last builds are incremental
(delete+insert) and meet late events. Every mart is compared row by row
between the two warehouses, and with the simulator's ground truth.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from ingestion.loader import load_spool
from ingestion.settings import PostgresSettings, Settings
from ingestion.simulator import simulate, write_ndjson
from orchestration.defs.dbt.cli_args import DbtRunConfig, dbt_build_args
from orchestration.defs.dbt.stamps import is_stamp
from tests.conftest import run_journey
from tests.support.dbt import run_dbt
from tests.support.postgres import connect, throwaway_cluster
from tests.truth.compare import GRAINS, expected_rows, row_mismatches

DAYS, PER_DAY, SEED, BATCHES = 2, 60, 13, 2
# One pseudonymisation key for both homes, so hashed ids agree across warehouses.
HASH_KEY = secrets.token_hex(32)


@pytest.fixture(scope="module")
def sim():
    simulation = simulate(days=DAYS, sessions_per_day=PER_DAY, seed=SEED, n_batches=BATCHES)

    def at(e):
        return datetime.fromisoformat(e["occurred_at"])

    latest_first = max(map(at, simulation.batch(0)))
    assert any(at(e) < latest_first for e in simulation.batch(1)), "no late events for the incremental build"
    return simulation


@pytest.fixture(scope="module")
def events_file(sim, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("events") / "events.ndjson"
    write_ndjson(sim.events, path)
    return path


@pytest.fixture(scope="module")
def pg_env():
    with throwaway_cluster() as env:
        yield env


def postgres_settings(home: Path) -> Settings:
    return Settings.from_env({"JOURNEY_HOME": str(home), "JOURNEY_HASH_KEY": HASH_KEY,
                              "JOURNEY_DESTINATION": "postgres"})


def dbt(pg_env: dict[str, str], target_path: Path, *args: str) -> str:
    return run_dbt(*args, "--target", "postgres", target_path=target_path, env=pg_env, timeout=600).stdout


def load_into_postgres(pg_env: dict[str, str], settings: Settings) -> dict[str, int]:
    """The loader on the throwaway cluster: its JOURNEY_PG_* as the settings' `postgres` section."""
    return load_spool(replace(settings, postgres=PostgresSettings.from_env(pg_env)))


@pytest.fixture(scope="module")
def duckdb_marts(events_file, tmp_path_factory) -> dict[str, tuple[list[str], list[dict]]]:
    home = tmp_path_factory.mktemp("duckdb")
    run_journey(home, HASH_KEY, "import", str(events_file))
    assert "succeeded" in run_journey(home, HASH_KEY, "run")
    warehouse = Settings.from_env({"JOURNEY_HOME": str(home)}).warehouse
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {mart: _rows(con.cursor(), mart) for mart in GRAINS}


@pytest.fixture(scope="module")
def postgres_home(sim, pg_env, tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("postgres")
    settings = postgres_settings(home)
    for batch in range(BATCHES):
        path = home / f"batch-{batch}.ndjson"
        write_ndjson(sim.batch(batch), path)
        run_journey(home, HASH_KEY, "import", str(path))
        assert load_into_postgres(pg_env, settings)["events"] > 0
        dbt(pg_env, home / "dbt-target", *dbt_build_args(DbtRunConfig(), settings.dbt_vars()))
    return home



@pytest.fixture(scope="module")
def postgres_marts(pg_env, postgres_home) -> dict[str, tuple[list[str], list[dict]]]:
    with connect(pg_env) as con:
        return {mart: _rows(con.cursor(), mart) for mart in GRAINS}


def _rows(cursor, mart: str) -> tuple[list[str], list[dict]]:
    """A mart's column names and rows, through DB-API (DuckDB and psycopg2 cursors alike),
    without the build bookkeeping."""
    cursor.execute(f"select * from marts.{mart}")
    columns = [d[0] for d in cursor.description]
    kept = [c for c in columns if not is_stamp(c)]
    return kept, [{c: v for c, v in zip(columns, row) if not is_stamp(c)} for row in cursor.fetchall()]


def same_across_warehouses(column: str, a, b) -> bool:
    """Equal after normalisation: floats to 1e-9 relative, arrays sorted, anything else of one type and equal."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9)
    if isinstance(a, list) and isinstance(b, list):
        return sorted(a) == sorted(b)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("mart", GRAINS)
def test_mart_is_identical_on_duckdb_and_postgres(mart, duckdb_marts, postgres_marts):
    duck_columns, duck_rows = duckdb_marts[mart]
    pg_columns, pg_rows = postgres_marts[mart]
    assert pg_columns == duck_columns, f"{mart}: columns differ"
    assert duck_rows, f"{mart}: empty on DuckDB, nothing was compared"
    problems = row_mismatches(mart, duck_rows, pg_rows, columns=duck_columns, same=same_across_warehouses)
    assert problems == [], f"{mart} (expected = DuckDB, got = PostgreSQL):\n" + "\n".join(problems[:40])


@pytest.mark.parametrize("mart", GRAINS)
def test_postgres_mart_equals_ground_truth(mart, sim, postgres_home, postgres_marts):
    expected = expected_rows(sim, postgres_settings(postgres_home), mart)
    assert row_mismatches(mart, expected, postgres_marts[mart][1]) == []


def test_dbt_unit_tests_pass_on_postgres(pg_env, postgres_home, tmp_path):
    out = dbt(pg_env, tmp_path / "target", "test", "--select", "test_type:unit")
    assert int(out.rsplit("PASS=", 1)[1].split()[0]) >= 8, out[-1000:]


def test_loader_keeps_each_event_once_on_postgres(sim, pg_env, events_file, postgres_home):
    """No DuckDB file to skip known ids against: the insert-only merge on event_id alone dedups."""
    run_journey(postgres_home, HASH_KEY, "import", str(events_file))
    assert load_into_postgres(pg_env, postgres_settings(postgres_home))["segments"] >= 1
    with connect(pg_env) as con:
        cursor = con.cursor()
        cursor.execute("select count(*), count(distinct event_id) from raw.events")
        total, distinct = cursor.fetchone()
    assert total == distinct == sim.n_unique_events
