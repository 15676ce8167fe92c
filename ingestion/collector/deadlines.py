"""Deadlines on reading a request, so slow clients (slowloris) are cut off.

uvicorn closes a keep-alive connection left idle, but waits as long as it
takes for a request's headers, and the application waits for a body as long
as bytes keep trickling. One event loop serves every client, so a slow one
blocks nobody; but each holds a socket and its buffers until the process runs
out of descriptors. Both phases are bounded by `JOURNEY_CLIENT_TIMEOUT_S`
(docs/contract.md §8.2): the headers must be complete that long after the
connection opened or the request began, else the connection is closed; the
body that long after the headers, else 408 and the connection is closed (or
only closed, when the answer went out before the body: a refused key).

Both deadlines live in the connection's protocol, on one timer per connection
that is moved, not remade: a request only writes down when its current part is
due, and the timer, when it fires early, waits for the rest. Arming and
cancelling a timer per request (or `asyncio.timeout` around the body) cost the
collector about a sixth of its single-event throughput (docs/benchmarks.md).
A late body wakes the application with an empty chunk that says more is coming,
which the protocol never sends otherwise: `Collector._read_body` answers it 408.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


def is_body_overdue(message: dict) -> bool:
    """An ASGI receive message that is the wake-up of a late body (module docstring)."""
    return message.get("type") == "http.request" and not message.get("body") and message.get("more_body", False)


def read_deadlines(timeout_s: float) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with the read deadlines above (uvicorn takes the
    class as its `http` setting)."""

    class ReadDeadlines(HttpToolsProtocol):
        _due: float | None = None  # when the part of the request being read must be in
        _reading_body = False
        _timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._due_in_full()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._reading_body = False
            self._due_in_full()

        def on_headers_complete(self) -> None:
            super().on_headers_complete()
            self._reading_body = True
            self._due_in_full()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._due = None

        def connection_lost(self, exc) -> None:
            self._due = None
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            super().connection_lost(exc)

        def _due_in_full(self) -> None:
            self._due = self.loop.time() + timeout_s
            if self._timer is None:
                self._timer = self.loop.call_at(self._due, self._fired)

        def _fired(self) -> None:
            self._timer = None
            if self._due is None:  # nothing being read; the next request starts the timer again
                return
            if self.loop.time() < self._due:  # moved since it was set
                self._timer = self.loop.call_at(self._due, self._fired)
                return
            cycle = self.cycle  # while headers are read, the request before this one
            if cycle is not None and not cycle.response_complete:
                # Not answered yet. A late body wakes its application, which answers 408; late
                # headers behind a pipelined request wait for that answer to go out. Either way,
                # looked at again later.
                self._due_in_full()
                if self._reading_body and not any(queued is cycle for queued, _ in self.pipeline):
                    cycle.message_event.set()
            elif not self.transport.is_closing():
                # Headers late, or a body still trickling after its answer (a refused key) went out.
                self.transport.close()

    return ReadDeadlines
