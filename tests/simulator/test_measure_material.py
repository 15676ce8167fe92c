"""The simulation holds the material of the contact-centre measures (docs/contract.md §6.2), and
their truth agrees with itself, with the other marts and with a replay of the events."""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from datetime import timedelta

import pytest

from ingestion.settings import Settings
from tests.simulator.replay import replay_sessions
from tests.truth import Measures, truth
from tests.truth.compare import expected_rows

ONE_DAY = Measures(recontact_window_days=1.0)     # a window a 3-day run can see past


def test_queue_material(small):
    pending = [v for v in small.visits if v["state"] == "pending_agent"]
    answered = [v["dwell_s"] for v in pending if v["next_state"] == "human_active"]
    abandoned = [v["dwell_s"] for v in pending if v["next_state"] in ("resolved", "expired")]
    assert min(answered) <= 60 < max(answered) and any(60 < w <= 300 for w in answered) and max(answered) > 300
    assert any(w < 30 for w in abandoned) and any(w >= 30 for w in abandoned)
    assert any(v["next_state"] == "bot_active" for v in pending)
    assert sum(s["returned_to_bot"] for s in small.sessions) == \
        sum(v["next_state"] == "bot_active" for v in pending) > 0


def test_transfer_ping_pong_material(small):
    """Sent straight back (A→B→A) and back through a third team (A→B→C→A)."""
    kinds = Counter()
    for s in small.simulation.sessions:
        handed_on = []
        for _, from_team, to_team in s.transfers:
            if to_team in handed_on:
                kinds["straight back" if to_team == handed_on[-1] else "via a third team"] += 1
            handed_on.append(from_team)
    assert kinds["straight back"] > 0 and kinds["via a third team"] > 0
    assert sum(s["transfer_ping_pongs"] for s in small.sessions) == sum(kinds.values())
    assert sum(r["ping_pongs"] for r in small.marts["mart_handovers"]) == sum(kinds.values())


def _later_sessions(sessions: list[dict]) -> dict[str, list[dict]]:
    """Session id -> the same person's sessions that started after it ended."""
    of_person = defaultdict(list)
    for s in sessions:
        of_person[s["person"]].append(s)
    return {s["session_id"]: [x for x in of_person[s["person"]] if s["ended_at"] and x["started_at"] > s["ended_at"]]
            for s in sessions}


def test_recontact_and_reopen_material(small):
    """Within a one-day window and after it; a 3-day run has no session mature at the default 7 days."""
    assert all(s["recontacted"] is None for s in small.sessions)
    sessions = truth(small, ONE_DAY).sessions
    window = timedelta(days=1)
    later = _later_sessions(sessions)
    kinds = Counter()
    for s in sessions:
        if s["recontacted"] is None:
            continue
        other = [x["started_at"] - s["ended_at"] for x in later[s["session_id"]]
                 if x["conversation_id"] != s["conversation_id"]]
        kinds["back in another conversation within"] += any(gap <= window for gap in other)
        kinds["back in another conversation only after"] += bool(other) and min(other) > window
        own = [x for x in later[s["session_id"]] if x["conversation_id"] == s["conversation_id"]]
        if s["final_state"] == "resolved" and own:
            kinds["reopened within" if s["reopened"] else "reopened after"] += 1
    assert all(kinds[k] > 0 for k in ("back in another conversation within", "back in another conversation only after",
                                      "reopened within", "reopened after")), kinds
    mature = [s for s in sessions if s["recontacted"] is not None]
    assert 0 < len(mature) < sum(s["ended_at"] is not None for s in sessions)


def test_funnel_material(small):
    rows = small.marts["mart_funnel_conversion"]
    assert all(sum(r[c] for r in rows) > 0 for c in ("sessions_completed", "sessions_escalated", "sessions_abandoned"))
    stale = [j for s in small.simulation.sessions for j in s.journeys
             if j.views and j.completions and j.completions[0] < j.views[0][0]]
    assert any(all(t < j.views[0][0] for t in j.completions) for j in stale)    # never completed after viewing
    assert any(len(j.completions) > 1 for j in stale)


def test_service_level_agrees_with_queue_dynamics(small):
    rows = small.marts["mart_service_level"]
    queue = {(r["day"], r["team"]): r for r in small.marts["mart_queue_dynamics"]}
    assert Counter(r["threshold_s"] for r in rows) == dict.fromkeys((60, 300), len(queue))
    for r in rows:
        assert r["queued"] == queue[r["day"], r["team"]]["queued"]
        assert r["abandoned"] == queue[r["day"], r["team"]]["abandoned_in_queue"]
        assert r["answered"] + r["abandoned"] + r["returned_to_bot"] + r["waiting"] == r["queued"]
        assert 0 <= r["answered_within"] <= r["answered"] and 0 <= r["short_abandoned"] <= r["abandoned"]
        assert r["offered"] == r["answered"] + r["abandoned"] - r["short_abandoned"]
        if r["offered"]:
            assert r["service_level"] == pytest.approx(r["answered_within"] / r["offered"])
            assert r["abandon_rate"] == pytest.approx((r["abandoned"] - r["short_abandoned"]) / r["offered"])
    within = {t: sum(r["answered_within"] for r in rows if r["threshold_s"] == t) for t in (60, 300)}
    assert 0 < within[60] < within[300] < sum(r["answered"] for r in rows if r["threshold_s"] == 60)


