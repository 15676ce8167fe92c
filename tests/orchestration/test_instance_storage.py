"""The run event log `journey` configures (orchestration/instance_storage.py): the same
SQLite files Dagster's own storage reads, written through long-lived connections."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import dagster as dg
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log import SqliteEventLogStorage

from ingestion.settings import Settings
from orchestration.instance_storage import JourneyEventLogStorage, instance_yaml
from orchestration.runner import DAGSTER_YAML, ensure_dagster_home


def _log(storage: SqliteEventLogStorage, run_id: str, message: str) -> None:
    storage.store_event(EventLogEntry(error_info=None, level=logging.INFO, user_message=message, run_id=run_id,
                                      timestamp=time.time(), step_key=None, job_name=None, dagster_event=None))


def _open_db_files(folder: Path) -> set[str]:
    links = (os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
             if os.path.islink(f"/proc/self/fd/{fd}"))
    return {link for link in links if link.startswith(str(folder)) and link.endswith(".db")}


@dg.asset
def counted() -> int:
    return 1


@dg.asset_check(asset=counted)
def counted_is_positive() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


def test_a_run_recorded_through_journey_storage_reads_back_through_dagsters_own(tmp_path, monkeypatch):
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text(instance_yaml(DAGSTER_YAML, home))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, JourneyEventLogStorage)
        result = dg.materialize([counted, counted_is_positive], instance=instance)
    assert result.success

    stock = SqliteEventLogStorage(str(home / "storage"))
    kinds = [entry.dagster_event.event_type for entry in stock.get_logs_for_run(result.run_id)
             if entry.dagster_event is not None]
    assert dg.DagsterEventType.ASSET_MATERIALIZATION in kinds
    assert dg.DagsterEventType.ASSET_CHECK_EVALUATION in kinds
    assert kinds[-1] == dg.DagsterEventType.RUN_SUCCESS
    # the cross-run index, which the UI's asset pages read
    latest = stock.get_latest_materialization_events([dg.AssetKey("counted")])[dg.AssetKey("counted")]
    assert latest is not None and latest.run_id == result.run_id


def test_a_write_wakes_the_watch_on_the_run_file_and_a_read_does_not(tmp_path):
    storage = JourneyEventLogStorage(str(tmp_path))
    _log(storage, "run-a", "first")
    run_file = Path(storage.path_for_shard("run-a"))
    os.utime(run_file, ns=(0, 0))
    assert [entry.user_message for entry in storage.get_logs_for_run("run-a")] == ["first"]
    assert run_file.stat().st_mtime_ns == 0  # the watcher reads on every change: a read must not be one
    _log(storage, "run-a", "second")
    assert run_file.stat().st_mtime_ns > 0
    # the write reached the file's readers, while this storage keeps its connection open
    assert [e.user_message for e in SqliteEventLogStorage(str(tmp_path)).get_logs_for_run("run-a")] == [
        "first", "second"]


def test_open_files_stay_bounded_and_a_wipe_starts_new_files(tmp_path):
    storage = JourneyEventLogStorage(str(tmp_path))
    for n in range(10):
        _log(storage, f"run-{n}", "hello")
    assert len(_open_db_files(tmp_path)) <= JourneyEventLogStorage.ENGINES
    storage.wipe()
    assert not Path(storage.path_for_shard("run-9")).exists()
    _log(storage, "run-9", "after the wipe")
    assert [e.user_message for e in SqliteEventLogStorage(str(tmp_path)).get_logs_for_run("run-9")] == [
        "after the wipe"]
    storage.dispose()
    assert not _open_db_files(tmp_path)


def test_an_instance_written_before_keeps_its_settings_and_gains_the_storage(tmp_path, settings, monkeypatch):
    home = tmp_path / "existing"
    home.mkdir()
    (home / "dagster.yaml").write_text("# the operator's own settings\nconcurrency:\n  pools:\n    default_limit: 3\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    settings = Settings.from_env()
    assert settings.dagster_home == home
    ensure_dagster_home(settings)
    text = (home / "dagster.yaml").read_text()
    assert text.startswith("# the operator's own settings\nconcurrency:\n  pools:\n    default_limit: 3\n")
    assert "class: JourneyEventLogStorage" in text
    ensure_dagster_home(settings)
    assert (home / "dagster.yaml").read_text() == text  # written once
