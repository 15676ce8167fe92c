"""The truth of the marts, and the helpers that compare a warehouse with it (tests/truth/compare.py)."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import timedelta

import duckdb
import pyarrow as pa
import pytest

from ingestion.contract import WEBVIEW_TYPES
from ingestion.settings import Settings
from tests.simulator.replay import distinct, replay_sessions, ts
from tests.truth import MART_COLUMNS, median, quantile, simulate
from tests.truth.compare import COLUMNS, expected_rows, mart_mismatches


def test_mart_columns_and_delivery_independence(small):
    assert set(small.marts) == set(MART_COLUMNS)
    for name, rows in small.marts.items():
        assert rows, name
        for row in rows:
            assert tuple(row) == MART_COLUMNS[name], name
    other = simulate(days=3, sessions_per_day=120, seed=11, n_batches=1)    # other delivery, same journeys
    assert other.events != small.events
    assert (other.sessions, other.persons, other.visits, other.marts) == \
        (small.sessions, small.persons, small.visits, small.marts)


def test_quantiles_are_duckdbs_quantile_cont():
    rng = random.Random(1)
    with duckdb.connect() as con:
        for n in (1, 2, 3, 7, 10, 51):
            ms = [rng.randrange(1, 10 ** 7) for _ in range(n)]
            want = con.execute("select quantile_cont(x, 0.9), median(x) from unnest(?) t(x)",
                               [[m / 1000.0 for m in ms]]).fetchone()
            assert quantile(ms, 0.9) == pytest.approx(want[0], abs=1e-9)
            assert median(ms) == pytest.approx(want[1], abs=1e-9)
    assert median([]) is None


def test_friction_invariants(small):
    rows = small.marts["mart_friction"]
    by_funnel = defaultdict(list)
    for r in rows:
        by_funnel[r["funnel"]].append(r)
        assert 0 <= r["sessions_advanced"] <= r["sessions_reached"]
        assert r["dropoffs"] + r["escalations"] <= r["sessions_reached"]
        assert r["dropoff_rate"] == pytest.approx(r["dropoffs"] / r["sessions_reached"])
        assert r["escalation_rate"] == pytest.approx(r["escalations"] / r["sessions_reached"])
        assert (r["median_time_on_step_s"] is None) == (r["sessions_advanced"] == 0)
    for funnel, steps in by_funnel.items():
        assert [r["step_index"] for r in steps] == list(range(1, len(steps) + 1))
        reached = [r["sessions_reached"] for r in steps]
        assert reached == sorted(reached, reverse=True)          # a later step needs the earlier ones
        for r, nxt in zip(steps, steps[1:]):
            assert nxt["sessions_reached"] <= r["sessions_advanced"]
    webview_sessions = sum(s["webview_opened"] for s in small.sessions)
    assert sum(r["sessions_reached"] for r in rows if r["step_index"] == 1) <= webview_sessions
    assert sum(r["escalations"] for r in rows) > 0 and sum(r["dropoffs"] for r in rows) > 0


def test_agent_performance_invariants(small):
    rows = small.marts["mart_agent_performance"]
    handled = Counter()
    for r in rows:
        assert 0 <= r["sessions_resolved"] <= r["sessions_handled"]
        assert r["resolution_rate"] == pytest.approx(r["sessions_resolved"] / r["sessions_handled"])
        assert r["handle_time_s"] >= 0.0
        if r["median_first_response_s"] is not None:
            assert r["p90_first_response_s"] >= r["median_first_response_s"] > 0
        assert r["avg_csat"] is None or 1 <= r["avg_csat"] <= 5
        handled[r["agent_id"], r["team"]] += r["sessions_handled"]
    # Independent count: distinct replayed sessions with an agent.assigned per agent and team.
    assigned = Counter()
    for events in replay_sessions(small).values():
        assigned.update({(ev["properties"]["agent_id"], ev["properties"]["team"])
                         for _, ev in events if ev["type"] == "agent.assigned"})
    assert handled == assigned
    responses = [s["agent_first_response_s"] for s in small.sessions if s["agent_first_response_s"] is not None]
    assert sum(r["median_first_response_s"] is not None for r in rows) > 0 and responses
    assert sum(r["handle_time_s"] for r in rows) > 0


def test_queue_dynamics_invariants(small):
    rows = small.marts["mart_queue_dynamics"]
    pending = [v for v in small.visits if v["state"] == "pending_agent"]
    assert sum(r["queued"] for r in rows) == len(pending)
    assert sum(r["abandoned_in_queue"] for r in rows) == \
        sum(v["next_state"] in ("resolved", "expired") for v in pending)
    per_day = Counter(v["entered_at"].date() for v in pending)
    assert per_day == Counter({d: sum(r["queued"] for r in rows if r["day"] == d) for d in per_day})
    teams = {r["team"] for r in rows}
    assert {"billing", "tech", "general", "unassigned"} <= teams
    for r in rows:
        assert r["queued"] > 0 and r["abandoned_in_queue"] <= r["queued"]
        if r["median_unassigned_s"] is not None:
            assert r["p90_unassigned_s"] >= r["median_unassigned_s"] > 0


def test_handovers_match_transfer_events(small):
    rows = small.marts["mart_handovers"]
    transfers = Counter((ev["properties"]["from_team"], ev["properties"]["to_team"])
                        for ev in distinct(small).values() if ev["type"] == "conversation.transferred")
    assert {(r["from_team"], r["to_team"]): r["handovers"] for r in rows} == transfers
    assert sum(transfers.values()) == sum(s["handovers"] for s in small.sessions)
    assert any(r["median_handover_latency_s"] is not None for r in rows)


def test_heatmap_invariants(small):
    rows = small.marts["mart_operational_heatmap"]
    assert [(r["iso_weekday"], r["hour"]) for r in rows] == [(d, h) for d in range(1, 8) for h in range(24)]
    assert sum(r["sessions_started"] for r in rows) == len(small.sessions)
    assert sum(r["escalations"] for r in rows) == sum(s["escalated"] for s in small.sessions)
    messages = Counter()
    for ev in distinct(small).values():
        if ev["type"] == "message.received":
            t = ts(ev["occurred_at"])
            messages[t.isoweekday(), t.hour] += 1
    assert {(r["iso_weekday"], r["hour"]): r["messages_received"] for r in rows if r["messages_received"]} == messages
    started = Counter((s["started_at"].isoweekday(), s["started_at"].hour) for s in small.sessions)
    assert all(r["sessions_started"] == started[r["iso_weekday"], r["hour"]] for r in rows)
    assert any(r["median_queue_wait_s"] is None for r in rows) and any(r["median_queue_wait_s"] for r in rows)


def test_active_sessions_follow_session_intervals(small):
    rows = small.marts["mart_active_sessions"]
    hours = [r["hour_start"] for r in rows]
    first = min(s["started_at"] for s in small.sessions).replace(minute=0, second=0, microsecond=0)
    assert hours[0] == first and hours[-1] == small.watermark.replace(minute=0, second=0, microsecond=0)
    assert all(b - a == timedelta(hours=1) for a, b in zip(hours, hours[1:]))
    for r in rows:
        h = r["hour_start"]
        assert r["active_sessions"] == sum(
            1 for s in small.sessions if s["started_at"] <= h and (s["ended_at"] is None or s["ended_at"] > h))
    open_now = sum(s["final_state"] == "open" for s in small.sessions)
    assert rows[-1]["active_sessions"] >= open_now > 0


def test_ghost_rate_counts_webview_events_by_day(small):
    webview, unlinked = Counter(), Counter()
    for ev in distinct(small).values():
        if ev["type"] in WEBVIEW_TYPES:
            day = ts(ev["occurred_at"]).date()
            webview[day] += 1
            unlinked[day] += "conversation_id" not in ev
    rows = small.marts["mart_ghost_rate"]
    assert {r["day"]: (r["webview_events"], r["unlinked_events"]) for r in rows} == \
        {d: (webview[d], unlinked[d]) for d in webview}
    for r in rows:
        assert r["ghost_rate"] == pytest.approx(r["unlinked_events"] / r["webview_events"])
    assert 0 < sum(unlinked.values()) < 0.1 * sum(webview.values())


def test_mismatch_helpers_read_a_warehouse(small, tmp_path):
    """The truth written as marts compares equal; changed, missing and extra rows are listed."""
    settings = Settings.from_env({"JOURNEY_HOME": str(tmp_path), "JOURNEY_HASH_KEY": "k" * 32})
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts")
        for mart in COLUMNS:
            con.register("truth", pa.Table.from_pylist(expected_rows(small, settings, mart)))
            con.execute(f"create table marts.{mart} as select * from truth")
            con.unregister("truth")
    for mart in COLUMNS:
        assert mart_mismatches(warehouse, small, settings, mart) == [], mart
    visit = next(v for v in small.visits if v["dwell_s"] is not None)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("update marts.fct_state_transitions set dwell_s = dwell_s + 0.002 "
                    "where session_id = ? and visit_index = ?", [visit["session_id"], visit["visit_index"]])
        con.execute("delete from marts.mart_operational_heatmap where iso_weekday = 7 and hour = 23")
        con.execute("insert into marts.mart_ghost_rate select day + 30, webview_events, unlinked_events, "
                    "ghost_rate from marts.mart_ghost_rate limit 1")
        con.execute("update marts.dim_users set anonymous_ids = list_reverse(anonymous_ids) "
                    "where len(anonymous_ids) > 1")
    problems = mart_mismatches(warehouse, small, settings, "fct_state_transitions")
    assert len(problems) == 1 and problems[0].startswith(
        f"fct_state_transitions ({visit['session_id']!r}, {visit['visit_index']}).dwell_s: expected")
    assert mart_mismatches(warehouse, small, settings, "mart_operational_heatmap") == \
        ["mart_operational_heatmap (7, 23): missing"]
    assert len(mart_mismatches(warehouse, small, settings, "mart_ghost_rate")) == 1
    assert len(mart_mismatches(warehouse, small, settings, "dim_users")) == \
        sum(len(p["anonymous_ids"]) > 1 for p in small.persons) > 0              # arrays keep their order
