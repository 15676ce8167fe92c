"""The report as a Dagster asset downstream of the marts it reads, with its
own daily job: the hourly load-and-transform job leaves it out, so stakeholders
get one mail a day, not one an hour.
"""

import dagster as dg

from ingestion.settings import Settings
from orchestration.defs.policies import DUCKDB_POOL, OWNERS
from orchestration.defs.report.deliver import SmtpSettings, send_report
from orchestration.defs.report.marts import EXTRACTS
from orchestration.defs.report.render import render_report

REPORT_KEY = dg.AssetKey(["reports", "stakeholder_report"])
REPORT_JOB = "stakeholder_report_job"
REPORT_DEPS = [dg.AssetKey(["marts", name]) for name in ("fct_sessions", *EXTRACTS)] + [
    dg.AssetKey(["intermediate", "int_agent_responses__paired"])
]


def build_report_assets(settings: Settings) -> dg.AssetsDefinition:
    @dg.asset(
        key=REPORT_KEY,
        deps=REPORT_DEPS,
        group_name="reports",
        kinds={"html", "email"},
        owners=OWNERS,
        # Reads only, but a read-only open still waits for the writer's lock: queue with the writers.
        pool=DUCKDB_POOL,
        description="Daily stakeholder report: headline numbers, demand heatmap, self-service funnels, "
                    "agent reply times and queue waits as an HTML page with PNG charts and CSV extracts "
                    "in a dated folder, mailed when JOURNEY_SMTP_HOST is set.",
    )
    def stakeholder_report(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        smtp = SmtpSettings.from_env()
        files = render_report(settings.warehouse, settings.reports_dir)
        delivered = send_report(files, smtp)
        if not delivered:
            context.log.info("Email delivery skipped: JOURNEY_SMTP_HOST is not set.")
        return dg.MaterializeResult(metadata={
            "path": dg.MetadataValue.path(str(files.html)),
            "recipients": ", ".join(smtp.recipients) if delivered else "",
            "delivered": delivered,
            "images": len(files.images),
            "csv_extracts": len(files.csvs),
            "sessions": files.headline.sessions,
        })

    return stakeholder_report


# The marts' blocking GX checks run first, so a broken mart stops the report
# instead of mailing wrong numbers to stakeholders.
MART_CHECKS = [dg.AssetCheckKey(key, f"gx_{key.path[-1]}") for key in REPORT_DEPS if key.path[0] == "marts"]

stakeholder_report_job = dg.define_asset_job(
    REPORT_JOB,
    selection=dg.AssetSelection.assets(REPORT_KEY) | dg.AssetSelection.checks(*MART_CHECKS),
    description="Check the marts the report reads (their GX suites), render the report, and mail it.",
)

daily_stakeholder_report = dg.ScheduleDefinition(
    name="daily_stakeholder_report",
    job=stakeholder_report_job,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    description="Every day at 06:00 UTC, after the night's hourly loads: render and mail the report.",
)
