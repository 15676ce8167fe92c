"""Persons: what the data can know of who is who, the connected components of the
identifiers the simulator's events put side by side."""

from __future__ import annotations

from collections import defaultdict

from ingestion.simulator.records import IdentityLinks
from ingestion.simulator.world import from_ms
from tests.truth.sessions import Settled


def components(identities: IdentityLinks) -> list[list[tuple]]:
    """The ("kind", value) nodes of each component (union-find over the links)."""
    parent = {node: node for node in identities.seen}

    def find(node: tuple) -> tuple:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for a, b in identities.links:
        parent[find(b)] = find(a)
    groups = defaultdict(list)
    for node in parent:
        groups[find(node)].append(node)
    return list(groups.values())


def persons(identities: IdentityLinks, settled: list[Settled]) -> list[dict]:
    """One person per identity component, earliest seen first. Every conversation opens with a
    message carrying its phone, so every component holds an identifier."""
    sessions_of = defaultdict(list)
    for o in settled:
        sessions_of[o.s.cid].append(o.s.sid)
    order = {o.s.sid: n for n, o in enumerate(settled)}
    people = []
    for nodes in components(identities):
        ids = {kind: sorted(v for k, v in nodes if k == kind)
               for kind in ("channel_user_id", "user_id", "anonymous_id", "conversation")}
        spans = [identities.seen[n] for n in nodes]
        sessions = [sid for cid in ids["conversation"] for sid in sessions_of[cid]]
        people.append({
            "phones": ids["channel_user_id"],
            "user_ids": ids["user_id"],
            "anonymous_ids": ids["anonymous_id"],
            "first_seen_at": from_ms(min(first for first, _ in spans)),
            "last_seen_at": from_ms(max(last for _, last in spans)),
            "session_ids": sorted(sessions, key=order.__getitem__),
        })
    people.sort(key=lambda p: (p["first_seen_at"], p["phones"], p["user_ids"], p["anonymous_ids"]))
    return people
