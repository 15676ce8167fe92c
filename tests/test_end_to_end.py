"""Simulated journeys → `journey import` → `journey run` (Dagster: dlt + dbt) → marts = ground truth."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from ingestion.settings import Settings
from orchestration.defs.dbt.project import DBT_EXECUTABLE, DBT_PROJECT_DIR
from ingestion.simulator import simulate, write_ndjson
from tests.conftest import run_journey
from tests.ground_truth import GRAINS, mart_mismatches, session_mismatches

DAYS, PER_DAY, SEED = 3, 120, 11
# One pseudonymisation key for every home of this module, so their marts compare equal.
HASH_KEY = secrets.token_hex(32)


@pytest.fixture(scope="module")
def sim():
    simulation = simulate(days=DAYS, sessions_per_day=PER_DAY, seed=SEED)
    assert len(simulation.events) > simulation.n_unique_events  # duplicates were delivered
    return simulation


def journey(home: Path, *args: str) -> str:
    return run_journey(home, HASH_KEY, *args)


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def settings_for(home: Path) -> Settings:
    return Settings.from_env({"JOURNEY_HOME": str(home), "JOURNEY_HASH_KEY": HASH_KEY})


def mart_snapshot(warehouse: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            table: con.sql(f"select * from marts.{table} order by all").fetchall()
            for table in GRAINS
        }


@pytest.fixture(scope="module")
def one_load(sim, tmp_path_factory):
    home = tmp_path_factory.mktemp("one_load")
    path = home / "events.ndjson"
    write_ndjson(sim.events, path)
    journey(home, "import", str(path))
    out = journey(home, "run")
    return home, path, out


@pytest.mark.parametrize("mart", GRAINS)
def test_mart_equals_ground_truth(sim, one_load, mart):
    home, _, out = one_load
    settings = settings_for(home)
    assert "succeeded" in out
    assert mart_mismatches(settings.warehouse, sim, settings, mart) == []


def test_raw_holds_each_event_once(sim, one_load):
    home, _, _ = one_load
    with duckdb.connect(str(settings_for(home).warehouse), read_only=True) as con:
        total, distinct = con.sql("select count(*), count(distinct event_id) from raw.events").fetchall()[0]
    assert total == distinct == sim.n_unique_events


def test_state_transitions_agree_with_sessions(one_load):
    """Stage visits and sessions come from different models; their shared facts must agree."""
    home, _, _ = one_load
    with duckdb.connect(str(settings_for(home).warehouse), read_only=True) as con:
        disagreements = con.sql("""
            select s.session_id
            from marts.fct_sessions s
            left join (
                select session_id,
                       max(case when state in ('resolved', 'expired') then state end) as terminal,
                       bool_or(state = 'pending_agent') as escalated,
                       max(visit_index) as visits, count(*) as n
                from marts.fct_state_transitions group by session_id
            ) t using (session_id)
            where coalesce(t.terminal, 'open') <> s.final_state
               or t.escalated <> s.escalated
               or t.visits <> t.n
        """).fetchall()
        flagged = con.sql("select count(*) from marts.fct_state_transitions "
                          "where not is_valid_transition").fetchall()[0][0]
    assert disagreements == []
    assert flagged > 0  # the simulator sends a few transitions outside the graph


def test_import_and_run_again_change_nothing(one_load):
    home, path, _ = one_load
    warehouse = settings_for(home).warehouse
    before = mart_snapshot(warehouse)
    journey(home, "import", str(path))
    journey(home, "run")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        raw_rows = con.sql("select count(*) from raw.events").fetchall()[0][0]
    assert raw_rows == len({e["event_id"] for e in _read(path)})
    assert mart_snapshot(warehouse) == before


def test_incremental_runs_over_three_batches_equal_a_full_build(sim, one_load, tmp_path):
    """Each run after the first is incremental; late events reopen conversations already built."""
    home = tmp_path / "batches"
    def at(e):
        return datetime.fromisoformat(e["occurred_at"])

    late = [e for k in (1, 2) for e in sim.batch(k) if at(e) < max(map(at, sim.batch(k - 1)))]
    assert late, "the simulation should deliver some events after later ones were loaded"
    for batch in range(3):
        path = home / f"batch-{batch}.ndjson"
        write_ndjson(sim.batch(batch), path)
        journey(home, "import", str(path))
        journey(home, "run")
    settings = settings_for(home)
    incremental = mart_snapshot(settings.warehouse)
    assert incremental == mart_snapshot(settings_for(one_load[0]).warehouse)
    journey(home, "run", "--full-refresh")
    assert mart_snapshot(settings.warehouse) == incremental
    assert session_mismatches(settings.warehouse, sim, settings) == []


def test_demo_sends_through_the_collector_and_matches_ground_truth(tmp_path):
    """`journey demo`: simulator → HTTP collector → spool → dlt → dbt, then the truth."""
    out = journey(tmp_path, "demo", "--days", "2", "--sessions-per-day", "80", "--seed", "5")
    assert "collector acknowledged" in out and "succeeded" in out
    sim = simulate(days=2, sessions_per_day=80, seed=5)
    settings = settings_for(tmp_path)
    assert session_mismatches(settings.warehouse, sim, settings) == []


def test_dbt_unit_tests_of_the_state_machine_pass(one_load, tmp_path):
    """dbt's own unit tests (invalid transition, cancelled expiry, transfer in human_active, …)."""
    # A copy: dbt needs the input relations' types, and its scratch tables stay out of the module's warehouse.
    warehouse = tmp_path / "unit.duckdb"
    shutil.copy(settings_for(one_load[0]).warehouse, warehouse)
    proc = subprocess.run(
        [DBT_EXECUTABLE, "test", "--select", "test_type:unit", "--project-dir", str(DBT_PROJECT_DIR),
         "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(tmp_path / "target")],
        env={**os.environ, "JOURNEY_WAREHOUSE": str(warehouse)},
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    passed = int(proc.stdout.rsplit("PASS=", 1)[1].split()[0])
    assert passed >= 8, proc.stdout[-1000:]
