"""Start a load as soon as data waits in the spool's sink, instead of at the next hour."""

from __future__ import annotations

import dagster as dg

from ingestion.settings import Settings
from ingestion.sinks import waiting


def build_spool_sensor(settings: Settings, job: dg.JobDefinition | str) -> dg.SensorDefinition:
    @dg.sensor(
        name="spool_segments_waiting",
        job_name=job if isinstance(job, str) else job.name,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Requests a load-and-transform run when sealed spool segments (or JetStream "
                    "messages, with JOURNEY_SINK=nats) wait for the loader.",
    )
    def spool_segments_waiting(context: dg.SensorEvaluationContext):
        # Read at every tick: the sink is the deployment's (JOURNEY_SINK), and an
        # unreachable broker fails the tick visibly instead of skipping quietly.
        now = waiting(settings)
        if not now.batches:
            return dg.SkipReason(f"nothing waits in {now.where}")
        # One run per distinct key: a tick while that run is queued or loading asks for nothing new.
        return dg.RunRequest(run_key=now.key, tags={"journey/waiting": str(now.batches)})

    return spool_segments_waiting
