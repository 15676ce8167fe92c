"""The suite files of `expectations/`, one per mart, named after it.

Read with the json module: building the Definitions then never imports Great
Expectations (about 9 s); GX objects are made only when a check runs.
"""

from __future__ import annotations

import json
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


def suite_files(directory: Path = SUITES_DIR) -> list[SuiteFile]:
    return [SuiteFile(path.stem, path, json.loads(path.read_text()))
            for path in sorted(directory.glob("*.json"))]


def to_gx_suite(suite: SuiteFile) -> gx.ExpectationSuite:
    """GX logs and drops an invalid expectation instead of raising, so a typo
    would quietly check less than the file says: such a suite is refused."""
    import great_expectations as gx

    loaded = gx.ExpectationSuite(**suite.config)
    if len(loaded.expectations) != suite.declared_count:
        raise ValueError(
            f"{suite.path}: Great Expectations accepted {len(loaded.expectations)} of the "
            f"{suite.declared_count} expectations the file declares; the log above names the invalid ones"
        )
    return loaded
