"""Three derivations of the agent, queue, friction and handover measures must agree: the truth from
the simulator's records (tests/truth), the derivation from the contract's words over the replayed
events (tests/truth/from_contract.py), and the warehouse after a real `journey import` + `journey run`.

The first follows the dbt models' steps for holds, replies and queue teams, so on its own it
could share a misreading with them; the second is written from docs/contract.md alone. The
simulations turn every realism case on (ingestion/simulator/realism.py): events tied in one
millisecond, sessions opened by a state change, the previous agent writing after a transfer,
queue waits past the TTL, several funnels in one session.
"""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest

from ingestion.settings import Settings
from ingestion.simulator import Simulation
from ingestion.simulator.realism import Realism
from ingestion.simulator.records import IdentityLinks
from tests.conftest import import_and_run
from tests.simulator.replay import replay_sessions
from tests.truth import Simulated, from_contract_marts, simulate
from tests.truth.compare import (
    AGENT_FACT_GRAINS, COLUMNS, GRAINS, actual_rows, all_mart_mismatches, row_mismatches,
)
from tests.truth.from_contract import UNASSIGNED, Walked, handovers, holds, response_samples, walk_all
from tests.truth.from_contract_marts import MARTS, SESSION_COLUMNS, contract_rows

SEEDS = (3, 11)
DAYS, PER_DAY = 2, 60
TTL = timedelta(hours=24)
HASH_KEY = secrets.token_hex(32)


def derived(sim: Simulated) -> tuple[list[Walked], dict[str, list[dict]]]:
    walks = walk_all(replay_sessions(sim, TTL), sim.watermark, TTL)
    return walks, contract_rows(walks)


def coverage(walks: list[Walked]) -> Counter:
    """How many of the cases the rules tell apart the data holds."""
    n = Counter(sessions=len(walks))
    for w in walks:
        n["events in the millisecond of the one before"] += sum(x.t == y.t for x, y in zip(w.events, w.events[1:]))
        n["sessions opened by a state change"] += w.events[0].event["type"] == "conversation.state_changed"
        held = holds(w)
        n["holds"] += len(held)
        n["holds running on"] += sum(h.end is None for h in held)
        n["holds cut by a transfer or reassignment"] += sum(
            h.end is not None and any(e.t == h.end for e in w.of("agent.assigned") + w.of("conversation.transferred"))
            for h in held)
        n["response samples"] += len(response_samples(w))
        n["human replies from an agent not holding the session"] += sum(
            not any(h.agent == r.event["actor"]["id"] and h.start <= r.t and (h.end is None or r.t < h.end)
                    for h in held)
            for r in w.human_replies())
        n["transfers"] += len(handovers(w))
        n["ping-pongs"] += sum(h.ping_pong for h in handovers(w))
        n["queue visits"] += sum(v.state == "pending_agent" for v in w.visits)
        n["funnel steps"] += len({(e.props["funnel"], e.props["step_index"]) for e in w.of("funnel.step_viewed")})
    return n


@pytest.mark.parametrize("seed", SEEDS)
def test_the_contract_derivation_equals_the_truth(seed):
    sim = simulate(days=3, sessions_per_day=120, seed=seed, realism=Realism.all())
    walks, rows = derived(sim)
    n = coverage(walks)
    print(f"seed {seed}: compared", dict(n), "realism cases", sim.simulation.realism_counts)
    assert all(n.values()), n
    problems = [p for mart in MARTS for p in row_mismatches(mart, sim.marts[mart], rows[mart])]
    truth_sessions = [{c: s[c] for c in SESSION_COLUMNS} for s in sim.sessions]
    problems += row_mismatches("fct_sessions", truth_sessions, rows["fct_sessions"], SESSION_COLUMNS)
    assert problems == []


def test_the_comparison_tells_a_misread_rule(monkeypatch):
    """Read the queue team's "`entered_at ≤ occurred_at ≤ exited_at`" (docs/contract.md §6.1.7)
    with `<` at the exit, and the derivation no longer equals the truth: the pick-ups tied with
    their assignment in one millisecond tell the two readings apart, so the comparison can fail."""
    sim = simulate(days=3, sessions_per_day=120, seed=SEEDS[0], realism=Realism.all())
    walks, rows = derived(sim)
    assert row_mismatches("mart_queue_dynamics", sim.marts["mart_queue_dynamics"], rows["mart_queue_dynamics"]) == []

    def before_the_exit(w: Walked, v) -> str:
        ending = [a for a in w.of("agent.assigned") if v.entered <= a.t and (v.exited is None or a.t < v.exited)]
        earlier = [x.props["to_team"] for x in w.of("conversation.transferred") if x.t <= v.entered]
        return ending[-1].props["team"] if ending else (earlier or [UNASSIGNED])[-1]

    monkeypatch.setattr(from_contract_marts, "queue_team", before_the_exit)
    misread = contract_rows(walks)["mart_queue_dynamics"]
    assert row_mismatches("mart_queue_dynamics", sim.marts["mart_queue_dynamics"], misread) != []


def merged(a: Simulation, b: Simulation) -> Simulation:
    """Two simulations whose identifiers share nothing, as one: delivered one after the other."""
    identities = IdentityLinks()
    identities.seen = {**a.identities.seen, **b.identities.seen}
    identities.links = a.identities.links | b.identities.links
    days = {d: [x + y for x, y in zip(a.webview_days.get(d, [0, 0]), b.webview_days.get(d, [0, 0]))]
            for d in a.webview_days.keys() | b.webview_days.keys()}
    return replace(a, events=a.events + b.events, batches=a.batches + b.batches,
                   units=a.units + [len(a.events) + u for u in b.units],
                   watermark=max(a.watermark, b.watermark), n_unique_events=a.n_unique_events + b.n_unique_events,
                   sessions=a.sessions + b.sessions, identities=identities, webview_days=days,
                   realism_counts=dict(Counter(a.realism_counts) + Counter(b.realism_counts)))


@pytest.fixture(scope="module")
def two_seeds(tmp_path_factory) -> tuple[Simulated, Settings]:
    """Both seeds in one warehouse (one build): prefixed ids keep their journeys apart."""
    a, b = (simulate(days=DAYS, sessions_per_day=PER_DAY, seed=seed, id_prefix=f"s{seed}-",
                     realism=Realism.all()).simulation for seed in SEEDS)
    assert not {e["event_id"] for e in a.events} & {e["event_id"] for e in b.events}
    sim = Simulated(merged(a, b))
    home = tmp_path_factory.mktemp("crosscheck")
    assert "succeeded" in import_and_run(home, HASH_KEY, sim.events)
    return sim, Settings.from_env({"JOURNEY_HOME": str(home), "JOURNEY_HASH_KEY": HASH_KEY})


def test_the_warehouse_equals_both_derivations(two_seeds):
    sim, settings = two_seeds
    assert all_mart_mismatches(settings.warehouse, sim, settings) == dict.fromkeys(GRAINS, [])
    walks, rows = derived(sim)
    print("warehouse: compared", {name: len(rows[name]) for name in rows}, dict(coverage(walks)),
          "realism cases", sim.simulation.realism_counts)
    compared = [c for c in SESSION_COLUMNS if c in ("session_id", *COLUMNS["fct_sessions"])]
    problems = row_mismatches("fct_sessions", rows["fct_sessions"],
                              actual_rows(settings.warehouse, "fct_sessions", compared), compared)
    for mart in (*MARTS, *AGENT_FACT_GRAINS):
        problems += row_mismatches(mart, rows[mart], actual_rows(settings.warehouse, mart))
    assert problems == []
