"""Validates pandas frames against suites and says, in words, what broke."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchestration.defs.checks.gx import import_gx
from orchestration.defs.checks.suites import SuiteFile, to_gx_suite

if TYPE_CHECKING:  # pandas comes with Great Expectations, imported while dbt builds
    import pandas as pd

# Not what is expected: bookkeeping, or shown in words (the row condition).
_UNSHOWN_ARGS = {"batch_id", "row_condition", "ignore_row_if"}
_EXAMPLES = 3


@dataclass(frozen=True)
class Verdict:
    evaluated: int
    failures: list[str]

    @property
    def passed(self) -> bool:
        return not self.failures


def import_in_background() -> None:
    """Start importing Great Expectations (seconds of CPU) on a thread, to be called
    while the step before the checks waits on a subprocess (the dbt build): the
    checks then find it imported. A failed import here is retried, and reported,
    by the checks' own."""
    def load() -> None:
        with contextlib.suppress(Exception):
            import_gx()

    threading.Thread(target=load, name="import-great-expectations", daemon=True).start()


class Validator:
    """One Great Expectations context for every suite of a run: making a context
    costs about as much as validating a mart, so it is made once."""

    def __init__(self) -> None:
        gx = import_gx()
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        self._gx = gx
        # Ephemeral: nothing written to disk. No analytics calls from a pipeline
        # step, and no progress bars flooding the run log.
        self._context = gx.get_context(mode="ephemeral", project_config=DataContextConfig(
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
            store_backend_defaults=InMemoryStoreBackendDefaults(),
        ))
        self._source = self._context.data_sources.add_pandas("marts")

    def validate(self, frame: pd.DataFrame, suite: SuiteFile) -> Verdict:
        gx, context = self._gx, self._context
        batch = (self._source.add_dataframe_asset(suite.mart)
                 .add_batch_definition_whole_dataframe("whole_mart"))
        definition = context.validation_definitions.add(gx.ValidationDefinition(
            name=suite.mart, data=batch, suite=context.suites.add(to_gx_suite(suite))))
        # A pass needs only the yes/no of each expectation; the counts and examples that
        # describe a failure cost GX about two thirds more, so only a failing suite pays them.
        result = definition.run(batch_parameters={"dataframe": frame}, result_format="BOOLEAN_ONLY")
        if result.success:
            return Verdict(evaluated=len(result.results), failures=[])
        result = definition.run(batch_parameters={"dataframe": frame}, result_format="SUMMARY")
        failures = [_describe(r) for r in result.results if not r.success] or [
            "an expectation failed when validated for pass/fail and held when validated again for "
            "details: the suite counts as failed; run the check again from the Dagster UI"]
        return Verdict(evaluated=len(result.results), failures=failures)


def _describe(result: Any) -> str:
    """`expectation(args) where condition — why: what was found`, e.g. how many rows and which values."""
    config = result.expectation_config
    args = ", ".join(f"{k}={v}" for k, v in config.kwargs.items() if k not in _UNSHOWN_ARGS)
    condition = config.to_domain_obj().row_condition
    where = f" where {condition!r}" if condition else ""  # GX words conditions in repr
    why = f" — {config.description}" if config.description else ""
    return f"{config.type}({args}){where}{why}: {_finding(result)}"


def _finding(result: Any) -> str:
    errors = _exception_messages(result.exception_info)
    if errors:
        return "could not be evaluated: " + "; ".join(errors)
    found = result.result
    if "unexpected_count" in found:
        examples = ", ".join(f"{_show(c['value'])} ×{c['count']}"
                             for c in found.get("partial_unexpected_counts", [])[:_EXAMPLES])
        return (f"{found['unexpected_count']} of {found['element_count']} rows break it"
                + (f", e.g. {examples}" if examples else ""))
    return f"observed {_show(found.get('observed_value'))}"


def _show(value: Any) -> str:
    """Values as an engineer would type them: `'conv-2:1'`, `(8, 9)`, not `np.int64(8)`."""
    if isinstance(value, tuple):
        return "(" + ", ".join(map(_show, value)) + ")"
    return repr(value) if isinstance(value, str) else str(value)


def _exception_messages(info: dict) -> list[str]:
    """GX reports an exception either directly or keyed by each metric that raised."""
    entries = [info] if "raised_exception" in info else list(info.values())
    return sorted({e["exception_message"] for e in entries
                   if isinstance(e, dict) and e.get("raised_exception")})
