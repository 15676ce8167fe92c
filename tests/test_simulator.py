"""Tests of the journey simulator (ingestion/simulator.py).

Besides invariants of the events and of the ground truth, `test_truth_matches_replay`
replays the distinct events with the rules of SPEC 3.4 and 4 (a small reference
implementation kept here on purpose) and checks it agrees with the truth the
simulator recorded from its own timeline: two independent derivations of the
same numbers.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone

import pytest

from ingestion.simulator import Simulation, simulate, write_ndjson

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
TYPES = {
    "message.received", "message.sent", "conversation.state_changed", "agent.assigned",
    "conversation.transferred", "csat.submitted", "webview.opened", "funnel.step_viewed",
    "funnel.completed", "escalation.requested", "webview.exited", "identify",
}
WEBVIEW = {"webview.opened", "funnel.step_viewed", "funnel.completed", "escalation.requested", "webview.exited"}
TRUTH_KEYS = {
    "session_id", "conversation_id", "channel_user_id", "channel", "department", "query_nature",
    "started_at", "ended_at", "final_state", "escalated", "bot_contained", "queue_wait_s",
    "first_queue_wait_s", "agent_first_response_s", "time_to_resolution_s", "handovers",
    "webview_opened", "funnel_completed", "csat_score",
}
TTL = timedelta(hours=24)


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(timezone.utc)


@pytest.fixture(scope="module")
def week() -> Simulation:
    return simulate()


@pytest.fixture(scope="module")
def small() -> Simulation:
    return simulate(days=3, sessions_per_day=120, seed=11)


def distinct(sim: Simulation) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for ev in sim.events:
        out.setdefault(ev["event_id"], ev)
    return out


def test_deterministic_per_seed():
    a = simulate(days=2, sessions_per_day=80, seed=3)
    b = simulate(days=2, sessions_per_day=80, seed=3)
    c = simulate(days=2, sessions_per_day=80, seed=4)
    assert a.events == b.events and a.batches == b.batches and a.sessions == b.sessions
    assert a.watermark == b.watermark and a.n_unique_events == b.n_unique_events
    assert a.events != c.events
    assert {e["event_id"] for e in a.events}.isdisjoint({e["event_id"] for e in c.events})


def test_default_week_size(week):
    assert len(week.sessions) >= 5000
    assert len(week.events) == len(week.batches)
    assert week.n_unique_events == len(distinct(week))
    assert week.watermark == datetime(2026, 11, 9, tzinfo=timezone.utc)


def test_duplicates(week):
    copies = defaultdict(list)
    for ev in week.events:
        copies[ev["event_id"]].append(ev)
    dup = [cs for cs in copies.values() if len(cs) > 1]
    assert 0.08 <= len(dup) / len(copies) <= 0.12
    assert max(len(cs) for cs in dup) == 3
    for cs in dup:
        first = {k: v for k, v in cs[0].items() if k != "sent_at"}
        for other in cs[1:]:
            assert {k: v for k, v in other.items() if k != "sent_at"} == first
            assert other is not cs[0]
    assert any(len({c.get("sent_at") for c in cs}) > 1 for cs in dup)


def test_envelope(week):
    offsets = Counter()
    for ev in distinct(week).values():
        assert isinstance(ev["event_id"], str) and 1 <= len(ev["event_id"]) <= 128
        assert ev["type"] in TYPES
        assert RFC3339.match(ev["occurred_at"]), ev["occurred_at"]
        assert datetime.fromisoformat(ev["occurred_at"]).tzinfo is not None
        offsets[ev["occurred_at"][23:]] += 1
        if "sent_at" in ev:
            assert RFC3339.match(ev["sent_at"]) and ts(ev["sent_at"]) >= ts(ev["occurred_at"])
        assert isinstance(ev["properties"], dict)
        if ev["type"] in WEBVIEW:
            assert ev["channel"] == "webview"
            if "conversation_id" not in ev:           # unlinked: anonymous only
                assert set(ev["identity"]) == {"anonymous_id"}
            else:
                assert set(ev["identity"]) == {"channel_user_id", "anonymous_id"}
        elif ev["type"] == "identify":
            assert "conversation_id" not in ev and len(ev["identity"]) >= 2
        else:
            assert ev["conversation_id"].startswith("conv-")
        if ev["type"] == "message.sent" and ev["actor"]["kind"] == "human":
            assert ev["actor"]["id"].startswith("agent-")
        json.dumps(ev)
    assert offsets["+00:00"] > 0.9 * sum(offsets.values())
    assert len(offsets) > 2                            # some other offsets, same instants


def test_events_satisfy_contract(small):
    contract = pytest.importorskip("ingestion.contract")
    for ev in distinct(small).values():
        contract.parse_event(ev)


def test_unique_times_per_conversation(week):
    seen = defaultdict(set)
    for ev in distinct(week).values():
        cid = ev.get("conversation_id")
        if cid:
            t = ts(ev["occurred_at"])
            assert t not in seen[cid], (cid, t)
            assert t.microsecond % 1000 == 0
            seen[cid].add(t)


def test_delivery_order_and_late_events(week):
    evs = distinct(week)
    times = {i: ts(e["occurred_at"]) for i, e in evs.items()}
    lo, hi = min(times.values()), max(times.values())
    assert hi == week.watermark
    n = 3
    span = hi - lo
    bounds = [lo + span * k / n for k in range(n + 1)]

    def window(t):
        return min(int((t - lo) / span * n), n - 1)

    assert week.batches == sorted(week.batches) and set(week.batches) == {0, 1, 2}
    late = set()
    for ev, b in zip(week.events, week.batches):
        t = times[ev["event_id"]]
        w = window(t)
        assert w <= b <= w + 1
        if b > w:
            assert bounds[b] - t <= timedelta(hours=6) + timedelta(milliseconds=1)
            late.add(ev["event_id"])
    assert 0.02 <= len(late) / len(evs) <= 0.04
    # not delivered in occurred_at order, yet mostly local
    delivered = [times[e["event_id"]] for e in week.events]
    inversions = sum(1 for x, y in zip(delivered, delivered[1:]) if y < x)
    assert inversions > 0.1 * len(delivered)


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


def replay(sim: Simulation, ttl: timedelta = TTL) -> dict[str, dict]:
    """Reference derivation of session facts from the distinct events (SPEC 3.4, 4)."""
    by_conv = defaultdict(list)
    for ev in distinct(sim).values():
        if ev.get("conversation_id"):
            by_conv[ev["conversation_id"]].append((ts(ev["occurred_at"]), ev["event_id"], ev))
    out = {}
    for cid, rows in by_conv.items():
        rows.sort(key=lambda r: (r[0], r[1]))
        sessions, cur = [], None
        for t, _, ev in rows:
            if cur is not None and not cur["terminal"] and t >= cur["events"][-1][0] + ttl:
                cur["terminal"] = True                 # expired before this event
                assert ev["type"] in ("message.received", "conversation.state_changed"), "activity after an expiry"
                assert t > cur["events"][-1][0] + ttl   # never exactly on the expiry instant
            if cur is None or (cur["terminal"] and ev["type"] in ("message.received", "conversation.state_changed")):
                cur = {"events": [], "terminal": False}
                sessions.append(cur)
            cur["events"].append((t, ev))
            if ev["type"] == "conversation.state_changed" and ev["properties"]["to_state"] == "resolved":
                cur["terminal"] = True
        for ordinal, sess in enumerate(sessions, 1):
            out[f"{cid}:{ordinal}"] = facts(sess["events"], sim.watermark, ttl)
    return out


def facts(events, watermark, ttl) -> dict:
    started = events[0][0]
    dept = qn = csat = None
    state, entered = "inbound_queue", started
    visits = []                                        # (state, entered, exited)
    resolved = None
    first_pending = afr = None
    handovers = 0
    for t, ev in events:
        a = ev.get("attributes") or {}
        dept = a.get("department") or dept
        qn = a.get("query_nature") or qn
        typ, props = ev["type"], ev["properties"]
        if typ == "conversation.state_changed" and resolved is None:
            to = props["to_state"]
            if to != state:
                visits.append((state, entered, t))
                state, entered = to, t
                if to == "pending_agent" and first_pending is None:
                    first_pending = t
                if to == "resolved":
                    resolved = t
        elif typ == "conversation.transferred":
            handovers += 1
        elif typ == "csat.submitted":
            csat = props["score"]
        elif typ == "message.sent" and ev["actor"]["kind"] == "human":
            if first_pending is not None and afr is None and t >= first_pending:
                afr = (t - first_pending).total_seconds()
    if resolved is not None:
        final, ended = "resolved", resolved
    else:
        last = events[-1][0]
        if last + ttl <= watermark:
            final, ended = "expired", last + ttl
            visits.append((state, entered, ended))
        else:
            final, ended = "open", None
    states = {s for s, _, _ in visits} | {state}
    pend = [(x - e).total_seconds() for s, e, x in visits if s == "pending_agent"]
    escalated = "pending_agent" in states
    first_visit_ended = bool(visits) and any(s == "pending_agent" for s, _, _ in visits) and \
        min(e for s, e, _ in visits if s == "pending_agent") == first_pending
    types = {ev["type"] for _, ev in events}
    return {
        "channel": events[0][1].get("channel"),
        "department": dept,
        "query_nature": qn,
        "started_at": started,
        "ended_at": ended,
        "final_state": final,
        "escalated": escalated,
        "bot_contained": final == "resolved" and not ({"pending_agent", "human_active"} & states),
        "queue_wait_s": round(sum(pend), 3) if escalated else None,
        "first_queue_wait_s": pend[0] if first_visit_ended else None,
        "agent_first_response_s": afr,
        "time_to_resolution_s": (resolved - started).total_seconds() if resolved else None,
        "handovers": handovers,
        "webview_opened": "webview.opened" in types,
        "funnel_completed": "funnel.completed" in types,
        "csat_score": csat,
    }


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


def test_write_ndjson(tmp_path, small):
    path = tmp_path / "out" / "events.ndjson"
    n = write_ndjson(small.events, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert n == len(lines) == len(small.events)
    assert json.loads(lines[0]) == small.events[0]
    assert ", " not in lines[0] and ": " not in lines[0]
