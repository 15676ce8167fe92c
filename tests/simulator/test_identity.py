"""Persons: the identity components of what the events put side by side."""

from __future__ import annotations

from collections import defaultdict

from tests.simulator.replay import IDENTIFIER_KEYS, distinct, ts
from tests.truth.compare import unified_user_id


def test_persons_partition_identifiers_and_sessions(small):
    owner = {}
    for n, p in enumerate(small.persons):
        assert set(p) == {"phones", "user_ids", "anonymous_ids", "first_seen_at", "last_seen_at", "session_ids"}
        assert p["phones"] or p["user_ids"] or p["anonymous_ids"]
        assert p["first_seen_at"] <= p["last_seen_at"] <= small.watermark
        for field in IDENTIFIER_KEYS.values():
            assert p[field] == sorted(p[field])
            for value in p[field]:
                assert owner.setdefault((field, value), n) == n, (field, value)
    sessions = {s["session_id"]: s for s in small.sessions}
    assert sorted(sid for p in small.persons for sid in p["session_ids"]) == sorted(sessions)
    for s in small.sessions:
        person = small.persons[s["person"]]
        assert s["session_id"] in person["session_ids"]
        assert s["channel_user_id"] in person["phones"]
        assert person["first_seen_at"] <= s["started_at"] <= person["last_seen_at"]


def test_persons_are_the_components_of_the_events(small):
    """Independent derivation: union-find over each event's identity block and conversation."""
    parent = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            x = parent[x]
        return x

    seen = defaultdict(list)
    for ev in distinct(small).values():
        nodes = [("conversation_id", ev["conversation_id"])] if ev.get("conversation_id") else []
        nodes += sorted((ev.get("identity") or {}).items())
        for node in nodes:
            seen[node].append(ts(ev["occurred_at"]))
            parent[find(node)] = find(nodes[0])
    components = defaultdict(list)
    for node in seen:
        components[find(node)].append(node)
    derived = []
    for nodes in components.values():
        ids = {IDENTIFIER_KEYS[k]: sorted(v for kk, v in nodes if kk == k) for k in IDENTIFIER_KEYS}
        times = [t for node in nodes for t in seen[node]]
        derived.append({**ids, "first_seen_at": min(times), "last_seen_at": max(times)})
    truth = [{k: v for k, v in p.items() if k != "session_ids"} for p in small.persons]
    key = lambda p: (p["phones"], p["user_ids"], p["anonymous_ids"])  # noqa: E731
    assert sorted(derived, key=key) == sorted(truth, key=key)


def test_identity_scenarios(week):
    persons = week.persons
    chatting = [p for p in persons if p["session_ids"]]
    two_phones = [p for p in persons if len(p["phones"]) == 2]
    assert 0.02 <= len(two_phones) / len(chatting) <= 0.04
    channel = {s["session_id"]: (s["channel_user_id"], s["channel"]) for s in week.sessions}
    for p in two_phones:
        assert len(p["user_ids"]) == 1                  # joined by logins through one user id
        used = {channel[sid] for sid in p["session_ids"]}
        assert {phone for phone, _ in used} == set(p["phones"])
        assert len({ch for _, ch in used}) >= 2
    assert max(len(p["phones"]) for p in persons) == 2
    multi_device = [p for p in chatting if len(p["anonymous_ids"]) >= 2]
    assert len(multi_device) >= 20
    assert any(not p["phones"] and p["user_ids"] for p in persons)                      # u: persons
    assert any(not p["phones"] and not p["user_ids"] for p in persons)                  # a: persons
    assert len({uid for p in persons for uid in p["user_ids"]}) == sum(len(p["user_ids"]) for p in persons)


def test_unified_user_id_prefers_phones_then_logins():
    key = b"k" * 32
    hashed = sorted(unified_user_id({"phones": [p], "user_ids": [], "anonymous_ids": []}, key)
                    for p in ("+31611111111", "+31622222222"))
    both = {"phones": ["+31622222222", "+31611111111"], "user_ids": ["user-2"], "anonymous_ids": ["anon-1"]}
    assert unified_user_id(both, key) == hashed[0]
    assert unified_user_id({"phones": [], "user_ids": ["user-9", "user-3"], "anonymous_ids": ["a"]}, key) == "u:user-3"
    assert unified_user_id({"phones": [], "user_ids": [], "anonymous_ids": ["b", "a"]}, key) == "a:a"
