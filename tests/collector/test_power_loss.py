"""Power loss, which kill -9 cannot show: the page cache outlives a killed process, so a
collector that answered 200 before its fsync would pass every crash test and still lose
acknowledged events when the machine loses power. Here the real collector runs under
`strace -f` and the trace must show, for every 2xx response, that each event of that
request was written to a spool segment and that an fsync of that segment began after the
write and returned before the response was written (docs/contract.md §9.1).
"""

from __future__ import annotations

import re
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import event
from tests.support.collector_server import CollectorProcess
from tests.support.strace import Syscall, parse, traced

REQUESTS = 48
EVENT_ID = re.compile(r"pl-\d+-\d+")
WRITES = {"write", "writev", "pwrite64"}
SYNCS = {"fsync", "fdatasync"}
RECEIVES = {"read", "recvfrom"}
SENDS = {"write", "writev", "sendto", "sendmsg"}


@dataclass
class Audit:
    """The trace read as the collector's promises: what each 2xx acknowledged, and whether
    an fsync of the segment holding it lay between the write and the response."""

    received: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # socket -> event ids
    written: dict[str, list[Syscall]] = field(default_factory=lambda: defaultdict(list))  # event id -> writes
    synced: dict[str, list[Syscall]] = field(default_factory=lambda: defaultdict(list))  # segment -> fsyncs
    acknowledged: int = 0
    events: int = 0
    writes: int = 0
    problems: list[str] = field(default_factory=list)

    def read(self, calls: list[Syscall]) -> "Audit":
        for call in calls:
            path = call.fd_path
            if path.startswith("TCP:") and call.name in RECEIVES and call.ret:
                self.received[path].update(EVENT_ID.findall(call.args))
            elif is_segment(path) and call.name in WRITES and call.ret:
                self.writes += 1
                for event_id in EVENT_ID.findall(call.args):
                    self.written[event_id].append(call)
            elif is_segment(path) and call.name in SYNCS and call.ret == 0:
                self.synced[segment(path)].append(call)
            elif path.startswith("TCP:") and call.name in SENDS and ', "HTTP/1.1 2' in call.args:
                self.response(call, self.received.pop(path, set()))
        return self

    def response(self, answer: Syscall, event_ids: set[str]) -> None:
        self.acknowledged += 1
        self.events += len(event_ids)
        if not event_ids:
            self.problems.append(f"{answer.time} a 2xx on {answer.fd_path} for a request with no event seen")
        for event_id in sorted(event_ids):
            if not any(self.durable_before(write, answer) for write in self.written[event_id]):
                writes = ", ".join(f"{w.time} to {segment(w.fd_path)}" for w in self.written[event_id]) or "none"
                self.problems.append(f"{answer.time} 2xx on {answer.fd_path} acknowledged {event_id}: spool "
                                     f"write(s) {writes}, but no fsync of that segment between write and answer")

    def durable_before(self, write: Syscall, answer: Syscall) -> bool:
        return write.exit is not None and write.exit < answer.entry and any(
            write.exit < sync.entry and sync.exit is not None and sync.exit < answer.entry
            for sync in self.synced[segment(write.fd_path)])


def is_segment(path: str) -> bool:
    return "/spool/" in path and path.endswith((".open", ".ndjson"))


def segment(path: str) -> str:
    """A segment's name, the same while `.open` in active/ and once sealed into ready/."""
    return Path(path).stem


def test_every_2xx_follows_an_fsync_of_the_spool_segment_holding_its_events(tmp_path):
    server = CollectorProcess(tmp_path / "home").start()
    trace = tmp_path / "collector.strace"

    def post(request: int) -> int:
        body = {"events": [event(f"pl-{request}-{i}", "message.received", "2026-11-02T09:00:00Z",
                                 f"conv-{request}", message_id=f"m-{request}-{i}") for i in range(1 + request % 4)]}
        return server.post("/v1/events", body).status

    try:
        with traced(server.proc.pid, trace), ThreadPoolExecutor(8) as clients:
            statuses = list(clients.map(post, range(REQUESTS)))
    finally:
        server.kill()
    audit = Audit().read(parse(trace))
    fsyncs = sum(map(len, audit.synced.values()))
    print(f"power loss: {audit.acknowledged} 2xx responses acknowledging {audit.events} events, "
          f"{audit.writes} spool writes, {fsyncs} segment fsyncs, "
          f"{len(audit.problems)} acknowledged before durable")
    assert statuses == [200] * REQUESTS
    assert audit.acknowledged == REQUESTS, "every answer the clients got is in the trace"
    assert audit.events == sum(1 + r % 4 for r in range(REQUESTS))
    assert audit.problems == [], "\n".join(audit.problems[:5])
