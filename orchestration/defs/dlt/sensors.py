"""Start a load as soon as data waits in the spool's sink, instead of at the next hour."""

from __future__ import annotations

import dagster as dg

from ingestion.settings import Settings
from ingestion.sinks import waiting

# A run in these states has not loaded yet: whatever waits now, it will load.
NOT_YET_LOADING = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING]


def build_spool_sensor(settings: Settings, job: dg.JobDefinition | str) -> dg.SensorDefinition:
    job_name = job if isinstance(job, str) else job.name

    @dg.sensor(
        name="spool_segments_waiting",
        job_name=job_name,
        # A tick only lists the spool's ready/ folder (or asks the broker for a count) and
        # the instance for a waiting run, so ticking often is cheap; data then waits for
        # the next tick at most 5 s instead of 30.
        minimum_interval_seconds=5,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Requests a load-and-transform run when sealed spool segments (or JetStream "
                    "messages, with JOURNEY_SINK=nats) wait for the loader and no run of the job "
                    "is still waiting to start.",
    )
    def spool_segments_waiting(context: dg.SensorEvaluationContext):
        # Read at every tick: the sink is the deployment's (JOURNEY_SINK), and an
        # unreachable broker fails the tick visibly instead of skipping quietly.
        now = waiting(settings)
        if not now.batches:
            return dg.SkipReason(f"nothing waits in {now.where}")
        # New segments seal every few seconds under steady traffic, so each tick would
        # have a new key: without this, runs would pile up behind the one loading. At
        # most one run loads and one waits; the waiting one loads everything sealed by then.
        queued = context.instance.get_runs(
            filters=dg.RunsFilter(job_name=job_name, statuses=NOT_YET_LOADING), limit=1)
        if queued:
            run = queued[0]
            return dg.SkipReason(f"run {run.run_id[:8]} of {job_name} is {run.status.value.lower()} "
                                 f"and will load the {now.batches} batch(es) waiting in {now.where}")
        # One run per distinct key: a tick that sees the same batches asks for nothing new.
        return dg.RunRequest(run_key=now.key, tags={"journey/waiting": str(now.batches)})

    return spool_segments_waiting
