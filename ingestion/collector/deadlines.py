"""Deadlines on reading a request, so slow clients (slowloris) are cut off.

uvicorn closes a keep-alive connection left idle, but waits as long as it
takes for a request's headers, and the application waits for a body as long
as bytes keep trickling. One event loop serves every client, so a slow one
blocks nobody; but each holds a socket and its buffers until the process runs
out of descriptors. Both phases are bounded by `JOURNEY_CLIENT_TIMEOUT_S`
(docs/contract.md §8.2): the headers must be complete that long after the
connection opened or the request began, else the connection is closed
(`header_deadline`); the body that long after the headers, else 408 and the
connection is closed (`Collector._read_body`).
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


def header_deadline(timeout_s: float) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol that closes a connection whose request headers are not
    complete within `timeout_s` (uvicorn takes the class as its `http` setting)."""

    class HeaderDeadline(HttpToolsProtocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(timeout_s, self._headers_too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if self.cycle is not None and not self.cycle.response_complete:
                self._arm()  # a pipelined request behind one being answered: let that answer go out first
            elif not self.transport.is_closing():
                self.transport.close()

    return HeaderDeadline
