"""One blocking Great Expectations check per mart, all made by one factory.

Blocking: in a run that also builds something downstream of a mart, that
asset waits for the mart's check and is skipped when the check fails. Only
within one run: a job that builds the report alone does not run these checks.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb

from ingestion.settings import Settings
from orchestration.defs.checks.suites import SuiteFile, suite_files
from orchestration.defs.checks.validation import validate
from orchestration.defs.policies import DUCKDB_POOL


def build_gx_checks(settings: Settings) -> list[dg.AssetChecksDefinition]:
    return [_gx_check(suite, settings.warehouse) for suite in suite_files()]


def _gx_check(suite: SuiteFile, warehouse: Path) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(["marts", suite.mart]),
        name=f"gx_{suite.mart}",
        description=(f"Great Expectations suite expectations/{suite.path.name} "
                     f"({suite.declared_count} expectations) on marts.{suite.mart}."),
        blocking=True,
        pool=DUCKDB_POOL,
    )
    def gx_check() -> dg.AssetCheckResult:
        # GX cannot read DuckDB through SQLAlchemy; a read-only connection
        # (inside the pool, so no writer holds the file) hands it a frame.
        with duckdb.connect(str(warehouse), read_only=True) as con:
            frame = con.sql(f'select * from marts."{suite.mart}"').df()
        verdict = validate(frame, suite)
        failed = len(verdict.failures)
        return dg.AssetCheckResult(
            passed=verdict.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            description=(f"all {verdict.evaluated} expectations hold" if verdict.passed else
                         f"{failed} of {verdict.evaluated} expectations failed: see `failures`"),
            metadata={
                "suite": f"expectations/{suite.path.name}",
                "rows_validated": len(frame),
                "expectations_evaluated": verdict.evaluated,
                "expectations_failed": failed,
                "failures": dg.MetadataValue.md(
                    "\n".join(f"- {f}" for f in verdict.failures) or "none"),
            },
        )

    return gx_check
