"""The report as a Dagster asset downstream of the serving snapshot, with its
own daily job: the hourly load-and-transform job leaves it out, so stakeholders
get one mail a day, not one an hour.

The report reads only the snapshot, whose checks passed before it was
published, so its job re-runs no checks and takes no warehouse pool slot.
"""

import dagster as dg

from ingestion.settings import Settings
from orchestration.defs.policies import OWNERS
from orchestration.defs.serving.assets import SNAPSHOT_KEY

REPORT_KEY = dg.AssetKey(["reports", "stakeholder_report"])
REPORT_JOB = "stakeholder_report_job"


def build_report_assets(settings: Settings) -> dg.AssetsDefinition:
    @dg.asset(
        key=REPORT_KEY,
        deps=[SNAPSHOT_KEY],
        group_name="reports",
        kinds={"html", "email"},
        owners=OWNERS,
        description="Daily stakeholder report from the serving snapshot: headline numbers (service level, "
                    "abandon rate, first-contact resolution and durable containment among them) against the "
                    "previous period, CSAT, channels, volume trend, demand heatmap, self-service funnels, agent "
                    "reply times, queue waits and service level per team as an HTML page with PNG charts and CSV "
                    "extracts in a dated folder, mailed when JOURNEY_SMTP_HOST is set. Local times and the "
                    "headline's threshold follow the settings.",
    )
    def stakeholder_report(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        # Imported here: matplotlib and pandas cost every `journey run` seconds otherwise.
        from orchestration.defs.report.make import make_report

        smtp = settings.smtp
        files, delivered = make_report(settings, send=True, smtp=smtp)
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


stakeholder_report_job = dg.define_asset_job(
    REPORT_JOB,
    selection=dg.AssetSelection.assets(REPORT_KEY),
    description="Render the report from the serving snapshot and mail it.",
)

daily_stakeholder_report = dg.ScheduleDefinition(
    name="daily_stakeholder_report",
    job=stakeholder_report_job,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    description="Every day at 06:00 UTC, after the night's hourly loads: render and mail the report.",
)
