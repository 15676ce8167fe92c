"""One way to produce the report, for `journey report` and the daily job alike:
render it from the serving snapshot, then mail it when asked and configured."""

from __future__ import annotations

from pathlib import Path

from ingestion.settings import Settings, SmtpSettings
from orchestration.defs.report.deliver import send_report
from orchestration.defs.report.quality import Measures
from orchestration.defs.report.render import ReportFiles, render_report


class NoSnapshot(FileNotFoundError):
    """The report reads the serving snapshot; before the first publication there is none."""


def make_report(settings: Settings, out_root: Path | None = None, send: bool = False,
                smtp: SmtpSettings | None = None) -> tuple[ReportFiles, bool]:
    """Returns the files and whether a relay accepted the mail (False when not sent);
    the relay is `smtp`, else the settings' own."""
    if not settings.serving_db.exists():
        raise NoSnapshot(f"no serving snapshot at {settings.serving_db} yet: `journey run` publishes one "
                         "once the marts are built and their checks pass")
    files = render_report(settings.serving_db, out_root or settings.reports_dir,
                          reporting_timezone=settings.reporting_timezone, measures=report_measures(settings))
    delivered = send_report(files, smtp or settings.smtp) if send else False
    return files, delivered


def report_measures(settings: Settings) -> Measures:
    """The §6.2 settings the marts were built with; the headline's service level uses the first threshold."""
    return Measures(service_level_threshold_s=settings.service_level_thresholds_s[0],
                    recontact_window_days=settings.recontact_window_days, short_abandon_s=settings.short_abandon_s)