def test_resolution_quality_adds_up_the_sessions(small):
    known = truth(small, ONE_DAY)
    rows, sessions = known.marts["mart_resolution_quality"], known.sessions
    ended = [s for s in sessions if s["ended_at"] is not None]
    assert sum(r["sessions_ended"] for r in rows) == len(ended)
    for column in ("recontacted", "first_contact_resolved", "durably_contained", "reopened"):
        assert sum(r[column] for r in rows) == sum(s[column] is True for s in sessions) > 0, column
    mature = [s for s in ended if s["recontacted"] is not None]
    assert sum(r["mature_sessions"] for r in rows) == len(mature)
    assert sum(r["mature_bot_contained"] for r in rows) == sum(s["bot_contained"] for s in mature)
    for s in mature:
        assert s["first_contact_resolved"] == (s["final_state"] == "resolved" and not s["recontacted"])
        assert s["durably_contained"] == (s["bot_contained"] and not s["recontacted"])
        assert (s["reopened"] is None) == (s["final_state"] != "resolved")
    for r in rows:
        if r["mature_resolved"]:
            assert r["fcr_rate"] == pytest.approx(r["first_contact_resolved"] / r["mature_resolved"])
    assert all(r["recontact_rate"] is None for r in small.marts["mart_resolution_quality"])


def test_funnel_conversion_matches_a_replay_of_the_events(small):
    """Per (session, funnel) from the events: the first step view, the first completion at or after it
    in event order, any escalation."""
    channel = {s["session_id"]: s["channel"] for s in small.sessions}
    groups = defaultdict(lambda: [0, 0, 0, 0, []])
    for sid, events in replay_sessions(small).items():
        first, done, escalated = {}, {}, set()
        for t, ev in events:
            funnel = ev["properties"].get("funnel")
            if ev["type"] == "funnel.step_viewed":
                first.setdefault(funnel, t)
            elif ev["type"] == "funnel.completed" and funnel in first:
                done.setdefault(funnel, t)
            elif ev["type"] == "escalation.requested":
                escalated.add(funnel)
        for funnel, t in first.items():
            g = groups[t.date(), funnel, channel[sid]]
            g[0] += 1
            g[1] += funnel in done
            g[2] += funnel in escalated
            g[3] += funnel not in done and funnel not in escalated
            if funnel in done:
                g[4].append((done[funnel] - t).total_seconds())
    rows = small.marts["mart_funnel_conversion"]
    assert {(r["day"], r["funnel"], r["channel"]): (r["sessions_started"], r["sessions_completed"],
            r["sessions_escalated"], r["sessions_abandoned"]) for r in rows} == \
        {k: tuple(g[:4]) for k, g in groups.items()}
    for r in rows:
        waits = sorted(groups[r["day"], r["funnel"], r["channel"]][4])
        assert (r["median_time_to_complete_s"] is None) == (not waits)
        if waits:
            assert waits[0] <= r["median_time_to_complete_s"] <= r["p90_time_to_complete_s"] <= waits[-1]


def test_expected_rows_take_the_measures_from_the_settings(small, tmp_path):
    base = Settings.from_env({"JOURNEY_HOME": str(tmp_path), "JOURNEY_HASH_KEY": "k" * 32})
    assert Measures.of(base) == Measures() and truth(small, Measures.of(base)) is small.truth
    local = dataclasses.replace(base, reporting_timezone="Europe/Amsterdam", recontact_window_days=1.0,
                                service_level_thresholds_s=(20,), short_abandon_s=0.0)
    heat = {(r["iso_weekday"], r["hour"]): r["sessions_started"]
            for r in expected_rows(small, local, "mart_operational_heatmap")}
    utc = Counter((s["started_at"].isoweekday(), s["started_at"].hour) for s in small.sessions)
    local_starts = [s["started_at"] + timedelta(hours=1) for s in small.sessions]    # November: UTC+1
    shifted = Counter((t.isoweekday(), t.hour) for t in local_starts)
    assert heat == {k: shifted[k] for k in heat} and shifted != utc
    assert {r["threshold_s"] for r in expected_rows(small, local, "mart_service_level")} == {20}
    assert sum(r["short_abandoned"] for r in expected_rows(small, local, "mart_service_level")) == 0
    assert any(r["recontacted"] is not None for r in expected_rows(small, local, "fct_sessions"))
