"""Every Great Expectations suite as a blocking Dagster check on its mart, in one step.

One step for all suites: Great Expectations is imported and its context made
once a run, not once a mart (together, not per suite, the fixed cost of the
checks). Each suite still reports as its own check, `gx_<mart>`, and a subset
(one mart's check picked in the UI) validates only what was picked.

Blocking: in a run that also builds something downstream of a mart, that
asset waits for the mart's check and is skipped when the check fails. Only
within one run: a job that builds the report alone does not run these checks.
"""

# No `from __future__ import annotations`: Dagster reads the context annotation at definition.
from collections.abc import Iterable, Iterator
from pathlib import Path

import dagster as dg
import duckdb

from ingestion.settings import Settings
from orchestration.defs.checks.suites import SuiteFile, suite_files
from orchestration.defs.checks.validation import Validator
from orchestration.defs.policies import DUCKDB_POOL

CHECK_PREFIX = "gx_"


def check_name(suite: SuiteFile) -> str:
    return CHECK_PREFIX + suite.mart


def build_gx_checks(settings: Settings) -> dg.AssetChecksDefinition:
    suites = suite_files()

    @dg.multi_asset_check(
        name="gx_suites",
        specs=[dg.AssetCheckSpec(
            check_name(suite),
            asset=dg.AssetKey(["marts", suite.mart]),
            description=(f"Great Expectations suite expectations/{suite.path.name} "
                         f"({suite.declared_count} expectations) on marts.{suite.mart}."),
            blocking=True,
        ) for suite in suites],
        can_subset=True,
        pool=DUCKDB_POOL,
    )
    def gx_suites(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        selected = {key.name for key in context.selected_asset_check_keys}
        yield from run_suites(settings.warehouse, [s for s in suites if check_name(s) in selected])

    return gx_suites


def run_suites(warehouse: Path, suites: Iterable[SuiteFile]) -> Iterator[dg.AssetCheckResult]:
    """One result per suite, each on a read-only connection (inside the pool, so no
    writer holds the file) that hands GX only the columns its suite names."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        validator = Validator()
        for suite in suites:
            frame = read_mart(con, suite)
            verdict = validator.validate(frame, suite)
            failed = len(verdict.failures)
            yield dg.AssetCheckResult(
                asset_key=dg.AssetKey(["marts", suite.mart]),
                check_name=check_name(suite),
                passed=verdict.passed,
                severity=dg.AssetCheckSeverity.ERROR,
                description=(f"all {verdict.evaluated} expectations hold" if verdict.passed else
                             f"{failed} of {verdict.evaluated} expectations failed: see `failures`"),
                metadata={
                    "suite": f"expectations/{suite.path.name}",
                    "rows_validated": len(frame),
                    "columns_read": len(frame.columns),
                    "expectations_evaluated": verdict.evaluated,
                    "expectations_failed": failed,
                    "failures": dg.MetadataValue.md(
                        "\n".join(f"- {f}" for f in verdict.failures) or "none"),
                },
            )


def read_mart(con: duckdb.DuckDBPyConnection, suite: SuiteFile):
    """The mart's rows with only the columns the suite names (GX reads frames, not
    DuckDB): a wide mart costs what its checks need, plus the suite's derived columns.
    A named column the mart lacks is left out for GX to report as missing; with none
    named, the first column keeps the row count."""
    present = [r[0] for r in con.execute(
        "select column_name from duckdb_columns() where database_name = current_database() "
        "and schema_name = 'marts' and table_name = ? order by column_index", [suite.mart]).fetchall()]
    if not present:
        raise ValueError(f"marts.{suite.mart} is not in the warehouse: has the dbt build created it?")
    columns = [f'"{c}"' for c in present if c in suite.columns] or [f'"{present[0]}"']
    columns += [f'({expression}) as "{name}"' for name, expression in suite.derived_columns.items()]
    return con.sql(f'select {", ".join(columns)} from marts."{suite.mart}"').df()
