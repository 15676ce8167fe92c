"""What every benchmark shares: the commit it measures and a simulated period that
lies in the past whatever the date.

Not a benchmark itself; the scripts import it as a sibling (`python benchmarks/x.py`
puts this folder first on sys.path).
"""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def git_commit() -> str:
    """`git rev-parse --short HEAD`, with "+dirty" when the working tree differs from
    it (untracked files included: a new model changes what a benchmark measures)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = bool(git("status", "--porcelain"))
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def simulation_end(now: datetime | None = None) -> datetime:
    """Yesterday 00:00 UTC: a simulation ending here is over a day in the past, so the
    edge (which refuses events more than JOURNEY_MAX_FUTURE_S ahead of their receipt)
    accepts every event, on any date."""
    now = now or datetime.now(timezone.utc)
    return now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)


def simulation_start(days: float, now: datetime | None = None) -> datetime:
    """The start of a `days`-long simulation that ends at `simulation_end()`:
    `simulate(days=days, start=simulation_start(days))` puts every event in the past."""
    return simulation_end(now) - timedelta(days=days)
