"""Slow clients (slowloris) against a real collector on loopback: headers or a
body trickled a byte at a time, and connections that never say anything.

They must block nobody (normal requests keep getting their 200 promptly),
never see a 5xx, and be cut off by the collector after `JOURNEY_CLIENT_TIMEOUT_S`
(ingestion/collector/deadlines.py): a request whose headers are late is closed,
one whose body is late gets 408 and is closed, and one answered before its body
(a refused key) is closed when that body is late. Nothing a slow client sent
half of reaches the spool; everything acknowledged meanwhile does, once.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass

from tests.collector.fuzzing import spool_keys
from tests.conftest import event
from tests.support.collector_server import CollectorProcess

# Long enough that every normal request below is sent while the slow clients still hold
# their connections, and that one blocked behind them (answered only at their cut-off,
# seconds later) stands far above a request slowed by a busy machine (an fsync stall).
TIMEOUT_S = 4.0
CLIENTS = 12  # of each kind
TRICKLE_S = 0.1  # between two bytes


@dataclass
class SlowClient:
    kind: str
    head: bytes
    closed_after_s: float | None = None
    status: int | None = None

    def run(self, port: int) -> None:
        """Connect, send `head`, then a byte every TRICKLE_S ("idle": nothing) until the collector
        answers or closes; record when, and the status it answered with, if any."""
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.settimeout(TRICKLE_S)
            started = time.monotonic()
            sock.sendall(self.head)
            reply = b""
            while time.monotonic() - started < 5 * TIMEOUT_S:
                try:
                    if self.kind != "idle":
                        sock.send(b"a")
                    chunk = sock.recv(4096)
                except TimeoutError:
                    continue
                except (BrokenPipeError, ConnectionResetError):
                    chunk = b""
                reply += chunk
                if not chunk:
                    self.closed_after_s = time.monotonic() - started
                    break
            if reply:
                self.status = int(reply.split(b" ", 2)[1])


def _post_headers(api_key: str) -> str:
    """A POST to /v1/events up to its last header line, before the blank line."""
    return (f"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {api_key}\r\n"
            f"Content-Type: application/json\r\n")


def _clients(collector: CollectorProcess) -> list[SlowClient]:
    headers = _post_headers(collector.api_key)
    return [client for _ in range(CLIENTS) for client in (
        SlowClient("headers", (headers + "X-Pad: ").encode()),
        SlowClient("body", (headers + "Content-Length: 100000\r\n\r\n{\"event_id\": \"slow").encode()),
        SlowClient("refused", (_post_headers("not-a-key")
                               + "Content-Length: 100000\r\n\r\n{\"event_id\": \"slow").encode()),
        SlowClient("idle", b""))]


def test_slow_clients_block_nobody_get_no_5xx_and_are_cut_off_after_the_timeout(tmp_path):
    collector = CollectorProcess(tmp_path, env_extra={"JOURNEY_CLIENT_TIMEOUT_S": str(TIMEOUT_S)}).start()
    slow = _clients(collector)
    threads = [threading.Thread(target=client.run, args=(collector.port,)) for client in slow]
    acknowledged, latencies = Counter(), []
    try:
        for thread in threads:
            thread.start()
        time.sleep(TRICKLE_S * 3)  # every slow client is connected and trickling
        for n in range(40):
            data = event(f"prompt-{n}", "message.received", "2026-11-02T09:00:00Z", message_id=f"m{n}")
            started = time.monotonic()
            answer = collector.post("/v1/events", data)
            latencies.append(time.monotonic() - started)
            assert answer.status == 200, answer.body
            acknowledged[(data["event_id"], data["type"], data["occurred_at"])] += 1
            time.sleep(0.05)
        for thread in threads:
            thread.join(timeout=10 * TIMEOUT_S)
    finally:
        collector.kill(signal.SIGTERM)
    print(f"\nslow clients: {len(slow)}; normal requests: {len(latencies)}, slowest {max(latencies):.3f} s; "
          f"cut off after {min(c.closed_after_s or 0 for c in slow):.2f}-"
          f"{max(c.closed_after_s or 0 for c in slow):.2f} s")
    assert max(latencies) < TIMEOUT_S / 2, latencies
    by_kind = {kind: [(c.closed_after_s, c.status) for c in slow if c.kind == kind]
               for kind in ("headers", "body", "refused", "idle")}
    for kind, outcomes in by_kind.items():
        assert all(after is not None and TIMEOUT_S * 0.9 <= after <= TIMEOUT_S + 3 for after, _ in outcomes), \
            (kind, outcomes)
    assert {status for _, status in by_kind["body"]} == {408}, by_kind["body"]
    # Answered at once, before its body (the key is checked first), and closed when the body is late.
    assert {status for _, status in by_kind["refused"]} == {401}, by_kind["refused"]
    assert {status for _, status in by_kind["headers"] + by_kind["idle"]} == {None}
    assert spool_keys(collector.home) == acknowledged


def test_a_pipelined_request_whose_body_stalls_gets_408_after_the_one_before_it_is_answered(tmp_path):
    """Two requests in one write, the second's body cut short: the first is answered, and
    the second's body deadline, kept by the connection, still ends it."""
    timeout_s = 1.0
    collector = CollectorProcess(tmp_path, env_extra={"JOURNEY_CLIENT_TIMEOUT_S": str(timeout_s)}).start()
    data = event("pipelined-1", "message.received", "2026-11-02T09:00:00Z", message_id="p1")
    body = json.dumps(data).encode()
    head = _post_headers(collector.api_key).encode()
    try:
        with socket.create_connection(("127.0.0.1", collector.port)) as sock:
            sock.settimeout(10 * timeout_s)
            started = time.monotonic()
            sock.sendall(head + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
                         + head + b"Content-Length: 1000\r\n\r\n{\"event_id\": ")
            reply = b""
            while chunk := sock.recv(4096):
                reply += chunk
            closed_after_s = time.monotonic() - started
    finally:
        collector.kill(signal.SIGTERM)
    assert [int(status) for status in re.findall(rb"HTTP/1\.1 (\d{3}) ", reply)] == [200, 408], reply
    assert timeout_s * 0.9 <= closed_after_s <= timeout_s + 3, closed_after_s
    assert set(spool_keys(collector.home)) == {(data["event_id"], data["type"], data["occurred_at"])}
