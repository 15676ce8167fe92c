"""One line per stage of a run, from Dagster's own events as they happen.

Dagster hands every structured event of a run to the run's loggers; the
`journey_progress` logger forwards them to the Python logger `journey.run`,
where `StageProgress` folds them into stages (load, dbt build, checks,
publish) and says one line when each ends, with its counts and time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import dagster as dg

EVENTS_LOGGER = "journey.run"
STAGES = {"spool_load": "load", "journey_dbt": "dbt build", "serving__marts_snapshot": "publish"}
CHECKS = "checks"


@dg.logger(description="Forwards the run's Dagster events to the Python logger journey.run (progress lines).")
def journey_progress(_context) -> logging.Logger:
    forward = logging.getLogger(f"{EVENTS_LOGGER}.dagster")
    forward.setLevel(logging.DEBUG)
    return forward


@dataclass
class Stage:
    name: str
    started: float = field(default_factory=time.monotonic)
    built: int = 0
    passed: int = 0
    failed: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    outcome: str = "ok"


class StageProgress(logging.Handler):
    """Attach to `journey.run` for the length of a run; `say` gets one line per stage."""

    def __init__(self, say: Callable[[str, str], None], working: Callable[[str], None] | None = None):
        super().__init__(logging.DEBUG)
        self.say = say  # (line, outcome: ok | failed | skipped)
        self.working = working  # what the stage in progress has done so far (a terminal's status line)
        self.stages: dict[str, Stage] = {}
        self.checks: Stage | None = None

    def __enter__(self) -> StageProgress:
        logging.getLogger(EVENTS_LOGGER).addHandler(self)
        return self

    def __exit__(self, *exc) -> None:
        logging.getLogger(EVENTS_LOGGER).removeHandler(self)
        self._end_checks()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._fold(record)
        except Exception:  # the terminal's trouble must not become the run's
            self.handleError(record)

    def _fold(self, record: logging.LogRecord) -> None:
        event = getattr(record, "dagster_meta", {}).get("dagster_event")
        if event is None or event.step_key is None:
            return
        name = STAGES.get(event.step_key, CHECKS)
        if name != CHECKS:
            self._end_checks()
        stage = self._stage(name, event.step_key)
        kind = event.event_type
        if kind == dg.DagsterEventType.ASSET_MATERIALIZATION:
            stage.built += 1
            materialization = event.event_specific_data.materialization
            for key in ("rows_loaded", "version"):
                if key in materialization.metadata:
                    stage.rows[materialization.asset_key.path[-1] + ":" + key] = materialization.metadata[key].value
        elif kind == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            if event.event_specific_data.passed:
                stage.passed += 1
            else:
                stage.failed += 1
        elif kind in (dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.STEP_SKIPPED):
            stage.outcome = "failed" if kind == dg.DagsterEventType.STEP_FAILURE else "skipped"
        if kind in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE,
                    dg.DagsterEventType.STEP_SKIPPED) and name != CHECKS:
            self._say(self.stages.pop(event.step_key))
            if self.working is not None:
                self.working(f"{name} done; Dagster goes on with the run…")
        elif self.working is not None:
            self.working(f"{stage.name}: {so_far(stage)}")

    def _stage(self, name: str, step_key: str) -> Stage:
        if name == CHECKS:
            self.checks = self.checks or Stage(CHECKS)
            return self.checks
        return self.stages.setdefault(step_key, Stage(name))

    def _end_checks(self) -> None:
        if self.checks is not None:
            self._say(self.checks)
            self.checks = None

    def _say(self, stage: Stage) -> None:
        self.say(f"{stage.name:<10} {describe(stage):<58} {time.monotonic() - stage.started:6.1f} s", stage.outcome)


def so_far(stage: Stage) -> str:
    """A stage still going, in words (its line comes when it ends)."""
    if stage.name == "dbt build":
        if not stage.built + stage.passed + stage.failed:
            return "starting dbt…"
        return f"{stage.built} models built, {stage.passed} tests passed, {stage.failed} failed…"
    if stage.name == CHECKS:
        return f"{stage.passed} quality suites passed, {stage.failed} failed…"
    return {"load": "loading the spool…", "publish": "writing the serving snapshot…"}.get(stage.name, "…")


def describe(stage: Stage) -> str:
    if stage.outcome == "skipped":
        return "skipped (an upstream step or a blocking check failed)"
    if stage.name == "load":
        loaded = stage.rows.get("events:rows_loaded", 0)
        return (f"{loaded:,} new {'event' if loaded == 1 else 'events'}, "
                f"{stage.rows.get('quarantine:rows_loaded', 0):,} quarantined")
    if stage.name == "dbt build":
        return f"{stage.built} models built, {stage.passed} tests passed, {stage.failed} failed"
    if stage.name == "publish":
        version = stage.rows.get("marts_snapshot:version")
        return f"serving snapshot {version} published" if version else "nothing published"
    return f"{stage.passed} quality suites passed, {stage.failed} failed"
