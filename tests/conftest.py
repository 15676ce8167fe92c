"""Shared fixtures: every test gets its own JOURNEY_HOME and DuckDB file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingestion.settings import Settings


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    home = tmp_path / "home"
    monkeypatch.setenv("JOURNEY_HOME", str(home))
    monkeypatch.delenv("JOURNEY_WAREHOUSE", raising=False)
    monkeypatch.delenv("JOURNEY_HASH_KEY", raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    return Settings.from_env()


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
