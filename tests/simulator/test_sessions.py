"""The truth of sessions and stage visits, against a replay of the events."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta

import pytest

from tests.simulator.replay import TRUTH_KEYS, replay, replay_sessions, stage_visits
from tests.truth import simulate
from tests.truth.compare import COLUMNS


def test_truth_invariants(week):
    sessions = week.sessions
    assert len({s["session_id"] for s in sessions}) == len(sessions)
    by_conv = defaultdict(list)
    for s in sessions:
        assert set(s) == TRUTH_KEYS
        by_conv[s["conversation_id"]].append(s)
        assert s["final_state"] in ("resolved", "expired", "open")
        assert (s["ended_at"] is None) == (s["final_state"] == "open")
        assert s["started_at"].tzinfo is not None
        if s["ended_at"] is not None:
            assert s["ended_at"] > s["started_at"] and s["ended_at"] <= week.watermark
        if s["bot_contained"]:
            assert s["final_state"] == "resolved" and not s["escalated"]
        assert (s["queue_wait_s"] is None) == (not s["escalated"])
        if s["first_queue_wait_s"] is not None:
            assert s["first_queue_wait_s"] <= s["queue_wait_s"] + 1e-9
        if not s["escalated"]:
            assert s["first_queue_wait_s"] is None and s["agent_first_response_s"] is None
        assert (s["time_to_resolution_s"] is None) == (s["final_state"] != "resolved")
        assert isinstance(s["handovers"], int) and s["handovers"] >= 0
        assert s["csat_score"] in (None, 1, 2, 3, 4, 5)
        if s["funnel_completed"]:
            assert s["webview_opened"]
    for cid, ss in by_conv.items():
        ss.sort(key=lambda s: s["started_at"])
        assert [s["session_id"] for s in ss] == [f"{cid}:{i}" for i in range(1, len(ss) + 1)]
        for prev, nxt in zip(ss, ss[1:]):
            assert prev["ended_at"] is not None and prev["ended_at"] < nxt["started_at"]
    finals = Counter(s["final_state"] for s in sessions)
    assert finals["resolved"] and finals["expired"] and finals["open"]
    assert any(len(ss) > 1 for ss in by_conv.values())
    assert len({s["channel_user_id"] for s in sessions}) < len(by_conv)   # persons with several conversations
    assert sum(s["handovers"] > 0 for s in sessions) and sum(s["bot_contained"] for s in sessions)


@pytest.mark.parametrize("ttl_hours", [24.0, 6.0])
def test_truth_matches_replay(ttl_hours):
    sim = simulate(days=4, sessions_per_day=200, seed=5, ttl_hours=ttl_hours)
    derived = replay(sim, timedelta(hours=ttl_hours))
    truth = {s["session_id"]: s for s in sim.sessions}
    assert set(derived) == set(truth)
    for sid, want in truth.items():
        got = derived[sid]
        for key, value in got.items():
            expected = want[key]
            if isinstance(value, float) and expected is not None:
                assert abs(value - expected) < 1e-6, (sid, key, value, expected)
            else:
                assert value == expected, (sid, key, value, expected)


def test_truth_semantics_examples(week):
    s = week.sessions
    # an expired session ends exactly one TTL after its last activity, inside the watermark
    expired = [x for x in s if x["final_state"] == "expired"]
    assert all(x["ended_at"] <= week.watermark for x in expired)
    # open sessions are the ones whose TTL has not run out: they started within the last days
    assert all(x["started_at"] > week.watermark - timedelta(days=2) for x in s if x["final_state"] == "open")
    # some sessions are abandoned while waiting for an agent; their queue wait runs to the expiry
    assert any(x["final_state"] == "expired" and x["escalated"] and x["agent_first_response_s"] is None for x in s)
    # the last CSAT counts and attributes can be missing
    assert any(x["csat_score"] is not None for x in s)
    assert any(x["department"] is None for x in s) and any(x["query_nature"] is None for x in s)


@pytest.mark.parametrize("ttl_hours", [24.0, 6.0])
def test_visits_match_replay(ttl_hours):
    ttl = timedelta(hours=ttl_hours)
    sim = simulate(days=3, sessions_per_day=150, seed=8, ttl_hours=ttl_hours)
    truth = defaultdict(list)
    for v in sim.visits:
        truth[v["session_id"]].append((v["state"], v["entered_at"], v["exited_at"], v["next_state"]))
    derived = {sid: stage_visits(evs, sim.watermark, ttl) for sid, evs in replay_sessions(sim, ttl).items()}
    assert dict(truth) == derived


def test_visit_invariants(small):
    by_session = defaultdict(list)
    for v in small.visits:
        assert set(v) == set(COLUMNS["fct_state_transitions"]) - {"unified_user_id"}
        by_session[v["session_id"]].append(v)
    sessions = {s["session_id"]: s for s in small.sessions}
    assert by_session.keys() == sessions.keys()
    for sid, visits in by_session.items():
        s = sessions[sid]
        assert [v["visit_index"] for v in visits] == list(range(1, len(visits) + 1))
        assert visits[0]["state"] == "inbound_queue" and visits[0]["entered_at"] == s["started_at"]
        for v, nxt in zip(visits, visits[1:]):
            assert v["state"] != nxt["state"] and v["next_state"] == nxt["state"]
            assert v["exited_at"] == nxt["entered_at"] > v["entered_at"]
            assert v["dwell_s"] == pytest.approx((v["exited_at"] - v["entered_at"]).total_seconds())
        last = visits[-1]
        assert last["exited_at"] is None and last["dwell_s"] is None and last["next_state"] is None
        assert last["state"] == s["final_state"] if s["final_state"] != "open" else last["state"] not in ("resolved", "expired")
        if s["final_state"] != "open":
            assert last["entered_at"] == s["ended_at"]
        assert (s["queue_wait_s"] is not None) == any(v["state"] == "pending_agent" for v in visits)
    flagged = [v for v in small.visits if not v["is_valid_transition"]]
    assert flagged and all(v["visit_index"] > 1 for v in flagged)
    assert any(v["state"] == "expired" for v in small.visits)
