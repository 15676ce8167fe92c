"""Assembles the Definitions for given settings.

Kept apart from `orchestration/definitions.py`, which builds them from the
environment at import, so `journey run` builds them once, not twice.
"""

from __future__ import annotations

import dagster as dg

from ingestion.settings import Settings
from orchestration.defs.checks.assets import build_gx_checks
from orchestration.defs.dbt.assets import build_dbt_assets
from orchestration.defs.dbt.project import dbt_cli
from orchestration.defs.dlt.assets import build_spool_assets
from orchestration.defs.dlt.sensors import build_spool_sensor
from orchestration.defs.ttl.assets import EXPIRY_EVENTS, build_ttl_assets
from orchestration.defs.report.assets import build_report_assets, daily_stakeholder_report, stakeholder_report_job
from orchestration.defs.serving.assets import build_serving_assets
from orchestration.instance_storage import relax_sqlite_sync
from orchestration.progress import journey_progress

LOAD_AND_TRANSFORM = "load_and_transform"
TTL_WORKER = "ttl_worker"


def build_definitions(settings: Settings, dbt_executable: str | None = None) -> dg.Definitions:
    settings.home.mkdir(parents=True, exist_ok=True)
    # Every process that runs this project's steps builds these first: the CLI, the code
    # server, each run worker the daemon launches.
    relax_sqlite_sync()
    load_and_transform = dg.define_asset_job(
        LOAD_AND_TRANSFORM,
        # The TTL worker and the report have their own jobs and cadence.
        selection=dg.AssetSelection.all() - dg.AssetSelection.groups("ttl", "reports"),
        description="Load sealed spool segments, build every dbt model and run its checks, then publish "
                    "the serving snapshot.",
        # Every step is in the DuckDB pool (limit 1), so steps never overlap: a process per
        # step (~30 s of start-up each, ×12 with the GX checks) would buy nothing. In process,
        # UI and scheduled runs execute as `journey run` does; pools still apply across runs.
        executor_def=dg.in_process_executor,
    )
    ttl_worker = dg.define_asset_job(
        TTL_WORKER,
        selection=dg.AssetSelection.assets(EXPIRY_EVENTS),
        description="Append conversation.expired events for sessions idle past the TTL.",
    )
    return dg.Definitions(
        assets=[build_spool_assets(settings), build_dbt_assets(settings), build_serving_assets(settings),
                build_ttl_assets(settings), build_report_assets(settings)],
        asset_checks=[build_gx_checks(settings)],
        jobs=[load_and_transform, ttl_worker, stakeholder_report_job],
        sensors=[build_spool_sensor(settings, load_and_transform)],
        schedules=[
            dg.ScheduleDefinition(
                name="hourly_load_and_transform",
                job=load_and_transform,
                cron_schedule="0 * * * *",
                description="Fallback: load and transform every hour even if no sensor fired.",
            ),
            dg.ScheduleDefinition(
                name="ttl_worker_every_15_minutes",
                job=ttl_worker,
                cron_schedule="*/15 * * * *",
                description="Close sessions idle past the TTL; the spool sensor then loads the expiries.",
            ),
            daily_stakeholder_report,
        ],
        resources={
            # dbt's profile reads the same absolute warehouse path and memory bound
            # as dlt, the checks and the publication: the resource hands them to dbt.
            "dbt": dbt_cli(settings.dbt_env(), settings.dbt_target, dbt_executable),
        },
        # `journey run` turns the run's events into one line per stage (orchestration/progress.py).
        loggers={"console": dg.colored_console_logger, "journey_progress": journey_progress},
    )

