"""The simulator's distinct events: seeded, well-formed, as the contract wants them."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path

import ingestion
from ingestion.contract import WEBVIEW_TYPES, parse_event
from ingestion.simulator import write_ndjson
from ingestion.simulator.__main__ import main
from tests.simulator.replay import RFC3339, SIMULATED_TYPES, distinct, ts
from tests.truth import Simulated, simulate


def test_deterministic_per_seed():
    a = simulate(days=2, sessions_per_day=80, seed=3)
    b = simulate(days=2, sessions_per_day=80, seed=3)
    c = simulate(days=2, sessions_per_day=80, seed=4)
    assert a.events == b.events and a.batches == b.batches and a.sessions == b.sessions
    assert a.persons == b.persons and a.visits == b.visits and a.marts == b.marts
    assert a.watermark == b.watermark and a.n_unique_events == b.n_unique_events
    assert a.events != c.events
    assert {e["event_id"] for e in a.events}.isdisjoint({e["event_id"] for e in c.events})


def test_id_prefix_keeps_the_journeys_and_shares_no_identifier():
    plain = simulate(days=2, sessions_per_day=80, seed=3)
    shard = simulate(days=2, sessions_per_day=80, seed=3, id_prefix="s1-")

    def identifiers(sim: Simulated) -> set[str]:
        ids = set()
        for ev in sim.events:
            ids.add(ev["event_id"])
            ids.update(v for v in (ev.get("conversation_id"), ev["properties"].get("message_id")) if v)
            ids.update((ev.get("identity") or {}).values())
        return ids

    assert all(i.startswith("s1-") for i in identifiers(shard))
    assert identifiers(plain).isdisjoint(identifiers(shard))
    unprefixed = [{**row, "session_id": row["session_id"].removeprefix("s1-")}
                  for row in shard.marts["fct_queue_visits"]]  # the one mart keyed by an identifier
    assert {**shard.marts, "fct_queue_visits": unprefixed} == plain.marts
    assert shard.n_unique_events == plain.n_unique_events
    assert [s["final_state"] for s in shard.sessions] == [s["final_state"] for s in plain.sessions]


def test_default_week_size(week):
    assert len(week.sessions) >= 5000
    assert len(week.events) == len(week.batches)
    assert week.n_unique_events == len(distinct(week))
    assert week.watermark == datetime(2026, 11, 9, tzinfo=timezone.utc)


def test_envelope(week):
    offsets = Counter()
    for ev in distinct(week).values():
        assert isinstance(ev["event_id"], str) and 1 <= len(ev["event_id"]) <= 128
        assert ev["type"] in SIMULATED_TYPES
        assert RFC3339.match(ev["occurred_at"]), ev["occurred_at"]
        assert datetime.fromisoformat(ev["occurred_at"]).tzinfo is not None
        offsets[ev["occurred_at"][23:]] += 1
        if "sent_at" in ev:
            assert RFC3339.match(ev["sent_at"]) and ts(ev["sent_at"]) >= ts(ev["occurred_at"])
        assert isinstance(ev["properties"], dict)
        if ev["type"] in WEBVIEW_TYPES:
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
    for ev in distinct(small).values():
        parse_event(ev)


def test_unique_times_per_conversation(week):
    seen = defaultdict(set)
    for ev in distinct(week).values():
        cid = ev.get("conversation_id")
        if cid:
            t = ts(ev["occurred_at"])
            assert t not in seen[cid], (cid, t)
            assert t.microsecond % 1000 == 0
            seen[cid].add(t)


def test_write_ndjson(tmp_path, small):
    path = tmp_path / "out" / "events.ndjson"
    n = write_ndjson(small.events, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert n == len(lines) == len(small.events)
    assert json.loads(lines[0]) == small.events[0]
    assert ", " not in lines[0] and ": " not in lines[0]


def test_command_writes_the_batches(tmp_path, capsys):
    assert main(["--days", "1", "--sessions-per-day", "30", "--seed", "4", "--batches", "2", "--out", str(tmp_path)]) == 0
    sim = simulate(days=1, sessions_per_day=30, seed=4, n_batches=2)
    for b in range(2):
        lines = (tmp_path / f"batch-{b}.ndjson").read_text(encoding="utf-8").splitlines()
        assert [json.loads(line) for line in lines] == sim.batch(b)
    assert f"{sim.n_unique_events} distinct events, {len(sim.events)} delivered" in capsys.readouterr().out


def test_the_installed_package_carries_no_truth():
    """The expected marts live in tests/truth; the simulator records what it did, nothing more."""
    root = Path(ingestion.__file__).parent.parent
    for package in ("ingestion", "orchestration"):
        for path in (root / package).rglob("*.py"):
            assert not re.search(r"^\s*(from|import) tests\b", path.read_text(), re.M), path
    sim = simulate(days=1, sessions_per_day=10, seed=1).simulation
    assert not {"visits", "persons", "marts"} & set(vars(sim))
