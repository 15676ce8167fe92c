"""Start a load as soon as sealed spool segments wait, instead of at the next hour."""

from __future__ import annotations

import hashlib

import dagster as dg

from ingestion.settings import Settings
from ingestion.spool import SpoolReader


def build_spool_sensor(settings: Settings, job: dg.JobDefinition | str) -> dg.SensorDefinition:
    @dg.sensor(
        name="spool_segments_waiting",
        job_name=job if isinstance(job, str) else job.name,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Requests a load-and-transform run when sealed spool segments are waiting.",
    )
    def spool_segments_waiting(context: dg.SensorEvaluationContext):
        segments = SpoolReader(settings.spool_dir).pending() if settings.spool_dir.exists() else []
        if not segments:
            return dg.SkipReason(f"no sealed segments in {settings.spool_dir / 'ready'}")
        # One run per distinct set of waiting segments: a sensor tick while that
        # run is queued or loading asks for nothing new.
        names = "\n".join(s.name for s in segments)
        return dg.RunRequest(run_key=hashlib.sha256(names.encode()).hexdigest()[:16],
                             tags={"journey/segments": str(len(segments))})

    return spool_segments_waiting
