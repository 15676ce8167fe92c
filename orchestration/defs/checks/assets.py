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
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import dagster as dg
import duckdb

from ingestion.settings import Settings
from orchestration.defs.checks.suites import SuiteFile, suite_files
from orchestration.defs.checks.validated import ValidatedThrough, state_path
from orchestration.defs.checks.validation import Validator
from orchestration.defs.dbt.stamps import STAMP
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
        validated = ValidatedThrough(state_path(settings.home))

        def since(mart: str) -> int | None:
            """The stamp above which rows are new, when this run built the mart; else None (read all)."""
            stamp = validated.get(mart)
            if stamp is None:
                return None
            built = context.instance.get_latest_materialization_event(dg.AssetKey(["marts", mart]))
            return stamp if built is not None and built.run_id == context.run.run_id else None

        yield from run_suites(settings.warehouse, [s for s in suites if check_name(s) in selected],
                              validated, since)

    return gx_suites


def run_suites(warehouse: Path, suites: Iterable[SuiteFile], validated: ValidatedThrough | None = None,
               since: Callable[[str], int | None] = lambda mart: None) -> Iterator[dg.AssetCheckResult]:
    """One result per suite, each on a read-only connection (inside the pool, so no
    writer holds the file) that hands GX only the columns its suite names. A mart
    stamped per build (`validated.py`) is read above `since(mart)` when that is
    not None, and a pass is recorded in `validated`."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        validator = Validator()
        for suite in suites:
            present = mart_columns(con, suite.mart)
            stamped = STAMP in present
            above = since(suite.mart) if stamped else None
            through = con.execute(f'select max({STAMP}) from marts."{suite.mart}"').fetchone()[0] \
                if stamped else None
            frame = read_mart(con, suite, present, above)
            verdict = validator.validate(frame, suite)
            if verdict.passed and stamped and validated is not None:
                validated.passed(suite.mart, through)
            yield _result(suite, verdict, len(frame), len(frame.columns), above)


def _result(suite: SuiteFile, verdict, rows: int, columns: int, above: int | None) -> dg.AssetCheckResult:
    failed = len(verdict.failures)
    return dg.AssetCheckResult(
        asset_key=dg.AssetKey(["marts", suite.mart]),
        check_name=check_name(suite),
        passed=verdict.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(f"all {verdict.evaluated} expectations hold" if verdict.passed else
                     f"{failed} of {verdict.evaluated} expectations failed: see `failures`"),
        metadata={
            "suite": f"expectations/{suite.path.name}",
            "rows_validated": rows,
            "rows_read": "every row" if above is None else f"rows with {STAMP} > {above} (written since "
                                                           "the last passing check)",
            "columns_read": columns,
            "expectations_evaluated": verdict.evaluated,
            "expectations_failed": failed,
            "failures": dg.MetadataValue.md("\n".join(f"- {f}" for f in verdict.failures) or "none"),
        },
    )


def mart_columns(con: duckdb.DuckDBPyConnection, mart: str) -> list[str]:
    return [r[0] for r in con.execute(
        "select column_name from duckdb_columns() where database_name = current_database() "
        "and schema_name = 'marts' and table_name = ? order by column_index", [mart]).fetchall()]


def read_mart(con: duckdb.DuckDBPyConnection, suite: SuiteFile, present: list[str], above: int | None = None):
    """The mart's rows (those stamped above `above`, when given) with only the columns the
    suite names (GX reads frames, not DuckDB): a wide mart costs what its checks need, plus
    the suite's derived columns. `present` is the mart's columns (`mart_columns`). A named
    column the mart lacks is left out for GX to report as missing; with none named, the
    first column keeps the row count."""
    if not present:
        raise ValueError(f"marts.{suite.mart} is not in the warehouse: has the dbt build created it?")
    columns = [f'"{c}"' for c in present if c in suite.columns] or [f'"{present[0]}"']
    columns += [f'({expression}) as "{name}"' for name, expression in suite.derived_columns.items()]
    where = "" if above is None else f" where {STAMP} > $above"
    return con.execute(f'select {", ".join(columns)} from marts."{suite.mart}"{where}',
                       {} if above is None else {"above": above}).df()
