"""Faults on the warehouse side: the loader killed mid-load and a Dagster run
killed mid-dbt. After a rerun, every event is in raw once and the marts equal
the simulator's ground truth (docs/contract.md §9.1, §9.2: nothing lost, nothing counted twice).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time

import duckdb
import psutil
import pytest

from ingestion.settings import Settings
from ingestion.simulator import simulate, write_ndjson
from tests.conftest import run_journey
from tests.support.dagster_server import dagster_env
from tests.truth.compare import mart_mismatches

HASH_KEY = secrets.token_hex(32)


@pytest.fixture(scope="module")
def sim():
    return simulate(days=3, sessions_per_day=150, seed=31)


@pytest.fixture
def imported(sim, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    path = home / "events.ndjson"
    write_ndjson(sim.events, path)
    run_journey(home, HASH_KEY, "import", str(path))
    return home, Settings.from_env({"JOURNEY_HOME": str(home), "JOURNEY_HASH_KEY": HASH_KEY})


def _env(home) -> dict[str, str]:
    return {**dagster_env(home), "JOURNEY_HASH_KEY": HASH_KEY}


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # the whole group had already exited (the caller skips when the kill hit nothing)
    proc.wait(timeout=30)


def _assert_exact(sim, settings: Settings) -> None:
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        total, distinct = con.sql("select count(*), count(distinct event_id) from raw.events").fetchall()[0]
    assert total == distinct == sim.n_unique_events
    for mart in ("fct_sessions", "fct_state_transitions", "mart_agent_performance", "dim_users"):
        assert mart_mismatches(settings.warehouse, sim, settings, mart) == [], mart


@pytest.mark.parametrize("delay_s", [0.3, 1.0, 2.5])
def test_loader_killed_mid_load_then_rerun_loads_each_event_once(sim, imported, delay_s):
    home, settings = imported
    loader = subprocess.Popen([sys.executable, "-c", "from ingestion.loader import load_spool; load_spool()"],
                              env=_env(home), start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay_s)
    finished_first = loader.poll() is not None
    _kill_group(loader)
    run_journey(home, HASH_KEY, "run")
    _assert_exact(sim, settings)
    if finished_first:
        pytest.skip(f"the loader finished within {delay_s} s; the kill hit nothing")


def test_dagster_run_killed_mid_dbt_then_rerun_builds_exact_marts(sim, imported):
    home, settings = imported
    run = subprocess.Popen([sys.executable, "-m", "orchestration.cli", "run"], env=_env(home),
                           start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    dbt_building = False
    while time.monotonic() < deadline and run.poll() is None and not dbt_building:
        children = psutil.Process(run.pid).children(recursive=True)
        dbt_building = any("build" in c.cmdline() and any("dbt" in part for part in c.cmdline()[:2])
                           for c in children if c.is_running())
        time.sleep(0.2)
    assert dbt_building, "the run never reached dbt"
    time.sleep(3)  # well into the dbt build: models half written
    assert run.poll() is None, "the run finished before it could be killed"
    _kill_group(run)
    run_journey(home, HASH_KEY, "run")
    _assert_exact(sim, settings)
