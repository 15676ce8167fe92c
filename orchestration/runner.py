"""Runs the load-and-transform job in process, on a persistent Dagster instance.

`journey run` and `journey demo` execute the very job the schedules target,
so a CLI run and a UI run are the same thing and both show up in the UI when
`dagster dev` shares the instance (DAGSTER_HOME, default `$JOURNEY_HOME/dagster`).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import psutil
from dagster_shared.error import SerializableErrorInfo

from ingestion.settings import Settings
from orchestration.instance_storage import instance_yaml
from orchestration.warehouse_lock import lock_conflict_hint

# The repository's instance settings (the DuckDB pool limit), copied into DAGSTER_HOME.
DAGSTER_YAML = (Path(__file__).resolve().parents[1] / "dagster.yaml").read_text()


def ensure_dagster_home(settings: Settings) -> Path:
    """The settings' Dagster instance, made ready and exported as DAGSTER_HOME: Dagster
    and the processes it starts find their instance there."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    text = config.read_text() if config.exists() else DAGSTER_YAML
    if "event_log_storage:" not in text:  # new, or written before the storage was chosen
        config.write_text(instance_yaml(text, home))
    os.environ["DAGSTER_HOME"] = str(home)
    return home


@dataclass
class RunSummary:
    success: bool
    run_id: str
    seconds: float
    materialized: list[str] = field(default_factory=list)
    checks_passed: int = 0
    checks_failed: list[str] = field(default_factory=list)
    failure: str | None = None
    metadata: dict[str, dict] = field(default_factory=dict)


def failure_message(step: str | None, error: SerializableErrorInfo | None, settings: Settings) -> str:
    """What failed and why, without the stack: the root cause's message (the
    wrappers around it only repeat it), plus a hint for the failures operators
    meet most. The full trace stays in the Dagster UI."""
    root = error
    while root is not None and root.cause is not None:
        root = root.cause
    reason = root.message.strip() if root is not None else "unknown error"
    text = f"step {step or '?'} failed: {reason}"
    hint = lock_conflict_hint(reason, settings.warehouse, settings.serving_db)
    return f"{text}\n  {hint}" if hint else text


# In-process runs carry their process, so a later `journey run` can tell a run
# that is still going from one whose process was killed.
PID_TAG, HOST_TAG = "journey/pid", "journey/host"


def reap_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Fail the runs of this host whose `journey` process is gone, and free
    their DuckDB pool slot. A killed in-process run stays STARTED and keeps
    the pool's one slot forever (no daemon watches it), so without this every
    later run would wait for it."""
    reaped = []
    runs = instance.get_runs(filters=dg.RunsFilter(
        statuses=[dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED],
        tags={HOST_TAG: socket.gethostname()}))
    for run in runs:
        pid = int(run.tags.get(PID_TAG, "0"))
        if pid and not psutil.pid_exists(pid):
            instance.report_run_failed(run, message=f"its process {pid} ended without finishing it (killed?)")
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            reaped.append(f"run {run.run_id[:8]}: process {pid} is gone; marked failed, pool slot freed")
    return reaped


def run_load_and_transform(settings: Settings, full_refresh: bool = False,
                           progress: Callable[[str], None] | None = None,
                           dbt_executable: str | None = None) -> RunSummary:
    """Runs the job; `progress` hears of reaped runs. Stage lines come from
    `orchestration.progress.StageProgress`, attached by the caller. `dbt_executable`
    (default: the installed dbt) runs the dbt step."""
    ensure_dagster_home(settings)
    from orchestration.defs.build import LOAD_AND_TRANSFORM, build_definitions

    defs = build_definitions(settings, dbt_executable)
    job = defs.resolve_job_def(LOAD_AND_TRANSFORM)
    started = time.monotonic()
    with dg.DagsterInstance.get() as instance:
        for message in reap_dead_runs(instance):
            if progress:
                progress(message)
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            tags={PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()},
            run_config={
                "ops": {"journey_dbt": {"config": {"full_refresh": full_refresh}}},
                "loggers": {"console": {"config": {"log_level": "INFO"}}, "journey_progress": {}},
            },
        )
        summary = RunSummary(success=result.success, run_id=result.run_id,
                             seconds=time.monotonic() - started)
        for event in result.all_events:
            if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
                mat = event.event_specific_data.materialization
                key = mat.asset_key.to_user_string()
                summary.materialized.append(key)
                summary.metadata[key] = {k: v.value for k, v in mat.metadata.items()}
            elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
                evaluation = event.event_specific_data
                if evaluation.passed:
                    summary.checks_passed += 1
                else:
                    # GX checks say which rule broke; dbt tests name themselves.
                    failures = evaluation.metadata.get("failures")
                    summary.checks_failed.append(
                        evaluation.check_name + (f": {failures.value}" if failures is not None else ""))
            elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
                summary.failure = failure_message(event.step_key, event.event_specific_data.error, settings)
    return summary
