"""Compare marts with the ground truth of a simulation (tests/truth), row by row and column by column.

Rows are keyed by the mart's grain. Durations (`*_s` columns) agree within half a
millisecond: a median of whole milliseconds can end in .5 ms, where rounding both
sides to the millisecond would be a coin flip on the last bit. Other numbers (rates,
averages) agree to 1e-9, timestamps at millisecond precision in UTC, and everything
else exactly (arrays in their order, days as dates).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import duckdb

from ingestion.privacy import load_hash_key, pseudonymize
from ingestion.settings import Settings
from ingestion.simulator import Simulation
from tests.truth import MART_COLUMNS, Measures, Simulated, truth

SESSION_COLUMNS = (
    "conversation_id", "unified_user_id", "channel", "department", "query_nature", "started_at",
    "ended_at", "final_state", "escalated", "bot_contained", "queue_wait_s", "first_queue_wait_s",
    "agent_first_response_s", "first_responder_agent_id", "first_responder_team", "time_to_resolution_s",
    "handovers", "webview_opened", "funnel_completed", "csat_score", "session_ordinal", "last_activity_at",
    "returned_to_bot", "transfer_ping_pongs", "recontacted", "reopened",
    "first_contact_resolved", "durably_contained",
)
VISIT_COLUMNS = (
    "session_id", "conversation_id", "unified_user_id", "state", "entered_at", "exited_at", "dwell_s",
    "next_state", "visit_index", "previous_state", "is_valid_transition",
)
USER_COLUMNS = (
    "unified_user_id", "channel_user_ids", "user_ids", "anonymous_ids", "first_seen_at",
    "last_seen_at", "sessions",
)
COLUMNS = {
    "fct_sessions": ("session_id", *SESSION_COLUMNS),
    "fct_state_transitions": VISIT_COLUMNS,
    "dim_users": USER_COLUMNS,
    **MART_COLUMNS,
}
GRAINS = {
    "fct_sessions": ("session_id",),
    "fct_state_transitions": ("session_id", "visit_index"),
    "dim_users": ("unified_user_id",),
    "mart_friction": ("funnel", "step_index"),
    "mart_agent_performance": ("agent_id", "team", "department", "query_nature"),
    "fct_queue_visits": ("session_id", "visit_index"),
    "mart_queue_dynamics": ("day", "team"),
    "mart_handovers": ("from_team", "to_team"),
    "mart_operational_heatmap": ("iso_weekday", "hour"),
    "mart_active_sessions": ("hour_start",),
    "mart_ghost_rate": ("day",),
    "mart_service_level": ("day", "team", "threshold_s"),
    "mart_resolution_quality": ("day", "channel"),
    "mart_funnel_conversion": ("day", "funnel", "channel"),
}
# The agent facts (docs/contract.md §6.1.6): the truth above does not build them; the derivation
# from the contract's words does (tests/truth/from_contract_marts.py).
AGENT_FACT_COLUMNS = {
    "fct_agent_sessions": ("session_id", "agent_id", "team", "department", "query_nature", "channel",
                           "started_at", "handled", "resolved", "first_response_s", "handle_time_s",
                           "csat_score"),
    "fct_agent_responses": ("session_id", "conversation_id", "agent_id", "team", "received_at", "replied_at",
                            "response_s"),
}
AGENT_FACT_GRAINS = {
    "fct_agent_sessions": ("session_id", "agent_id", "team"),
    "fct_agent_responses": ("session_id", "received_at"),
}
ANY_COLUMNS, ANY_GRAINS = {**COLUMNS, **AGENT_FACT_COLUMNS}, {**GRAINS, **AGENT_FACT_GRAINS}
DURATION_TOLERANCE_S = 0.0005
NUMBER_TOLERANCE = 1e-9


def _normal(value):
    """Decimals as floats, timestamps as UTC at millisecond precision (naive ones are UTC)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(timezone.utc)
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def _same(column: str, want, got) -> bool:
    if isinstance(want, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        return abs(want - got) <= (DURATION_TOLERANCE_S if column.endswith("_s") else NUMBER_TOLERANCE)
    return want == got


def unified_user_id(person: dict, key: bytes) -> str:
    """docs/decisions.md: smallest hashed phone, else `u:` + smallest user id, else `a:` + smallest anonymous id."""
    if person["phones"]:
        return min(pseudonymize(phone, key) for phone in person["phones"])
    if person["user_ids"]:
        return "u:" + min(person["user_ids"])
    return "a:" + min(person["anonymous_ids"])


def expected_rows(sim: Simulation | Simulated, settings: Settings, mart: str) -> list[dict]:
    """The truth of one mart as rows with exactly its contract columns, with the settings'
    measures (recontact window, service level thresholds, short abandon, reporting time zone)."""
    known = truth(sim, Measures.of(settings))
    key = load_hash_key(settings)
    unified = [unified_user_id(p, key) for p in known.persons]
    if mart == "dim_users":
        return [{
            "unified_user_id": uid,
            "channel_user_ids": sorted(pseudonymize(phone, key) for phone in p["phones"]),
            "user_ids": p["user_ids"],
            "anonymous_ids": p["anonymous_ids"],
            "first_seen_at": p["first_seen_at"],
            "last_seen_at": p["last_seen_at"],
            "sessions": len(p["session_ids"]),
        } for uid, p in zip(unified, known.persons)]
    person_of = {s["session_id"]: s["person"] for s in known.sessions}
    if mart == "fct_sessions":
        rows = known.sessions
    elif mart == "fct_state_transitions":
        rows = known.visits
    else:
        return known.marts[mart]
    return [{c: unified[person_of[row["session_id"]]] if c == "unified_user_id" else row[c]
             for c in COLUMNS[mart]} for row in rows]


def actual_rows(warehouse: Path, mart: str, columns: Sequence[str] | None = None) -> list[dict]:
    columns = columns or ANY_COLUMNS[mart]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.sql(f"select {', '.join(columns)} from marts.{mart}").fetchall()
    return [dict(zip(columns, row)) for row in rows]


def _keyed(rows: list[dict], grain: tuple[str, ...]) -> tuple[dict[tuple, dict], list[tuple]]:
    """Rows by grain key (values normalised) and the keys seen more than once."""
    keyed, repeated = {}, []
    for row in rows:
        row = {c: _normal(v) for c, v in row.items()}
        key = tuple(row[c] for c in grain)
        if key in keyed:
            repeated.append(key)
        keyed[key] = row
    return keyed, repeated


def _order(key: tuple) -> tuple:
    return tuple((v is None, "" if v is None else v) for v in key)


def _name(key: tuple) -> str:
    return repr(key[0]) if len(key) == 1 else repr(key)


def mart_mismatches(warehouse: Path, sim: Simulation | Simulated, settings: Settings, mart: str) -> list[str]:
    """Every row and column where the mart in the warehouse differs from the truth."""
    return row_mismatches(mart, expected_rows(sim, settings, mart), actual_rows(warehouse, mart))


def all_mart_mismatches(warehouse: Path, sim: Simulation | Simulated, settings: Settings) -> dict[str, list[str]]:
    """Every mart's mismatches, keyed by mart (each list empty when the warehouse equals the truth)."""
    return {mart: mart_mismatches(warehouse, sim, settings, mart) for mart in GRAINS}


def row_mismatches(mart: str, expected: list[dict], actual: list[dict],
                   columns: Sequence[str] | None = None, same=_same) -> list[str]:
    """Every row and column where two versions of a mart differ: the truth and a warehouse, or two warehouses.

    `same(column, want, got)` decides equality on normalised values (default: the tolerances above).
    """
    grain = ANY_GRAINS[mart]
    expected, _ = _keyed(expected, grain)
    actual, repeated = _keyed(actual, grain)
    problems = [f"{mart} {_name(k)}: row appears more than once" for k in repeated]
    problems += [f"{mart} {_name(k)}: missing" for k in sorted(expected.keys() - actual.keys(), key=_order)]
    problems += [f"{mart} {_name(k)}: unexpected" for k in sorted(actual.keys() - expected.keys(), key=_order)]
    for k in sorted(expected.keys() & actual.keys(), key=_order):
        want, got = expected[k], actual[k]
        problems += [f"{mart} {_name(k)}.{c}: expected {want[c]!r}, got {got[c]!r}"
                     for c in columns or ANY_COLUMNS[mart] if not same(c, want[c], got[c])]
    return problems


def session_mismatches(warehouse: Path, sim: Simulation | Simulated, settings: Settings) -> list[str]:
    return mart_mismatches(warehouse, sim, settings, "fct_sessions")
