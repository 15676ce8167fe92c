"""The spool sensor holds back while a run of its job waits to start: under steady
traffic a new segment seals every few seconds, and without this every tick would
queue another run behind the one loading."""

from __future__ import annotations

import dagster as dg
import pytest
from dagster._core.remote_origin import RegisteredCodeLocationOrigin, RemoteRepositoryOrigin
from dagster._core.test_utils import create_run_for_test

from ingestion.importer import import_files
from orchestration.defs.dlt.sensors import NOT_YET_LOADING, build_spool_sensor
from tests.conftest import event, write_lines

JOB = "load_and_transform"


def seal_a_segment(settings, tmp_path) -> None:
    """One sealed segment in the spool, as `journey import` leaves it."""
    line = event("e1", "message.received", "2026-11-02T09:00:00Z", message_id="m1")
    import_files([write_lines(tmp_path / "events.ndjson", [line])], settings)


def tick(settings, instance: dg.DagsterInstance) -> dg.SensorExecutionData:
    sensor = build_spool_sensor(settings, JOB)
    return sensor.evaluate_tick(dg.build_sensor_context(instance=instance))


def add_run(instance: dg.DagsterInstance, job: str, status: dg.DagsterRunStatus) -> dg.DagsterRun:
    """A run record as the daemon stores it; a queued run must name the code location
    it will be launched from (the workspace's module)."""
    location = RegisteredCodeLocationOrigin("orchestration.definitions")
    origin = RemoteRepositoryOrigin(location, "__repository__").get_job_origin(job)
    return create_run_for_test(instance, job_name=job, status=status, remote_job_origin=origin)


@pytest.mark.parametrize("status", NOT_YET_LOADING, ids=lambda s: s.value)
def test_a_run_waiting_to_start_will_load_what_waits(settings, tmp_path, status):
    seal_a_segment(settings, tmp_path)
    with dg.instance_for_test() as instance:
        assert len(tick(settings, instance).run_requests) == 1
        run = add_run(instance, JOB, status)
        skipped = tick(settings, instance)
    assert skipped.run_requests == []
    assert f"run {run.run_id[:8]} of {JOB} is {status.value.lower()} and will load the 1 batch(es)" \
        in skipped.skip_message


def test_one_run_loading_and_other_jobs_waiting_do_not_hold_back(settings, tmp_path):
    seal_a_segment(settings, tmp_path)
    with dg.instance_for_test() as instance:
        add_run(instance, JOB, dg.DagsterRunStatus.STARTED)
        add_run(instance, "ttl_worker", dg.DagsterRunStatus.QUEUED)
        [request] = tick(settings, instance).run_requests
    assert request.tags["journey/waiting"] == "1"
