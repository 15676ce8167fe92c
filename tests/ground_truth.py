"""Compare marts with the simulator's ground truth, column by column."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import duckdb

from ingestion.privacy import load_hash_key, pseudonymize
from ingestion.settings import Settings

SESSION_COLUMNS = (
    "conversation_id", "unified_user_id", "channel", "department", "query_nature", "started_at",
    "ended_at", "final_state", "escalated", "bot_contained", "queue_wait_s", "first_queue_wait_s",
    "agent_first_response_s", "time_to_resolution_s", "handovers", "webview_opened",
    "funnel_completed", "csat_score",
)


def _normal(value):
    """Durations to the millisecond; timestamps as UTC at millisecond precision."""
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(timezone.utc)
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    return value


def expected_sessions(sessions: list[dict], settings: Settings) -> dict[str, dict]:
    key = load_hash_key(settings)
    expected = {}
    for truth in sessions:
        row = {c: _normal(truth[c]) for c in SESSION_COLUMNS if c != "unified_user_id"}
        row["unified_user_id"] = pseudonymize(truth["channel_user_id"], key)
        expected[truth["session_id"]] = row
    return expected


def actual_sessions(warehouse: Path) -> dict[str, dict]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rel = con.sql(f"select session_id, {', '.join(SESSION_COLUMNS)} from marts.fct_sessions")
        names = rel.columns
        rows = rel.fetchall()
    return {r[0]: {n: _normal(v) for n, v in zip(names[1:], r[1:])} for r in rows}


def session_mismatches(warehouse: Path, sessions: list[dict], settings: Settings) -> list[str]:
    expected = expected_sessions(sessions, settings)
    actual = actual_sessions(warehouse)
    problems = [f"missing session {s}" for s in sorted(expected.keys() - actual.keys())]
    problems += [f"unexpected session {s}" for s in sorted(actual.keys() - expected.keys())]
    for sid in sorted(expected.keys() & actual.keys()):
        for column in SESSION_COLUMNS:
            if expected[sid][column] != actual[sid][column]:
                problems.append(f"{sid}.{column}: expected {expected[sid][column]!r}, "
                                f"got {actual[sid][column]!r}")
    return problems
