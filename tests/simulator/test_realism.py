"""Realism cases (ingestion/simulator/realism.py): off by default, each one generated when on and
visible in the events where it claims to be, and the truth still equal to a replay of the events."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone

import pytest

from ingestion.contract import parse_event
from ingestion.simulator import simulate as plain_simulate
from ingestion.simulator.realism import Realism
from tests.simulator.replay import distinct, replay, replay_sessions, stage_visits, ts
from tests.truth import Simulated, simulate

START = datetime(2026, 10, 24, tzinfo=timezone.utc)     # Europe/Amsterdam's clock change on the 25th
TTL = timedelta(hours=24)
CASES = {"browser_skew", "clock_change_zone", "concurrent_agents", "days_late", "multi_funnel", "odd_attributes",
         "previous_agent_writes", "queue_past_ttl", "retried_copies", "state_first", "tied_times",
         "transfer_back_to_agent"}


@pytest.fixture(scope="module", params=(11, 23))
def real(request) -> Simulated:
    return simulate(days=3, sessions_per_day=120, seed=request.param, n_batches=5, start=START,
                    realism=Realism.all())


def test_off_by_default_and_one_flag_turns_on_one_case(small):
    plain = small.simulation
    assert plain.realism_counts == {}
    assert len(set(plain.units)) == len(plain.units)            # no tied events: every copy on its own
    one = plain_simulate(days=3, sessions_per_day=120, seed=11, realism=Realism(state_first=True))
    assert set(one.realism_counts) == {"state_first"} and one.realism_counts["state_first"] > 0
    assert one.events != plain.events


def test_every_case_is_generated(real):
    counts = real.simulation.realism_counts
    print(f"realism cases: {counts}")
    assert set(counts) == CASES and all(n > 0 for n in counts.values())


def test_every_event_keeps_the_contract(real):
    for ev in distinct(real).values():
        parse_event(ev)


def test_truth_matches_a_replay_of_the_events(real):
    """Sessions and stage visits from the records equal the contract's rules applied to the events,
    with ties broken by the event id (the tied events of a run share a request, one received_at)."""
    derived = replay(real, TTL)
    truth = {s["session_id"]: s for s in real.sessions}
    assert derived.keys() == truth.keys()
    for sid, got in derived.items():
        for key, value in got.items():
            want = truth[sid][key]
            assert (abs(value - want) < 1e-6 if isinstance(value, float) and want is not None
                    else value == want), (sid, key, value, want)
    visits = defaultdict(list)
    for v in real.visits:
        visits[v["session_id"]].append((v["state"], v["entered_at"], v["exited_at"], v["next_state"]))
    assert dict(visits) == {sid: stage_visits(events, real.watermark, TTL)
                            for sid, events in replay_sessions(real, TTL).items()}


def test_tied_events_share_a_request_and_make_visits_of_no_length(real):
    sim = real.simulation
    unit_of = dict(zip((e["event_id"] for e in sim.events), sim.units))
    groups = defaultdict(list)
    for ev in distinct(real).values():
        if ev.get("conversation_id"):
            groups[ev["conversation_id"], ts(ev["occurred_at"])].append(ev["event_id"])
    tied = [ids for ids in groups.values() if len(ids) > 1]
    assert tied and all(len({unit_of[i] for i in ids}) == 1 for ids in tied)
    assert any(v["state"] == "pending_agent" and v["dwell_s"] == 0 and v["next_state"] == "human_active"
               for v in real.visits)


def test_sessions_opened_by_a_state_change_and_a_queue_wait_past_the_ttl(real):
    """Sessions start in inbound_queue, in bot_active (the bot wrote first) and in human_active (a
    pick-up after the previous session expired in the queue)."""
    first = {v["session_id"]: v for v in real.visits if v["visit_index"] == 1}
    assert {v["state"] for v in first.values()} >= {"inbound_queue", "bot_active", "human_active"}
    expired_in_queue = [v["session_id"].rsplit(":", 1) for v in real.visits if v["state"] == "pending_agent"
                        and v["next_state"] == "expired" and v["dwell_s"] >= TTL.total_seconds()]
    assert any(first.get(f"{cid}:{int(n) + 1}", {}).get("state") == "human_active" for cid, n in expired_in_queue)


def test_late_retried_copies_and_days_late_deliveries(real):
    sim = real.simulation
    batches_of, sent_of = defaultdict(set), defaultdict(set)
    for ev, b in zip(sim.events, sim.batches):
        batches_of[ev["event_id"]].add(b)
        sent_of[ev["event_id"]].add(ev.get("sent_at"))
    assert any(len(batches_of[i]) > 1 and len(sent_of[i]) > 1 for i in batches_of)
    # Days late: delivered after a load that already held events a day younger.
    times = [ts(ev["occurred_at"]) for ev in sim.events]
    latest_before = {b: max((t for t, c in zip(times, sim.batches) if c < b), default=START)
                     for b in set(sim.batches)}
    assert any(t + timedelta(days=1) <= latest_before[b] for t, b in zip(times, sim.batches))


def test_odd_attributes_transfers_back_and_several_funnels(real):
    events = replay_sessions(real, TTL)
    natures = {s["query_nature"] for s in real.sessions if s["query_nature"]}
    assert any(not n.isascii() for n in natures) and max(map(len, natures)) == 256
    assert any(len(v) > 1000 for ev in distinct(real).values() for v in (ev.get("attributes") or {}).values()
               if isinstance(v, str))
    back = several = 0
    for evs in events.values():
        agents = [ev["properties"]["agent_id"] for _, ev in evs if ev["type"] == "agent.assigned"]
        back += any(a == c and a != b for a, b, c in zip(agents, agents[1:], agents[2:]))
        opened = Counter(ev["properties"]["funnel"] for _, ev in evs if ev["type"] == "webview.opened")
        several += len(opened) > 1 and max(opened.values()) > 1
    assert back and several
