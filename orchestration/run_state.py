"""Whether a run would change anything, asked before Dagster, dbt or GX are imported.

A run's output is a function of what waits in the sink, the warehouse it
builds on, the project's code (models, macros, seeds, suites, pipeline code)
and the settings. When none of these moved since the last successful run,
`journey run` says so and stops within a second instead of paying the fixed
cost of a run to rebuild the same snapshot.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from ingestion.settings import Settings

REPO = Path(__file__).resolve().parents[1]
# Everything whose change can change a mart, a check verdict or the snapshot.
WATCHED = ("dbt_project/models", "dbt_project/macros", "dbt_project/seeds", "dbt_project/tests",
           "dbt_project/dbt_project.yml", "dbt_project/profiles.yml", "expectations", "orchestration", "ingestion")
WATCHED_SUFFIXES = {".sql", ".yml", ".yaml", ".csv", ".json", ".py"}


@dataclass(frozen=True)
class LastRun:
    run_id: str
    fingerprint: str
    warehouse: list[int]          # size and mtime (ns) of the warehouse file right after the run
    published_version: int | None


def state_file(settings: Settings) -> Path:
    return settings.home / "state" / "last_run.json"


def fingerprint(settings: Settings) -> str:
    """A digest of the project's code and of the settings (secrets excluded by their repr)."""
    digest = hashlib.sha256(repr(settings).encode())
    for entry in WATCHED:
        root = REPO / entry
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for path in files:
            if path.suffix in WATCHED_SUFFIXES and path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(REPO)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def warehouse_state(settings: Settings) -> list[int]:
    """Any write to the warehouse (a load by hand, a Dagster run) changes its size or mtime."""
    try:
        stat = settings.warehouse.stat()
    except FileNotFoundError:
        return [0, 0]
    return [stat.st_size, stat.st_mtime_ns]


def last_run(settings: Settings) -> LastRun | None:
    try:
        return LastRun(**json.loads(state_file(settings).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def unchanged_since(settings: Settings, waiting_batches: int) -> LastRun | None:
    """The last successful run when nothing moved since it, else None."""
    previous = last_run(settings)
    if (previous is None or waiting_batches or not settings.serving_db.exists()
            or previous.warehouse != warehouse_state(settings)
            or previous.fingerprint != fingerprint(settings)):
        return None
    return previous


def record_run(settings: Settings, run_id: str, published_version: int | None) -> None:
    """After a successful run only: a failed one must be retried, not skipped."""
    path = state_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = LastRun(run_id, fingerprint(settings), warehouse_state(settings), published_version)
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(asdict(state)))
    os.replace(partial, path)


def forget_run(settings: Settings) -> None:
    state_file(settings).unlink(missing_ok=True)
