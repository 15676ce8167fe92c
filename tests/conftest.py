"""Shared fixtures: every test gets its own JOURNEY_HOME and DuckDB file, a browser test Debian's
chromium; and the helpers every kind of test uses: events, NDJSON files, the `journey` command,
the raw table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from ingestion.settings import Settings
from ingestion.simulator import write_ndjson
from tests.support.browser import chromium_or_fail


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    home = tmp_path / "home"
    monkeypatch.setenv("JOURNEY_HOME", str(home))
    monkeypatch.delenv("JOURNEY_WAREHOUSE", raising=False)
    monkeypatch.delenv("JOURNEY_HASH_KEY", raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    return Settings.from_env()


@pytest.fixture
def chromium_path() -> str:
    return chromium_or_fail()


def event(event_id: str, type_: str, at: str, conversation: str | None = "c1", **props) -> dict:
    """A minimal valid event; tests override what they exercise."""
    data = {"event_id": event_id, "type": type_, "occurred_at": at, "properties": props}
    if conversation is not None:
        data["conversation_id"] = conversation
    return data


def write_lines(path: Path, records: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def run_journey(home: Path, hash_key: str, *args: str, env: dict[str, str] | None = None,
                succeed: bool = True) -> str:
    """The real `journey` command in a subprocess, on its own home (`env` adds settings);
    asserts it succeeded (or, with `succeed=False`, that it failed) and returns its output."""
    env = {**os.environ, **(env or {}), "JOURNEY_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"),
           "JOURNEY_HASH_KEY": hash_key}
    env.pop("JOURNEY_WAREHOUSE", None)
    proc = subprocess.run([sys.executable, "-m", "orchestration.cli", *args], env=env,
                          capture_output=True, text=True, timeout=600)
    assert (proc.returncode == 0) == succeed, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc.stdout if succeed else proc.stdout + proc.stderr


def import_and_run(home: Path, hash_key: str, events: list[dict], env: dict[str, str] | None = None) -> str:
    """`journey import` of `events` (written to `home`/events.ndjson), then `journey run`, on `home`
    (`env` adds settings to both); returns the run's output."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / "events.ndjson"
    write_ndjson(events, path)
    run_journey(home, hash_key, "import", str(path), env=env)
    return run_journey(home, hash_key, "run", env=env)


def raw_event_ids(settings: Settings) -> list[str]:
    """The event id of every row of raw.events (a repeat shows as a repeat)."""
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return [r[0] for r in con.sql("select event_id from raw.events").fetchall()]
