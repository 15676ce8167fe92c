"""The scheduled stakeholder report: marts → HTML, PNG and CSV files → email."""

from orchestration.defs.report.assets import (
    REPORT_JOB,
    REPORT_KEY,
    build_report_assets,
    daily_stakeholder_report,
    stakeholder_report_job,
)

__all__ = ["REPORT_JOB", "REPORT_KEY", "build_report_assets", "daily_stakeholder_report",
           "stakeholder_report_job"]
