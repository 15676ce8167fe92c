"""How far each incremental mart has passed its suite, so a run validates only the rows it wrote.

An incremental mart stamps the rows each dbt run writes with a `build_seq` larger
than any before (a full build: the run's start in epoch milliseconds, larger
still), and replaces a conversation's rows whole. Rows stamped at or below the
largest stamp of the last passing check were validated then and have not changed
since, so a check reads only the rows above it: what a +1 % run wrote, not the
whole mart. A failing check records nothing, so its rows are read again by the
next check, and a check run on its own (from the Dagster UI, without building
the mart) reads everything. Kept in `$JOURNEY_HOME/state/validated.json`;
without the file every row is read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


class ValidatedThrough:
    """mart name -> the largest `build_seq` of its rows when its suite last passed."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self.stamps: dict[str, int] = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            self.stamps = {}

    def get(self, mart: str) -> int | None:
        return self.stamps.get(mart)

    def passed(self, mart: str, through: int | None) -> None:
        """Record that every row of `mart` stamped at most `through` passed (None: the mart is empty)."""
        if through is not None:
            self.stamps[mart] = through
            self._write()

    def _write(self) -> None:
        """Written whole and renamed: a crash leaves the old record or the new one, never half."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".tmp")
        partial.write_text(json.dumps(self.stamps, sort_keys=True))
        os.replace(partial, self.path)


def state_path(home: Path) -> Path:
    return home / "state" / "validated.json"
