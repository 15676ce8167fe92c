"""Faults on the warehouse side: the loader killed inside the dlt load and a Dagster run
killed while dbt builds a model. Each kill lands on evidence, not on a timer
(`tests.support.kill`), and the test prints and asserts what was in progress. After a
rerun, every event is in raw once and every mart equals the simulator's ground truth
(docs/contract.md §9.1, §9.2: nothing lost, nothing counted twice).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from ingestion.loader import PIPELINE_NAME
from ingestion.settings import Settings
from ingestion.simulator import simulate, write_ndjson
from tests.conftest import run_journey
from tests.support.dagster_server import dagster_env
from tests.support.kill import kill_when
from tests.truth.compare import GRAINS, all_mart_mismatches

HASH_KEY = secrets.token_hex(32)
MIN_MODELS_BUILT = 10  # a kill well into the build, not at its first model


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


def _start(home: Path, *argv: str) -> subprocess.Popen:
    """`python argv` on `home` in its own process group, its output in `home`/killed.out."""
    with open(home / "killed.out", "wb") as out:
        return subprocess.Popen([sys.executable, *argv], env={**dagster_env(home), "JOURNEY_HASH_KEY": HASH_KEY},
                                start_new_session=True, stdout=out, stderr=subprocess.STDOUT)


def _listing(folder: Path) -> list[str]:
    """The names in a folder another process may be renaming or deleting (none then)."""
    try:
        return sorted(os.listdir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []


def _assert_exact(sim, settings: Settings) -> None:
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        total, distinct = con.sql("select count(*), count(distinct event_id) from raw.events").fetchall()[0]
    assert total == distinct == sim.n_unique_events
    assert all_mart_mismatches(settings.warehouse, sim, settings) == dict.fromkeys(GRAINS, [])


def _load_job_started(settings: Settings, job: str):
    """Evidence of a dlt load in progress: a package normalized but not yet loaded whose
    `job` (`parquet`: the copy into raw's staging table; `sql`: the merge into raw.events)
    has started and not completed."""
    normalized = settings.home / ".dlt" / PIPELINE_NAME / "load" / "normalized"

    def evidence() -> str | None:
        for package in _listing(normalized):
            started = [name for name in _listing(normalized / package / "started_jobs")
                       if name.startswith("events.") and name.endswith(f".{job}")]
            if started:
                return f"dlt load package {package}: job {started[0]} started, not completed"
        return None

    return evidence


@pytest.mark.parametrize("job", ["parquet", "sql"])
def test_loader_killed_mid_load_then_rerun_loads_each_event_once(sim, imported, job):
    home, settings = imported
    loader = _start(home, "-c", "from ingestion.loader import load_spool; load_spool()")
    seen = kill_when(loader, _load_job_started(settings, job), f"a dlt load job (.{job}) of raw.events",
                     output=home / "killed.out")
    pending = _listing(settings.home / ".dlt" / PIPELINE_NAME / "load" / "normalized")
    ready, loaded = _listing(settings.spool_dir / "ready"), _listing(settings.spool_dir / "loaded")
    print(f"loader killed during the dlt load: {seen}; after the kill, pending dlt packages {pending}, "
          f"spool segments still in ready/ {ready}, loaded {loaded}")
    assert pending and ready, "the kill left no load in progress"
    run_journey(home, HASH_KEY, "run")
    _assert_exact(sim, settings)


class DbtLog:
    """dbt's own log of the run (JSON lines, `dbt.log` in the target folder), read as it grows:
    which models started and which finished."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0
        self.started: dict[str, str] = {}  # model -> when dbt started it
        self.finished: set[str] = set()

    def read(self) -> None:
        if not self.path.exists():
            return
        with open(self.path, "rb") as log:
            log.seek(self.offset)
            lines = log.read().split(b"\n")
        self.offset += sum(len(line) + 1 for line in lines[:-1])  # a half-written last line waits
        for line in lines[:-1]:
            data = json.loads(line).get("data", {})
            node = data.get("node_info", {})
            if node.get("resource_type") != "model":
                continue
            if node.get("node_status") == "started":
                self.started[node["unique_id"]] = node["node_started_at"]
            elif node.get("node_finished_at"):
                self.finished.add(node["unique_id"])

    def model_in_progress(self) -> str | None:
        self.read()
        running = sorted(set(self.started) - self.finished)
        if running and len(self.finished) >= MIN_MODELS_BUILT:
            return (f"{len(self.finished)} models built; {running[0]} started at {self.started[running[0]]} "
                    f"with no result in dbt.log")
        return None


def test_dagster_run_killed_mid_dbt_then_rerun_builds_exact_marts(sim, imported):
    home, settings = imported
    log = DbtLog(settings.dbt_target_dir / "dbt.log")
    run = _start(home, "-m", "orchestration.cli", "run")
    seen = kill_when(run, log.model_in_progress, "a dbt model", poll_s=0.02, output=home / "killed.out")
    log.read()  # the whole log the killed run wrote: the model never finished
    half_done = sorted(set(log.started) - log.finished)
    print(f"dagster run killed while dbt built a model: {seen}; models started and never finished: {half_done}")
    assert half_done, "the kill left no model half done"
    run_journey(home, HASH_KEY, "run")
    _assert_exact(sim, settings)
