"""The suite files of `expectations/`, one per mart, named after it.

Read with the json module: building the Definitions then never imports Great
Expectations (about 9 s); GX objects are made only when a check runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import great_expectations as gx

SUITES_DIR = Path(__file__).resolve().parents[3] / "expectations"


@dataclass(frozen=True)
class SuiteFile:
    mart: str
    path: Path
    config: dict[str, Any]

    @property
    def declared_count(self) -> int:
        return self.config["meta"]["expectation_count"]

    @property
    def derived_columns(self) -> dict[str, str]:
        """Columns computed from the mart's own as it is read (name: SQL expression over
        its columns), for relations no single expectation states, such as
        `offered = answered + abandoned - short_abandoned`: the expectation compares
        `offered` with a derived column."""
        return self.config["meta"].get("derived_columns", {})

    @property
    def columns(self) -> set[str]:
        """Every column an expectation reads, its row condition's included."""
        return {name for e in self.config["expectations"] for name in _column_names(e["kwargs"])}


_COLUMN_ARGS = ("column", "column_A", "column_B")


def _column_names(kwargs: dict[str, Any]) -> Iterator[str]:
    yield from (kwargs[k] for k in _COLUMN_ARGS if k in kwargs)
    yield from kwargs.get("column_list", ())
    yield from _condition_columns(kwargs.get("row_condition"))


def _condition_columns(condition: Any) -> Iterator[str]:
    """The columns of a structured row condition (`{"column": {"name": ...}, ...}`,
    possibly nested in `conditions`)."""
    if isinstance(condition, dict):
        column = condition.get("column")
        if isinstance(column, dict) and "name" in column:
            yield column["name"]
        for nested in condition.get("conditions", ()):
            yield from _condition_columns(nested)
    elif condition is not None:
        raise ValueError(f"row condition {condition!r}: only structured conditions name their columns")


def suite_files(directory: Path = SUITES_DIR) -> list[SuiteFile]:
    return [SuiteFile(path.stem, path, json.loads(path.read_text()))
            for path in sorted(directory.glob("*.json"))]


def to_gx_suite(suite: SuiteFile) -> gx.ExpectationSuite:
    """GX logs and drops an invalid expectation instead of raising, so a typo
    would quietly check less than the file says: such a suite is refused."""
    from orchestration.defs.checks.gx import import_gx

    gx = import_gx()
    loaded = gx.ExpectationSuite(**suite.config)
    if len(loaded.expectations) != suite.declared_count:
        raise ValueError(
            f"{suite.path}: Great Expectations accepted {len(loaded.expectations)} of the "
            f"{suite.declared_count} expectations the file declares; the log above names the invalid ones"
        )
    return loaded
